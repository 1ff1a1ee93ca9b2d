"""Figures of the deformable chapter (DCN v1/v2, active convolution, DCLS): where the taps read, and what.

The sampling geometry itself, :func:`convref.arith.tap_positions` and
:func:`convref.arith.affine_tap_offsets`, lives in :mod:`convref.arith`: the experiments use it too.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._checks import int_pair
from ..arith import tap_positions
from ..reference import deform_conv2d
from .figure_style import COLUMN_WIDTH, TAP_COLOR, TEXT_SIZES, _columns, _styled, _wrap


def _draw_taps(
    ax: Axes,
    regular: np.ndarray,
    deformed: np.ndarray,
    shape: tuple[int, int],
    mask: Optional[np.ndarray],
) -> None:
    """The regular grid (hollow, dashed mesh), the deformed one (filled, solid mesh) and arrows between them."""
    kh, kw = shape
    for points, style, gid in ((regular, "--", "regular"), (deformed, "-", "deformed")):
        mesh = points.reshape(kh, kw, 2)
        color = "#9ecae1" if gid == "regular" else TAP_COLOR
        for row in mesh:
            ax.plot(row[:, 1], row[:, 0], style, color=color, lw=0.8)
        for col in mesh.transpose(1, 0, 2):
            ax.plot(col[:, 1], col[:, 0], style, color=color, lw=0.8)
    ax.plot(
        regular[:, 1],
        regular[:, 0],
        "o",
        mfc="none",
        mec="#9ecae1",
        ms=6,
        mew=1.2,
        ls="none",
        gid="regular",
    )
    moved = np.any(np.abs(deformed - regular) > 1e-9)
    if moved:
        for start, end in zip(regular, deformed):
            if np.hypot(*(end - start)) > 1e-9:
                ax.annotate(
                    "",
                    xy=(end[1], end[0]),
                    xytext=(start[1], start[0]),
                    arrowprops=dict(
                        arrowstyle="-|>", color="tab:cyan", lw=0.9, shrinkA=0, shrinkB=3
                    ),
                )
    sizes = (
        30
        if mask is None
        else 10 + 60 * np.clip(np.asarray(mask, dtype=np.float64), 0, 1)
    )
    if moved or mask is not None:
        ax.scatter(
            deformed[:, 1],
            deformed[:, 0],
            s=sizes,
            c=TAP_COLOR,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            gid="deformed",
        )


@_styled
def plot_sampling_grid(
    image: np.ndarray,
    offsets: "dict[str, Optional[np.ndarray]]",
    pixels: Sequence[tuple[int, int]],
    kernel_size: "int | tuple[int, int]" = 3,
    stride: "int | tuple[int, int]" = 1,
    padding: "int | tuple[int, int]" = 0,
    dilation: "int | tuple[int, int]" = 1,
    masks: "Optional[dict[str, np.ndarray]]" = None,
    crop: Optional[int] = None,
    size: float = 2.8,
    title: str = "",
) -> Figure:
    """Where a deformable convolution reads the image: regular taps against deformed taps, one panel per offset field.

    In every panel, for each output pixel in ``pixels``, the regular ``kh x kw`` grid of taps
    is drawn as hollow circles on a dashed mesh, and the deformed taps
    (:func:`convref.arith.tap_positions`) as filled dots on a solid mesh, with an arrow from each regular
    tap to where it moved. A panel whose offsets are all zero (or None) shows the regular
    grid alone.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    offsets : dict
        ``{panel title: offsets}``, each as accepted by :func:`convref.arith.tap_positions`: a field
        ``(2 kh kw, H_out, W_out)``, per-tap offsets ``(kh kw, 2)``, or None.
    pixels : sequence of (int, int)
        Output pixels whose taps are drawn.
    kernel_size, stride, padding, dilation : int or (int, int)
        The geometry.
    masks : dict, optional
        ``{panel title: modulation}``, ``(kh kw, H_out, W_out)`` or ``(kh kw,)``: a deformed tap's
        dot area grows with its modulation (DCN v2).
    crop : int, optional
        Show only the ``(2 crop + 1)``-pixel square around the first pixel's window centre
        (a zoom; the whole image by default).
    size : float
        Side of each panel in inches.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per entry of ``offsets``; in each, one line with gid ``"regular"`` per pixel
        (the hollow circles) and, where taps moved, one collection with gid ``"deformed"``.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if not offsets:
        raise ValueError("offsets must hold at least one panel")
    kh, kw = int_pair("kernel_size", kernel_size, minimum=1)
    pixels = [tuple(int(v) for v in p) for p in pixels]
    size = min(size, max(1.8, COLUMN_WIDTH / len(offsets)))  # a row fits the column
    ncols = _columns(len(offsets), size)
    nrows = -(-len(offsets) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, (size + 0.25) * nrows + (0.3 if title else 0.0)),
        squeeze=False,
    )
    for ax in axes.flat[len(offsets) :]:
        ax.remove()
    for ax, (name, offset) in zip(axes.flat, offsets.items()):
        ax.imshow(image, cmap="gray", interpolation="nearest")
        regular = tap_positions(None, pixels, (kh, kw), stride, padding, dilation)
        deformed = tap_positions(offset, pixels, (kh, kw), stride, padding, dilation)
        mask = None if masks is None or name not in masks else np.asarray(masks[name])
        for index, (h, w) in enumerate(pixels):
            tap_mask = None
            if mask is not None:
                tap_mask = mask if mask.ndim == 1 else mask[:, h, w]
            _draw_taps(ax, regular[index], deformed[index], (kh, kw), tap_mask)
        if crop is None:
            ax.set_xlim(-0.5, image.shape[1] - 0.5)
            ax.set_ylim(image.shape[0] - 0.5, -0.5)
        else:
            cy, cx = np.round(
                regular[0].mean(axis=0)
            )  # the centre of the first pixel's window
            ax.set_xlim(cx - crop - 0.5, cx + crop + 0.5)
            ax.set_ylim(cy + crop + 0.5, cy - crop - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_wrap(name, size), fontsize=TEXT_SIZES["label"])
    if title:
        fig.suptitle(_wrap(title, size * ncols, TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_deformed_sampling(
    image: np.ndarray,
    weight: np.ndarray,
    pixel: tuple[int, int],
    tap_offsets: np.ndarray,
    dilation: int = 1,
    mask: Optional[np.ndarray] = None,
    size: float = 2.8,
) -> Figure:
    r"""One output of a deformable convolution, taken apart: where it reads, what it reads, what it computes.

    Left: the image with the regular and the deformed taps of output pixel ``pixel``
    (``"same"`` padding, stride 1). Middle: the values read there by bilinear interpolation,
    :math:`x(p_0 + p_k + \Delta p_k)`, laid out like the kernel (times :math:`\Delta m_k` with
    a mask). Right: the kernel. The title gives the output, their dot product, computed by
    :func:`convref.reference.deform_conv2d` with ``tap_offsets`` at every pixel.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    weight : numpy.ndarray
        ``(k, k)`` kernel, ``k`` odd.
    pixel : (int, int)
        The output pixel ``(h, w)``.
    tap_offsets : numpy.ndarray
        ``(k k, 2)`` offsets ``(dy, dx)`` per tap.
    dilation : int
        Spacing of the regular grid.
    mask : numpy.ndarray, optional
        ``(k k,)`` modulation per tap.
    size : float
        Side of each panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels; the middle one's image holds the sampled values, and the figure's
        title reads ``"y(h, w) = <value>"``.
    """
    image = np.asarray(image, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if (
        weight.ndim != 2
        or weight.shape[0] != weight.shape[1]
        or weight.shape[0] % 2 == 0
    ):
        raise ValueError(
            f"weight must be a square kernel of odd side, got shape {weight.shape}"
        )
    k = weight.shape[0]
    tap_offsets = np.asarray(tap_offsets, dtype=np.float64)
    if tap_offsets.shape != (k * k, 2):
        raise ValueError(
            f"tap_offsets must have shape ({k * k}, 2), got {tap_offsets.shape}"
        )
    h, w = (int(v) for v in pixel)
    height, width = image.shape
    if not (0 <= h < height and 0 <= w < width):
        raise ValueError(
            f"pixel must lie inside the {height}x{width} image, got {tuple(pixel)}"
        )
    pad = dilation * (k - 1) // 2
    # The same offsets at every output pixel, in torchvision's layout: (1, 2 K, H, W).
    field = np.broadcast_to(
        tap_offsets.reshape(-1)[None, :, None, None], (1, 2 * k * k, height, width)
    )
    field_mask = (
        None
        if mask is None
        else np.broadcast_to(
            np.asarray(mask, dtype=np.float64).reshape(1, -1, 1, 1),
            (1, k * k, height, width),
        )
    )
    # The sampled values alone: the convolution with a one-hot kernel per tap, as K output channels.
    one_hot = np.eye(k * k).reshape(k * k, 1, k, k)
    sampled = deform_conv2d(
        image[None, None],
        field,
        one_hot,
        padding=pad,
        dilation=dilation,
        mask=field_mask,
    )[0, :, h, w]
    value = deform_conv2d(
        image[None, None],
        field,
        weight[None, None],
        padding=pad,
        dilation=dilation,
        mask=field_mask,
    )[0, 0, h, w]

    size = min(size, COLUMN_WIDTH / 3)  # the three panels fit the book's column
    fig, axes = plt.subplots(
        1, 3, figsize=(3 * size, size + 0.5), gridspec_kw={"width_ratios": [1.4, 1, 1]}
    )
    axes[0].imshow(image, cmap="gray", interpolation="nearest")
    regular = tap_positions(None, [(h, w)], k, 1, pad, dilation)[0]
    deformed = tap_positions(tap_offsets, [(h, w)], k, 1, pad, dilation)[0]
    _draw_taps(axes[0], regular, deformed, (k, k), mask)
    axes[0].plot([w], [h], "+", color="#00d0ff", ms=10, mew=2, gid="pixel")
    axes[0].set_xlim(-0.5, width - 0.5)
    axes[0].set_ylim(height - 0.5, -0.5)
    axes[0].set_title(f"taps of output pixel ({h}, {w})", fontsize=TEXT_SIZES["label"])
    read = r"$x(p_0 + p_k + \Delta p_k)$" + (
        r"$\,\Delta m_k$" if mask is not None else ""
    )
    for ax, matrix, name in (
        (axes[1], sampled.reshape(k, k), f"values read {read}"),
        (axes[2], weight, "kernel $w_k$"),
    ):
        limit = float(np.abs(matrix).max()) or 1.0
        ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (i, j), entry in np.ndenumerate(matrix):
            color = (
                "white" if abs(entry) > 0.6 * limit else "black"
            )  # light text on the saturated cells
            ax.text(
                j,
                i,
                f"{entry:.2f}",
                ha="center",
                va="center",
                fontsize=TEXT_SIZES["small"],
                color=color,
            )
        ax.set_title(name, fontsize=TEXT_SIZES["label"])
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"y({h}, {w}) = {value:.4f}")
    fig.tight_layout()
    return fig


@_styled
def plot_learned_taps(
    images: Sequence[np.ndarray],
    taps: Sequence[np.ndarray],
    centres: Sequence[tuple[float, float]],
    titles: Sequence[str] = (),
    ncols: Optional[int] = None,
    size: float = 2.2,
    title: str = "",
) -> Figure:
    """Images with the points a network reads for one output pixel each, e.g. a trained deformable layer's taps.

    Parameters
    ----------
    images : sequence of (H, W) arrays
        The inputs.
    taps : sequence of (M, 2) arrays
        For each image, the ``(y, x)`` input coordinates of the points read (any number).
    centres : sequence of (float, float)
        For each image, the ``(y, x)`` of the output pixel the points belong to (a cross).
    titles : sequence of str
        One title per panel.
    ncols : int, optional
        Panels per row (by default all, or as many as fit the book's column).
    size : float
        Side of each panel in inches.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per image, each with a collection of gid ``"taps"`` holding the points.
    """
    if not (len(images) == len(taps) == len(centres)) or not images:
        raise ValueError(
            f"images, taps and centres must be non-empty and of equal length, got {len(images)}, {len(taps)}, {len(centres)}"
        )
    count = len(images)
    ncols = _columns(count, size, ncols)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, (size + 0.2) * nrows + (0.35 if title else 0.1)),
        squeeze=False,
    )
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= count:
            ax.axis("off")
            continue
        image = np.asarray(images[index], dtype=np.float64)
        points = np.asarray(taps[index], dtype=np.float64).reshape(-1, 2)
        ax.imshow(image, cmap="gray", interpolation="nearest")
        ax.scatter(
            points[:, 1],
            points[:, 0],
            s=9,
            c=TAP_COLOR,
            edgecolors="black",
            linewidths=0.3,
            gid="taps",
        )
        ax.plot(
            [centres[index][1]],
            [centres[index][0]],
            "+",
            color="#00d0ff",
            ms=10,
            mew=2,
            zorder=4,
            gid="pixel",
        )
        ax.set_xlim(-0.5, image.shape[1] - 0.5)
        ax.set_ylim(image.shape[0] - 0.5, -0.5)
        if index < len(titles):
            ax.set_title(_wrap(titles[index], size), fontsize=TEXT_SIZES["label"])
    if title:
        fig.suptitle(_wrap(title, size * ncols, TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_tap_spread(
    sizes: np.ndarray,
    spreads: "dict[str, np.ndarray]",
    xlabel: str = "object half-size (pixels)",
    ylabel: str = "mean distance of the taps from the pixel",
    title: str = "",
    ax: Optional[Axes] = None,
) -> Figure:
    """Scatter of how far a layer's taps reach against the size of the object, one colour per model or layer.

    Each legend entry carries the Pearson correlation of its points, so a sampling grid that
    grows with the object (as Dai et al. report for detection) shows as a positive value.

    Parameters
    ----------
    sizes : numpy.ndarray
        ``(N,)`` object sizes.
    spreads : dict
        ``{name: (N,) spreads}``.
    xlabel, ylabel, title : str
        Labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, values in spreads.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != sizes.shape:
            raise ValueError(
                f"spread {name!r} must have shape {sizes.shape}, got {values.shape}"
            )
        r = (
            np.corrcoef(sizes, values)[0, 1]
            if np.std(values) > 0 and np.std(sizes) > 0
            else float("nan")
        )
        ax.scatter(sizes, values, s=10, alpha=0.6, label=f"{name} (r = {r:.2f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure
