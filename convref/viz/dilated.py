"""Figures of the dilated-convolution chapter: kernels with holes, space-to-batch, coverage, causal stacks, ERF."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..arith import causal_receptive_field, receptive_field_coverage, satisfies_hdc
from ..experiments import erf_radius
from ..reference import conv2d, dilate_kernel, space_to_batch
from .figure_style import (
    COLUMN_WIDTH,
    INPUT_COLOR,
    OUTPUT_COLOR,
    TAP_COLOR,
    TEXT_SIZES,
    _columns,
    _styled,
    _wrap,
)


#: Colours of the ``d x d`` phases (residue classes) of a dilated convolution.
_PHASE_COLORS = plt.get_cmap("tab10")


@_styled
def plot_dilated_kernel(
    kernel: np.ndarray, dilations: Sequence[int] = (1, 2, 3)
) -> Figure:
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
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-D array, got shape {kernel.shape}")
    kh, kw = kernel.shape
    limit = float(np.abs(kernel).max()) or 1.0
    largest = max(max(d * (kh - 1) + 1, d * (kw - 1) + 1) for d in dilations)
    fig, axes = plt.subplots(
        1, len(dilations), figsize=(2.6 * len(dilations), 3.3), squeeze=False
    )
    cmap = plt.get_cmap("RdBu_r").with_extremes(
        bad="#e6e6e6"
    )  # masked cells (the holes) in light grey
    for ax, d in zip(axes[0], dilations):
        dilated = dilate_kernel(kernel[None, None], d)[0, 0]
        holes = np.ones(dilated.shape, dtype=bool)
        holes[::d, ::d] = False
        height, width = dilated.shape
        # Centre every panel in a box of the largest span, so that sizes compare.
        top, left = (largest - height) / 2, (largest - width) / 2
        ax.imshow(
            np.ma.masked_array(dilated, holes),
            cmap=cmap,
            vmin=-limit,
            vmax=limit,
            extent=(left - 0.5, left + width - 0.5, top + height - 0.5, top - 0.5),
            interpolation="nearest",
        )
        ax.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                width,
                height,
                fill=False,
                edgecolor="#333333",
                lw=1,
            )
        )
        if largest <= 13:  # values stay readable up to about 13 x 13 cells
            for (i, j), value in np.ndenumerate(dilated):
                text = f"{value:.2g}" if not holes[i, j] else "0"
                # Dark cells (large |value|) need white text.
                color = (
                    "#999999"
                    if holes[i, j]
                    else ("white" if abs(value) > 0.6 * limit else "#222222")
                )
                ax.text(
                    left + j,
                    top + i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=TEXT_SIZES["small"],
                    color=color,
                )
        ax.set_xlim(-0.5, largest - 0.5)
        ax.set_ylim(largest - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            f"rate {d}: {kh}x{kw} taps span {height}x{width}\n{kh * kw} weights, {holes.sum()} zeros",
            fontsize=TEXT_SIZES["label"],
        )
    fig.tight_layout()
    return fig


@_styled
def plot_space_to_batch(
    image: np.ndarray, block: int, kernel: Optional[np.ndarray] = None
) -> Figure:
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
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D array, got shape {image.shape}")
    d = int(block)
    sub_images = space_to_batch(image[None, None], d)[
        :, 0
    ]  # (d * d, H / d, W / d), phase a * d + b
    rows = 1 if kernel is None else 2
    # Per row: the full image on the left (d x d cells of the grid), the d x d sub-images on the right.
    fig = plt.figure(figsize=(7.4, 3.5 * rows + 0.4))
    grid = fig.add_gridspec(
        rows * d, 2 * d + 1, width_ratios=[1] * d + [0.25] + [1] * d
    )
    axes = np.empty((rows, 1 + d * d), dtype=object)
    for row in range(rows):
        axes[row, 0] = fig.add_subplot(grid[row * d : (row + 1) * d, :d])
        for index in range(d * d):
            a, b = divmod(index, d)
            axes[row, 1 + index] = fig.add_subplot(grid[row * d + a, d + 1 + b])
    phase = (np.arange(image.shape[0])[:, None] % d) * d + np.arange(image.shape[1])[
        None, :
    ] % d

    def tinted(
        ax: Axes,
        values: np.ndarray,
        phases: np.ndarray,
        title: str,
        limits: tuple[float, float],
    ) -> None:
        ax.imshow(
            values, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest"
        )
        # A small dot in the phase's colour at every pixel: the picture stays readable underneath.
        rows, cols = np.indices(phases.shape)
        ax.scatter(
            cols.ravel(),
            rows.ravel(),
            c=[_PHASE_COLORS(p % 10) for p in phases.ravel()],
            s=max(4.0, 2500.0 / phases.size),
            marker="s",
            linewidths=0,
        )
        ax.set_xlim(-0.5, phases.shape[1] - 0.5)
        ax.set_ylim(phases.shape[0] - 0.5, -0.5)
        ax.set_title(title, fontsize=TEXT_SIZES["label"])
        ax.set_xticks([])
        ax.set_yticks([])

    def framed(
        ax: Axes,
        values: np.ndarray,
        index: int,
        title: str,
        limits: tuple[float, float],
    ) -> None:
        ax.imshow(
            values, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest"
        )
        for spine in ax.spines.values():
            spine.set_edgecolor(_PHASE_COLORS(index % 10))
            spine.set_linewidth(3)
        ax.set_title(title, fontsize=TEXT_SIZES["label"])
        ax.set_xticks([])
        ax.set_yticks([])

    limits = (float(image.min()), float(image.max()))
    tinted(
        axes[0, 0],
        image,
        phase,
        f"input {image.shape[0]}x{image.shape[1]}, dots: phase",
        limits,
    )
    for index, sub in enumerate(sub_images):
        a, b = divmod(index, d)
        framed(axes[0, 1 + index], sub, index, f"x[{a}::{d}, {b}::{d}]", limits)
    if kernel is not None:
        kernel = np.asarray(kernel, dtype=np.float64)
        dilated = conv2d(image[None, None], kernel[None, None], dilation=d)[0, 0]
        sub_outputs = conv2d(sub_images[:, None], kernel[None, None])[
            :, 0
        ]  # the dense kernel, per phase
        out_limits = (float(dilated.min()), float(dilated.max()))
        tinted(
            axes[1, 0],
            dilated,
            phase[: dilated.shape[0], : dilated.shape[1]],
            f"conv2d(x, w, dilation={d})",
            out_limits,
        )
        for index, sub in enumerate(sub_outputs):
            a, b = divmod(index, d)
            framed(
                axes[1, 1 + index], sub, index, f"w * x[{a}::{d}, {b}::{d}]", out_limits
            )
    fig.suptitle(
        f"rate {d}: the input splits into {d * d} interleaved sub-images"
        + (
            ""
            if kernel is None
            else f"; the {kernel.shape[0]}x{kernel.shape[1]} kernel runs densely on each"
        ),
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
    maps = [
        receptive_field_coverage([kernel_size] * len(rates), rates) for rates in stacks
    ]
    half = max(m.shape[0] for m in maps) // 2
    fig, axes = plt.subplots(
        1, len(stacks), figsize=(2.6 * len(stacks), 3.2), squeeze=False
    )
    cmap = plt.get_cmap("viridis").with_extremes(
        bad="white"
    )  # masked cells (the holes) in white
    for ax, rates, counts in zip(axes[0], stacks, maps):
        h = counts.shape[0] // 2
        shown = ax.imshow(
            np.ma.masked_equal(counts, 0),
            cmap=cmap,
            vmin=1,
            vmax=max(int(counts.max()), 2),
            extent=(-h - 0.5, h + 0.5, h + 0.5, -h - 0.5),
            interpolation="nearest",
        )
        ax.add_patch(
            Rectangle(
                (-h - 0.5, -h - 0.5),
                2 * h + 1,
                2 * h + 1,
                fill=False,
                edgecolor="#333333",
                lw=1,
            )
        )
        ax.set_xlim(-half - 0.5, half + 0.5)
        ax.set_ylim(half + 0.5, -half - 0.5)
        ax.tick_params(labelsize=TEXT_SIZES["small"])
        reached, total = int((counts > 0).sum()), counts.size
        title = (
            f"rates {', '.join(str(int(r)) for r in rates)}: "
            f"{reached} of {total} reached\n({reached / total:.0%})"
        )
        if kernel_size >= 3:
            verdict = "met" if satisfies_hdc(rates, kernel_size) else "not met"
            title += f", HDC rule {verdict}"
        ax.set_title(title, fontsize=TEXT_SIZES["label"])
        ax.set_xlabel("input offset (columns)")
        bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label("paths")
        bar.locator = MaxNLocator(integer=True)  # path counts are whole numbers
        bar.update_ticks()
        bar.ax.tick_params(labelsize=TEXT_SIZES["small"])
    axes[0, 0].set_ylabel("input offset (rows)")
    fig.suptitle(
        f"{kernel_size}x{kernel_size} kernels: input positions that reach the centre output (white: holes)",
    )
    fig.tight_layout()
    return fig


@_styled
def plot_causal_stack(
    dilations: Sequence[int],
    kernel_size: int = 2,
    length: Optional[int] = None,
    highlight: Optional[int] = None,
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
        on_path[level - 1] = {
            t - d * j
            for t in on_path[level]
            for j in range(kernel_size)
            if t - d * j >= 0
        }
    fig, ax = plt.subplots(
        figsize=(min(0.32 * length + 2.2, COLUMN_WIDTH), 0.75 * layers + 1.6)
    )
    for level in range(1, layers + 1):
        d = dilations[level - 1]
        for t in range(length):
            for j in range(kernel_size):
                source = t - d * j
                if source < 0:
                    continue
                emphasised = t in on_path[level] and source in on_path[level - 1]
                ax.plot(
                    [source, t],
                    [level - 1, level],
                    color="#222222" if emphasised else "#bbbbbb",
                    lw=1.3 if emphasised else 0.5,
                    zorder=2 if emphasised else 1,
                )
    for level in range(layers + 1):
        inside = sorted(on_path[level])
        outside = [t for t in range(length) if t not in on_path[level]]
        color = (
            INPUT_COLOR
            if level == 0
            else (OUTPUT_COLOR if level == layers else TAP_COLOR)
        )
        ax.scatter(
            outside,
            [level] * len(outside),
            s=28,
            facecolor="white",
            edgecolor=color,
            lw=1,
            zorder=3,
        )
        ax.scatter(
            inside,
            [level] * len(inside),
            s=28,
            facecolor=color,
            edgecolor=color,
            lw=1,
            zorder=3,
            gid="receptive-field" if level == 0 else None,
        )
    labels = ["input"] + [
        f"{'output' if level == layers else 'hidden'}, rate {dilations[level - 1]}"
        for level in range(1, layers + 1)
    ]
    ax.set_yticks(range(layers + 1), labels, fontsize=TEXT_SIZES["small"])
    ax.set_xlabel("time step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelsize=TEXT_SIZES["small"])
    ax.set_xlim(-0.8, length - 0.2)
    ax.set_ylim(-0.5, layers + 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"causal stack, kernel {kernel_size}, rates {tuple(int(d) for d in dilations)}: "
        f"output {highlight} sees inputs {highlight - rf + 1 if highlight >= rf - 1 else 0}..{highlight} "
        f"(receptive field {rf})",
        fontsize=TEXT_SIZES["label"],
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
    count = len(erfs)
    # The maps and the profiles wrap onto rows of panels that fit the book's column.
    ncols = _columns(count + 1, 2.5)
    nrows = -(-(count + 1) // ncols)
    fig, grid = plt.subplots(
        nrows, ncols, figsize=(2.5 * ncols, 2.7 * nrows + 0.3), squeeze=False
    )
    axes = list(grid.flat[: count + 1])
    for unused in grid.flat[count + 1 :]:
        unused.remove()
    profile_ax = axes[-1]
    for index, (ax, (name, erf)) in enumerate(zip(axes[:-1], erfs.items())):
        erf = np.asarray(erf, dtype=np.float64)
        centre = erf.shape[0] // 2
        ax.imshow(erf, cmap="magma", interpolation="nearest")
        side = int(theoretical[name])
        effective = 2 * int(erf_radius(erf, mass)) + 1
        for extent, style, gid in (
            (side, "--", "theoretical"),
            (effective, "-", "effective"),
        ):
            ax.add_patch(
                Rectangle(
                    (centre - extent / 2, centre - extent / 2),
                    extent,
                    extent,
                    fill=False,
                    edgecolor="#7fd4ff" if gid == "theoretical" else "#ffffff",
                    ls=style,
                    lw=1.2,
                    gid=gid,
                )
            )
        ax.set_title(
            f"{name}\ntheoretical {side}, {mass:.0%} in {effective}",
            fontsize=TEXT_SIZES["label"],
        )
        ax.set_xticks([])
        ax.set_yticks([])
        row = erf.sum(
            axis=0
        )  # influence of each column: less noisy than the centre row alone
        profile_ax.plot(
            np.arange(len(row)) - centre,
            row / row.max(),
            label=name,
            color=plt.get_cmap("tab10")(index % 10),
            lw=1.2,
        )
    profile_ax.set_xlabel("offset from the centre (pixels)")
    profile_ax.set_ylabel("influence / peak")
    profile_ax.set_title("profiles (summed over rows)", fontsize=TEXT_SIZES["label"])
    profile_ax.tick_params(labelsize=TEXT_SIZES["small"])
    profile_ax.grid(alpha=0.3)
    profile_ax.set_ylim(0, 1.5)  # room for the legend above the curves
    profile_ax.legend(loc="upper center", ncol=2, handlelength=1.2, columnspacing=0.8)
    fig.suptitle(
        _wrap(
            "effective receptive fields (dashed: theoretical; "
            f"solid: {mass:.0%} of the influence)",
            2.5 * ncols,
            TEXT_SIZES["heading"],
        )
    )
    fig.tight_layout()
    return fig
