"""PyTorch deformable convolution and DCLS kernels: same names, arguments and layouts as :mod:`convref.reference.deformable`.

The deformable convolution is lowered like ``conv2d``: build the columns, then one matrix
product per group. The columns are bilinear reads at every tap's point, in pixel
coordinates as torchvision's kernel computes them: four gathers from a zero-bordered copy
of the input, weighted by the fractional parts, differentiable with respect to both the
input and the points. Half precision is read and accumulated in float32 and returned in
its own dtype. Large batches are
processed in chunks; when gradients are needed, each chunk is checkpointed, so that only the
inputs are kept for the backward pass and the columns are rebuilt there, one chunk at a time.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .._checks import (
    DeformConv2dArgs,
    IntPair,
    Padding,
    check_dcls_kernel_args,
    check_deform_conv2d_args,
)
from ._precision import compute_dtype, float32_under_autocast
from ._tracing import batch_slices, compiling, exporting

#: Largest number of elements the sampled columns of one batch chunk may hold
#: (16 Mi elements = 64 MB in float32); larger batches are processed in chunks.
MAX_COLUMN_ELEMENTS = 16 * 2**20


def _sampling_points(
    offset: torch.Tensor, args: DeformConv2dArgs, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every tap's sampling point ``p_0 + p_k + Δp_k`` in pixels: ``(y, x)``, each ``(N G, K, L)``.

    Pixel coordinates, as torchvision's kernel uses: no normalisation to [-1, 1], whose
    rounding misplaces points by up to 1e-4 pixel on large images in float32.
    """
    conv = args.conv
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    top, left = conv.padding[0], conv.padding[2]
    out_h, out_w = conv.out_size
    taps = kh * kw
    options = {"dtype": dtype, "device": offset.device}
    # p_0 + p_k for every tap k (rows) and output pixel (columns): (K, H_out W_out)
    rows = (torch.arange(kh, **options) * dh).repeat_interleave(kw)[:, None] + (
        torch.arange(out_h, **options) * sh - top
    ).repeat_interleave(out_w)
    cols = (torch.arange(kw, **options) * dw).repeat(kh)[:, None] + (
        torch.arange(out_w, **options) * sw - left
    ).repeat(out_h)
    # offset channels hold (dy, dx) per tap and offset group
    deltas = offset.to(dtype).reshape(-1, taps, 2, out_h * out_w)
    return rows + deltas[:, :, 0], cols + deltas[:, :, 1]


