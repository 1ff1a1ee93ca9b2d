"""Checks of the upsampling family: ``resize_conv2d``."""

from __future__ import annotations

from typing import Any

from .conv import check_window_args
from .core import IntPair, Padding, check_array, check_bias, check_same_dtype, int_pair


def check_resize_conv2d_args(
    x: Any,
    weight: Any,
    bias: Any,
    scale_factor: IntPair,
    padding: Padding,
    *,
    array_type: type,
) -> tuple[int, int]:
    """Validate ``resize_conv2d``'s arguments (shared by the NumPy and the PyTorch version).

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_out, C_in, kh, kw)``, ``bias (C_out,)`` or None;
    ``scale_factor`` an int or a pair of ints >= 1; ``padding`` as in ``conv2d``, checked on the
    upsampled size. Returns ``scale_factor`` as ``(sh, sw)``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_out, C_in, kh, kw)")
    check_same_dtype("weight", weight, x)
    sh, sw = int_pair("scale_factor", scale_factor, minimum=1)
    out_channels, in_channels, kh, kw = (int(s) for s in weight.shape)
    if in_channels != int(x.shape[1]):
        raise ValueError(
            f"weight.shape[1] must equal the input channels C_in = {int(x.shape[1])}, got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(
            f"weight must have a kernel of at least 1x1, got weight of shape {tuple(weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    # The convolution runs on the upsampled input: check padding and kernel against that
    # size.
    check_window_args(
        "resize_conv2d",
        (int(x.shape[2]) * sh, int(x.shape[3]) * sw),
        (kh, kw),
        1,
        padding,
        1,
    )
    return sh, sw
