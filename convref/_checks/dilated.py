"""Checks of the dilated family: ``dilate_kernel``, space-to-batch and ``causal_conv1d``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import (
    IntPair,
    check_array,
    check_bias,
    check_same_dtype,
    int_pair,
    positive_int,
)


def check_dilate_kernel_args(
    weight: Any, dilation: IntPair, *, array_type: type
) -> tuple[int, int]:
    """Validate ``dilate_kernel``: a 4-D floating weight ``(C_out, C_in / groups, kh, kw)`` and a dilation >= 1."""
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    if min(int(s) for s in weight.shape[2:]) < 1:
        raise ValueError(
            f"weight must have a kernel of at least 1x1, got weight of shape {tuple(weight.shape)}"
        )
    return int_pair("dilation", dilation, minimum=1)


def check_block_args(x: Any, block: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``space_to_batch``: ``x (N, C, H, W)`` whose height and width the block divides."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    bh, bw = int_pair("block", block, minimum=1)
    height, width = int(x.shape[2]), int(x.shape[3])
    if height % bh or width % bw:
        raise ValueError(
            f"block must divide the height and width of x ({height}, {width}), got block={(bh, bw)}"
        )
    return bh, bw


def check_batch_to_space_args(
    y: Any, block: IntPair, *, array_type: type
) -> tuple[int, int]:
    """Validate ``batch_to_space``: ``y (bh * bw * N, C, H, W)``."""
    check_array("y", y, array_type, 4, "(block_h * block_w * N, C, H, W)")
    bh, bw = int_pair("block", block, minimum=1)
    if int(y.shape[0]) % (bh * bw):
        raise ValueError(
            f"block_h * block_w = {bh * bw} must divide the batch of y, got y of shape {tuple(y.shape)}"
        )
    return bh, bw


@dataclass(frozen=True)
class CausalConv1dArgs:
    """Validated arguments of ``causal_conv1d``."""

    kernel_size: int
    dilation: int
    groups: int


def check_causal_conv1d_args(
    x: Any, weight: Any, bias: Any, dilation: int, groups: int, *, array_type: type
) -> CausalConv1dArgs:
    """Validate ``causal_conv1d``: ``x (N, C_in, L)``, ``weight (C_out, C_in / groups, k)``, bias ``(C_out,)``."""
    check_array("x", x, array_type, 3, "(N, C_in, L)")
    check_array("weight", weight, array_type, 3, "(C_out, C_in / groups, k)")
    check_same_dtype("weight", weight, x)
    dilation = positive_int("dilation", dilation)
    groups = positive_int("groups", groups)
    in_channels = int(x.shape[1])
    out_channels, group_in, k = (int(s) for s in weight.shape)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide the input and output channels, got groups={groups} for "
            f"{in_channels} -> {out_channels} channels"
        )
    if group_in != in_channels // groups:
        raise ValueError(
            f"weight.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got weight of shape {tuple(weight.shape)}"
        )
    if k < 1:
        raise ValueError(
            f"weight must have a kernel of at least 1 tap, got weight of shape {tuple(weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    return CausalConv1dArgs(kernel_size=k, dilation=dilation, groups=groups)
