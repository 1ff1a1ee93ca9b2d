"""Matplotlib figures used by the book; each returns its ``Figure`` and needs no widget.

Every ``plot_*`` function draws in the book's one figure style, :data:`STYLE`, applied for the
duration of the call only: importing :mod:`convref` leaves matplotlib's global settings (and
so your own figures) alone. :func:`use_style` adopts the style globally, as the chapters do
for the few figures they draw with matplotlib directly; :func:`style` applies it to a block.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Optional, Sequence, TypeVar

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.rcsetup import cycler
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from .arith import conv_output_size

__all__ = [
    "STYLE",
    "use_style",
    "style",
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
#: The book's figure style: matplotlib ``rcParams`` that every ``plot_*`` function runs under
#: (:func:`style`), or that :func:`use_style` makes global. Text sizes step down from titles
#: to tick labels; the colour cycle is a muted, colour-blind-friendlier palette whose first
#: three entries are the input, kernel-tap and output colours of the convolution diagrams;
#: grids are light and drawn only where a function asks for one; figures have a white
#: background so that they read the same on the book's light and dark themes.
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.edgecolor": "white",
    "figure.titlesize": 11,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.linewidth": 0.8,
    "axes.labelcolor": "#222222",
    "axes.titlepad": 6.0,
    "axes.grid": False,
    "axes.spines.top": True,
    "axes.spines.right": True,
    "axes.prop_cycle": cycler(
        color=["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]
    ),
    "grid.color": "#b0b0b0",
    "grid.linestyle": "-",
    "grid.linewidth": 0.6,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.0,
    "patch.linewidth": 0.8,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "image.cmap": "viridis",
    "image.interpolation": "nearest",
}

_Plot = TypeVar("_Plot", bound=Callable)


def use_style() -> None:
    """Make :data:`STYLE` matplotlib's global style (for figures drawn without :mod:`convref.viz`).

    The chapters call it once, after their imports. ``matplotlib.rcdefaults()`` undoes it.
    """
    matplotlib.rcParams.update(STYLE)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """A context in which matplotlib draws in :data:`STYLE`; the previous settings return after it.

    Yields
    ------
    None
        The block runs with :data:`STYLE` applied.

    Examples
    --------
    >>> with style():
    ...     fig, ax = plt.subplots()
    """
    with matplotlib.rc_context(STYLE):
        yield


def _styled(plot: _Plot) -> _Plot:
    """Run a plotting function under :data:`STYLE` (the marker ``_convref_styled`` lets a test find it)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    wrapper._convref_styled = True
    return wrapper  # type: ignore[return-value]


def show_source(obj: object) -> "IPython.display.Code":
    """The package's own source of ``obj``, syntax-highlighted in a notebook and in the book.

    Chapters show code this way (never a copy pasted into a cell), so what the reader
    sees is exactly what the tests run.

    Parameters
    ----------
    obj : module, class, function or method
        Anything :func:`inspect.getsource` accepts.

    Returns
    -------
    IPython.display.Code
        The source, rendered as a highlighted code block.
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


@_styled
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


@_styled
def plot_conv_steps(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    steps: Sequence[int] = (0, 1, 2),
) -> Figure:
    """Several steps of :func:`plot_conv_arithmetic` side by side.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        The convolution's geometry (square, the same on both axes).
    steps : sequence of int
        The output positions to show, one panel each, in row-major order.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per step.
    """
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


@_styled
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


@_styled
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


@_styled
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
    images : sequence of numpy.ndarray
        The 2-D arrays ``(H, W)`` to draw (the sizes may differ).
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

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image (unused grid cells are hidden).
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


@_styled
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
    matrix : numpy.ndarray
        What to draw, shape ``(rows, cols)``.
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


@_styled
def plot_curves(
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    ax: Optional[Axes] = None,
) -> Figure:
    """Line plot of named curves against their index (e.g. activation scale against depth).

    Parameters
    ----------
    curves : dict of str to sequence of float
        ``{label: values}``; value ``i`` is drawn at ``x = i``.
    xlabel, ylabel : str
        Axis labels.
    title : str
        Axes title.
    logy : bool
        Use a logarithmic y axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure that holds the axes.
    """
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


@_styled
def plot_cost_shares(shares: dict[str, tuple[float, float]], title: str = "") -> Figure:
    """Horizontal bars of each layer kind's share of parameters and of multiply-adds (in %).

    Parameters
    ----------
    shares : dict
        ``{kind: (percent_of_params, percent_of_mult_adds)}``.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
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


@_styled
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
    kernels : dict of str to numpy.ndarray
        ``{name: kernel}``, each kernel of shape ``(kh, kw)``.
    ranks : sequence of int
        Ranks of the approximations to draw.
    image : numpy.ndarray, optional
        A picture ``(H, W)``. If given, the error of filtering it with the rank-``r`` kernel instead of the full
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


@_styled
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
    image : numpy.ndarray
        The picture ``(H, W)`` to filter, e.g. :func:`convref.data.test_image`.
    kernel : numpy.ndarray
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


# ---------------------------------------------------------------------------
# Dilated convolution: kernels with holes, space-to-batch, coverage, causal stacks, ERF
# ---------------------------------------------------------------------------

#: Colours of the ``d x d`` phases (residue classes) of a dilated convolution.
_PHASE_COLORS = plt.get_cmap("tab10")


@_styled
def plot_dilated_kernel(kernel: np.ndarray, dilations: Sequence[int] = (1, 2, 3)) -> Figure:
    """One 2-D kernel at several dilation rates: the same taps, spread apart, zeros in between.

    One panel per rate ``d``: :func:`convref.reference.dilate_kernel` of ``kernel``, the taps
    coloured by value (red positive, blue negative, one scale for all panels) and written in
    their cells, the inserted zeros ("holes") light grey. The panels share one scale, so the
    span ``d (k - 1) + 1`` can be compared by eye.

    Parameters
    ----------
    kernel : numpy.ndarray
        The kernel, shape ``(kh, kw)``.
    dilations : sequence of int
        The rates to draw (>= 1 each).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per rate; each holds the dilated kernel as a masked image (holes masked).
    """
    from .reference import dilate_kernel

    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-D array, got shape {kernel.shape}")
    kh, kw = kernel.shape
    limit = float(np.abs(kernel).max()) or 1.0
    largest = max(max(d * (kh - 1) + 1, d * (kw - 1) + 1) for d in dilations)
    fig, axes = plt.subplots(1, len(dilations), figsize=(2.7 * len(dilations), 3.3), squeeze=False)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#e6e6e6")  # masked cells (the holes) in light grey
    for ax, d in zip(axes[0], dilations):
        dilated = dilate_kernel(kernel[None, None], d)[0, 0]
        holes = np.ones(dilated.shape, dtype=bool)
        holes[::d, ::d] = False
        height, width = dilated.shape
        # Centre every panel in a box of the largest span, so that sizes compare.
        top, left = (largest - height) / 2, (largest - width) / 2
        ax.imshow(
            np.ma.masked_array(dilated, holes), cmap=cmap, vmin=-limit, vmax=limit,
            extent=(left - 0.5, left + width - 0.5, top + height - 0.5, top - 0.5), interpolation="nearest",
        )
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="#333333", lw=1))
        if largest <= 13:  # values stay readable up to about 13 x 13 cells
            for (i, j), value in np.ndenumerate(dilated):
                text = f"{value:.2g}" if not holes[i, j] else "0"
                # Dark cells (large |value|) need white text.
                color = "#999999" if holes[i, j] else ("white" if abs(value) > 0.6 * limit else "#222222")
                ax.text(left + j, top + i, text, ha="center", va="center", fontsize=7 if not holes[i, j] else 6,
                        color=color)
        ax.set_xlim(-0.5, largest - 0.5)
        ax.set_ylim(largest - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"rate {d}: {kh}x{kw} taps span {height}x{width}\n{kh * kw} weights, {holes.sum()} zeros", fontsize=9)
    fig.tight_layout()
    return fig


