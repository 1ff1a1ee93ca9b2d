"""PyTorch deformable convolution and DCLS kernels: same names, arguments and layouts as :mod:`convref.reference.deformable`.

The deformable convolution is lowered like ``conv2d``: build the columns, then one matrix
product per group. The columns come from :func:`torch.nn.functional.grid_sample`, which does
the bilinear reads (zero outside the image) for every tap, pixel and image at once and
differentiates with respect to both the input and the sampling points. Large batches are
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

#: Largest number of elements the sampled columns of one batch chunk may hold
#: (16 Mi elements = 64 MB in float32); larger batches are processed in chunks.
MAX_COLUMN_ELEMENTS = 16 * 2**20


def _normalised_grid(
    offset: torch.Tensor, args: DeformConv2dArgs, height: int, width: int
) -> torch.Tensor:
    """``grid_sample``'s grid ``(N G, K, H_out W_out, 2)`` holding every tap's ``(x, y)`` sampling point.

    ``grid_sample`` with ``align_corners=False`` reads pixel ``p`` at ``(2 p + 1) / size - 1``;
    unlike the ``align_corners=True`` map, this one is defined for a 1-pixel-wide image too.
    The regular grid ``p_0 + p_k`` is mapped once; the offsets are added as ``2 Δp / size``.
    """
    conv = args.conv
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    top, left = conv.padding[0], conv.padding[2]
    out_h, out_w = conv.out_size
    batch, taps = offset.shape[0], kh * kw
    options = {"dtype": offset.dtype, "device": offset.device}
    # p_0 + p_k for every tap k (rows) and output pixel (columns): (K, H_out W_out)
    rows = (torch.arange(kh, **options) * dh).repeat_interleave(kw)[:, None] + (
        torch.arange(out_h, **options) * sh - top
    ).repeat_interleave(out_w)
    cols = (torch.arange(kw, **options) * dw).repeat(kh)[:, None] + (
        torch.arange(out_w, **options) * sw - left
    ).repeat(out_h)
    regular = torch.stack(
        ((2 * cols + 1) / width - 1, (2 * rows + 1) / height - 1), dim=-1
    )  # (K, L, 2) as (x, y)
    scale = torch.tensor([2 / width, 2 / height], **options)
    # offset channels hold (dy, dx) per tap: reorder to (..., L, (dx, dy)) to match
    # grid_sample's (x, y)
    deltas = (
        offset.reshape(batch * args.offset_groups, taps, 2, out_h * out_w)
        .transpose(2, 3)
        .flip(-1)
    )
    return torch.addcmul(regular, deltas, scale)


def _deform_conv2d_chunk(
    x: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    mask: Optional[torch.Tensor],
    args: DeformConv2dArgs,
) -> torch.Tensor:
    """Deformable convolution of a few images: sampled columns, modulation, one matmul per group."""
    conv, offset_groups = args.conv, args.offset_groups
    batch, (height, width) = x.shape[0], conv.in_size
    taps, pixels = (
        conv.kernel_size[0] * conv.kernel_size[1],
        conv.out_size[0] * conv.out_size[1],
    )
    grouped_input = x.reshape(
        batch * offset_groups, conv.in_channels // offset_groups, height, width
    )
    grid = _normalised_grid(offset, args, height, width)
    # (N G, C_in / G, K, H_out W_out): channel c's value at every tap, the deformable
    # im2col
    columns = F.grid_sample(
        grouped_input, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    columns = columns.view(
        batch, offset_groups, conv.in_channels // offset_groups, taps, pixels
    )
    if mask is not None:
        mask = mask.reshape(batch, offset_groups, 1, taps, pixels)
        # in place when no gradient is recorded: the columns are the largest tensor here
        tracked = torch.is_grad_enabled() and (
            columns.requires_grad or mask.requires_grad
        )
        columns = columns * mask if tracked else columns.mul_(mask)
    # (N, groups, C_in / groups * K, H_out W_out); sizes spelled out, as -1 is ambiguous
    # for N = 0
    columns = columns.reshape(
        batch, conv.groups, conv.in_channels // conv.groups * taps, pixels
    )
    kernel = weight.reshape(conv.groups, conv.out_channels // conv.groups, -1)
    out = torch.matmul(kernel, columns).view(batch, conv.out_channels, *conv.out_size)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


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
    if chunk >= conv.batch:
        return _deform_conv2d_chunk(x, offset, weight, bias, mask, args)
    tensors = (x, offset, weight, bias, mask)
    recompute = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors
    )
    outs = []
    for start in range(0, conv.batch, chunk):
        part = slice(start, start + chunk)
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
