r"""NumPy reference of AdderNet's adder layer (Chen et al., CVPR 2020), forward and backward.

An adder layer slides a window over the input as a convolution does, but scores each window
by the negative :math:`\ell_1` distance to the filter instead of the inner product:

.. math::

    y[n, o, i, j] = -\sum_{c, u, v} \bigl| x_{pad}[n, c, s_h i + d_h u, s_w j + d_w v] - w[o, c, u, v] \bigr|

The paper does not train with the true gradient of :math:`|X - F|` (a sign). It uses its own
(Chen et al. 2020):

* for the filter, the full-precision difference :math:`\partial Y / \partial F = X - F`;
* for the input, the difference clipped to ``[-1, 1]`` by a HardTanh,
  :math:`\partial Y / \partial X = \mathrm{HT}(F - X)`;

and scales each layer's filter gradient by an adaptive learning rate
:math:`\alpha = \eta \sqrt{k} / \lVert \Delta L(F) \rVert_2` (:func:`adder_adaptive_scale`).
This module writes all three out in NumPy, so the PyTorch version can be tested against them.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .._checks import (
    IntPair,
    Padding,
    check_adder_gradient,
    check_conv2d_args,
    check_eta,
    check_floating,
    check_grad_output,
)
from .conv import _pad, _windows

__all__ = ["adder2d", "adder2d_backward", "adder_adaptive_scale"]


def adder2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""AdderNet's adder layer: the negative L1 distance between every window and every filter.

    .. math::

        y[n, o, i, j] = b[o] - \sum_{c=0}^{C_{in}/G - 1} \sum_{u, v}
            \bigl| x_{pad}[n,\; g\,C_{in}/G + c,\; s_h i + d_h u,\; s_w j + d_w v] - w[o, c, u, v] \bigr|

    with :math:`g` the group of output channel ``o``, exactly as in :func:`convref.reference.conv2d`
    with the product :math:`w \cdot x` replaced by :math:`-|x - w|` (Chen et al. 2020).
    Padded positions hold zeros, so they add :math:`|w|`.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Filters of shape ``(C_out, C_in / groups, kh, kw)``, same dtype as ``x``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    stride, dilation : int or (int, int)
        Step between output positions; spacing between filter taps.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Zeros added on each side.
    groups : int
        Number of groups; each sees ``C_in / groups`` input channels.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``; every value is at most ``b[o]``.
    """
    args = check_conv2d_args(
        x,
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=np.ndarray,
        op="adder2d",
    )
    windows = _windows(_pad(x, args.padding), args)  # (N, C_in, H_out, W_out, kh, kw)
    per_group_in = args.in_channels // args.groups
    per_group_out = args.out_channels // args.groups
    y = np.empty((args.batch, args.out_channels, *args.out_size), dtype=x.dtype)
    for o in range(args.out_channels):
        first = (o // per_group_out) * per_group_in
        group_windows = windows[
            :, first : first + per_group_in
        ]  # (N, C_in/G, H_out, W_out, kh, kw)
        filter_ = weight[o][:, None, None]  # (C_in/G, 1, 1, kh, kw)
        y[:, o] = -np.abs(group_windows - filter_).sum(axis=(1, 4, 5))
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y.astype(x.dtype, copy=False)


def _hardtanh(values: np.ndarray) -> np.ndarray:
    """HT(v): the identity on ``[-1, 1]``, clipped to -1 and 1 outside."""
    return np.clip(values, -1.0, 1.0)


def adder2d_backward(
    x: np.ndarray,
    weight: np.ndarray,
    grad_output: np.ndarray,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    gradient: str = "paper",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradients of a loss with respect to the input and the filters of :func:`adder2d`.

    With :math:`G = \partial L / \partial y` and the sums running over every output position
    whose window reads the input value :math:`X` through filter entry :math:`F`:

    * ``gradient="paper"`` (Chen et al. 2020):
      :math:`\partial L / \partial F = \sum G \,(X - F)`,
      :math:`\partial L / \partial X = \sum G \,\mathrm{HT}(F - X)`;
    * ``gradient="exact"``: the derivative of :math:`-|X - F|`,
      :math:`\partial L / \partial F = \sum G \,\mathrm{sign}(X - F)`,
      :math:`\partial L / \partial X = \sum G \,\mathrm{sign}(F - X)`.

    Padded positions are zeros that receive no gradient. The bias gradient, the same in both
    modes, is ``grad_output.sum((0, 2, 3))``.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Filters of shape ``(C_out, C_in / groups, kh, kw)``.
    grad_output : numpy.ndarray
        :math:`\partial L / \partial y`, shape ``(N, C_out, H_out, W_out)``.
    stride, padding, dilation, groups
        As in :func:`adder2d`.
    gradient : {"paper", "exact"}
        Which gradient to compute.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``grad_x`` of the shape of ``x`` and ``grad_weight`` of the shape of ``weight``.
    """
    args = check_conv2d_args(
        x,
        weight,
        None,
        stride,
        padding,
        dilation,
        groups,
        array_type=np.ndarray,
        op="adder2d",
    )
    check_grad_output(grad_output, x, args, np.ndarray)
    exact = check_adder_gradient(gradient) == "exact"
    x_padded = _pad(x, args.padding)
    windows = _windows(
        x_padded, args
    )  # (N, C_in, H_out, W_out, kh, kw), a view of x_padded
    grad_windows = np.zeros(windows.shape, dtype=np.float64)
    grad_weight = np.zeros(weight.shape, dtype=np.float64)
    per_group_in = args.in_channels // args.groups
    per_group_out = args.out_channels // args.groups
    for o in range(args.out_channels):
        first = (o // per_group_out) * per_group_in
        difference = (
            windows[:, first : first + per_group_in] - weight[o][:, None, None]
        )  # X - F
        g = grad_output[:, o][
            :, None, :, :, None, None
        ]  # broadcast over channels and taps
        if exact:
            grad_weight[o] = (g * np.sign(difference)).sum(axis=(0, 2, 3))
            grad_windows[:, first : first + per_group_in] += g * np.sign(-difference)
        else:
            grad_weight[o] = (g * difference).sum(axis=(0, 2, 3))
            grad_windows[:, first : first + per_group_in] += g * _hardtanh(-difference)
    grad_x = _scatter_windows(grad_windows, x_padded.shape, args)
    top, _, left, _ = args.padding
    height, width = args.in_size
    grad_x = grad_x[:, :, top : top + height, left : left + width]
    return grad_x.astype(x.dtype), grad_weight.astype(weight.dtype)


def _scatter_windows(
    grad_windows: np.ndarray, padded_shape: tuple[int, ...], args
) -> np.ndarray:
    """Add each window's gradient back onto the pixels it was read from (the adjoint of ``_windows``)."""
    (kh, kw), (sh, sw), (dh, dw) = args.kernel_size, args.stride, args.dilation
    h_out, w_out = args.out_size
    grad = np.zeros(padded_shape, dtype=grad_windows.dtype)
    for u in range(kh):
        for v in range(kw):
            rows = slice(u * dh, u * dh + sh * (h_out - 1) + 1, sh)
            cols = slice(v * dw, v * dw + sw * (w_out - 1) + 1, sw)
            grad[:, :, rows, cols] += grad_windows[..., u, v]
    return grad


def adder_adaptive_scale(grad_weight: np.ndarray, eta: float = 0.2) -> float:
    r"""AdderNet's adaptive learning rate of one layer: :math:`\alpha = \eta \sqrt{k} / \lVert \Delta L(F) \rVert_2`.

    The paper multiplies each adder layer's filter gradient by :math:`\alpha`, with
    :math:`k` the number of filter entries, so that every layer takes a step of the same norm
    :math:`\eta \sqrt{k}` (times the global learning rate) however small its gradient. The
    authors' code uses :math:`\eta = 0.2`. A zero gradient gives ``alpha`` with the norm
    clamped at ``1e-12``, as in their code.

    Parameters
    ----------
    grad_weight : numpy.ndarray
        The filter gradient :math:`\Delta L(F)` of one layer, any shape.
    eta : float
        The coefficient :math:`\eta > 0`.

    Returns
    -------
    float
        :math:`\alpha`; the step uses ``alpha * grad_weight``.
    """
    check_floating("grad_weight", grad_weight, np.ndarray)
    eta = check_eta(eta)
    norm = float(np.sqrt(np.sum(grad_weight.astype(np.float64) ** 2)))
    return eta * math.sqrt(grad_weight.size) / max(norm, 1e-12)
