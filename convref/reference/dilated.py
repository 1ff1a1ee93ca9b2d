"""NumPy reference of dilated (atrous) convolution, computed the two ways the literature describes.

A ``k x k`` kernel at dilation rate ``d`` places its taps ``d`` pixels apart, so it covers
``d (k - 1) + 1`` pixels with the same ``k * k`` weights and multiply-adds. Besides
``conv2d(..., dilation=d)`` itself, two constructions give the same result:

* :func:`conv2d_dilated_kernel` inserts ``d - 1`` zeros between the taps of the kernel
  (:func:`dilate_kernel`) and runs an ordinary convolution -- simple, but it multiplies by
  all those zeros;
* :func:`conv2d_space_to_batch` splits the input into ``d x d`` interleaved sub-images
  (:func:`space_to_batch`), runs the *undilated* kernel on each and interleaves the results
  (:func:`batch_to_space`) -- no wasted work, the view behind TensorFlow's ``atrous_conv2d``.

:func:`causal_conv1d` is the 1-D, causal form that WaveNet stacks with doubling rates.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import (
    IntPair,
    Padding,
    check_batch_to_space_args,
    check_block_args,
    check_causal_conv1d_args,
    check_conv2d_args,
    check_dilate_kernel_args,
)
from .conv import conv2d


def dilate_kernel(weight: np.ndarray, dilation: IntPair) -> np.ndarray:
    """Insert ``dilation - 1`` zeros between neighbouring taps of every kernel.

    Parameters
    ----------
    weight : numpy.ndarray
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``.
    dilation : int or (int, int)
        The rate ``d`` (1 returns a copy of ``weight``).

    Returns
    -------
    numpy.ndarray
        Shape ``(C_out, C_in / groups, d_h (kh - 1) + 1, d_w (kw - 1) + 1)``, with
        ``out[..., d_h u, d_w v] = weight[..., u, v]`` and zeros elsewhere.
    """
    dh, dw = check_dilate_kernel_args(weight, dilation, array_type=np.ndarray)
    kh, kw = weight.shape[2:]
    dilated = np.zeros(
        weight.shape[:2] + (dh * (kh - 1) + 1, dw * (kw - 1) + 1), dtype=weight.dtype
    )
    dilated[:, :, ::dh, ::dw] = weight
    return dilated


def conv2d_dilated_kernel(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """Dilated convolution as an ordinary convolution with a zero-filled kernel.

    Equals :func:`convref.reference.conv2d` with the same arguments; the kernel grows to
    ``d (k - 1) + 1`` per side, so the work grows by about ``d**2`` although the extra
    products are all with zero.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels ``(C_out, C_in / groups, kh, kw)``.
    bias : numpy.ndarray, optional
        Bias ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`convref.reference.conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=np.ndarray
    )
    top, bottom, left, right = args.padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return conv2d(
        x, dilate_kernel(weight, args.dilation), bias, args.stride, 0, 1, args.groups
    )


def space_to_batch(x: np.ndarray, block: IntPair) -> np.ndarray:
    """Split an image into ``bh * bw`` interleaved sub-images, stacked along the batch.

    Sub-image ``(a, b)`` holds the pixels ``x[..., a::bh, b::bw]``: the pixels a kernel at
    rate ``(bh, bw)`` reads together. The batch index is ``(a * bw + b) * N + n``, the
    order of TensorFlow's ``space_to_batch``.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(N, C, H, W)``, with ``H`` divisible by ``bh`` and ``W`` by ``bw``.
    block : int or (int, int)
        ``(bh, bw)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(bh * bw * N, C, H / bh, W / bw)``.
    """
    bh, bw = check_block_args(x, block, array_type=np.ndarray)
    return np.concatenate([x[:, :, a::bh, b::bw] for a in range(bh) for b in range(bw)])


def batch_to_space(y: np.ndarray, block: IntPair) -> np.ndarray:
    """Interleave the sub-images of :func:`space_to_batch` back into one image (its inverse).

    Parameters
    ----------
    y : numpy.ndarray
        Shape ``(bh * bw * N, C, h, w)``.
    block : int or (int, int)
        ``(bh, bw)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C, bh * h, bw * w)`` with ``out[..., a::bh, b::bw]`` = sub-image ``(a, b)``.
    """
    bh, bw = check_batch_to_space_args(y, block, array_type=np.ndarray)
    n = y.shape[0] // (bh * bw)
    out = np.empty((n, y.shape[1], bh * y.shape[2], bw * y.shape[3]), dtype=y.dtype)
    for index, (a, b) in enumerate((a, b) for a in range(bh) for b in range(bw)):
        out[:, :, a::bh, b::bw] = y[index * n : (index + 1) * n]
    return out


def conv2d_space_to_batch(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""Dilated convolution as an *undilated* convolution of interleaved sub-images.

    Output pixel ``(i, j)`` of a rate-``d`` convolution reads input rows
    ``i, i + d, i + 2d, ...``: all in the same residue class ``i mod d``. So the padded
    input splits into ``d_h d_w`` sub-images (:func:`space_to_batch`), the original
    ``k x k`` kernel slides densely over each, and the outputs interleave back
    (:func:`batch_to_space`):

    .. math::

        y[\ldots, a + d_h i', b + d_w j'] = (w \star x_{pad}[\ldots, a::d_h, b::d_w])[i', j']

    The rule holds for stride 1; a stride is applied afterwards by keeping every
    ``stride``-th output (wasteful, but this function is for understanding, not speed).

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels ``(C_out, C_in / groups, kh, kw)``.
    bias : numpy.ndarray, optional
        Bias ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`convref.reference.conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, equal to ``conv2d`` with the same arguments.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=np.ndarray
    )
    (dh, dw), (kh, kw) = args.dilation, args.kernel_size
    top, bottom, left, right = args.padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    height, width = x.shape[2:]
    # Stride-1 output size, then extra zeros at the end so the block divides the image.
    dense_h, dense_w = height - dh * (kh - 1), width - dw * (kw - 1)
    x = np.pad(x, ((0, 0), (0, 0), (0, -height % dh), (0, -width % dw)))
    sub_outputs = conv2d(
        space_to_batch(x, (dh, dw)), weight, None, 1, 0, 1, args.groups
    )
    y = batch_to_space(sub_outputs, (dh, dw))[:, :, :dense_h, :dense_w]
    y = y[:, :, :: args.stride[0], :: args.stride[1]]
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y.astype(x.dtype, copy=False)


