"""convref.viz.choosing and its widget: the capstone's accuracy-against-cost figure."""

from __future__ import annotations

import pytest

from convref import experiments, viz, widgets


def _rows() -> list[dict]:
    rows = []
    for index, (name, choice) in enumerate(list(experiments.CHOICES.items())[:4]):
        rows.append(
            dict(
                name=name,
                label=choice.label,
                chapter=choice.chapter,
                params=1000 * (index + 1),
                mult_adds=1e6 * (index + 1),
                cpu_ratio=1.0 + index,
                peak_mib=5.0 + index,
                gpu_ratio=None,
                train_accuracy=0.5 + index / 10,
                test_accuracy=0.4 + index / 10,
            )
        )
    return rows


def test_plot_operator_choices_draws_one_point_per_row_and_panel():
    fig = viz.plot_operator_choices(
        _rows(), costs=("mult_adds", "cpu_ratio", "peak_mib"), noise=0.05
    )
    assert len(fig.axes) == 3
    for ax in fig.axes:
        points = [
            collection
            for collection in ax.collections
            if len(collection.get_offsets()) == 1
        ]
        assert len(points) == 4
        assert ax.get_xscale() == "log"
        assert [text.get_text() for text in ax.texts] and len(ax.texts) == 4
    offsets = sorted(
        float(c.get_offsets()[0][0])
        for c in fig.axes[0].collections
        if len(c.get_offsets()) == 1
    )
    assert offsets == [1.0, 2.0, 3.0, 4.0]  # multiply-adds in millions


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"costs": ("flops",)}, "costs must be a non-empty selection"),
        ({"costs": ("gpu_ratio",)}, "gpu_ratio exists only"),
    ],
)
def test_plot_operator_choices_bad_calls(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_operator_choices(_rows(), **kwargs)
    with pytest.raises(ValueError, match="rows must hold at least one operator"):
        viz.plot_operator_choices([])


def test_choice_widget_offers_only_measured_costs():
    box = widgets.choice_widget(_rows())
    cost, accuracy = box.children[0].children
    assert "gpu_ratio" not in [value for _, value in cost.options]
    assert cost.value == "mult_adds"
    accuracy.value = "train_accuracy"  # redraws without error
