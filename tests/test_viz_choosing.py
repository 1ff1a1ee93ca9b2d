"""convref.viz.choosing and its widget: the capstone's accuracy-against-cost figure."""

from __future__ import annotations

import pytest
from matplotlib.text import Text

from test_viz_legibility import _choice_rows

from convref import experiments, viz


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


@pytest.mark.parametrize(
    "costs, accuracy",
    [
        (("mult_adds", "cpu_ratio"), "test_accuracy"),
        (("params", "peak_mib"), "train_accuracy"),
    ],
)
def test_operator_labels_do_not_overlap(costs, accuracy):
    rows = _choice_rows()  # the book's table, where the labels crowd
    fig = viz.plot_operator_choices(rows, costs=costs, accuracy=accuracy, noise=0.055)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = [text for text in ax.texts if text.get_text()]
        assert sorted(t.get_text() for t in labels) == sorted(r["label"] for r in rows)
        # the text's own box (an annotation's extent would include its leader line)
        boxes = [Text.get_window_extent(t, renderer) for t in labels]
        frame = ax.get_window_extent(renderer)
        for i, a in enumerate(boxes):
            assert frame.x0 <= a.x0 and a.x1 <= frame.x1, labels[i].get_text()
            assert frame.y0 <= a.y0 and a.y1 <= frame.y1, labels[i].get_text()
            for j in range(i):
                assert not a.overlaps(boxes[j]), (
                    labels[i].get_text(),
                    labels[j].get_text(),
                )
