"""experiments, viz, widgets and data: analytic expectations and smoke tests of the figures."""

from __future__ import annotations

import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from convref import data, experiments, reference, viz, widgets, zoo
from convref.nn import Conv2d

# ---------------------------------------------------------------------------
# experiments.activation_stds against the variance analysis of Glorot & Bengio and He et al.
# ---------------------------------------------------------------------------

# Wide enough (fan-in 128 * 9) and large enough (32x32, so the zero border of "same" padding
# matters little) for the infinite-width analysis to hold over 20 layers.
WIDE = dict(depth=20, channels=128, size=32, batch=2, seed=0)


@pytest.fixture(scope="module")
def wide_stds() -> dict[str, list[float]]:
    return {scheme: experiments.activation_stds(scheme, **WIDE) for scheme in ("he", "xavier", "random")}


def test_activation_stds_length():
    stds = experiments.activation_stds("he", depth=3, channels=4, size=8, batch=2)
    assert len(stds) == 4 and all(isinstance(s, float) for s in stds)
    assert len(experiments.activation_stds("xavier", depth=0, channels=2, size=4)) == 1


def test_activation_stds_default_length_and_ordering():
    """At the book's defaults the ordering of the three schemes after 20 layers is He >> Xavier >> random."""
    final = {scheme: experiments.activation_stds(scheme) for scheme in ("he", "xavier", "random")}
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
    assert xavier[1] == pytest.approx(math.sqrt(0.5 - 0.5 / math.pi), rel=0.04)  # ReLU of N(0, 1)
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
    assert experiments.activation_stds("he", seed=3, **kwargs) == experiments.activation_stds("he", seed=3, **kwargs)
    assert experiments.activation_stds("he", seed=3, **kwargs) != experiments.activation_stds("he", seed=4, **kwargs)


def test_activation_stds_bad_scheme():
    with pytest.raises(ValueError, match="'lecun'"):
        experiments.activation_stds("lecun", depth=1, channels=2, size=4)


# ---------------------------------------------------------------------------
# viz
# ---------------------------------------------------------------------------


def _rectangles(ax, color=None):
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    if color is None:
        return rects
    from matplotlib.colors import to_rgb

    return [r for r in rects if np.allclose(r.get_facecolor()[:3], to_rgb(color))]


@pytest.mark.parametrize(
    "i, k, s, p, d, o",
    [(4, 3, 1, 0, 1, 2), (5, 4, 1, 2, 1, 6), (5, 3, 2, 1, 1, 3), (6, 3, 2, 1, 1, 3), (7, 3, 1, 0, 2, 3)],
)
def test_plot_conv_arithmetic(i, k, s, p, d, o):
    """The drawn grids have the guide's sizes (Dumoulin & Visin 2016) and k * k taps."""
    fig = viz.plot_conv_arithmetic(i, k, stride=s, padding=p, dilation=d, step=1)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    padded = i + 2 * p
    assert len(_rectangles(ax)) == padded * padded + o * o
    assert len(_rectangles(ax, viz.TAP_COLOR)) == k * k
    assert f"-> output {o}" in ax.get_title()


def test_plot_conv_arithmetic_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_conv_arithmetic(5, 3, ax=ax) is fig


def test_plot_conv_arithmetic_invalid_geometry():
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_arithmetic(3, 5)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_arithmetic(4, 3, dilation=2)


def test_plot_conv_steps():
    fig = viz.plot_conv_steps(5, 3, stride=2, padding=1, steps=(0, 1, 2, 8))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert viz.plot_conv_steps(4, 3, steps=(0,)).axes[0].get_title() == "output position 0"


def test_plot_images():
    image = data.test_image(32)
    kernel = np.array([[1.0, 0.0, -1.0]] * 3)
    fig = viz.plot_images([image, kernel, image - 0.5], ["image", "kernel", "centred"], symmetric=[False, True, True], ncols=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # 2 x 2 grid, the last panel left empty
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "kernel", "centred"]
    signed = fig.axes[1].images[0]
    assert signed.get_clim() == (-1.0, 1.0)  # centred on zero
    assert isinstance(viz.plot_images([np.zeros((3, 3))]), Figure)  # all-zero symmetric-safe


def test_plot_matrix():
    columns = reference.im2col(np.arange(25.0).reshape(1, 1, 5, 5), 3)[0]
    fig = viz.plot_matrix(columns, title="im2col", xlabel="position", ylabel="tap")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "im2col (9, 9)"


