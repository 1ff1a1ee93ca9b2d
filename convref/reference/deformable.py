"""NumPy reference of deformable convolution (Dai et al., ICCV 2017; Zhu et al., CVPR 2019) and DCLS.

A deformable convolution is an ordinary ``kh x kw`` convolution whose taps are not read on the
regular grid: each output pixel moves each tap by its own fractional offset, predicted from the
input by another convolution, and reads the input there by bilinear interpolation. DCN v2 also
scales each tap by a modulation ``m`` in ``[0, 1]``. Arguments and layouts are those of
``torchvision.ops.deform_conv2d``, so one can replace the other.

DCLS (Khalfaoui-Hassani et al., ICLR 2023) learns where each kernel element sits too, but the same for
every pixel: the elements are spread bilinearly into a larger dense kernel, then a plain
convolution runs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import IntPair, Padding, check_dcls_kernel_args, check_deform_conv2d_args


def _image_value(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image[:, :, rows, cols]`` per sample (rows/cols are ``(N, H_out, W_out)`` ints); zero outside."""
    height, width = image.shape[2:]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    batch = np.arange(image.shape[0])[:, None, None]
    values = image[
        batch, :, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    ]  # (N, H_out, W_out, C)
    # where, not a product with the mask: an outside read is 0 even next to an inf pixel
    return np.moveaxis(np.where(inside[..., None], values, 0), -1, 1)


