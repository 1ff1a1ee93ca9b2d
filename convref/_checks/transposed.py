"""Checks of the transposed family: ``conv_transpose2d``, its output size and ``stuff_zeros``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import (
    IntPair,
    batch_and_sizes,
    check_array,
    check_bias,
    check_same_dtype,
    int_pair,
    positive_int,
)


def check_output_padding(
    output_padding: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> None:
    """PyTorch's rule for a transposed convolution: ``output_padding < max(stride, dilation)`` on each axis."""
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than stride or dilation, got output_padding={output_padding}, "
                f"stride={stride}, dilation={dilation}"
            )


def check_stuff_zeros_args(
    x: Any, stride: IntPair, *, array_type: type
) -> tuple[int, int]:
    """Validate ``stuff_zeros``: ``x (N, C, H, W)`` and a stride >= 1."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    return int_pair("stride", stride, minimum=1)


@dataclass(frozen=True)
class ConvTranspose2dArgs:
    """Validated and normalised arguments of a 2-D transposed convolution."""

    batch: int
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]

    @property
    def full_size(self) -> tuple[int, int]:
        """Size of the uncropped output, ``(H - 1) s + d (k - 1) + 1``: every position some tap reaches."""
        return tuple(  # type: ignore[return-value]
            (i - 1) * s + d * (k - 1) + 1
            for i, s, d, k in zip(
                self.in_size, self.stride, self.dilation, self.kernel_size
            )
        )


def conv_transpose_length(
    size: int,
    kernel_size: int,
    stride: int,
    padding: int,
    output_padding: int,
    dilation: int,
) -> int:
    """Output length of a transposed convolution along one axis (PyTorch's formula)."""
    return (
        (size - 1) * stride
        - 2 * padding
        + dilation * (kernel_size - 1)
        + output_padding
        + 1
    )


def transposed_output_size(
    in_size: tuple[int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int]:
    """The output's (height, width); ``ValueError`` when the padding crops all of it."""
    out_size = tuple(
        conv_transpose_length(i, k, s, p, op, d)
        for i, k, s, p, op, d in zip(
            in_size, kernel_size, stride, padding, output_padding, dilation
        )
    )
    if min(out_size) < 1:
        raise ValueError(
            f"padding {padding} crops the whole output: the output size would be {out_size}"
        )
    return out_size  # type: ignore[return-value]


def check_conv_transpose2d_args(
    x: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: IntPair,
    output_padding: IntPair,
    groups: int,
    dilation: IntPair,
    *,
    array_type: type,
) -> ConvTranspose2dArgs:
    """Validate the arguments of ``conv_transpose2d``, in PyTorch's order.

    Parameters
    ----------
    x, weight, bias
        Input ``(N, C_in, H, W)``, weight ``(C_in, C_out / groups, kh, kw)`` (the layout of the
        convolution it transposes), bias ``(C_out,)`` or None.
    stride, padding, output_padding, groups, dilation
        As in :func:`torch.nn.functional.conv_transpose2d`; ``output_padding`` must be smaller
        than the stride or the dilation along each axis.
    array_type
        ``numpy.ndarray`` for the reference, ``torch.Tensor`` for the PyTorch version.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_in, C_out / groups, kh, kw)")
    check_same_dtype("weight", weight, x)
    groups = positive_int("groups", groups)
    batch, in_channels, height, width = batch_and_sizes(x)
    weight_in, group_out, kh, kw = (int(s) for s in weight.shape)
    if height < 1 or width < 1:
        raise ValueError(
            f"x must have a height and width of at least 1, got shape {tuple(x.shape)}"
        )
    if weight_in != in_channels:
        raise ValueError(
            f"weight.shape[0] must equal the input channels C_in = {in_channels}, got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if in_channels % groups:
        raise ValueError(
            f"groups must divide the input channels: x has {in_channels} channels, groups={groups}"
        )
    if kh < 1 or kw < 1 or group_out < 1:
        raise ValueError(
            f"weight must have at least one output channel and a 1x1 kernel, got weight of shape {tuple(weight.shape)}"
        )
    out_channels = group_out * groups
    check_bias(bias, x, out_channels, array_type)
    stride_hw = int_pair("stride", stride, minimum=1)
    try:
        padding_hw = int_pair("padding", padding, minimum=0)
    except (
        TypeError
    ):  # strings are conv2d's; a transposed convolution takes explicit amounts
        raise TypeError(
            f"padding must be an int or a pair of ints, got {padding!r}"
        ) from None
    output_padding_hw = int_pair("output_padding", output_padding, minimum=0)
    dilation_hw = int_pair("dilation", dilation, minimum=1)
    check_output_padding(output_padding_hw, stride_hw, dilation_hw)
    out_size = transposed_output_size(
        (height, width), (kh, kw), stride_hw, padding_hw, output_padding_hw, dilation_hw
    )
    return ConvTranspose2dArgs(
        batch=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        in_size=(height, width),
        kernel_size=(kh, kw),
        stride=stride_hw,
        padding=padding_hw,
        output_padding=output_padding_hw,
        dilation=dilation_hw,
        groups=groups,
        out_size=out_size,  # type: ignore[arg-type]
    )
