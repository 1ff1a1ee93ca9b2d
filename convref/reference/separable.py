"""NumPy reference of spatially separable convolution and of kernel factorisation.

A kernel of rank one is an outer product, ``K = c r^T`` (Sobel's is ``[1, 2, 1]^T [-1, 0, 1]``),
and convolving with it equals convolving with the column ``c`` and then with the row ``r``:
``kh + kw`` multiply-adds per output instead of ``kh * kw``. Any kernel is a sum of such
terms (its singular value decomposition), so a rank-``r`` approximation costs ``r (kh + kw)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import IntPair, Padding, check_kernel_matrix, check_separable_conv2d_args
from .conv import conv2d


def separable_conv2d(
    x: np.ndarray,
    column_weight: np.ndarray,
    row_weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    r"""A ``kh x 1`` convolution followed by a ``1 x kw`` convolution.

    .. math::

        y = b + r \star (c \star x)

    With one channel (or ``groups`` equal to every channel count) this is exactly a
    convolution with the rank-1 kernel :math:`K = c\, r^\top`. With channels mixed, it is
    the factorised ``n x 1`` then ``1 x n`` pair of Inception v3 (Szegedy et al. 2016).
    A kernel that is a sum of ``r`` rank-1 terms is one call with ``C_mid = r``.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    column_weight : numpy.ndarray
        Vertical kernels of shape ``(C_mid, C_in / groups, kh, 1)``.
    row_weight : numpy.ndarray
        Horizontal kernels of shape ``(C_out, C_mid / groups, 1, kw)``.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``, added after the second stage.
    stride, dilation : int or (int, int)
        Of the equivalent ``kh x kw`` convolution: the height entry applies to the column
        stage, the width entry to the row stage.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Of the equivalent ``kh x kw`` convolution, split the same way.
    groups : int
        Groups of both stages.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, as :func:`convref.reference.conv2d` with a
        ``kh x kw`` kernel would give; same dtype as ``x``.
    """
    args = check_separable_conv2d_args(
        x,
        column_weight,
        row_weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=np.ndarray,
    )
    (sh, sw), (dh, dw) = args.stride, args.dilation
    columns = conv2d(
        x, column_weight, None, (sh, 1), args.column_padding, (dh, 1), args.groups
    )
    return conv2d(
        columns, row_weight, bias, (1, sw), args.row_padding, (1, dw), args.groups
    )


def factorize_kernel(
    kernel: np.ndarray, rank: Optional[int] = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Split a 2-D kernel into a sum of outer products, from its singular value decomposition.

    .. math::

        K = U \Sigma V^\top \approx \sum_{i=1}^{r} c_i\, r_i^\top, \qquad
        c_i = \sqrt{\sigma_i}\, u_i, \quad r_i = \sqrt{\sigma_i}\, v_i

    Keeping the ``r`` largest singular values gives the best rank-``r`` approximation in the
    Frobenius norm (Eckart--Young), with error :math:`\sqrt{\sum_{i>r} \sigma_i^2}`.

    Parameters
    ----------
    kernel : numpy.ndarray
        Shape ``(kh, kw)``.
    rank : int, optional
        Number of terms; by default the kernel's numerical rank (at least 1), which
        reproduces it to rounding error.

    Returns
    -------
    columns : numpy.ndarray
        Shape ``(rank, kh)``: the column factors :math:`c_i`.
    rows : numpy.ndarray
        Shape ``(rank, kw)``: the row factors :math:`r_i`, so that
        ``columns.T @ rows`` approximates ``kernel``.
    """
    check_kernel_matrix(kernel, np.ndarray, rank)
    u, sigma, vt = np.linalg.svd(kernel)
    if rank is None:
        tolerance = (
            sigma.max(initial=0.0) * max(kernel.shape) * np.finfo(kernel.dtype).eps
        )
        rank = max(1, int(np.sum(sigma > tolerance)))
    scale = np.sqrt(sigma[:rank])
    return (u[:, :rank] * scale).T.astype(kernel.dtype), (vt[:rank].T * scale).T.astype(
        kernel.dtype
    )
