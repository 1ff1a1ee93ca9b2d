"""Layers (``torch.nn.Module``) built on :mod:`convref.functional`."""

from . import init
from .conv import Conv1x1, Conv2d
from .separable import ChannelShuffle, DepthwiseSeparableConv2d

__all__ = ["Conv2d", "Conv1x1", "DepthwiseSeparableConv2d", "ChannelShuffle", "init"]
