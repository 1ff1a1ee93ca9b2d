"""Figures and widget of the AdderNet chapter (its experiments: test_experiments_adder.py).

Oracles, none of them the code under test: scores written out with explicit loops (the
``scores_by_loops`` fixture of conftest.py), PyTorch's own ``conv2d`` for correlations, shares,
means and standard deviations computed with NumPy, and the Gaussian and Laplace densities in
closed form.
"""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from convref import data, viz

# ---------------------------------------------------------------------------
# viz.plot_template_matching
# ---------------------------------------------------------------------------


def _best(title):
    return tuple(
        int(v) for v in re.search(r"best window at \((\d+), (\d+)\)", title).groups()
    )


def test_template_matching_figure_shows_the_scores_and_their_best_windows(
    scores_by_loops,
):
    image = data.test_image(24, seed=3)
    corner, size = (5, 9), 5
    fig = viz.plot_template_matching(image, corner, size, title="t")
    image_ax, template_ax, corr_ax, l1_ax = fig.axes[:4]
    np.testing.assert_array_equal(template_ax.images[0].get_array(), image[5:10, 9:14])
    correlation, distance = scores_by_loops(image, image[5:10, 9:14])
    for ax, scores in ((corr_ax, correlation), (l1_ax, distance)):
        np.testing.assert_allclose(ax.images[0].get_array(), scores, atol=1e-12)
        best = np.unravel_index(scores.argmax(), scores.shape)
        assert _best(ax.get_title()) == best
        (marker,) = ax.lines
        assert (marker.get_ydata()[0], marker.get_xdata()[0]) == (
            best[0] + 2,
            best[1] + 2,
        )  # the window's centre
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
    samples = {
        "left": np.array([-3.0, -1.0, -1.0, 2.0]),
        "right": -np.arange(1.0, 11.0),
    }
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
    assert (
        "> 0: 25%" in fig.axes[0].texts[0].get_text()
        and "> 0: 0%" in fig.axes[1].texts[0].get_text()
    )
    plt.close(fig)
    centred = viz.plot_value_histograms({"z": np.array([-1.0, 1.0]) + 1e-9})
    assert (
        "mean 0\n" in centred.axes[0].texts[0].get_text()
    )  # a rounding-level mean shows as zero
    plt.close(centred)


def test_weight_distributions_compare_shapes_against_the_two_densities():
    rng = np.random.default_rng(0)
    weights = {
        "two points": np.array([-2.0, 2.0] * 50),
        "laplace": 5 + 3 * rng.laplace(size=4000),
    }
    fig = viz.plot_weight_distributions(weights, title="W", ncols=2)
    axes = fig.axes
    assert axes[0].get_title() == "two points\nexcess kurtosis -2.00"
    assert axes[1].get_title().startswith("laplace\nexcess kurtosis ")
    for ax in axes:
        assert ax.get_yscale() == "log"
        widths = np.array([bar.get_width() for bar in ax.patches])
        heights = np.array([bar.get_height() for bar in ax.patches])
        assert (widths * heights).sum() == pytest.approx(
            1.0
        )  # a density of the standardised weights
        gaussian, laplace = (line for line in ax.lines)
        middle = len(gaussian.get_xdata()) // 2
        assert gaussian.get_xdata()[middle] == 0
        assert gaussian.get_ydata()[middle] == pytest.approx(1 / math.sqrt(2 * math.pi))
        assert laplace.get_ydata()[middle] == pytest.approx(
            1 / math.sqrt(2)
        )  # unit variance: 1 / (2 b), b = 1 / sqrt(2)
        assert laplace.get_ydata()[0] / laplace.get_ydata()[middle] == pytest.approx(
            math.exp(-math.sqrt(2) * abs(laplace.get_xdata()[0]))
        )
    assert (
        axes[0].patches[0].get_x() == axes[1].patches[0].get_x()
    )  # one range for every panel
    plt.close(fig)


# ---------------------------------------------------------------------------
# widgets.template_widget
# ---------------------------------------------------------------------------
