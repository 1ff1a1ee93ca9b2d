"""convref.experiments.basics: activation scales, input influence and channel connectivity.

Oracles: the variance analysis of Glorot & Bengio (2010) and He et al. (2015) for
:func:`activation_stds`; window counts stamped by hand and the matrices of the 1-D linear maps
for :func:`input_influence`; the block-diagonal masks and shuffle permutation of a grouped
stack, multiplied out, for :func:`channel_connectivity`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from convref import experiments


# ---------------------------------------------------------------------------
# experiments.activation_stds against the variance analysis of Glorot & Bengio and He et al.
# ---------------------------------------------------------------------------

# Wide enough (fan-in 128 * 9) and large enough (32x32, so the zero border of "same" padding
# matters little) for the infinite-width analysis to hold over 20 layers.
WIDE = dict(depth=20, channels=128, size=32, batch=2, seed=0)


@pytest.fixture(scope="module")
def wide_stds() -> dict[str, list[float]]:
    return {
        scheme: experiments.activation_stds(scheme, **WIDE)
        for scheme in ("he", "xavier", "random")
    }


def test_activation_stds_length():
    stds = experiments.activation_stds("he", depth=3, channels=4, size=8, batch=2)
    assert len(stds) == 4 and all(isinstance(s, float) for s in stds)
    assert len(experiments.activation_stds("xavier", depth=0, channels=2, size=4)) == 1


def test_activation_stds_default_length_and_ordering():
    """At the book's defaults the ordering of the three schemes after 20 layers is He >> Xavier >> random."""
    final = {
        scheme: experiments.activation_stds(scheme)
        for scheme in ("he", "xavier", "random")
    }
    assert all(len(stds) == 21 for stds in final.values())
    assert final["he"][-1] > 100 * final["xavier"][-1] > 100 * final["random"][-1] > 0


def test_input_is_unit_gaussian(wide_stds):
    for stds in wide_stds.values():
        assert stds[0] == pytest.approx(1.0, abs=0.01)


def test_he_keeps_the_scale(wide_stds):
    """He et al. (2015): Var(w) = 2 / fan_in keeps E[y^2] of the ReLU outputs at that of the input.

    With a unit input the first pre-activation is N(0, 2); its ReLU has E[y^2] = 1 and mean
    1 / sqrt(pi), so std sqrt(1 - 1/pi) = 0.826 -- and every later layer keeps it.
    """
    he = wide_stds["he"]
    assert he[1] == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=0.04)
    assert 0.5 < he[-1] / he[1] < 2
    assert all(0.5 < s / he[1] < 2 for s in he[1:])


def test_xavier_halves_the_variance_per_layer(wide_stds):
    """Glorot & Bengio (2010): Var(w) = 2 / (fan_in + fan_out) = 1 / fan_in here keeps the
    pre-activation variance, so each ReLU halves E[y^2]: the std falls by 1/sqrt(2) per layer."""
    xavier = wide_stds["xavier"]
    assert xavier[1] == pytest.approx(
        math.sqrt(0.5 - 0.5 / math.pi), rel=0.04
    )  # ReLU of N(0, 1)
    ratios = np.array(xavier[2:]) / np.array(xavier[1:-1])
    assert (ratios < 1).all()  # decays at every layer
    per_layer = (xavier[-1] / xavier[1]) ** (1 / 19)
    assert per_layer == pytest.approx(1 / math.sqrt(2), rel=0.05)


def test_random_collapses(wide_stds):
    """Krizhevsky's fixed std 0.01: each layer scales E[y^2] by fan_in * 1e-4 / 2, the std by
    sqrt(128 * 9 * 1e-4 / 2) = 0.24, about twelve orders of magnitude over 20 layers."""
    random = wide_stds["random"]
    per_layer = (random[-1] / random[1]) ** (1 / 19)
    assert per_layer == pytest.approx(math.sqrt(128 * 9 * 1e-4 / 2), rel=0.05)
    assert random[-1] / random[0] < 1e-10


def test_activation_stds_deterministic_per_seed():
    kwargs = dict(depth=4, channels=8, size=8, batch=2)
    assert experiments.activation_stds(
        "he", seed=3, **kwargs
    ) == experiments.activation_stds("he", seed=3, **kwargs)
    assert experiments.activation_stds(
        "he", seed=3, **kwargs
    ) != experiments.activation_stds("he", seed=4, **kwargs)


