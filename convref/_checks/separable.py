"""Checks of the separable family: ``separable_conv2d`` and ``factorize_kernel``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conv import check_window_args
from .core import (
    IntPair,
    Padding,
    _dtype_name,
    check_array,
    check_bias,
    check_same_dtype,
    int_pair,
    positive_int,
)


@dataclass(frozen=True)
class SeparableArgs:
    """Validated arguments of ``separable_conv2d``: the padding of each 1-D stage."""

    column_padding: Padding
    row_padding: Padding
    stride: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


def check_separable_conv2d_args(
    x: Any,
    column_weight: Any,
    row_weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
) -> SeparableArgs:
    """Validate ``separable_conv2d``: a ``(kh, 1)`` convolution followed by a ``(1, kw)`` one.

    Shapes: ``x (N, C_in, H, W)``, ``column_weight (C_mid, C_in / groups, kh, 1)``,
    ``row_weight (C_out, C_mid / groups, 1, kw)``, ``bias (C_out,)``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array(
        "column_weight", column_weight, array_type, 4, "(C_mid, C_in / groups, kh, 1)"
    )
    check_array(
        "row_weight", row_weight, array_type, 4, "(C_out, C_mid / groups, 1, kw)"
    )
    check_same_dtype("column_weight", column_weight, x)
    check_same_dtype("row_weight", row_weight, x)
    groups = positive_int("groups", groups)
    in_channels = int(x.shape[1])
    mid_channels, column_in, kh, column_width = (int(s) for s in column_weight.shape)
    out_channels, row_in, row_height, kw = (int(s) for s in row_weight.shape)
    if column_width != 1 or kh < 1:
        raise ValueError(
            f"column_weight must have shape (C_mid, C_in / groups, kh, 1), got shape {tuple(column_weight.shape)}"
        )
    if row_height != 1 or kw < 1:
        raise ValueError(
            f"row_weight must have shape (C_out, C_mid / groups, 1, kw), got shape {tuple(row_weight.shape)}"
        )
    for name, channels in (
        ("input", in_channels),
        ("middle", mid_channels),
        ("output", out_channels),
    ):
        if channels % groups:
            raise ValueError(
                f"groups must divide the {name} channels: {channels} channels, groups={groups}"
            )
    if column_in != in_channels // groups:
        raise ValueError(
            f"column_weight.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got column_weight of shape {tuple(column_weight.shape)}"
        )
    if row_in != mid_channels // groups:
        raise ValueError(
            f"row_weight.shape[1] must be C_mid / groups = {mid_channels} / {groups} = {mid_channels // groups}, "
            f"got row_weight of shape {tuple(row_weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    _, stride_hw, _, dilation_hw, _ = check_window_args(
        "separable_conv2d",
        (int(x.shape[2]), int(x.shape[3])),
        (kh, kw),
        stride,
        padding,
        dilation,
    )
    if isinstance(
        padding, str
    ):  # "same"/"valid" apply to each 1-D stage along its own axis
        column_padding: Padding = padding
        row_padding: Padding = padding
    else:
        ph, pw = int_pair("padding", padding, minimum=0)
        column_padding, row_padding = (ph, 0), (0, pw)
    return SeparableArgs(column_padding, row_padding, stride_hw, dilation_hw, groups)


def check_kernel_matrix(kernel: Any, array_type: type, rank: Any) -> None:
    """Validate ``factorize_kernel``: a 2-D floating kernel of at least 1x1 and an optional rank >= 1."""
    check_array("kernel", kernel, array_type, 2, "(kh, kw)")
    if min(kernel.shape) < 1:  # an empty kernel has no rank-1 term to return
        raise ValueError(
            f"kernel must be at least 1x1, got shape {tuple(kernel.shape)}"
        )
    if _dtype_name(kernel.dtype) not in (
        "float32",
        "float64",
    ):  # what both SVDs support
        raise TypeError(
            f"kernel must be float32 or float64, got {_dtype_name(kernel.dtype)}"
        )
    if rank is not None:
        rank = positive_int("rank", rank)
        if rank > min(kernel.shape):
            raise ValueError(
                f"rank must be <= min(kh, kw) = {min(kernel.shape)}, got {rank}"
            )
