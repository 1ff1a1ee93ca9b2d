"""Checks of the dynamic family: ``dynamic_conv2d``'s stack of kernels and attention."""

from __future__ import annotations

from typing import Any

from .conv import Conv2dArgs, check_conv2d_args
from .core import IntPair, Padding, batch_and_sizes, check_array, check_same_dtype


def check_dynamic_conv2d_args(
    x: Any,
    weights: Any,
    attention: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
) -> tuple[Conv2dArgs, int]:
    """Validate ``dynamic_conv2d``: ``x (N, C_in, H, W)``, ``weights (K, C_out, C_in / groups, kh, kw)``,
    ``attention (N, K)``, ``bias (K, C_out)`` or None; returns the convolution's arguments and ``K``."""
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weights", weights, array_type, 5, "(K, C_out, C_in / groups, kh, kw)")
    kernels = int(weights.shape[0])
    if kernels < 1:
        raise ValueError(
            f"weights must hold at least one kernel (K >= 1), got shape {tuple(weights.shape)}"
        )
    args = check_conv2d_args(
        x,
        weights[0],
        None,
        stride,
        padding,
        dilation,
        groups,
        array_type=array_type,
        op="dynamic_conv2d",
        weight_name="weights[k]",
    )
    check_array("attention", attention, array_type, 2, "(N, K)")
    check_same_dtype("attention", attention, x)
    if batch_and_sizes(attention) != (args.batch, kernels):
        raise ValueError(
            f"attention must have shape ({args.batch}, {kernels}) (one weight per sample and kernel), "
            f"got shape {tuple(attention.shape)}"
        )
    if bias is not None:
        check_array("bias", bias, array_type, 2, "(K, C_out)")
        check_same_dtype("bias", bias, x)
        if tuple(int(s) for s in bias.shape) != (kernels, args.out_channels):
            raise ValueError(
                f"bias must have shape ({kernels}, {args.out_channels}), got shape {tuple(bias.shape)}"
            )
    return args, kernels
