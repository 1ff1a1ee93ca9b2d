"""Sampling geometry of deformable convolution: where each tap reads the input.

Pure NumPy; the deformable figures and the deformable experiments both use it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def _pair(value: "int | Sequence[int]") -> tuple[int, int]:
    return (value, value) if np.ndim(value) == 0 else (int(value[0]), int(value[1]))


def tap_positions(
    offset: Optional[np.ndarray],
    pixels: Sequence[tuple[int, int]],
    kernel_size: "int | tuple[int, int]" = 3,
    stride: "int | tuple[int, int]" = 1,
    padding: "int | tuple[int, int]" = 0,
    dilation: "int | tuple[int, int]" = 1,
) -> np.ndarray:
    r"""Where a deformable convolution reads the input for some output pixels: :math:`p_0 + p_k + \Delta p_k`.

    Tap ``k = i kw + j`` of output pixel ``(h, w)`` reads the input at
    ``(h s_h - pad_h + i d_h + dy, w s_w - pad_w + j d_w + dx)``, with ``(dy, dx)`` taken from
    channels ``2k`` and ``2k + 1`` of ``offset`` at ``(h, w)`` -- torchvision's layout with one
    offset group, as in :func:`convref.reference.deform_conv2d`.

    Parameters
    ----------
    offset : numpy.ndarray or None
        ``(2 kh kw, H_out, W_out)`` offsets of one image, or ``(kh kw, 2)`` offsets shared by
        every pixel (an active convolution); None for the regular grid.
    pixels : sequence of (int, int)
        Output pixels ``(h, w)``.
    kernel_size, stride, padding, dilation : int or (int, int)
        The convolution's geometry (``padding`` in pixels, the same on both sides).

    Returns
    -------
    numpy.ndarray
        ``(len(pixels), kh kw, 2)``: the ``(y, x)`` input coordinates of every tap.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
        _pair(v) for v in (kernel_size, stride, padding, dilation)
    )
    taps = kh * kw
    pixels = np.asarray(pixels, dtype=np.int64).reshape(-1, 2)
    grid = np.stack(
        np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij"), -1
    ).reshape(taps, 2)
    base = pixels * np.array([sh, sw]) - np.array(
        [ph, pw]
    )  # p_0: the top-left tap of each window
    positions = base[:, None, :] + grid[None].astype(np.float64)
    if offset is None:
        return positions
    offset = np.asarray(offset, dtype=np.float64)
    if offset.shape == (taps, 2):
        return positions + offset[None]
    if offset.ndim != 3 or offset.shape[0] != 2 * taps:
        raise ValueError(
            f"offset must be (2 kh kw, H_out, W_out) = ({2 * taps}, ., .) or ({taps}, 2), got {offset.shape}"
        )
    per_pixel = offset[:, pixels[:, 0], pixels[:, 1]].reshape(
        taps, 2, len(pixels)
    )  # channel 2k: dy, 2k + 1: dx
    return positions + per_pixel.transpose(2, 0, 1)


def affine_tap_offsets(
    kernel_size: int = 3,
    scale: float = 1.0,
    aspect: float = 1.0,
    angle: float = 0.0,
    dilation: int = 1,
) -> np.ndarray:
    r"""Per-tap offsets ``(kh kw, 2)`` that turn the regular grid into a scaled, stretched, rotated one.

    Tap ``p_k`` (relative to the kernel centre) moves to :math:`A p_k` with
    :math:`A = \text{scale} \cdot R(\text{angle})\, \text{diag}(\sqrt{\text{aspect}}, 1/\sqrt{\text{aspect}})`
    in ``(y, x)`` coordinates, ``R`` turning counter-clockwise on the screen (where y points
    down); the offsets are :math:`\Delta p_k = A p_k - p_k`. These are the deformations of Dai
    et al.'s figure 1: scale (like a dilation, but fractional), aspect ratio and rotation.

    Parameters
    ----------
    kernel_size : int
        Side ``k`` of the square grid of taps.
    scale : float
        Factor on every tap's distance from the centre (1 keeps the grid).
    aspect : float
        Height-to-width stretch; the area is kept (1 keeps the grid).
    angle : float
        Rotation in radians, counter-clockwise on the screen.
    dilation : int
        Spacing of the regular grid the offsets are measured from.

    Returns
    -------
    numpy.ndarray
        ``(kernel_size**2, 2)``, ``(dy, dx)`` per tap in row-major order.
    """
    radius = (kernel_size - 1) / 2
    grid = np.stack(
        np.meshgrid(np.arange(kernel_size), np.arange(kernel_size), indexing="ij"), -1
    ).reshape(-1, 2)
    grid = (grid - radius) * dilation
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array(
        [[cos, -sin], [sin, cos]]
    )  # on (y, x) with y down: counter-clockwise on screen
    matrix = scale * rotation @ np.diag([np.sqrt(aspect), 1 / np.sqrt(aspect)])
    return grid @ matrix.T - grid
