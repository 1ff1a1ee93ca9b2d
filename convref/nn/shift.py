"""``nn.Module`` layers over :func:`convref.functional.shift2d`: fixed and learnable shifts, and ShiftNet's block."""

from __future__ import annotations

import torch
from torch import nn

from .. import functional
from .._checks import check_shift_pattern_args, positive_int
from ..arith import Ops, tensor_bytes
from ..functional.shift import pattern_shift2d
from .base import check_layer_input
from .conv import Conv1x1

__all__ = ["Shift2d", "ActiveShift2d", "ShiftBlock"]


class Shift2d(nn.Module):
    """Fixed per-channel shifts (Wu et al. 2018): zero parameters, zero multiply-adds.

    Parameters
    ----------
    channels : int
        Channels ``C`` of the input.
    kernel_size, dilation : int
        The ``k x k`` (odd) grid of directions and its spacing, see :func:`convref.reference.shift_pattern`.
    layout : {"grouped", "interleaved"}
        How the directions are assigned to channels.

    Shape
    -----
    Input and output ``(N, C, H, W)``.

    Notes
    -----
    The offsets are the buffer ``shifts`` ``(C, 2)``, for inspection. The forward pass moves
    the channels from the pattern's parameters (:func:`convref.functional.pattern_shift2d`):
    Python ints, so the fast copy is chosen without reading the table back from the device,
    and several layers with different patterns never evict one another's plan.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        layout: str = "grouped",
    ) -> None:
        super().__init__()
        self.channels, self.kernel_size, self.dilation = check_shift_pattern_args(
            channels, kernel_size, dilation, layout
        )
        self.layout = layout
        self.register_buffer(
            "shifts", functional.shift_pattern(channels, kernel_size, dilation, layout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.channels)
        return pattern_shift2d(x, self.kernel_size, self.dilation, self.layout)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """No arithmetic (for :func:`convref.arith.count`): a copy that reads and writes every value once."""
        return Ops.io(inputs, output)

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}, dilation={self.dilation}, layout={self.layout!r}"


class ActiveShift2d(nn.Module):
    """Learnable fractional per-channel shifts (the active shift layer of Jeon & Kim 2018).

    The offsets are a parameter ``shifts`` ``(C, 2)``, initialised to ShiftNet's grouped
    pattern for ``kernel_size`` and trained by backpropagation through the bilinear
    interpolation of :func:`convref.functional.shift2d`. ``2 C`` parameters, no multiply-adds
    beyond the interpolation's four weights per value.

    Parameters
    ----------
    channels : int
        Channels ``C``.
    kernel_size : int
        Odd size of the grid the offsets start from.

    Shape
    -----
    Input and output ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.channels, self.kernel_size, _ = check_shift_pattern_args(
            channels, kernel_size, 1, "grouped"
        )
        start = functional.shift_pattern(channels, kernel_size).to(
            torch.get_default_dtype()
        )
        self.shifts = nn.Parameter(start)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.channels)
        return functional.shift2d(x, self.shifts)  # positions stay in float32

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """Four multiply-adds per output value, the bilinear blend (for :func:`convref.arith.count`)."""
        return Ops.io(inputs, output, mult_adds=4 * output.numel())

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}"


class ShiftBlock(nn.Module):
    """ShiftNet's Conv-Shift-Conv module: 1x1 -> BN -> ReLU -> shift -> 1x1 -> BN (+ input) -> ReLU.

    The first 1x1 convolution expands the channels by ``expansion``, the shift moves the
    expanded channels in ``kernel_size**2`` directions, and the second 1x1 convolution (with
    ``stride``, which then simply keeps every ``stride``-th pixel) mixes them into the output.
    The residual connection is used when input and output have the same shape.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    expansion : int
        Width multiplier of the middle (shifted) layer.
    kernel_size : int
        Odd size of the shift's grid of directions.
    stride : int
        Stride of the second 1x1 convolution.
    layout : {"grouped", "interleaved"}
        Assignment of the directions to channels.

    Shape
    -----
    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H_out, W_out)`` with
    ``H_out = ceil(H / stride)`` and ``W_out = ceil(W / stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion: int = 1,
        kernel_size: int = 3,
        stride: int = 1,
        layout: str = "grouped",
    ) -> None:
        super().__init__()
        in_channels = positive_int("in_channels", in_channels)
        out_channels = positive_int("out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        middle = in_channels * positive_int("expansion", expansion)
        self.stride = positive_int("stride", stride)
        self.expand = nn.Sequential(
            Conv1x1(in_channels, middle, bias=False), nn.BatchNorm2d(middle), nn.ReLU()
        )
        self.shift = Shift2d(middle, kernel_size, layout=layout)
        self.mix = Conv1x1(middle, out_channels, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.residual = in_channels == out_channels and self.stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        y = self.shift(self.expand(x))
        if self.stride > 1:  # a strided 1x1 convolution reads every stride-th pixel
            y = y[:, :, :: self.stride, :: self.stride]
        y = self.bn(self.mix(y))
        return torch.relu(y + x if self.residual else y)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """The block's own work, the residual sum and the last ReLU (for :func:`convref.arith.count`).

        The convolutions, BatchNorms, the first ReLU and the shift are child modules. The sum
        adds one value per output element; the sum and the ReLU read the branch (and the input,
        with the residual) and write the output once.
        """
        size = tensor_bytes(output)
        if self.residual:
            return Ops(
                additions=output.numel(), bytes_read=2 * size, bytes_written=size
            )
        return Ops(bytes_read=size, bytes_written=size)
