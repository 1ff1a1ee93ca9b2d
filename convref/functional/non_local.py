"""PyTorch non-local block that never builds the ``(H W) x M`` affinity unless asked to.

Same names and arguments as :mod:`convref.reference.non_local`. The response
``y = A g`` is computed without materialising ``A`` in every mode:

* ``"gaussian"`` / ``"embedded_gaussian"``: ``A = softmax(theta^T phi)`` is exactly attention,
  so :func:`torch.nn.functional.scaled_dot_product_attention` (with ``scale=1``) computes
  ``A g`` in blocks, with memory linear in the number of positions;
* ``"dot_product"``: ``(theta^T phi) g^T / M = theta^T (phi g^T) / M`` -- multiply the small
  ``C_e x C_i`` matrix first, and the cost becomes linear in the positions;
* ``"concatenation"``: ``ReLU(s_i + t_j)`` is zero unless ``t_j > -s_i``; with the ``t_j`` sorted,
  each ``y_i`` is read from two prefix sums, exactly, again with linear memory.

:func:`non_local_affinity` builds ``A`` explicitly (for figures, and as the baseline of
``python -m convref.bench non_local``).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import NonLocalArgs, check_non_local_args, check_out_weight
from ._precision import follows_autocast
from ._tracing import exporting


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2)


def _project(
    weight: torch.Tensor, features: torch.Tensor, bias: Optional[torch.Tensor]
) -> torch.Tensor:
    """A 1x1 convolution on flattened features: ``(C_out, C) x (N, C, P) -> (N, C_out, P)``."""
    projected = torch.matmul(weight, features)
    return projected if bias is None else projected + bias.view(1, -1, 1)


def _embeddings(
    x: torch.Tensor, args: NonLocalArgs, theta_weight, phi_weight, theta_bias, phi_bias
):
    """``theta`` ``(N, C_e, H W)``, ``phi`` ``(N, C_e, M)`` and the (pooled) flattened input."""
    pooled = _flat(F.max_pool2d(x, 2) if args.sub_sample else x)
    if args.mode == "gaussian":
        return _flat(x), pooled, pooled
    return (
        _project(theta_weight, _flat(x), theta_bias),
        _project(phi_weight, pooled, phi_bias),
        pooled,
    )


@follows_autocast
def non_local_affinity(
    x: torch.Tensor,
    theta_weight: Optional[torch.Tensor],
    phi_weight: Optional[torch.Tensor],
    mode: str = "embedded_gaussian",
    concat_weight: Optional[torch.Tensor] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[torch.Tensor] = None,
    phi_bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""The explicit, normalised affinity matrix ``(N, H W, M)`` of a non-local block.

    PyTorch version of :func:`convref.reference.non_local_affinity` (same modes and options).
    It holds ``H W x M`` numbers per sample: use it to look at the weights, not to compute the
    block (:func:`non_local_response` does that without it).

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : torch.Tensor or None
        Embeddings :math:`W_\theta, W_\phi` of shape ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    mode : str
        The pairwise function, one of the modes of :func:`convref.reference.non_local_affinity`.
    concat_weight : torch.Tensor, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        As in :func:`convref.reference.non_local_affinity`.
    theta_bias, phi_bias : torch.Tensor, optional
        Biases ``(C_e,)`` of the embeddings.

    Returns
    -------
    torch.Tensor
        ``(N, H W, M)``.
    """
    args = check_non_local_args(
        x,
        theta_weight,
        phi_weight,
        None,
        mode,
        concat_weight,
        sub_sample,
        scale,
        dict(theta_bias=theta_bias, phi_bias=phi_bias),
        array_type=torch.Tensor,
    )
    queries, keys, _ = _embeddings(
        x, args, theta_weight, phi_weight, theta_bias, phi_bias
    )
    positions = keys.shape[2]
    if mode == "concatenation":
        row, column = _concat_terms(queries, keys, concat_weight, args.embed_channels)
        return torch.relu(row.unsqueeze(2) + column.unsqueeze(1)) / positions
    dots = torch.matmul(queries.transpose(1, 2), keys)
    if scale:
        dots = dots * args.embed_channels**-0.5
    return dots / positions if mode == "dot_product" else torch.softmax(dots, dim=-1)