def test_activation_stds_bad_scheme():
    with pytest.raises(ValueError, match="'lecun'"):
        experiments.activation_stds("lecun", depth=1, channels=2, size=4)


def test_activation_stds_leaves_the_global_rng_alone():
    """The seeding policy: the stack is drawn from its own seed, the caller's stream goes on as before."""
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    experiments.activation_stds("he", depth=2, channels=4, size=6, batch=2, seed=5)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------
# experiments.input_influence against window counts and the matrices of the linear maps
# ---------------------------------------------------------------------------


def window_counts(size: int, kernel_size: int, pad: int) -> np.ndarray:
    """How many ``kernel_size`` x ``kernel_size`` windows of a stride-1 convolution cover each pixel,
    found by stamping every window onto a zero-padded canvas (pad cells dropped at the end)."""
    padded = size + 2 * pad
    canvas = np.zeros((padded, padded))
    for top in range(padded - kernel_size + 1):
        for left in range(padded - kernel_size + 1):
            canvas[top : top + kernel_size, left : left + kernel_size] += 1
    return canvas[pad : pad + size, pad : pad + size]


def box_matrix(size: int, kernel_size: int, mode: str) -> np.ndarray:
    """The 1-D box filter as a matrix, ``output = M @ input``, for one padding mode."""
    half = (kernel_size - 1) // 2
    if mode == "valid":
        matrix = np.zeros((size - kernel_size + 1, size))
        for o in range(size - kernel_size + 1):
            matrix[o, o : o + kernel_size] = 1
        return matrix
    matrix = np.zeros((size, size))
    for o in range(size):
        for offset in range(-half, half + 1):
            i = o + offset
            if mode == "circular":
                matrix[o, i % size] += 1
            elif 0 <= i < size:
                matrix[o, i] = 1
    return matrix


def influence_by_matrices(
    size: int, depth: int, mode: str, kernel_size: int
) -> np.ndarray:
    """d(sum of outputs)/d(input) of the separable 2-D stack: the outer product of the 1-D
    row vector ``1^T M_depth ... M_1``, since a box kernel is the product of two 1-D boxes."""
    length = size
    matrices = []
    for _ in range(depth):
        matrices.append(box_matrix(length, kernel_size, mode))
        length = matrices[-1].shape[0]
    row = np.ones(length)
    for matrix in reversed(matrices):
        row = row @ matrix
    return np.outer(row, row)


