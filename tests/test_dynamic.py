"""dynamic_conv2d (CondConv, DY-CNN) in NumPy and PyTorch, and the dynamic layers (CondConv2d, DynamicConv2d, SelectiveKernel2d).

Oracles, none of them convref:

- PyTorch's ``conv2d`` called once per sample with the mixed kernel computed here, and the
  same mixture of ``K`` separate static convolutions (convolution is linear in its kernel);
- with one kernel, or the same attention for every sample, PyTorch's static ``conv2d``;
- ``gradcheck`` with respect to the input, the kernels, the attention and the biases;
- the layers' routing written out here with ``torch.nn.functional`` (pooling, linear, softmax
  or sigmoid), PyTorch's FLOP counter for the cost formula, and SKNet's equations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, functional, reference
from convref.nn import (
    CondConv2d,
    DynamicConv2d,
    SelectiveKernel2d,
    temperature_schedule,
)
from harness import assert_both_refuse, bad_calls, run_both, to_torch

RTOL, ATOL = 1e-10, 1e-10


def per_sample_conv(x, weights, attention, bias=None, **kwargs) -> np.ndarray:
    """``F.conv2d`` once per sample, with ``sum_k a[n, k] W_k`` mixed here by einsum."""
    xt, wt, at = (torch.from_numpy(a) for a in (x, weights, attention))
    mixed = torch.einsum("nk,koihw->noihw", at, wt)
    biases = (
        None if bias is None else torch.einsum("nk,ko->no", at, torch.from_numpy(bias))
    )
    return torch.cat(
        [
            F.conv2d(
                xt[n : n + 1], mixed[n], None if biases is None else biases[n], **kwargs
            )
            for n in range(len(x))
        ]
    ).numpy()


def mixture_of_static_convs(x, weights, attention, bias=None, **kwargs) -> np.ndarray:
    """``sum_k a[n, k] (W_k * x[n] + b_k)``: K ordinary convolutions of the whole batch, then the mixture."""
    outputs = [
        F.conv2d(
            torch.from_numpy(x),
            torch.from_numpy(weights[k]),
            None if bias is None else torch.from_numpy(bias[k]),
            **kwargs,
        ).numpy()
        for k in range(weights.shape[0])
    ]
    return np.einsum("nk,knohw->nohw", attention, np.stack(outputs))


def _case(rng, n=3, c=4, o=6, k=(3, 3), kernels=4, groups=1, h=7, w=6, bias=True):
    x = rng.standard_normal((n, c, h, w))
    weights = rng.standard_normal((kernels, o, c // groups, *k))
    attention = rng.dirichlet(np.ones(kernels), size=n)
    return x, weights, attention, rng.standard_normal((kernels, o)) if bias else None


GEOMETRIES = [
    (dict(), dict(padding=1)),
    (dict(groups=2), dict(stride=2, padding=(0, 1), groups=2)),
    (dict(k=(3, 2)), dict(dilation=(2, 1), padding=(2, 0))),
    (dict(groups=4, o=4, bias=False), dict(groups=4, padding=1)),
    (dict(kernels=1), dict()),
    (dict(n=1, c=1, o=1, k=(1, 1)), dict()),
]


@pytest.mark.parametrize("case, kwargs", GEOMETRIES)
def test_matches_a_per_sample_conv2d_and_a_mixture_of_static_convs(rng, case, kwargs):
    x, weights, attention, bias = _case(rng, **case)
    expected = per_sample_conv(x, weights, attention, bias, **kwargs)
    np.testing.assert_allclose(
        mixture_of_static_convs(x, weights, attention, bias, **kwargs),
        expected,
        rtol=1e-9,
        atol=1e-9,
    )
    for name, y in run_both(
        "dynamic_conv2d", x, weights, attention, bias, **kwargs
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("k", [(2, 2), (3, 4)])
def test_same_padding_with_even_kernels(rng, k):
    x, weights, attention, bias = _case(rng, k=k)
    kh, kw = k
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (0, 0), (top, kh - 1 - top), (left, kw - 1 - left)))
    expected = per_sample_conv(padded, weights, attention, bias)
    for name, y in run_both(
        "dynamic_conv2d", x, weights, attention, bias, padding="same"
    ).items():
        assert y.shape == (3, 6, 7, 6), name
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


def test_one_kernel_or_shared_attention_is_a_static_convolution(rng):
    x, weights, _, bias = _case(rng, kernels=1)
    static = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(weights[0]),
        torch.from_numpy(bias[0]),
        padding=1,
    ).numpy()
    for y in run_both(
        "dynamic_conv2d", x, weights, np.ones((3, 1)), bias, padding=1
    ).values():
        np.testing.assert_allclose(y, static, rtol=RTOL, atol=ATOL)
    x, weights, _, bias = _case(rng, kernels=3)
    shared = np.array([0.2, 0.5, 0.3])
    static = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(np.tensordot(shared, weights, 1)),
        torch.from_numpy(shared @ bias),
    ).numpy()
    for y in run_both(
        "dynamic_conv2d", x, weights, np.tile(shared, (3, 1)), bias
    ).values():
        np.testing.assert_allclose(y, static, rtol=RTOL, atol=ATOL)


def test_samples_do_not_see_each_others_kernels(rng):
    """A one-hot attention picks one kernel per sample: sample n is conv2d with kernel k(n)."""
    x, weights, _, bias = _case(rng, n=4, kernels=3)
    choice = [2, 0, 1, 2]
    attention = np.eye(3)[choice]
    for y in run_both("dynamic_conv2d", x, weights, attention, bias).values():
        for n, k in enumerate(choice):
            expected = F.conv2d(
                torch.from_numpy(x[n : n + 1]),
                torch.from_numpy(weights[k]),
                torch.from_numpy(bias[k]),
            )
            np.testing.assert_allclose(
                y[n : n + 1], expected.numpy(), rtol=RTOL, atol=ATOL
            )


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    groups=st.sampled_from([1, 2]),
    kernels=st.integers(1, 5),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    stride=st.integers(1, 2),
    dilation=st.integers(1, 2),
)
def test_reference_and_pytorch_agree_on_drawn_shapes(
    data, groups, kernels, kh, kw, stride, dilation
):
    padding = data.draw(st.integers(0, 2))
    c, o = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    h = data.draw(st.integers(max(1, dilation * (kh - 1) + 1 - 2 * padding), 8))
    w = data.draw(st.integers(max(1, dilation * (kw - 1) + 1 - 2 * padding), 8))
    n = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x, weights, attention, bias = _case(
        rng, n=n, c=c, o=o, k=(kh, kw), kernels=kernels, groups=groups, h=h, w=w
    )
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = per_sample_conv(x, weights, attention, bias, **kwargs)
    for name, y in run_both(
        "dynamic_conv2d", x, weights, attention, bias, **kwargs
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


def test_gradcheck_every_input(rng):
    x, weights, attention, bias = (
        torch.from_numpy(a).requires_grad_()
        for a in _case(rng, n=2, c=4, o=4, k=(3, 2), kernels=3, groups=2, h=5, w=4)
    )

    def op(x, weights, attention, bias):
        return functional.dynamic_conv2d(
            x, weights, attention, bias, stride=(1, 2), padding=1, groups=2
        )

    assert torch.autograd.gradcheck(op, (x, weights, attention, bias))


def test_empty_batch_non_contiguous_and_dtypes(rng):
    x, weights, attention, bias = _case(rng)
    empty = dict(dtype=torch.float64)
    y = functional.dynamic_conv2d(
        torch.zeros(0, 4, 7, 6, **empty),
        torch.from_numpy(weights),
        torch.zeros(0, 4, **empty),
        torch.from_numpy(bias),
        padding=1,
    )
    assert y.shape == (0, 6, 7, 6)
    assert reference.dynamic_conv2d(
        np.zeros((0, 4, 7, 6)), weights, np.zeros((0, 4)), bias, padding=1
    ).shape == (0, 6, 7, 6)
    x_nc = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(
        2, 3
    )
    a_nc = torch.from_numpy(np.ascontiguousarray(attention.T)).T
    assert not (x_nc.is_contiguous() or a_nc.is_contiguous())
    expected = per_sample_conv(x, weights, attention, bias, padding=1)
    got = functional.dynamic_conv2d(
        x_nc, torch.from_numpy(weights), a_nc, torch.from_numpy(bias), padding=1
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=RTOL, atol=ATOL)
    for dtype, tolerance in ((torch.float32, 1e-5), (torch.bfloat16, 5e-2)):
        got = functional.dynamic_conv2d(
            *(torch.from_numpy(a).to(dtype) for a in (x, weights, attention, bias)),
            padding=1,
        )
        assert got.dtype == dtype
        np.testing.assert_allclose(
            got.double().numpy(),
            expected,
            rtol=tolerance,
            atol=tolerance * np.abs(expected).max(),
        )
    assert (
        reference.dynamic_conv2d(
            *(a.astype(np.float32) for a in (x, weights, attention, bias))
        ).dtype
        == np.float32
    )


# ---------------------------------------------------------------------------
# Bad calls: both versions refuse them with the same message
# ---------------------------------------------------------------------------


def _f32(*shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    return dict(
        x=_f32(2, 4, 5, 5),
        weights=_f32(3, 6, 2, 3, 3),
        attention=_f32(2, 3),
        bias=_f32(3, 6),
        stride=1,
        padding=0,
        dilation=1,
        groups=2,
    )


BAD_CALLS = [
    (
        "weights 4-D",
        dict(weights=_f32(6, 2, 3, 3)),
        ValueError,
        r"^weights must be 5-D with shape \(K, C_out, C_in / groups, kh, kw\), got shape \(6, 2, 3, 3\)$",
    ),
    (
        "no kernels",
        dict(weights=_f32(0, 6, 2, 3, 3), attention=_f32(2, 0), bias=None),
        ValueError,
        r"^weights must hold at least one kernel \(K >= 1\), got shape \(0, 6, 2, 3, 3\)$",
    ),
    (
        "weights channels",
        dict(weights=_f32(3, 6, 4, 3, 3)),
        ValueError,
        r"^weights\[k\].shape\[1\] must be C_in / groups = 4 / 2 = 2, got weights\[k\] of shape \(6, 4, 3, 3\)$",
    ),
    (
        "weights other dtype",
        dict(weights=np.zeros((3, 6, 2, 3, 3))),
        TypeError,
        r"^weights\[k\] must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "attention wrong K",
        dict(attention=_f32(2, 4)),
        ValueError,
        r"^attention must have shape \(2, 3\) \(one weight per sample and kernel\), got shape \(2, 4\)$",
    ),
    (
        "attention wrong batch",
        dict(attention=_f32(1, 3)),
        ValueError,
        r"^attention must have shape \(2, 3\) \(one weight per sample and kernel\), got shape \(1, 3\)$",
    ),
    (
        "attention 1-D",
        dict(attention=_f32(3)),
        ValueError,
        r"^attention must be 2-D with shape \(N, K\), got shape \(3,\)$",
    ),
    (
        "attention other dtype",
        dict(attention=np.zeros((2, 3))),
        TypeError,
        r"^attention must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "attention integer",
        dict(attention=np.zeros((2, 3), dtype=np.int64)),
        TypeError,
        r"^attention must have a floating dtype, got int64$",
    ),
    (
        "bias 1-D",
        dict(bias=_f32(6)),
        ValueError,
        r"^bias must be 2-D with shape \(K, C_out\), got shape \(6,\)$",
    ),
    (
        "bias wrong shape",
        dict(bias=_f32(3, 4)),
        ValueError,
        r"^bias must have shape \(3, 6\), got shape \(3, 4\)$",
    ),
    (
        "groups do not divide",
        dict(groups=3),
        ValueError,
        r"^groups must divide the input channels: x has 4 channels, groups=3$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(4, 5, 5)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 5, 5\)$",
    ),
    (
        "kernel larger than the input",
        dict(weights=_f32(3, 6, 2, 7, 3)),
        ValueError,
        r"^dynamic_conv2d: x is too small: padded height 5 is less than the dilated kernel height 7$",
    ),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse("dynamic_conv2d", {**_base(), **overrides}, exception, pattern)


def test_bad_call_base_is_valid():
    for y in (
        reference.dynamic_conv2d(**_base()),
        functional.dynamic_conv2d(**to_torch(_base())).numpy(),
    ):
        assert y.shape == (2, 6, 3, 3) and not y.any()


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


def test_dynamic_layer_attention_is_a_tempered_softmax_of_the_pooled_input():
    torch.manual_seed(0)
    layer = DynamicConv2d(
        8, 6, 3, padding=1, num_kernels=5, reduction=2, temperature=7.0
    ).double()
    x = torch.randn(3, 8, 9, 9, dtype=torch.float64)
    pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)
    hidden = F.relu(F.linear(pooled, layer.squeeze.weight, layer.squeeze.bias))
    logits = F.linear(hidden, layer.excite.weight, layer.excite.bias)
    expected = torch.exp(logits / 7.0) / torch.exp(logits / 7.0).sum(1, keepdim=True)
    attention = layer.attention(x)
    torch.testing.assert_close(attention, expected)
    assert layer.squeeze.out_features == 4 and layer.excite.out_features == 5
    torch.testing.assert_close(attention.sum(1), torch.ones(3, dtype=torch.float64))
    y = layer(x)
    np.testing.assert_allclose(
        y.detach().numpy(),
        per_sample_conv(
            x.numpy(),
            layer.weight.detach().numpy(),
            attention.detach().numpy(),
            layer.bias.detach().numpy(),
            padding=1,
        ),
        rtol=1e-10,
        atol=1e-10,
    )


def test_high_temperature_makes_the_attention_uniform():
    torch.manual_seed(1)
    layer = DynamicConv2d(4, 4, 3, num_kernels=4, temperature=1.0)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        layer.excite.weight.mul_(50)  # large logits
        cold = layer.attention(x)
        layer.temperature = 1e6
        hot = layer.attention(x)
    assert cold.max() > 0.5
    torch.testing.assert_close(hot, torch.full((2, 4), 0.25), atol=1e-4, rtol=0)


def test_single_kernel_dynamic_layer_is_a_static_convolution():
    torch.manual_seed(2)
    layer = DynamicConv2d(4, 6, 3, stride=2, padding=1, groups=2, num_kernels=1)
    x = torch.randn(3, 4, 8, 8)
    expected = F.conv2d(
        x, layer.weight[0], layer.bias[0], stride=2, padding=1, groups=2
    )
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_kernels_start_as_independent_pytorch_draws():
    torch.manual_seed(3)
    layer = CondConv2d(64, 64, 3, num_kernels=3)
    bound = 1 / math.sqrt(64 * 9)  # kaiming-uniform with a = sqrt(5)
    for k in range(3):
        weight = layer.weight[k].detach()
        assert weight.abs().max() <= bound and weight.std().item() == pytest.approx(
            bound / math.sqrt(3), rel=0.03
        )
    assert not torch.allclose(layer.weight[0], layer.weight[1])


def test_condconv_routing_is_an_independent_sigmoid_per_expert():
    torch.manual_seed(4)
    layer = CondConv2d(6, 4, 3, padding=1, num_kernels=3).double()
    x = torch.randn(2, 6, 5, 5, dtype=torch.float64)
    expected = 1 / (
        1 + torch.exp(-(x.mean((2, 3)) @ layer.routing.weight.T + layer.routing.bias))
    )
    attention = layer.attention(x)
    torch.testing.assert_close(attention, expected)
    assert ((attention > 0) & (attention < 1)).all()
    np.testing.assert_allclose(
        layer(x).detach().numpy(),
        mixture_of_static_convs(
            x.numpy(),
            layer.weight.detach().numpy(),
            attention.detach().numpy(),
            layer.bias.detach().numpy(),
            padding=1,
        ),
        rtol=1e-10,
        atol=1e-10,
    )


def test_dynamic_layers_learn_their_routing():
    torch.manual_seed(5)
    for layer in (DynamicConv2d(3, 4, 3, temperature=1.0), CondConv2d(3, 4, 3)):
        layer(torch.randn(2, 3, 6, 6)).square().sum().backward()
        routing = [
            p
            for name, p in layer.named_parameters()
            if name != "weight" and name != "bias"
        ]
        assert routing and all(
            p.grad is not None and p.grad.abs().sum() > 0 for p in routing
        )
        assert layer.weight.grad.shape == layer.weight.shape


def test_temperature_schedule_is_dy_cnns():
    assert [temperature_schedule(e) for e in (0, 2.5, 5, 10, 40)] == [
        30.0,
        22.75,
        15.5,
        1.0,
        1.0,
    ]
    assert temperature_schedule(1, start=5, end=1, epochs=4) == 4.0
    with pytest.raises(ValueError, match=r"^epoch must be a number >= 0, got -1$"):
        temperature_schedule(-1)
    with pytest.raises(
        ValueError, match=r"^epochs must be a positive finite number, got 0$"
    ):
        temperature_schedule(1, epochs=0)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: DynamicConv2d(4, 4, 3, temperature=0),
            ValueError,
            r"^temperature must be a positive finite number, got 0$",
        ),
        (
            lambda: DynamicConv2d(4, 4, 3, temperature="hot"),
            TypeError,
            r"^temperature must be a number, got str$",
        ),
        (
            lambda: DynamicConv2d(4, 4, 3, num_kernels=0),
            ValueError,
            r"^num_kernels must be >= 1, got 0$",
        ),
        (
            lambda: DynamicConv2d(4, 4, 3, reduction=0),
            ValueError,
            r"^reduction must be >= 1, got 0$",
        ),
        (lambda: CondConv2d(4, 6, 3, groups=4), ValueError, r"groups"),
        (
            lambda: CondConv2d(4, 6, 3, bias=1),
            TypeError,
            r"^bias must be a bool, got 1$",
        ),
        (
            lambda: CondConv2d(4, 6, 3, padding="full"),
            ValueError,
            r"^padding must be an int, a pair of ints, 'valid' or 'same'",
        ),
        (
            lambda: SelectiveKernel2d(4, 4, dilations=(1,)),
            ValueError,
            r"^dilations must be a sequence of at least two ints, got \(1,\)$",
        ),
        (
            lambda: SelectiveKernel2d(4, 4, dilations=(1, 0)),
            ValueError,
            r"^dilations must be >= 1, got 0$",
        ),
        (
            lambda: SelectiveKernel2d(4, 4, reduction=0),
            ValueError,
            r"^reduction must be >= 1, got 0$",
        ),
    ],
)
def test_layers_reject_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_selective_kernel_follows_sknets_equations():
    torch.manual_seed(6)
    layer = (
        SelectiveKernel2d(
            4, 8, stride=2, dilations=(1, 2, 3), reduction=2, min_hidden=5
        )
        .double()
        .eval()
    )
    x = torch.randn(3, 4, 11, 11, dtype=torch.float64)
    branches = []
    for branch, d in zip(layer.branches, (1, 2, 3)):
        conv, norm = branch[0], branch[1]
        u = F.conv2d(x, conv.weight, stride=2, padding=d, dilation=d)
        branches.append(
            F.relu(
                F.batch_norm(
                    u, norm.running_mean, norm.running_var, norm.weight, norm.bias
                )
            )
        )
    s = sum(branches).mean((2, 3))
    fc, bn = layer.squeeze[0], layer.squeeze[1]
    z = F.relu(
        F.batch_norm(
            s @ fc.weight.T, bn.running_mean, bn.running_var, bn.weight, bn.bias
        )
    )
    logits = (z @ layer.select.weight.T + layer.select.bias).reshape(3, 3, 8)
    weights = torch.softmax(logits, dim=1)
    expected = sum(weights[:, m, :, None, None] * branches[m] for m in range(3))
    y, attention = layer.forward_with_attention(x)
    assert layer.squeeze[0].out_features == 5  # max(8 / 2, 5)
    torch.testing.assert_close(attention, weights)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(attention.sum(1), torch.ones(3, 8, dtype=torch.float64))
    assert y.shape == (3, 8, 6, 6)


def test_selective_kernel_with_a_silent_selector_averages_the_branches():
    torch.manual_seed(7)
    layer = SelectiveKernel2d(3, 4).eval()
    with torch.no_grad():
        layer.select.weight.zero_()
        layer.select.bias.zero_()
    x = torch.randn(2, 3, 8, 8)
    y, attention = layer.forward_with_attention(x)
    torch.testing.assert_close(attention, torch.full((2, 2, 4), 0.5))
    torch.testing.assert_close(y, (layer.branches[0](x) + layer.branches[1](x)) / 2)


# ---------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, hidden",
    [
        (lambda: DynamicConv2d(16, 8, 3, padding=1, num_kernels=4), 4),
        (lambda: CondConv2d(16, 8, 3, padding=1, groups=2, num_kernels=3), None),
    ],
)
def test_cost_formula_matches_the_layer_and_the_flop_counter(make, hidden):
    layer = make()
    cost = arith.dynamic_conv_cost(
        16, 8, 3, 10, layer.num_kernels, groups=layer.groups, hidden=hidden
    )
    assert cost["total"].params == sum(p.numel() for p in layer.parameters())
    with FlopCounterMode(display=False) as counter:
        layer(torch.randn(2, 16, 10, 10))
    # the counter sees the attention's linear layers, the mixing matmuls and the grouped convolution
    assert counter.get_total_flops() == 2 * 2 * cost["total"].mult_adds


def test_cost_by_hand():
    cost = arith.dynamic_conv_cost(2, 3, 1, 4, num_kernels=2, bias=False)
    assert cost["conv"] == arith.Cost(params=12, mult_adds=6 * 16)
    assert cost["attention"] == arith.Cost(params=2 * 2 + 2, mult_adds=4)
    assert cost["aggregation"] == arith.Cost(params=0, mult_adds=12)
    assert cost["total"] == arith.Cost(params=18, mult_adds=96 + 4 + 12)


@pytest.mark.cuda
@pytest.mark.parametrize(
    "dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-4)]
)
def test_cuda_matches_the_reference(dtype, tolerance):
    rng = np.random.default_rng(0)
    x, weights, attention, bias = _case(
        rng, n=5, c=8, o=8, groups=2, kernels=4, h=9, w=9
    )
    expected = reference.dynamic_conv2d(
        x, weights, attention, bias, stride=2, padding=1, groups=2
    )
    tensors = [
        torch.from_numpy(a).to("cuda", dtype).requires_grad_()
        for a in (x, weights, attention, bias)
    ]
    y = functional.dynamic_conv2d(*tensors, stride=2, padding=1, groups=2)
    assert y.device.type == "cuda"
    np.testing.assert_allclose(
        y.detach().cpu().double().numpy(), expected, rtol=tolerance, atol=tolerance * 10
    )
    y.sum().backward()
    cpu = [torch.from_numpy(a).requires_grad_() for a in (x, weights, attention, bias)]
    functional.dynamic_conv2d(*cpu, stride=2, padding=1, groups=2).sum().backward()
    for got, want in zip(tensors, cpu):
        np.testing.assert_allclose(
            got.grad.cpu().double().numpy(),
            want.grad.numpy(),
            rtol=tolerance,
            atol=tolerance * 10,
        )


def test_model_cost_counts_dynamic_layers_as_the_flop_counter_does():
    from convref import experiments

    torch.manual_seed(8)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        DynamicConv2d(4, 8, 3, stride=2, padding=1, num_kernels=3, temperature=1.0),
        CondConv2d(8, 8, 1, num_kernels=2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 5),
    ).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 10, 10))
    assert (
        experiments.model_cost(model, (1, 10, 10))["mult_adds"]
        == counter.get_total_flops() // 2
    )