def bilinear_sample(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Read ``image`` at fractional points: :math:`\sum_q G(q, p)\, \text{image}(q)`, zero outside the image.

    The bilinear kernel :math:`G(q, p) = g(q_y, p_y)\, g(q_x, p_x)` with
    :math:`g(a, b) = \max(0, 1 - |a - b|)` is non-zero only for the four integer
    neighbours ``q`` of ``p``, so only those are summed. As in torchvision, a point
    outside ``(-1, H) x (-1, W)`` or with a non-finite coordinate reads 0.

    Parameters
    ----------
    image : numpy.ndarray
        ``(N, C, H, W)``.
    y, x : numpy.ndarray
        ``(N, H_out, W_out)`` coordinates, one point per sample and output pixel.

    Returns
    -------
    numpy.ndarray
        ``(N, C, H_out, W_out)``.
    """
    height, width = image.shape[2:]
    with np.errstate(invalid="ignore"):  # NaN compares False: such points are invalid
        valid = (y > -1) & (y < height) & (x > -1) & (x < width)
    y, x = np.where(valid, y, 0), np.where(valid, x, 0)
    top, left = np.floor(y), np.floor(x)
    sampled = 0
    for row in (top, top + 1):
        for col in (left, left + 1):
            weight = np.maximum(0, 1 - np.abs(row - y)) * np.maximum(
                0, 1 - np.abs(col - x)
            )
            value = _image_value(image, row.astype(np.int64), col.astype(np.int64))
            sampled = sampled + weight[:, None] * value
    return np.where(valid[:, None], sampled, 0)


def deform_conv2d(
    x: np.ndarray,
    offset: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    mask: Optional[np.ndarray] = None,
) -> np.ndarray:
    r"""Deformable convolution, v1 (``mask=None``) and v2 (modulated); torchvision's arguments and layouts.

    .. math::

        y[n, o, p_0] = b_o + \sum_{k} \sum_{c} w[o, c, k]\;
        m_k(p_0)\; x_c\big(p_0 + p_k + \Delta p_k(p_0)\big)

    where ``p_0 = (h s_h - pad_h,\ w s_w - pad_w)``, ``p_k = (i d_h, j d_w)`` is tap
    ``k = i kw + j`` of the regular grid, ``Δp_k`` its learned offset, ``m_k`` its
    modulation (1 without a mask) and ``x_c(p)`` a bilinear read, zero outside the image.
    Channel ``c`` uses the offsets and masks of its offset group ``c // (C_in / G)``.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C_in, H, W)``.
    offset : numpy.ndarray
        ``(N, 2 G kh kw, H_out, W_out)``; channels ``2 (g K + k)`` and ``2 (g K + k) + 1`` hold
        ``(dy, dx)`` of tap ``k`` in offset group ``g`` (``K = kh kw``).
    weight : numpy.ndarray
        ``(C_out, C_in / groups, kh, kw)``; ``groups`` is ``C_in / weight.shape[1]``.
    bias : numpy.ndarray, optional
        ``(C_out,)``.
    stride, padding, dilation
        As in :func:`convref.reference.conv2d`.
    mask : numpy.ndarray, optional
        ``(N, G kh kw, H_out, W_out)``: channel ``g K + k`` scales tap ``k`` of group ``g``.

    Returns
    -------
    numpy.ndarray
        ``(N, C_out, H_out, W_out)``.
    """
    args = check_deform_conv2d_args(
        x, offset, weight, bias, stride, padding, dilation, mask, array_type=np.ndarray
    )
    conv, offset_groups = args.conv, args.offset_groups
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    top, left = conv.padding[0], conv.padding[2]
    out_h, out_w = conv.out_size
    # p_0 of every output pixel, as (H_out, 1) and (1, W_out) grids
    base_y = (np.arange(out_h) * sh - top)[:, None].astype(x.dtype)
    base_x = (np.arange(out_w) * sw - left)[None, :].astype(x.dtype)
    channels_per_offset_group = conv.in_channels // offset_groups
    taps = kh * kw

    # sampled[n, c, k] = m_k x_c(p_0 + p_k + Δp_k): the "columns" of a deformable im2col
    sampled = np.zeros(
        (conv.batch, conv.in_channels, taps, out_h, out_w), dtype=x.dtype
    )
    for g in range(offset_groups):
        channels = slice(
            g * channels_per_offset_group, (g + 1) * channels_per_offset_group
        )
        for i in range(kh):
            for j in range(kw):
                k = i * kw + j
                dy, dx = (
                    offset[:, 2 * (g * taps + k)],
                    offset[:, 2 * (g * taps + k) + 1],
                )
                values = bilinear_sample(
                    x[:, channels], base_y + i * dh + dy, base_x + j * dw + dx
                )
                if mask is not None:
                    values = values * mask[:, None, g * taps + k]
                sampled[:, channels, k] = values

    # an ordinary (grouped) convolution of the sampled values with the kernel
    out_per_group, in_per_group = (
        conv.out_channels // conv.groups,
        conv.in_channels // conv.groups,
    )
    out = np.zeros((conv.batch, conv.out_channels, out_h, out_w), dtype=x.dtype)
    for group in range(conv.groups):
        outs = slice(group * out_per_group, (group + 1) * out_per_group)
        ins = slice(group * in_per_group, (group + 1) * in_per_group)
        kernel = weight[outs].reshape(out_per_group, in_per_group, taps)
        out[:, outs] = np.einsum("ock,nckhw->nohw", kernel, sampled[:, ins])
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def dcls_kernel(weight: np.ndarray, positions: np.ndarray, size: IntPair) -> np.ndarray:
    r"""The dense kernel of a DCLS layer: each weight spread bilinearly around its learned position.

    .. math::

        K[o, c, u, v] = \sum_{k} w[o, c, k]\; g(u, P^y_{o,c,k})\; g(v, P^x_{o,c,k}),
        \qquad g(a, b) = \max(0, 1 - |a - b|)

    Positions are clamped to the dense kernel, ``[0, size - 1]``, as Khalfaoui-Hassani et al. do.

    Parameters
    ----------
    weight : numpy.ndarray
        ``(C_out, C_in / groups, kh, kw)``: the kernel elements (``kh kw`` per channel pair).
    positions : numpy.ndarray
        ``(2, C_out, C_in / groups, kh, kw)``: the ``(y, x)`` of every element in dense-kernel
        coordinates (``(0, 0)`` is the top-left cell).
    size : int or (int, int)
        Height and width of the dense kernel.

    Returns
    -------
    numpy.ndarray
        ``(C_out, C_in / groups, size_h, size_w)``, to be used by an ordinary convolution.
    """
    size_h, size_w = check_dcls_kernel_args(
        weight, positions, size, array_type=np.ndarray
    )
    y = np.clip(positions[0], 0, size_h - 1)[
        ..., None, None
    ]  # (C_out, C_in/g, kh, kw, 1, 1)
    x = np.clip(positions[1], 0, size_w - 1)[..., None, None]
    rows = np.arange(size_h, dtype=weight.dtype)[:, None]
    cols = np.arange(size_w, dtype=weight.dtype)[None, :]
    spread = np.maximum(0, 1 - np.abs(rows - y)) * np.maximum(0, 1 - np.abs(cols - x))
    return np.einsum("ocij,ocijuv->ocuv", weight, spread)
