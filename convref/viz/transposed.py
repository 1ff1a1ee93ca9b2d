"""Figures of the transposed-convolution chapter: scatter and gather readings, overlap, checkerboards."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..arith import conv_transpose_output_size, has_uneven_overlap, transpose_overlap
from ..experiments import checkerboard_energy
from ..functional import conv_transpose2d
from .figure_style import (
    INPUT_COLOR,
    OUTPUT_COLOR,
    PAD_COLOR,
    TAP_COLOR,
    TEXT_SIZES,
    _columns,
    _grid,
    _styled,
)


#: Colours of the kernel stamps of up to four input pixels in :func:`plot_transpose_scatter`.
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
    if not 1 <= len(pixels) <= len(STAMP_COLORS):
        raise ValueError(
            f"pixels must hold 1 to {len(STAMP_COLORS)} (row, col) pairs, got {len(pixels)}"
        )
    for row, col in pixels:
        if not (0 <= row < input_size and 0 <= col < input_size):
            raise ValueError(
                f"pixels must lie inside the {input_size}x{input_size} input, got {(row, col)}"
            )
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    full = (input_size - 1) * stride + kernel_size
    counts = np.outer(
        transpose_overlap(input_size, kernel_size, stride),
        transpose_overlap(input_size, kernel_size, stride),
    )
    fig, (ax_in, ax_out) = plt.subplots(
        1,
        2,
        figsize=(2.2 + 0.42 * (input_size + full), 0.42 * full + 1.3),
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
    ax_in.set_title(f"input {input_size}x{input_size}", fontsize=TEXT_SIZES["label"])

    # Output cells: cropped border grey and hatched, kept region white; the count in each cell.
    for i in range(full):
        for j in range(full):
            cropped = not (
                padding <= i < padding + out and padding <= j < padding + out
            )
            ax_out.add_patch(
                Rectangle(
                    (j, full - i - 1),
                    1,
                    1,
                    facecolor="#e0e0e0" if cropped else "white",
                    hatch="//" if cropped else None,
                    edgecolor="#999999",
                    linewidth=0.5,
                )
            )
            ax_out.text(
                j + 0.5,
                full - i - 0.5,
                str(counts[i, j]),
                ha="center",
                va="center",
                fontsize=TEXT_SIZES["small"],
                color="#333333",
            )
    for index, (row, col) in enumerate(
        pixels
    ):  # each chosen pixel's stamp, at stride times its position
        ax_out.add_patch(
            Rectangle(
                (stride * col, full - stride * row - kernel_size),
                kernel_size,
                kernel_size,
                facecolor=STAMP_COLORS[index],
                alpha=0.35,
                edgecolor=STAMP_COLORS[index],
                linewidth=2,
            )
        )
    ax_out.add_patch(
        Rectangle(
            (padding, full - padding - out),
            out,
            out,
            fill=False,
            edgecolor="#000000",
            linewidth=2,
        )
    )
    ax_out.set_xlim(-0.3, full + 0.3)
    ax_out.set_ylim(-0.3, full + 0.3)
    ax_out.set_title(
        f"full output {full}x{full}: number of stamps per pixel; padding {padding} keeps {out}x{out}",
        fontsize=TEXT_SIZES["label"],
    )
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(
        f"transposed convolution, kernel {kernel_size}, stride {stride}: one input pixel -> one "
        f"{kernel_size}x{kernel_size} stamp",
    )
    fig.tight_layout()
    return fig


#: Colour of the zeros inserted between the input pixels in :func:`plot_zero_stuffed`.
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
    if not 0 <= padding <= kernel_size - 1:
        raise ValueError(
            f"padding must be between 0 and kernel_size - 1 = {kernel_size - 1}, got {padding}"
        )
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    border = kernel_size - 1 - padding
    stuffed = (input_size - 1) * stride + 1
    size = stuffed + 2 * border
    # Along one axis: is a position an input pixel, an inserted zero, or border padding?
    axis = np.full(size, "border", dtype=object)
    axis[border : border + stuffed] = "zero"
    axis[border : border + stuffed : stride] = "input"
    kind = np.where(
        (axis[:, None] == "border") | (axis[None, :] == "border"),
        "border",
        np.where(
            (axis[:, None] == "input") & (axis[None, :] == "input"), "input", "zero"
        ),
    )
    palette = {"input": INPUT_COLOR, "zero": STUFFED_ZERO_COLOR, "border": PAD_COLOR}
    colors = np.vectorize(palette.get, otypes=[object])(kind)
    alpha = np.where(kind == "input", 0.55, 1.0)
    out_row, out_col = divmod(step % (out * out), out)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.4 * (size + out) + 1.2, 0.4 * size + 1.9))
    _grid(ax, size, 0, size, size, colors, alpha)
    # The window of output (out_row, out_col): k x k cells of the stuffed input, stride 1.
    ax.add_patch(
        Rectangle(
            (out_col, size - out_row - kernel_size),
            kernel_size,
            kernel_size,
            facecolor=TAP_COLOR,
            alpha=0.45,
            edgecolor=TAP_COLOR,
            linewidth=2.5,
        )
    )
    for i in range(
        size
    ):  # the real pixels under the window: the only products that are not zero
        for j in range(size):
            if (
                kind[i, j] == "input"
                and out_row <= i < out_row + kernel_size
                and out_col <= j < out_col + kernel_size
            ):
                ax.plot(
                    j + 0.5, size - i - 0.5, marker="o", color="#1f3a68", markersize=5
                )
    left = size + 1.5
    out_colors = np.full((out, out), OUTPUT_COLOR, dtype=object)
    out_alpha = np.full((out, out), 0.35)
    out_alpha[out_row, out_col] = 0.95
    _grid(ax, size / 2 + out / 2, left, out, out, out_colors, out_alpha)
    ax.set_xlim(-0.5, left + out + 0.5)
    ax.set_ylim(-0.5, size + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [
        Rectangle((0, 0), 1, 1, facecolor=INPUT_COLOR, alpha=0.55, edgecolor="#333333"),
        Rectangle((0, 0), 1, 1, facecolor=STUFFED_ZERO_COLOR, edgecolor="#333333"),
        Rectangle((0, 0), 1, 1, facecolor=PAD_COLOR, edgecolor="#333333"),
        Rectangle(
            (0, 0),
            1,
            1,
            facecolor=TAP_COLOR,
            alpha=0.45,
            edgecolor=TAP_COLOR,
            linewidth=2,
        ),
    ]
    ax.legend(
        handles,
        [
            "input pixel",
            f"inserted zero ({stride - 1} per gap)",
            f"border zero (k-1-p = {border})",
            f"window of output {step % (out * out)}",
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        fontsize=TEXT_SIZES["small"],
        frameon=False,
    )
    ax.set_title(
        f"input {input_size}, kernel {kernel_size}, stride {stride}, padding {padding} -> output {out}\n"
        f"stride-1 convolution over the {size}x{size} zero-stuffed input",
        fontsize=TEXT_SIZES["label"],
    )
    ax.figure.tight_layout()
    return ax.figure


def _constant_kernel_upsampling(
    image: np.ndarray, kernel_size: int, stride: int
) -> np.ndarray:
    """Transposed convolution of ``image`` with equal taps ``s**2 / k**2`` (no padding), interior only.

    The interior, rows and columns ``k - 1`` to ``(i - 1) s``, is where every output pixel
    receives all the taps it can; outside it the stamps thin out towards the border.
    """
    x = torch.from_numpy(np.asarray(image, dtype=np.float64))[None, None]
    weight = torch.full(
        (1, 1, kernel_size, kernel_size),
        stride**2 / kernel_size**2,
        dtype=torch.float64,
    )
    y = conv_transpose2d(x, weight, stride=stride)[0, 0].numpy()
    first, last_h, last_w = (
        kernel_size - 1,
        (image.shape[0] - 1) * stride,
        (image.shape[1] - 1) * stride,
    )
    return (
        y[first : last_h + 1, first : last_w + 1]
        if last_h >= first and last_w >= first
        else y
    )


@_styled
def plot_overlap(
    cases: Sequence[tuple[int, int]] = ((3, 2), (4, 2)),
    input_size: int = 5,
    image: Optional[np.ndarray] = None,
    ncols: Optional[int] = None,
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
    ncols : int, optional
        Cases side by side (by default as many as fit the book's column, two); more
        cases continue on further rows.

    Returns
    -------
    matplotlib.figure.Figure
        The axes row by row: the count maps of a row of cases, then their pictures; the
        colour bars last.
    """
    if not cases:
        raise ValueError("cases must hold at least one (kernel_size, stride) pair")
    rows = 1 if image is None else 2
    ncols = _columns(len(cases), 3.6, ncols)
    blocks = -(-len(cases) // ncols)
    fig, axes = plt.subplots(
        rows * blocks, ncols, figsize=(3.6 * ncols, 3.3 * rows * blocks), squeeze=False
    )
    for ax in axes[:, len(cases) % ncols or ncols :][-rows:].flat:
        ax.remove()  # the unused places of the last row of cases
    for index, (kernel_size, stride) in enumerate(cases):
        block, column = divmod(index, ncols)
        counts = transpose_overlap(input_size, kernel_size, stride)
        grid = np.outer(counts, counts)
        ax = axes[block * rows, column]
        shown = ax.imshow(grid, cmap="viridis", vmin=0, interpolation="nearest")
        if grid.shape[0] <= 24:
            middle = (grid.max() + 0) / 2
            for (i, j), value in np.ndenumerate(grid):
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=TEXT_SIZES["small"],
                    color="white" if value < middle else "black",
                )
        uneven = has_uneven_overlap(kernel_size, stride)
        ax.set_title(
            f"k={kernel_size}, s={stride}: {'uneven' if uneven else 'even'} overlap\n"
            f"(k mod s = {kernel_size % stride}); 1-D counts {counts[:6].tolist()}...",
            fontsize=TEXT_SIZES["label"],
        )
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(
            shown, ax=ax, fraction=0.046, pad=0.04, ticks=MaxNLocator(integer=True)
        )
        if image is not None:
            upsampled = _constant_kernel_upsampling(image, kernel_size, stride)
            upsampled = upsampled[
                : upsampled.shape[0] // 2 * 2, : upsampled.shape[1] // 2 * 2
            ]  # even sides
            ax = axes[block * rows + 1, column]
            ax.imshow(upsampled, cmap="gray", interpolation="nearest")
            title = f"upsampled x{stride}, equal taps, {upsampled.shape[0]}x{upsampled.shape[1]}"
            if min(upsampled.shape) >= 2:
                title += f"\ncheckerboard energy {checkerboard_energy(upsampled):.3f}"
            ax.set_title(title, fontsize=TEXT_SIZES["label"])
            ax.axis("off")
    fig.tight_layout()
    return fig


