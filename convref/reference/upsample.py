"""NumPy reference of resize-convolution: nearest-neighbour upsampling, then a stride-1 convolution.

Odena, Dumoulin & Olah ("Deconvolution and checkerboard artifacts", Distill 2016) propose it
as the replacement of a strided transposed convolution for learned upsampling. Every output
pixel is computed the same way, so its kernel cannot overlap itself unevenly: the
nearest-neighbour step copies each input pixel into an ``s x s`` block, and the convolution
that follows slides one kernel over all blocks alike.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import IntPair, Padding, check_resize_conv2d_args
from .conv import conv2d


def resize_conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    scale_factor: IntPair = 2,
    padding: Padding = "same",
) -> np.ndarray:
    r"""Nearest-neighbour upsampling by ``scale_factor``, then a stride-1 :func:`convref.reference.conv2d`.

    .. math::

        u[n, c, i, j] = x\big[n, c, \lfloor i / s_h \rfloor, \lfloor j / s_w \rfloor\big], \qquad
        y = b + w \star u

    The learned alternative to a strided transposed convolution proposed by Odena, Dumoulin
    & Olah (Distill 2016): the same learnable upsampling, without checkerboard artifacts,
    because all output pixels see the kernel in the same way. With ``padding="same"`` the
    output has ``(s_h H, s_w W)`` pixels.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels of the convolution, shape ``(C_out, C_in, kh, kw)``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    scale_factor : int or (int, int)
        Integer upsampling factors ``(s_h, s_w)``: each pixel becomes an ``s_h x s_w`` block.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Padding of the convolution, as in :func:`convref.reference.conv2d` (``"same"`` keeps the
        upsampled size; for an even kernel the extra zero goes at the bottom/right).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``.
    """
    sh, sw = check_resize_conv2d_args(
        x, weight, bias, scale_factor, padding, array_type=np.ndarray
    )
    upsampled = np.repeat(
        np.repeat(x, sh, axis=2), sw, axis=3
    )  # every pixel becomes an sh x sw block
    return conv2d(upsampled, weight, bias, 1, padding)