def causal_conv1d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""Causal dilated 1-D convolution: output ``t`` sees only inputs ``t, t - d, t - 2d, ...``.

    .. math::

        y[n, o, t] = b[o] + \sum_{c} \sum_{u=0}^{k-1} w[o, c, u]\; x[n, c, t - d (k - 1 - u)]

    with ``x`` taken as zero before the start. It is an ordinary cross-correlation of the
    input padded with ``d (k - 1)`` zeros on the left only, so the length is kept and no
    output depends on the future. A stack with rates ``1, 2, 4, ...`` doubles its
    receptive field per layer (WaveNet, van den Oord et al. 2016).

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(N, C_in, L)``.
    weight : numpy.ndarray
        Shape ``(C_out, C_in / groups, k)``; tap ``k - 1`` multiplies the current sample.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    dilation : int
        Spacing ``d`` between taps.
    groups : int
        Number of groups.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, L)``.
    """
    args = check_causal_conv1d_args(
        x, weight, bias, dilation, groups, array_type=np.ndarray
    )
    history = args.dilation * (args.kernel_size - 1)
    x = np.pad(x, ((0, 0), (0, 0), (history, 0)))
    # A sequence is an image of height 1.
    y = conv2d(
        x[:, :, None, :],
        weight[:, :, None, :],
        bias,
        1,
        0,
        (1, args.dilation),
        args.groups,
    )
    return y[:, :, 0, :]
