"""Figures, widget and experiment helpers of the AdderNet chapter.

Oracles, none of them the code under test: scores written out with explicit loops, PyTorch's
own ``conv2d`` for correlations, distributions whose kurtosis is known in closed form (two
points, Gaussian, Laplace, uniform), the analytic gradient of a convolution followed by
average pooling and cross-entropy, and operation counts added up by hand for a known network.
"""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convref import data, experiments, viz, widgets
from convref.nn import Adder2d

# ---------------------------------------------------------------------------
# experiments.template_responses
# ---------------------------------------------------------------------------


def _scores_by_loops(image, template):
    kh, kw = template.shape
    rows, cols = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    correlation, distance = np.zeros((rows, cols)), np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for u in range(kh):
                for v in range(kw):
                    correlation[i, j] += image[i + u, j + v] * template[u, v]
                    distance[i, j] -= abs(image[i + u, j + v] - template[u, v])
    return correlation, distance


def test_template_responses_by_loops():
    rng = np.random.default_rng(0)
    image, template = rng.uniform(size=(9, 11)), rng.normal(size=(3, 4))
    scores = experiments.template_responses(image, template)
    correlation, distance = _scores_by_loops(image, template)
    assert list(scores) == ["correlation", "negative L1"]
    np.testing.assert_allclose(scores["correlation"], correlation, atol=1e-12)
    np.testing.assert_allclose(scores["negative L1"], distance, atol=1e-12)
    torch_corr = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(template)[None, None])[0, 0]
    np.testing.assert_allclose(scores["correlation"], torch_corr.numpy(), atol=1e-12)


def test_template_responses_find_a_cut_out_template():
    image = data.test_image(32)
    template = image[10:15, 4:9]
    scores = experiments.template_responses(image, template)
    assert scores["negative L1"][10, 4] == 0 and np.unravel_index(scores["negative L1"].argmax(), (28, 28)) == (10, 4)


@pytest.mark.parametrize(
    "image, template",
    [(np.zeros((4, 4, 1)), np.zeros((2, 2))), (np.zeros((4, 4)), np.zeros(2)), (np.zeros((4, 4)), np.zeros((5, 2)))],
)
def test_template_responses_rejects_bad_shapes(image, template):
    with pytest.raises(ValueError):
        experiments.template_responses(image, template)


# ---------------------------------------------------------------------------
# experiments.excess_kurtosis
# ---------------------------------------------------------------------------


