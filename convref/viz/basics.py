"""Figures of the first chapters: convolution arithmetic, channel groups, images, matrices, curves, cost shares."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..arith import conv_output_size
from .figure_style import (
    COLUMN_WIDTH,
    INPUT_COLOR,
    OUTPUT_COLOR,
    PAD_COLOR,
    TAP_COLOR,
    TEXT_SIZES,
    _columns,
    _grid,
    _styled,
    _wrap,
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
        fontsize=TEXT_SIZES["label"],
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
    ncols = _columns(len(steps), 2.6)
    nrows = -(-len(steps) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.0 * nrows + 0.4), squeeze=False
    )
    for ax in axes.flat[len(steps) :]:
        ax.remove()
    for ax, step in zip(axes.flat, steps):
        plot_conv_arithmetic(
            input_size, kernel_size, stride, padding, dilation, step, ax=ax
        )
        ax.set_title(f"output position {step}", fontsize=TEXT_SIZES["label"])
    fig.suptitle(
        f"input {input_size}, kernel {kernel_size}, stride {stride}, padding {padding}, dilation {dilation}",
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
    width = min(2.55, (COLUMN_WIDTH - 0.15) / len(steps))
    fig = plt.figure(
        figsize=(width * len(steps), (0.62 * width + 0.75) * len(cases)),
        layout="constrained",
    )
    rows = fig.subfigures(len(cases), 1, squeeze=False)[:, 0]
    for row, (name, geometry) in zip(rows, cases.items()):
        geometry = {"stride": 1, "padding": 0, "dilation": 1, **geometry}
        out = conv_output_size(
            geometry["input_size"],
            geometry["kernel_size"],
            geometry["stride"],
            geometry["padding"],
            geometry["dilation"],
        )
        axes = row.subplots(1, len(steps), squeeze=False)[0]
        for ax, step in zip(axes, steps):
            plot_conv_arithmetic(**geometry, step=step, ax=ax)
            ax.set_title(f"output position {step}", fontsize=TEXT_SIZES["label"])
        row.suptitle(
            f"{name}: i={geometry['input_size']}, k={geometry['kernel_size']}, s={geometry['stride']}, "
            f"p={geometry['padding']}, d={geometry['dilation']}  ->  o={out}",
        )
    return fig


@_styled
def plot_channel_groups(
    in_channels: int, out_channels: int, groups: Sequence[int] = (1, 2, 4)
) -> Figure:
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
    width = min(2.6, COLUMN_WIDTH / len(groups))
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(width * len(groups), 0.32 * max(in_channels, out_channels) + 1.8),
    )
    colors = plt.get_cmap("tab10")
    height = max(in_channels, out_channels)

    def ys(count: int) -> np.ndarray:  # centre both columns vertically
        return (height - count) / 2 + np.arange(count)[::-1]

    for ax, g in zip(np.atleast_1d(axes), groups):
        y_in, y_out = ys(in_channels), ys(out_channels)
        per_in, per_out = in_channels // g, out_channels // g
        for o in range(out_channels):
            group = o // per_out
            for c in range(
                group * per_in, (group + 1) * per_in
            ):  # the inputs that output o sums over
                ax.plot(
                    [0.12, 0.88],
                    [y_in[c] + 0.5, y_out[o] + 0.5],
                    color=colors(group % 10),
                    lw=0.9,
                    alpha=0.7,
                )
        for x, ys_, per in ((-0.12, y_in, per_in), (0.88, y_out, per_out)):
            for index, y in enumerate(ys_):
                ax.add_patch(
                    Rectangle(
                        (x, y + 0.1),
                        0.24,
                        0.8,
                        facecolor=colors((index // per) % 10),
                        edgecolor="#333333",
                        lw=0.6,
                    )
                )
        ax.text(0.0, height + 0.3, "input", ha="center", fontsize=TEXT_SIZES["small"])
        ax.text(1.0, height + 0.3, "output", ha="center", fontsize=TEXT_SIZES["small"])
        ax.set_xlim(-0.2, 1.2)
        ax.set_ylim(-0.2, height + 1.0)
        ax.axis("off")
        ax.set_title(
            f"groups={g}\nweight ({out_channels}, {per_in}, kh, kw)\n"
            f"{out_channels * per_in} slices of kh x kw",
            fontsize=TEXT_SIZES["label"],
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
        Images per row (all in one row by default). A row wider than the book's column
        gets smaller panels (down to 1.5 inches) and then fewer panels per row.
    size : float
        Side of each panel in inches (at most; see ``ncols``).
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
    wanted = min(ncols or count, count)
    size = min(size, max(1.5, COLUMN_WIDTH / wanted))
    ncols = _columns(count, size, wanted)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False
    )
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
            ax.set_title(
                _wrap(titles[index], 0.9 * size if colorbar else size),
                fontsize=TEXT_SIZES["label"],
            )
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
    image = ax.imshow(
        matrix,
        cmap="viridis",
        aspect="auto",
        interpolation="nearest",
        vmin=vmin,
        vmax=vmax,
    )
    if annotate:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(matrix):
            # Dark cells of viridis need light text and vice versa.
            color = "white" if value < middle else "black"
            ax.text(
                j,
                i,
                format(value, fmt),
                ha="center",
                va="center",
                fontsize=TEXT_SIZES["small"],
                color=color,
            )
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
    else:
        ax.figure.colorbar(image, ax=ax, fraction=0.04)
    ax.set_title(f"{title} {tuple(matrix.shape)}".strip(), fontsize=TEXT_SIZES["label"])
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
    ax.xaxis.set_major_locator(
        MaxNLocator(integer=True)
    )  # the index counts layers, steps...
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
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
    ax.barh(
        positions + 0.2, mult_adds, height=0.4, label="multiply-adds", color=TAP_COLOR
    )
    ax.set_yticks(positions, kinds)
    ax.invert_yaxis()
    ax.set_xlabel("share of the network (%)")
    ax.set_xlim(0, 100)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
