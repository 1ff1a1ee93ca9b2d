"""convref.experiments.receptive_field: effective_receptive_field and erf_radius against path counts, arith's receptive field and closed forms.

Oracles, none of them the functions under test: for convolutions whose weights are all 1 the
gradient at the centre counts the paths to each input pixel, which is the outer product of
two 1-D path counts, each a repeated ``np.convolve`` of the (dilated) box kernel; its variance
is the sum of the layers' variances (a sum of independent uniform offsets). For random
networks the map must vanish outside the theoretical receptive field of
:func:`convref.arith.receptive_field`. For the radius: a delta, uniform squares and an
isotropic Gaussian, whose enclosed mass follows the Rayleigh law ``1 - exp(-r^2 / 2 sigma^2)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from convref.arith import ConvSpec, receptive_field
from convref.experiments import effective_receptive_field, erf_radius
from convref.nn import ASPP, AtrousCascade


def ones_stack(
    kernel_size: int, dilations: list[int], padding: str, widths: tuple[int, ...] = ()
) -> nn.Module:
    """torch.nn.Conv2d layers with every weight 1 and no bias; ``widths``: channels in, between, out (all 1)."""
    widths = widths or (1,) * (len(dilations) + 1)
    layers = [
        nn.Conv2d(
            widths[i],
            widths[i + 1],
            kernel_size,
            padding=padding,
            dilation=d,
            bias=False,
        )
        for i, d in enumerate(dilations)
    ]
    for layer in layers:
        nn.init.ones_(layer.weight)
    return nn.Sequential(*layers)


def path_count_1d(kernel_size: int, dilations: list[int]) -> np.ndarray:
    """Paths from each input offset to one output along one axis: a delta convolved with each dilated box."""
    counts = np.ones(1)
    for d in dilations:
        box = np.zeros(d * (kernel_size - 1) + 1)
        box[::d] = 1
        counts = np.convolve(counts, box)
    return counts


@pytest.mark.parametrize(
    "kernel_size, dilations, padding, size",
    [
        (3, [1, 1, 1], "same", 15),
        (3, [1, 2, 3], "same", 17),
        (5, [1, 1], "same", 13),
        (3, [1, 1, 1, 1], "valid", 15),
        (2, [1, 1, 1], "valid", 10),
        (3, [2, 2], "valid", 12),
    ],
    ids=str,
)
def test_erf_of_all_ones_kernels_is_the_path_count(
    kernel_size, dilations, padding, size
):
    erf = effective_receptive_field(
        lambda: ones_stack(kernel_size, dilations, padding), size, trials=2
    )
    counts = path_count_1d(kernel_size, dilations)
    reach = len(counts)
    expected = np.zeros((size, size))
    if padding == "same":  # odd kernels: the field is centred on the centre pixel
        start = size // 2 - (reach - 1) // 2
    else:  # "valid": output pixel c reads input pixels c .. c + reach - 1
        start = (size - reach + 1) // 2
    expected[start : start + reach, start : start + reach] = np.outer(counts, counts)
    expected /= expected.sum()
    assert erf.shape == (size, size) and erf.dtype == np.float64
    np.testing.assert_allclose(erf, expected, rtol=1e-12, atol=1e-15)


def test_erf_sums_over_channels():
    """Two input channels and wider middle layers scale every path count alike: the same map."""
    erf = effective_receptive_field(
        lambda: ones_stack(3, [1, 1], "same", widths=(2, 3, 2)), 11, in_channels=2
    )
    counts = path_count_1d(3, [1, 1])
    expected = np.zeros((11, 11))
    expected[3:8, 3:8] = np.outer(counts, counts)
    np.testing.assert_allclose(erf, expected / expected.sum(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("depth", [1, 4, 9])
def test_erf_variance_grows_linearly_with_depth(depth):
    """Luo et al.'s sqrt(n) law, exactly: a 3-box adds an offset uniform on {-1, 0, 1}, variance 2/3."""
    size = 4 * depth + 5
    erf = effective_receptive_field(
        lambda: ones_stack(3, [1] * depth, "same"), size, trials=1
    )
    offsets = np.arange(size) - size // 2
    marginal = erf.sum(axis=0)
    assert marginal @ offsets == pytest.approx(0, abs=1e-12)
    assert marginal @ offsets**2 == pytest.approx(depth * 2 / 3, rel=1e-12)


def _relu_stack(specs: list[ConvSpec], channels: int = 3) -> nn.Module:
    layers: list[nn.Module] = []
    width = 1
    for spec in specs:
        layers += [
            nn.Conv2d(
                width,
                channels,
                spec.kernel_size,
                spec.stride,
                spec.padding,
                spec.dilation,
            ),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        width = channels
    return nn.Sequential(*layers)


RANDOM_STACKS = [
    [ConvSpec(3, padding=1)] * 3,
    [
        ConvSpec(3, padding=1),
        ConvSpec(3, padding=2, dilation=2),
        ConvSpec(5, padding=2),
    ],
    [
        ConvSpec(3, stride=2, padding=1),
        ConvSpec(3, padding=1),
        ConvSpec(3, stride=2, padding=1),
    ],
    [ConvSpec(3), ConvSpec(3, dilation=3)],  # valid convolutions
]


@pytest.mark.parametrize("specs", RANDOM_STACKS, ids=str)
def test_erf_vanishes_outside_the_theoretical_receptive_field(specs):
    size = 27
    erf = effective_receptive_field(lambda: _relu_stack(specs), size, trials=4, seed=3)
    field = receptive_field(specs)
    out = size
    for spec in specs:
        out = (out + 2 * spec.padding - spec.span) // spec.stride + 1
    first = field.start + (out // 2) * field.stride  # input window of the centre output
    inside = np.zeros((size, size), dtype=bool)
    lo, hi = max(first, 0), min(first + field.size, size)
    inside[lo:hi, lo:hi] = True
    assert np.all(erf[~inside] == 0)
    assert np.all(erf >= 0) and erf.sum() == pytest.approx(1, rel=1e-12)
    middle = first + (field.size - 1) // 2
    assert erf[middle, middle] > 0


def test_erf_of_atrous_modules_stays_in_their_receptive_field():
    cascade = effective_receptive_field(
        lambda: AtrousCascade(2, (1, 2, 3)), 21, in_channels=2, trials=3
    )
    half = (1 + 2 * (1 + 2 + 3) - 1) // 2  # receptive field 13, by hand
    assert np.all(cascade[: 10 - half] == 0) and np.all(cascade[10 + half + 1 :] == 0)
    window = cascade[10 - half : 10 + half + 1, 10 - half : 10 + half + 1]
    assert cascade[10, 10] > 0 and window.sum() == pytest.approx(1)
    aspp = effective_receptive_field(
        lambda: ASPP(2, 4, (3,), image_pooling=False), 15, in_channels=2, trials=3
    )
    taps = {(7 + 3 * i, 7 + 3 * j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    assert {
        tuple(int(v) for v in p) for p in np.argwhere(aspp > 0)
    } == taps  # only the 9 atrous taps


def test_erf_is_seeded_and_leaves_the_global_rng_alone():
    def build() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.Conv2d(2, 1, 3, padding=1)
        )

    state = torch.get_rng_state()
    first = effective_receptive_field(build, 9, trials=2, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(
        first, effective_receptive_field(build, 9, trials=2, seed=5)
    )
    assert not np.array_equal(
        first, effective_receptive_field(build, 9, trials=2, seed=6)
    )


def test_erf_uses_evaluation_mode():
    """BatchNorm with running statistics and an active Dropout would make a linear model's map differ."""

    def build() -> nn.Module:
        model = ones_stack(3, [1, 1], "same")
        return nn.Sequential(model[0], nn.BatchNorm2d(1), nn.Dropout(0.9), model[1])

    counts = path_count_1d(3, [1, 1])
    expected = np.zeros((9, 9))
    expected[2:7, 2:7] = np.outer(counts, counts)
    np.testing.assert_allclose(
        effective_receptive_field(build, 9, trials=3),
        expected / expected.sum(),
        rtol=1e-12,
        atol=1e-15,
    )


# --------------------------------------------------------------------------------------
# erf_radius
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["chebyshev", "euclidean"])
@pytest.mark.parametrize("shape", [(9, 9), (8, 11)])
def test_radius_of_a_delta_is_zero(metric, shape):
    delta = np.zeros(shape)
    delta[shape[0] // 2, shape[1] // 2] = 3.0
    assert erf_radius(delta, 0.95, metric) == 0.0
    assert erf_radius(delta, 1.0, metric) == 0.0


@pytest.mark.parametrize("half", [0, 1, 3, 5])
def test_radius_of_a_uniform_square(half):
    square = np.zeros((15, 15))
    square[7 - half : 8 + half, 7 - half : 8 + half] = 1.0
    side = 2 * half + 1
    assert erf_radius(square, 1.0) == half
    assert erf_radius(square, 1.0, "euclidean") == pytest.approx(half * math.sqrt(2))
    # the inner square of radius r holds ((2r + 1) / side)^2 of the mass
    for mass in (0.1, 0.5, 0.9):
        expected = min(r for r in range(half + 1) if ((2 * r + 1) / side) ** 2 >= mass)
        assert erf_radius(square, mass) == expected


def test_radius_counts_an_exact_share_as_reached():
    ring = np.zeros((5, 5))
    ring[1:4, 1:4] = 0.5 / 8  # the 8 neighbours hold one half ...
    ring[2, 2] = 0.5  # ... the centre the other
    assert erf_radius(ring, 0.5) == 0.0
    assert erf_radius(ring, 0.5 + 1e-9) == 1.0


def test_radius_off_centre_delta():
    delta = np.zeros((9, 9))
    delta[6, 5] = 1.0  # (2, 1) from the centre (4, 4)
    assert erf_radius(delta, 0.5) == 2.0
    assert erf_radius(delta, 0.5, "euclidean") == pytest.approx(math.sqrt(5))


@pytest.mark.parametrize("mass", [0.5, 0.9, 0.95])
def test_radius_of_a_gaussian_follows_rayleigh(mass):
    sigma, size = 6.0, 81
    offsets = np.arange(size) - size // 2
    gaussian = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    expected = sigma * math.sqrt(
        -2 * math.log(1 - mass)
    )  # P(R <= r) = 1 - exp(-r^2 / 2 sigma^2)
    assert erf_radius(gaussian, mass, "euclidean") == pytest.approx(expected, abs=0.6)


# --------------------------------------------------------------------------------------
# bad calls
# --------------------------------------------------------------------------------------


def _tiny() -> nn.Module:
    return nn.Conv2d(1, 1, 3, padding=1)


def _dead() -> nn.Module:
    layer = nn.Conv2d(1, 1, 1, bias=False)
    nn.init.zeros_(layer.weight)  # no path from the input to the output
    return layer


@pytest.mark.parametrize(
    "args, kwargs, exception, pattern",
    [
        ((5, 9), {}, TypeError, r"^build_model must be callable, got 5$"),
        ((_tiny, 0), {}, ValueError, r"^size must be >= 1, got 0$"),
        ((_tiny, 9.0), {}, TypeError, r"^size must be an int, got 9\.0$"),
        (
            (_tiny, 9),
            dict(in_channels=0),
            ValueError,
            r"^in_channels must be >= 1, got 0$",
        ),
        ((_tiny, 9), dict(trials=0), ValueError, r"^trials must be >= 1, got 0$"),
        ((_tiny, 9), dict(seed=1.5), TypeError, r"^seed must be an int, got 1\.5$"),
        (
            (lambda: "model", 9),
            {},
            TypeError,
            r"^build_model must return a torch\.nn\.Module, got str$",
        ),
        (
            (lambda: nn.Flatten(), 9),
            {},
            ValueError,
            r"must return a \(1, C_out, H_out, W_out\) tensor, got \(1, 81\)$",
        ),
        (
            (_dead, 5),
            {},
            ValueError,
            r"^the centre output has zero gradient with respect to the input in every trial$",
        ),
    ],
    ids=[
        "not-callable",
        "size-0",
        "size-float",
        "channels",
        "trials",
        "seed",
        "not-module",
        "not-4d",
        "zero",
    ],
)
def test_erf_bad_calls(args, kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        effective_receptive_field(*args, **kwargs)


@pytest.mark.parametrize(
    "args, exception, pattern",
    [
        (([[1.0]],), TypeError, r"^erf must be a numpy\.ndarray, got list$"),
        (
            (np.ones(5),),
            ValueError,
            r"^erf must be 2-D with shape \(H, W\), got shape \(5,\)$",
        ),
        (
            (np.ones((3, 3), dtype=int),),
            TypeError,
            r"^erf must have a floating dtype, got int64$",
        ),
        ((-np.ones((3, 3)),), ValueError, r"^erf must be finite and non-negative$"),
        (
            (np.full((3, 3), np.nan),),
            ValueError,
            r"^erf must be finite and non-negative$",
        ),
        ((np.zeros((3, 3)),), ValueError, r"^erf must have a positive sum$"),
        ((np.ones((3, 3)), 0), ValueError, r"^mass must be in \(0, 1\], got 0$"),
        ((np.ones((3, 3)), 1.5), ValueError, r"^mass must be in \(0, 1\], got 1\.5$"),
        ((np.ones((3, 3)), "half"), TypeError, r"^mass must be a number, got 'half'$"),
        (
            (np.ones((3, 3)), 0.5, "manhattan"),
            ValueError,
            r"^metric must be 'chebyshev' or 'euclidean', got 'manhattan'$",
        ),
    ],
    ids=[
        "list",
        "1-D",
        "int",
        "negative",
        "nan",
        "zero",
        "mass-0",
        "mass-big",
        "mass-str",
        "metric",
    ],
)
def test_erf_radius_bad_calls(args, exception, pattern):
    with pytest.raises(exception, match=pattern):
        erf_radius(*args)
