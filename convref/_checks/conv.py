"""Checks of ``conv2d`` and of every operator with a sliding window: padding, output size, ``Conv2dArgs``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import (
    IntPair,
    Padding,
    batch_and_sizes,
    check_array,
    check_bias,
    check_same_dtype,
    int_pair,
    positive_int,
)

PADDING_MODES = ("valid", "same")


def padding_amounts(
    padding: Padding,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int],
    stride: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Resolve ``padding`` to ``(top, bottom, left, right)``.

    ``"same"`` follows PyTorch: the total padding ``dilation * (kernel - 1)`` is split
    with the odd element on the bottom/right, and strided convolutions are refused.
    """
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise ValueError(
                f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}"
            )
        if padding == "valid":
            return (0, 0, 0, 0)
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride=1, got stride={stride}")
        amounts = []
        for k, d in zip(kernel_size, dilation):
            total = d * (k - 1)
            amounts += [total // 2, total - total // 2]
        return tuple(amounts)  # type: ignore[return-value]
    try:
        ph, pw = int_pair("padding", padding, minimum=0)
    except TypeError:
        raise TypeError(
            f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}"
        ) from None
    return (ph, ph, pw, pw)


def output_length(
    size: int,
    kernel_size: int,
    stride: int,
    pad_before: int,
    pad_after: int,
    dilation: int,
) -> int:
    """Number of output positions along one axis (floor division, as every framework does)."""
    return (
        size + pad_before + pad_after - dilation * (kernel_size - 1) - 1
    ) // stride + 1


@dataclass(frozen=True)
class Conv2dArgs:
    """Validated and normalised arguments of a 2-D convolution."""

    batch: int
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]


def check_window_args(
    op: str,
    in_size: tuple[int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
) -> tuple[
    tuple[int, int],
    tuple[int, int],
    tuple[int, int, int, int],
    tuple[int, int],
    tuple[int, int],
]:
    """Validate the sliding-window arguments; return kernel, stride, padding, dilation, output size."""
    kernel = int_pair("kernel_size", kernel_size, minimum=1)
    stride_hw = int_pair("stride", stride, minimum=1)
    dilation_hw = int_pair("dilation", dilation, minimum=1)
    pads = padding_amounts(padding, kernel, dilation_hw, stride_hw)
    out = []
    for axis, (size, k, s, d, before, after) in enumerate(
        zip(in_size, kernel, stride_hw, dilation_hw, pads[0::2], pads[1::2])
    ):
        span = d * (k - 1) + 1
        if size + before + after < span:
            dim = "height" if axis == 0 else "width"
            raise ValueError(
                f"{op}: x is too small: padded {dim} {size + before + after} is less than the "
                f"dilated kernel {dim} {span}"
            )
        out.append(output_length(size, k, s, before, after, d))
    return kernel, stride_hw, pads, dilation_hw, (out[0], out[1])


def check_conv2d_args(
    x: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
    op: str = "conv2d",
    weight_name: str = "weight",
) -> Conv2dArgs:
    """Validate the arguments of ``conv2d`` (and of operators with the same signature).

    Parameters
    ----------
    x, weight, bias
        Input ``(N, C_in, H, W)``, weight ``(C_out, C_in / groups, kh, kw)``, bias ``(C_out,)`` or None.
    stride, padding, dilation, groups
        As in :func:`torch.nn.functional.conv2d`.
    array_type
        ``numpy.ndarray`` for the reference, ``torch.Tensor`` for the PyTorch version.
    op
        The operator's name, used in messages.
    weight_name
        What messages call the weight (``"weights[k]"`` for one of a stack of kernels).
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array(weight_name, weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    check_same_dtype(weight_name, weight, x)
    groups = positive_int("groups", groups)
    batch, in_channels, height, width = batch_and_sizes(x)
    out_channels, group_channels, kh, kw = (int(s) for s in weight.shape)
    if in_channels % groups:
        raise ValueError(
            f"groups must divide the input channels: x has {in_channels} channels, groups={groups}"
        )
    if out_channels % groups:
        raise ValueError(
            f"groups must divide the output channels: {weight_name} has {out_channels} output channels, groups={groups}"
        )
    if group_channels != in_channels // groups:
        raise ValueError(
            f"{weight_name}.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got {weight_name} of shape {tuple(weight.shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(
            f"{weight_name} must have a kernel of at least 1x1, got {weight_name} of shape {tuple(weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    _, stride_hw, pads, dilation_hw, out_size = check_window_args(
        op, (height, width), (kh, kw), stride, padding, dilation
    )
    return Conv2dArgs(
        batch=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        in_size=(height, width),
        kernel_size=(kh, kw),
        stride=stride_hw,
        padding=pads,
        dilation=dilation_hw,
        groups=groups,
        out_size=out_size,
    )