def _sample_columns(
    x: torch.Tensor,
    y_points: torch.Tensor,
    x_points: torch.Tensor,
    scale: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Bilinear reads of ``x`` ``(B, C, H, W)`` at points ``(B, K, L)``, times ``scale`` ``(B, K, L)``: ``(B, L, K, C)``.

    See :func:`_bilinear_reads` for what is read and how.
    """
    rows, indices, weights = _bilinear_reads(x, y_points, x_points, scale)
    columns = _weighted_rows(rows, indices.reshape(-1, 4), weights.reshape(-1, 4))
    return columns.view(*indices.shape[:3], x.shape[1])


def _bilinear_reads(
    x: torch.Tensor,
    y_points: torch.Tensor,
    x_points: torch.Tensor,
    scale: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows of ``x`` ``(B, C, H, W)`` that points ``(B, K, L)`` read, and with which weights.

    Returns the rows of a zero-bordered channels-last copy, ``(B (H + 2)(W + 2), C)``, and for
    every point its four corners' row indices and bilinear weights, each ``(B, L, K, 4)``.

    The scale (DCN v2's modulation) multiplies each point's four bilinear weights, not its
    ``C`` sampled values: four products per point instead of ``C``, before and after.

    torchvision's semantics: a point outside ``(-1, H) x (-1, W)``, or not finite, reads
    0, and so does every corner outside the image. The image is read from a copy with a
    one-pixel border of zeros, so every corner of a valid point has an index there and an
    outside corner reads an exact 0 (not a border pixel times a zero weight, which is NaN
    when that pixel is infinite). Invalid points read a border corner with weight 0.

    The copy is channels-last, so each read fetches one contiguous row of ``C`` values,
    and the reads come out in (pixel, tap, channel) order: the layout of the matrix
    product that follows, with no transpose of the columns.
    """
    batch, channels, height, width = x.shape
    # (B, L, K): the order in which the columns are wanted
    y_points, x_points = y_points.transpose(1, 2), x_points.transpose(1, 2)
    scale = None if scale is None else scale.transpose(1, 2)
    # comparisons with NaN are False, so non-finite points are invalid too
    valid = (y_points > -1) & (y_points < height) & (x_points > -1) & (x_points < width)
    y_safe = torch.where(valid, y_points, torch.zeros_like(y_points))
    x_safe = torch.where(valid, x_points, torch.zeros_like(x_points))
    top, left = y_safe.floor(), x_safe.floor()
    down, right = y_safe - top, x_safe - left  # the lower and right corners' weights
    plane = (height + 2) * (width + 2)
    rows = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(batch * plane, channels)
    first = torch.arange(batch, device=x.device).view(batch, 1, 1) * plane
    row0 = top.long() + 1  # the padded copy's row and column of the upper-left corner
    col0 = left.long() + 1
    indices, weights = [], []
    for row, weight_y in ((row0, 1 - down), (row0 + 1, down)):
        for col, weight_x in ((col0, 1 - right), (col0 + 1, right)):
            indices.append(torch.where(valid, row * (width + 2) + col, 0) + first)
            weights.append(torch.where(valid, weight_y * weight_x, 0))
    corner_weights = torch.stack(weights, dim=-1)  # (B, L, K, 4)
    if scale is not None:
        corner_weights = corner_weights * scale.unsqueeze(-1)
    return rows, torch.stack(indices, dim=-1), corner_weights


def _weighted_rows(
    rows: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """``out[p] = sum_j weights[p, j] rows[indices[p, j]]``: ``(P, C)`` from rows ``(R, C)``, ``(P, 4)``.

    One fused weighted sum of four rows per point (embedding_bag's "sum" mode). Its own
    backward sorts the indices to add the gradient rows, which takes most of a training
    step's time; when gradients are recorded outside a trace, :class:`_WeightedRows`
    adds them with ``index_add`` instead (the same sums in another order).
    """
    if torch.is_grad_enabled() and not (compiling() or exporting()):
        return _WeightedRows.apply(rows, indices, weights)
    return F.embedding_bag(indices, rows, mode="sum", per_sample_weights=weights)


class _WeightedRows(torch.autograd.Function):
    """:func:`_weighted_rows` with a scatter-add backward, itself differentiable."""

    @staticmethod
    def forward(
        ctx, rows: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(rows, indices, weights)
        return F.embedding_bag(indices, rows, mode="sum", per_sample_weights=weights)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        rows, indices, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the backward is wanted: double backward
            return _weighted_rows_gradients(rows, indices, weights, grad, ctx)
        # the matrix product's gradient arrives as a strided view of the columns; every
        # read below is several times faster from a contiguous copy
        grad = grad.contiguous()
        grad_rows = grad_weights = None
        if ctx.needs_input_grad[0]:  # each point's gradient, added to its four rows
            grad_rows = torch.zeros_like(rows)
            # one corner at a time: a (P, C) product per corner is contiguous, where one
            # (P, 4, C) broadcast product runs several times slower
            for corner, corner_weights in zip(
                indices.t().contiguous(), weights.t().contiguous()
            ):
                grad_rows.index_add_(0, corner, grad * corner_weights[:, None])
        if ctx.needs_input_grad[2]:
            # d out / d weight = the row that weight scales, dotted with the gradient:
            # embedding_bag's own backward for per-sample weights fuses the gather and
            # the dot products; the rows are detached, so nothing else is computed
            with torch.enable_grad():
                probe = weights.detach().requires_grad_()
                again = F.embedding_bag(
                    indices, rows.detach(), mode="sum", per_sample_weights=probe
                )
                (grad_weights,) = torch.autograd.grad(again, probe, grad)
        return grad_rows, None, grad_weights


def _weighted_rows_gradients(
    rows: torch.Tensor,
    indices: torch.Tensor,
    weights: torch.Tensor,
    grad: torch.Tensor,
    ctx,
) -> tuple[Optional[torch.Tensor], None, Optional[torch.Tensor]]:
    """:class:`_WeightedRows`' gradients as differentiable tensor expressions (double backward)."""
    grad_rows = grad_weights = None
    flat = indices.reshape(-1)  # (4 P,): the four corners of each point in turn
    if ctx.needs_input_grad[0]:
        spread = (weights[:, :, None] * grad[:, None, :]).reshape(flat.shape[0], -1)
        grad_rows = torch.zeros_like(rows).index_add(0, flat, spread)
    if ctx.needs_input_grad[2]:
        read = rows.index_select(0, flat).view(*indices.shape, -1)
        grad_weights = (read * grad[:, None, :]).sum(2)
    return grad_rows, None, grad_weights


def _deform_conv2d_chunk(
    x: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    mask: Optional[torch.Tensor],
    args: DeformConv2dArgs,
) -> torch.Tensor:
    """Deformable convolution of a few images: modulated bilinear reads, then the weights (one matrix product per group, or depthwise without columns)."""
    conv, offset_groups = args.conv, args.offset_groups
    batch, (height, width) = x.shape[0], conv.in_size
    taps, pixels = (
        conv.kernel_size[0] * conv.kernel_size[1],
        conv.out_size[0] * conv.out_size[1],
    )
    # half precision samples and accumulates in float32: its rounding would move points
    compute = compute_dtype(x.dtype)
    grouped_input = x.to(compute).reshape(
        batch * offset_groups, conv.in_channels // offset_groups, height, width
    )
    y_points, x_points = _sampling_points(offset, args, compute)
    if mask is not None:  # (N G, K, L), as the points
        mask = mask.to(compute).reshape(batch * offset_groups, taps, pixels)
    depthwise = conv.groups == conv.in_channels == conv.out_channels
    lowering = _depthwise_deform if depthwise else _grouped_deform
    out = lowering(grouped_input, y_points, x_points, mask, weight.to(compute), args)
    out = out.reshape(batch, conv.out_channels, *conv.out_size)
    if bias is not None:
        out = out + bias.to(compute).view(1, -1, 1, 1)
    return out.to(x.dtype)


def _grouped_deform(
    x: torch.Tensor,
    y_points: torch.Tensor,
    x_points: torch.Tensor,
    mask: Optional[torch.Tensor],
    weight: torch.Tensor,
    args: DeformConv2dArgs,
) -> torch.Tensor:
    """The deformable im2col, then one matrix product per group: ``(N, groups, C_out / groups, L)``."""
    conv, offset_groups, groups = args.conv, args.offset_groups, args.conv.groups
    images, per_offset_group = x.shape[:2]  # images = N G
    batch, taps = images // offset_groups, y_points.shape[1]
    pixels, per_group = y_points.shape[2], conv.in_channels // groups
    # (N, G, L, K, C_in / G): channel c's value at every pixel and tap, modulated
    columns = _sample_columns(x, y_points, x_points, mask).view(
        batch, offset_groups, pixels, taps, per_offset_group
    )
    # (N, groups, L, K C_in / groups): views only when groups = offset groups = 1; sizes
    # spelled out, as -1 is ambiguous for N = 0
    columns = (
        columns.permute(0, 2, 3, 1, 4)
        .reshape(batch, pixels, taps, groups, per_group)
        .permute(0, 3, 1, 2, 4)
        .reshape(batch, groups, pixels, taps * per_group)
    )
    # weight (C_out, C_in / groups, kh, kw) as (groups, K C_in / groups, C_out / groups)
    kernel = (
        weight.reshape(groups, conv.out_channels // groups, per_group, taps)
        .permute(0, 3, 2, 1)
        .reshape(groups, taps * per_group, conv.out_channels // groups)
    )
    return torch.matmul(columns, kernel).transpose(2, 3)  # (N, groups, C_out / g, L)


def _depthwise_deform(
    x: torch.Tensor,
    y_points: torch.Tensor,
    x_points: torch.Tensor,
    mask: Optional[torch.Tensor],
    weight: torch.Tensor,
    args: DeformConv2dArgs,
) -> torch.Tensor:
    """A depthwise deformable convolution (one filter per channel) without columns: ``(N, G, C / G, L)``.

    With one weight per channel and tap, ``out[c] = sum_k w[c, k] read_k[c]``: each tap's
    bilinear reads, ``(N L, C)``, are scaled channel by channel and added to the output as
    soon as they are made. The ``K``-times larger columns, and the ``C`` tiny matrix
    products of the grouped lowering (several times slower on a CPU), are never formed.
    """
    rows, indices, weights = _bilinear_reads(x, y_points, x_points, mask)
    images, pixels, taps, _ = indices.shape  # images = N G
    offset_groups, per_group = args.offset_groups, x.shape[1]
    shape = (images // offset_groups, offset_groups, pixels, per_group)
    # tap-major, so that each tap's reads are one contiguous block
    indices = indices.permute(2, 0, 1, 3).reshape(taps, -1, 4)
    weights = weights.permute(2, 0, 1, 3).reshape(taps, -1, 4)
    scales = weight.reshape(offset_groups, per_group, taps)
    out = None
    for tap in range(taps):
        read = _weighted_rows(rows, indices[tap], weights[tap]).view(shape)
        scale = scales[:, :, tap].view(1, offset_groups, 1, per_group)
        out = read * scale if out is None else torch.addcmul(out, read, scale)
    return out.permute(0, 1, 3, 2)


@float32_under_autocast
def deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Deformable convolution v1/v2, a drop-in for ``torchvision.ops.deform_conv2d``.

    Computes the function of :func:`convref.reference.deform_conv2d` (see there for the
    equation and the layouts) and differentiates it with respect to ``x``, ``offset``,
    ``mask``, ``weight`` and ``bias``. As in torchvision, the gradient with respect to an
    offset is the one-sided derivative of the bilinear read where a point falls exactly on a
    pixel row or column (the read is not differentiable there).

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    offset : torch.Tensor
        ``(N, 2 G kh kw, H_out, W_out)``, ``(dy, dx)`` per tap and offset group.
    weight : torch.Tensor
        ``(C_out, C_in / groups, kh, kw)``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation
        As in :func:`convref.functional.conv2d`.
    mask : torch.Tensor, optional
        ``(N, G kh kw, H_out, W_out)`` modulation (DCN v2).

    Returns
    -------
    torch.Tensor
        ``(N, C_out, H_out, W_out)``.

    Notes
    -----
    Temporary memory is bounded by ``MAX_COLUMN_ELEMENTS`` (in this module) per batch chunk. With several
    chunks and gradients enabled, every chunk is recomputed in the backward pass instead of
    keeping its columns, as torchvision does.
    """
    args = check_deform_conv2d_args(
        x,
        offset,
        weight,
        bias,
        stride,
        padding,
        dilation,
        mask,
        array_type=torch.Tensor,
    )
    conv = args.conv
    per_image = (
        conv.in_channels
        * conv.kernel_size[0]
        * conv.kernel_size[1]
        * conv.out_size[0]
        * conv.out_size[1]
    )
    chunk = max(1, MAX_COLUMN_ELEMENTS // max(per_image, 1))
    parts = batch_slices(conv.batch, chunk)
    if len(parts) <= 1:
        return _deform_conv2d_chunk(x, offset, weight, bias, mask, args)
    tensors = (x, offset, weight, bias, mask)
    recompute = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors
    )
    outs = []
    for part in parts:
        inputs = (
            x[part],
            offset[part],
            weight,
            bias,
            None if mask is None else mask[part],
        )
        if recompute:
            outs.append(
                checkpoint(_deform_conv2d_chunk, *inputs, args, use_reentrant=False)
            )
        else:
            outs.append(_deform_conv2d_chunk(*inputs, args))
    return torch.cat(outs)


def dcls_kernel(
    weight: torch.Tensor, positions: torch.Tensor, size: IntPair
) -> torch.Tensor:
    """The dense kernel of a DCLS layer; see :func:`convref.reference.dcls_kernel`.

    Differentiable with respect to ``weight`` and ``positions`` (zero gradient for a position
    clamped at the edge of the dense kernel).

    Parameters
    ----------
    weight : torch.Tensor
        ``(C_out, C_in / groups, kh, kw)``.
    positions : torch.Tensor
        ``(2, C_out, C_in / groups, kh, kw)``: ``(y, x)`` of every element in the dense kernel.
    size : int or (int, int)
        Height and width of the dense kernel.

    Returns
    -------
    torch.Tensor
        ``(C_out, C_in / groups, size_h, size_w)``.
    """
    size_h, size_w = check_dcls_kernel_args(
        weight, positions, size, array_type=torch.Tensor
    )
    y = positions[0].clamp(0, size_h - 1).flatten(2)  # (C_out, C_in/g, K)
    x = positions[1].clamp(0, size_w - 1).flatten(2)
    rows = torch.arange(size_h, dtype=weight.dtype, device=weight.device)
    cols = torch.arange(size_w, dtype=weight.dtype, device=weight.device)
    row_weights = (1 - (rows - y[..., None]).abs()).clamp(
        min=0
    )  # (C_out, C_in/g, K, size_h)
    col_weights = (1 - (cols - x[..., None]).abs()).clamp(
        min=0
    )  # (C_out, C_in/g, K, size_w)
    # each element's weight times its separable bilinear spread, summed over the K
    # elements
    return torch.einsum(
        "ocku,ockv->ocuv", row_weights * weight.flatten(2)[..., None], col_weights
    )
