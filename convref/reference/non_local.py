"""NumPy reference of the non-local block (Wang, Girshick, Gupta & He, CVPR 2018).

Every output position is a weighted average of a feature computed at *every* position of the
input, so one layer has a global receptive field:

.. math::

    y_i = \\frac{1}{\\mathcal{C}(x)} \\sum_j f(x_i, x_j)\\, g(x_j), \\qquad z_i = W_z y_i + x_i

with ``g(x_j) = W_g x_j`` and one of the paper's four pairwise functions ``f`` (see
:func:`non_local_affinity`). The reference builds the full ``(H W) x (H W)`` affinity matrix,
exactly as the equation reads; :mod:`convref.functional` avoids it where it can.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import check_non_local_args, check_out_weight


def _flat(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N, C, H W)``: one column per position."""
    # the position count spelled out, not -1: an empty batch leaves -1 undetermined
    return x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3])


def _project(
    weight: np.ndarray, features: np.ndarray, bias: Optional[np.ndarray]
) -> np.ndarray:
    """A 1x1 convolution on flattened features: ``(C_out, C) x (N, C, P) -> (N, C_out, P)``."""
    projected = np.einsum("oc,ncp->nop", weight, features)
    return projected if bias is None else projected + bias[None, :, None]


def max_pool_2x2(x: np.ndarray) -> np.ndarray:
    """2x2 max pooling with stride 2 (an odd last row or column is dropped, as in PyTorch)."""
    n, c, h, w = x.shape
    x = x[:, :, : h - h % 2, : w - w % 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(
        logits - logits.max(axis=-1, keepdims=True)
    )  # exp of <= 0: no overflow
    return shifted / shifted.sum(axis=-1, keepdims=True)


def non_local_affinity(
    x: np.ndarray,
    theta_weight: Optional[np.ndarray],
    phi_weight: Optional[np.ndarray],
    mode: str = "embedded_gaussian",
    concat_weight: Optional[np.ndarray] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[np.ndarray] = None,
    phi_bias: Optional[np.ndarray] = None,
) -> np.ndarray:
    r"""The normalised pairwise weights :math:`f(x_i, x_j) / \mathcal{C}(x)` of a non-local block.

    With :math:`\theta_i = W_\theta x_i` and :math:`\phi_j = W_\phi x_j` (``C_e`` channels each):

    * ``"gaussian"``: :math:`f = e^{x_i^\top x_j}`, :math:`\mathcal{C} = \sum_j f`;
    * ``"embedded_gaussian"``: :math:`f = e^{\theta_i^\top \phi_j}`, :math:`\mathcal{C} = \sum_j f`;
    * ``"dot_product"``: :math:`f = \theta_i^\top \phi_j`, :math:`\mathcal{C} = M`;
    * ``"concatenation"``: :math:`f = \mathrm{ReLU}(w_f^\top [\theta_i, \phi_j])`, :math:`\mathcal{C} = M`.

    The two Gaussian forms are a softmax over ``j`` (the self-attention of Vaswani et al.);
    ``M`` is the number of positions ``j``. ``scale=True`` multiplies the dot products by
    :math:`C_e^{-1/2}` (the official code's option); ``sub_sample=True`` max-pools the
    input 2x2 before :math:`\phi` (and :math:`g`), so ``M = (H/2)(W/2)``.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : numpy.ndarray or None
        Embeddings ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    mode : {"gaussian", "embedded_gaussian", "dot_product", "concatenation"}
        The pairwise function.
    concat_weight : numpy.ndarray, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        See above.
    theta_bias, phi_bias : numpy.ndarray, optional
        Biases ``(C_e,)`` of the embeddings.

    Returns
    -------
    numpy.ndarray
        ``(N, H W, M)``: row ``i`` holds the weights that output position ``i`` gives to the
        positions ``j`` (row-major order).
    """
    args = check_non_local_args(
        x,
        theta_weight,
        phi_weight,
        None,
        mode,
        concat_weight,
        sub_sample,
        scale,
        dict(theta_bias=theta_bias, phi_bias=phi_bias),
        array_type=np.ndarray,
    )
    queries = _flat(x)
    keys = _flat(max_pool_2x2(x) if sub_sample else x)
    if mode != "gaussian":
        queries = _project(theta_weight, queries, theta_bias)
        keys = _project(phi_weight, keys, phi_bias)
    positions = keys.shape[2]
    if mode == "concatenation":
        # w_f^T [theta_i, phi_j] = a^T theta_i + b^T phi_j, a sum of a row term and a
        # column term
        a, b = (
            concat_weight[: args.embed_channels],
            concat_weight[args.embed_channels :],
        )
        pairwise = (
            np.einsum("c,nci->ni", a, queries)[:, :, None]
            + np.einsum("c,ncj->nj", b, keys)[:, None, :]
        )
        return np.maximum(pairwise, 0) / positions
    dots = np.einsum("nci,ncj->nij", queries, keys)
    if scale:
        dots = dots * args.embed_channels**-0.5
    if mode == "dot_product":
        return dots / positions
    return _softmax(dots)


def non_local_response(
    x: np.ndarray,
    theta_weight: Optional[np.ndarray],
    phi_weight: Optional[np.ndarray],
    g_weight: np.ndarray,
    mode: str = "embedded_gaussian",
    concat_weight: Optional[np.ndarray] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[np.ndarray] = None,
    phi_bias: Optional[np.ndarray] = None,
    g_bias: Optional[np.ndarray] = None,
) -> np.ndarray:
    r"""The non-local response :math:`y_i = \frac{1}{\mathcal{C}(x)} \sum_j f(x_i, x_j)\, g(x_j)`.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : numpy.ndarray or None
        Embeddings :math:`W_\theta, W_\phi` of shape ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    g_weight : numpy.ndarray
        :math:`W_g` of shape ``(C_i, C)``.
    mode : str
        The pairwise function, one of the modes of :func:`non_local_affinity`.
    concat_weight : numpy.ndarray, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        As in :func:`non_local_affinity`.
    theta_bias, phi_bias : numpy.ndarray, optional
        Biases ``(C_e,)`` of the embeddings.
    g_bias : numpy.ndarray, optional
        Bias ``(C_i,)``.

    Returns
    -------
    numpy.ndarray
        ``(N, C_i, H, W)``.
    """
    check_non_local_args(
        x,
        theta_weight,
        phi_weight,
        g_weight,
        mode,
        concat_weight,
        sub_sample,
        scale,
        dict(theta_bias=theta_bias, phi_bias=phi_bias, g_bias=g_bias),
        array_type=np.ndarray,
    )
    affinity = non_local_affinity(
        x,
        theta_weight,
        phi_weight,
        mode,
        concat_weight,
        sub_sample,
        scale,
        theta_bias=theta_bias,
        phi_bias=phi_bias,
    )
    values = _project(
        g_weight, _flat(max_pool_2x2(x) if sub_sample else x), g_bias
    )  # (N, C_i, M)
    y = np.einsum("nij,ncj->nci", affinity, values)
    return y.reshape(x.shape[0], y.shape[1], *x.shape[2:]).astype(x.dtype, copy=False)


def non_local2d(
    x: np.ndarray,
    theta_weight: Optional[np.ndarray],
    phi_weight: Optional[np.ndarray],
    g_weight: np.ndarray,
    out_weight: np.ndarray,
    mode: str = "embedded_gaussian",
    concat_weight: Optional[np.ndarray] = None,
    sub_sample: bool = False,
    scale: bool = False,
    *,
    theta_bias: Optional[np.ndarray] = None,
    phi_bias: Optional[np.ndarray] = None,
    g_bias: Optional[np.ndarray] = None,
    out_bias: Optional[np.ndarray] = None,
) -> np.ndarray:
    r"""The non-local block with its residual connection: :math:`z_i = W_z y_i + x_i`.

    Wang et al. (2018), equations (1) and (6); :math:`y` is :func:`non_local_response`. The
    block keeps the input's shape, so it can be inserted into any network; with
    :math:`W_z = 0` it is the identity (how :class:`convref.nn.NonLocal2d` starts).

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)``.
    theta_weight, phi_weight : numpy.ndarray or None
        Embeddings :math:`W_\theta, W_\phi` of shape ``(C_e, C)``; ``None`` in ``"gaussian"`` mode.
    g_weight : numpy.ndarray
        :math:`W_g` of shape ``(C_i, C)``.
    mode : str
        The pairwise function, one of the modes of :func:`non_local_affinity`.
    concat_weight : numpy.ndarray, optional
        :math:`w_f` of shape ``(2 C_e,)``, ``"concatenation"`` mode only.
    sub_sample, scale : bool
        As in :func:`non_local_affinity`.
    out_weight : numpy.ndarray
        :math:`W_z` of shape ``(C, C_i)``.
    theta_bias, phi_bias : numpy.ndarray, optional
        Biases ``(C_e,)`` of the embeddings.
    g_bias : numpy.ndarray, optional
        Bias ``(C_i,)``.
    out_bias : numpy.ndarray, optional
        Bias ``(C,)`` of the output projection.

    Returns
    -------
    numpy.ndarray
        ``(N, C, H, W)``, same dtype as ``x``.
    """
    y = non_local_response(
        x,
        theta_weight,
        phi_weight,
        g_weight,
        mode,
        concat_weight,
        sub_sample,
        scale,
        theta_bias=theta_bias,
        phi_bias=phi_bias,
        g_bias=g_bias,
    )
    check_out_weight(out_weight, out_bias, x, y.shape[1], array_type=np.ndarray)
    z = _project(out_weight, _flat(y), out_bias).reshape(x.shape) + x
    return z.astype(x.dtype, copy=False)