@_styled
def plot_space_to_batch(image: np.ndarray, block: int, kernel: Optional[np.ndarray] = None) -> Figure:
    r"""The ``block x block`` phase sub-images of an image, and (optionally) the convolution through them.

    Top: the image with a dot on each pixel in the colour of its *phase* ``(i mod d, j mod d)``,
    and, in a ``d x d`` grid beside it, the sub-images ``x[a::d, b::d]`` of
    :func:`convref.reference.space_to_batch`, each framed in its phase's colour. A kernel at
    rate ``d`` only ever combines pixels of one phase.

    Bottom (when ``kernel`` is given): the dilated convolution ``conv2d(x, w, dilation=d)``
    ("valid", no padding), dotted by phase, and beside it the *undilated* convolution of each
    sub-image with the same kernel. Interleaving the sub-outputs gives the dilated output
    exactly:

    .. math::

        (w \star_d x)[a + d i, b + d j] = (w \star x[a::d, b::d])[i, j]

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W)`` with ``H`` and ``W`` divisible by ``block``.
    block : int
        The rate ``d`` (>= 1).
    kernel : numpy.ndarray, optional
        A kernel ``(kh, kw)`` to run both ways.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in this order: the image, the ``d^2`` sub-images (phase ``(a, b)`` at index
        ``1 + a d + b``), then, with a kernel, the dilated output and the ``d^2`` sub-outputs.
        Each panel's image holds the raw values (the phase dots are a scatter on top).
    """
    from .reference import conv2d, space_to_batch

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D array, got shape {image.shape}")
    d = int(block)
    sub_images = space_to_batch(image[None, None], d)[:, 0]  # (d * d, H / d, W / d), phase a * d + b
    rows = 1 if kernel is None else 2
    # Per row: the full image on the left (d x d cells of the grid), the d x d sub-images on the right.
    fig = plt.figure(figsize=(7.4, 3.5 * rows + 0.4))
    grid = fig.add_gridspec(rows * d, 2 * d + 1, width_ratios=[1] * d + [0.25] + [1] * d)
    axes = np.empty((rows, 1 + d * d), dtype=object)
    for row in range(rows):
        axes[row, 0] = fig.add_subplot(grid[row * d : (row + 1) * d, :d])
        for index in range(d * d):
            a, b = divmod(index, d)
            axes[row, 1 + index] = fig.add_subplot(grid[row * d + a, d + 1 + b])
    phase = (np.arange(image.shape[0])[:, None] % d) * d + np.arange(image.shape[1])[None, :] % d

    def tinted(ax: Axes, values: np.ndarray, phases: np.ndarray, title: str, limits: tuple[float, float]) -> None:
        ax.imshow(values, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest")
        # A small dot in the phase's colour at every pixel: the picture stays readable underneath.
        rows, cols = np.indices(phases.shape)
        ax.scatter(cols.ravel(), rows.ravel(), c=[_PHASE_COLORS(p % 10) for p in phases.ravel()],
                   s=max(4.0, 2500.0 / phases.size), marker="s", linewidths=0)
        ax.set_xlim(-0.5, phases.shape[1] - 0.5)
        ax.set_ylim(phases.shape[0] - 0.5, -0.5)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])

    def framed(ax: Axes, values: np.ndarray, index: int, title: str, limits: tuple[float, float]) -> None:
        ax.imshow(values, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest")
        for spine in ax.spines.values():
            spine.set_edgecolor(_PHASE_COLORS(index % 10))
            spine.set_linewidth(3)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])

    limits = (float(image.min()), float(image.max()))
    tinted(axes[0, 0], image, phase, f"input {image.shape[0]}x{image.shape[1]}, dots: phase", limits)
    for index, sub in enumerate(sub_images):
        a, b = divmod(index, d)
        framed(axes[0, 1 + index], sub, index, f"x[{a}::{d}, {b}::{d}]", limits)
    if kernel is not None:
        kernel = np.asarray(kernel, dtype=np.float64)
        dilated = conv2d(image[None, None], kernel[None, None], dilation=d)[0, 0]
        sub_outputs = conv2d(sub_images[:, None], kernel[None, None])[:, 0]  # the dense kernel, per phase
        out_limits = (float(dilated.min()), float(dilated.max()))
        tinted(axes[1, 0], dilated, phase[: dilated.shape[0], : dilated.shape[1]],
               f"conv2d(x, w, dilation={d})", out_limits)
        for index, sub in enumerate(sub_outputs):
            a, b = divmod(index, d)
            framed(axes[1, 1 + index], sub, index, f"w * x[{a}::{d}, {b}::{d}]", out_limits)
    fig.suptitle(
        f"rate {d}: the input splits into {d * d} interleaved sub-images"
        + ("" if kernel is None else f"; the {kernel.shape[0]}x{kernel.shape[1]} kernel runs densely on each"),
        fontsize=10,
    )
    fig.tight_layout()
    return fig


@_styled
def plot_coverage(stacks: Sequence[Sequence[int]], kernel_size: int = 3) -> Figure:
    """Which input positions reach one output of a stack of dilated convolutions (the gridding problem).

    One panel per stack of rates: the path counts of :func:`convref.arith.receptive_field_coverage`
    (how many routes through the stack lead from each input position to the centre output),
    holes (zero paths) in white. All panels share one scale in input positions, centred on
    the output, so that receptive fields of different sizes compare. The title gives the
    number of positions reached out of the field's ``R x R`` and, for kernels of 3 or more,
    whether the rates pass the HDC rule (:func:`convref.arith.satisfies_hdc`).

    Parameters
    ----------
    stacks : sequence of sequences of int
        Dilation rates of each stack, input side first.
    kernel_size : int
        Side of every kernel.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per stack (plus colour bars); each holds the counts as a masked image (holes masked).
    """
    from .arith import receptive_field_coverage, satisfies_hdc

    maps = [receptive_field_coverage([kernel_size] * len(rates), rates) for rates in stacks]
    half = max(m.shape[0] for m in maps) // 2
    fig, axes = plt.subplots(1, len(stacks), figsize=(3.3 * len(stacks), 3.4), squeeze=False)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")  # masked cells (the holes) in white
    for ax, rates, counts in zip(axes[0], stacks, maps):
        h = counts.shape[0] // 2
        shown = ax.imshow(np.ma.masked_equal(counts, 0), cmap=cmap, vmin=1, vmax=max(int(counts.max()), 2),
                          extent=(-h - 0.5, h + 0.5, h + 0.5, -h - 0.5), interpolation="nearest")
        ax.add_patch(Rectangle((-h - 0.5, -h - 0.5), 2 * h + 1, 2 * h + 1, fill=False, edgecolor="#333333", lw=1))
        ax.set_xlim(-half - 0.5, half + 0.5)
        ax.set_ylim(half + 0.5, -half - 0.5)
        ax.tick_params(labelsize=7)
        reached, total = int((counts > 0).sum()), counts.size
        title = f"rates {', '.join(str(int(r)) for r in rates)}: {reached} of {total} reached ({reached / total:.0%})"
        if kernel_size >= 3:
            title += f"\nHDC rule {'met' if satisfies_hdc(rates, kernel_size) else 'not met'}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("input offset (columns)", fontsize=8)
        bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label("paths", fontsize=7)
        bar.locator = MaxNLocator(integer=True)  # path counts are whole numbers
        bar.update_ticks()
        bar.ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("input offset (rows)", fontsize=8)
    fig.suptitle(f"{kernel_size}x{kernel_size} kernels: input positions that reach the centre output (white: holes)",
                 fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_causal_stack(
    dilations: Sequence[int], kernel_size: int = 2, length: Optional[int] = None, highlight: Optional[int] = None
) -> Figure:
    """A stack of causal dilated 1-D convolutions drawn as a graph, in the style of WaveNet's figure 3.

    Rows of nodes, input at the bottom and output at the top, one node per time step. Layer
    ``l`` connects node ``t`` to nodes ``t - d_l j`` (``j = 0 .. k-1``) of the row below: the
    taps of :func:`convref.reference.causal_conv1d`. The edges on paths to output ``highlight``
    are dark and the input nodes they start from filled: the receptive field, which never
    reaches into the future.

    Parameters
    ----------
    dilations : sequence of int
        Rate of each layer, input side first.
    kernel_size : int
        Taps per kernel.
    length : int, optional
        Time steps drawn (default: the receptive field plus 3).
    highlight : int, optional
        Output step whose receptive field is shown (default: the last one).

    Returns
    -------
    matplotlib.figure.Figure
        The input nodes inside the receptive field are one scatter with gid ``"receptive-field"``.
    """
    from .arith import causal_receptive_field

    rf = causal_receptive_field(kernel_size, dilations)
    length = rf + 3 if length is None else int(length)
    highlight = length - 1 if highlight is None else int(highlight)
    if not 0 <= highlight < length:
        raise ValueError(f"highlight must be in [0, {length}), got {highlight}")
    layers = len(dilations)
    # on_path[l]: nodes of row l that lie on a path to the highlighted output (row `layers`).
    on_path = [set() for _ in range(layers + 1)]
    on_path[layers] = {highlight}
    for level in range(layers, 0, -1):
        d = dilations[level - 1]
        on_path[level - 1] = {t - d * j for t in on_path[level] for j in range(kernel_size) if t - d * j >= 0}
    fig, ax = plt.subplots(figsize=(min(0.32 * length + 2.2, 14), 0.75 * layers + 1.6))
    for level in range(1, layers + 1):
        d = dilations[level - 1]
        for t in range(length):
            for j in range(kernel_size):
                source = t - d * j
                if source < 0:
                    continue
                emphasised = t in on_path[level] and source in on_path[level - 1]
                ax.plot([source, t], [level - 1, level], color="#222222" if emphasised else "#bbbbbb",
                        lw=1.3 if emphasised else 0.5, zorder=2 if emphasised else 1)
    for level in range(layers + 1):
        inside = sorted(on_path[level])
        outside = [t for t in range(length) if t not in on_path[level]]
        color = INPUT_COLOR if level == 0 else (OUTPUT_COLOR if level == layers else TAP_COLOR)
        ax.scatter(outside, [level] * len(outside), s=28, facecolor="white", edgecolor=color, lw=1, zorder=3)
        ax.scatter(inside, [level] * len(inside), s=28, facecolor=color, edgecolor=color, lw=1, zorder=3,
                   gid="receptive-field" if level == 0 else None)
    labels = ["input"] + [f"{'output' if level == layers else 'hidden'}, rate {dilations[level - 1]}"
                          for level in range(1, layers + 1)]
    ax.set_yticks(range(layers + 1), labels, fontsize=8)
    ax.set_xlabel("time step", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlim(-0.8, length - 0.2)
    ax.set_ylim(-0.5, layers + 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"causal stack, kernel {kernel_size}, rates {tuple(int(d) for d in dilations)}: "
        f"output {highlight} sees inputs {highlight - rf + 1 if highlight >= rf - 1 else 0}..{highlight} "
        f"(receptive field {rf})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


@_styled
def plot_effective_receptive_fields(
    erfs: dict[str, np.ndarray], theoretical: dict[str, int], mass: float = 0.95
) -> Figure:
    """Effective receptive fields as maps, with the theoretical field and the square holding ``mass`` of the map.

    One panel per map (from :func:`convref.experiments.effective_receptive_field`): the map
    (brighter = more influence on the centre output), a dashed square of the theoretical
    receptive field's side, and a solid square of side ``2 r + 1`` with ``r =``
    :func:`convref.experiments.erf_radius` ``(erf, mass)``. A last panel overlays the
    horizontal profiles of all maps (each map summed over its rows, normalised to its peak):
    for deep undilated stacks, the profiles that Luo et al. (2016) found to be Gaussian-like.

    Parameters
    ----------
    erfs : dict of str to numpy.ndarray
        ``{name: map}``, square maps ``(S, S)`` of one size ``S``.
    theoretical : dict
        ``{name: side}``: the theoretical receptive field of each, e.g. from
        :func:`convref.arith.receptive_field`.
    mass : float
        Share of the map that the solid square encloses.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(erfs) + 1`` axes; in each map panel the dashed square has gid ``"theoretical"``
        and the solid one gid ``"effective"``.
    """
    from .experiments import erf_radius

    count = len(erfs)
    fig, axes = plt.subplots(1, count + 1, figsize=(2.2 * count + 3.2, 2.9),
                             gridspec_kw={"width_ratios": [1] * count + [1.4]})
    profile_ax = axes[-1]
    for index, (ax, (name, erf)) in enumerate(zip(axes[:-1], erfs.items())):
        erf = np.asarray(erf, dtype=np.float64)
        centre = erf.shape[0] // 2
        ax.imshow(erf, cmap="magma", interpolation="nearest")
        side = int(theoretical[name])
        effective = 2 * int(erf_radius(erf, mass)) + 1
        for extent, style, gid in ((side, "--", "theoretical"), (effective, "-", "effective")):
            ax.add_patch(Rectangle((centre - extent / 2, centre - extent / 2), extent, extent, fill=False,
                                   edgecolor="#7fd4ff" if gid == "theoretical" else "#ffffff", ls=style, lw=1.2,
                                   gid=gid))
        ax.set_title(f"{name}\ntheoretical {side}, {mass:.0%} in {effective}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        row = erf.sum(axis=0)  # influence of each column: less noisy than the centre row alone
        profile_ax.plot(np.arange(len(row)) - centre, row / row.max(), label=name,
                        color=plt.get_cmap("tab10")(index % 10), lw=1.2)
    profile_ax.set_xlabel("offset from the centre (pixels)", fontsize=8)
    profile_ax.set_ylabel("influence / peak", fontsize=8)
    profile_ax.set_title("profiles (summed over rows)", fontsize=9)
    profile_ax.tick_params(labelsize=7)
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(fontsize=6)
    fig.suptitle(f"effective receptive fields (dashed: theoretical; solid: {mass:.0%} of the influence)", fontsize=10)
    fig.tight_layout()
    return fig


__all__ += [
    "plot_dilated_kernel",
    "plot_space_to_batch",
    "plot_coverage",
    "plot_causal_stack",
    "plot_effective_receptive_fields",
]


# ---------------------------------------------------------------------------
# Transposed convolution
# ---------------------------------------------------------------------------

STAMP_COLORS = ("#dd8452", "#8172b3", "#c44e52", "#937860")


@_styled
def plot_transpose_scatter(
    input_size: int = 3,
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 0,
    pixels: Sequence[tuple[int, int]] = ((0, 0), (0, 1)),
) -> Figure:
    """The scatter reading of a transposed convolution: every input pixel stamps the kernel.

    Left: the square input, with ``pixels`` coloured. Right: the full (uncropped) output,
    ``(i - 1) s + k`` on a side. Each coloured square is the ``k x k`` stamp of one of
    ``pixels``, placed at ``stride`` times its position; the number in every cell is how many
    stamps of *all* input pixels land there (:func:`convref.arith.transpose_overlap`). The
    grey hatched border is what ``padding`` crops; the thick outline is the output that is kept.

    Parameters
    ----------
    input_size, kernel_size, stride, padding : int
        The geometry (square, the same on both axes; no dilation).
    pixels : sequence of (int, int)
        Input pixels whose stamps are drawn (at most 4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .arith import conv_transpose_output_size, transpose_overlap

    if not 1 <= len(pixels) <= len(STAMP_COLORS):
        raise ValueError(f"pixels must hold 1 to {len(STAMP_COLORS)} (row, col) pairs, got {len(pixels)}")
    for row, col in pixels:
        if not (0 <= row < input_size and 0 <= col < input_size):
            raise ValueError(f"pixels must lie inside the {input_size}x{input_size} input, got {(row, col)}")
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    full = (input_size - 1) * stride + kernel_size
    counts = np.outer(transpose_overlap(input_size, kernel_size, stride), transpose_overlap(input_size, kernel_size, stride))
    fig, (ax_in, ax_out) = plt.subplots(
        1, 2, figsize=(2.2 + 0.42 * (input_size + full), 0.42 * full + 1.3),
        gridspec_kw={"width_ratios": [input_size + 1, full + 1]},
    )
    colors = np.full((input_size, input_size), INPUT_COLOR, dtype=object)
    alpha = np.full((input_size, input_size), 0.35)
    for index, (row, col) in enumerate(pixels):
        colors[row, col], alpha[row, col] = STAMP_COLORS[index], 0.9
    top = (full + input_size) / 2  # centre the input vertically against the output
    _grid(ax_in, top, 0, input_size, input_size, colors, alpha)
    ax_in.set_xlim(-0.3, input_size + 0.3)
    ax_in.set_ylim(-0.3, full + 0.3)
    ax_in.set_title(f"input {input_size}x{input_size}", fontsize=9)

    # Output cells: cropped border grey and hatched, kept region white; the count in each cell.
    for i in range(full):
        for j in range(full):
            cropped = not (padding <= i < padding + out and padding <= j < padding + out)
            ax_out.add_patch(Rectangle((j, full - i - 1), 1, 1, facecolor="#e0e0e0" if cropped else "white",
                                       hatch="//" if cropped else None, edgecolor="#999999", linewidth=0.5))
            ax_out.text(j + 0.5, full - i - 0.5, str(counts[i, j]), ha="center", va="center", fontsize=7, color="#333333")
    for index, (row, col) in enumerate(pixels):  # each chosen pixel's stamp, at stride times its position
        ax_out.add_patch(Rectangle((stride * col, full - stride * row - kernel_size), kernel_size, kernel_size,
                                   facecolor=STAMP_COLORS[index], alpha=0.35, edgecolor=STAMP_COLORS[index], linewidth=2))
    ax_out.add_patch(Rectangle((padding, full - padding - out), out, out, fill=False, edgecolor="#000000", linewidth=2))
    ax_out.set_xlim(-0.3, full + 0.3)
    ax_out.set_ylim(-0.3, full + 0.3)
    ax_out.set_title(
        f"full output {full}x{full}: number of stamps per pixel; padding {padding} keeps {out}x{out}", fontsize=9
    )
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"transposed convolution, kernel {kernel_size}, stride {stride}: one input pixel -> one "
                 f"{kernel_size}x{kernel_size} stamp", fontsize=10)
    fig.tight_layout()
    return fig


STUFFED_ZERO_COLOR = "#d9d9d9"


@_styled
def plot_zero_stuffed(
    input_size: int = 3,
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 0,
    step: int = 0,
    ax: Optional[Axes] = None,
) -> Figure:
    """The gather reading of a transposed convolution: a stride-1 convolution over a zero-stuffed input.

    Dumoulin & Visin's picture of the "fractionally strided" convolution: ``stride - 1`` zeros
    (grey) are inserted between the input pixels (blue), ``kernel_size - 1 - padding`` zeros
    (white) are added around them, and a ``k x k`` window (orange; the flipped kernel) slides
    with stride 1. The window for output position ``step`` is drawn, and that position is
    marked in the output (green).

    Parameters
    ----------
    input_size, kernel_size, stride : int
        The geometry (square; no dilation).
    padding : int
        The transposed convolution's ``padding``, from 0 to ``kernel_size - 1``.
    step : int
        Output position to show, row-major (wraps around).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .arith import conv_transpose_output_size

    if not 0 <= padding <= kernel_size - 1:
        raise ValueError(f"padding must be between 0 and kernel_size - 1 = {kernel_size - 1}, got {padding}")
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    border = kernel_size - 1 - padding
    stuffed = (input_size - 1) * stride + 1
    size = stuffed + 2 * border
    # Along one axis: is a position an input pixel, an inserted zero, or border padding?
    axis = np.full(size, "border", dtype=object)
    axis[border : border + stuffed] = "zero"
    axis[border : border + stuffed : stride] = "input"
    kind = np.where((axis[:, None] == "border") | (axis[None, :] == "border"), "border",
                    np.where((axis[:, None] == "input") & (axis[None, :] == "input"), "input", "zero"))
    palette = {"input": INPUT_COLOR, "zero": STUFFED_ZERO_COLOR, "border": PAD_COLOR}
    colors = np.vectorize(palette.get, otypes=[object])(kind)
    alpha = np.where(kind == "input", 0.55, 1.0)
    out_row, out_col = divmod(step % (out * out), out)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.4 * (size + out) + 1.2, 0.4 * size + 1.9))
    _grid(ax, size, 0, size, size, colors, alpha)
    # The window of output (out_row, out_col): k x k cells of the stuffed input, stride 1.
    ax.add_patch(Rectangle((out_col, size - out_row - kernel_size), kernel_size, kernel_size, facecolor=TAP_COLOR,
                           alpha=0.45, edgecolor=TAP_COLOR, linewidth=2.5))
    for i in range(size):  # the real pixels under the window: the only products that are not zero
        for j in range(size):
            if kind[i, j] == "input" and out_row <= i < out_row + kernel_size and out_col <= j < out_col + kernel_size:
                ax.plot(j + 0.5, size - i - 0.5, marker="o", color="#1f3a68", markersize=5)
    left = size + 1.5
    out_colors = np.full((out, out), OUTPUT_COLOR, dtype=object)
    out_alpha = np.full((out, out), 0.35)
    out_alpha[out_row, out_col] = 0.95
    _grid(ax, size / 2 + out / 2, left, out, out, out_colors, out_alpha)
    ax.set_xlim(-0.5, left + out + 0.5)
    ax.set_ylim(-0.5, size + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [Rectangle((0, 0), 1, 1, facecolor=INPUT_COLOR, alpha=0.55, edgecolor="#333333"),
               Rectangle((0, 0), 1, 1, facecolor=STUFFED_ZERO_COLOR, edgecolor="#333333"),
               Rectangle((0, 0), 1, 1, facecolor=PAD_COLOR, edgecolor="#333333"),
               Rectangle((0, 0), 1, 1, facecolor=TAP_COLOR, alpha=0.45, edgecolor=TAP_COLOR, linewidth=2)]
    ax.legend(handles, ["input pixel", f"inserted zero ({stride - 1} per gap)", f"border zero (k-1-p = {border})",
                        f"window of output {step % (out * out)}"], loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncol=2, fontsize=7, frameon=False)
    ax.set_title(f"input {input_size}, kernel {kernel_size}, stride {stride}, padding {padding} -> output {out}\n"
                 f"stride-1 convolution over the {size}x{size} zero-stuffed input", fontsize=9)
    ax.figure.tight_layout()
    return ax.figure


def _constant_kernel_upsampling(image: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """Transposed convolution of ``image`` with equal taps ``s**2 / k**2`` (no padding), interior only.

    The interior, rows and columns ``k - 1`` to ``(i - 1) s``, is where every output pixel
    receives all the taps it can; outside it the stamps thin out towards the border.
    """
    import torch

    from .functional import conv_transpose2d

    x = torch.from_numpy(np.asarray(image, dtype=np.float64))[None, None]
    weight = torch.full((1, 1, kernel_size, kernel_size), stride**2 / kernel_size**2, dtype=torch.float64)
    y = conv_transpose2d(x, weight, stride=stride)[0, 0].numpy()
    first, last_h, last_w = kernel_size - 1, (image.shape[0] - 1) * stride, (image.shape[1] - 1) * stride
    return y[first : last_h + 1, first : last_w + 1] if last_h >= first and last_w >= first else y


@_styled
def plot_overlap(
    cases: Sequence[tuple[int, int]] = ((3, 2), (4, 2)),
    input_size: int = 5,
    image: Optional[np.ndarray] = None,
) -> Figure:
    """How many kernel taps land on each output pixel of a transposed convolution, per (kernel, stride).

    Top row: the count map ``np.outer(n, n)`` of :func:`convref.arith.transpose_overlap`
    (no padding) for an ``input_size`` square input, annotated; uneven overlap
    (:func:`convref.arith.has_uneven_overlap`) shows as a periodic pattern in the interior.
    Bottom row, when ``image`` is given: ``image`` upsampled by a transposed convolution with
    that kernel size and stride and all taps equal to ``s**2 / k**2`` (so that the brightness
    is kept on average), cropped to the interior where every pixel gets its full count;
    the count pattern reappears in the picture, and its :func:`convref.experiments.checkerboard_energy`
    is in the title (when the crop has even sides).

    Parameters
    ----------
    cases : sequence of (int, int)
        ``(kernel_size, stride)`` pairs, one column each.
    input_size : int
        Side of the input whose count map is drawn.
    image : numpy.ndarray, optional
        A smooth ``(H, W)`` picture to upsample.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .arith import has_uneven_overlap, transpose_overlap
    from .experiments import checkerboard_energy

    if not cases:
        raise ValueError("cases must hold at least one (kernel_size, stride) pair")
    rows = 1 if image is None else 2
    fig, axes = plt.subplots(rows, len(cases), figsize=(3.4 * len(cases), 3.3 * rows), squeeze=False)
    for column, (kernel_size, stride) in enumerate(cases):
        counts = transpose_overlap(input_size, kernel_size, stride)
        grid = np.outer(counts, counts)
        ax = axes[0, column]
        shown = ax.imshow(grid, cmap="viridis", vmin=0, interpolation="nearest")
        if grid.shape[0] <= 24:
            middle = (grid.max() + 0) / 2
            for (i, j), value in np.ndenumerate(grid):
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6,
                        color="white" if value < middle else "black")
        uneven = has_uneven_overlap(kernel_size, stride)
        ax.set_title(f"k={kernel_size}, s={stride}: {'uneven' if uneven else 'even'} overlap\n"
                     f"(k mod s = {kernel_size % stride}); 1-D counts {counts[:6].tolist()}...", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, ticks=MaxNLocator(integer=True))
        if image is not None:
            upsampled = _constant_kernel_upsampling(image, kernel_size, stride)
            upsampled = upsampled[: upsampled.shape[0] // 2 * 2, : upsampled.shape[1] // 2 * 2]  # even sides
            ax = axes[1, column]
            ax.imshow(upsampled, cmap="gray", interpolation="nearest")
            title = f"upsampled x{stride}, equal taps, {upsampled.shape[0]}x{upsampled.shape[1]}"
            if min(upsampled.shape) >= 2:
                title += f"\ncheckerboard energy {checkerboard_energy(upsampled):.3f}"
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


@_styled
def plot_upsampling_comparison(
    outputs: dict[str, np.ndarray], crop: int = 16, corner: Optional[tuple[int, int]] = None
) -> Figure:
    r"""Upsampled images side by side: the picture, a zoomed crop, and the power spectrum.

    One column per entry of ``outputs``. Row 1: the whole image, each on its own grey scale
    (its minimum to its maximum), with the crop outlined. Row 2: the ``crop x crop`` pixels at
    ``corner``, enlarged, where a checkerboard is easy to see. Row 3: the log power spectrum
    of the image minus its mean, zero frequency at the centre and frequencies from
    :math:`-\pi` to :math:`\pi` on both axes, with the three Nyquist frequencies that
    :func:`convref.experiments.checkerboard_energy` sums circled (they lie on the edges:
    :math:`-\pi` and :math:`\pi` are the same frequency); the title gives their share.

    Parameters
    ----------
    outputs : dict
        ``{name: (H, W) image}``, ``H`` and ``W`` even.
    crop : int
        Side of the zoomed crop.
    corner : (int, int), optional
        Top-left pixel of the crop; the centred crop when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .experiments import checkerboard_energy

    if not outputs:
        raise ValueError("outputs must hold at least one image")
    images = {name: np.asarray(image, dtype=np.float64) for name, image in outputs.items()}
    fig, axes = plt.subplots(3, len(images), figsize=(3.0 * len(images), 8.6), squeeze=False)
    for column, (name, image) in enumerate(images.items()):
        height, width = image.shape
        top, left = corner if corner is not None else (max(0, (height - crop) // 2), max(0, (width - crop) // 2))
        axes[0, column].imshow(image, cmap="gray", interpolation="nearest")
        axes[0, column].add_patch(Rectangle((left - 0.5, top - 0.5), crop, crop, fill=False, edgecolor="#00d0ff", lw=1.2))
        axes[0, column].set_title(name, fontsize=9)
        axes[1, column].imshow(image[top : top + crop, left : left + crop], cmap="gray", interpolation="nearest")
        axes[1, column].set_title(f"{crop}x{crop} crop, enlarged", fontsize=8)
        power = np.fft.fftshift(np.abs(np.fft.fft2(image - image.mean())) ** 2)
        spectrum = axes[2, column]
        spectrum.imshow(np.log10(power + 1e-12 * power.max() + 1e-300), cmap="magma", interpolation="nearest")
        # After fftshift, index 0 on each axis is the Nyquist frequency -pi and index H/2 is 0.
        for i, j in ((0, width // 2), (height // 2, 0), (0, 0)):
            spectrum.add_patch(plt.Circle((j, i), radius=max(2.0, 0.06 * width), fill=False, edgecolor="#00d0ff",
                                          linewidth=2, clip_on=False))
        spectrum.set_xticks([0, width // 2, width - 1], ["-π", "0", "π"], fontsize=7)
        spectrum.set_yticks([0, height // 2, height - 1], ["-π", "0", "π"], fontsize=7)
        spectrum.set_title(f"log power spectrum\ncheckerboard energy {checkerboard_energy(image):.4f}", fontsize=8, pad=9)
        for ax in axes[:2, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


__all__ += ["plot_transpose_scatter", "plot_zero_stuffed", "plot_overlap", "plot_upsampling_comparison"]


# ---------------------------------------------------------------------------
# Non-local blocks
# ---------------------------------------------------------------------------


def _as_picture(image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
    """A grey ``(H, W)`` or RGB ``(3, H, W)`` / ``(H, W, 3)`` image, ready for ``imshow``, and its colour map."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image, "gray"
    if image.ndim == 3 and 3 in (image.shape[0], image.shape[-1]):
        rgb = np.moveaxis(image, 0, -1) if image.shape[0] == 3 and image.shape[-1] != 3 else image
        return np.clip(rgb, 0.0, 1.0), None  # imshow clips RGB floats to [0, 1] itself, with a warning
    raise ValueError(f"image must be (H, W), (3, H, W) or (H, W, 3), got shape {image.shape}")


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
        raise ValueError(f"an attention map must be {height}x{width} or {height // 2}x{width // 2}, got {grid.shape}")
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
        raise ValueError(f"query must lie inside the {height}x{width} image, got {tuple(query)}")
    grids = {name: _key_grid(weights, height, width) for name, weights in maps.items()}
    fig, axes = plt.subplots(1, 1 + len(grids), figsize=(size * (1 + len(grids)) + 0.4 * len(grids), size + 0.5))
    axes = np.atleast_1d(axes)
    axes[0].imshow(picture, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[0].set_title(f"input {height}x{width}, query ({row}, {col})", fontsize=9)
    for ax, (name, grid) in zip(axes[1:], grids.items()):
        # A sub-sampled map covers the image's even part: 2x2 pixels per key.
        extent = (-0.5, 2 * grid.shape[1] - 0.5, 2 * grid.shape[0] - 0.5, -0.5) if grid.shape != (height, width) else None
        shown = ax.imshow(grid, cmap="magma", vmin=0.0, interpolation="nearest", extent=extent)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.plot([col], [row], marker="+", markersize=11, markeredgewidth=2, color="#00d0ff", gid="query")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
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
            raise ValueError(f"curve {name!r} must hold {len(x)} positive values, got {values.tolist()}")
        slope = np.polyfit(np.log(x), np.log(values), 1)[0]
        ax.plot(x, values, marker="o", markersize=4, label=f"{name} (slope {slope:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return ax.figure


__all__ += ["plot_attention_map", "plot_scaling"]


# ---------------------------------------------------------------------------
# shift (ShiftNet, active shift)
# ---------------------------------------------------------------------------


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
    from .reference import shift2d  # lazy: the viz module must not depend on import order

    image = np.asarray(image, dtype=np.float64)
    shifts = np.asarray(shifts)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if shifts.ndim != 2 or shifts.shape[1] != 2 or len(shifts) == 0:
        raise ValueError(f"shifts must have shape (C, 2) with C >= 1, got {shifts.shape}")
    count = len(shifts)
    if ncols is None:
        root = int(round(np.sqrt(count)))
        ncols = root if root * root == count else count
    nrows = -(-count // ncols)
    stack = np.repeat(image[None, None], count, axis=1)  # (1, C, H, W): the same picture in every channel
    moved = shift2d(stack, shifts)[0]
    height, width = image.shape
    cy, cx = (height - 1) / 2, (width - 1) / 2
    longest = float(np.hypot(shifts[:, 0], shifts[:, 1]).max())
    scale = (min(height, width) / 3) / longest if longest > 0 else 0.0  # arrow length per pixel of shift
    vmin, vmax = float(image.min()), float(image.max())
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)), squeeze=False)
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
                "", xy=(cx + scale * dx, cy + scale * dy), xytext=(cx, cy), gid="shift",
                arrowprops=dict(arrowstyle="-|>", color="tab:orange", lw=1.8),
            )
        ax.set_title(f"ch {index}: ({dy:g}, {dx:g})", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ += ["plot_shifted_channels"]


# ---------------------------------------------------------------------------
# Deformable convolution (DCN v1/v2, active convolution, DCLS)
# ---------------------------------------------------------------------------


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
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (kernel_size, stride, padding, dilation))
    taps = kh * kw
    pixels = np.asarray(pixels, dtype=np.int64).reshape(-1, 2)
    grid = np.stack(np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij"), -1).reshape(taps, 2)
    base = pixels * np.array([sh, sw]) - np.array([ph, pw])  # p_0: the top-left tap of each window
    positions = base[:, None, :] + grid[None].astype(np.float64)
    if offset is None:
        return positions
    offset = np.asarray(offset, dtype=np.float64)
    if offset.shape == (taps, 2):
        return positions + offset[None]
    if offset.ndim != 3 or offset.shape[0] != 2 * taps:
        raise ValueError(f"offset must be (2 kh kw, H_out, W_out) = ({2 * taps}, ., .) or ({taps}, 2), got {offset.shape}")
    per_pixel = offset[:, pixels[:, 0], pixels[:, 1]].reshape(taps, 2, len(pixels))  # channel 2k: dy, 2k + 1: dx
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
    grid = np.stack(np.meshgrid(np.arange(kernel_size), np.arange(kernel_size), indexing="ij"), -1).reshape(-1, 2)
    grid = (grid - radius) * dilation
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])  # on (y, x) with y down: counter-clockwise on screen
    matrix = scale * rotation @ np.diag([np.sqrt(aspect), 1 / np.sqrt(aspect)])
    return grid @ matrix.T - grid


def _draw_taps(ax: Axes, regular: np.ndarray, deformed: np.ndarray, shape: tuple[int, int], mask: Optional[np.ndarray]) -> None:
    """The regular grid (hollow, dashed mesh), the deformed one (filled, solid mesh) and arrows between them."""
    kh, kw = shape
    for points, style, gid in ((regular, "--", "regular"), (deformed, "-", "deformed")):
        mesh = points.reshape(kh, kw, 2)
        color = "#9ecae1" if gid == "regular" else TAP_COLOR
        for row in mesh:
            ax.plot(row[:, 1], row[:, 0], style, color=color, lw=0.8)
        for col in mesh.transpose(1, 0, 2):
            ax.plot(col[:, 1], col[:, 0], style, color=color, lw=0.8)
    ax.plot(regular[:, 1], regular[:, 0], "o", mfc="none", mec="#9ecae1", ms=6, mew=1.2, ls="none", gid="regular")
    moved = np.any(np.abs(deformed - regular) > 1e-9)
    if moved:
        for start, end in zip(regular, deformed):
            if np.hypot(*(end - start)) > 1e-9:
                ax.annotate("", xy=(end[1], end[0]), xytext=(start[1], start[0]),
                            arrowprops=dict(arrowstyle="-|>", color="tab:cyan", lw=0.9, shrinkA=0, shrinkB=3))
    sizes = 30 if mask is None else 10 + 60 * np.clip(np.asarray(mask, dtype=np.float64), 0, 1)
    if moved or mask is not None:
        ax.scatter(deformed[:, 1], deformed[:, 0], s=sizes, c=TAP_COLOR, edgecolors="black", linewidths=0.6,
                   zorder=3, gid="deformed")


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
    (:func:`tap_positions`) as filled dots on a solid mesh, with an arrow from each regular
    tap to where it moved. A panel whose offsets are all zero (or None) shows the regular
    grid alone.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    offsets : dict
        ``{panel title: offsets}``, each as accepted by :func:`tap_positions`: a field
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
    kh, kw = _pair(kernel_size)
    pixels = [tuple(int(v) for v in p) for p in pixels]
    fig, axes = plt.subplots(1, len(offsets), figsize=(size * len(offsets), size + (0.5 if title else 0.25)), squeeze=False)
    for ax, (name, offset) in zip(axes[0], offsets.items()):
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
            cy, cx = np.round(regular[0].mean(axis=0))  # the centre of the first pixel's window
            ax.set_xlim(cx - crop - 0.5, cx + crop + 0.5)
            ax.set_ylim(cy + crop + 0.5, cy - crop - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
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
    from .reference import deform_conv2d

    image = np.asarray(image, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or weight.shape[0] % 2 == 0:
        raise ValueError(f"weight must be a square kernel of odd side, got shape {weight.shape}")
    k = weight.shape[0]
    tap_offsets = np.asarray(tap_offsets, dtype=np.float64)
    if tap_offsets.shape != (k * k, 2):
        raise ValueError(f"tap_offsets must have shape ({k * k}, 2), got {tap_offsets.shape}")
    h, w = (int(v) for v in pixel)
    height, width = image.shape
    if not (0 <= h < height and 0 <= w < width):
        raise ValueError(f"pixel must lie inside the {height}x{width} image, got {tuple(pixel)}")
    pad = dilation * (k - 1) // 2
    # The same offsets at every output pixel, in torchvision's layout: (1, 2 K, H, W).
    field = np.broadcast_to(tap_offsets.reshape(-1)[None, :, None, None], (1, 2 * k * k, height, width))
    field_mask = None if mask is None else np.broadcast_to(np.asarray(mask, dtype=np.float64).reshape(1, -1, 1, 1), (1, k * k, height, width))
    # The sampled values alone: the convolution with a one-hot kernel per tap, as K output channels.
    one_hot = np.eye(k * k).reshape(k * k, 1, k, k)
    sampled = deform_conv2d(image[None, None], field, one_hot, padding=pad, dilation=dilation, mask=field_mask)[0, :, h, w]
    value = deform_conv2d(image[None, None], field, weight[None, None], padding=pad, dilation=dilation, mask=field_mask)[0, 0, h, w]

    fig, axes = plt.subplots(1, 3, figsize=(3 * size, size + 0.5), gridspec_kw={"width_ratios": [1.4, 1, 1]})
    axes[0].imshow(image, cmap="gray", interpolation="nearest")
    regular = tap_positions(None, [(h, w)], k, 1, pad, dilation)[0]
    deformed = tap_positions(tap_offsets, [(h, w)], k, 1, pad, dilation)[0]
    _draw_taps(axes[0], regular, deformed, (k, k), mask)
    axes[0].plot([w], [h], "+", color="#00d0ff", ms=10, mew=2, gid="pixel")
    axes[0].set_xlim(-0.5, width - 0.5)
    axes[0].set_ylim(height - 0.5, -0.5)
    axes[0].set_title(f"taps of output pixel ({h}, {w})", fontsize=9)
    read = r"$x(p_0 + p_k + \Delta p_k)$" + (r"$\,\Delta m_k$" if mask is not None else "")
    for ax, matrix, name in ((axes[1], sampled.reshape(k, k), f"values read {read}"), (axes[2], weight, "kernel $w_k$")):
        limit = float(np.abs(matrix).max()) or 1.0
        ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (i, j), entry in np.ndenumerate(matrix):
            color = "white" if abs(entry) > 0.6 * limit else "black"  # light text on the saturated cells
            ax.text(j, i, f"{entry:.2f}", ha="center", va="center", fontsize=8, color=color)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"y({h}, {w}) = {value:.4f}", fontsize=10)
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
        Panels per row (all in one row by default).
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
        raise ValueError(f"images, taps and centres must be non-empty and of equal length, got {len(images)}, {len(taps)}, {len(centres)}")
    count = len(images)
    ncols = ncols or count
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.35 if title else 0.1)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= count:
            ax.axis("off")
            continue
        image = np.asarray(images[index], dtype=np.float64)
        points = np.asarray(taps[index], dtype=np.float64).reshape(-1, 2)
        ax.imshow(image, cmap="gray", interpolation="nearest")
        ax.scatter(points[:, 1], points[:, 0], s=9, c=TAP_COLOR, edgecolors="black", linewidths=0.3, gid="taps")
        ax.plot([centres[index][1]], [centres[index][0]], "+", color="#00d0ff", ms=10, mew=2, zorder=4, gid="pixel")
        ax.set_xlim(-0.5, image.shape[1] - 0.5)
        ax.set_ylim(image.shape[0] - 0.5, -0.5)
        if index < len(titles):
            ax.set_title(titles[index], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
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
            raise ValueError(f"spread {name!r} must have shape {sizes.shape}, got {values.shape}")
        r = np.corrcoef(sizes, values)[0, 1] if np.std(values) > 0 and np.std(sizes) > 0 else float("nan")
        ax.scatter(sizes, values, s=10, alpha=0.6, label=f"{name} (r = {r:.2f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


__all__ += [
    "tap_positions",
    "affine_tap_offsets",
    "plot_sampling_grid",
    "plot_deformed_sampling",
    "plot_learned_taps",
    "plot_tap_spread",
]


# ---------------------------------------------------------------------------
# AdderNet: template matching, value and weight distributions
# ---------------------------------------------------------------------------


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
    from .experiments import template_responses

    image = np.asarray(image, dtype=np.float64)
    row, col = (int(v) for v in corner)
    height, width = image.shape
    if size < 1 or not (0 <= row <= height - size and 0 <= col <= width - size):
        raise ValueError(f"a {size}x{size} template at {corner} must lie inside the {height}x{width} image")
    template = image[row : row + size, col : col + size]
    maps = template_responses(image, template)
    best = {name: np.unravel_index(np.argmax(values), values.shape) for name, values in maps.items()}
    colours = {"correlation": "#dd8452", "negative L1": "#55a868"}
    half = (size - 1) / 2  # a window's centre lies half a template from its top-left pixel
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.5))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].add_patch(Rectangle((col - 0.5, row - 0.5), size, size, fill=False, edgecolor="white", linewidth=2))
    for name, (i, j) in best.items():
        axes[0].add_patch(
            Rectangle((j - 0.5, i - 0.5), size, size, fill=False, edgecolor=colours[name], linewidth=1.5, linestyle="--")
        )
    axes[0].set_title("image: template (white),\nbest correlation / L1 window", fontsize=9)
    axes[1].imshow(template, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"template ({size}x{size}) at {(row, col)}", fontsize=9)
    labels = {
        "correlation": "correlation  sum x t",
        "negative L1": "negative L1  -sum |x - t|",
    }
    for ax, (name, values) in zip(axes[2:], maps.items()):
        extent = (half - 0.5, half + values.shape[1] - 0.5, half + values.shape[0] - 0.5, half - 0.5)
        shown = ax.imshow(values, cmap="viridis", extent=extent)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        i, j = best[name]
        ax.plot([j + half], [i + half], marker="o", markerfacecolor="none", markeredgecolor="red", markersize=12,
                markeredgewidth=2, linestyle="none", label="best window")
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(f"{labels[name]}\nbest window at {(int(i), int(j))}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_value_histograms(
    samples: "dict[str, np.ndarray]", xlabel: str = "value", title: str = "", bins: int = 60, size: float = 3.4
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
    fig, axes = plt.subplots(1, len(samples), figsize=(size * len(samples), 3.0), squeeze=False)
    for ax, (name, values) in zip(axes[0], samples.items()):
        values = np.asarray(values, dtype=np.float64).ravel()
        ax.hist(values, bins=bins, weights=np.full(values.size, 1 / values.size), color="#4c72b0")
        ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
        mean = values.mean() if abs(values.mean()) >= 5e-4 * max(values.std(), 1e-300) else 0.0  # no "9.5e-07" for zero
        ax.text(
            0.03, 0.95, f"mean {mean:.3g}\nstd {values.std():.3g}\n> 0: {np.mean(values > 0):.0%}",
            transform=ax.transAxes, va="top", fontsize=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"),
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of values")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_weight_distributions(
    weights: "dict[str, np.ndarray]", title: str = "", bins: int = 40, ncols: Optional[int] = None
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
    from .experiments import excess_kurtosis

    ncols = ncols or len(weights)
    nrows = -(-len(weights) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.flat[len(weights):]:
        ax.axis("off")
    standardised = {}
    for name, values in weights.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        standardised[name] = (values - values.mean()) / values.std()
    limit = max(4.0, max(float(np.abs(z).max()) for z in standardised.values()))  # one range: the panels compare
    for ax, (name, values) in zip(axes.flat, weights.items()):
        values = np.asarray(values, dtype=np.float64).ravel()
        z = standardised[name]
        ax.hist(z, bins=bins, range=(-limit, limit), density=True, color="#4c72b0", alpha=0.7, label="weights")
        grid = np.linspace(-limit, limit, 401)
        scale = 1 / np.sqrt(2)  # a Laplace distribution of variance 1 has scale 1 / sqrt(2)
        ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), color="#dd8452", label="Gaussian")
        ax.plot(grid, np.exp(-np.abs(grid) / scale) / (2 * scale), color="#55a868", label="Laplace")
        ax.set_yscale("log")
        ax.set_ylim(0.5 / values.size, 1.5)
        ax.set_title(f"{name}\nexcess kurtosis {excess_kurtosis(values):.2f}", fontsize=9)
        ax.set_xlabel("standardised weight")
        ax.set_ylabel("density")
        ax.legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ += ["plot_template_matching", "plot_value_histograms", "plot_weight_distributions"]


# ---------------------------------------------------------------------------
# Dynamic convolution: attention per kind of input, kernel mixtures, temperature, branch selection
# ---------------------------------------------------------------------------


@_styled
def plot_attention_by_group(
    attention: Sequence[np.ndarray],
    groups: "dict[str, np.ndarray]",
    layer_names: Sequence[str] = (),
    title: str = "",
) -> Figure:
    """Mean attention of each dynamic layer for each kind of input, as heat maps (kinds x kernels).

    What makes a layer dynamic is how its attention *changes* from one input to another, and
    that change is often small next to the layer's fixed preference for some kernels. So the
    colour shows each group's mean attention minus the mean over all inputs (red: this kind
    of input gives the kernel more weight than the average input does), on a scale centred on
    zero, and the numbers in the cells are the mean attention itself. The panel title gives
    the standard deviation of the attention across all inputs, averaged over the kernels.

    Parameters
    ----------
    attention : sequence of numpy.ndarray
        One ``(N, K)`` array per layer (e.g. from :func:`convref.experiments.dynamic_attention`).
    groups : dict
        ``{row name: (N,) boolean mask}``: which inputs form each row (groups may overlap).
    layer_names : sequence of str
        Panel titles (``"layer 1"``, ... by default).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    attention = [np.asarray(a, dtype=np.float64) for a in attention]
    if not attention or any(a.ndim != 2 for a in attention):
        raise ValueError("attention must be a non-empty sequence of (N, K) arrays")
    masks = {name: np.asarray(mask, dtype=bool) for name, mask in groups.items()}
    for name, mask in masks.items():
        if mask.shape != (attention[0].shape[0],) or not mask.any():
            raise ValueError(f"group {name!r} must be a (N,) mask selecting at least one input, N = {attention[0].shape[0]}")
    fig, axes = plt.subplots(1, len(attention), figsize=(0.75 * max(a.shape[1] for a in attention) * len(attention) + 2.2,
                                                         0.42 * len(masks) + 1.6), squeeze=False)
    for index, (ax, a) in enumerate(zip(axes[0], attention)):
        means = np.stack([a[mask].mean(0) for mask in masks.values()])
        deviation = means - a.mean(0)
        limit = float(np.abs(deviation).max()) or 1e-12
        shown = ax.imshow(deviation, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for (i, j), value in np.ndenumerate(means):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(a.shape[1]), [f"$W_{k + 1}$" for k in range(a.shape[1])])
        ax.set_yticks(range(len(masks)), list(masks) if index == 0 else [""] * len(masks))
        name = layer_names[index] if index < len(layer_names) else f"layer {index + 1}"
        ax.set_title(f"{name}\nstd across inputs {a.std(0).mean():.3f}", fontsize=9)
        bar = fig.colorbar(shown, ax=ax, fraction=0.05, pad=0.03)
        bar.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_kernel_mixture(
    kernels: np.ndarray,
    attention: "dict[str, np.ndarray]",
    images: "Optional[dict[str, np.ndarray]]" = None,
    title: str = "",
) -> Figure:
    r"""The ``K`` kernels of a dynamic layer and the kernel :math:`\sum_k a_k W_k` that each attention vector mixes from them.

    Top row: the kernels :math:`W_1 \dots W_K` on one colour scale. Then one row per attention
    vector: its input image (when given), the attention as bars (the dashed line is
    :math:`1/K`), the mixed kernel on the kernels' colour scale, and the mixed kernel minus the
    uniform mixture :math:`\frac{1}{K}\sum_k W_k` on a scale of its own: what this input changed.

    Parameters
    ----------
    kernels : numpy.ndarray
        ``(K, kh, kw)``: one 2-D slice (one output and one input channel) of each kernel.
    attention : dict
        ``{row name: (K,) weights}``.
    images : dict, optional
        ``{row name: (H, W) image}``, drawn at the start of the rows with the same names.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 3:
        raise ValueError(f"kernels must have shape (K, kh, kw), got {kernels.shape}")
    count = kernels.shape[0]
    weights = {name: np.asarray(a, dtype=np.float64) for name, a in attention.items()}
    for name, a in weights.items():
        if a.shape != (count,):
            raise ValueError(f"attention {name!r} must have shape ({count},), got {a.shape}")
    images = images or {}
    offset = 1 if images else 0
    ncols = max(count, 3 + offset)
    fig, axes = plt.subplots(1 + len(weights), ncols, figsize=(1.9 * ncols, 1.9 * (1 + len(weights))), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = float(np.abs(kernels).max()) or 1.0
    for k in range(count):
        axes[0, k].imshow(kernels[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, k].set_title(f"$W_{k + 1}$", fontsize=9)
    uniform = kernels.mean(0)
    for row, (name, a) in enumerate(weights.items(), start=1):
        if name in images:
            axes[row, 0].imshow(np.asarray(images[name]), cmap="gray")
            axes[row, 0].set_title(name, fontsize=8)
        bars = axes[row, offset]
        bars.axis("on")
        bars.bar(range(1, count + 1), a, color="#4c72b0")
        bars.axhline(1 / count, color="gray", linestyle="--", linewidth=1)
        bars.set_xticks(range(1, count + 1))
        bars.set_ylim(0, max(1.0, float(a.max()) * 1.05))
        bars.tick_params(labelsize=7)
        bars.set_title("attention" if name in images else f"attention: {name}", fontsize=8)
        mixed = np.tensordot(a, kernels, axes=1)
        axes[row, offset + 1].imshow(mixed, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, offset + 1].set_title(r"mixed: $\Sigma_k\, a_k W_k$", fontsize=8)
        change = mixed - uniform
        change_limit = float(np.abs(change).max()) or 1e-12
        axes[row, offset + 2].imshow(change, cmap="RdBu_r", vmin=-change_limit, vmax=change_limit)
        axes[row, offset + 2].set_title(f"minus uniform mix\n(max |change| {change_limit:.2g})", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_temperature_sweep(
    logits: "dict[str, np.ndarray]", temperatures: Optional[np.ndarray] = None, title: str = ""
) -> Figure:
    r"""The attention :math:`\operatorname{softmax}(z / \tau)` against the temperature :math:`\tau`, one panel per logit vector.

    At a high temperature every kernel gets :math:`1/K` (dashed line) whatever the logits;
    at a low one the largest logit takes all the weight. :math:`\tau = 1` is marked.

    Parameters
    ----------
    logits : dict
        ``{panel title: (K,) logits}``.
    temperatures : numpy.ndarray, optional
        The temperatures ``(T,)`` to draw (log-spaced from 0.03 to 100 by default).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    taus = np.logspace(-1.5, 2, 141) if temperatures is None else np.asarray(temperatures, dtype=np.float64)
    if taus.ndim != 1 or taus.size < 2 or (taus <= 0).any():
        raise ValueError("temperatures must be a 1-D array of at least two positive values")
    fig, axes = plt.subplots(1, len(logits), figsize=(3.6 * len(logits), 3.0), squeeze=False, sharey=True)
    for ax, (name, z) in zip(axes[0], logits.items()):
        z = np.asarray(z, dtype=np.float64)
        scaled = z[None, :] / taus[:, None]
        weights = np.exp(scaled - scaled.max(1, keepdims=True))
        weights /= weights.sum(1, keepdims=True)
        for k in range(z.size):
            ax.plot(taus, weights[:, k], label=f"$W_{k + 1}$ (z = {z[k]:.2f})")
        ax.axhline(1 / z.size, color="gray", linestyle="--", linewidth=1)
        ax.axvline(1.0, color="black", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel(r"temperature $\tau$")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("attention")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_styled
def plot_branch_attention(
    sizes: np.ndarray,
    attention: "dict[str, Sequence[np.ndarray]]",
    branch: int = -1,
    layer_names: Sequence[str] = (),
    xlabel: str = "object half-size s (pixels)",
    ylabel: str = "weight of the largest receptive field",
    title: str = "",
) -> Figure:
    """A selective-kernel layer's weight on one branch (averaged over channels) against object size, one panel per layer.

    Each panel is :func:`plot_tap_spread` of the per-input mean weight of ``branch``: a
    scatter per network, its Pearson correlation with the size in the legend.

    Parameters
    ----------
    sizes : numpy.ndarray
        ``(N,)`` object sizes.
    attention : dict
        ``{network name: one (N, branches, C) array per layer}`` (from
        :func:`convref.experiments.dynamic_attention`); every network has the same layers.
    branch : int
        Which branch's weight to show (the last, the largest receptive field, by default).
    layer_names : sequence of str
        Panel titles (``"layer 1"``, ... by default).
    xlabel, ylabel, title : str
        Labels (``ylabel`` on the first panel).

    Returns
    -------
    matplotlib.figure.Figure
    """
    layers = {len(a) for a in attention.values()}
    if len(layers) != 1:
        raise ValueError(f"every network must have the same number of layers, got {sorted(layers)}")
    count = layers.pop()
    fig, axes = plt.subplots(1, count, figsize=(4.2 * count, 3.5), squeeze=False, sharey=True)
    for index, ax in enumerate(axes[0]):
        values = {name: np.asarray(a[index], dtype=np.float64)[:, branch].mean(1) for name, a in attention.items()}
        name = layer_names[index] if index < len(layer_names) else f"layer {index + 1}"
        plot_tap_spread(sizes, values, xlabel=xlabel, ylabel=ylabel if index == 0 else "", title=name, ax=ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ += ["plot_attention_by_group", "plot_kernel_mixture", "plot_temperature_sweep", "plot_branch_attention"]


# ---------------------------------------------------------------------------
# Capstone: choosing a convolution
# ---------------------------------------------------------------------------

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


def _label_points(ax: Axes, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], fontsize: float = 7) -> None:
    """Write each label right of its point, pushing a label down while it would overlap one already placed."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes' limits, so data -> pixel is final
    to_pixels = ax.transData.transform
    height = fontsize * fig.dpi / 72 * 1.15
    placed: list[tuple[float, float, float]] = []  # (left, right, baseline) in pixels
    for index in np.argsort(ys)[::-1]:  # from the top down
        px, py = to_pixels((xs[index], ys[index]))
        left, right = px + 4, px + 4 + 0.55 * fontsize * fig.dpi / 72 * len(labels[index])
        shift = 0.0
        while any(lo < right and left < hi and abs(py + 2 - shift - base) < height for lo, hi, base in placed):
            shift += height / 2
        placed.append((left, right, py + 2 - shift))
        ax.annotate(
            labels[index], (xs[index], ys[index]), xytext=(4, 2 - shift * 72 / fig.dpi), textcoords="offset points",
            fontsize=fontsize, va="bottom",
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
    """Accuracy against cost for the rows of :func:`convref.compare.compare_operators`, one panel per cost.

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
        raise ValueError(f"costs must be a non-empty selection of {list(CHOICE_COSTS)}, got {list(costs)}")
    if any(row.get(cost) is None for row in rows for cost in costs):
        raise ValueError(f"every row needs a value for {list(costs)} (gpu_ratio exists only when a GPU was measured)")
    fig, axes = plt.subplots(1, len(costs), figsize=(5.5 * len(costs), 5), sharey=True, squeeze=False)
    parts = list(dict.fromkeys(_PART_OF_CHAPTER.values()))
    colours = dict(zip(parts, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    largest = max(row["params"] for row in rows)
    baseline = rows[0]
    for ax, key in zip(axes[0], costs):
        unit = _COST_UNITS.get(key, 1.0)
        if noise is not None:
            ax.axhspan(baseline[accuracy] - noise, baseline[accuracy] + noise, color="0.9", zorder=0)
        ax.axhline(baseline[accuracy], color="0.6", lw=0.8, ls="--", zorder=1)
        ax.axvline(baseline[key] / unit, color="0.6", lw=0.8, ls="--", zorder=1)
        for row in rows:
            part = _PART_OF_CHAPTER.get(row["chapter"], "baseline")
            ax.scatter(
                row[key] / unit, row[accuracy], s=20 + 180 * row["params"] / largest,
                color=colours[part], edgecolor="k", lw=0.5, zorder=3,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.12, y=0.08)
        ax.set_xlabel(CHOICE_COSTS[key])
        _label_points(ax, [row[key] / unit for row in rows], [row[accuracy] for row in rows], [row["label"] for row in rows])
    axes[0][0].set_ylabel(accuracy.replace("_", " "))
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[p], markeredgecolor="k", label=p) for p in parts]
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=len(parts), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


__all__ += ["CHOICE_COSTS", "plot_operator_choices"]