def test_excess_kurtosis_closed_forms():
    # two equally likely points: fourth moment = variance squared, so excess kurtosis = 1 - 3
    assert experiments.excess_kurtosis(np.array([-1.0, 1.0, -1.0, 1.0])) == pytest.approx(-2.0)
    assert experiments.excess_kurtosis(np.array([3.0, 5.0])) == pytest.approx(-2.0)  # shift and scale free
    # Bernoulli(p): (1 - 6 p q) / (p q); p = 1/4 gives (1 - 18/16) / (3/16) = -2/3
    assert experiments.excess_kurtosis(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(-2 / 3)
    rng = np.random.default_rng(0)
    n = 400_000
    assert experiments.excess_kurtosis(rng.normal(size=n)) == pytest.approx(0.0, abs=0.05)
    assert experiments.excess_kurtosis(rng.laplace(size=n)) == pytest.approx(3.0, abs=0.15)
    assert experiments.excess_kurtosis(rng.uniform(size=n)) == pytest.approx(-1.2, abs=0.02)


def test_excess_kurtosis_accepts_tensors_and_rejects_constants():
    values = torch.tensor([[1.0, 2.0], [4.0, 8.0]], requires_grad=True)
    assert experiments.excess_kurtosis(values) == pytest.approx(experiments.excess_kurtosis(np.array([1, 2, 4, 8.0])))
    with pytest.raises(ValueError):
        experiments.excess_kurtosis(np.ones(5))
    with pytest.raises(ValueError):
        experiments.excess_kurtosis(np.array([2.0]))


# ---------------------------------------------------------------------------
# experiments.filter_gradients
# ---------------------------------------------------------------------------


def test_filter_gradients_of_conv_and_average_pooling_by_hand():
    # logits_o = mean over positions of (w_o . window) = w_o . (mean window): the gradient is
    # (softmax - one-hot) times the mean window, averaged over the batch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, bias=False), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    model.double().eval()
    rng = np.random.default_rng(1)
    images, labels = rng.normal(size=(5, 1, 6, 7)), np.array([0, 2, 1, 2, 0])
    grads = experiments.filter_gradients(model, images, labels)
    assert list(grads) == ["0.weight"] and not model.training  # the mode is restored
    assert all(p.grad is None for p in model.parameters())
    w = model[0].weight.detach().numpy()[:, 0]  # (3, 3, 3)
    mean_windows = np.stack([[[images[n, 0, u : u + 4, v : v + 5].mean() for v in range(3)] for u in range(3)] for n in range(5)])
    logits = np.einsum("ouv,nuv->no", w, mean_windows)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    error = softmax - np.eye(3)[labels]
    expected = np.einsum("no,nuv->ouv", error, mean_windows) / 5
    np.testing.assert_allclose(grads["0.weight"][:, 0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_filter_gradients_see_the_adaptive_scale():
    torch.manual_seed(0)
    images, labels = data.shapes(16, size=12, seed=0)
    scaled = experiments.adder_classifier("adder", width=4, eta=0.2)
    plain = experiments.adder_classifier("adder", width=4, eta=None)
    plain.load_state_dict(scaled.state_dict())
    g_scaled = experiments.filter_gradients(scaled, images, labels)
    g_plain = experiments.filter_gradients(plain, images, labels)
    assert list(g_scaled) == ["0.weight", "3.weight", "6.weight"]  # every 4-D weight, in model order
    torch.testing.assert_close(g_scaled["0.weight"], g_plain["0.weight"])  # the first layer is a convolution
    for key in ("3.weight", "6.weight"):
        k = g_plain[key].numel()
        assert g_scaled[key].norm().item() == pytest.approx(0.2 * math.sqrt(k), rel=1e-5)
        cosine = (g_scaled[key] * g_plain[key]).sum() / (g_scaled[key].norm() * g_plain[key].norm())
        assert cosine.item() == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------
# experiments.op_counts
# ---------------------------------------------------------------------------


def test_op_counts_of_the_chapter_networks_by_hand():
    first = 8 * 9 * 24 * 24  # conv 1 -> 8, 3x3, 24x24 output
    second = 16 * 8 * 9 * 12 * 12  # 8 -> 16, stride 2: 12x12
    third = 16 * 16 * 9 * 12 * 12
    linear = 16 * 4
    bn = 16 * 12 * 12  # one multiplication and one addition per output of an adder layer's BatchNorm
    conv = experiments.op_counts(experiments.adder_classifier("conv"), (1, 24, 24))
    assert (conv.multiplications, conv.additions) == (first + second + third + linear,) * 2  # BatchNorm folds
    adder = experiments.op_counts(experiments.adder_classifier("adder"), (1, 24, 24))
    assert adder.multiplications == first + 2 * bn + linear
    assert adder.additions == first + 2 * (second + third) + 2 * bn + linear
    assert adder.params == conv.params == sum(p.numel() for p in experiments.adder_classifier("adder").parameters())
    no_bn = experiments.op_counts(experiments.adder_classifier("adder", batchnorm=False), (1, 24, 24))
    assert no_bn.multiplications == first + linear


def test_op_counts_batchnorm_folds_only_right_after_a_convolution():
    after_relu = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.ReLU(), torch.nn.BatchNorm2d(3))
    counts = experiments.op_counts(after_relu, (2, 5, 5))
    assert counts.multiplications == 3 * 2 * 25 + 3 * 25
    after_conv = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    assert experiments.op_counts(after_conv, (2, 5, 5)).multiplications == 3 * 2 * 25
    after_adder = torch.nn.Sequential(Adder2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    counts = experiments.op_counts(after_adder, (2, 5, 5))
    assert (counts.multiplications, counts.additions) == (3 * 25, 2 * 3 * 2 * 25 + 3 * 25)
    after_adder.train()
    experiments.op_counts(after_adder, (2, 5, 5))
    assert after_adder.training  # the mode is restored


# ---------------------------------------------------------------------------
# viz.plot_template_matching
# ---------------------------------------------------------------------------


def _best(title):
    return tuple(int(v) for v in re.search(r"best window at \((\d+), (\d+)\)", title).groups())


def test_template_matching_figure_shows_the_scores_and_their_best_windows():
    image = data.test_image(24, seed=3)
    corner, size = (5, 9), 5
    fig = viz.plot_template_matching(image, corner, size, title="t")
    image_ax, template_ax, corr_ax, l1_ax = fig.axes[:4]
    np.testing.assert_array_equal(template_ax.images[0].get_array(), image[5:10, 9:14])
    correlation, distance = _scores_by_loops(image, image[5:10, 9:14])
    for ax, scores in ((corr_ax, correlation), (l1_ax, distance)):
        np.testing.assert_allclose(ax.images[0].get_array(), scores, atol=1e-12)
        best = np.unravel_index(scores.argmax(), scores.shape)
        assert _best(ax.get_title()) == best
        (marker,) = ax.lines
        assert (marker.get_ydata()[0], marker.get_xdata()[0]) == (best[0] + 2, best[1] + 2)  # the window's centre
        assert ax.get_xlim() == (-0.5, 23.5)  # image coordinates: the panels line up
    assert _best(l1_ax.get_title()) == corner
    template_box = image_ax.patches[0]
    assert template_box.get_xy() == (9 - 0.5, 5 - 0.5) and template_box.get_width() == 5
    assert fig._suptitle.get_text() == "t"
    plt.close(fig)


@pytest.mark.parametrize("corner, size", [((20, 0), 5), ((0, -1), 3), ((0, 0), 0)])
def test_template_matching_rejects_templates_outside_the_image(corner, size):
    with pytest.raises(ValueError):
        viz.plot_template_matching(np.zeros((24, 24)), corner, size)


# ---------------------------------------------------------------------------
# viz.plot_value_histograms and viz.plot_weight_distributions
# ---------------------------------------------------------------------------


def test_value_histograms_show_shares_and_statistics():
    samples = {"left": np.array([-3.0, -1.0, -1.0, 2.0]), "right": -np.arange(1.0, 11.0)}
    fig = viz.plot_value_histograms(samples, xlabel="out", title="T", bins=5)
    assert [ax.get_title() for ax in fig.axes] == ["left", "right"]
    for ax, values in zip(fig.axes, samples.values()):
        heights = [bar.get_height() for bar in ax.patches]
        assert sum(heights) == pytest.approx(1.0)  # each bar is a share of the values
        text = ax.texts[0].get_text()
        assert f"mean {values.mean():.3g}" in text and f"std {values.std():.3g}" in text
        assert f"> 0: {np.mean(values > 0):.0%}" in text
        assert ax.get_xlabel() == "out"
        assert any(line.get_xdata()[0] == 0 for line in ax.lines)  # zero is marked
    assert "> 0: 25%" in fig.axes[0].texts[0].get_text() and "> 0: 0%" in fig.axes[1].texts[0].get_text()
    plt.close(fig)
    centred = viz.plot_value_histograms({"z": np.array([-1.0, 1.0]) + 1e-9})
    assert "mean 0\n" in centred.axes[0].texts[0].get_text()  # a rounding-level mean shows as zero
    plt.close(centred)


def test_weight_distributions_compare_shapes_against_the_two_densities():
    rng = np.random.default_rng(0)
    weights = {"two points": np.array([-2.0, 2.0] * 50), "laplace": 5 + 3 * rng.laplace(size=4000)}
    fig = viz.plot_weight_distributions(weights, title="W", ncols=2)
    axes = fig.axes
    assert axes[0].get_title() == "two points\nexcess kurtosis -2.00"
    assert axes[1].get_title().startswith("laplace\nexcess kurtosis ")
    for ax in axes:
        assert ax.get_yscale() == "log"
        widths = np.array([bar.get_width() for bar in ax.patches])
        heights = np.array([bar.get_height() for bar in ax.patches])
        assert (widths * heights).sum() == pytest.approx(1.0)  # a density of the standardised weights
        gaussian, laplace = (line for line in ax.lines)
        middle = len(gaussian.get_xdata()) // 2
        assert gaussian.get_xdata()[middle] == 0
        assert gaussian.get_ydata()[middle] == pytest.approx(1 / math.sqrt(2 * math.pi))
        assert laplace.get_ydata()[middle] == pytest.approx(1 / math.sqrt(2))  # unit variance: 1 / (2 b), b = 1 / sqrt(2)
        assert laplace.get_ydata()[0] / laplace.get_ydata()[middle] == pytest.approx(math.exp(-math.sqrt(2) * abs(laplace.get_xdata()[0])))
    assert axes[0].patches[0].get_x() == axes[1].patches[0].get_x()  # one range for every panel
    plt.close(fig)


# ---------------------------------------------------------------------------
# widgets.template_widget
# ---------------------------------------------------------------------------


def test_template_widget_follows_its_sliders():
    image = data.test_image(32, seed=1)
    widget = widgets.template_widget(image, corner=(4, 6), size=5)
    size, row, column = widget.children[0].children

    def latest_titles():
        fig = plt.figure(plt.get_fignums()[-1])
        return [ax.get_title() for ax in fig.axes[:4]]

    def correlation_best(r, c, k):
        t = torch.from_numpy(image[r : r + k, c : c + k])[None, None]
        scores = F.conv2d(torch.from_numpy(image)[None, None], t)[0, 0]
        return tuple(int(v) for v in np.unravel_index(scores.argmax().item(), scores.shape))

    titles = latest_titles()
    assert _best(titles[3]) == (4, 6) and _best(titles[2]) == correlation_best(4, 6, 5)
    row.value, column.value = 20, 11
    titles = latest_titles()
    assert _best(titles[3]) == (20, 11) and _best(titles[2]) == correlation_best(20, 11, 5)
    size.value = 15  # the ranges shrink, and the template must still fit
    assert (row.max, column.max) == (17, 17) and row.value <= 17
    titles = latest_titles()
    assert titles[1].startswith("template (15x15)") and _best(titles[3]) == (row.value, column.value)
    plt.close("all")
    default = widgets.template_widget()
    assert [c.value for c in default.children[0].children] == [7, 22, 10]
    plt.close("all")
