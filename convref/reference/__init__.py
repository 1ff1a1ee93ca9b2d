"""NumPy reference versions of every operator: readable, straight from the equations."""

from .conv import conv2d, conv2d_im2col, conv2d_loop, im2col
from .grouped import channel_shuffle
from .separable import factorize_kernel, separable_conv2d

__all__ = [
    "conv2d",
    "conv2d_loop",
    "conv2d_im2col",
    "im2col",
    "separable_conv2d",
    "factorize_kernel",
    "channel_shuffle",
]
