"""Figures of the grouped-convolution chapter: channel-shuffle connectivity and the roofline."""

from __future__ import annotations

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .figure_style import TEXT_SIZES, _styled, _wrap


def _shuffle_positions(channels: int, groups: int) -> np.ndarray:
    """``new[p]``: where channel ``p`` lands after a channel shuffle with ``groups`` groups.

    Channel ``g * (C / groups) + i`` moves to ``i * groups + g`` (ShuffleNet's reshape,
    transpose, flatten), the permutation of :func:`convref.reference.channel_shuffle`.
    """
    per_group = channels // groups
    p = np.arange(channels)
    return (p % per_group) * groups + p // per_group


@_styled
def plot_shuffle_connectivity(
    channels: int,
    groups: int,
    connectivity: Optional[dict[bool, np.ndarray]] = None,
    highlight: Optional[int] = 0,
) -> Figure:
    """Two stacked grouped convolutions, without (top) and with (bottom) a channel shuffle between them.

    Left of each row, the wiring: input channels, the first grouped layer's outputs, the
    same channels after the shuffle (or unchanged, top row) and the second grouped layer's
    outputs. Boxes are coloured by the group of the *first* layer that their signal comes
    from, so the shuffle shows up as interleaved colours. The paths that reach output
    channel ``highlight`` are drawn dark and the inputs they start from opaque. Right, the
    connectivity matrix: which input channels (columns) each output channel (rows) depends on.

    Parameters
    ----------
    channels : int
        Channels of every layer (``C``).
    groups : int
        Groups of both convolutions (and of the shuffle); must divide ``channels``.
    connectivity : dict, optional
        ``{False: matrix, True: matrix}``, boolean ``(C, C)`` matrices to draw on the right,
        e.g. measured with :func:`convref.experiments.channel_connectivity`. By default they
        are computed from the wiring.
    highlight : int or None
        Output channel whose paths are emphasised; ``None`` emphasises none.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if channels < 1 or groups < 1 or channels % groups:
        raise ValueError(
            f"groups must divide channels, got groups={groups} for {channels} channels"
        )
    if highlight is not None and not 0 <= highlight < channels:
        raise ValueError(
            f"highlight must be an output channel in [0, {channels}), got {highlight}"
        )
    per_group = channels // groups
    group_of = np.arange(channels) // per_group
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(
        2,
        2,
        figsize=(7.8, 2 * (0.22 * channels + 1.3)),
        gridspec_kw={"width_ratios": [2.2, 1]},
    )
    xs = (0.0, 1.0, 2.0, 3.0)  # input, after conv 1, after the shuffle, after conv 2
    y = channels - 1 - np.arange(channels)  # channel 0 at the top

    for row, shuffle in enumerate((False, True)):
        ax_wire, ax_matrix = axes[row]
        new_position = (
            _shuffle_positions(channels, groups) if shuffle else np.arange(channels)
        )
        source = np.empty(
            channels, dtype=int
        )  # source[q]: the channel now at position q
        source[new_position] = np.arange(channels)
        # Masks of the two grouped layers (output x input) and the permutation, as matrices.
        block = group_of[:, None] == group_of[None, :]
        permutation = np.zeros((channels, channels), dtype=bool)
        permutation[new_position, np.arange(channels)] = True
        wiring = (block.astype(int) @ permutation.astype(int) @ block.astype(int)) > 0
        # Which channels at each stage lie on a path to the highlighted output.
        on_path = [np.zeros(channels, dtype=bool) for _ in xs]
        if highlight is not None:
            on_path[3][highlight] = True
            on_path[2] = block[highlight]
            on_path[1] = on_path[2][new_position]
            on_path[0] = (block.astype(int) @ on_path[1].astype(int)) > 0

        def line(
            x0: float, i: int, x1: float, j: int, color: object, emphasised: bool
        ) -> None:
            ax_wire.plot(
                [x0 + 0.12, x1 - 0.12],
                [y[i], y[j]],
                color=color if not emphasised else "#222222",
                lw=1.4 if emphasised else 0.7,
                alpha=0.9 if emphasised else 0.25,
                zorder=2 if emphasised else 1,
            )

        for o in range(
            channels
        ):  # conv 1 and conv 2: each output reads its group's inputs
            for c in range(channels):
                if block[o, c]:
                    line(
                        xs[0],
                        c,
                        xs[1],
                        o,
                        colors(group_of[c] % 10),
                        on_path[0][c] and on_path[1][o],
                    )
                    line(xs[2], c, xs[3], o, "#777777", on_path[2][c] and on_path[3][o])
        for p in range(channels):  # the shuffle (or the identity)
            line(
                xs[1],
                p,
                xs[2],
                new_position[p],
                colors(group_of[p] % 10),
                on_path[1][p],
            )
        origin = [
            group_of,
            group_of,
            group_of[source],
            None,
        ]  # first-layer group behind each box
        for stage, x in enumerate(xs):
            for i in range(channels):
                face = (
                    "#dddddd"
                    if origin[stage] is None
                    else colors(origin[stage][i] % 10)
                )
                alpha = (
                    1.0
                    if (highlight is None or on_path[stage][i] or stage > 0)
                    else 0.3
                )
                edge = "#000000" if on_path[stage][i] else "#555555"
                ax_wire.add_patch(
                    Rectangle(
                        (x - 0.12, y[i] - 0.4),
                        0.24,
                        0.8,
                        facecolor=face,
                        alpha=alpha,
                        edgecolor=edge,
                        lw=1.4 if on_path[stage][i] else 0.5,
                        zorder=3,
                    )
                )
        labels = (
            "input",
            f"conv 1\n({groups} groups)",
            "channel shuffle" if shuffle else "(no shuffle)",
            f"conv 2\n({groups} groups)",
        )
        for x, label in zip(xs, labels):
            ax_wire.text(
                x,
                channels + 0.1,
                label,
                ha="center",
                va="bottom",
                fontsize=TEXT_SIZES["small"],
            )
        ax_wire.set_xlim(-0.4, 3.4)
        ax_wire.set_ylim(-0.8, channels + 1.3)
        ax_wire.axis("off")

        matrix = (
            wiring
            if connectivity is None
            else np.asarray(connectivity[shuffle], dtype=bool)
        )
        # Connected cells in the colour of the input's group (as on the left), the others white.
        cells = np.ones((channels, channels, 3))
        cells[matrix] = np.array([colors(g % 10)[:3] for g in group_of])[
            np.nonzero(matrix)[1]
        ]
        ax_matrix.imshow(cells, interpolation="nearest")
        if highlight is not None:
            ax_matrix.add_patch(
                Rectangle(
                    (-0.5, highlight - 0.5),
                    channels,
                    1,
                    fill=False,
                    edgecolor="#000000",
                    lw=2,
                )
            )
        counts = matrix.sum(axis=1)
        reach = (
            f"{counts.min()}"
            if counts.min() == counts.max()
            else f"{counts.min()}-{counts.max()}"
        )
        ax_matrix.set_title(
            f"{'with' if shuffle else 'without'} shuffle: each output\ndepends on {reach} of {channels} inputs",
            fontsize=TEXT_SIZES["label"],
        )
        ax_matrix.set_xlabel("input channel")
        ax_matrix.set_ylabel("output channel")
        ax_matrix.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_matrix.yaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{channels} channels, two grouped convolutions with {groups} groups"
    if highlight is not None:
        title += f"; dark: the paths to output {highlight}"
    fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_roofline(
    points: dict[str, tuple[float, float]],
    peak: Optional[float] = None,
    bandwidth: Optional[float] = None,
    title: str = "",
    ax: Optional[Axes] = None,
) -> Figure:
    """A roofline plot (Williams, Waterman & Patterson 2009): throughput against arithmetic intensity.

    Both axes are logarithmic. Each point is one measured layer. The roof, when both
    ceilings are given, is ``min(peak, bandwidth * intensity)``: to the left of the ridge
    point ``peak / bandwidth`` a layer cannot run faster than memory delivers its bytes.

    Parameters
    ----------
    points : dict
        ``{name: (intensity, throughput)}``: multiply-adds per byte and measured
        multiply-adds per second (in units of 10^9, "G mult-adds/s").
    peak : float, optional
        Compute ceiling in G mult-adds/s (e.g. a large matrix product's measured rate).
    bandwidth : float, optional
        Memory ceiling in GB/s (e.g. a large copy's measured rate).
    title : str
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    intensities = [i for i, _ in points.values()]
    low, high = min(intensities + [1.0]) / 3, max(intensities + [10.0]) * 3
    if peak is not None and bandwidth is not None:
        x = np.geomspace(low, high, 200)
        ax.plot(
            x,
            np.minimum(peak, bandwidth * x),
            color="#333333",
            lw=1.5,
            label="roof: min(peak, bandwidth x I)",
        )
        ridge = peak / bandwidth
        ax.axvline(ridge, color="#999999", ls=":", lw=1)
        bottom = (
            min([t for _, t in points.values()] + [peak]) / 3
        )  # the lower y limit, set below
        ax.text(
            ridge * 1.1,
            bottom * 1.15,
            f"ridge point:\n{ridge:.3g} mult-adds/B",
            fontsize=TEXT_SIZES["small"],
            color="#555555",
        )
    markers = "osD^vP*X"
    for index, (name, (intensity, throughput)) in enumerate(points.items()):
        ax.plot(
            intensity,
            throughput,
            marker=markers[index % len(markers)],
            ls="none",
            ms=8,
            color=plt.get_cmap("tab10")(index % 10),
            label=name,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    values = [t for _, t in points.values()] + ([peak] if peak is not None else [])
    ax.set_ylim(min(values) / 3, max(values) * 2)  # room for the labels above the roof
    ax.set_xlabel("arithmetic intensity (multiply-adds per byte)")
    ax.set_ylabel("throughput (G multiply-adds / s)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    return ax.figure
