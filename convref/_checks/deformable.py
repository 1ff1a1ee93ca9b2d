"""Checks of the deformable family: ``deform_conv2d`` (torchvision's layout) and ``dcls_kernel``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conv import Conv2dArgs, check_conv2d_args
from .core import (
    IntPair,
    Padding,
    batch_and_sizes,
    check_array,
    check_same_dtype,
    int_pair,
)


@dataclass(frozen=True)
class DeformConv2dArgs:
    """Validated arguments of ``deform_conv2d``: the convolution's, plus the offset groups."""

    conv: Conv2dArgs
    offset_groups: int


def _check_sampling_map(
    name: str,
    value: Any,
    x: Any,
    per_group: int,
    layout: str,
    args: Conv2dArgs,
    array_type: type,
) -> int:
    """Check an offset or mask map ``(N, G * per_group, H_out, W_out)``; return its group count ``G``."""
    check_array(name, value, array_type, 4, layout)
    check_same_dtype(name, value, x)
    batch, channels, height, width = batch_and_sizes(value)
    if batch != args.batch:
        raise ValueError(
            f"{name} must have the batch size of x ({args.batch}), got shape {tuple(value.shape)}"
        )
    if (height, width) != args.out_size:
        raise ValueError(
            f"{name} must cover the output, {args.out_size[0]}x{args.out_size[1]} pixels, got shape {tuple(value.shape)}"
        )
    if channels == 0 or channels % per_group:
        raise ValueError(
            f"{name} must have a positive multiple of {per_group} channels {layout}, got {channels}"
        )
    return channels // per_group


def check_deform_conv2d_args(
    x: Any,
    offset: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    mask: Any,
    *,
    array_type: type,
) -> DeformConv2dArgs:
    """Validate ``deform_conv2d`` with torchvision's conventions: groups and offset groups come from the shapes.

    ``weight`` is ``(C_out, C_in / groups, kh, kw)``, so ``groups = C_in / weight.shape[1]``;
    ``offset`` is ``(N, 2 G kh kw, H_out, W_out)`` and ``mask`` ``(N, G kh kw, H_out, W_out)``
    for ``G`` offset groups, which must divide ``C_in``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    in_channels, group_channels = int(x.shape[1]), int(weight.shape[1])
    if group_channels == 0 or in_channels % group_channels:
        raise ValueError(
            f"weight.shape[1] must divide the input channels (it is C_in / groups): x has {in_channels} "
            f"channels, weight has shape {tuple(weight.shape)}"
        )
    conv = check_conv2d_args(
        x,
        weight,
        bias,
        stride,
        padding,
        dilation,
        in_channels // group_channels,
        array_type=array_type,
        op="deform_conv2d",
    )
    taps = conv.kernel_size[0] * conv.kernel_size[1]
    offset_groups = _check_sampling_map(
        "offset",
        offset,
        x,
        2 * taps,
        "(N, 2 * offset_groups * kh * kw, H_out, W_out)",
        conv,
        array_type,
    )
    if in_channels % offset_groups:
        raise ValueError(
            f"the offset groups must divide the input channels: offset has {offset_groups} groups "
            f"({int(offset.shape[1])} channels), x has {in_channels} channels"
        )
    if mask is not None:
        mask_groups = _check_sampling_map(
            "mask",
            mask,
            x,
            taps,
            "(N, offset_groups * kh * kw, H_out, W_out)",
            conv,
            array_type,
        )
        if mask_groups != offset_groups:
            raise ValueError(
                f"mask must have offset_groups * kh * kw = {offset_groups * taps} channels (one per offset), "
                f"got {int(mask.shape[1])}"
            )
    return DeformConv2dArgs(conv, offset_groups)


def check_dcls_kernel_args(
    weight: Any, positions: Any, size: IntPair, *, array_type: type
) -> tuple[int, int]:
    """Validate ``dcls_kernel``: ``weight (C_out, C_in / g, kh, kw)``, ``positions (2, *weight.shape)``, dense ``size``."""
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    check_array(
        "positions", positions, array_type, 5, "(2, C_out, C_in / groups, kh, kw)"
    )
    check_same_dtype("positions", positions, weight, "weight")
    expected = (2, *(int(s) for s in weight.shape))
    if tuple(int(s) for s in positions.shape) != expected:
        raise ValueError(
            f"positions must have shape {expected} (a (y, x) per weight), got shape {tuple(positions.shape)}"
        )
    return int_pair("size", size, minimum=1)
