"""The capstone comparison: its networks, its cost accounting, and its table and plot.

Oracles, none of them the code under test: the closed-form counts of :mod:`convref.arith`
written out layer by layer, the non-local block's equations counted by hand,
:func:`convref.experiments.model_cost` (a separate hook-based count) where it covers every
layer, and parameter counts of modules built directly with PyTorch.
"""

from __future__ import annotations

import matplotlib
import pytest
import torch

from convref import arith, compare, experiments, viz, widgets

matplotlib.use("Agg")

SIZE, WIDTH = 24, 8
CHANNELS, INNER = 2 * WIDTH, SIZE // 2


def _network(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return compare.choice_network(name, WIDTH)


def _outside_slot() -> int:
    return (
        arith.conv_cost(1, WIDTH, 3, SIZE).mult_adds
        + arith.conv_cost(WIDTH, CHANNELS, 3, INNER).mult_adds
        + arith.linear_cost(CHANNELS, 4, bias=False).mult_adds
    )


@pytest.mark.parametrize("name", list(compare.CHOICES))
def test_every_block_keeps_the_shape_and_has_a_chapter(name):
    torch.manual_seed(0)
    x = torch.randn(2, CHANNELS, INNER, INNER)
    assert compare.choice_block(name, CHANNELS)(x).shape == x.shape
    choice = compare.CHOICES[name]
    assert choice.chapter.count("/") == 1 and choice.label


def test_choices_cover_every_chapter_and_start_with_the_baseline():
    from pathlib import Path

    chapters = {path.parent.name for path in Path(__file__).resolve().parents[1].glob("book/*/*.ipynb")} - {"choosing"}
    assert {choice.chapter.split("/")[0] for choice in compare.CHOICES.values()} == chapters
    assert list(compare.CHOICES)[0] == "conv3x3"


def test_network_mult_adds_match_the_formulas():
    conv = arith.conv_cost(CHANNELS, CHANNELS, 3, INNER).mult_adds
    slot = {
        "conv3x3": 2 * conv,
        "dilated": 2 * conv,
        "conv1x1": 2 * arith.conv_cost(CHANNELS, CHANNELS, 1, INNER).mult_adds,
        "grouped": 2 * arith.conv_cost(CHANNELS, CHANNELS, 3, INNER, groups=4).mult_adds,
        "depthwise_separable": 2 * arith.depthwise_separable_cost(CHANNELS, CHANNELS, 3, INNER).mult_adds,
        "adder": 2 * conv,
        "deformable": 2 * arith.deform_conv_cost(CHANNELS, CHANNELS, 3, INNER)["total"].mult_adds,
        "shift": 4 * arith.conv_cost(CHANNELS, CHANNELS, 1, INNER).mult_adds,
        "transposed": 2 * (arith.conv_cost(CHANNELS, CHANNELS, 3, INNER // 2).mult_adds + arith.conv_cost(CHANNELS, CHANNELS, 4, INNER // 2).mult_adds),
    }
    for name, expected in slot.items():
        assert compare.network_mult_adds(_network(name), (1, SIZE, SIZE)) == _outside_slot() + expected, name


def test_non_local_attention_is_counted():
    """theta on every position, phi and g on the 2x2-pooled grid, two pairwise products, W_z back to C channels."""
    positions, pooled, inter = INNER * INNER, (INNER // 2) ** 2, CHANNELS // 2
    block = (
        CHANNELS * inter * positions  # theta
        + 2 * CHANNELS * inter * pooled  # phi, g
        + 2 * positions * pooled * inter  # theta^T phi, then A g
        + inter * CHANNELS * positions  # W_z
    )
    conv = arith.conv_cost(CHANNELS, CHANNELS, 3, INNER).mult_adds
    assert compare.network_mult_adds(_network("non_local"), (1, SIZE, SIZE)) == _outside_slot() + 2 * (conv + block)


@pytest.mark.parametrize("name", ["conv3x3", "conv5x5", "spatially_separable", "bottleneck", "grouped", "condconv", "dynamic"])
def test_network_mult_adds_agree_with_the_hook_count_where_it_is_complete(name):
    model = _network(name)
    assert compare.network_mult_adds(model, (1, SIZE, SIZE)) == experiments.model_cost(model, (1, SIZE, SIZE))["mult_adds"]


def test_parameters_of_the_slot_follow_the_formulas():
    def slot_params(name: str) -> int:
        torch.manual_seed(0)
        return sum(p.numel() for p in compare.choice_block(name, CHANNELS).parameters())

    assert slot_params("conv3x3") == arith.conv_cost(CHANNELS, CHANNELS, 3, INNER, bias=False).params
    assert slot_params("dilated") == slot_params("conv3x3") == slot_params("adder")
    assert slot_params("grouped") == CHANNELS * CHANNELS // 4 * 9
    assert slot_params("conv1x1") == CHANNELS * CHANNELS
    assert slot_params("shift") == 2 * CHANNELS * CHANNELS + 2 * CHANNELS  # two 1x1 and a BatchNorm: the shift has none
    assert slot_params("condconv") == 4 * slot_params("conv3x3") + CHANNELS * 4 + 4  # K kernels and a linear router


def test_network_mult_adds_leaves_the_mode_and_statistics_alone():
    model = _network("conv3x3").train()
    compare.network_mult_adds(model, (1, SIZE, SIZE))
    assert model.training


def test_compare_operators_small_run():
    rows = compare.compare_operators(["conv3x3", "shift"], images=80, epochs=1, repeat=1, gpu=False)
    assert [row["name"] for row in rows] == ["conv3x3", "shift"]
    assert rows[0]["cpu_ratio"] == 1.0 and rows[0]["gpu_ms"] is None and rows[1]["gpu_ratio"] is None
    for row in rows:
        model = _network(row["name"])
        assert row["params"] == sum(p.numel() for p in model.parameters())
        assert row["mult_adds"] == compare.network_mult_adds(model, (1, SIZE, SIZE))
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1
        assert row["cpu_ms"] > 0 and row["peak_mib"] > 0
        assert row["chapter"] == compare.CHOICES[row["name"]].chapter
    table = compare.format_comparison(rows)
    lines = table.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("| operator | params | mult-adds | CPU step ms")
    assert "GPU" not in lines[0] and lines[2].startswith("| 3x3 conv |")


def test_format_comparison_adds_gpu_columns_when_measured():
    row = dict(label="3x3 conv", params=10, mult_adds=2e6, cpu_ms=1.0, cpu_ratio=1.0, peak_mib=1.0,
               gpu_ms=0.5, gpu_ratio=1.0, train_accuracy=0.5, test_accuracy=0.5)
    header, _, line = compare.format_comparison([row]).strip().splitlines()
    assert "GPU step ms" in header and "| 0.50 | 1.00 |" in line


@pytest.mark.parametrize(
    "call, exception, message",
    [
        (lambda: compare.choice_block("conv7x7", 8), ValueError, "name must be one of"),
        (lambda: compare.choice_block("conv3x3", 0), ValueError, "channels"),
        (lambda: compare.choice_network("conv3x3", width=0), ValueError, "width"),
        (lambda: compare.compare_operators([]), ValueError, "names must name at least one operator"),
        (lambda: compare.compare_operators(["conv3x3"], images=0), ValueError, "images"),
        (lambda: compare.compare_operators(["conv3x3"], epochs=1.5), TypeError, "epochs"),
    ],
)
def test_bad_calls(call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def _rows() -> list[dict]:
    rows = []
    for index, (name, choice) in enumerate(list(compare.CHOICES.items())[:4]):
        rows.append(dict(name=name, label=choice.label, chapter=choice.chapter, params=1000 * (index + 1),
                         mult_adds=1e6 * (index + 1), cpu_ratio=1.0 + index, peak_mib=5.0 + index,
                         gpu_ratio=None, train_accuracy=0.5 + index / 10, test_accuracy=0.4 + index / 10))
    return rows


def test_plot_operator_choices_draws_one_point_per_row_and_panel():
    fig = viz.plot_operator_choices(_rows(), costs=("mult_adds", "cpu_ratio", "peak_mib"), noise=0.05)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        points = [collection for collection in ax.collections if len(collection.get_offsets()) == 1]
        assert len(points) == 4
        assert ax.get_xscale() == "log"
        assert [text.get_text() for text in ax.texts] and len(ax.texts) == 4
    offsets = sorted(float(c.get_offsets()[0][0]) for c in fig.axes[0].collections if len(c.get_offsets()) == 1)
    assert offsets == [1.0, 2.0, 3.0, 4.0]  # multiply-adds in millions


@pytest.mark.parametrize(
    "kwargs, message",
    [({"costs": ("flops",)}, "costs must be a non-empty selection"), ({"costs": ("gpu_ratio",)}, "gpu_ratio exists only")],
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
