"""convref.experiments.basics: activation scales, input influence, channel connectivity and
the width and transfer studies.

Oracles: the variance analysis of Glorot & Bengio (2010) and He et al. (2015) for
:func:`activation_stds`; window counts stamped by hand and the matrices of the 1-D linear maps
for :func:`input_influence`; the block-diagonal masks and shuffle permutation of a grouped
stack, multiplied out, for :func:`channel_connectivity`; the parameter formula of a 3x3
convolution stack for :func:`small_cnn` and :func:`width_sweep`; the pretrained weights and a
fine-tuning run assembled by hand (copy, new head, :func:`train_classifier`) for
:func:`finetune_seeds`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convref import data, experiments
from convref.experiments.basics import (
    TALL_OR_WIDE,
    finetune_seeds,
    small_cnn,
    tall_or_wide,
    width_sweep,
)


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


# ---------------------------------------------------------------------------
# small_cnn and width_sweep against the parameter formula of the stack
# ---------------------------------------------------------------------------


def cnn_params(width: int, classes: int = 4, in_channels: int = 1) -> int:
    """Weights of three bias-free 3x3 convolutions, three BatchNorms and a linear head."""
    convolutions = 9 * in_channels * width + 2 * 9 * width * width
    return convolutions + 3 * 2 * width + (width * classes + classes)


@pytest.mark.parametrize(
    "width, classes, in_channels", [(1, 2, 1), (2, 4, 1), (5, 3, 3), (16, 4, 1)]
)
def test_small_cnn_has_the_stated_width_and_parameters(width, classes, in_channels):
    model = small_cnn(width, classes, in_channels)
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convolutions] == [width] * 3
    assert [c.kernel_size for c in convolutions] == [(3, 3)] * 3
    assert sum(p.numel() for p in model.parameters()) == cnn_params(
        width, classes, in_channels
    )
    assert model(torch.zeros(2, in_channels, 16, 16)).shape == (2, classes)


def test_small_cnn_cost_grows_with_the_square_of_the_width():
    """Multiply-adds on a 16x16 input: 9 * 8 * 8 w (first layer, stride 2),
    9 w^2 * 8 * 8 + 9 w^2 * 4 * 4 (the two others, after a 2x2 pooling) and 4 w (the head)."""
    from convref import arith

    for width in (2, 3, 8):
        count = arith.count(
            small_cnn(width), torch.zeros(1, 1, 16, 16), fold_batch_norm=True
        )
        assert count.mult_adds == 576 * width + 720 * width**2 + 4 * width


@pytest.mark.parametrize(
    "width, sizes, classes, in_channels",
    [(6, (1, 3, 5), 4, 1), (15, (1, 3, 5), 4, 1), (4, (3, 7), 3, 2), (3, (5,), 2, 1)],
)
def test_small_cnn_with_several_kernel_sizes_has_the_stated_parameters(
    width, sizes, classes, in_channels
):
    """(2 w + C_in) (w / m) sum(k^2) weights in the branches, BatchNorms and head as before."""
    model = small_cnn(width, classes, in_channels, kernel_sizes=sizes)
    per_size, squares = width // len(sizes), sum(k * k for k in sizes)
    expected = (2 * width + in_channels) * per_size * squares
    expected += 3 * 2 * width + width * classes + classes
    assert sum(p.numel() for p in model.parameters()) == expected
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convolutions] == list(sizes) * 3
    assert model(torch.zeros(2, in_channels, 16, 16)).shape == (2, classes)


@pytest.mark.parametrize("stride", [1, 2])
def test_parallel_kernels_equal_one_large_kernel_holding_the_small_ones_centred(stride):
    """Branches of sizes 1, 3, 5 = one 5x5 convolution whose kernels hold the 1x1 and 3x3
    kernels zero-padded around their centre: the branches' outputs line up pixel for pixel."""
    torch.manual_seed(0)
    model = small_cnn(6, kernel_sizes=(1, 3, 5))
    branches = model[0][0] if stride == 2 else model[1][0]
    c_in = branches.paths[0].in_channels
    x = torch.randn(2, c_in, 11, 11, dtype=torch.float64)
    combined = torch.zeros(6, c_in, 5, 5, dtype=torch.float64)
    for i, path in enumerate(branches.paths):
        k, margin = path.kernel_size[0], (5 - path.kernel_size[0]) // 2
        combined[2 * i : 2 * i + 2, :, margin : margin + k, margin : margin + k] = (
            path.weight.detach().double()
        )
    expected = F.conv2d(x, combined, stride=stride, padding=2)
    assert torch.allclose(branches.double()(x), expected, atol=1e-12)


