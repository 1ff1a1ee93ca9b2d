"""Matplotlib figures used by the book; each returns its ``Figure`` and needs no widget."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .arith import conv_output_size

__all__ = [
    "show_source",
    "plot_conv_arithmetic",
    "plot_conv_steps",
    "plot_conv_cases",
    "plot_channel_groups",
    "plot_images",
    "plot_matrix",
    "plot_curves",
    "plot_cost_shares",
]

def show_source(obj: object) -> "IPython.display.Code":
    """The package's own source of ``obj``, syntax-highlighted in a notebook and in the book.

    Chapters show code this way (never a copy pasted into a cell), so what the reader
    sees is exactly what the tests run.
    """
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


INPUT_COLOR = "#4c72b0"
PAD_COLOR = "#ffffff"
TAP_COLOR = "#dd8452"
OUTPUT_COLOR = "#55a868"


def _grid(ax: Axes, top: float, left: float, rows: int, cols: int, colors: np.ndarray, alpha: np.ndarray) -> None:
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                Rectangle(
                    (left + j, top - i - 1), 1, 1, facecolor=colors[i][j], alpha=alpha[i][j],
                    edgecolor="#333333", linewidth=0.6,
                )
            )


def plot_conv_arithmetic(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    step: int = 0,
    ax: Optional[Axes] = None,
) -> Figure:
    """Draw one step of a 2-D convolution over a square input, in the style of Dumoulin & Visin.

    Left: the input (blue) inside its zero padding (white), with the kernel taps that
    produce output ``step`` (orange). Right: the output (green), with that position marked.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        The convolution's geometry (square, the same on both axes).
    step : int
        Which output position to show, in row-major order (wraps around).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    out = conv_output_size(input_size, kernel_size, stride, padding, dilation)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    out_row, out_col = divmod(step % (out * out), out)
    padded = input_size + 2 * padding
    colors = np.full((padded, padded), INPUT_COLOR, dtype=object)
    colors[:padding, :] = colors[padded - padding :, :] = PAD_COLOR
    colors[:, :padding] = colors[:, padded - padding :] = PAD_COLOR
    alpha = np.where(colors == PAD_COLOR, 1.0, 0.35)
    for u in range(kernel_size):
        for v in range(kernel_size):
            i, j = out_row * stride + u * dilation, out_col * stride + v * dilation
            colors[i, j], alpha[i, j] = TAP_COLOR, 0.9
    _grid(ax, padded, 0, padded, padded, colors, alpha)

    left = padded + 2
    top = padded / 2 + out / 2
    out_colors = np.full((out, out), OUTPUT_COLOR, dtype=object)
    out_alpha = np.full((out, out), 0.35)
    out_alpha[out_row, out_col] = 0.95
    _grid(ax, top, left, out, out, out_colors, out_alpha)

    ax.set_xlim(-0.5, left + out + 0.5)
    ax.set_ylim(-0.5, padded + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        f"input {input_size}, kernel {kernel_size}, stride {stride}, padding {padding}, "
        f"dilation {dilation} -> output {out}",
        fontsize=9,
    )
    return ax.figure


