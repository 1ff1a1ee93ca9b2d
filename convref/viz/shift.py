"""Figures of the shift chapter (ShiftNet, active shift): one image moved by a different shift per channel."""

from __future__ import annotations

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..reference import shift2d
from .figure_style import TEXT_SIZES, _styled, _wrap


@_styled
def plot_shifted_channels(
    image: np.ndarray,
    shifts: np.ndarray,
    ncols: Optional[int] = None,
    size: float = 1.9,
    title: str = "",
) -> Figure:
    """One image copied into ``C`` channels, each channel moved by its own shift ``(dy, dx)``.

    The channels are shifted with :func:`convref.reference.shift2d` (zero where nothing moved
    in; fractional shifts interpolate bilinearly). Each panel carries an arrow from the
    image centre in the direction the content moved (its length scaled so that the longest
    shift reaches a third of the image) and dashed lines through the unshifted centre, so
    the move can be read against a fixed mark.

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D grey-level image ``(H, W)``.
    shifts : array-like
        Shape ``(C, 2)``: ``(dy, dx)`` per channel (down and right positive).
    ncols : int, optional
        Panels per row; by default ``sqrt(C)`` when ``C`` is a square (so a ``k x k``
        pattern lies out like the kernel it replaces), else all in one row.
    size : float
        Side of each panel in inches.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = np.asarray(image, dtype=np.float64)
    shifts = np.asarray(shifts)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if shifts.ndim != 2 or shifts.shape[1] != 2 or len(shifts) == 0:
        raise ValueError(
            f"shifts must have shape (C, 2) with C >= 1, got {shifts.shape}"
        )
    count = len(shifts)
    if ncols is None:
        root = int(round(np.sqrt(count)))
        ncols = root if root * root == count else count
    nrows = -(-count // ncols)
    stack = np.repeat(
        image[None, None], count, axis=1
    )  # (1, C, H, W): the same picture in every channel
    moved = shift2d(stack, shifts)[0]
    height, width = image.shape
    cy, cx = (height - 1) / 2, (width - 1) / 2
    longest = float(np.hypot(shifts[:, 0], shifts[:, 1]).max())
    scale = (
        (min(height, width) / 3) / longest if longest > 0 else 0.0
    )  # arrow length per pixel of shift
    vmin, vmax = float(image.min()), float(image.max())
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * nrows + (0.3 if title else 0)),
        squeeze=False,
    )
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= count:
            ax.axis("off")
            continue
        dy, dx = (float(v) for v in shifts[index])
        ax.imshow(moved[index], cmap="gray", vmin=min(vmin, 0.0), vmax=vmax)
        ax.axhline(cy, color="tab:cyan", lw=0.6, ls="--")
        ax.axvline(cx, color="tab:cyan", lw=0.6, ls="--")
        if dy == 0 and dx == 0:
            ax.plot([cx], [cy], "o", color="tab:orange", markersize=5, gid="shift")
        else:
            ax.annotate(
                "",
                xy=(cx + scale * dx, cy + scale * dy),
                xytext=(cx, cy),
                gid="shift",
                arrowprops=dict(arrowstyle="-|>", color="tab:orange", lw=1.8),
            )
        ax.set_title(f"ch {index}: ({dy:g}, {dx:g})", fontsize=TEXT_SIZES["label"])
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig
