"""convref.experiments.transposed: checkerboard energy, 2x upsamplers and the checkerboard experiment.

Independent oracles: ``F.conv_transpose2d`` and ``F.interpolate`` + ``F.conv2d`` for the
upsamplers (transposed and resize-convolution), Parseval's theorem and direct alternating sums
for the checkerboard energy, patterns whose spectrum is known (a pure checkerboard, stripes, a
constant, a periodic sine), and targets made with a known kernel for the learned upsampler.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convref import data, experiments

# ---------------------------------------------------------------------------
# checkerboard_energy
# ---------------------------------------------------------------------------


def test_checkerboard_energy_of_pure_patterns():
    i, j = np.mgrid[0:8, 0:10]
    assert experiments.checkerboard_energy((-1.0) ** (i + j)) == pytest.approx(1.0)
    assert experiments.checkerboard_energy(3 + (-1.0) ** i) == pytest.approx(
        1.0
    )  # horizontal stripes, any mean
    assert experiments.checkerboard_energy((-1.0) ** j) == pytest.approx(1.0)
    assert (
        experiments.checkerboard_energy(np.full((6, 8), 0.1)) == 0.0
    )  # nothing but the mean
    assert experiments.checkerboard_energy(np.zeros((4, 4))) == 0.0


def test_checkerboard_energy_of_smooth_images_is_small():
    assert experiments.checkerboard_energy(data.ramp(64, 64, 0.02, 0.01)) < 1e-2
    i, j = np.mgrid[0:64, 0:64] / 64
    assert (
        experiments.checkerboard_energy(np.sin(2 * np.pi * i) * np.cos(2 * np.pi * j))
        < 1e-20
    )  # periodic, no Nyquist


def test_checkerboard_energy_matches_alternating_sums_and_parseval(rng):
    image = rng.standard_normal((12, 16)) + 5
    centred = image - image.mean()
    i, j = np.indices(image.shape)
    nyquist = sum(
        np.sum(centred * pattern) ** 2
        for pattern in ((-1.0) ** i, (-1.0) ** j, (-1.0) ** (i + j))
    )
    total = image.size * np.sum(centred**2)  # Parseval: sum |Y|^2 = H W sum y^2
    assert experiments.checkerboard_energy(image) == pytest.approx(
        nyquist / total, rel=1e-12
    )


def test_checkerboard_energy_is_scale_and_offset_invariant(rng):
    image = rng.random((8, 8))
    assert experiments.checkerboard_energy(3 * image - 7) == pytest.approx(
        experiments.checkerboard_energy(image)
    )


@pytest.mark.parametrize(
    "image, exception, pattern",
    [
        (
            np.zeros((5, 4)),
            ValueError,
            r"^image must have an even height and width \(>= 2\), got shape \(5, 4\)$",
        ),
        (np.zeros((4, 4, 1)), ValueError, r"^image must be 2-D with shape \(H, W\)"),
        (np.zeros((4, 4), dtype=int), TypeError, r"^image must have a floating dtype"),
        (
            [[0.0, 1.0], [1.0, 0.0]],
            TypeError,
            r"^image must be a numpy.ndarray, got list$",
        ),
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
        expected = F.conv_transpose2d(
            x, weight, stride=2, padding=1, output_padding=1 if k == 3 else 0
        )
    else:
        weight = torch.from_numpy(rng.standard_normal((2, 3, k, k)))
        expected = F.conv2d(
            F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1
        )
    y = experiments.upsample2x(x, method, weight)
    assert y.shape == (2, 2, 10, 12)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def test_upsample2x_bad_arguments():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"^method must be one of \['transposed 3x3', 'transposed 4x4', 'resize-conv 3x3'\]",
    ):
        experiments.upsample2x(
            x, "bilinear", torch.zeros(1, 1, 3, 3, dtype=torch.float64)
        )
    with pytest.raises(
        ValueError,
        match=r"^weight must be a 4-D tensor with a 4x4 kernel for method 'transposed 4x4'",
    ):
        experiments.upsample2x(
            x, "transposed 4x4", torch.zeros(1, 1, 3, 3, dtype=torch.float64)
        )


@pytest.mark.parametrize("method", list(experiments.UPSAMPLERS))
def test_constant_kernel_keeps_the_brightness(method):
    """Away from the border every 2x2 block of the output of a constant image averages to that constant."""
    y = experiments.upsample2x(
        torch.full((1, 1, 8, 8), 0.6, dtype=torch.float64),
        method,
        experiments.constant_upsampling_kernel(method),
    )[0, 0].numpy()
    blocks = y[4:-4, 4:-4].reshape(4, 2, 4, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(blocks, 0.6, rtol=1e-12)


def test_constant_kernels_interior_values():
    """3x3 taps of 4/9 land 1, 2 or 4 at a time (uneven overlap); 4x4 taps of 1/4 land 4 at a time."""
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    three = experiments.upsample2x(
        ones, "transposed 3x3", experiments.constant_upsampling_kernel("transposed 3x3")
    )
    assert sorted(
        set(np.round(three[0, 0, 4:-4, 4:-4].numpy() * 9 / 4).astype(int).ravel())
    ) == [1, 2, 4]
    four = experiments.upsample2x(
        ones, "transposed 4x4", experiments.constant_upsampling_kernel("transposed 4x4")
    )
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
    results = experiments.checkerboard_experiment(
        experiments.smooth_image(24), trials=6, seed=1
    )
    assert list(results) == list(experiments.UPSAMPLERS)
    for method, result in results.items():
        assert result["output"].shape == (48, 48)
        assert result["random"].shape == (6,)
        assert result["constant"] == pytest.approx(
            experiments.checkerboard_energy(result["output"])
        )
    assert results["transposed 3x3"]["constant"] > 0.1
    assert (
        results["transposed 4x4"]["constant"] < 1e-3
        and results["resize-conv 3x3"]["constant"] < 1e-3
    )
    assert (
        results["transposed 3x3"]["random"].mean() > 0.3
        and results["transposed 4x4"]["random"].mean() > 0.3
    )
    assert results["resize-conv 3x3"]["random"].max() < 0.05
    again = experiments.checkerboard_experiment(
        experiments.smooth_image(24), trials=6, seed=1
    )
    np.testing.assert_array_equal(
        again["transposed 4x4"]["random"], results["transposed 4x4"]["random"]
    )


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
    y = F.conv2d(
        F.pad(up, (1, 1, 1, 1), mode="circular"),
        torch.from_numpy(rng.standard_normal((1, 1, 3, 3))),
    )
    assert experiments.checkerboard_energy(y[0, 0].numpy()) < 1e-25


def test_train_upsampler_learns_and_is_seeded():
    high = torch.rand(
        40, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    low = F.avg_pool2d(high, 2)
    result = experiments.train_upsampler("transposed 4x4", low, high, steps=60, seed=3)
    assert result["weight"].shape == result["initial"].shape == (1, 1, 4, 4)
    assert len(result["loss"]) == 60 and result["loss"][-1] < 0.5 * result["loss"][0]
    assert (
        float(result["initial"].abs().max()) <= 1 / 4
    )  # PyTorch's default bound for one channel: 1/k
    again = experiments.train_upsampler("transposed 4x4", low, high, steps=60, seed=3)
    torch.testing.assert_close(again["weight"], result["weight"])


def test_train_upsampler_recovers_a_known_kernel():
    """Targets made by a resize-convolution with a known kernel: least squares finds that kernel."""
    generator = torch.Generator().manual_seed(0)
    low = torch.rand(64, 1, 8, 8, generator=generator, dtype=torch.float64)
    true = torch.rand(1, 1, 3, 3, generator=generator, dtype=torch.float64) / 4
    high = experiments.upsample2x(low, "resize-conv 3x3", true)
    result = experiments.train_upsampler(
        "resize-conv 3x3", low, high, steps=600, lr=0.01, seed=0
    )
    torch.testing.assert_close(result["weight"], true, rtol=0, atol=2e-3)


def test_train_upsampler_bad_shapes():
    with pytest.raises(
        ValueError, match=r"^low must be \(N, 1, H, W\) and high \(N, 1, 2H, 2W\)"
    ):
        experiments.train_upsampler(
            "transposed 3x3", torch.zeros(4, 1, 4, 4), torch.zeros(4, 1, 4, 4)
        )
