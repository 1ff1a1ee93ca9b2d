"""experiments, viz, widgets and data: analytic expectations and smoke tests of the figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convref import data, experiments, reference, viz, widgets, zoo

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