@_styled
def plot_upsampling_comparison(
    outputs: dict[str, np.ndarray],
    crop: int = 16,
    corner: Optional[tuple[int, int]] = None,
) -> Figure:
    r"""Upsampled images side by side: the picture, a zoomed crop, and the power spectrum.

    One row per entry of ``outputs``. Left: the whole image, each on its own grey scale
    (its minimum to its maximum), with the crop outlined. Middle: the ``crop x crop``
    pixels at ``corner``, enlarged, where a checkerboard is easy to see. Right: the log
    power spectrum of the image minus its mean, zero frequency at the centre and
    frequencies from :math:`-\pi` to :math:`\pi` on both axes, with the three Nyquist
    frequencies that :func:`convref.experiments.checkerboard_energy` sums circled (they
    lie on the edges: :math:`-\pi` and :math:`\pi` are the same frequency); the title
    gives their share.

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
    if not outputs:
        raise ValueError("outputs must hold at least one image")
    images = {
        name: np.asarray(image, dtype=np.float64) for name, image in outputs.items()
    }
    fig, axes = plt.subplots(
        len(images), 3, figsize=(7.5, 3.0 * len(images)), squeeze=False
    )
    axes = axes.T  # axes[kind, entry]: kind 0 the image, 1 the crop, 2 the spectrum
    for column, (name, image) in enumerate(images.items()):
        height, width = image.shape
        top, left = (
            corner
            if corner is not None
            else (max(0, (height - crop) // 2), max(0, (width - crop) // 2))
        )
        axes[0, column].imshow(image, cmap="gray", interpolation="nearest")
        axes[0, column].add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                crop,
                crop,
                fill=False,
                edgecolor="#00d0ff",
                lw=1.2,
            )
        )
        axes[0, column].set_title(name, fontsize=TEXT_SIZES["label"])
        axes[1, column].imshow(
            image[top : top + crop, left : left + crop],
            cmap="gray",
            interpolation="nearest",
        )
        axes[1, column].set_title(
            f"{crop}x{crop} crop, enlarged", fontsize=TEXT_SIZES["label"]
        )
        power = np.fft.fftshift(np.abs(np.fft.fft2(image - image.mean())) ** 2)
        spectrum = axes[2, column]
        spectrum.imshow(
            np.log10(power + 1e-12 * power.max() + 1e-300),
            cmap="magma",
            interpolation="nearest",
        )
        # After fftshift, index 0 on each axis is the Nyquist frequency -pi and index H/2 is 0.
        for i, j in ((0, width // 2), (height // 2, 0), (0, 0)):
            spectrum.add_patch(
                plt.Circle(
                    (j, i),
                    radius=max(2.0, 0.06 * width),
                    fill=False,
                    edgecolor="#00d0ff",
                    linewidth=2,
                    clip_on=False,
                )
            )
        spectrum.set_xticks(
            [0, width // 2, width - 1], ["-π", "0", "π"], fontsize=TEXT_SIZES["small"]
        )
        spectrum.set_yticks(
            [0, height // 2, height - 1], ["-π", "0", "π"], fontsize=TEXT_SIZES["small"]
        )
        spectrum.set_title(
            f"log power spectrum\ncheckerboard energy {checkerboard_energy(image):.4f}",
            fontsize=TEXT_SIZES["label"],
            pad=9,
        )
        for ax in axes[:2, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
