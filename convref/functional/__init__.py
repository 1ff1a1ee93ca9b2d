"""PyTorch versions of every operator: same names and arguments as :mod:`convref.reference`."""

from .conv import conv2d, im2col

__all__ = ["conv2d", "im2col"]
