"""PyTorch versions of every operator: same names and arguments as :mod:`convref.reference`."""

from .conv import conv2d, im2col
from .grouped import channel_shuffle
from .separable import factorize_kernel, separable_conv2d

__all__ = ["conv2d", "im2col", "separable_conv2d", "factorize_kernel", "channel_shuffle"]