def _concat_terms(
    queries, keys, concat_weight, embed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``s_i = a^T theta_i`` ``(N, H W)`` and ``t_j = b^T phi_j`` ``(N, M)``, with ``w_f = [a, b]``."""
    a, b = concat_weight[:embed], concat_weight[embed:]
    return torch.matmul(a, queries), torch.matmul(b, keys)


def _count_below(increasing: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``#{j : increasing[n, j] < values[n, i]}`` for every ``(n, i)``: a binary search per value.

    ONNX has no binary search; a traced export counts with one ``(N, H W, M)`` comparison
    instead (the same integers, in ``O(H W M)`` memory).
    """
    if exporting():
        return (increasing.unsqueeze(1) < values.unsqueeze(2)).sum(2)
    return torch.searchsorted(increasing.contiguous(), values.contiguous(), side="left")


def _concatenation_response(
    s: torch.Tensor, t: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``y_i = (1/M) sum_j ReLU(s_i + t_j) g_j`` in ``O((H W + M) C_i + M log M)`` memory and time.

    The sum runs over the ``j`` with ``t_j > -s_i`` only, where it equals ``s_i G + T`` with the
    prefix sums ``G = sum g_j`` and ``T = sum t_j g_j`` over the ``t_j`` sorted in decreasing order.
    """
    positions = t.shape[1]
    t_sorted, order = torch.sort(t, dim=1, descending=True)
    g_sorted = torch.gather(
        values, 1, order.unsqueeze(2).expand_as(values)
    )  # values: (N, M, C_i)
    zero = values.new_zeros(values.shape[0], 1, values.shape[2])
    prefix_g = torch.cat(
        [zero, g_sorted.cumsum(1)], dim=1
    )  # (N, M + 1, C_i): sums of the first k
    prefix_tg = torch.cat([zero, (t_sorted.unsqueeze(2) * g_sorted).cumsum(1)], dim=1)
    # k_i = #{j : t_j > -s_i} = #{j : -t_j < s_i}; -t_sorted is increasing, so binary
    # search it
    count = _count_below(-t_sorted, s)  # (N, H W)
    index = count.unsqueeze(2).expand(-1, -1, values.shape[2])
    y = s.unsqueeze(2) * torch.gather(prefix_g, 1, index) + torch.gather(
        prefix_tg, 1, index
    )
    return y / positions  # (N, H W, C_i)


@follows_autocast
def non_local_response(
    x: torch.Tensor,
    theta_weight: Optional[torch.Tensor],
    phi_weight: Optional[torch.Tensor],
    g_weight: torch.Tensor,
    mode: str = "embedded_gaussian",
    concat_weight: Optional[torch.Tensor] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[torch.Tensor] = None,
    phi_bias: Optional[torch.Tensor] = None,
    g_bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""The non-local response :math:`y_i = \frac{1}{\mathcal{C}(x)} \sum_j f(x_i, x_j)\, g(x_j)`, without the affinity matrix.

    PyTorch version of :func:`convref.reference.non_local_response`; see the module notes for
    how each mode avoids the ``H W x M`` matrix. Differentiable in every input.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : torch.Tensor or None
        Embeddings :math:`W_\theta, W_\phi` of shape ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    g_weight : torch.Tensor
        :math:`W_g` of shape ``(C_i, C)``.
    mode : str
        The pairwise function, one of the modes of :func:`convref.reference.non_local_affinity`.
    concat_weight : torch.Tensor, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        As in :func:`convref.reference.non_local_affinity`.
    theta_bias, phi_bias : torch.Tensor, optional
        Biases ``(C_e,)`` of the embeddings.
    g_bias : torch.Tensor, optional
        Bias ``(C_i,)``.

    Returns
    -------
    torch.Tensor
        ``(N, C_i, H, W)``.
    """
    args = check_non_local_args(
        x,
        theta_weight,
        phi_weight,
        g_weight,
        mode,
        concat_weight,
        sub_sample,
        scale,
        dict(theta_bias=theta_bias, phi_bias=phi_bias, g_bias=g_bias),
        array_type=torch.Tensor,
    )
    queries, keys, pooled = _embeddings(
        x, args, theta_weight, phi_weight, theta_bias, phi_bias
    )
    values = _project(g_weight, pooled, g_bias)  # (N, C_i, M)
    positions = keys.shape[2]
    if mode in ("gaussian", "embedded_gaussian"):
        # one head; contiguous (N, 1, positions, channels), else the CPU kernel's
        # backward falls back to the explicit (positions x positions) path
        q, k, v = (
            t.transpose(1, 2).contiguous().unsqueeze(1) for t in (queries, keys, values)
        )
        factor = args.embed_channels**-0.5 if scale else 1.0
        y = F.scaled_dot_product_attention(q, k, v, scale=factor).squeeze(
            1
        )  # (N, H W, C_i)
    elif mode == "dot_product":
        factor = (args.embed_channels**-0.5 if scale else 1.0) / positions
        summary = (
            torch.matmul(keys, values.transpose(1, 2)) * factor
        )  # (N, C_e, C_i): phi g^T, small
        y = torch.matmul(queries.transpose(1, 2), summary)
    else:
        s, t = _concat_terms(queries, keys, concat_weight, args.embed_channels)
        y = _concatenation_response(s, t, values.transpose(1, 2))
    return y.transpose(1, 2).reshape(x.shape[0], args.inter_channels, *x.shape[2:])


@follows_autocast
def non_local2d(
    x: torch.Tensor,
    theta_weight: Optional[torch.Tensor],
    phi_weight: Optional[torch.Tensor],
    g_weight: torch.Tensor,
    out_weight: torch.Tensor,
    mode: str = "embedded_gaussian",
    concat_weight: Optional[torch.Tensor] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[torch.Tensor] = None,
    phi_bias: Optional[torch.Tensor] = None,
    g_bias: Optional[torch.Tensor] = None,
    out_bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""The non-local block with its residual connection, :math:`z = W_z y + x`.

    PyTorch version of :func:`convref.reference.non_local2d`.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : torch.Tensor or None
        Embeddings :math:`W_\theta, W_\phi` of shape ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    g_weight : torch.Tensor
        :math:`W_g` of shape ``(C_i, C)``.
    mode : str
        The pairwise function, one of the modes of :func:`convref.reference.non_local_affinity`.
    concat_weight : torch.Tensor, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        As in :func:`convref.reference.non_local_affinity`.
    out_weight : torch.Tensor
        :math:`W_z` of shape ``(C, C_i)``.
    theta_bias, phi_bias : torch.Tensor, optional
        Biases ``(C_e,)`` of the embeddings.
    g_bias : torch.Tensor, optional
        Bias ``(C_i,)``.
    out_bias : torch.Tensor, optional
        Bias ``(C,)`` of the output projection.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    y = non_local_response(
        x,
        theta_weight,
        phi_weight,
        g_weight,
        mode,
        concat_weight,
        sub_sample,
        scale,
        theta_bias=theta_bias,
        phi_bias=phi_bias,
        g_bias=g_bias,
    )
    check_out_weight(out_weight, out_bias, x, y.shape[1], array_type=torch.Tensor)
    return _project(out_weight, _flat(y), out_bias).view_as(x) + x
