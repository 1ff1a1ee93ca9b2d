"""channel_shuffle, the depthwise separable layer and its cost, against PyTorch and the papers.

Oracles: ``torch.nn.functional.channel_shuffle`` and ``torch.nn.ChannelShuffle``; the
permutation written out from its definition (Zhang et al. 2018); ``torch.nn.Conv2d`` (depthwise
then pointwise) with the same weights, and its parameter count; PyTorch's FLOP counter; the
closed form and the "8 to 9 times" of Howard et al. (2017), section 3.1.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import convref.nn
from convref import functional, reference
from convref.arith import (
    Cost,
    conv_cost,
    depthwise_separable_cost,
    depthwise_separable_ratio,
)
from harness import (
    Case,
    Operator,
    assert_both_refuse,
    bad_calls,
    case_id,
    refusal,
    versions,
)

# ---------------------------------------------------------------------------
# channel_shuffle
# ---------------------------------------------------------------------------


def shuffle_case(shape: tuple[int, int, int, int], groups: int) -> Case:
    """``channel_shuffle(x, groups)`` with ``x`` of ``shape``."""
    return Case(f"{shape}-groups{groups}", {"x": shape}, dict(groups=groups))


SHUFFLE_CASES = [
    shuffle_case((2, 6, 3, 4), 2),
    shuffle_case((2, 6, 3, 4), 3),
    shuffle_case((1, 12, 2, 2), 4),
    shuffle_case((1, 12, 5, 1), 6),
    shuffle_case((3, 8, 1, 1), 2),
    shuffle_case((2, 5, 3, 3), 1),  # one group: nothing moves
    shuffle_case((2, 5, 3, 3), 5),  # one channel per group: nothing moves either
    shuffle_case((0, 6, 2, 2), 3),  # empty batch
    shuffle_case((1, 240, 2, 2), 3),  # ShuffleNet's stage 2 with g = 3
]

#: Both versions, against PyTorch's own channel shuffle (a permutation: compared exactly).
CHANNEL_SHUFFLE = Operator(versions("channel_shuffle"), oracle=F.channel_shuffle)


def analytic_shuffle_index(channels: int, groups: int) -> list[int]:
    """``source[p]``: the input channel that lands at position ``p``.

    From the definition: channel ``g * (C / G) + i`` (the ``i``-th of group ``g``) goes to ``i * G + g``.
    """
    per_group = channels // groups
    source = [-1] * channels
    for g in range(groups):
        for i in range(per_group):
            source[i * groups + g] = g * per_group + i
    assert sorted(source) == list(range(channels))
    return source


def _random(shape, seed=0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("case", SHUFFLE_CASES, ids=case_id)
def test_channel_shuffle_matches_torch(case):
    (x,), groups = case.tensors(), case.options["groups"]
    torch.testing.assert_close(
        F.channel_shuffle(x, groups), nn.ChannelShuffle(groups)(x), rtol=0, atol=0
    )
    CHANNEL_SHUFFLE.check(
        case, rtol=0, atol=0
    )  # each version, in float64, of x's shape


@pytest.mark.parametrize("case", SHUFFLE_CASES, ids=case_id)
def test_channel_shuffle_is_the_analytic_permutation(case):
    shape, groups = case.shape("x"), case.options["groups"]
    (x,) = case.arrays(seed=1)
    source = analytic_shuffle_index(shape[1], groups)
    expected = x[:, source]
    np.testing.assert_array_equal(reference.channel_shuffle(x, groups), expected)
    np.testing.assert_array_equal(
        functional.channel_shuffle(torch.from_numpy(x), groups).numpy(), expected
    )
    if groups in (1, shape[1]):  # the identity-like cases
        np.testing.assert_array_equal(reference.channel_shuffle(x, groups), x)


def test_channel_shuffle_example_from_the_definition():
    """Six channels a0 a1 | b0 b1 | c0 c1 in three groups come out a0 b0 c0 a1 b1 c1."""
    x = np.arange(6, dtype=np.float64).reshape(1, 6, 1, 1)
    assert reference.channel_shuffle(x, 3).ravel().tolist() == [0, 2, 4, 1, 3, 5]
    assert functional.channel_shuffle(torch.from_numpy(x), 3).flatten().tolist() == [
        0,
        2,
        4,
        1,
        3,
        5,
    ]
    # and with two groups a0 a1 a2 | b0 b1 b2 -> a0 b0 a1 b1 a2 b2
    assert reference.channel_shuffle(x, 2).ravel().tolist() == [0, 3, 1, 4, 2, 5]


@settings(max_examples=40, deadline=None)
@given(
    groups=st.integers(1, 6),
    per_group=st.integers(1, 6),
    batch=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_shuffle_twice_with_groups_then_c_over_groups_is_identity(
    groups, per_group, batch, seed
):
    """Shuffling is transposing a G x (C/G) matrix of channels; transposing back is a shuffle with C/G groups."""
    channels = groups * per_group
    x = _random((batch, channels, 2, 3), seed)
    np.testing.assert_array_equal(
        reference.channel_shuffle(reference.channel_shuffle(x, groups), per_group), x
    )
    t = torch.from_numpy(x)
    torch.testing.assert_close(
        functional.channel_shuffle(functional.channel_shuffle(t, groups), per_group),
        t,
        rtol=0,
        atol=0,
    )
    # and each shuffle is torch's
    torch.testing.assert_close(
        functional.channel_shuffle(t, groups),
        F.channel_shuffle(t, groups),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("layout", ["transposed", "sliced", "channels_last"])
def test_channel_shuffle_non_contiguous(layout):
    base = _random((2, 12, 5, 4), seed=2)
    t = torch.from_numpy(base)
    if layout == "transposed":
        view_t = t.transpose(2, 3)
        view_np = base.transpose(0, 1, 3, 2)
    elif layout == "sliced":
        view_t = t[:, ::2, 1:, ::2]
        view_np = base[:, ::2, 1:, ::2]
    else:
        view_t = t.contiguous(memory_format=torch.channels_last)
        view_np = view_t.numpy()  # the same strides as a NumPy view
    assert not view_t.is_contiguous()
    expected = F.channel_shuffle(view_t.contiguous(), 3)
    torch.testing.assert_close(
        functional.channel_shuffle(view_t, 3), expected, rtol=0, atol=0
    )
    np.testing.assert_array_equal(
        reference.channel_shuffle(view_np, 3), expected.numpy()
    )


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str
)
def test_functional_channel_shuffle_dtypes(dtype):
    x = torch.from_numpy(_random((2, 8, 3, 3), seed=3)).to(dtype)
    y = functional.channel_shuffle(x, 4)
    assert y.dtype == dtype
    torch.testing.assert_close(
        y, F.channel_shuffle(x, 4), rtol=0, atol=0
    )  # a permutation is exact


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_reference_channel_shuffle_keeps_dtype(dtype):
    x = _random((2, 6, 2, 3), seed=4, dtype=dtype)
    y = reference.channel_shuffle(x, 2)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, F.channel_shuffle(torch.from_numpy(x), 2).numpy())


@pytest.mark.parametrize(
    "shape, groups", [((2, 6, 3, 4), 3), ((1, 12, 2, 2), 4), ((2, 4, 2, 2), 1)], ids=str
)
def test_channel_shuffle_gradient_is_the_inverse_permutation(shape, groups):
    x_ours = torch.from_numpy(_random(shape, seed=5)).requires_grad_()
    x_theirs = x_ours.detach().clone().requires_grad_()
    grad_out = torch.from_numpy(_random(shape, seed=6))
    functional.channel_shuffle(x_ours, groups).backward(grad_out)
    F.channel_shuffle(x_theirs, groups).backward(grad_out)
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=0, atol=0)
    # analytically: input channel source[p] received output channel p
    source = analytic_shuffle_index(shape[1], groups)
    inverse = [source.index(c) for c in range(shape[1])]
    torch.testing.assert_close(x_ours.grad, grad_out[:, inverse], rtol=0, atol=0)
    assert torch.autograd.gradcheck(
        lambda x: functional.channel_shuffle(x, groups),
        (x_ours.detach().requires_grad_(),),
    )


def test_channel_shuffle_layer_matches_torch_layer():
    x = torch.from_numpy(_random((2, 12, 3, 3), seed=7))
    for groups in (1, 2, 3, 4, 6, 12):
        ours, theirs = convref.nn.ChannelShuffle(groups), nn.ChannelShuffle(groups)
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
        assert ours.extra_repr() == theirs.extra_repr() == f"groups={groups}"
        assert list(ours.parameters()) == []


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


SHUFFLE_BAD_CALLS = [
    (
        "groups does not divide C",
        dict(groups=4),
        ValueError,
        r"^groups must divide the channels: x has 6 channels, groups=4$",
    ),
    (
        "groups larger than C",
        dict(groups=12),
        ValueError,
        r"^groups must divide the channels: x has 6 channels, groups=12$",
    ),
    ("groups 0", dict(groups=0), ValueError, r"^groups must be >= 1, got 0$"),
    ("groups negative", dict(groups=-3), ValueError, r"^groups must be >= 1, got -3$"),
    ("groups float", dict(groups=2.0), TypeError, r"^groups must be an int, got 2\.0$"),
    ("groups bool", dict(groups=True), TypeError, r"^groups must be an int, got True$"),
    (
        "x 3-D",
        dict(x=_f32(6, 3, 3)),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\), got shape \(6, 3, 3\)$",
    ),
    (
        "x 5-D",
        dict(x=_f32(1, 6, 1, 3, 3)),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\), got shape \(1, 6, 1, 3, 3\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((1, 6, 2, 2), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(SHUFFLE_BAD_CALLS))
def test_channel_shuffle_bad_calls(overrides, exception, pattern):
    messages = assert_both_refuse(
        "channel_shuffle",
        {"x": _f32(2, 6, 3, 3), "groups": 3, **overrides},
        exception,
        pattern,
    )
    message = messages["reference.channel_shuffle"]
    if (
        "divide" not in message and "groups" in overrides
    ):  # the layer refuses a bad value of groups itself
        assert (
            refusal(
                convref.nn.ChannelShuffle, dict(groups=overrides["groups"]), exception
            )
            == message
        )


def test_channel_shuffle_wrong_type():
    assert (
        refusal(reference.channel_shuffle, dict(x=[[[[1.0]]]], groups=1), TypeError)
        == "x must be a numpy.ndarray, got list"
    )
    assert refusal(
        functional.channel_shuffle, dict(x=np.zeros((1, 2, 1, 1)), groups=1), TypeError
    ) == ("x must be a torch.Tensor, got numpy.ndarray")
    assert refusal(
        reference.channel_shuffle, dict(x=torch.zeros(1, 2, 1, 1), groups=1), TypeError
    ) == ("x must be a numpy.ndarray, got torch.Tensor")


def test_channel_shuffle_layer_refuses_groups_that_do_not_divide():
    with pytest.raises(
        ValueError,
        match=r"^groups must divide the channels: x has 6 channels, groups=4$",
    ):
        convref.nn.ChannelShuffle(4)(torch.zeros(1, 6, 2, 2))


# ---------------------------------------------------------------------------
# DepthwiseSeparableConv2d against torch.nn.Conv2d (depthwise, then pointwise)
# ---------------------------------------------------------------------------


def torch_depthwise_separable(
    in_channels,
    out_channels,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    depth_multiplier=1,
    bias=True,
    batch_norm=False,
    activation=None,
) -> nn.Sequential:
    middle = in_channels * depth_multiplier
    layers = [
        nn.Conv2d(
            in_channels,
            middle,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            bias=False,
        )
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(middle))
    if activation is not None:
        layers.append(activation)
    layers.append(nn.Conv2d(middle, out_channels, 1, bias=bias))
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    if activation is not None:
        layers.append(activation)
    return nn.Sequential(*layers)


def copy_into_torch(
    ours: convref.nn.DepthwiseSeparableConv2d, theirs: nn.Sequential
) -> None:
    """Copy our parameters into torch's modules, stage by stage (BatchNorm parameters too, perturbed)."""
    convs = [m for m in theirs if isinstance(m, nn.Conv2d)]
    norms = [m for m in theirs if isinstance(m, nn.BatchNorm2d)]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mine, other in zip((ours.depthwise, ours.pointwise), convs):
            assert mine.weight.shape == other.weight.shape
            other.weight.copy_(mine.weight)
            assert (mine.bias is None) == (other.bias is None)
            if other.bias is not None:
                other.bias.copy_(mine.bias)
        for mine, other in zip((ours.depthwise_norm, ours.pointwise_norm), norms):
            mine.weight.copy_(
                1
                + 0.1
                * torch.randn(
                    mine.weight.shape, generator=generator, dtype=mine.weight.dtype
                )
            )
            mine.bias.copy_(
                0.1
                * torch.randn(
                    mine.bias.shape, generator=generator, dtype=mine.bias.dtype
                )
            )
            other.load_state_dict(mine.state_dict())


