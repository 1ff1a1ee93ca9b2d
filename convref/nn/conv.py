"""``nn.Module`` layers over :mod:`convref.functional`."""

from __future__ import annotations

import torch
from torch import nn

from .. import functional
from .._checks import IntPair, Padding, check_layer_channels, int_pair, padding_amounts
from .init import INIT_SCHEMES, init_weight_, pytorch_default_

__all__ = ["Conv2d", "Conv1x1"]


class Conv2d(nn.Module):
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
    init : {"pytorch", "random", "xavier", "he"}
        ``"pytorch"`` reproduces :class:`torch.nn.Conv2d`'s default (Kaiming-uniform with
        ``a = sqrt(5)``); the others are the Gaussian schemes of :mod:`convref.nn.init`.
        Biases start at zero except with ``"pytorch"``.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)``.
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
        init: str = "pytorch",
    ) -> None:
        super().__init__()
        in_channels, out_channels, groups = check_layer_channels(in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = int_pair("kernel_size", kernel_size, minimum=1)
        self.stride = int_pair("stride", stride, minimum=1)
        self.dilation = int_pair("dilation", dilation, minimum=1)
        # Refuse a bad padding now (as torch.nn.Conv2d does), with functional.conv2d's message.
        padding_amounts(padding, self.kernel_size, self.dilation, self.stride)
        self.padding, self.groups = padding, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "pytorch") -> None:
        """Re-initialise the weight (and bias) with scheme ``init``."""
        if init not in ("pytorch", *INIT_SCHEMES):
            raise ValueError(f"init must be one of {['pytorch', *sorted(INIT_SCHEMES)]}, got {init!r}")
        if init == "pytorch":
            pytorch_default_(self.weight, self.bias)
            return
        init_weight_(self.weight, init)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}"
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
        As in :class:`Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H, W)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, groups: int = 1, bias: bool = True, init: str = "pytorch"
    ) -> None:
        super().__init__(in_channels, out_channels, 1, groups=groups, bias=bias, init=init)
