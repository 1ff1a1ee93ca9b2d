"""PyTorch resize-convolution: nearest-neighbour upsampling, then a stride-1 convolution.

Same name and arguments as :func:`convref.reference.resize_conv2d`.
"""

from __future__ import annotations

from typing import Optional

import torch

from .._checks import IntPair, Padding, check_resize_conv2d_args
from ._precision import follows_autocast
from .conv import conv2d


@follows_autocast
def resize_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    scale_factor: IntPair = 2,
    padding: Padding = "same",
) -> torch.Tensor:
    r"""Nearest-neighbour upsampling by ``scale_factor``, then a stride-1 :func:`convref.functional.conv2d`.

    Computes the same function as ``F.conv2d(F.interpolate(x, scale_factor=s, mode="nearest"),
    weight, bias, padding=padding)`` for integer factors (and
    :func:`convref.reference.resize_conv2d`):

    .. math::

        u[n, c, i, j] = x\big[n, c, \lfloor i / s_h \rfloor, \lfloor j / s_w \rfloor\big], \qquad
        y = b + w \star u

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Kernels of shape ``(C_out, C_in, kh, kw)``, same dtype and device as ``x``.
    bias : torch.Tensor, optional
        Shape ``(C_out,)``.
    scale_factor : int or (int, int)
        Integer upsampling factors ``(s_h, s_w)``.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Padding of the convolution, as in :func:`convref.functional.conv2d`.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``; ``(s_h H, s_w W)`` with ``padding="same"``.
    """
    sh, sw = check_resize_conv2d_args(
        x, weight, bias, scale_factor, padding, array_type=torch.Tensor
    )
    n, c, h, w = x.shape
    # One copy: a broadcast view with a block axis after each spatial axis, then
    # flattened.
    upsampled = (
        x[:, :, :, None, :, None]
        .expand(n, c, h, sh, w, sw)
        .reshape(n, c, h * sh, w * sw)
    )
    return conv2d(upsampled, weight, bias, 1, padding)
