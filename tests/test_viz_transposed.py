"""Figures and widget of the transposed-convolution chapter (its experiments: test_experiments_transposed.py).

Independent oracles: PyTorch's ``conv_transpose2d`` with all-ones input and kernel (it counts the
taps that reach each output pixel), and patterns whose spectrum is known (a pure checkerboard, a
sine) for the figures' energies.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convref import experiments, viz, widgets
from convref.viz.transposed import _constant_kernel_upsampling


def torch_overlap(
    input_size: int, kernel_size: int, stride: int, padding: int = 0
) -> np.ndarray:
    """Taps landing on each output pixel, counted by PyTorch: an all-ones input and kernel."""
    ones = torch.ones(1, 1, input_size, input_size, dtype=torch.float64)
    kernel = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    return (
        F.conv_transpose2d(ones, kernel, stride=stride, padding=padding)[0, 0]
        .numpy()
        .astype(int)
    )


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def _count_texts(ax) -> list[int]:
    return [int(t.get_text()) for t in ax.texts if t.get_text().isdigit()]


@pytest.mark.parametrize(
    "i, k, s, p", [(3, 3, 2, 0), (3, 3, 2, 1), (4, 4, 2, 1), (2, 5, 3, 2)]
)
def test_plot_transpose_scatter_counts_match_torch(i, k, s, p):
    fig = viz.plot_transpose_scatter(i, k, s, p, pixels=((0, 0), (i - 1, i - 1)))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    full = (i - 1) * s + k
    counts = np.array(_count_texts(fig.axes[1])).reshape(full, full)
    np.testing.assert_array_equal(
        counts, torch_overlap(i, k, s)
    )  # the full output, before cropping
    # The kept region (thick outline) has PyTorch's output size.
    outlines = [
        r for r in fig.axes[1].patches if isinstance(r, Rectangle) and not r.get_fill()
    ]
    assert [(r.get_width(), r.get_height()) for r in outlines] == [
        (torch_overlap(i, k, s, p).shape[0],) * 2
    ]
    stamps = [
        r
        for r in fig.axes[1].patches
        if r.get_width() == k and r.get_fill() and r.get_linewidth() == 2
    ]
    assert len(stamps) == 2


def test_plot_transpose_scatter_bad_pixels():
    with pytest.raises(
        ValueError, match=r"^pixels must lie inside the 3x3 input, got \(3, 0\)$"
    ):
        viz.plot_transpose_scatter(3, 3, 2, pixels=((3, 0),))
    with pytest.raises(ValueError, match=r"^pixels must hold 1 to 4"):
        viz.plot_transpose_scatter(3, 3, 2, pixels=())


def _cells(ax, color: str) -> int:
    target = plt.matplotlib.colors.to_rgb(color)
    return sum(
        1
        for r in ax.patches
        if isinstance(r, Rectangle)
        and r.get_width() == 1
        and r.get_fill()
        and np.allclose(r.get_facecolor()[:3], target)
    )


@pytest.mark.parametrize(
    "i, k, s, p, step",
    [(3, 3, 2, 0, 0), (3, 3, 2, 1, 1), (4, 4, 2, 1, 7), (3, 2, 3, 0, 4)],
)
def test_plot_zero_stuffed_cells_and_window(i, k, s, p, step):
    fig = viz.plot_zero_stuffed(i, k, s, p, step=step)
    ax = fig.axes[0]
    stuffed = (i - 1) * s + 1
    size = stuffed + 2 * (k - 1 - p)
    out = torch_overlap(i, k, s, p)
    assert _cells(ax, viz.INPUT_COLOR) == i * i
    assert _cells(ax, viz.STUFFED_ZERO_COLOR) == stuffed**2 - i * i
    assert _cells(ax, viz.PAD_COLOR) == size**2 - stuffed**2
    assert _cells(ax, viz.OUTPUT_COLOR) == out.size
    # The dots mark the real pixels under the window: exactly the taps that reach that output.
    row, col = divmod(step % out.size, out.shape[1])
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(dots) == out[row, col]


def test_plot_zero_stuffed_padding_range():
    with pytest.raises(
        ValueError, match=r"^padding must be between 0 and kernel_size - 1 = 2, got 3$"
    ):
        viz.plot_zero_stuffed(3, 3, 2, padding=3)


def test_plot_overlap_maps_match_torch():
    image = experiments.smooth_image(16)
    cases = [(3, 2), (4, 2), (5, 3)]
    fig = viz.plot_overlap(cases, input_size=5, image=image)
    maps = [
        ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "viridis"
    ]
    assert len(maps) == 3
    for ax, (k, s) in zip(maps, cases):
        np.testing.assert_array_equal(ax.images[0].get_array(), torch_overlap(5, k, s))
        assert ("uneven" in ax.get_title()) == (k % s != 0)
    pictures = [
        ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "gray"
    ]
    assert len(pictures) == 3
    for ax in pictures:
        assert all(n % 2 == 0 for n in ax.images[0].get_array().shape)
        assert re.search(r"checkerboard energy \d\.\d{3}", ax.get_title())
    assert (
        len(viz.plot_overlap([(3, 2)]).axes) == 2
    )  # no image: the map and its colour bar


def test_plot_overlap_upsampled_constant_image_shows_the_counts():
    """With equal taps the interior of an upsampled constant image is the overlap pattern itself."""
    constant = np.ones((10, 10))
    even = _constant_kernel_upsampling(constant, 4, 2)
    np.testing.assert_allclose(even, 1.0, rtol=1e-12)
    uneven = _constant_kernel_upsampling(constant, 3, 2)
    np.testing.assert_allclose(
        uneven * 9 / 4, torch_overlap(10, 3, 2)[2:19, 2:19], rtol=1e-12
    )


def test_plot_overlap_needs_cases():
    with pytest.raises(ValueError, match=r"^cases must hold at least one"):
        viz.plot_overlap([])


def test_plot_upsampling_comparison():
    i, j = np.mgrid[0:16, 0:16]
    outputs = {"checkerboard": (-1.0) ** (i + j), "smooth": np.sin(2 * np.pi * i / 16)}
    fig = viz.plot_upsampling_comparison(outputs, crop=8, corner=(2, 3))
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    spectra = [ax for ax in fig.axes if ax.get_title().startswith("log power spectrum")]
    assert [float(ax.get_title().split()[-1]) for ax in spectra] == [1.0, 0.0]
    crops = [ax for ax in fig.axes if "crop" in ax.get_title()]
    np.testing.assert_array_equal(
        crops[0].images[0].get_array(), outputs["checkerboard"][2:10, 3:11]
    )
    with pytest.raises(ValueError, match=r"^outputs must hold at least one image$"):
        viz.plot_upsampling_comparison({})


# ---------------------------------------------------------------------------
# Widget (built and redrawn outside a kernel, so errors propagate)
# ---------------------------------------------------------------------------


def test_overlap_widget_default_image():
    widget = widgets.overlap_widget()
    assert len(widget.children) == 2
