"""Layers (``torch.nn.Module``) built on :mod:`convref.functional`."""

from . import init
from .conv import Conv1x1, Conv2d
from .dilated import ASPP, AtrousCascade
from .separable import ChannelShuffle, DepthwiseSeparableConv2d

__all__ = ["Conv2d", "Conv1x1", "DepthwiseSeparableConv2d", "ChannelShuffle", "init"]
__all__ += ["ASPP", "AtrousCascade"]
from .causal import CausalConv1d  # noqa: E402
from .transposed import ConvTranspose2d  # noqa: E402

__all__ += ["ConvTranspose2d", "CausalConv1d"]
from .non_local import NonLocal2d  # noqa: E402

__all__ += ["NonLocal2d"]
from .shift import ActiveShift2d, Shift2d, ShiftBlock  # noqa: E402

__all__ += ["Shift2d", "ActiveShift2d", "ShiftBlock"]
from .deformable import ActiveConv2d, DclsConv2d, DeformConv2d  # noqa: E402

__all__ += ["DeformConv2d", "ActiveConv2d", "DclsConv2d"]
from .adder import Adder2d, adder_bn_relu, to_adder  # noqa: E402

__all__ += ["Adder2d", "adder_bn_relu", "to_adder"]
from .dynamic import CondConv2d, DynamicConv2d, KernelMixtureConv2d, SelectiveKernel2d, temperature_schedule  # noqa: E402

__all__ += ["KernelMixtureConv2d", "CondConv2d", "DynamicConv2d", "SelectiveKernel2d", "temperature_schedule"]
