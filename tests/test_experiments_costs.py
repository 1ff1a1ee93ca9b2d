"""convref.experiments.costs: the model-cost counters against independent counts.

Oracles: PyTorch's own FLOP counter (:class:`torch.utils.flop_counter.FlopCounterMode`) for
:func:`model_cost` and :func:`network_mult_adds`; the closed-form counts of :mod:`convref.arith` written out layer by layer,
and the non-local block's equations counted by hand, for :func:`network_mult_adds` on the
networks of the capstone comparison.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, experiments
from convref.nn import Conv2d

SIZE, WIDTH = 24, 8
CHANNELS, INNER = 2 * WIDTH, SIZE // 2


def _network(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return experiments.choice_network(name, WIDTH)


def _outside_slot() -> int:
    return (
        arith.conv_cost(1, WIDTH, 3, SIZE).mult_adds
        + arith.conv_cost(WIDTH, CHANNELS, 3, INNER).mult_adds
        + arith.linear_cost(CHANNELS, 4, bias=False).mult_adds
    )


# ---------------------------------------------------------------------------
# experiments.model_cost against PyTorch's own FLOP counter
# ---------------------------------------------------------------------------


def _counted_mult_adds(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass as PyTorch's FLOP counter sees them (one FLOP pair each)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "build, input_shape",
    [
        (
            lambda: torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 5, padding=2),
                torch.nn.ReLU(),
                torch.nn.Conv2d(8, 8, 3, stride=2),
            ),
            (3, 20, 20),
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Conv2d(4, 8, (1, 7), padding=(0, 3), groups=2),
                torch.nn.Conv2d(8, 8, (7, 1), groups=8),
            ),
            (4, 12, 12),
        ),
        (
            lambda: torch.nn.Sequential(
                Conv2d(1, 6, 3),
                torch.nn.BatchNorm2d(6),
                torch.nn.Flatten(),
                torch.nn.Linear(6 * 14 * 14, 4),
            ),
            (1, 16, 16),
        ),
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
    assert all(
        torch.equal(v, before[k]) for k, v in model.state_dict().items()
    )  # batch-norm stats untouched
    assert cost["params"] == sum(p.numel() for p in model.parameters())
    assert cost["mult_adds"] == _counted_mult_adds(model, input_shape)
    with torch.no_grad():
        outputs = []
        hooks = [
            m.register_forward_hook(lambda m, i, y: outputs.append(y[0].numel()))
            for m in model.modules()
            if isinstance(m, (torch.nn.Conv2d, Conv2d))
        ]
        model.eval()(torch.zeros(1, *input_shape))
        for h in hooks:
            h.remove()
    assert cost["conv_outputs"] == sum(outputs)


# ---------------------------------------------------------------------------
# experiments.network_mult_adds against arith's formulas, layer by layer
# ---------------------------------------------------------------------------


def test_network_mult_adds_match_the_formulas():
    conv = arith.conv_cost(CHANNELS, CHANNELS, 3, INNER).mult_adds
    slot = {
        "conv3x3": 2 * conv,
        "dilated": 2 * conv,
        "conv1x1": 2 * arith.conv_cost(CHANNELS, CHANNELS, 1, INNER).mult_adds,
        "grouped": 2
        * arith.conv_cost(CHANNELS, CHANNELS, 3, INNER, groups=4).mult_adds,
        "depthwise_separable": 2
        * arith.depthwise_separable_cost(CHANNELS, CHANNELS, 3, INNER).mult_adds,
        "adder": 2 * conv,
        "deformable": 2
        * arith.deform_conv_cost(CHANNELS, CHANNELS, 3, INNER)["total"].mult_adds,
        "shift": 4 * arith.conv_cost(CHANNELS, CHANNELS, 1, INNER).mult_adds,
        "transposed": 2
        * (
            arith.conv_cost(CHANNELS, CHANNELS, 3, INNER // 2).mult_adds
            + arith.conv_cost(CHANNELS, CHANNELS, 4, INNER // 2).mult_adds
        ),
    }
    for name, expected in slot.items():
        assert (
            experiments.network_mult_adds(_network(name), (1, SIZE, SIZE))
            == _outside_slot() + expected
        ), name


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
    assert experiments.network_mult_adds(
        _network("non_local"), (1, SIZE, SIZE)
    ) == _outside_slot() + 2 * (conv + block)


@pytest.mark.parametrize("name", sorted(set(experiments.CHOICES) - {"non_local"}))
def test_network_mult_adds_agree_with_the_hook_count_where_it_is_complete(name):
    # model_cost leaves out the non-local block's projections and attention; everything else is the same work
    model = _network(name)
    assert (
        experiments.network_mult_adds(model, (1, SIZE, SIZE))
        == experiments.model_cost(model, (1, SIZE, SIZE))["mult_adds"]
    )


@pytest.mark.parametrize(
    "name", sorted(set(experiments.CHOICES) - {"adder", "deformable"})
)
def test_network_mult_adds_match_torch_flop_counter(name):
    # the FLOP counter sees every convolution and matrix product (the attention on the MATH
    # backend), not an adder layer's cdist terms nor the deformable bilinear reads
    model = _network(name)
    with (
        torch.no_grad(),
        sdpa_kernel(SDPBackend.MATH),
        FlopCounterMode(display=False) as counter,
    ):
        model.eval()(torch.zeros(2, 1, SIZE, SIZE))
    assert (
        4 * experiments.network_mult_adds(model, (1, SIZE, SIZE))
        == counter.get_total_flops()
    )  # 2 FLOPs, 2 inputs


def test_network_mult_adds_leaves_the_mode_and_statistics_alone():
    model = _network("conv3x3").train()
    experiments.network_mult_adds(model, (1, SIZE, SIZE))
    assert model.training