LAYER_CASES = [
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1, bias=False),
    dict(
        in_channels=4,
        out_channels=6,
        kernel_size=3,
        stride=2,
        padding=1,
        depth_multiplier=2,
    ),
    dict(
        in_channels=2,
        out_channels=3,
        kernel_size=(3, 2),
        stride=(1, 2),
        padding=(2, 0),
        dilation=(2, 1),
    ),
    dict(
        in_channels=3, out_channels=4, kernel_size=4, padding="same", depth_multiplier=2
    ),
    dict(
        in_channels=4,
        out_channels=4,
        kernel_size=(5, 3),
        padding="valid",
        dilation=(1, 3),
        bias=False,
    ),
    dict(
        in_channels=3,
        out_channels=8,
        kernel_size=3,
        padding=1,
        batch_norm=True,
        bias=False,
    ),
    dict(
        in_channels=3,
        out_channels=4,
        kernel_size=3,
        stride=2,
        padding=1,
        batch_norm=True,
        activation="relu",
    ),
    dict(
        in_channels=2,
        out_channels=6,
        kernel_size=3,
        padding=1,
        depth_multiplier=2,
        activation="relu6",
    ),
    dict(
        in_channels=4,
        out_channels=4,
        kernel_size=3,
        padding="same",
        depth_multiplier=2,
        batch_norm=True,
        activation="relu",
    ),
]

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def _make(kwargs):
    kwargs = dict(kwargs)
    name = kwargs.pop("activation", None)
    activation = None if name is None else ACTIVATIONS[name]()
    torch.manual_seed(0)
    ours = convref.nn.DepthwiseSeparableConv2d(**kwargs, activation=activation).double()
    theirs = torch_depthwise_separable(
        **kwargs, activation=None if name is None else ACTIVATIONS[name]()
    ).double()
    copy_into_torch(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=str)
