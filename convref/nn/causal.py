"""``nn.Module`` layer over :func:`convref.functional.causal_conv1d`."""

from __future__ import annotations

import torch
from torch import nn

from .. import functional
from .._checks import check_layer_channels, positive_int
from ..arith import Ops
from .base import check_layer_input
from .init import pytorch_default_

__all__ = ["CausalConv1d"]


class CausalConv1d(nn.Module):
    """Causal dilated 1-D convolution: the output at time ``t`` depends on inputs up to ``t`` only.

    The building block of WaveNet (van den Oord et al. 2016) and temporal convolutional
    networks: the sequence is padded with ``dilation * (kernel_size - 1)`` zeros on the left,
    so the length is kept. Stacking rates ``1, 2, 4, ...`` doubles the receptive field per
    layer (:func:`convref.arith.causal_receptive_field`).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Taps per kernel; the last tap multiplies the current sample.
    dilation : int
        Spacing between taps.
    groups : int
        Number of groups.
    bias : bool
        Whether to add a learned bias.

    Shape
    -----
    Input ``(N, C_in, L)``, output ``(N, C_out, L)``: the length is kept.

    Notes
    -----
    Initialised like :class:`torch.nn.Conv1d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        in_channels, out_channels, self.groups = check_layer_channels(
            in_channels, out_channels, groups
        )
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.dilation = positive_int("dilation", dilation)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // self.groups, self.kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        pytorch_default_(self.weight, self.bias)

    @property
    def receptive_field(self) -> int:
        """Number of input samples one output sees: ``dilation * (kernel_size - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels, ndim=3, layout="(N, C_in, L)")
        return functional.causal_conv1d(
            x, self.weight, self.bias, self.dilation, self.groups
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`.

        One multiply-add per weight per output position, one addition per output value for the
        bias; the left padding is zeros that need not be stored or read.
        """
        additions = output.numel() if self.bias is not None else 0
        return Ops.io(
            inputs,
            output,
            output.numel() // self.out_channels * self.weight.numel(),
            additions,
            affine=True,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}"
        )
