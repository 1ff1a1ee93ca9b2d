"""Figures of the non-local chapter: where one query pixel attends, and how costs grow with the image."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .figure_style import COLUMN_WIDTH, TEXT_SIZES, _styled, _wrap


def _as_picture(image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
    """A grey ``(H, W)`` or RGB ``(3, H, W)`` / ``(H, W, 3)`` image, ready for ``imshow``, and its colour map."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image, "gray"
    if image.ndim == 3 and 3 in (image.shape[0], image.shape[-1]):
        rgb = (
            np.moveaxis(image, 0, -1)
            if image.shape[0] == 3 and image.shape[-1] != 3
            else image
        )
        return np.clip(
            rgb, 0.0, 1.0
        ), None  # imshow clips RGB floats to [0, 1] itself, with a warning
    raise ValueError(
        f"image must be (H, W), (3, H, W) or (H, W, 3), got shape {image.shape}"
    )


def _key_grid(weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """One row of an affinity matrix as a map: ``H x W`` keys, or ``(H/2) x (W/2)`` after 2x2 sub-sampling."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 2:
        grid = weights
    elif weights.size == height * width:
        grid = weights.reshape(height, width)
    elif weights.size == (height // 2) * (width // 2):
        grid = weights.reshape(height // 2, width // 2)
    else:
        raise ValueError(
            f"an attention row must hold H*W = {height * width} or (H//2)*(W//2) = {(height // 2) * (width // 2)} "
            f"weights for a {height}x{width} image, got {weights.size}"
        )
    if grid.shape not in ((height, width), (height // 2, width // 2)):
        raise ValueError(
            f"an attention map must be {height}x{width} or {height // 2}x{width // 2}, got {grid.shape}"
        )
    return grid


@_styled
def plot_attention_map(
    image: np.ndarray,
    attention: "dict[str, np.ndarray] | np.ndarray",
    query: tuple[int, int],
    size: float = 2.6,
    title: str = "",
) -> Figure:
    """The weights that one query pixel gives to every position of an image, one panel per map.

    A row ``i`` of a non-local block's affinity matrix (:func:`convref.reference.non_local_affinity`)
    says how much output position ``i`` takes from each position ``j``. Drawn as a map over the
    image, it shows *where* a pixel looks: near or far, at similar content or not. With 2x2
    sub-sampled keys the row has ``(H/2)(W/2)`` entries; each then covers a 2x2 block of pixels.

    Parameters
    ----------
    image : numpy.ndarray
        Grey ``(H, W)`` or RGB ``(3, H, W)`` / ``(H, W, 3)`` with values in [0, 1].
    attention : dict or numpy.ndarray
        ``{name: row}``, each row of length ``H W`` or ``(H/2)(W/2)`` (or already a map of that
        shape); a single array is drawn as ``"attention"``.
    query : (int, int)
        ``(row, column)`` of the query pixel, marked by a cross in every panel.
    size : float
        Side of each panel in inches.
    title : str
        Title of the whole figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``1 + len(attention)`` panels and their colour bars: the image, then one map each (the
        map is the first ``AxesImage`` of its panel); the query marker is a line with gid ``"query"``.
    """
    picture, cmap = _as_picture(image)
    height, width = picture.shape[:2]
    maps = attention if isinstance(attention, dict) else {"attention": attention}
    if not maps:
        raise ValueError("attention must hold at least one map")
    row, col = query
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(
            f"query must lie inside the {height}x{width} image, got {tuple(query)}"
        )
    grids = {name: _key_grid(weights, height, width) for name, weights in maps.items()}
    # One row that fits the book's column: smaller panels when there are many maps.
    fitting = (COLUMN_WIDTH - 0.4 * len(grids)) / (1 + len(grids))
    size = min(size, max(1.5, fitting))
    fig, axes = plt.subplots(
        1,
        1 + len(grids),
        figsize=(size * (1 + len(grids)) + 0.4 * len(grids), size + 0.5),
    )
    axes = np.atleast_1d(axes)
    axes[0].imshow(picture, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    separator = ", " if size > 2.2 else "\n"  # a narrow panel: two lines
    axes[0].set_title(
        f"input {height}x{width}{separator}query ({row}, {col})",
        fontsize=TEXT_SIZES["label"],
    )
    for ax, (name, grid) in zip(axes[1:], grids.items()):
        # A sub-sampled map covers the image's even part: 2x2 pixels per key.
        extent = (
            (-0.5, 2 * grid.shape[1] - 0.5, 2 * grid.shape[0] - 0.5, -0.5)
            if grid.shape != (height, width)
            else None
        )
        shown = ax.imshow(
            grid, cmap="magma", vmin=0.0, interpolation="nearest", extent=extent
        )
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(
            labelsize=TEXT_SIZES["small"]
        )
        ax.set_title(_wrap(name, size), fontsize=TEXT_SIZES["label"])
    for ax in axes:
        ax.plot(
            [col],
            [row],
            marker="+",
            markersize=11,
            markeredgewidth=2,
            color="#00d0ff",
            gid="query",
        )
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_scaling(
    x: Sequence[float],
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    ax: Optional[Axes] = None,
) -> Figure:
    r"""Curves against ``x`` on log-log axes, each labelled with its fitted slope (its growth exponent).

    On log-log axes :math:`y = a x^p` is a straight line of slope :math:`p`, so a cost that
    grows linearly with the number of positions shows slope 1 and a pairwise (quadratic)
    one slope 2. The slope in each legend entry is the least-squares fit of
    :math:`\log y` against :math:`\log x` over the points given.

    Parameters
    ----------
    x : sequence of float
        Positive abscissae (e.g. the number of positions ``H W``).
    curves : dict
        ``{name: values}``, positive values, one per ``x``.
    xlabel, ylabel, title : str
        Labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2 or np.any(x <= 0):
        raise ValueError(f"x must hold at least two positive numbers, got {x.tolist()}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != x.shape or np.any(values <= 0):
            raise ValueError(
                f"curve {name!r} must hold {len(x)} positive values, got {values.tolist()}"
            )
        slope = np.polyfit(np.log(x), np.log(values), 1)[0]
        ax.plot(
            x, values, marker="o", markersize=4, label=f"{name} (slope {slope:.2f})"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax.figure