def test_depthwise_separable_layer_matches_torch(kwargs):
    ours, theirs = _make(kwargs)
    x = torch.from_numpy(_random((2, kwargs["in_channels"], 9, 8), seed=8))
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, y_theirs = (
        ours(x_ours),
        theirs(x_theirs),
    )  # training mode: BatchNorm uses the batch's statistics
    assert y_ours.shape == y_theirs.shape
    torch.testing.assert_close(y_ours, y_theirs, rtol=1e-10, atol=1e-10)
    grad = torch.from_numpy(_random(tuple(y_theirs.shape), seed=9))
    y_ours.backward(grad)
    y_theirs.backward(grad)
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=1e-10, atol=1e-10)
    ours_params = dict(ours.named_parameters())
    convs = [m for m in theirs if isinstance(m, nn.Conv2d)]
    for stage, conv in zip(("depthwise", "pointwise"), convs):
        torch.testing.assert_close(
            ours_params[f"{stage}.weight"].grad,
            conv.weight.grad,
            rtol=1e-10,
            atol=1e-10,
        )
        if conv.bias is not None:
            torch.testing.assert_close(
                ours_params[f"{stage}.bias"].grad,
                conv.bias.grad,
                rtol=1e-10,
                atol=1e-10,
            )
    if kwargs.get(
        "batch_norm"
    ):  # the running statistics moved the same way; evaluation mode agrees too
        norms = [m for m in theirs if isinstance(m, nn.BatchNorm2d)]
        for mine, other in zip((ours.depthwise_norm, ours.pointwise_norm), norms):
            torch.testing.assert_close(
                mine.running_mean, other.running_mean, rtol=1e-10, atol=1e-10
            )
            torch.testing.assert_close(
                mine.running_var, other.running_var, rtol=1e-10, atol=1e-10
            )
        ours.eval()
        theirs.eval()
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-10)


