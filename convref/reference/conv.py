"""NumPy reference of 2-D convolution, written to be read.

Three versions of the same operator, from the most literal to the most practical:

* :func:`conv2d_loop` -- the definition, one multiply-add at a time;
* :func:`conv2d` -- the same sum over sliding windows, as one ``einsum``;
* :func:`conv2d_im2col` -- the lowering to a matrix product that fast libraries use,
  built on :func:`im2col`.

All follow PyTorch's conventions (NCHW input, OIHW weight, cross-correlation) and
share their argument checks with :mod:`convref.functional`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import (
    Conv2dArgs,
    IntPair,
    Padding,
    check_array,
    check_conv2d_args,
    check_window_args,
)


def _pad(x: np.ndarray, padding: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def _windows(x_padded: np.ndarray, args: Conv2dArgs) -> np.ndarray:
    """Every receptive field of the output: shape ``(N, C, H_out, W_out, kh, kw)``.

    ``sliding_window_view`` gives the dense windows of the dilated kernel's span;
    stepping by ``stride`` picks the output positions and stepping by ``dilation``
    picks the taps inside each window. Nothing is copied: it is a strided view.
    """
    (kh, kw), (dh, dw), (sh, sw) = args.kernel_size, args.dilation, args.stride
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(x_padded, span, axis=(2, 3))
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""2-D cross-correlation, as :func:`torch.nn.functional.conv2d` computes it.

    .. math::

        y[n, o, i, j] = b[o] + \sum_{c=0}^{C_{in}/G - 1} \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1}
            w[o, c, u, v]\; x_{pad}[n,\; g\,C_{in}/G + c,\; s_h i + d_h u,\; s_w j + d_w v]

    where :math:`g = \lfloor o / (C_{out}/G) \rfloor` is the group of output channel ``o``.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``, same dtype as ``x``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    stride, dilation : int or (int, int)
        Step between output positions; spacing between kernel taps (1 is ordinary).
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Zeros added on each side; ``"same"`` keeps the size (stride 1 only).
    groups : int
        Number of groups; each sees ``C_in / groups`` input channels.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)`` with
        ``H_out = (H + pad_top + pad_bottom - dilation * (kh - 1) - 1) // stride + 1``;
        same dtype as ``x``.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=np.ndarray
    )
    groups, (kh, kw) = args.groups, args.kernel_size
    windows = _windows(_pad(x, args.padding), args)
    n, _, h_out, w_out = windows.shape[:4]
    # Split channels into groups: x -> (N, G, C_in/G, ...), weight -> (G, C_out/G,
    # C_in/G, kh, kw).
    windows = windows.reshape(
        n, groups, args.in_channels // groups, h_out, w_out, kh, kw
    )
    kernels = weight.reshape(
        groups, args.out_channels // groups, args.in_channels // groups, kh, kw
    )
    y = np.einsum("ngchwuv,gocuv->ngohw", windows, kernels, optimize=True)
    y = y.reshape(n, args.out_channels, h_out, w_out)
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y.astype(x.dtype, copy=False)


def conv2d_loop(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation computed one multiply-add at a time.

    The definition of :func:`conv2d` as nested loops: for teaching and as an
    independent check on small inputs only (it is slow).

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``, same dtype as ``x``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``: the same values as :func:`conv2d`.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=np.ndarray
    )
    x_padded = _pad(x, args.padding)
    (kh, kw), (sh, sw), (dh, dw) = args.kernel_size, args.stride, args.dilation
    h_out, w_out = args.out_size
    in_per_group = args.in_channels // args.groups
    out_per_group = args.out_channels // args.groups
    y = np.zeros((args.batch, args.out_channels, h_out, w_out), dtype=x.dtype)
    for n in range(args.batch):
        for o in range(args.out_channels):
            first_channel = (
                o // out_per_group
            ) * in_per_group  # the group's first input channel
            for i in range(h_out):
                for j in range(w_out):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(in_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                pixel = x_padded[
                                    n,
                                    first_channel + c,
                                    i * sh + u * dh,
                                    j * sw + v * dw,
                                ]
                                total += float(weight[o, c, u, v]) * float(pixel)
                    y[n, o, i, j] = total
    return y


def im2col(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Lower ``x`` to the matrix of its receptive fields (``torch.nn.functional.unfold``).

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, H, W)``.
    kernel_size, stride, padding, dilation
        As in :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C * kh * kw, H_out * W_out)``. Row ``(c * kh + u) * kw + v`` holds
        tap ``(u, v)`` of channel ``c``; column ``i * W_out + j`` is output position
        ``(i, j)`` -- the layout of :func:`torch.nn.functional.unfold`.
    """
    check_array("x", x, np.ndarray, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    kernel, stride_hw, pads, dilation_hw, out_size = check_window_args(
        "im2col", (h, w), kernel_size, stride, padding, dilation
    )
    args = Conv2dArgs(
        n, c, c, (h, w), kernel, stride_hw, pads, dilation_hw, 1, out_size
    )
    return _columns(x, args)


def _columns(x: np.ndarray, args: Conv2dArgs) -> np.ndarray:
    """:func:`im2col` on already validated arguments."""
    windows = _windows(_pad(x, args.padding), args)  # (N, C, H_out, W_out, kh, kw)
    columns = windows.transpose(0, 1, 4, 5, 2, 3)  # (N, C, kh, kw, H_out, W_out)
    n, c, kh, kw, h_out, w_out = columns.shape
    return columns.reshape(n, c * kh * kw, h_out * w_out)


def conv2d_im2col(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation as one matrix product per group: ``W @ im2col(x)``.

    The weight, flattened to ``(C_out / G, C_in / G * kh * kw)`` per group, multiplies
    the ``(C_in / G * kh * kw, H_out * W_out)`` column matrix of that group.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``, same dtype as ``x``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``: the same values as :func:`conv2d`.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=np.ndarray
    )
    groups = args.groups
    columns = _columns(x, args)
    n, rows, positions = columns.shape
    columns = columns.reshape(n, groups, rows // groups, positions)
    kernels = weight.reshape(groups, args.out_channels // groups, -1)
    y = kernels @ columns  # (G, O/G, K) @ (N, G, K, L) -> (N, G, O/G, L)
    y = y.reshape(n, args.out_channels, *args.out_size)
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y.astype(x.dtype, copy=False)
