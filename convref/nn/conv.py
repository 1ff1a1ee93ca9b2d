"""``nn.Module`` convolution layers over PyTorch's own ``conv2d``.

:func:`convref.functional.conv2d` computes the same function as an im2col matrix
product: it is the book's version, written to be read, and its tests compare it with
PyTorch's. A layer that people train runs PyTorch's kernel, which is faster on every
device and which autocast, ``channels_last``, ``torch.compile`` and ONNX export know
natively.
"""

from __future__ import annotations

import torch

from .._checks import IntPair, Padding, check_window_args, padding_amounts
from .base import ConvLayer2d, check_layer_input

__all__ = ["Conv2d", "Conv1x1"]


class Conv2d(ConvLayer2d):
    """2-D convolution layer computed by :func:`torch.nn.functional.conv2d`.

    A drop-in for :class:`torch.nn.Conv2d` (same arguments, same parameter shapes),
    with the initialisation made explicit and the input checked with messages that name
    what is wrong. It computes the function of :func:`convref.functional.conv2d`, the
    book's im2col version, with PyTorch's kernel.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, dilation : int or (int, int)
        As in :class:`torch.nn.Conv2d`.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        As in :class:`torch.nn.Conv2d` (zero padding).
    groups : int
        Number of groups.
    bias : bool
        Whether to add a learned bias.
    init : {"pytorch", "he", "random", "xavier"}
        Keyword-only. ``"pytorch"`` reproduces :class:`torch.nn.Conv2d`'s default
        (Kaiming-uniform with ``a = sqrt(5)``); the others are the Gaussian schemes of
        :mod:`convref.nn.init`. Biases start at zero except with ``"pytorch"``.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d` (:func:`convref.arith.conv_output_size`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            init=init,
        )
        # the smallest input the window fits, worked out once: the check per call is then
        # two comparisons (check_window_args costs ~25 us, a depthwise 3x3 a few hundred)
        pads = padding_amounts(
            self.padding, self.kernel_size, self.dilation, self.stride
        )
        self._smallest_input = tuple(
            d * (k - 1) + 1 - before - after
            for k, d, before, after in zip(
                self.kernel_size, self.dilation, pads[0::2], pads[1::2]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        height, width = x.shape[-2:]
        if height < self._smallest_input[0] or width < self._smallest_input[1]:
            check_window_args(  # raises: the input is smaller than the kernel
                "conv2d",
                (height, width),
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
            )
        # PyTorch's kernel, which applies autocast itself
        return torch.nn.functional.conv2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )


class Conv1x1(Conv2d):
    """Pointwise (1x1) convolution: a linear layer applied at every pixel (Lin et al. 2014).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    groups : int
        Number of groups.
    bias : bool
        Whether to add a learned bias.
    init : str
        Keyword-only. As in :class:`Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels, out_channels, 1, groups=groups, bias=bias, init=init
        )