@pytest.mark.parametrize("size, kernel_size", [(6, 3), (9, 3), (7, 5), (5, 1)])
def test_input_influence_one_layer_counts_windows(size, kernel_size):
    pad = (kernel_size - 1) // 2
    valid = experiments.input_influence(size, 1, "valid", kernel_size)
    zeros = experiments.input_influence(size, 1, "zeros", kernel_size)
    assert (
        valid.shape == zeros.shape == (size, size)
        and valid.dtype == zeros.dtype == np.float64
    )
    np.testing.assert_array_equal(valid, window_counts(size, kernel_size, pad=0))
    np.testing.assert_array_equal(zeros, window_counts(size, kernel_size, pad=pad))
    # the centre is read by all k * k windows; a corner by one ("valid") or (pad + 1)^2 ("same")
    if size >= 2 * kernel_size - 1:
        assert (
            valid[size // 2, size // 2] == zeros[size // 2, size // 2] == kernel_size**2
        )
    assert valid[0, 0] == 1 and zeros[0, 0] == (pad + 1) ** 2


@pytest.mark.parametrize("mode", ["valid", "zeros", "circular"])
@pytest.mark.parametrize(
    "size, depth, kernel_size",
    [(9, 0, 3), (9, 2, 3), (12, 3, 3), (11, 2, 5), (8, 4, 1)],
)
def test_input_influence_matches_linear_maps(mode, size, depth, kernel_size):
    influence = experiments.input_influence(size, depth, mode, kernel_size)
    np.testing.assert_array_equal(
        influence, influence_by_matrices(size, depth, mode, kernel_size)
    )


@pytest.mark.parametrize(
    "size, depth, kernel_size", [(8, 1, 3), (10, 3, 3), (11, 2, 5)]
)
def test_input_influence_circular_is_uniform(size, depth, kernel_size):
    """On a torus every pixel has a full neighbourhood at every layer: each of the size^2
    outputs has k^(2 depth) paths back, spread evenly, so each pixel has k^(2 depth)."""
    influence = experiments.input_influence(size, depth, "circular", kernel_size)
    np.testing.assert_array_equal(
        influence, np.full((size, size), float(kernel_size ** (2 * depth)))
    )


@pytest.mark.parametrize(
    "size, depth, kernel_size", [(10, 2, 3), (13, 3, 3), (12, 1, 5)]
)
def test_input_influence_totals(size, depth, kernel_size):
    """Summed over the input, the paths are (number of outputs) x k^(2 depth): with "valid" the
    map shrinks by k - 1 per layer; the zero border loses paths, so "zeros" lies in between."""
    paths = kernel_size ** (2 * depth)
    out = size - depth * (kernel_size - 1)
    assert (
        experiments.input_influence(size, depth, "valid", kernel_size).sum()
        == out * out * paths
    )
    zeros = experiments.input_influence(size, depth, "zeros", kernel_size)
    assert out * out * paths < zeros.sum() < size * size * paths
    assert zeros[size // 2, size // 2] > zeros[0, 0]  # the border is read less


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (
            dict(padding_mode="reflect"),
            r"^padding_mode must be 'valid', 'zeros' or 'circular', got 'reflect'$",
        ),
        (dict(kernel_size=2), r"^kernel_size must be a positive odd int, got 2$"),
        (dict(kernel_size=0), r"^kernel_size must be a positive odd int, got 0$"),
    ],
)
def test_input_influence_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        experiments.input_influence(8, 2, **kwargs)


def test_input_influence_valid_too_deep():
    """Each 3x3 "valid" layer takes 2 pixels off a side: 5 -> 3 -> 1, and a third layer has no input left."""
    assert experiments.input_influence(5, 2, "valid").sum() == 81
    with pytest.raises(ValueError, match="too small"):
        experiments.input_influence(5, 3, "valid")


# ---------------------------------------------------------------------------
# experiments.channel_connectivity against the analytic block-diagonal masks
# ---------------------------------------------------------------------------


def _group_mask(channels: int, groups: int) -> np.ndarray:
    """Block-diagonal (C, C) mask of a grouped convolution: output o reads input c when they share a group."""
    group_of = np.arange(channels) // (channels // groups)
    return group_of[:, None] == group_of[None, :]


@pytest.mark.parametrize(
    "channels, groups", [(8, 2), (12, 3), (12, 4), (16, 4), (6, 6)]
)
@pytest.mark.parametrize("shuffle", [False, True], ids=["plain", "shuffled"])
def test_channel_connectivity_is_the_product_of_masks(channels, groups, shuffle):
    torch.manual_seed(0)
    layers = [
        nn.Conv2d(channels, channels, 3, padding=1, groups=groups, dtype=torch.float64)
    ]
    if shuffle:
        layers.append(nn.ChannelShuffle(groups))
    layers.append(
        nn.Conv2d(channels, channels, 3, padding=1, groups=groups, dtype=torch.float64)
    )
    measured = experiments.channel_connectivity(nn.Sequential(*layers), channels)
    mask = _group_mask(channels, groups).astype(int)
    permutation = np.eye(channels, dtype=int)
    if shuffle:  # the shuffle moves channel g * C/G + i to position i * G + g
        per_group = channels // groups
        source = [(p % groups) * per_group + p // groups for p in range(channels)]
        permutation = np.eye(channels, dtype=int)[source]
    expected = (mask @ permutation @ mask) > 0
    np.testing.assert_array_equal(measured, expected)


def test_channel_connectivity_rejects_bad_arguments():
    model = nn.Conv2d(2, 2, 1)
    with pytest.raises(ValueError, match=r"^in_channels must be >= 1, got 0$"):
        experiments.channel_connectivity(model, 0)
    with pytest.raises(TypeError, match=r"^size must be an int, got 2\.5$"):
        experiments.channel_connectivity(model, 2, size=2.5)