def test_small_cnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="width"):
        small_cnn(0)
    with pytest.raises(TypeError, match="classes"):
        small_cnn(4, classes=2.0)
    with pytest.raises(
        ValueError, match=r"^kernel_sizes must hold distinct odd sizes, got \(3, 4\)$"
    ):
        small_cnn(4, kernel_sizes=(3, 4))
    with pytest.raises(ValueError, match="distinct"):
        small_cnn(4, kernel_sizes=(3, 3))
    with pytest.raises(ValueError, match="distinct"):
        small_cnn(4, kernel_sizes=())
    with pytest.raises(
        ValueError,
        match=r"^width must be a multiple of len\(kernel_sizes\) = 3, got 4$",
    ):
        small_cnn(4, kernel_sizes=(1, 3, 5))
    with pytest.raises(TypeError, match="kernel_sizes must be a sequence"):
        small_cnn(4, kernel_sizes="135")
    with pytest.raises(TypeError, match="kernel_sizes"):
        small_cnn(4, kernel_sizes=(3.0,))


@pytest.fixture(scope="module")
def tiny_task():
    images, labels = data.shapes(48, size=16, seed=0, noise=0.2)
    test = data.shapes(32, size=16, seed=1, noise=0.2)
    return images, labels, test


def test_width_sweep_trains_each_width_as_train_seeds_would(tiny_task):
    images, labels, test = tiny_task
    sweep = width_sweep((3, 2), images, labels, seeds=(0, 1), epochs=1, test=test)
    assert list(sweep) == [3, 2]
    for width, runs in sweep.items():
        assert runs.name == f"width {width}" and runs.seeds == (0, 1)
        assert runs.params == cnn_params(width) and runs.shared_test
        for model in runs.models:
            convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
            assert all(c.out_channels == width for c in convolutions)
    # seed 1 of width 2, built and trained by hand
    with experiments.seeded(1):
        model = small_cnn(2)
    by_hand = experiments.train_classifier(
        model, images, labels, epochs=1, seed=1, test=test
    )
    assert sweep[2].results[1]["test_accuracy"] == by_hand["test_accuracy"]
    for mine, theirs in zip(
        sweep[2].models[1].state_dict().values(), model.state_dict().values()
    ):
        assert torch.equal(mine, theirs)


def test_width_sweep_rejects_bad_widths(tiny_task):
    images, labels, _ = tiny_task
    with pytest.raises(ValueError, match="widths"):
        width_sweep((2, 2), images, labels, epochs=1)
    with pytest.raises(ValueError, match="widths"):
        width_sweep((), images, labels, epochs=1)
    with pytest.raises(ValueError, match="widths"):
        width_sweep((0,), images, labels, epochs=1)


# ---------------------------------------------------------------------------
# finetune_seeds against the pretrained weights and a fine-tuning assembled by hand
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained():
    images, labels = data.shapes(48, size=16, seed=2, classes=("square", "disk"))
    return experiments.train_seeds(
        "pretrained", lambda: small_cnn(3, classes=2), images, labels, (0, 1), epochs=1
    )


