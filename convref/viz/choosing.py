"""Figure of the capstone chapter, choosing a convolution: accuracy against cost, one point per operator."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import Bbox

from .figure_style import COLUMN_WIDTH, TEXT_SIZES, _styled


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


def _overlap(a: Bbox, b: Bbox) -> float:
    """Area (square pixels) that two boxes share."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


#: Directions in which :func:`_label_points` tries a label, nearest first: right, left,
#: above, below, then the diagonals; each at a gap of 2, 9 and 16 points from the
#: marker.
_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
_GAPS = (2.0, 9.0, 16.0)
_ALIGN_X = {
    1: "left",
    -1: "right",
    0: "center",
}  # a label right of its point: left-aligned
_ALIGN_Y = {1: "bottom", -1: "top", 0: "center"}


def _label_points(
    ax: Axes,
    xs: Sequence[float],
    ys: Sequence[float],
    labels: Sequence[str],
    radii: Sequence[float],
    fontsize: float = TEXT_SIZES["small"],
) -> list:
    """Write each label next to its point, covering no other label, point or axis edge.

    A deterministic greedy placement: the labels are placed one by one, the points with
    the most neighbours first; each takes the first of a fixed list of places around its
    point (:data:`_DIRECTIONS` at the gaps :data:`_GAPS`) whose box, measured by the
    renderer, stays inside the axes and overlaps none of the labels placed before it nor
    any marker. When no place is free, the one with the least overlap is taken. Labels
    set apart from their point get a thin leader line.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes whose limits are final.
    xs, ys : sequence of float
        The points, in data coordinates.
    labels : sequence of str
        One label per point.
    radii : sequence of float
        The radius of each point's marker, in points.
    fontsize : float
        Size of the labels.

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels, in the order of the points.
    """
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes' limits, so data -> pixel is final
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72  # pixels per point
    centres = ax.transData.transform(np.column_stack([xs, ys]))
    markers = [
        Bbox.from_bounds(x - r * scale, y - r * scale, 2 * r * scale, 2 * r * scale)
        for (x, y), r in zip(centres, radii)
    ]
    frame = ax.get_window_extent(renderer)
    # The most crowded points choose first, while they still have free places.
    reach = 40 * scale
    crowding = [
        sum(np.hypot(*(centres[k] - centre)) < reach for k in range(len(centres)))
        for centre in centres
    ]
    order = sorted(range(len(labels)), key=lambda k: (-crowding[k], k))
    placed: list[Bbox] = []
    annotations: dict[int, Annotation] = {}
    for index in order:
        # A probe, moved through the places and measured (the text alone, no leader).
        probe = ax.annotate(
            labels[index],
            (xs[index], ys[index]),
            xytext=(0.0, 0.0),
            textcoords="offset points",
            fontsize=fontsize,
        )
        best, best_cost = None, None
        for gap in _GAPS:
            for dx, dy in _DIRECTIONS:
                distance = radii[index] + gap
                offset = (dx * distance, dy * distance)
                probe.xyann = offset
                probe.set_ha(_ALIGN_X[dx])
                probe.set_va(_ALIGN_Y[dy])
                probe.update_positions(renderer)  # xyann -> the text's place
                box = Text.get_window_extent(probe, renderer)
                outside = box.width * box.height - _overlap(box, frame)
                cost = (
                    sum(_overlap(box, other) for other in placed)
                    + sum(
                        _overlap(box, marker)
                        for k, marker in enumerate(markers)
                        if k != index
                    )
                    + 10 * outside
                )
                if best_cost is None or cost < best_cost:
                    best, best_cost = (offset, dx, dy, gap), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        probe.remove()
        offset, dx, dy, gap = best
        annotation = ax.annotate(
            labels[index],
            (xs[index], ys[index]),
            xytext=offset,
            textcoords="offset points",
            ha=_ALIGN_X[dx],
            va=_ALIGN_Y[dy],
            fontsize=fontsize,
            arrowprops=(
                dict(arrowstyle="-", color="0.6", lw=0.5, shrinkA=0, shrinkB=2)
                if gap > _GAPS[0]
                else None
            ),
        )
        annotation.update_positions(renderer)
        placed.append(Text.get_window_extent(annotation, renderer))
        annotations[index] = annotation
    return [annotations[k] for k in range(len(labels))]


def _marker_area(row: dict, largest: float) -> float:
    """Area of a point's marker (square points): it grows with the parameter count."""
    return 20 + 180 * row["params"] / largest


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
    ncols: int = 1,
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
    ncols : int
        Panels side by side; by default one above the other, each as wide as the book's
        column, which leaves room for the labels.

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
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(ncols, len(costs))
    nrows = -(-len(costs) // ncols)
    width = COLUMN_WIDTH / ncols
    fig, grid = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, 3.6 * nrows + 0.35),
        sharey=True,
        squeeze=False,
    )
    axes = list(grid.flat[: len(costs)])
    for unused in grid.flat[len(costs) :]:
        unused.remove()
    parts = list(dict.fromkeys(_PART_OF_CHAPTER.values()))
    colours = dict(zip(parts, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    largest = max(row["params"] for row in rows)
    baseline = rows[0]
    for ax, key in zip(axes, costs):
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
                s=_marker_area(row, largest),
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
        ax.set_ylabel(accuracy.replace("_", " "))
        ax.yaxis.set_tick_params(labelleft=True)
    handles = [
        plt.Line2D(
            [], [], marker="o", ls="", color=colours[p], markeredgecolor="k", label=p
        )
        for p in parts
    ]
    fig.legend(
        handles=handles,
        fontsize=TEXT_SIZES["small"],
        loc="lower center",
        ncol=len(parts),
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    # The labels go in last, once the axes have their final size and place.
    for ax, key in zip(axes, costs):
        unit = _COST_UNITS.get(key, 1.0)
        _label_points(
            ax,
            [row[key] / unit for row in rows],
            [row[accuracy] for row in rows],
            [row["label"] for row in rows],
            [np.sqrt(_marker_area(row, largest)) / 2 for row in rows],
        )
    return fig
