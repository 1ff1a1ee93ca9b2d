"""Figures and widget of the dynamic-convolution chapter (its experiments: test_experiments_dynamic.py).

Oracles, none of them the code under test: softmax, kernel mixtures and correlations computed
with NumPy for the figures; for the widget, the attention of
:func:`convref.experiments.dynamic_attention` (tested on its own in test_experiments_dynamic.py)
and its tempered softmax worked out with NumPy.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from convref import experiments, viz, widgets
from convref.nn import DynamicConv2d

# ---------------------------------------------------------------------------
# viz
# ---------------------------------------------------------------------------


def test_plot_attention_by_group_writes_the_group_means():
    rng = np.random.default_rng(0)
    first, second = (
        rng.dirichlet(np.ones(3), size=10),
        rng.dirichlet(np.ones(4), size=10),
    )
    groups = {"even": np.arange(10) % 2 == 0, "first three": np.arange(10) < 3}
    fig = viz.plot_attention_by_group([first, second], groups, ["a", "b"], title="t")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().splitlines()[0] for ax in panels] == ["a", "b"]
    texts = [t.get_text() for t in panels[0].texts]
    expected = [f"{v:.3f}" for mask in groups.values() for v in first[mask].mean(0)]
    assert texts == expected
    image = panels[1].images[0].get_array()
    np.testing.assert_allclose(
        image, np.stack([second[m].mean(0) for m in groups.values()]) - second.mean(0)
    )
    with pytest.raises(ValueError):
        viz.plot_attention_by_group([first], {"none": np.zeros(10, dtype=bool)})
    with pytest.raises(ValueError):
        viz.plot_attention_by_group([first[0]], groups)


def test_plot_kernel_mixture_draws_the_mixtures():
    rng = np.random.default_rng(1)
    kernels = rng.normal(size=(3, 3, 3))
    weights = {"x": np.array([0.2, 0.3, 0.5]), "y": np.array([1.0, 0.0, 0.0])}
    fig = viz.plot_kernel_mixture(kernels, weights, {"x": rng.uniform(size=(6, 6))})
    axes = np.array(fig.axes).reshape(3, 4)
    for row, a in enumerate(weights.values(), start=1):
        mixed = sum(w * k for w, k in zip(a, kernels))
        shown = [ax for ax in axes[row] if ax.images]
        np.testing.assert_allclose(shown[-2].images[0].get_array(), mixed)
        np.testing.assert_allclose(
            shown[-1].images[0].get_array(), mixed - kernels.mean(0)
        )
        bars = [ax for ax in axes[row] if ax.patches][0]
        np.testing.assert_allclose([p.get_height() for p in bars.patches], a)
    assert len(axes[1][0].images) == 1  # the image of row "x"
    with pytest.raises(ValueError):
        viz.plot_kernel_mixture(kernels[0], weights)
    with pytest.raises(ValueError):
        viz.plot_kernel_mixture(kernels, {"bad": np.ones(2)})


def test_plot_temperature_sweep_is_a_tempered_softmax():
    z = np.array([1.0, -0.5, 0.2])
    taus = np.array([0.1, 1.0, 10.0, 1000.0])
    fig = viz.plot_temperature_sweep({"input": z}, taus)
    lines = [line for line in fig.axes[0].lines if len(line.get_xdata()) == 4]
    assert len(lines) == 3
    for k, line in enumerate(lines):
        expected = np.exp(z[k] / taus) / np.exp(z[None, :] / taus[:, None]).sum(1)
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
    assert (
        lines[0].get_ydata()[0] > 0.99 and abs(lines[1].get_ydata()[-1] - 1 / 3) < 1e-3
    )
    with pytest.raises(ValueError):
        viz.plot_temperature_sweep({"input": z}, np.array([1.0, -1.0]))


def test_plot_branch_attention_reports_the_correlations():
    rng = np.random.default_rng(2)
    sizes = rng.uniform(2, 7, size=40)
    grows = rng.uniform(size=(40, 2, 3))
    grows[:, 1] = (sizes / 10)[:, None] + 0.01 * rng.normal(size=(40, 3))
    grows[:, 0] = 1 - grows[:, 1]
    flat = np.full((40, 2, 3), 0.5) + 0.01 * rng.normal(size=(40, 2, 3))
    fig = viz.plot_branch_attention(
        sizes,
        {"grows": [grows, flat], "flat": [flat, grows]},
        layer_names=["one", "two"],
    )
    panels = [ax for ax in fig.axes if ax.get_legend()]
    assert [ax.get_title() for ax in panels] == ["one", "two"]
    r = np.corrcoef(sizes, grows[:, 1].mean(1))[0, 1]
    assert f"grows (r = {r:.2f})" in [
        t.get_text() for t in panels[0].get_legend().get_texts()
    ]
    with pytest.raises(ValueError):
        viz.plot_branch_attention(sizes, {"a": [grows], "b": [grows, grows]})


# ---------------------------------------------------------------------------
# widgets.dynamic_widget
# ---------------------------------------------------------------------------


def test_dynamic_widget_follows_its_controls():
    torch.manual_seed(0)
    model = experiments.dynamic_classifier("dynamic", width=4)
    images = torch.randn(6, 1, 16, 16).numpy()
    model.train()
    widget = widgets.dynamic_widget(model, images, layer=1, choices=[2, 4])
    assert model.training  # the mode is restored
    (left, right), _ = widget.children[0].children, widget.children[1]
    chooser, temperature = left.children
    out_channel, in_channel = right.children
    assert [value for _, value in chooser.options] == [2, 4]
    layer = [m for m in model.modules() if isinstance(m, DynamicConv2d)][1]
    assert (out_channel.max, in_channel.max) == (
        layer.out_channels - 1,
        layer.in_channels - 1,
    )

    def latest_bars():
        fig = plt.figure(plt.get_fignums()[-1])
        return np.array([p.get_height() for ax in fig.axes for p in ax.patches])

    attention = experiments.dynamic_attention(model, images)[1]
    np.testing.assert_allclose(latest_bars(), attention[2], rtol=1e-5)
    temperature.value = 100.0  # the slider's top: nearly uniform
    assert temperature.value == 100.0
    hot = (
        np.exp(np.log(attention[2]) / 100) / np.exp(np.log(attention[2]) / 100).sum()
    )  # the logits are log a + const
    np.testing.assert_allclose(latest_bars(), hot, rtol=1e-5)
    assert np.abs(latest_bars() - 0.25).max() < 0.01
    assert layer.temperature == 1.0  # the layer's own temperature is left alone
    chooser.value = 4
    out_channel.value, in_channel.value = 3, 2
    assert plt.get_fignums()
    with pytest.raises(ValueError):
        widgets.dynamic_widget(model, images, layer=3)
    with pytest.raises(ValueError):
        widgets.dynamic_widget(model, images, choices=[6])
    with pytest.raises(ValueError):
        widgets.dynamic_widget(model, images, names=["one"])