def test_depthwise_stage_is_depthwise():
    """Every middle channel sees one input channel only: the input gradient of one middle channel is one channel."""
    layer = convref.nn.DepthwiseSeparableConv2d(
        4, 3, 3, padding=1, depth_multiplier=2
    ).double()
    x = torch.from_numpy(_random((1, 4, 6, 6), seed=10)).requires_grad_()
    middle = layer.depthwise(x)
    assert middle.shape[1] == 8
    for channel in range(8):
        (grad,) = torch.autograd.grad(middle[:, channel].sum(), x, retain_graph=True)
        touched = [c for c in range(4) if grad[0, c].abs().sum() > 0]
        assert (
            touched == [channel // 2]
        )  # torch's rule: output channel j of a depthwise conv reads input j // multiplier


def _torch_param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=str)
def test_depthwise_separable_parameter_count(kwargs):
    ours, theirs = _make(kwargs)
    middle = kwargs["in_channels"] * kwargs.get("depth_multiplier", 1)
    cost = depthwise_separable_cost(
        kwargs["in_channels"],
        kwargs["out_channels"],
        kwargs["kernel_size"],
        1,
        depth_multiplier=kwargs.get("depth_multiplier", 1),
        bias=kwargs.get("bias", True),
    )
    norm_params = (
        2 * (middle + kwargs["out_channels"]) if kwargs.get("batch_norm") else 0
    )  # a scale and a shift per channel
    assert (
        _torch_param_count(ours)
        == _torch_param_count(theirs)
        == cost.params + norm_params
    )