def test_plot_curves():
    fig = viz.plot_curves({"a": [1.0, 0.5, 0.25], "b": [1.0, 1.0, 1.0]}, "layer", "std", title="t", logy=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 2


def test_plot_cost_shares():
    kinds = zoo.cost_by_kind(zoo.mobilenet_v1())
    total_params = sum(c.params for c in kinds.values())
    total_mult_adds = sum(c.mult_adds for c in kinds.values())
    shares = {k: (100 * c.params / total_params, 100 * c.mult_adds / total_mult_adds) for k, c in kinds.items()}
    fig = viz.plot_cost_shares(shares, title="MobileNet v1")
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 2 * len(shares)


def test_show_source():
    code = viz.show_source(reference.conv2d)
    assert "def conv2d" in code.data
    assert "einsum" in code.data


# ---------------------------------------------------------------------------
# widgets (constructed and redrawn outside a kernel: errors propagate)
# ---------------------------------------------------------------------------


def _sliders(widget):
    columns = widget.children[0].children
    return {s.description: s for column in columns for s in column.children}


def test_conv_arithmetic_widget(capsys):
    widget = widgets.conv_arithmetic_widget(5, 3, stride=2, padding=1)
    sliders = _sliders(widget)
    assert {"input", "kernel", "stride", "padding", "dilation", "output #"} <= set(sliders)
    before = len(plt.get_fignums())
    sliders["input"].value = 7
    sliders["output #"].value = 4
    assert len(plt.get_fignums()) == before + 2  # one new figure per change
    # a geometry that does not fit prints a message instead of raising
    sliders["padding"].value = 0
    sliders["input"].value = 2
    sliders["kernel"].value = 5
    assert "no output:" in capsys.readouterr().out


def test_kernel_widget():
    image = data.test_image(24)
    kernels = {"identity": np.pad([[1.0]], 1), "box": np.full((3, 3), 1 / 9), "edge": np.array([[1.0, -1.0]])}
    widget = widgets.kernel_widget(image, kernels)
    dropdown = widget.children[0]
    assert list(dropdown.options) == list(kernels)
    before = len(plt.get_fignums())
    dropdown.value = "edge"  # an even kernel: "same" padding is asymmetric
    dropdown.value = "box"
    assert len(plt.get_fignums()) == before + 2


def test_shuffle_widget_redraws_with_the_measured_maps():
    calls = []

    def connectivity(groups):
        calls.append(groups)
        group = np.arange(6) // (6 // groups)
        block = (group[:, None] == group[None, :]).astype(int)
        return {False: block, True: np.ones((6, 6), dtype=int)}

    widget = widgets.shuffle_widget(connectivity, channels=6, groups=(1, 2, 3), group_count=2)
    choice, highlight = widget.children[0].children
    assert list(choice.options) == [1, 2, 3] and choice.value == 2 and highlight.max == 5
    before = len(plt.get_fignums())
    choice.value = 3
    highlight.value = 4
    assert calls == [2, 3, 3]  # the initial drawing, then one per change
    assert len(plt.get_fignums()) == before + 2


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def test_ramp_is_linear():
    r = data.ramp(5, 7, slope_y=2.0, slope_x=-0.5)
    assert r.shape == (5, 7) and r.dtype == np.float64
    rows, cols = np.indices((5, 7))
    np.testing.assert_array_equal(r, 2.0 * rows - 0.5 * cols)
    np.testing.assert_array_equal(data.ramp(3, 4), np.repeat(np.arange(3.0)[:, None], 4, axis=1))


def test_test_image():
    image = data.test_image(40, seed=1)
    assert image.shape == (40, 40) and image.dtype == np.float64
    assert image.min() >= 0 and image.max() <= 1
    assert image.std() > 0.1  # structure, not a flat field
    np.testing.assert_array_equal(image, data.test_image(40, seed=1))
    assert not np.array_equal(image, data.test_image(40, seed=2))
    clean = data.test_image(40, noise=0.0)
    np.testing.assert_array_equal(clean, data.test_image(40, seed=5, noise=0.0))  # the seed only drives the noise
    with pytest.raises(ValueError, match="size must be >= 16, got 8"):
        data.test_image(8)


def test_shapes():
    images, labels = data.shapes(40, size=20, seed=3)
    assert images.shape == (40, 1, 20, 20) and images.dtype == np.float32
    assert labels.shape == (40,) and labels.dtype == np.int64
    assert set(labels) <= set(range(len(data.SHAPE_CLASSES)))
    assert len(set(labels)) == len(data.SHAPE_CLASSES)  # 40 draws show every class
    again = data.shapes(40, size=20, seed=3)
    np.testing.assert_array_equal(images, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(images, data.shapes(40, size=20, seed=4)[0])


def test_shapes_are_the_named_shapes():
    """Without noise: squares fill their bounding box, disks fill about pi/4 of it."""
    images, labels = data.shapes(30, size=32, seed=0, noise=0.0, classes=("square", "disk"))
    assert set(labels) == {0, 1}
    assert set(np.unique(images)) <= {0.0, 1.0}
    for image, label in zip(images[:, 0], labels):
        rows, cols = np.nonzero(image)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        fill = image.sum() / box
        if label == 0:
            assert fill == 1.0
        else:
            assert abs(fill - math.pi / 4) < 0.1


def test_shapes_bad_classes():
    with pytest.raises(ValueError, match=r"classes must be taken from .*got \['hexagon'\]"):
        data.shapes(4, classes=("square", "hexagon"))


# ---------------------------------------------------------------------------
# experiments.train_classifier on a linearly separable toy set
# ---------------------------------------------------------------------------

TRAIN_KEYS = {"train_accuracy", "test_accuracy", "loss", "params", "seconds"}
FAST = dict(epochs=3, lr=0.05, batch_size=32)


def separable_images(n: int = 400, seed: int = 0, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 4x4 images, label 1 where the left half is brighter than the right.

    The classes are pushed ``margin`` apart along that direction, so the linear score
    mean(left) - mean(right) separates them exactly: a linear model can reach 100 %.
    """
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 1.0, (n, 1, 4, 4))
    score = images[:, 0, :, :2].mean(axis=(1, 2)) - images[:, 0, :, 2:].mean(axis=(1, 2))
    labels = (score > 0).astype(np.int64)
    images[:, 0, :, :2] += np.where(labels == 1, margin, -margin)[:, None, None]
    score = images[:, 0, :, :2].mean(axis=(1, 2)) - images[:, 0, :, 2:].mean(axis=(1, 2))
    assert ((score > margin) == (labels == 1)).all() and (np.abs(score) > margin).all()
    return images.astype(np.float32), labels


def tiny_model(seed: int = 0, hidden: int = 0) -> nn.Module:
    """A linear classifier (or one hidden layer), initialised from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if hidden:
            return nn.Sequential(nn.Flatten(), nn.Linear(16, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, np.ndarray]:
    return separable_images()


def test_train_classifier_learns_a_separable_set(toy):
    images, labels = toy
    model = tiny_model()
    result = experiments.train_classifier(model, images, labels, seed=0, **FAST)
    assert set(result) == TRAIN_KEYS
    assert result["test_accuracy"] > 0.9 and result["train_accuracy"] > 0.9
    assert len(result["loss"]) == FAST["epochs"] and all(isinstance(v, float) for v in result["loss"])
    assert result["loss"][-1] < result["loss"][0] < math.log(2) + 0.5  # starts near chance, goes down
    assert isinstance(result["seconds"], float) and 0 <= result["seconds"] < 10
    assert result["params"] == sum(p.numel() for p in model.parameters()) == 16 * 2 + 2
    # left in evaluation mode, every submodule too
    assert not any(m.training for m in model.modules())
    # The two accuracies are those of the returned (trained in place) model on its two parts:
    # 25 % of 400 = 100 samples held out, 300 trained on. Weighted, they give the number of
    # samples the model gets right, counted here directly.
    with torch.no_grad():
        correct = int((model(torch.from_numpy(images)).argmax(1).numpy() == labels).sum())
    assert round(result["train_accuracy"] * 300) + round(result["test_accuracy"] * 100) == correct
    assert result["train_accuracy"] * 300 == pytest.approx(round(result["train_accuracy"] * 300), abs=1e-4)
    assert result["test_accuracy"] * 100 == pytest.approx(round(result["test_accuracy"] * 100), abs=1e-4)


def test_train_classifier_test_fraction_sets_the_split(toy):
    images, labels = toy
    model = tiny_model()
    result = experiments.train_classifier(model, images, labels, test_fraction=0.1, **FAST)
    with torch.no_grad():
        correct = int((model(torch.from_numpy(images)).argmax(1).numpy() == labels).sum())
    assert round(result["train_accuracy"] * 360) + round(result["test_accuracy"] * 40) == correct


def test_train_classifier_deterministic_per_seed(toy):
    images, labels = toy
    model = tiny_model(hidden=8)
    twin = copy.deepcopy(model)
    first = experiments.train_classifier(model, images, labels, seed=5, **FAST)
    second = experiments.train_classifier(twin, images, labels, seed=5, **FAST)
    for key in TRAIN_KEYS - {"seconds"}:
        assert first[key] == second[key], key
    for (name, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items()):
        assert torch.equal(a, b), name
    other = experiments.train_classifier(tiny_model(hidden=8), images, labels, seed=6, **FAST)
    assert other["loss"] != first["loss"]  # another split and batch order


def test_train_classifier_accepts_tensors(toy):
    images, labels = toy
    from_numpy = experiments.train_classifier(tiny_model(), images, labels, **FAST)
    from_torch = experiments.train_classifier(tiny_model(), torch.from_numpy(images), torch.from_numpy(labels), **FAST)
    for key in TRAIN_KEYS - {"seconds"}:
        assert from_numpy[key] == from_torch[key], key


def test_train_classifier_leaves_global_rngs_alone(toy):
    images, labels = toy
    model = tiny_model()
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    experiments.train_classifier(model, images, labels, seed=3, **FAST)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


def test_train_classifier_counts_trainable_params_only(toy):
    images, labels = toy
    model = tiny_model(hidden=8)
    model[1].requires_grad_(False)  # freeze the hidden layer
    frozen = {name: p.detach().clone() for name, p in model[1].named_parameters()}
    result = experiments.train_classifier(model, images, labels, epochs=1)
    assert result["params"] == sum(p.numel() for p in model[3].parameters()) == 8 * 2 + 2
    for name, p in model[1].named_parameters():
        assert torch.equal(p, frozen[name]), name


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(test_fraction=0.0), r"^test_fraction must be in \(0, 1\), got 0\.0$"),
        (dict(test_fraction=1.0), r"^test_fraction must be in \(0, 1\), got 1\.0$"),
        (dict(test_fraction=-0.2), r"^test_fraction must be in \(0, 1\), got -0\.2$"),
        (dict(test_fraction=float("nan")), r"^test_fraction must be in \(0, 1\), got nan$"),
        (dict(epochs=0), r"^epochs\b.*must be >= 1, got 0\b"),
        (dict(epochs=-3), r"^epochs\b.*must be >= 1, got -3\b"),
        (dict(batch_size=0), r"\bbatch_size\b.*must be >= 1, got (.* )?0$"),
    ],
    ids=str,
)
def test_train_classifier_bad_arguments(toy, kwargs, pattern):
    images, labels = toy
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=pattern):
        experiments.train_classifier(model, images, labels, **kwargs)
    for name, value in model.state_dict().items():  # refused before any training step
        assert torch.equal(value, before[name]), name


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(epochs=2.5), TypeError, r"^epochs must be an int, got 2\.5$"),
        (dict(epochs=True), TypeError, r"^epochs must be an int, got True$"),
        (dict(batch_size=2.5), TypeError, r"^batch_size must be an int, got 2\.5$"),
        (dict(seed=1.5), TypeError, r"^seed must be an int, got 1\.5$"),
        (dict(test_fraction="0.5"), TypeError, r"^test_fraction must be a number, got '0\.5'$"),
        (dict(test_fraction=0.999), ValueError, r"^test_fraction=0\.999 leaves no training samples out of 400$"),
    ],
    ids=str,
)
def test_train_classifier_bad_argument_types(toy, kwargs, exception, pattern):
    images, labels = toy
    with pytest.raises(exception, match=pattern):
        experiments.train_classifier(tiny_model(), images, labels, **kwargs)


