"""Figures and widget of the dynamic-convolution chapter (its experiments: test_experiments_dynamic.py).

Oracles, none of them the code under test: softmax, kernel mixtures and correlations computed
with NumPy for the figures; for the widget, the attention of
:func:`convref.experiments.dynamic_attention` (tested on its own in test_experiments_dynamic.py)
and its tempered softmax worked out with NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

from convref import viz

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
