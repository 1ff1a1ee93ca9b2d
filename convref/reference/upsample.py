"""NumPy reference of resize-convolution: nearest-neighbour upsampling, then a stride-1 convolution.

Odena, Dumoulin & Olah ("Deconvolution and checkerboard artifacts", Distill 2016) propose it
as the replacement of a strided transposed convolution for learned upsampling. Every output
pixel is computed the same way, so its kernel cannot overlap itself unevenly: the
nearest-neighbour step copies each input pixel into an ``s x s`` block, and the convolution
that follows slides one kernel over all blocks alike.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._checks import IntPair, Padding, check_array, check_bias, check_same_dtype, check_window_args, int_pair
from .conv import conv2d


def check_resize_conv2d_args(x: Any, weight: Any, bias: Any, scale_factor: IntPair, padding: Padding, *, array_type: type) -> tuple[int, int]:
    """Validate ``resize_conv2d``'s arguments (shared by the NumPy and the PyTorch version).

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_out, C_in, kh, kw)``, ``bias (C_out,)`` or None;
    ``scale_factor`` an int or a pair of ints >= 1; ``padding`` as in ``conv2d``, checked on the
    upsampled size. Returns ``scale_factor`` as ``(sh, sw)``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_out, C_in, kh, kw)")
    check_same_dtype("weight", weight, x)
    sh, sw = int_pair("scale_factor", scale_factor, minimum=1)
    out_channels, in_channels, kh, kw = (int(s) for s in weight.shape)
    if in_channels != int(x.shape[1]):
        raise ValueError(
            f"weight.shape[1] must equal the input channels C_in = {int(x.shape[1])}, got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"weight must have a kernel of at least 1x1, got weight of shape {tuple(weight.shape)}")
    check_bias(bias, x, out_channels, array_type)
    # The convolution runs on the upsampled input: check padding and kernel against that size.
    check_window_args("resize_conv2d", (int(x.shape[2]) * sh, int(x.shape[3]) * sw), (kh, kw), 1, padding, 1)
    return sh, sw


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
    sh, sw = check_resize_conv2d_args(x, weight, bias, scale_factor, padding, array_type=np.ndarray)
    upsampled = np.repeat(np.repeat(x, sh, axis=2), sw, axis=3)  # every pixel becomes an sh x sw block
    return conv2d(upsampled, weight, bias, 1, padding)
