"""Figure of the capstone chapter, choosing a convolution: accuracy against cost, one point per operator."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .figure_style import _styled


#: Marker colour of each chapter in :func:`plot_operator_choices` (one per part of the book).
_PART_OF_CHAPTER = {
    "conv_basics/conv_basics": "baseline",
    "conv1x1/conv1x1": "fewer parameters",
    "small_kernels/small_kernels": "fewer parameters",
    "grouped_conv/grouped_conv": "fewer parameters",
    "dilated_conv/dilated_conv": "context and resolution",
    "transposed_conv/transposed_conv": "context and resolution",
    "deformable/deformable": "context and resolution",
    "non_local/non_local": "context and resolution",
    "shift/shift": "changing the operation",
    "adder/adder": "changing the operation",
    "dynamic/dynamic": "changing the operation",
}


def _label_points(
    ax: Axes,
    xs: Sequence[float],
    ys: Sequence[float],
    labels: Sequence[str],
    fontsize: float = 7,
) -> None:
    """Write each label right of its point, pushing a label down while it would overlap one already placed."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes' limits, so data -> pixel is final
    to_pixels = ax.transData.transform
    height = fontsize * fig.dpi / 72 * 1.15
    placed: list[tuple[float, float, float]] = []  # (left, right, baseline) in pixels
    for index in np.argsort(ys)[::-1]:  # from the top down
        px, py = to_pixels((xs[index], ys[index]))
        left, right = (
            px + 4,
            px + 4 + 0.55 * fontsize * fig.dpi / 72 * len(labels[index]),
        )
        shift = 0.0
        while any(
            lo < right and left < hi and abs(py + 2 - shift - base) < height
            for lo, hi, base in placed
        ):
            shift += height / 2
        placed.append((left, right, py + 2 - shift))
        ax.annotate(
            labels[index],
            (xs[index], ys[index]),
            xytext=(4, 2 - shift * 72 / fig.dpi),
            textcoords="offset points",
            fontsize=fontsize,
            va="bottom",
            arrowprops=dict(arrowstyle="-", color="0.6", lw=0.5) if shift else None,
        )


#: Axis labels of the costs :func:`plot_operator_choices` can put on the horizontal axis.
CHOICE_COSTS = {
    "mult_adds": "multiply-adds per image (M)",
    "params": "parameters (thousands)",
    "cpu_ratio": "CPU time of a training step (x baseline)",
    "peak_mib": "peak memory of a training step (MiB)",
    "gpu_ratio": "GPU time of a training step (x baseline)",
}
_COST_UNITS = {"mult_adds": 1e6, "params": 1e3}


@_styled
def plot_operator_choices(
    rows: Sequence[dict],
    costs: Sequence[str] = ("mult_adds", "cpu_ratio"),
    accuracy: str = "test_accuracy",
    noise: Optional[float] = None,
) -> Figure:
    """Accuracy against cost for the rows of :func:`convref.experiments.compare_operators`, one panel per cost.

    The default panels are multiply-adds per image (what papers report) and the measured time
    of a training step relative to the baseline (what a user waits for); the accuracy axis is
    shared. Marker area grows with the parameter count; colour gives the book's part; dashed
    lines cross at the baseline (the first row).

    Parameters
    ----------
    rows : sequence of dict
        One per operator, with ``label``, ``chapter``, ``params``, the ``costs`` keys and the
        ``accuracy`` key; the first row is the baseline.
    costs : sequence of str
        Keys of :data:`CHOICE_COSTS`, one panel each (log scale).
    accuracy : str
        Which accuracy to plot (``"test_accuracy"`` or ``"train_accuracy"``).
    noise : float, optional
        Half-width of a grey band around the baseline's accuracy (e.g. the spread over seeds):
        points inside it are not distinguishable from the baseline.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not rows:
        raise ValueError("rows must hold at least one operator")
    unknown = [cost for cost in costs if cost not in CHOICE_COSTS]
    if unknown or not costs:
        raise ValueError(
            f"costs must be a non-empty selection of {list(CHOICE_COSTS)}, got {list(costs)}"
        )
    if any(row.get(cost) is None for row in rows for cost in costs):
        raise ValueError(
            f"every row needs a value for {list(costs)} (gpu_ratio exists only when a GPU was measured)"
        )
    fig, axes = plt.subplots(
        1, len(costs), figsize=(5.5 * len(costs), 5), sharey=True, squeeze=False
    )
    parts = list(dict.fromkeys(_PART_OF_CHAPTER.values()))
    colours = dict(zip(parts, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    largest = max(row["params"] for row in rows)
    baseline = rows[0]
    for ax, key in zip(axes[0], costs):
        unit = _COST_UNITS.get(key, 1.0)
        if noise is not None:
            ax.axhspan(
                baseline[accuracy] - noise,
                baseline[accuracy] + noise,
                color="0.9",
                zorder=0,
            )
        ax.axhline(baseline[accuracy], color="0.6", lw=0.8, ls="--", zorder=1)
        ax.axvline(baseline[key] / unit, color="0.6", lw=0.8, ls="--", zorder=1)
        for row in rows:
            part = _PART_OF_CHAPTER.get(row["chapter"], "baseline")
            ax.scatter(
                row[key] / unit,
                row[accuracy],
                s=20 + 180 * row["params"] / largest,
                color=colours[part],
                edgecolor="k",
                lw=0.5,
                zorder=3,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.12, y=0.08)
        ax.set_xlabel(CHOICE_COSTS[key])
        _label_points(
            ax,
            [row[key] / unit for row in rows],
            [row[accuracy] for row in rows],
            [row["label"] for row in rows],
        )
    axes[0][0].set_ylabel(accuracy.replace("_", " "))
    handles = [
        plt.Line2D(
            [], [], marker="o", ls="", color=colours[p], markeredgecolor="k", label=p
        )
        for p in parts
    ]
    fig.legend(
        handles=handles, fontsize=8, loc="lower center", ncol=len(parts), frameon=False
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
