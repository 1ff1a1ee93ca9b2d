r"""NumPy reference of dynamic convolution: every sample convolved with its own mixture of K kernels.

CondConv (Yang et al. 2019) and DY-CNN (Chen et al. 2020) keep K kernels :math:`W_1 \dots W_K`
per layer and let a small network look at the input and weigh them; sample :math:`n` is then
convolved with

.. math::

    \tilde W_n = \sum_{k=1}^{K} a_{nk} W_k, \qquad \tilde b_n = \sum_{k=1}^{K} a_{nk} b_k .

Because convolution is linear in its kernel, this equals the same mixture of the K outputs,
:math:`\sum_k a_{nk} (W_k * x_n)`, at the cost of one convolution instead of K.
The reference loops over the samples, one ordinary convolution each, so that it shares
nothing with the batched PyTorch version.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import IntPair, Padding, check_dynamic_conv2d_args
from .conv import conv2d

__all__ = ["dynamic_conv2d"]


def dynamic_conv2d(
    x: np.ndarray,
    weights: np.ndarray,
    attention: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""Convolve each sample with its attention-weighted mixture of ``K`` kernels (CondConv, DY-CNN).

    .. math::

        y[n] = \Bigl(\sum_k a_{nk} W_k\Bigr) * x[n] + \sum_k a_{nk} b_k

    with :math:`*` the cross-correlation of :func:`convref.reference.conv2d`.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weights : numpy.ndarray
        The ``K`` kernels, shape ``(K, C_out, C_in / groups, kh, kw)``, same dtype as ``x``.
    attention : numpy.ndarray
        Mixing weights ``a``, shape ``(N, K)``: softmax outputs for DY-CNN, sigmoids for CondConv.
    bias : numpy.ndarray, optional
        The ``K`` biases, shape ``(K, C_out)``, mixed with the same weights.
    stride, padding, dilation, groups
        As in :func:`convref.reference.conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``.
    """
    args, _ = check_dynamic_conv2d_args(
        x,
        weights,
        attention,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=np.ndarray,
    )
    y = np.empty((args.batch, args.out_channels, *args.out_size), dtype=x.dtype)
    for n in range(args.batch):
        kernel = np.tensordot(attention[n], weights, axes=1)  # sum_k a[n, k] W_k
        sample_bias = None if bias is None else attention[n] @ bias
        y[n] = conv2d(
            x[n : n + 1], kernel, sample_bias, stride, padding, dilation, groups
        )[0]
    return y
