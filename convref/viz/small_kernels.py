"""Figures of the small-kernels chapter: low-rank (separable) approximations of a kernel and what they filter."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..reference import conv2d, factorize_kernel, separable_conv2d
from .figure_style import (
    COLUMN_WIDTH,
    INPUT_COLOR,
    TAP_COLOR,
    TEXT_SIZES,
    _styled,
    _wrap,
)


def _low_rank(kernel: np.ndarray, rank: int) -> np.ndarray:
    """The rank-``rank`` truncated-SVD approximation of a 2-D kernel (``columns.T @ rows``)."""
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
    ncols = len(ranks) + 2
    # The kernels' panels and a wider error plot share the book's column.
    unit = min(2.2, (COLUMN_WIDTH - 0.2) / (ncols - 1 + 1.6))
    fig, axes = plt.subplots(
        len(kernels),
        ncols,
        figsize=(unit * (ncols - 1 + 1.6) + 0.2, (unit + 0.45) * len(kernels)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1] * (ncols - 1) + [1.6]},
    )
    for index, (row, (name, kernel)) in enumerate(zip(axes, kernels.items())):
        kernel = np.asarray(kernel, dtype=np.float64)
        limit = (
            float(np.abs(kernel).max()) or 1.0
        )  # one symmetric scale per row, so panels compare
        norm = np.linalg.norm(kernel)
        sigma = np.linalg.svd(kernel, compute_uv=False)
        panels = [(kernel, f"{name}\n{kernel.shape[0]}x{kernel.shape[1]}")]
        for r in ranks:
            approx = _low_rank(kernel, r)
            panels.append(
                (
                    approx,
                    f"rank {r}: error {np.linalg.norm(kernel - approx) / norm:.0%}",
                )
            )
        for ax, (matrix, title) in zip(row, panels):
            ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(_wrap(title, unit), fontsize=TEXT_SIZES["label"])
            ax.set_xticks([])
            ax.set_yticks([])
        # Error against rank: r = 0 (nothing kept) up to full rank (exact).
        all_ranks = np.arange(len(sigma) + 1)
        tail = np.array(
            [np.sqrt(np.sum(sigma[r:] ** 2)) for r in all_ranks]
        )  # sum of the dropped sigma^2
        measured = [
            np.linalg.norm(kernel - _low_rank(kernel, r)) if r else norm
            for r in all_ranks
        ]
        ax = row[-1]
        ax.plot(all_ranks, tail / norm, color=INPUT_COLOR, label="Eckart-Young")
        ax.plot(
            all_ranks,
            np.asarray(measured) / norm,
            "o",
            color=INPUT_COLOR,
            markersize=3,
            label="kernel",
        )
        if image is not None:
            full = conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
            errors = [1.0] + [
                np.linalg.norm(
                    conv2d(
                        image[None, None],
                        _low_rank(kernel, r)[None, None],
                        padding="same",
                    )[0, 0]
                    - full
                )
                / np.linalg.norm(full)
                for r in all_ranks[1:]
            ]
            ax.plot(
                all_ranks,
                errors,
                "s--",
                color=TAP_COLOR,
                markersize=3,
                label="filtered image",
            )
            top = max(
                1.0, max(errors)
            )  # an approximation can be worse than no filter at all
        else:
            top = 1.0
        ax.set_ylim(-0.05 * top, 1.05 * top)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("rank")
        ax.set_ylabel("relative error")
        ax.grid(alpha=0.3)
        if index == 0:  # one legend serves every row
            ax.legend()
    fig.tight_layout()
    return fig


@_styled
def plot_low_rank_filtering(
    image: np.ndarray, kernel: np.ndarray, rank: int, name: str = ""
) -> Figure:
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
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    columns, rows = factorize_kernel(kernel, rank)
    approx = columns.T @ rows
    full = conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
    # rank terms = rank middle channels: a (rank, 1, kh, 1) column stage, then a (1, rank, 1, kw) row stage.
    separable = separable_conv2d(
        image[None, None],
        columns[:, None, :, None],
        rows[None, :, None, :],
        padding="same",
    )[0, 0]
    difference = separable - full
    limit = float(np.abs(kernel).max()) or 1.0
    if kernel.min() < 0:  # negative taps give signed outputs: red/blue around zero
        out_style = (
            "RdBu_r",
            -(float(np.abs(full).max()) or 1.0),
            float(np.abs(full).max()) or 1.0,
        )
    else:  # grey levels, one range for both outputs so that they compare
        out_style = ("gray", float(full.min()), float(full.max()))
    size = COLUMN_WIDTH / 5  # five panels in one row of the book's column
    fig, axes = plt.subplots(1, 5, figsize=(5 * size, size + 0.9))
    label = f"{name} " if name else ""
    panels = [
        (
            kernel,
            f"kernel {label}{kernel.shape[0]}x{kernel.shape[1]}",
            "RdBu_r",
            -limit,
            limit,
        ),
        (
            approx,
            f"rank {rank}: error {np.linalg.norm(kernel - approx) / np.linalg.norm(kernel):.1%}",
            "RdBu_r",
            -limit,
            limit,
        ),
        (full, "filtered with the full kernel", *out_style),
        (separable, f"with rank {rank}: {2 * rank} 1-D passes", *out_style),
    ]
    diff_limit = float(np.abs(difference).max()) or 1.0
    panels.append(
        (
            difference,
            f"difference: {np.linalg.norm(difference) / np.linalg.norm(full):.1%} of the output",
            "RdBu_r",
            -diff_limit,
            diff_limit,
        )
    )
    for ax, (matrix, title, cmap, vmin, vmax) in zip(axes, panels):
        shown = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(_wrap(title, size), fontsize=TEXT_SIZES["label"])
        ax.axis("off")
    fig.colorbar(shown, ax=axes[-1], fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig
