r"""NumPy reference of lightweight and dynamic convolution (Wu et al., ICLR 2019).

Wu, Fan, Baevski, Dauphin and Auli, "Pay Less Attention with Lightweight and
Dynamic Convolutions" (``wu2019pay`` in the book's bibliography), replace
self-attention in a sequence model by a depthwise 1-D convolution whose kernel is
shared by groups of channels. The ``C`` channels of a sequence
:math:`x \in \mathbb{R}^{C \times T}` are split into ``H`` *heads* of ``C / H``
consecutive channels; channel ``c`` belongs to head
:math:`h(c) = \lfloor c / (C/H) \rfloor`.

* **LightConv** learns one kernel of ``K`` taps per head, normalised by a softmax
  over its taps, so that every output is a weighted average of its window:

  .. math::

      y[n, c, t] = \sum_{j=0}^{K-1} \mathrm{softmax}(W_{h(c)})_j \,
      x[n, c, t + j - \ell].

* **DynamicConv** predicts the kernels at every time step from the input at that
  step, :math:`k[n, :, :, t] = \mathrm{reshape}_{H \times K}(W^Q x[n, :, t])`, and
  convolves as LightConv does, with a kernel that changes along the sequence:

  .. math::

      y[n, c, t] = \sum_{j=0}^{K-1} \mathrm{softmax}(k[n, h(c), :, t])_j \,
      x[n, c, t + j - \ell].

:math:`\ell` is the number of zeros padded on the left: ``(K - 1) // 2`` for
``"same"``, ``K - 1`` for ``"causal"`` (output ``t`` sees inputs up to ``t`` only).
Both functions take the kernels as arguments; predicting DynamicConv's kernels is
the layer's work (:class:`convref.nn.DynamicLightweightConv1d`).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import (
    check_dynamic_lightweight_conv1d_args,
    check_lightweight_conv1d_args,
)

__all__ = ["dynamic_lightweight_conv1d", "lightweight_conv1d"]


def _softmax(values: np.ndarray, axis: int) -> np.ndarray:
    """``exp(v) / sum(exp(v))`` along ``axis``, shifted by the maximum (no overflow)."""
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def lightweight_conv1d(
    x: np.ndarray,
    weight: np.ndarray,
    padding: str = "same",
    softmax: bool = True,
) -> np.ndarray:
    r"""LightConv: each head's ``K``-tap kernel slides over every channel of its head.

    .. math::

        y[n, c, t] = \sum_{j=0}^{K-1} w[h(c), j] \, x[n, c, t + j - \ell],
        \qquad h(c) = \lfloor c H / C \rfloor,

    with :math:`w = \mathrm{softmax}(W)` over the taps of each head when ``softmax``
    is true (:math:`w = W` otherwise), zeros outside the sequence, and :math:`\ell`
    zeros on the left (see ``padding``). Wu et al., ICLR 2019.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, T)``.
    weight : numpy.ndarray
        One kernel per head, shape ``(H, K)``, same dtype as ``x``; ``H`` divides
        ``C``.
    padding : {"same", "causal"}
        ``"same"``: :math:`\ell = \lfloor (K-1)/2 \rfloor` (the window centred, one
        more tap on the right for an even ``K``); ``"causal"``: :math:`\ell = K - 1`,
        so that output ``t`` sees inputs ``t - K + 1 ... t`` only.
    softmax : bool
        Normalise each head's kernel with a softmax over its ``K`` taps.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C, T)``, same dtype as ``x``.
    """
    args = check_lightweight_conv1d_args(
        x, weight, padding, softmax, array_type=np.ndarray
    )
    w = _softmax(weight, axis=1) if softmax else weight  # (H, K)
    w_channel = np.repeat(w, args.channels // args.heads, axis=0)  # (C, K): w[h(c)]
    padded = np.pad(x, ((0, 0), (0, 0), (args.left, args.right)))
    windows = sliding_window_view(padded, args.kernel_size, axis=2)  # (N, C, T, K)
    return np.einsum("nctj,cj->nct", windows, w_channel).astype(x.dtype, copy=False)


def dynamic_lightweight_conv1d(
    x: np.ndarray,
    kernels: np.ndarray,
    padding: str = "same",
    softmax: bool = True,
) -> np.ndarray:
    r"""DynamicConv: LightConv with a kernel per sample, head and time step.

    .. math::

        y[n, c, t] = \sum_{j=0}^{K-1} k[n, h(c), j, t] \, x[n, c, t + j - \ell],
        \qquad h(c) = \lfloor c H / C \rfloor,

    with ``k`` normalised by a softmax over its ``K`` taps (for each sample, head and
    time step) when ``softmax`` is true, zeros outside the sequence and :math:`\ell`
    zeros on the left. In the paper, ``k[n, :, :, t]`` is a linear function of
    ``x[n, :, t]``. Wu et al., ICLR 2019.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, T)``.
    kernels : numpy.ndarray
        The kernels, shape ``(N, H, K, T)``, same dtype as ``x``:
        ``kernels[n, h, :, t]`` is the kernel of head ``h`` at output step ``t`` of
        sample ``n``.
    padding : {"same", "causal"}
        As in :func:`lightweight_conv1d`.
    softmax : bool
        Normalise each kernel with a softmax over its ``K`` taps.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C, T)``, same dtype as ``x``.
    """
    args = check_dynamic_lightweight_conv1d_args(
        x, kernels, padding, softmax, array_type=np.ndarray
    )
    k = _softmax(kernels, axis=2) if softmax else kernels  # (N, H, K, T)
    k_channel = np.repeat(k, args.channels // args.heads, axis=1)  # (N, C, K, T)
    padded = np.pad(x, ((0, 0), (0, 0), (args.left, args.right)))
    windows = sliding_window_view(padded, args.kernel_size, axis=2)  # (N, C, T, K)
    return np.einsum("nctj,ncjt->nct", windows, k_channel).astype(x.dtype, copy=False)
