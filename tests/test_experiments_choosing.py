"""convref.experiments.choosing, the capstone comparison: its networks, its runs and its table.

Oracles, none of them the code under test: the closed-form counts of :mod:`convref.arith`
written out layer by layer and parameter counts of modules built directly with PyTorch. The
network's multiply-adds (:func:`convref.experiments.network_mult_adds`) are tested with the
other counters in ``test_experiments_costs.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from convref import arith, experiments

SIZE, WIDTH = 24, 8
CHANNELS, INNER = 2 * WIDTH, SIZE // 2


def _network(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return experiments.choice_network(name, WIDTH)


@pytest.mark.parametrize("name", list(experiments.CHOICES))
def test_every_block_keeps_the_shape_and_has_a_chapter(name):
    torch.manual_seed(0)
    x = torch.randn(2, CHANNELS, INNER, INNER)
    assert experiments.choice_block(name, CHANNELS)(x).shape == x.shape
    choice = experiments.CHOICES[name]
    assert choice.chapter.count("/") == 1 and choice.label


def test_choices_cover_every_chapter_and_start_with_the_baseline():
    chapters = {
        path.parent.name
        for path in Path(__file__).resolve().parents[1].glob("book/*/*.ipynb")
    } - {"choosing"}
    assert {
        choice.chapter.split("/")[0] for choice in experiments.CHOICES.values()
    } == chapters
    assert list(experiments.CHOICES)[0] == "conv3x3"


def test_parameters_of_the_slot_follow_the_formulas():
    def slot_params(name: str) -> int:
        torch.manual_seed(0)
        return sum(
            p.numel() for p in experiments.choice_block(name, CHANNELS).parameters()
        )

    assert (
        slot_params("conv3x3")
        == arith.conv_cost(CHANNELS, CHANNELS, 3, INNER, bias=False).params
    )
    assert slot_params("dilated") == slot_params("conv3x3") == slot_params("adder")
    assert slot_params("grouped") == CHANNELS * CHANNELS // 4 * 9
    assert slot_params("conv1x1") == CHANNELS * CHANNELS
    assert (
        slot_params("shift") == 2 * CHANNELS * CHANNELS + 2 * CHANNELS
    )  # two 1x1 and a BatchNorm: the shift has none
    assert (
        slot_params("condconv") == 4 * slot_params("conv3x3") + CHANNELS * 4 + 4
    )  # K kernels and a linear router


def test_compare_operators_small_run():
    torch.manual_seed(21)
    expected = torch.rand(3)
    torch.manual_seed(21)
    rows = experiments.compare_operators(
        ["conv3x3", "shift"], images=80, epochs=1, repeat=1, gpu=False
    )
    assert torch.equal(
        torch.rand(3), expected
    )  # the seeding policy: the caller's stream is left alone
    assert [row["name"] for row in rows] == ["conv3x3", "shift"]
    assert (
        rows[0]["cpu_ratio"] == 1.0
        and rows[0]["gpu_ms"] is None
        and rows[1]["gpu_ratio"] is None
    )
    for row in rows:
        model = _network(row["name"])
        assert row["params"] == sum(p.numel() for p in model.parameters())
        assert row["mult_adds"] == experiments.network_mult_adds(model, (1, SIZE, SIZE))
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1
        assert row["cpu_ms"] > 0 and row["peak_mib"] > 0
        assert row["chapter"] == experiments.CHOICES[row["name"]].chapter
    table = experiments.format_comparison(rows)
    lines = table.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith(
        "| operator | params | mult-adds | CPU step ms"
    )
    assert "GPU" not in lines[0] and lines[2].startswith("| 3x3 conv |")


def test_format_comparison_adds_gpu_columns_when_measured():
    row = dict(
        label="3x3 conv",
        params=10,
        mult_adds=2e6,
        cpu_ms=1.0,
        cpu_ratio=1.0,
        peak_mib=1.0,
        gpu_ms=0.5,
        gpu_ratio=1.0,
        train_accuracy=0.5,
        test_accuracy=0.5,
    )
    header, _, line = experiments.format_comparison([row]).strip().splitlines()
    assert "GPU step ms" in header and "| 0.50 | 1.00 |" in line


@pytest.mark.parametrize(
    "call, exception, message",
    [
        (
            lambda: experiments.choice_block("conv7x7", 8),
            ValueError,
            "name must be one of",
        ),
        (lambda: experiments.choice_block("conv3x3", 0), ValueError, "channels"),
        (lambda: experiments.choice_network("conv3x3", width=0), ValueError, "width"),
        (
            lambda: experiments.compare_operators([]),
            ValueError,
            "names must name at least one operator",
        ),
        (
            lambda: experiments.compare_operators(["conv3x3"], images=0),
            ValueError,
            "images",
        ),
        (
            lambda: experiments.compare_operators(["conv3x3"], epochs=1.5),
            TypeError,
            "epochs",
        ),
    ],
)
def test_bad_calls(call, exception, message):
    with pytest.raises(exception, match=message):
        call()