LAYER_BAD_ARGS = [
    (
        dict(in_channels=0, out_channels=4, kernel_size=3),
        ValueError,
        r"^in_channels must be >= 1, got 0$",
    ),
    (
        dict(in_channels=2.0, out_channels=4, kernel_size=3),
        TypeError,
        r"^in_channels must be an int, got 2\.0$",
    ),
    (
        dict(in_channels=2, out_channels=0, kernel_size=3),
        ValueError,
        r"^out_channels must be >= 1, got 0$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, depth_multiplier=0),
        ValueError,
        r"^depth_multiplier must be >= 1, got 0$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, depth_multiplier=1.5),
        TypeError,
        r"^depth_multiplier must be an int, got 1\.5$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=0),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, stride=0),
        ValueError,
        r"^stride must be >= 1, got 0$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, dilation=(1, 0)),
        ValueError,
        r"^dilation must be >= 1, got \(1, 0\)$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, padding="full"),
        ValueError,
        r"'valid' or 'same', got 'full'$",
    ),
    (
        dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding="same"),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
]


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    LAYER_BAD_ARGS,
    ids=[str(row[0]) for row in LAYER_BAD_ARGS],
)
def test_depthwise_separable_layer_bad_args(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        convref.nn.DepthwiseSeparableConv2d(**kwargs)


def test_depthwise_separable_layer_bad_input():
    layer = convref.nn.DepthwiseSeparableConv2d(3, 4, 3)
    with pytest.raises(
        ValueError,
        match=r"^DepthwiseSeparableConv2d: x must have 3 channels, the layer's input"
        r" channels, got shape \(1, 4, 5, 5\)$",
    ):
        layer(torch.zeros(1, 4, 5, 5))
    with pytest.raises(
        ValueError,
        match=r"^conv2d: x is too small: padded height 2 is less than the dilated kernel height 3$",
    ):
        layer(torch.zeros(1, 3, 2, 5))


# ---------------------------------------------------------------------------
# depthwise_separable_cost and depthwise_separable_ratio
# ---------------------------------------------------------------------------


def torch_mult_adds(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds PyTorch's FLOP counter finds in ``module(x)`` (2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        module(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


COST_CASES = [
    # (in, out, kernel, stride, padding, depth multiplier, bias, input size)
    (32, 64, 3, 1, 1, 1, False, (112, 112)),  # MobileNet's first separable block
    (512, 512, 3, 1, 1, 1, False, (14, 14)),
    (3, 5, 3, 2, 1, 1, True, (11, 9)),
    (4, 6, (3, 5), 1, (1, 2), 2, True, (10, 8)),
    (8, 16, 5, 2, 0, 3, False, (15, 16)),
    (6, 6, 1, 1, 0, 1, True, (4, 4)),
]


@pytest.mark.parametrize(
    "c_in, c_out, kernel, stride, padding, multiplier, bias, size", COST_CASES
)
def test_depthwise_separable_cost_matches_torch(
    c_in, c_out, kernel, stride, padding, multiplier, bias, size
):
    module = torch_depthwise_separable(
        c_in, c_out, kernel, stride, padding, depth_multiplier=multiplier, bias=bias
    )
    module = module.to("meta")
    x = torch.zeros(1, c_in, *size, device="meta")
    out_size = tuple(module(x).shape[-2:])
    cost = depthwise_separable_cost(
        c_in, c_out, kernel, out_size, depth_multiplier=multiplier, bias=bias
    )
    assert cost.params == _torch_param_count(module)
    assert cost.mult_adds == torch_mult_adds(module, x)
    # and by hand: M D_K^2 D_F^2 + M N D_F^2 (Howard et al. 2017, eq. 5), M counting the multiplier
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    m, positions = c_in * multiplier, out_size[0] * out_size[1]
    assert cost.mult_adds == m * kh * kw * positions + m * c_out * positions


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 2048),
    kernel=st.integers(1, 11),
    m=st.integers(1, 64),
    size=st.integers(1, 64),
)
def test_ratio_is_cost_ratio_and_closed_form(n, kernel, m, size):
    separable = depthwise_separable_cost(m, n, kernel, size)
    full = conv_cost(m, n, kernel, size)
    exact = Fraction(separable.mult_adds, full.mult_adds)
    assert exact == Fraction(1, n) + Fraction(1, kernel**2)  # independent of M and D_F
    ratio = depthwise_separable_ratio(n, kernel)
    assert math.isclose(ratio, float(exact), rel_tol=1e-15)
    assert math.isclose(ratio, 1 / n + 1 / kernel**2, rel_tol=1e-15)


