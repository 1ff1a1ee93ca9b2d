"""Layers that spend fewer parameters than a full convolution: depthwise separable and shuffle."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .. import functional
from .._checks import IntPair, Padding, positive_int
from ..arith import Ops
from .base import check_layer_input
from .conv import Conv2d

__all__ = ["DepthwiseSeparableConv2d", "ChannelShuffle"]


class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise ``k x k`` convolution, then a pointwise ``1 x 1`` convolution (MobileNet, Xception).

    The depthwise stage filters every input channel on its own (``groups = in_channels``,
    ``depth_multiplier`` filters per channel); the pointwise stage mixes the channels. It
    costs ``1 / out_channels + 1 / k^2`` of a full ``k x k`` convolution
    (:func:`convref.arith.depthwise_separable_cost`).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size, stride, dilation : int or (int, int)
        Of the depthwise stage (the pointwise stage is ``1 x 1``, stride 1).
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Of the depthwise stage.
    bias : bool
        Whether the pointwise stage has a bias (the depthwise stage never has one).
    depth_multiplier : int
        Keyword-only. Depthwise filters per input channel (MobileNet's and Keras' name).
    batch_norm : bool
        Keyword-only. Put a BatchNorm after each stage, as MobileNet does (then biases are pointless).
    activation : torch.nn.Module, optional
        Keyword-only. Applied after each stage (after its BatchNorm), e.g. ``torch.nn.ReLU()``; MobileNet
        uses ReLU after both, Xception none in between.

    Shape
    -----
    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H_out, W_out)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        bias: bool = True,
        *,
        depth_multiplier: int = 1,
        batch_norm: bool = False,
        activation: Optional[nn.Module] = None,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        depth_multiplier = positive_int("depth_multiplier", depth_multiplier)
        middle = in_channels * depth_multiplier
        self.depthwise = Conv2d(
            in_channels,
            middle,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = Conv2d(middle, out_channels, 1, bias=bias)
        self.depthwise_norm = nn.BatchNorm2d(middle) if batch_norm else nn.Identity()
        self.pointwise_norm = (
            nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        )
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        x = self.activation(self.depthwise_norm(self.depthwise(x)))
        return self.activation(self.pointwise_norm(self.pointwise(x)))


class ChannelShuffle(nn.Module):
    """Layer form of :func:`convref.functional.channel_shuffle` (ShuffleNet).

    Parameters
    ----------
    groups : int
        Number of groups; must divide the input's channels.

    Shape
    -----
    Input and output ``(N, C, H, W)``, with ``C`` divisible by ``groups``.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = positive_int("groups", groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, None)
        return functional.channel_shuffle(x, self.groups)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """No arithmetic (for :func:`convref.arith.count`): a copy that reads and writes every value once."""
        return Ops.io(inputs, output)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
