"""PyTorch versions of spatially separable convolution and kernel factorisation."""

from __future__ import annotations

from typing import Optional

import torch

from .._checks import IntPair, Padding, check_kernel_matrix, check_separable_conv2d_args
from ._precision import follows_autocast
from .conv import conv2d


@follows_autocast
def separable_conv2d(
    x: torch.Tensor,
    column_weight: torch.Tensor,
    row_weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """A ``kh x 1`` convolution followed by a ``1 x kw`` convolution.

    PyTorch version of :func:`convref.reference.separable_conv2d` (same arguments and
    result); differentiable, any device.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    column_weight : torch.Tensor
        Vertical kernels of shape ``(C_mid, C_in / groups, kh, 1)``.
    row_weight : torch.Tensor
        Horizontal kernels of shape ``(C_out, C_mid / groups, 1, kw)``.
    bias : torch.Tensor, optional
        Shape ``(C_out,)``.
    stride, padding, dilation : int, pair or str
        Of the equivalent ``kh x kw`` convolution.
    groups : int
        Groups of both stages.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_separable_conv2d_args(
        x,
        column_weight,
        row_weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=torch.Tensor,
    )
    (sh, sw), (dh, dw) = args.stride, args.dilation
    columns = conv2d(
        x, column_weight, None, (sh, 1), args.column_padding, (dh, 1), args.groups
    )
    return conv2d(
        columns, row_weight, bias, (1, sw), args.row_padding, (1, dw), args.groups
    )


def factorize_kernel(
    kernel: torch.Tensor, rank: Optional[int] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a 2-D kernel into a sum of outer products (PyTorch version, differentiable).

    Same arguments and result as :func:`convref.reference.factorize_kernel`.

    Parameters
    ----------
    kernel : torch.Tensor
        Shape ``(kh, kw)``.
    rank : int, optional
        Number of terms; by default the numerical rank (at least 1).

    Returns
    -------
    columns, rows : torch.Tensor
        Shapes ``(rank, kh)`` and ``(rank, kw)``; ``columns.T @ rows`` approximates ``kernel``.
    """
    check_kernel_matrix(kernel, torch.Tensor, rank)
    u, sigma, vt = torch.linalg.svd(kernel)
    if rank is None:
        tolerance = (
            sigma.max().item() * max(kernel.shape) * torch.finfo(kernel.dtype).eps
            if sigma.numel()
            else 0.0
        )
        rank = max(1, int((sigma > tolerance).sum()))
    scale = sigma[:rank].sqrt()
    return (u[:, :rank] * scale).T, (vt[:rank].T * scale).T
