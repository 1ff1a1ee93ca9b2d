"""NumPy reference versions of every operator: readable, straight from the equations."""

from .conv import conv2d, conv2d_im2col, conv2d_loop, im2col

__all__ = ["conv2d", "conv2d_loop", "conv2d_im2col", "im2col"]
