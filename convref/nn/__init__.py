"""Layers (``torch.nn.Module``) built on :mod:`convref.functional`.

The layers that have a twin in ``torch.nn`` (:class:`Conv2d`, :class:`Conv1x1`,
:class:`ConvTranspose2d` and the layers built from them) run PyTorch's own kernel after
convref's argument checks: the same function as :func:`convref.functional.conv2d` and
:func:`convref.functional.conv_transpose2d`, which stay the book's readable versions.

The convolution-shaped layers share one base, :class:`ConvLayer2d` (argument checks,
parameters, initialisation, ``repr``), as PyTorch's share ``torch.nn.modules.conv._ConvNd``.
Arguments that PyTorch's (or torchvision's) layer of the same kind has keep its order; the
options beyond them are keyword-only.
"""

from . import init
from .adder import Adder2d, adder_bn_relu, scale_adder_gradients_, to_adder
from .base import ConvLayer2d
from .causal import CausalConv1d
from .conv import Conv1x1, Conv2d
from .deformable import ActiveConv2d, DCN2d, DclsConv2d, DeformConv2d
from .dilated import ASPP, AtrousCascade
from .dynamic import (
    CondConv2d,
    DynamicConv2d,
    KernelMixtureConv2d,
    SelectiveKernel2d,
    temperature_schedule,
)
from .lightweight import DynamicLightweightConv1d, LightweightConv1d
from .non_local import NonLocal2d
from .separable import ChannelShuffle, DepthwiseSeparableConv2d
from .shift import ActiveShift2d, Shift2d, ShiftBlock
from .transposed import ConvTranspose2d

__all__ = [
    "init",
    # the base of the convolution-shaped layers
    "ConvLayer2d",
    # convolution, pointwise, separable
    "Conv2d",
    "Conv1x1",
    "DepthwiseSeparableConv2d",
    "ChannelShuffle",
    # dilated
    "ASPP",
    "AtrousCascade",
    "CausalConv1d",
    # transposed
    "ConvTranspose2d",
    # non-local
    "NonLocal2d",
    # shift
    "Shift2d",
    "ActiveShift2d",
    "ShiftBlock",
    # deformable and learned shapes
    "DeformConv2d",
    "DCN2d",
    "ActiveConv2d",
    "DclsConv2d",
    # adder
    "Adder2d",
    "adder_bn_relu",
    "to_adder",
    "scale_adder_gradients_",
    # dynamic
    "KernelMixtureConv2d",
    "CondConv2d",
    "DynamicConv2d",
    "SelectiveKernel2d",
    "temperature_schedule",
    # lightweight and dynamic 1-D convolution
    "LightweightConv1d",
    "DynamicLightweightConv1d",
]
