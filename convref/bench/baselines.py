"""The formulations that convref's operators are measured against: the papers' own code, or the plain way.

Each computes the same function as the convref operator it is a baseline for (the tests
check that against the NumPy reference), but the way the authors' code or a first attempt
does it: every difference at once, one convolution per sample, the whole affinity matrix.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .. import functional

__all__ = [
    "band_matrix_dynamic_conv1d",
    "broadcast_adder2d",
    "per_sample_dynamic_conv2d",
    "explicit_non_local_response",
]


class _BroadcastAdder(torch.autograd.Function):
    """The adder layer as the authors' code computes it: every difference at once, ``(C_out, C_in k^2, N L)``.

    Same gradients as ``convref.functional.adder2d(..., gradient="paper")``, without the
    adaptive scaling (which neither side applies here).
    """

    @staticmethod
    def forward(ctx, filters: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(filters, columns)
        return -(filters.unsqueeze(2) - columns.unsqueeze(0)).abs().sum(1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        filters, columns = ctx.saved_tensors
        grad_filters = (
            (columns.unsqueeze(0) - filters.unsqueeze(2)) * grad.unsqueeze(1)
        ).sum(2)
        grad_columns = (
            (filters.unsqueeze(2) - columns.unsqueeze(0)).clamp(-1, 1)
            * grad.unsqueeze(1)
        ).sum(0)
        return grad_filters, grad_columns


def broadcast_adder2d(
    x: torch.Tensor, weight: torch.Tensor, padding: int = 1
) -> torch.Tensor:
    """AdderNet's layer (stride 1, no groups) computed the way the paper's code does it: unfold, broadcast, sum.

    The baseline of the ``adder`` case: it holds the ``C_out x C_in k^2 x N H W`` difference
    tensor, in the forward pass and in each gradient.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Filters ``(C_out, C_in, kh, kw)``.
    padding : int
        Zeros added on each side.

    Returns
    -------
    torch.Tensor
        ``(N, C_out, H + 2 padding - kh + 1, W + 2 padding - kw + 1)``.
    """
    n, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    columns = F.unfold(x, (kh, kw), padding=padding)  # (N, C k^2, L)
    columns = columns.permute(1, 0, 2).reshape(columns.shape[1], -1)  # (C k^2, N L)
    distances = _BroadcastAdder.apply(
        weight.reshape(out_channels, -1), columns
    )  # (C_out, N L)
    h_out, w_out = height + 2 * padding - kh + 1, width + 2 * padding - kw + 1
    return distances.reshape(out_channels, n, h_out, w_out).transpose(0, 1)


def per_sample_dynamic_conv2d(
    x: torch.Tensor,
    weights: torch.Tensor,
    attention: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    padding: int = 1,
) -> torch.Tensor:
    """Dynamic convolution with one ``conv2d`` call per sample: the loop the batching trick replaces.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weights : torch.Tensor
        The ``K`` kernels ``(K, C_out, C_in, kh, kw)``.
    attention : torch.Tensor
        Mixing weights ``(N, K)``, one row per sample.
    bias : torch.Tensor, optional
        The ``K`` biases ``(K, C_out)``, mixed like the kernels.
    padding : int
        Zeros added on each side.

    Returns
    -------
    torch.Tensor
        ``(N, C_out, H + 2 padding - kh + 1, W + 2 padding - kw + 1)``.
    """
    kernels = torch.matmul(attention, weights.flatten(1)).reshape(
        -1, *weights.shape[1:]
    )  # (N, C_out, ...)
    biases = [None] * len(x) if bias is None else torch.matmul(attention, bias)
    return torch.cat(
        [
            F.conv2d(x[n : n + 1], kernels[n], biases[n], padding=padding)
            for n in range(len(x))
        ]
    )


def explicit_non_local_response(
    x: torch.Tensor,
    theta_weight: torch.Tensor,
    phi_weight: torch.Tensor,
    g_weight: torch.Tensor,
    mode: str,
) -> torch.Tensor:
    """A non-local response with its affinity matrix stored: ``A = non_local_affinity(...)``, then ``A g``.

    The baseline of the ``non_local`` case, the paper's formulation taken literally: it holds
    the ``H W x H W`` matrix ``A`` of every sample (and, for the backward pass, its gradient),
    which :func:`convref.functional.non_local_response` never forms.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : torch.Tensor
        Embeddings ``(C_e, C)``.
    g_weight : torch.Tensor
        ``(C_i, C)``.
    mode : str
        The pairwise function, as :func:`convref.functional.non_local_affinity` takes it.

    Returns
    -------
    torch.Tensor
        ``(N, C_i, H, W)``, a view of the ``(N, H W, C_i)`` product (no copy).
    """
    affinity = functional.non_local_affinity(
        x, theta_weight, phi_weight, mode
    )  # (N, HW, HW)
    response = torch.matmul(
        affinity, torch.matmul(g_weight, x.flatten(2)).transpose(1, 2)
    )  # (N, HW, C_i)
    return response.transpose(1, 2).unflatten(2, x.shape[2:])


def band_matrix_dynamic_conv1d(
    x: torch.Tensor, kernels: torch.Tensor, padding: str = "same"
) -> torch.Tensor:
    """DynamicConv as a matrix product: each head's kernels written into a ``T x T`` band.

    The form the authors' code (fairseq's ``DynamicConv1dTBC``, its "expanded" path) uses
    in training: row ``t`` of a head's matrix holds the kernel of step ``t`` on the band
    around the diagonal, and one batched matrix product applies every step's kernel to
    the channels of its head. It does ``T`` multiply-adds per output where the windows
    need ``K``, and stores ``N H T^2`` band entries. No softmax is applied.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, T)``.
    kernels : torch.Tensor
        One kernel per sample, head and step, ``(N, H, K, T)``; ``H`` divides ``C``.
    padding : {"same", "causal"}
        Where the window sits, as in :func:`convref.functional.dynamic_lightweight_conv1d`.

    Returns
    -------
    torch.Tensor
        ``(N, C, T)``.
    """
    n, c, t = x.shape
    heads, k = kernels.shape[1], kernels.shape[2]
    left = (k - 1) // 2 if padding == "same" else k - 1
    # band[..., s, s + j] = kernel of step s, tap j, in the coordinates of the padded input
    columns = torch.arange(t, device=x.device)[:, None] + torch.arange(
        k, device=x.device
    )
    band = x.new_zeros(n, heads, t, t + k - 1).scatter(
        3, columns.expand(n, heads, t, k), kernels.transpose(2, 3)
    )
    band = band[..., left : left + t]  # the padding's columns multiply zeros: drop them
    per_head = x.reshape(n, heads, c // heads, t).transpose(2, 3)  # (N, H, T, C / H)
    return (band @ per_head).transpose(2, 3).reshape(n, c, t)