def plot_conv_steps(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    steps: Sequence[int] = (0, 1, 2),
) -> Figure:
    """Several steps of :func:`plot_conv_arithmetic` side by side."""
    fig, axes = plt.subplots(1, len(steps), figsize=(4.2 * len(steps), 2.8))
    for ax, step in zip(np.atleast_1d(axes), steps):
        plot_conv_arithmetic(input_size, kernel_size, stride, padding, dilation, step, ax=ax)
        ax.set_title(f"output position {step}", fontsize=9)
    fig.suptitle(
        f"input {input_size}, kernel {kernel_size}, stride {stride}, padding {padding}, dilation {dilation}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_conv_cases(cases: dict[str, dict], steps: Sequence[int] = (0, 1, 2)) -> Figure:
    """Several geometries, one row each, every row showing a few steps of :func:`plot_conv_arithmetic`.

    Parameters
    ----------
    cases : dict
        ``{name: geometry}``, where ``geometry`` holds the keyword arguments of
        :func:`plot_conv_arithmetic` (``input_size``, ``kernel_size`` and optionally
        ``stride``, ``padding``, ``dilation``).
    steps : sequence of int
        Output positions to show in every row (row-major order).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = plt.figure(figsize=(3.4 * len(steps), 2.9 * len(cases)), layout="constrained")
    rows = fig.subfigures(len(cases), 1, squeeze=False)[:, 0]
    for row, (name, geometry) in zip(rows, cases.items()):
        geometry = {"stride": 1, "padding": 0, "dilation": 1, **geometry}
        out = conv_output_size(
            geometry["input_size"], geometry["kernel_size"], geometry["stride"], geometry["padding"], geometry["dilation"]
        )
        axes = row.subplots(1, len(steps), squeeze=False)[0]
        for ax, step in zip(axes, steps):
            plot_conv_arithmetic(**geometry, step=step, ax=ax)
            ax.set_title(f"output position {step}", fontsize=8)
        row.suptitle(
            f"{name}: i={geometry['input_size']}, k={geometry['kernel_size']}, s={geometry['stride']}, "
            f"p={geometry['padding']}, d={geometry['dilation']}  ->  o={out}",
            fontsize=10,
        )
    return fig


def plot_channel_groups(in_channels: int, out_channels: int, groups: Sequence[int] = (1, 2, 4)) -> Figure:
    """Which input channels feed which output channels, for several values of ``groups``.

    One panel per value: input channels on the left, output channels on the right,
    a line for every (input, output) pair that shares a kernel slice, coloured by group.
    The number of lines is the number of 2-D kernels, i.e. the weight's
    ``C_out * C_in / groups`` slices of size ``kh x kw``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; every value in ``groups`` must divide both.
    groups : sequence of int
        The values of ``groups`` to draw side by side.

    Returns
    -------
    matplotlib.figure.Figure
    """
    for g in groups:
        if g < 1 or in_channels % g or out_channels % g:
            raise ValueError(
                f"groups must divide in_channels and out_channels, got groups={g} "
                f"for {in_channels} -> {out_channels} channels"
            )
    fig, axes = plt.subplots(1, len(groups), figsize=(2.9 * len(groups), 0.32 * max(in_channels, out_channels) + 1.6))
    colors = plt.get_cmap("tab10")
    height = max(in_channels, out_channels)

    def ys(count: int) -> np.ndarray:  # centre both columns vertically
        return (height - count) / 2 + np.arange(count)[::-1]

    for ax, g in zip(np.atleast_1d(axes), groups):
        y_in, y_out = ys(in_channels), ys(out_channels)
        per_in, per_out = in_channels // g, out_channels // g
        for o in range(out_channels):
            group = o // per_out
            for c in range(group * per_in, (group + 1) * per_in):  # the inputs that output o sums over
                ax.plot([0.12, 0.88], [y_in[c] + 0.5, y_out[o] + 0.5], color=colors(group % 10), lw=0.9, alpha=0.7)
        for x, ys_, per in ((-0.12, y_in, per_in), (0.88, y_out, per_out)):
            for index, y in enumerate(ys_):
                ax.add_patch(
                    Rectangle((x, y + 0.1), 0.24, 0.8, facecolor=colors((index // per) % 10), edgecolor="#333333", lw=0.6)
                )
        ax.text(0.0, height + 0.3, "input", ha="center", fontsize=8)
        ax.text(1.0, height + 0.3, "output", ha="center", fontsize=8)
        ax.set_xlim(-0.2, 1.2)
        ax.set_ylim(-0.2, height + 1.0)
        ax.axis("off")
        ax.set_title(
            f"groups={g}: weight ({out_channels}, {per_in}, kh, kw)\n"
            f"{out_channels * per_in} kernel slices of kh x kw",
            fontsize=9,
        )
    fig.tight_layout()
    return fig


def plot_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] = (),
    cmap: str = "gray",
    symmetric: Sequence[bool] = (),
    ncols: Optional[int] = None,
    size: float = 2.6,
    limits: Optional[tuple[float, float]] = None,
    colorbar: bool = False,
) -> Figure:
    """Show 2-D arrays side by side.

    Parameters
    ----------
    images : sequence of 2-D arrays
        What to draw.
    titles : sequence of str
        One title per image (optional).
    cmap : str
        Colour map for unsigned images; signed ones (see ``symmetric``) use ``"RdBu_r"``.
    symmetric : sequence of bool
        Per image: centre the colour scale on zero (for filter responses and kernels).
    ncols : int, optional
        Images per row (all in one row by default).
    size : float
        Side of each panel in inches.
    limits : (float, float), optional
        One fixed colour range for the unsigned images, so that panels compare (a constant
        image then shows its value instead of the bottom of an auto-scaled range).
    colorbar : bool
        Add a colour bar to every panel.
    """
    count = len(images)
    ncols = ncols or count
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        image = np.asarray(images[index])
        if index < len(symmetric) and symmetric[index]:
            limit = float(np.abs(image).max()) or 1.0
            shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            vmin, vmax = limits if limits is not None else (None, None)
            shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        if index < len(titles):
            ax.set_title(titles[index], fontsize=9)
    fig.tight_layout()
    return fig


def plot_matrix(
    matrix: np.ndarray,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    ax: Optional[Axes] = None,
    annotate: bool = False,
    fmt: str = "g",
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
) -> Figure:
    """Show a matrix as a heat map with its shape in the title (e.g. an im2col column matrix).

    Parameters
    ----------
    matrix : 2-D array
        What to draw.
    title, xlabel, ylabel : str
        Labels; the shape is appended to the title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    annotate : bool
        Write each entry's value in its cell (for small matrices, e.g. to follow indices).
    fmt : str
        Format spec of the annotations.
    vmin, vmax : float, optional
        Colour range (default: the matrix's own), to share one scale between panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    matrix = np.asarray(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", interpolation="nearest", vmin=vmin, vmax=vmax)
    if annotate:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(matrix):
            # Dark cells of viridis need light text and vice versa.
            color = "white" if value < middle else "black"
            ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=7, color=color)
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
    else:
        ax.figure.colorbar(image, ax=ax, fraction=0.04)
    ax.set_title(f"{title} {tuple(matrix.shape)}".strip(), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax.figure


def plot_curves(
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    ax: Optional[Axes] = None,
) -> Figure:
    """Line plot of named curves against their index (e.g. activation scale against depth)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.4))
    for name, values in curves.items():
        ax.plot(range(len(values)), values, marker="o", markersize=3, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # the index counts layers, steps...
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_cost_shares(shares: dict[str, tuple[float, float]], title: str = "") -> Figure:
    """Horizontal bars of each layer kind's share of parameters and of multiply-adds (in %).

    Parameters
    ----------
    shares : dict
        ``{kind: (percent_of_params, percent_of_mult_adds)}``.
    title : str
        Figure title.
    """
    kinds = list(shares)
    params = [shares[k][0] for k in kinds]
    mult_adds = [shares[k][1] for k in kinds]
    positions = np.arange(len(kinds))
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(kinds) + 1.4))
    ax.barh(positions - 0.2, params, height=0.4, label="parameters", color=INPUT_COLOR)
    ax.barh(positions + 0.2, mult_adds, height=0.4, label="multiply-adds", color=TAP_COLOR)
    ax.set_yticks(positions, kinds)
    ax.invert_yaxis()
    ax.set_xlabel("share of the network (%)")
    ax.set_xlim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _shuffle_positions(channels: int, groups: int) -> np.ndarray:
    """``new[p]``: where channel ``p`` lands after a channel shuffle with ``groups`` groups.

    Channel ``g * (C / groups) + i`` moves to ``i * groups + g`` (ShuffleNet's reshape,
    transpose, flatten), the permutation of :func:`convref.reference.channel_shuffle`.
    """
    per_group = channels // groups
    p = np.arange(channels)
    return (p % per_group) * groups + p // per_group


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
        raise ValueError(f"groups must divide channels, got groups={groups} for {channels} channels")
    if highlight is not None and not 0 <= highlight < channels:
        raise ValueError(f"highlight must be an output channel in [0, {channels}), got {highlight}")
    per_group = channels // groups
    group_of = np.arange(channels) // per_group
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(
        2, 2, figsize=(11, 2 * (0.24 * channels + 1.3)), gridspec_kw={"width_ratios": [2.2, 1]}
    )
    xs = (0.0, 1.0, 2.0, 3.0)  # input, after conv 1, after the shuffle, after conv 2
    y = channels - 1 - np.arange(channels)  # channel 0 at the top

    for row, shuffle in enumerate((False, True)):
        ax_wire, ax_matrix = axes[row]
        new_position = _shuffle_positions(channels, groups) if shuffle else np.arange(channels)
        source = np.empty(channels, dtype=int)  # source[q]: the channel now at position q
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

        def line(x0: float, i: int, x1: float, j: int, color: object, emphasised: bool) -> None:
            ax_wire.plot(
                [x0 + 0.12, x1 - 0.12], [y[i], y[j]], color=color if not emphasised else "#222222",
                lw=1.4 if emphasised else 0.7, alpha=0.9 if emphasised else 0.25, zorder=2 if emphasised else 1,
            )

        for o in range(channels):  # conv 1 and conv 2: each output reads its group's inputs
            for c in range(channels):
                if block[o, c]:
                    line(xs[0], c, xs[1], o, colors(group_of[c] % 10), on_path[0][c] and on_path[1][o])
                    line(xs[2], c, xs[3], o, "#777777", on_path[2][c] and on_path[3][o])
        for p in range(channels):  # the shuffle (or the identity)
            line(xs[1], p, xs[2], new_position[p], colors(group_of[p] % 10), on_path[1][p])
        origin = [group_of, group_of, group_of[source], None]  # first-layer group behind each box
        for stage, x in enumerate(xs):
            for i in range(channels):
                face = "#dddddd" if origin[stage] is None else colors(origin[stage][i] % 10)
                alpha = 1.0 if (highlight is None or on_path[stage][i] or stage > 0) else 0.3
                edge = "#000000" if on_path[stage][i] else "#555555"
                ax_wire.add_patch(
                    Rectangle((x - 0.12, y[i] - 0.4), 0.24, 0.8, facecolor=face, alpha=alpha,
                              edgecolor=edge, lw=1.4 if on_path[stage][i] else 0.5, zorder=3)
                )
        labels = ("input", f"conv 1\n({groups} groups)", "channel shuffle" if shuffle else "(no shuffle)",
                  f"conv 2\n({groups} groups)")
        for x, label in zip(xs, labels):
            ax_wire.text(x, channels + 0.1, label, ha="center", va="bottom", fontsize=8)
        ax_wire.set_xlim(-0.4, 3.4)
        ax_wire.set_ylim(-0.8, channels + 1.3)
        ax_wire.axis("off")

        matrix = wiring if connectivity is None else np.asarray(connectivity[shuffle], dtype=bool)
        # Connected cells in the colour of the input's group (as on the left), the others white.
        cells = np.ones((channels, channels, 3))
        cells[matrix] = np.array([colors(g % 10)[:3] for g in group_of])[np.nonzero(matrix)[1]]
        ax_matrix.imshow(cells, interpolation="nearest")
        if highlight is not None:
            ax_matrix.add_patch(
                Rectangle((-0.5, highlight - 0.5), channels, 1, fill=False, edgecolor="#000000", lw=2)
            )
        counts = matrix.sum(axis=1)
        reach = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
        ax_matrix.set_title(
            f"{'with' if shuffle else 'without'} shuffle: each output\ndepends on {reach} of {channels} inputs",
            fontsize=9,
        )
        ax_matrix.set_xlabel("input channel")
        ax_matrix.set_ylabel("output channel")
        ax_matrix.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_matrix.yaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{channels} channels, two grouped convolutions with {groups} groups"
    if highlight is not None:
        title += f"; dark: the paths to output {highlight}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
        ax.plot(x, np.minimum(peak, bandwidth * x), color="#333333", lw=1.5, label="roof: min(peak, bandwidth x I)")
        ridge = peak / bandwidth
        ax.axvline(ridge, color="#999999", ls=":", lw=1)
        bottom = min([t for _, t in points.values()] + [peak]) / 3  # the lower y limit, set below
        ax.text(ridge * 1.1, bottom * 1.15, f"ridge point:\n{ridge:.3g} mult-adds/B", fontsize=8, color="#555555")
    markers = "osD^vP*X"
    for index, (name, (intensity, throughput)) in enumerate(points.items()):
        ax.plot(intensity, throughput, marker=markers[index % len(markers)], ls="none", ms=8,
                color=plt.get_cmap("tab10")(index % 10), label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    values = [t for _, t in points.values()] + ([peak] if peak is not None else [])
    ax.set_ylim(min(values) / 3, max(values) * 2)  # room for the labels above the roof
    ax.set_xlabel("arithmetic intensity (multiply-adds per byte)")
    ax.set_ylabel("throughput (G multiply-adds / s)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


__all__ += ["plot_shuffle_connectivity", "plot_roofline"]


def _low_rank(kernel: np.ndarray, rank: int) -> np.ndarray:
    """The rank-``rank`` truncated-SVD approximation of a 2-D kernel (``columns.T @ rows``)."""
    from .reference import factorize_kernel

    columns, rows = factorize_kernel(kernel, rank)
    return columns.T @ rows


def plot_low_rank_kernels(
    kernels: dict[str, np.ndarray],
    ranks: Sequence[int] = (1, 2, 3),
    image: Optional[np.ndarray] = None,
) -> Figure:
    r"""Kernels next to their best rank-``r`` approximations, with the error against the rank.

    One row per kernel: the kernel, its truncated-SVD approximation for every rank in
    ``ranks`` (same colour scale as the kernel, red positive, blue negative), and a plot of
    the relative error against the rank, from 0 (the zero kernel) to full rank. The error
    curve is drawn twice for the kernel: the Eckart--Young value
    :math:`\sqrt{\sum_{i>r} \sigma_i^2} / \lVert K \rVert_F` from the singular values (line)
    and the measured :math:`\lVert K - K_r \rVert_F / \lVert K \rVert_F` (dots); they coincide.

    Parameters
    ----------
    kernels : dict
        ``{name: 2-D kernel}``.
    ranks : sequence of int
        Ranks of the approximations to draw.
    image : 2-D array, optional
        If given, the error of filtering it with the rank-``r`` kernel instead of the full
        one (``"same"`` zero padding, relative Frobenius norm) is added to each error plot.
        It can exceed 1, the error of the zero kernel: a truncation that keeps what the kernel
        cancels (e.g. the mean of a zero-sum kernel) can be worse than no filter at all.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .reference import conv2d

    ncols = len(ranks) + 2
    fig, axes = plt.subplots(len(kernels), ncols, figsize=(2.2 * ncols + 0.6, 2.2 * len(kernels)), squeeze=False)
    for row, (name, kernel) in zip(axes, kernels.items()):
        kernel = np.asarray(kernel, dtype=np.float64)
        limit = float(np.abs(kernel).max()) or 1.0  # one symmetric scale per row, so panels compare
        norm = np.linalg.norm(kernel)
        sigma = np.linalg.svd(kernel, compute_uv=False)
        panels = [(kernel, f"{name}\n{kernel.shape[0]}x{kernel.shape[1]}")]
        for r in ranks:
            approx = _low_rank(kernel, r)
            panels.append((approx, f"rank {r}: error {np.linalg.norm(kernel - approx) / norm:.0%}"))
        for ax, (matrix, title) in zip(row, panels):
            ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        # Error against rank: r = 0 (nothing kept) up to full rank (exact).
        all_ranks = np.arange(len(sigma) + 1)
        tail = np.array([np.sqrt(np.sum(sigma[r:] ** 2)) for r in all_ranks])  # sum of the dropped sigma^2
        measured = [np.linalg.norm(kernel - _low_rank(kernel, r)) if r else norm for r in all_ranks]
        ax = row[-1]
        ax.plot(all_ranks, tail / norm, color=INPUT_COLOR, label="Eckart-Young")
        ax.plot(all_ranks, np.asarray(measured) / norm, "o", color=INPUT_COLOR, markersize=3, label="kernel")
        if image is not None:
            full = conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
            errors = [1.0] + [
                np.linalg.norm(conv2d(image[None, None], _low_rank(kernel, r)[None, None], padding="same")[0, 0] - full)
                / np.linalg.norm(full)
                for r in all_ranks[1:]
            ]
            ax.plot(all_ranks, errors, "s--", color=TAP_COLOR, markersize=3, label="filtered image")
            top = max(1.0, max(errors))  # an approximation can be worse than no filter at all
        else:
            top = 1.0
        ax.set_ylim(-0.05 * top, 1.05 * top)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("rank", fontsize=8)
        ax.set_ylabel("relative error", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_low_rank_filtering(image: np.ndarray, kernel: np.ndarray, rank: int, name: str = "") -> Figure:
    """Filter ``image`` with a kernel and with its rank-``rank`` approximation, and show the difference.

    Five panels: the kernel, its rank-``rank`` approximation (same colour scale), the image
    filtered with the full kernel (:func:`convref.reference.conv2d`), the image filtered with
    the approximation as ``rank`` pairs of 1-D convolutions (one
    :func:`convref.reference.separable_conv2d` call with ``rank`` middle channels), and the
    difference of the two outputs (on its own colour scale; the title gives its size
    relative to the full output). ``"same"`` zero padding throughout.

    Parameters
    ----------
    image : 2-D array
        The picture to filter, e.g. :func:`convref.data.test_image`.
    kernel : 2-D array
        The kernel, shape ``(kh, kw)``.
    rank : int
        Number of rank-1 terms kept (at most ``min(kh, kw)``).
    name : str
        The kernel's name, for the titles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .reference import conv2d, factorize_kernel, separable_conv2d

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    columns, rows = factorize_kernel(kernel, rank)
    approx = columns.T @ rows
    full = conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
    # rank terms = rank middle channels: a (rank, 1, kh, 1) column stage, then a (1, rank, 1, kw) row stage.
    separable = separable_conv2d(
        image[None, None], columns[:, None, :, None], rows[None, :, None, :], padding="same"
    )[0, 0]
    difference = separable - full
    limit = float(np.abs(kernel).max()) or 1.0
    if kernel.min() < 0:  # negative taps give signed outputs: red/blue around zero
        out_style = ("RdBu_r", -(float(np.abs(full).max()) or 1.0), float(np.abs(full).max()) or 1.0)
    else:  # grey levels, one range for both outputs so that they compare
        out_style = ("gray", float(full.min()), float(full.max()))
    fig, axes = plt.subplots(1, 5, figsize=(13, 2.9))
    label = f"{name} " if name else ""
    panels = [
        (kernel, f"kernel {label}{kernel.shape[0]}x{kernel.shape[1]}", "RdBu_r", -limit, limit),
        (approx, f"rank {rank}: error {np.linalg.norm(kernel - approx) / np.linalg.norm(kernel):.1%}", "RdBu_r", -limit, limit),
        (full, "filtered with the full kernel", *out_style),
        (separable, f"with rank {rank}: {2 * rank} 1-D passes", *out_style),
    ]
    diff_limit = float(np.abs(difference).max()) or 1.0
    panels.append(
        (difference, f"difference: {np.linalg.norm(difference) / np.linalg.norm(full):.1%} of the output", "RdBu_r", -diff_limit, diff_limit)
    )
    for ax, (matrix, title, cmap, vmin, vmax) in zip(axes, panels):
        shown = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.colorbar(shown, ax=axes[-1], fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


__all__ += ["plot_low_rank_kernels", "plot_low_rank_filtering"]