def test_train_classifier_refuses_float_labels(toy):
    images, labels = toy
    with pytest.raises(TypeError, match=r"^labels must hold integer class indices, got dtype float64$"):
        experiments.train_classifier(tiny_model(), images, np.asarray(labels, dtype=np.float64) + 0.5)


def test_train_classifier_length_mismatch(toy):
    images, labels = toy
    with pytest.raises(ValueError, match=r"^images and labels must have the same length, got 400 and 399$"):
        experiments.train_classifier(tiny_model(), images, labels[:-1])


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


def influence_by_matrices(size: int, depth: int, mode: str, kernel_size: int) -> np.ndarray:
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
    assert valid.shape == zeros.shape == (size, size) and valid.dtype == zeros.dtype == np.float64
    np.testing.assert_array_equal(valid, window_counts(size, kernel_size, pad=0))
    np.testing.assert_array_equal(zeros, window_counts(size, kernel_size, pad=pad))
    # the centre is read by all k * k windows; a corner by one ("valid") or (pad + 1)^2 ("same")
    if size >= 2 * kernel_size - 1:
        assert valid[size // 2, size // 2] == zeros[size // 2, size // 2] == kernel_size**2
    assert valid[0, 0] == 1 and zeros[0, 0] == (pad + 1) ** 2


@pytest.mark.parametrize("mode", ["valid", "zeros", "circular"])
@pytest.mark.parametrize("size, depth, kernel_size", [(9, 0, 3), (9, 2, 3), (12, 3, 3), (11, 2, 5), (8, 4, 1)])
def test_input_influence_matches_linear_maps(mode, size, depth, kernel_size):
    influence = experiments.input_influence(size, depth, mode, kernel_size)
    np.testing.assert_array_equal(influence, influence_by_matrices(size, depth, mode, kernel_size))


@pytest.mark.parametrize("size, depth, kernel_size", [(8, 1, 3), (10, 3, 3), (11, 2, 5)])
def test_input_influence_circular_is_uniform(size, depth, kernel_size):
    """On a torus every pixel has a full neighbourhood at every layer: each of the size^2
    outputs has k^(2 depth) paths back, spread evenly, so each pixel has k^(2 depth)."""
    influence = experiments.input_influence(size, depth, "circular", kernel_size)
    np.testing.assert_array_equal(influence, np.full((size, size), float(kernel_size ** (2 * depth))))


@pytest.mark.parametrize("size, depth, kernel_size", [(10, 2, 3), (13, 3, 3), (12, 1, 5)])
def test_input_influence_totals(size, depth, kernel_size):
    """Summed over the input, the paths are (number of outputs) x k^(2 depth): with "valid" the
    map shrinks by k - 1 per layer; the zero border loses paths, so "zeros" lies in between."""
    paths = kernel_size ** (2 * depth)
    out = size - depth * (kernel_size - 1)
    assert experiments.input_influence(size, depth, "valid", kernel_size).sum() == out * out * paths
    zeros = experiments.input_influence(size, depth, "zeros", kernel_size)
    assert out * out * paths < zeros.sum() < size * size * paths
    assert zeros[size // 2, size // 2] > zeros[0, 0]  # the border is read less


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(padding_mode="reflect"), r"^padding_mode must be 'valid', 'zeros' or 'circular', got 'reflect'$"),
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
# viz.plot_conv_cases and viz.plot_channel_groups
# ---------------------------------------------------------------------------

CONV_CASES = {
    "no padding": dict(input_size=5, kernel_size=3),
    "padding, stride": dict(input_size=6, kernel_size=3, stride=2, padding=1),
    "dilated": dict(input_size=7, kernel_size=3, dilation=2),
    "even kernel": dict(input_size=5, kernel_size=4, padding=2),
}


def torch_taps(geometry: dict, step: int) -> tuple[int, set[tuple[int, int]]]:
    """PyTorch's output size, and the padded-input pixels its output ``step`` (row-major) reads.

    Found by autograd: with an all-ones kernel, output ``step``'s gradient is nonzero exactly at the taps.
    """
    i, k = geometry["input_size"], geometry["kernel_size"]
    s, p, d = geometry.get("stride", 1), geometry.get("padding", 0), geometry.get("dilation", 1)
    padded = torch.ones(1, 1, i + 2 * p, i + 2 * p, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(padded, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, dilation=d)
    out = y.shape[-1]
    row, col = divmod(step % (out * out), out)
    (grad,) = torch.autograd.grad(y[0, 0, row, col], padded)
    return out, {tuple(map(int, ij)) for ij in torch.nonzero(grad[0, 0])}


def test_plot_conv_cases():
    steps = (0, 1, 5)
    fig = viz.plot_conv_cases(CONV_CASES, steps=steps)
    assert isinstance(fig, Figure)
    assert len(fig.subfigs) == len(CONV_CASES)
    for row, (name, geometry) in zip(fig.subfigs, CONV_CASES.items()):
        assert len(row.axes) == len(steps)
        padded = geometry["input_size"] + 2 * geometry.get("padding", 0)
        for ax, step in zip(row.axes, steps):
            out, taps = torch_taps(geometry, step)
            assert len(_rectangles(ax)) == padded * padded + out * out
            # the orange cells are the pixels PyTorch's output `step` reads; the grid's top-left
            # cell is at (0, padded - 1), rows going down
            drawn = {(round(padded - 1 - r.get_y()), round(r.get_x())) for r in _rectangles(ax, viz.TAP_COLOR)}
            assert drawn == taps, (name, step)
        title = row.get_suptitle()
        assert title.startswith(f"{name}:") and title.endswith(f"o={out}")


def test_plot_conv_cases_invalid_geometry():
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_cases({"too small": dict(input_size=3, kernel_size=5)})


def torch_connections(in_channels: int, out_channels: int, groups: int) -> set[tuple[int, int]]:
    """(input, output) channel pairs that a grouped nn.Conv2d connects: where d output / d input != 0."""
    conv = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    jacobian = torch.autograd.functional.jacobian(lambda x: conv(x).flatten(), torch.zeros(1, in_channels, 1, 1))
    jacobian = jacobian.reshape(out_channels, in_channels)
    return {(c, o) for o, c in torch.nonzero(jacobian).tolist()}


def drawn_connections(ax) -> tuple[set[tuple[int, int]], int, int, int]:
    """(input, output) index pairs of the drawn lines (channels numbered top to bottom), the
    number of lines, of input boxes and of output boxes; each line's colour must be that of
    both channels' boxes."""
    from matplotlib.colors import to_rgb

    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    inputs = sorted((b for b in boxes if b.get_x() < 0), key=lambda b: -b.get_y())
    outputs = sorted((b for b in boxes if b.get_x() > 0.5), key=lambda b: -b.get_y())
    assert len(inputs) + len(outputs) == len(boxes)

    def index(column, y):
        centres = np.array([b.get_y() + b.get_height() / 2 for b in column])
        nearest = int(np.abs(centres - y).argmin())
        assert abs(centres[nearest] - y) < 1e-9  # the line ends at a box's centre
        return nearest

    pairs = set()
    for line in ax.lines:
        (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
        assert x0 < x1
        c, o = index(inputs, y0), index(outputs, y1)
        assert to_rgb(line.get_color()) == to_rgb(inputs[c].get_facecolor()) == to_rgb(outputs[o].get_facecolor())
        pairs.add((c, o))
    return pairs, len(ax.lines), len(inputs), len(outputs)


@pytest.mark.parametrize(
    "in_channels, out_channels, groups", [(4, 8, (1, 2, 4)), (6, 3, (1, 3)), (4, 4, (4,)), (8, 4, (2,))]
)
def test_plot_channel_groups_connections_match_torch(in_channels, out_channels, groups):
    fig = viz.plot_channel_groups(in_channels, out_channels, groups)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(groups)
    for ax, g in zip(fig.axes, groups):
        pairs, lines, n_in, n_out = drawn_connections(ax)
        assert (n_in, n_out) == (in_channels, out_channels)
        assert pairs == torch_connections(in_channels, out_channels, g)
        # one line per 2-D kernel slice of the grouped weight
        weight_shape = nn.Conv2d(in_channels, out_channels, 3, groups=g).weight.shape
        assert lines == len(pairs) == weight_shape[0] * weight_shape[1]
        assert f"weight ({weight_shape[0]}, {weight_shape[1]}, kh, kw)" in ax.get_title()
        assert f"groups={g}" in ax.get_title()


@pytest.mark.parametrize("groups", [(1, 3), (0,), (5,)])
def test_plot_channel_groups_rejects_groups_not_dividing(groups):
    bad = [g for g in groups if g < 1 or 6 % g or 4 % g]
    with pytest.raises(ValueError):  # PyTorch refuses such a layer too
        nn.Conv2d(6, 4, 1, groups=bad[0])
    with pytest.raises(ValueError, match=rf"^groups must divide in_channels and out_channels, got groups={bad[0]} for 6 -> 4"):
        viz.plot_channel_groups(6, 4, groups)
    assert plt.get_fignums() == []  # refused before drawing anything


# ---------------------------------------------------------------------------
# experiments.model_cost against PyTorch's own FLOP counter; the low-rank figures
# ---------------------------------------------------------------------------


def _counted_mult_adds(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass as PyTorch's FLOP counter sees them (one FLOP pair each)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "build, input_shape",
    [
        (lambda: torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, padding=2), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, stride=2)), (3, 20, 20)),
        (lambda: torch.nn.Sequential(torch.nn.Conv2d(4, 8, (1, 7), padding=(0, 3), groups=2), torch.nn.Conv2d(8, 8, (7, 1), groups=8)), (4, 12, 12)),
        (lambda: torch.nn.Sequential(Conv2d(1, 6, 3), torch.nn.BatchNorm2d(6), torch.nn.Flatten(), torch.nn.Linear(6 * 14 * 14, 4)), (1, 16, 16)),
    ],
    ids=["stack", "factorised-grouped", "convref-layer-and-linear"],
)
def test_model_cost_matches_torch_flop_counter(build, input_shape):
    torch.manual_seed(0)
    model = build()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = experiments.model_cost(model, input_shape)
    assert model.training  # left in the mode it was in
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # batch-norm stats untouched
    assert cost["params"] == sum(p.numel() for p in model.parameters())
    assert cost["mult_adds"] == _counted_mult_adds(model, input_shape)
    with torch.no_grad():
        outputs = []
        hooks = [m.register_forward_hook(lambda m, i, y: outputs.append(y[0].numel()))
                 for m in model.modules() if isinstance(m, (torch.nn.Conv2d, Conv2d))]
        model.eval()(torch.zeros(1, *input_shape))
        for h in hooks:
            h.remove()
    assert cost["conv_outputs"] == sum(outputs)