@pytest.fixture(scope="module")
def new_task():
    classes = ("cross", "triangle", "disk")
    return data.shapes(24, size=16, seed=3, classes=classes), data.shapes(
        16, size=16, seed=4, classes=classes
    )


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_finetune_starts_from_the_pretrained_weights_and_a_new_head(
    pretrained, new_task
):
    (images, labels), test = new_task
    before = [_snapshot(m) for m in pretrained.models]
    tuned = finetune_seeds(
        "tuned", pretrained, images, labels, classes=3, epochs=2, test=test
    )
    assert tuned.seeds == pretrained.seeds and tuned.shared_test
    for seed, original, model, state in zip(
        pretrained.seeds, pretrained.models, tuned.models, before
    ):
        # the pretrained models are left as they were
        for key, value in original.state_dict().items():
            assert torch.equal(value, state[key])
        # by hand: copy the pretrained model, give it a new 3-class head drawn with the
        # seed, train it with the same seed
        by_hand = copy.deepcopy(original)
        with experiments.seeded(seed):
            by_hand[3][2] = nn.Linear(3, 3)
        experiments.train_classifier(
            by_hand, images, labels, epochs=2, seed=seed, test=test
        )
        assert model[3][2].weight.shape == (3, 3)
        for key, value in model.state_dict().items():
            assert torch.equal(value, by_hand.state_dict()[key]), key


@pytest.mark.parametrize("freeze", [1, 3])
def test_frozen_blocks_keep_their_pretrained_weights(pretrained, new_task, freeze):
    (images, labels), test = new_task
    tuned = finetune_seeds(
        "frozen", pretrained, images, labels, 3, freeze=freeze, epochs=2, test=test
    )
    for original, model in zip(pretrained.models, tuned.models):
        for index in range(4):
            for (name, mine), theirs in zip(
                model[index].named_parameters(), original[index].parameters()
            ):
                if index < freeze:
                    assert torch.equal(mine, theirs) and not mine.requires_grad, name
                elif index < 3:  # fine-tuned: moved away from the pretrained weights
                    assert not torch.equal(mine, theirs), name
    trainable = sum(
        p.numel()
        for block in list(small_cnn(3, 3))[freeze:]
        for p in block.parameters()
    )
    assert tuned.params == trainable
    if freeze == 3:  # only the head learns: 3 features -> 3 classes
        assert tuned.params == 3 * 3 + 3


def test_finetune_rejects_bad_arguments(pretrained, new_task):
    (images, labels), _ = new_task
    with pytest.raises(ValueError, match="freeze must be an int from 0 to 3"):
        finetune_seeds("x", pretrained, images, labels, 3, freeze=4, epochs=1)
    with pytest.raises(TypeError, match="freeze must be an int"):
        finetune_seeds("x", pretrained, images, labels, 3, freeze=True, epochs=1)
    with pytest.raises(TypeError, match="pretrained must be a SeedRuns"):
        finetune_seeds("x", pretrained.models, images, labels, 3, epochs=1)
    with pytest.raises(TypeError, match="seed"):
        finetune_seeds("x", pretrained, images, labels, 3, seed=0, epochs=1)
    with pytest.raises(TypeError, match="Linear"):
        finetune_seeds(
            "x",
            experiments.SeedRuns("conv", (0, 1), ({}, {}), (nn.Conv2d(1, 1, 1),) * 2),
            images,
            labels,
            3,
            epochs=1,
        )


# ---------------------------------------------------------------------------
# tall_or_wide against the extent of the drawn object, read off noise-free pixels
# ---------------------------------------------------------------------------


def test_tall_or_wide_labels_follow_the_object_extent():
    images, labels = tall_or_wide(200, size=24, seed=5, noise=0.0)
    assert images.shape == (200, 1, 24, 24) and images.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert TALL_OR_WIDE[1] == "tall"
    for image, label in zip(images[:, 0], labels):
        rows = np.flatnonzero(image.any(axis=1))
        cols = np.flatnonzero(image.any(axis=0))
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert (height > width) == bool(label), (height, width, label)


def test_tall_or_wide_is_seeded_and_balanced():
    first, again = tall_or_wide(300, seed=1), tall_or_wide(300, seed=1)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert 0.4 < first[1].mean() < 0.6  # both elongations equally likely


def test_tall_or_wide_rejects_bad_arguments():
    with pytest.raises(ValueError, match="margin"):
        tall_or_wide(10, margin=2.5)
    with pytest.raises(ValueError, match="n must"):
        tall_or_wide(0)
