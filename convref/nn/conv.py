"""``nn.Module`` convolution layers over :func:`convref.functional.conv2d`."""

from __future__ import annotations

import torch

from .. import functional
from .._checks import IntPair, Padding
from .base import ConvLayer2d, check_layer_input

__all__ = ["Conv2d", "Conv1x1"]


class Conv2d(ConvLayer2d):
    """2-D convolution layer computed by :func:`convref.functional.conv2d`.

    A drop-in for :class:`torch.nn.Conv2d` (same arguments, same parameter shapes),
    with the initialisation made explicit.

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        return functional.conv2d(
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