@pytest.mark.parametrize("kernel", [(3, 5), (1, 7), (2, 2)])
def test_ratio_non_square_kernel(kernel):
    kh, kw = kernel
    for n in (8, 100):
        exact = Fraction(
            depthwise_separable_cost(16, n, kernel, 7).mult_adds,
            conv_cost(16, n, kernel, 7).mult_adds,
        )
        assert exact == Fraction(1, n) + Fraction(1, kh * kw)
        assert math.isclose(
            depthwise_separable_ratio(n, kernel), float(exact), rel_tol=1e-15
        )


def test_ratio_against_torch_flop_counter():
    """Ratio of the FLOPs PyTorch counts in the two modules, for MobileNet's channel counts."""
    x = torch.zeros(1, 32, 14, 14, device="meta")
    for n in (64, 128, 256, 512, 1024):
        separable = torch_depthwise_separable(32, n, 3, padding=1, bias=False).to(
            "meta"
        )
        full = nn.Conv2d(32, n, 3, padding=1, bias=False).to("meta")
        counted = Fraction(torch_mult_adds(separable, x), torch_mult_adds(full, x))
        assert counted == Fraction(1, n) + Fraction(1, 9)
        assert math.isclose(
            depthwise_separable_ratio(n, 3), float(counted), rel_tol=1e-15
        )


