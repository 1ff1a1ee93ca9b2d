"""Figures of the AdderNet chapter: template matching, value and weight distributions."""

from __future__ import annotations

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..experiments import excess_kurtosis, template_responses
from .figure_style import COLUMN_WIDTH, TEXT_SIZES, _columns, _styled, _wrap


@_styled
def plot_template_matching(
    image: np.ndarray, corner: tuple[int, int], size: int = 7, title: str = ""
) -> Figure:
    """Cut a template out of ``image`` and find it again by correlation and by negative L1 distance.

    Four panels: the image with the template's window (white) and the best window of each
    score (orange: correlation, green: negative L1); the template; the correlation map; the
    negative-L1 map (from :func:`convref.experiments.template_responses`). The maps are drawn
    in image coordinates, each score at the centre of its window, so the panels line up; a
    marker shows each map's best window, and the titles give its top-left corner.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    corner : (int, int)
        Top-left pixel ``(row, col)`` of the template in the image.
    size : int
        Side of the square template.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = np.asarray(image, dtype=np.float64)
    row, col = (int(v) for v in corner)
    height, width = image.shape
    if size < 1 or not (0 <= row <= height - size and 0 <= col <= width - size):
        raise ValueError(
            f"a {size}x{size} template at {corner} must lie inside the {height}x{width} image"
        )
    template = image[row : row + size, col : col + size]
    maps = template_responses(image, template)
    best = {
        name: np.unravel_index(np.argmax(values), values.shape)
        for name, values in maps.items()
    }
    colours = {"correlation": "#dd8452", "negative L1": "#55a868"}
    half = (
        size - 1
    ) / 2  # a window's centre lies half a template from its top-left pixel
    fig, grid = plt.subplots(2, 2, figsize=(7.4, 6.4))  # 2 x 2: fits the book's column
    axes = grid.ravel()
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].add_patch(
        Rectangle(
            (col - 0.5, row - 0.5),
            size,
            size,
            fill=False,
            edgecolor="white",
            linewidth=2,
        )
    )
    for name, (i, j) in best.items():
        axes[0].add_patch(
            Rectangle(
                (j - 0.5, i - 0.5),
                size,
                size,
                fill=False,
                edgecolor=colours[name],
                linewidth=1.5,
                linestyle="--",
            )
        )
    axes[0].set_title(
        "image: template (white),\nbest correlation / L1 window",
        fontsize=TEXT_SIZES["label"],
    )
    axes[1].imshow(template, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(
        f"template ({size}x{size}) at {(row, col)}", fontsize=TEXT_SIZES["label"]
    )
    labels = {
        "correlation": "correlation  sum x t",
        "negative L1": "negative L1  -sum |x - t|",
    }
    for ax, (name, values) in zip(axes[2:], maps.items()):
        extent = (
            half - 0.5,
            half + values.shape[1] - 0.5,
            half + values.shape[0] - 0.5,
            half - 0.5,
        )
        shown = ax.imshow(values, cmap="viridis", extent=extent)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        i, j = best[name]
        ax.plot(
            [j + half],
            [i + half],
            marker="o",
            markerfacecolor="none",
            markeredgecolor="red",
            markersize=12,
            markeredgewidth=2,
            linestyle="none",
            label="best window",
        )
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(
            f"{labels[name]}\nbest window at {(int(i), int(j))}",
            fontsize=TEXT_SIZES["label"],
        )
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_value_histograms(
    samples: "dict[str, np.ndarray]",
    xlabel: str = "value",
    title: str = "",
    bins: int = 60,
    size: float = 3.4,
) -> Figure:
    """Histograms of several sets of values, one panel each, with zero marked and their statistics written in.

    Made to compare a layer's outputs (an adder layer's are all negative, a convolution's are
    centred on zero). Each bar shows the share of the values that fall in it; the box gives the
    mean, the standard deviation and the share of positive values.

    Parameters
    ----------
    samples : dict
        ``{panel title: values of any shape}``.
    xlabel, title : str
        Axis label of every panel; figure title.
    bins : int
        Bars per panel.
    size : float
        Width of each panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    size = min(size, max(2.4, COLUMN_WIDTH / len(samples)))  # a row fits the column
    ncols = _columns(len(samples), size)
    nrows = -(-len(samples) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, 3.0 * nrows), squeeze=False
    )
    for ax in axes.flat[len(samples) :]:
        ax.remove()
    for ax, (name, values) in zip(axes.flat, samples.items()):
        values = np.asarray(values, dtype=np.float64).ravel()
        ax.hist(
            values,
            bins=bins,
            weights=np.full(values.size, 1 / values.size),
            color="#4c72b0",
        )
        ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
        mean = (
            values.mean()
            if abs(values.mean()) >= 5e-4 * max(values.std(), 1e-300)
            else 0.0
        )  # no "9.5e-07" for zero
        ax.text(
            0.03,
            0.95,
            f"mean {mean:.3g}\nstd {values.std():.3g}\n> 0: {np.mean(values > 0):.0%}",
            transform=ax.transAxes,
            va="top",
            fontsize=TEXT_SIZES["small"],
            bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"),
        )
        ax.set_title(name, fontsize=TEXT_SIZES["label"])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of values")
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_weight_distributions(
    weights: "dict[str, np.ndarray]",
    title: str = "",
    bins: int = 40,
    ncols: Optional[int] = None,
) -> Figure:
    """Histograms of standardised filter weights against a unit Gaussian and a unit Laplace density.

    Each set of weights is shifted and scaled to mean 0 and variance 1, so only the *shape* of
    its distribution is compared. The y axis is logarithmic: a Gaussian density is then a
    parabola and a Laplace density a tent with straight sides, which separates the tails. The
    title of each panel gives its excess kurtosis (:func:`convref.experiments.excess_kurtosis`;
    0 for a Gaussian, 3 for a Laplace distribution).

    Parameters
    ----------
    weights : dict
        ``{panel name: weights of any shape}``.
    title : str
        Figure title.
    bins : int
        Bars per panel.
    ncols : int, optional
        Panels per row (all in one row by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ncols = ncols or len(weights)
    nrows = -(-len(weights) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False
    )
    for ax in axes.flat[len(weights) :]:
        ax.axis("off")
    standardised = {}
    for name, values in weights.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        standardised[name] = (values - values.mean()) / values.std()
    limit = max(
        4.0, max(float(np.abs(z).max()) for z in standardised.values())
    )  # one range: the panels compare
    for ax, (name, values) in zip(axes.flat, weights.items()):
        values = np.asarray(values, dtype=np.float64).ravel()
        z = standardised[name]
        ax.hist(
            z,
            bins=bins,
            range=(-limit, limit),
            density=True,
            color="#4c72b0",
            alpha=0.7,
            label="weights",
        )
        grid = np.linspace(-limit, limit, 401)
        scale = 1 / np.sqrt(
            2
        )  # a Laplace distribution of variance 1 has scale 1 / sqrt(2)
        ax.plot(
            grid,
            np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi),
            color="#dd8452",
            label="Gaussian",
        )
        ax.plot(
            grid,
            np.exp(-np.abs(grid) / scale) / (2 * scale),
            color="#55a868",
            label="Laplace",
        )
        ax.set_yscale("log")
        ax.set_ylim(0.5 / values.size, 1.5)
        ax.set_title(
            f"{name}\nexcess kurtosis {excess_kurtosis(values):.2f}",
            fontsize=TEXT_SIZES["label"],
        )
        ax.set_xlabel("standardised weight")
        ax.set_ylabel("density")
        ax.legend(loc="upper right")
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig
