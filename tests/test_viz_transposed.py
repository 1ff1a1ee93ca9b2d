"""Figures, widget and experiments of the transposed-convolution chapter.

Independent oracles: PyTorch's ``conv_transpose2d`` with all-ones input and kernel (it counts the
taps that reach each output pixel), ``F.interpolate`` + ``F.conv2d`` for resize-convolution,
Parseval's theorem and direct alternating sums for the checkerboard energy, and patterns whose
spectrum is known (a pure checkerboard, stripes, a constant).
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

from convref import data, experiments, viz, widgets


def torch_overlap(input_size: int, kernel_size: int, stride: int, padding: int = 0) -> np.ndarray:
    """Taps landing on each output pixel, counted by PyTorch: an all-ones input and kernel."""
    ones = torch.ones(1, 1, input_size, input_size, dtype=torch.float64)
    kernel = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    return F.conv_transpose2d(ones, kernel, stride=stride, padding=padding)[0, 0].numpy().astype(int)


# ---------------------------------------------------------------------------
# checkerboard_energy
# ---------------------------------------------------------------------------


def test_checkerboard_energy_of_pure_patterns():
    i, j = np.mgrid[0:8, 0:10]
    assert experiments.checkerboard_energy((-1.0) ** (i + j)) == pytest.approx(1.0)
    assert experiments.checkerboard_energy(3 + (-1.0) ** i) == pytest.approx(1.0)  # horizontal stripes, any mean
    assert experiments.checkerboard_energy((-1.0) ** j) == pytest.approx(1.0)
    assert experiments.checkerboard_energy(np.full((6, 8), 0.1)) == 0.0  # nothing but the mean
    assert experiments.checkerboard_energy(np.zeros((4, 4))) == 0.0


def test_checkerboard_energy_of_smooth_images_is_small():
    assert experiments.checkerboard_energy(data.ramp(64, 64, 0.02, 0.01)) < 1e-2
    i, j = np.mgrid[0:64, 0:64] / 64
    assert experiments.checkerboard_energy(np.sin(2 * np.pi * i) * np.cos(2 * np.pi * j)) < 1e-20  # periodic, no Nyquist


def test_checkerboard_energy_matches_alternating_sums_and_parseval(rng):
    image = rng.standard_normal((12, 16)) + 5
    centred = image - image.mean()
    i, j = np.indices(image.shape)
    nyquist = sum(np.sum(centred * pattern) ** 2 for pattern in ((-1.0) ** i, (-1.0) ** j, (-1.0) ** (i + j)))
    total = image.size * np.sum(centred**2)  # Parseval: sum |Y|^2 = H W sum y^2
    assert experiments.checkerboard_energy(image) == pytest.approx(nyquist / total, rel=1e-12)


def test_checkerboard_energy_is_scale_and_offset_invariant(rng):
    image = rng.random((8, 8))
    assert experiments.checkerboard_energy(3 * image - 7) == pytest.approx(experiments.checkerboard_energy(image))


@pytest.mark.parametrize(
    "image, exception, pattern",
    [
        (np.zeros((5, 4)), ValueError, r"^image must have an even height and width \(>= 2\), got shape \(5, 4\)$"),
        (np.zeros((4, 4, 1)), ValueError, r"^image must be 2-D with shape \(H, W\)"),
        (np.zeros((4, 4), dtype=int), TypeError, r"^image must have a floating dtype"),
        ([[0.0, 1.0], [1.0, 0.0]], TypeError, r"^image must be a numpy.ndarray, got list$"),
    ],
)
def test_checkerboard_energy_bad_input(image, exception, pattern):
    with pytest.raises(exception, match=pattern):
        experiments.checkerboard_energy(image)


# ---------------------------------------------------------------------------
# upsample2x, constant_upsampling_kernel, checkerboard_experiment, smooth_image
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(experiments.UPSAMPLERS))
def test_upsample2x_matches_torch(method, rng):
    k = experiments.UPSAMPLERS[method]
    x = torch.from_numpy(rng.standard_normal((2, 3, 5, 6)))
    if method.startswith("transposed"):
        weight = torch.from_numpy(rng.standard_normal((3, 2, k, k)))
        expected = F.conv_transpose2d(x, weight, stride=2, padding=1, output_padding=1 if k == 3 else 0)
    else:
        weight = torch.from_numpy(rng.standard_normal((2, 3, k, k)))
        expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)
    y = experiments.upsample2x(x, method, weight)
    assert y.shape == (2, 2, 10, 12)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def test_upsample2x_bad_arguments():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^method must be one of \['transposed 3x3', 'transposed 4x4', 'resize-conv 3x3'\]"):
        experiments.upsample2x(x, "bilinear", torch.zeros(1, 1, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^weight must be a 4-D tensor with a 4x4 kernel for method 'transposed 4x4'"):
        experiments.upsample2x(x, "transposed 4x4", torch.zeros(1, 1, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize("method", list(experiments.UPSAMPLERS))
def test_constant_kernel_keeps_the_brightness(method):
    """Away from the border every 2x2 block of the output of a constant image averages to that constant."""
    y = experiments.upsample2x(torch.full((1, 1, 8, 8), 0.6, dtype=torch.float64), method,
                               experiments.constant_upsampling_kernel(method))[0, 0].numpy()
    blocks = y[4:-4, 4:-4].reshape(4, 2, 4, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(blocks, 0.6, rtol=1e-12)


def test_constant_kernels_interior_values():
    """3x3 taps of 4/9 land 1, 2 or 4 at a time (uneven overlap); 4x4 taps of 1/4 land 4 at a time."""
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    three = experiments.upsample2x(ones, "transposed 3x3", experiments.constant_upsampling_kernel("transposed 3x3"))
    assert sorted(set(np.round(three[0, 0, 4:-4, 4:-4].numpy() * 9 / 4).astype(int).ravel())) == [1, 2, 4]
    four = experiments.upsample2x(ones, "transposed 4x4", experiments.constant_upsampling_kernel("transposed 4x4"))
    np.testing.assert_allclose(four[0, 0, 2:-2, 2:-2].numpy(), 1.0, rtol=1e-12)


def test_smooth_image():
    image = experiments.smooth_image(32)
    assert image.shape == (32, 32) and image.dtype == np.float64
    assert np.array_equal(image, experiments.smooth_image(32))
    assert experiments.checkerboard_energy(image) < 1e-3
    assert experiments.smooth_image(20, sigma=1.0).shape == (20, 20)
    with pytest.raises(ValueError, match=r"^sigma must be a positive number, got 0$"):
        experiments.smooth_image(16, sigma=0)


def test_checkerboard_experiment():
    """Odena et al.: uneven overlap gives a checkerboard with equal taps; random kernels give one with
    any transposed convolution; resize-convolution (nearest-neighbour then conv) gives none."""
    results = experiments.checkerboard_experiment(experiments.smooth_image(24), trials=6, seed=1)
    assert list(results) == list(experiments.UPSAMPLERS)
    for method, result in results.items():
        assert result["output"].shape == (48, 48)
        assert result["random"].shape == (6,)
        assert result["constant"] == pytest.approx(experiments.checkerboard_energy(result["output"]))
    assert results["transposed 3x3"]["constant"] > 0.1
    assert results["transposed 4x4"]["constant"] < 1e-3 and results["resize-conv 3x3"]["constant"] < 1e-3
    assert results["transposed 3x3"]["random"].mean() > 0.3 and results["transposed 4x4"]["random"].mean() > 0.3
    assert results["resize-conv 3x3"]["random"].max() < 0.05
    again = experiments.checkerboard_experiment(experiments.smooth_image(24), trials=6, seed=1)
    np.testing.assert_array_equal(again["transposed 4x4"]["random"], results["transposed 4x4"]["random"])


def test_checkerboard_experiment_bad_arguments():
    with pytest.raises(ValueError, match=r"^trials must be >= 1, got 0$"):
        experiments.checkerboard_experiment(np.zeros((4, 4)), trials=0)
    with pytest.raises(TypeError, match=r"^seed must be an int, got 1.5$"):
        experiments.checkerboard_experiment(np.zeros((4, 4)), seed=1.5)


def test_resize_conv_with_circular_padding_has_exactly_no_nyquist_energy(rng):
    """Why resize-convolution is free of the artifact: nearest-neighbour upsampling is zero-stuffing
    followed by a 2x2 box, whose response vanishes at every Nyquist frequency, and a periodic
    convolution after it cannot create energy there (no zero-padded border)."""
    x = torch.from_numpy(rng.random((1, 1, 8, 8)))
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    y = F.conv2d(F.pad(up, (1, 1, 1, 1), mode="circular"), torch.from_numpy(rng.standard_normal((1, 1, 3, 3))))
    assert experiments.checkerboard_energy(y[0, 0].numpy()) < 1e-25


def test_train_upsampler_learns_and_is_seeded():
    high = torch.rand(40, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    low = F.avg_pool2d(high, 2)
    result = experiments.train_upsampler("transposed 4x4", low, high, steps=60, seed=3)
    assert result["weight"].shape == result["initial"].shape == (1, 1, 4, 4)
    assert len(result["loss"]) == 60 and result["loss"][-1] < 0.5 * result["loss"][0]
    assert float(result["initial"].abs().max()) <= 1 / 4  # PyTorch's default bound for one channel: 1/k
    again = experiments.train_upsampler("transposed 4x4", low, high, steps=60, seed=3)
    torch.testing.assert_close(again["weight"], result["weight"])


def test_train_upsampler_recovers_a_known_kernel():
    """Targets made by a resize-convolution with a known kernel: least squares finds that kernel."""
    generator = torch.Generator().manual_seed(0)
    low = torch.rand(64, 1, 8, 8, generator=generator, dtype=torch.float64)
    true = torch.rand(1, 1, 3, 3, generator=generator, dtype=torch.float64) / 4
    high = experiments.upsample2x(low, "resize-conv 3x3", true)
    result = experiments.train_upsampler("resize-conv 3x3", low, high, steps=600, lr=0.01, seed=0)
    torch.testing.assert_close(result["weight"], true, rtol=0, atol=2e-3)


def test_train_upsampler_bad_shapes():
    with pytest.raises(ValueError, match=r"^low must be \(N, 1, H, W\) and high \(N, 1, 2H, 2W\)"):
        experiments.train_upsampler("transposed 3x3", torch.zeros(4, 1, 4, 4), torch.zeros(4, 1, 4, 4))


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def _count_texts(ax) -> list[int]:
    return [int(t.get_text()) for t in ax.texts if t.get_text().isdigit()]


@pytest.mark.parametrize("i, k, s, p", [(3, 3, 2, 0), (3, 3, 2, 1), (4, 4, 2, 1), (2, 5, 3, 2)])
def test_plot_transpose_scatter_counts_match_torch(i, k, s, p):
    fig = viz.plot_transpose_scatter(i, k, s, p, pixels=((0, 0), (i - 1, i - 1)))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    full = (i - 1) * s + k
    counts = np.array(_count_texts(fig.axes[1])).reshape(full, full)
    np.testing.assert_array_equal(counts, torch_overlap(i, k, s))  # the full output, before cropping
    # The kept region (thick outline) has PyTorch's output size.
    outlines = [r for r in fig.axes[1].patches if isinstance(r, Rectangle) and not r.get_fill()]
    assert [(r.get_width(), r.get_height()) for r in outlines] == [(torch_overlap(i, k, s, p).shape[0],) * 2]
    stamps = [r for r in fig.axes[1].patches if r.get_width() == k and r.get_fill() and r.get_linewidth() == 2]
    assert len(stamps) == 2


def test_plot_transpose_scatter_bad_pixels():
    with pytest.raises(ValueError, match=r"^pixels must lie inside the 3x3 input, got \(3, 0\)$"):
        viz.plot_transpose_scatter(3, 3, 2, pixels=((3, 0),))
    with pytest.raises(ValueError, match=r"^pixels must hold 1 to 4"):
        viz.plot_transpose_scatter(3, 3, 2, pixels=())


def _cells(ax, color: str) -> int:
    target = plt.matplotlib.colors.to_rgb(color)
    return sum(
        1 for r in ax.patches
        if isinstance(r, Rectangle) and r.get_width() == 1 and r.get_fill()
        and np.allclose(r.get_facecolor()[:3], target)
    )


@pytest.mark.parametrize("i, k, s, p, step", [(3, 3, 2, 0, 0), (3, 3, 2, 1, 1), (4, 4, 2, 1, 7), (3, 2, 3, 0, 4)])
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
    with pytest.raises(ValueError, match=r"^padding must be between 0 and kernel_size - 1 = 2, got 3$"):
        viz.plot_zero_stuffed(3, 3, 2, padding=3)


def test_plot_overlap_maps_match_torch():
    image = experiments.smooth_image(16)
    cases = [(3, 2), (4, 2), (5, 3)]
    fig = viz.plot_overlap(cases, input_size=5, image=image)
    maps = [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "viridis"]
    assert len(maps) == 3
    for ax, (k, s) in zip(maps, cases):
        np.testing.assert_array_equal(ax.images[0].get_array(), torch_overlap(5, k, s))
        assert ("uneven" in ax.get_title()) == (k % s != 0)
    pictures = [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "gray"]
    assert len(pictures) == 3
    for ax in pictures:
        assert all(n % 2 == 0 for n in ax.images[0].get_array().shape)
        assert re.search(r"checkerboard energy \d\.\d{3}", ax.get_title())
    assert len(viz.plot_overlap([(3, 2)]).axes) == 2  # no image: the map and its colour bar


def test_plot_overlap_upsampled_constant_image_shows_the_counts():
    """With equal taps the interior of an upsampled constant image is the overlap pattern itself."""
    constant = np.ones((10, 10))
    even = viz._constant_kernel_upsampling(constant, 4, 2)
    np.testing.assert_allclose(even, 1.0, rtol=1e-12)
    uneven = viz._constant_kernel_upsampling(constant, 3, 2)
    np.testing.assert_allclose(uneven * 9 / 4, torch_overlap(10, 3, 2)[2:19, 2:19], rtol=1e-12)


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
    np.testing.assert_array_equal(crops[0].images[0].get_array(), outputs["checkerboard"][2:10, 3:11])
    with pytest.raises(ValueError, match=r"^outputs must hold at least one image$"):
        viz.plot_upsampling_comparison({})


# ---------------------------------------------------------------------------
# Widget (built and redrawn outside a kernel, so errors propagate)
# ---------------------------------------------------------------------------


def test_overlap_widget_redraws():
    widget = widgets.overlap_widget(experiments.smooth_image(16), kernel_size=3, stride=2)
    sliders = {s.description: s for s in widget.children[0].children}
    assert set(sliders) == {"kernel", "stride"}
    before = len(plt.get_fignums())
    sliders["kernel"].value = 4
    sliders["stride"].value = 3
    assert len(plt.get_fignums()) == before + 2  # one new figure per change
    figure = plt.figure(plt.get_fignums()[-1])
    assert "k=4, s=3" in figure.axes[0].get_title()


def test_overlap_widget_default_image():
    widget = widgets.overlap_widget()
    assert len(widget.children) == 2