def test_mobilenet_8_to_9_times_less_computation():
    """Howard et al. (2017), section 3.1: with 3x3 kernels, "8 to 9 times less computation".

    1 / ratio = 9N / (N + 9) lies in [8, 9) from N = 72 on: every pointwise width of MobileNet but
    the first block's 64, where it is 576 / 73 = 7.89 (that block holds 4% of the separable layers' mult-adds).
    """
    for n in (128, 256, 512, 1024):
        speedup = 1 / depthwise_separable_ratio(n, 3)
        assert 8 <= speedup < 9, (n, speedup)
        assert math.isclose(speedup, 9 * n / (n + 9), rel_tol=1e-15)
    assert math.isclose(1 / depthwise_separable_ratio(64, 3), 576 / 73, rel_tol=1e-15)
    assert 1 / depthwise_separable_ratio(72, 3) == pytest.approx(8.0, rel=1e-15)
    assert 1 / depthwise_separable_ratio(71, 3) < 8
    # it tends to 9 (= D_K^2) as N grows, never reaching it
    assert 8.99 < 1 / depthwise_separable_ratio(10**4, 3) < 9
    # The paper's whole networks (Table 4): 4866M mult-adds for the full-conv MobileNet, 569M separable
    assert 8 <= 4866 / 569 < 9


COST_BAD_ARGS = [
    (
        lambda: depthwise_separable_cost(0, 4, 3, 5),
        ValueError,
        r"^in_channels must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_cost(4.0, 4, 3, 5),
        TypeError,
        r"^in_channels must be an int, got 4\.0$",
    ),
    (
        lambda: depthwise_separable_cost(4, 0, 3, 5),
        ValueError,
        r"^out_channels must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_cost(4, 4, 0, 5),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_cost(4, 4, 3, (5, 0)),
        ValueError,
        r"^output_size must be >= 1, got \(5, 0\)$",
    ),
    (
        lambda: depthwise_separable_cost(4, 4, 3, 5, depth_multiplier=0),
        ValueError,
        r"^depth_multiplier must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_cost(4, 4, 3, 5, depth_multiplier=True),
        TypeError,
        r"^depth_multiplier must be an int, got True$",
    ),
    (
        lambda: depthwise_separable_cost(4, 4, 3, 5, bias=1),
        TypeError,
        r"^bias must be a bool, got 1$",
    ),
    (
        lambda: depthwise_separable_ratio(0, 3),
        ValueError,
        r"^out_channels must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_ratio(2.5, 3),
        TypeError,
        r"^out_channels must be an int, got 2\.5$",
    ),
    (
        lambda: depthwise_separable_ratio(4, 0),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (
        lambda: depthwise_separable_ratio(4, (3, 3, 3)),
        TypeError,
        r"^kernel_size must be an int or a pair of ints",
    ),
]


@pytest.mark.parametrize("call, exception, pattern", COST_BAD_ARGS)
def test_cost_bad_arguments(call, exception, pattern):
    with pytest.raises(exception, match=pattern):
        call()


def test_cost_adds_to_its_stages():
    """The cost is the sum of a depthwise conv_cost and a pointwise one (PyTorch counts each module above)."""
    cost = depthwise_separable_cost(8, 16, 3, 10, depth_multiplier=2, bias=True)
    assert cost == Cost(
        params=16 * 9 + 16 * 16 + 16, mult_adds=(16 * 9 + 16 * 16) * 100
    )