def test_plot_low_rank_kernels_draws_a_row_per_kernel():
    gaussian = np.outer(np.hanning(5), np.hanning(5))
    rng = np.random.default_rng(0)
    fig = viz.plot_low_rank_kernels({"gaussian": gaussian, "random": rng.standard_normal((5, 5))}, ranks=(1, 2), image=data.test_image(32))
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) >= 2 * (1 + 2 + 1)  # kernel, two approximations and the error plot, per row


def test_plot_low_rank_filtering_reports_an_exact_rank_one_split():
    sobel = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
    fig = viz.plot_low_rank_filtering(data.test_image(32), sobel, rank=1, name="Sobel")
    assert isinstance(fig, Figure)
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "Sobel" in titles


# ---------------------------------------------------------------------------
# experiments.channel_connectivity against the analytic block-diagonal masks; shuffle and roofline figures
# ---------------------------------------------------------------------------


def _group_mask(channels: int, groups: int) -> np.ndarray:
    """Block-diagonal (C, C) mask of a grouped convolution: output o reads input c when they share a group."""
    group_of = np.arange(channels) // (channels // groups)
    return group_of[:, None] == group_of[None, :]


@pytest.mark.parametrize("channels, groups", [(8, 2), (12, 3), (12, 4), (16, 4), (6, 6)])
@pytest.mark.parametrize("shuffle", [False, True], ids=["plain", "shuffled"])
def test_channel_connectivity_is_the_product_of_masks(channels, groups, shuffle):
    torch.manual_seed(0)
    layers = [nn.Conv2d(channels, channels, 3, padding=1, groups=groups, dtype=torch.float64)]
    if shuffle:
        layers.append(nn.ChannelShuffle(groups))
    layers.append(nn.Conv2d(channels, channels, 3, padding=1, groups=groups, dtype=torch.float64))
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


def test_plot_shuffle_connectivity_draws_and_validates():
    fig = viz.plot_shuffle_connectivity(8, 2)
    assert isinstance(fig, Figure) and len(fig.axes) >= 4
    with pytest.raises(ValueError, match=r"^groups must divide channels, got groups=3 for 8 channels$"):
        viz.plot_shuffle_connectivity(8, 3)
    with pytest.raises(ValueError, match=r"^highlight must be an output channel in \[0, 8\), got 8$"):
        viz.plot_shuffle_connectivity(8, 2, highlight=8)


def test_plot_roofline_draws_the_roof_as_the_lower_ceiling():
    fig = viz.plot_roofline({"depthwise": (1.0, 5.0), "dense": (50.0, 80.0)}, peak=100.0, bandwidth=20.0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    roofs = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert roofs, "the roof line is drawn"
    x, y = np.asarray(roofs[0].get_xdata()), np.asarray(roofs[0].get_ydata())
    np.testing.assert_allclose(y, np.minimum(100.0, 20.0 * x))
