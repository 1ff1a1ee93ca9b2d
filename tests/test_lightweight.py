"""Lightweight and dynamic convolution (Wu et al. 2019): reference, PyTorch, layers.

Oracles, none of them convref:

- the equations written out here as explicit loops over samples, channels, steps
  and taps;
- PyTorch's own depthwise ``F.conv1d`` (``groups=C``) on a per-channel weight built
  here with ``repeat_interleave``, its causal case from a convolution padded on both
  sides and cut to the first ``T`` outputs;
- an analytic identity: DynamicConv with the same kernel at every step is LightConv;
- causality: a change of the input at ``t0`` changes no output before ``t0``;
- ``gradcheck`` with respect to the input and the kernels, PyTorch's FLOP counter
  for the layers' costs, and the layers' kernel predictor written out with
  ``einsum``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from harness import assert_both_refuse, bad_calls, run_both, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, functional, reference
from convref.nn import DynamicLightweightConv1d, LightweightConv1d

RTOL, ATOL = 1e-10, 1e-10
PADDINGS = ["same", "causal"]


def np_softmax(values: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(values)
    return e / e.sum(axis=axis, keepdims=True)


def left_zeros(padding: str, k: int) -> int:
    return k - 1 if padding == "causal" else (k - 1) // 2


def loop_lightweight(x, weight, padding, softmax) -> np.ndarray:
    """``y[n, c, t] = sum_j w[h(c), j] x[n, c, t + j - left]``, product by product."""
    n_, c_, t_ = x.shape
    heads, k = weight.shape
    w = np_softmax(weight, 1) if softmax else weight
    left, per_head = left_zeros(padding, k), c_ // heads
    y = np.zeros_like(x)
    for n in range(n_):
        for c in range(c_):
            for t in range(t_):
                for j in range(k):
                    s = t + j - left
                    if 0 <= s < t_:
                        y[n, c, t] += w[c // per_head, j] * x[n, c, s]
    return y


def loop_dynamic(x, kernels, padding, softmax) -> np.ndarray:
    """``y[n, c, t] = sum_j k[n, h(c), j, t] x[n, c, t + j - left]``, one by one."""
    n_, c_, t_ = x.shape
    _, heads, k, _ = kernels.shape
    kk = np_softmax(kernels, 2) if softmax else kernels
    left, per_head = left_zeros(padding, k), c_ // heads
    y = np.zeros_like(x)
    for n in range(n_):
        for c in range(c_):
            for t in range(t_):
                for j in range(k):
                    s = t + j - left
                    if 0 <= s < t_:
                        y[n, c, t] += kk[n, c // per_head, j, t] * x[n, c, s]
    return y


def torch_depthwise(x, weight, padding, softmax) -> torch.Tensor:
    """PyTorch's ``conv1d``, ``groups=C``, each head's kernel repeated per channel."""
    c, (heads, k) = x.shape[1], weight.shape
    w = torch.softmax(weight, 1) if softmax else weight
    per_channel = torch.repeat_interleave(w, c // heads, dim=0).unsqueeze(1)
    if (
        padding == "same"
    ):  # PyTorch's "same": the extra zero of an even kernel on the right
        return F.conv1d(x, per_channel, padding="same", groups=c)
    full = F.conv1d(x, per_channel, padding=k - 1, groups=c)
    return full[..., : x.shape[2]]  # output t sees inputs t - K + 1 ... t


# (N, C, T, H, K): odd and even kernels, one and several heads, kernels longer than T
SHAPES = [
    (2, 4, 7, 2, 3),
    (1, 6, 5, 3, 4),
    (3, 2, 6, 1, 1),
    (2, 4, 3, 4, 5),
    (1, 3, 8, 3, 2),
]


def _draw(rng, n, c, t, h, k):
    return (
        rng.standard_normal((n, c, t)),
        rng.standard_normal((h, k)),
        rng.standard_normal((n, h, k, t)),
    )


# ---------------------------------------------------------------------------
# The reference against the loops, the PyTorch version against the reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reference_matches_the_loops(rng, shape, padding, softmax):
    x, weight, kernels = _draw(rng, *shape)
    np.testing.assert_allclose(
        reference.lightweight_conv1d(x, weight, padding, softmax),
        loop_lightweight(x, weight, padding, softmax),
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(
        reference.dynamic_lightweight_conv1d(x, kernels, padding, softmax),
        loop_dynamic(x, kernels, padding, softmax),
        rtol=RTOL,
        atol=ATOL,
    )


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    heads=st.integers(1, 3),
    per_head=st.integers(1, 3),
    t=st.integers(1, 9),
    k=st.integers(1, 6),
    padding=st.sampled_from(PADDINGS),
    softmax=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pytorch_matches_the_reference_on_drawn_shapes(
    n, heads, per_head, t, k, padding, softmax, seed
):
    x, weight, kernels = _draw(
        np.random.default_rng(seed), n, heads * per_head, t, heads, k
    )
    light = run_both("lightweight_conv1d", x, weight, padding, softmax)
    dynamic = run_both("dynamic_lightweight_conv1d", x, kernels, padding, softmax)
    for results in (light, dynamic):
        np.testing.assert_allclose(
            results["functional"], results["reference"], rtol=RTOL, atol=ATOL
        )
        assert results["functional"].shape == x.shape


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lightconv_is_pytorchs_depthwise_conv1d(rng, shape, padding, softmax):
    x, weight, _ = _draw(rng, *shape)
    expected = torch_depthwise(
        torch.from_numpy(x), torch.from_numpy(weight), padding, softmax
    ).numpy()
    for name, y in run_both("lightweight_conv1d", x, weight, padding, softmax).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dynamic_with_constant_kernels_is_lightconv(rng, shape, padding, softmax):
    x, weight, _ = _draw(rng, *shape)
    n, t = x.shape[0], x.shape[2]
    constant = np.ascontiguousarray(
        np.broadcast_to(weight[None, :, :, None], (n, *weight.shape, t))
    )
    expected = torch_depthwise(
        torch.from_numpy(x), torch.from_numpy(weight), padding, softmax
    ).numpy()
    for name, y in run_both(
        "dynamic_lightweight_conv1d", x, constant, padding, softmax
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_causal_outputs_do_not_see_the_future(rng, k):
    x, weight, kernels = _draw(rng, 2, 4, 9, 2, k)
    t0 = 5
    changed = x.copy()
    changed[:, :, t0] += 10.0
    for op, kernel in (
        ("lightweight_conv1d", weight),
        ("dynamic_lightweight_conv1d", kernels),
    ):
        before = run_both(op, x, kernel, "causal")
        after = run_both(op, changed, kernel, "causal")
        for front in before:
            np.testing.assert_array_equal(
                after[front][..., :t0], before[front][..., :t0], err_msg=op
            )
            assert np.abs(after[front][..., t0] - before[front][..., t0]).min() > 0


def test_same_padding_sees_k_minus_1_over_2_steps_back(rng):
    """ "same" with an even K: the window holds one more future step than past ones."""
    x, weight, _ = _draw(rng, 1, 2, 9, 1, 4)  # left 1, right 2
    t0 = 5
    changed = x.copy()
    changed[:, :, t0] += 10.0
    for y0, y1 in zip(
        run_both("lightweight_conv1d", x, weight).values(),
        run_both("lightweight_conv1d", changed, weight).values(),
    ):
        moved = np.flatnonzero(np.abs(y1 - y0).max(axis=(0, 1)) > 0)
        assert moved.tolist() == [t0 - 2, t0 - 1, t0, t0 + 1]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("softmax", [True, False])
def test_gradcheck(rng, padding, softmax):
    x, weight, kernels = (
        torch.from_numpy(a).requires_grad_() for a in _draw(rng, 2, 4, 6, 2, 4)
    )
    assert torch.autograd.gradcheck(
        lambda x, w: functional.lightweight_conv1d(x, w, padding, softmax),
        (x, weight),
    )
    assert torch.autograd.gradcheck(
        lambda x, k: functional.dynamic_lightweight_conv1d(x, k, padding, softmax),
        (x, kernels),
    )
    # DynamicConv's backward is a custom function: its own gradient must be right too
    # (a gradient penalty differentiates it)
    assert torch.autograd.gradgradcheck(
        lambda x, k: functional.dynamic_lightweight_conv1d(x, k, padding, softmax),
        (x, kernels),
    )


def test_empty_batch_non_contiguous_inputs_and_dtypes(rng):
    x, weight, kernels = _draw(rng, 5, 4, 7, 2, 3)
    assert functional.lightweight_conv1d(
        torch.zeros(0, 4, 7, dtype=torch.float64), torch.from_numpy(weight)
    ).shape == (0, 4, 7)
    assert functional.dynamic_lightweight_conv1d(
        torch.zeros(0, 4, 7, dtype=torch.float64),
        torch.zeros(0, 2, 3, 7, dtype=torch.float64),
    ).shape == (0, 4, 7)
    assert reference.lightweight_conv1d(np.zeros((0, 4, 7)), weight).shape == (
        0,
        4,
        7,
    )
    expected_light = loop_lightweight(x, weight, "same", True)
    expected_dynamic = loop_dynamic(x, kernels, "causal", True)
    # strided views of wider tensors
    x_nc = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))).transpose(1, 2)
    k_nc = torch.from_numpy(np.ascontiguousarray(kernels.transpose(0, 1, 3, 2)))
    k_nc = k_nc.transpose(2, 3)
    assert not (x_nc.is_contiguous() or k_nc.is_contiguous())
    np.testing.assert_allclose(
        functional.lightweight_conv1d(x_nc, torch.from_numpy(weight)).numpy(),
        expected_light,
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(
        functional.dynamic_lightweight_conv1d(x_nc, k_nc, "causal").numpy(),
        expected_dynamic,
        rtol=RTOL,
        atol=ATOL,
    )
    for dtype, tolerance in (
        (torch.float32, 1e-5),
        (torch.float16, 1e-2),
        (torch.bfloat16, 5e-2),
    ):
        light = functional.lightweight_conv1d(
            *(torch.from_numpy(a).to(dtype) for a in (x, weight))
        )
        dynamic = functional.dynamic_lightweight_conv1d(
            *(torch.from_numpy(a).to(dtype) for a in (x, kernels)), "causal"
        )
        for got, expected in ((light, expected_light), (dynamic, expected_dynamic)):
            assert got.dtype == dtype
            np.testing.assert_allclose(
                got.double().numpy(),
                expected,
                rtol=tolerance,
                atol=tolerance * np.abs(expected).max(),
            )
    x32, w32, k32 = (a.astype(np.float32) for a in (x, weight, kernels))
    assert reference.lightweight_conv1d(x32, w32).dtype == np.float32
    assert reference.dynamic_lightweight_conv1d(x32, k32).dtype == np.float32


# ---------------------------------------------------------------------------
# Bad calls: the reference, the PyTorch version and the layers refuse them alike
# ---------------------------------------------------------------------------


def _f32(*shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def _light_base() -> dict:
    return {
        "x": _f32(2, 4, 5),
        "weight": _f32(2, 3),
        "padding": "same",
        "softmax": True,
    }


def _dynamic_base() -> dict:
    return {
        "x": _f32(2, 4, 5),
        "kernels": _f32(2, 2, 3, 5),
        "padding": "same",
        "softmax": True,
    }


#: Rows that both operators share, with ``{kernel}`` for ``weight`` or ``kernels``.
COMMON_BAD_CALLS = [
    (
        "x 2-D",
        {"x": _f32(4, 5)},
        ValueError,
        r"^x must be 3-D with shape \(N, C, T\), got shape \(4, 5\)$",
    ),
    (
        "x integer",
        {"x": np.zeros((2, 4, 5), dtype=np.int64)},
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "x without time steps",
        {"x": _f32(2, 4, 0)},
        ValueError,
        r"^x must have at least one channel and one time step, got shape \(2, 4, 0\)$",
    ),
    (
        "padding valid",
        {"padding": "valid"},
        ValueError,
        r"^padding must be one of 'same', 'causal', got 'valid'$",
    ),
    (
        "padding int",
        {"padding": 1},
        ValueError,
        r"^padding must be one of 'same', 'causal', got 1$",
    ),
    (
        "softmax int",
        {"softmax": 1},
        TypeError,
        r"^softmax must be a bool, got 1$",
    ),
]

LIGHT_BAD_CALLS = [
    (
        "weight 3-D",
        {"weight": _f32(2, 1, 3)},
        ValueError,
        r"^weight must be 2-D with shape \(H, K\), got shape \(2, 1, 3\)$",
    ),
    (
        "weight float64",
        {"weight": np.zeros((2, 3))},
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "weight without taps",
        {"weight": _f32(2, 0)},
        ValueError,
        r"^weight must have at least one head and one tap, got shape \(2, 0\)$",
    ),
    (
        "heads do not divide channels",
        {"weight": _f32(3, 3)},
        ValueError,
        (
            r"^x\.shape\[1\] \(C\) = 4 must be divisible by weight\.shape\[0\] "
            r"\(H\) = 3, so that each head holds C / H channels$"
        ),
    ),
]

DYNAMIC_BAD_CALLS = [
    (
        "kernels 3-D",
        {"kernels": _f32(2, 2, 3)},
        ValueError,
        r"^kernels must be 4-D with shape \(N, H, K, T\), got shape \(2, 2, 3\)$",
    ),
    (
        "kernels float64",
        {"kernels": np.zeros((2, 2, 3, 5))},
        TypeError,
        r"^kernels must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "kernels without taps",
        {"kernels": _f32(2, 2, 0, 5)},
        ValueError,
        r"^kernels must have at least one head and one tap, got shape \(2, 2, 0, 5\)$",
    ),
    (
        "kernels for another batch",
        {"kernels": _f32(3, 2, 3, 5)},
        ValueError,
        (
            r"^kernels must have shape \(2, H, K, 5\) \(one kernel per sample and time "
            r"step of x\), got shape \(3, 2, 3, 5\)$"
        ),
    ),
    (
        "kernels for another length",
        {"kernels": _f32(2, 2, 3, 4)},
        ValueError,
        r"^kernels must have shape \(2, H, K, 5\) .*, got shape \(2, 2, 3, 4\)$",
    ),
    (
        "heads do not divide channels",
        {"kernels": _f32(2, 3, 3, 5)},
        ValueError,
        r"^x\.shape\[1\] \(C\) = 4 must be divisible by kernels\.shape\[1\] \(H\) = 3",
    ),
]


@pytest.mark.parametrize(
    "overrides, exception, pattern", bad_calls(COMMON_BAD_CALLS + LIGHT_BAD_CALLS)
)
def test_lightweight_bad_calls(overrides, exception, pattern):
    base = _light_base()
    assert_both_refuse("lightweight_conv1d", {**base, **overrides}, exception, pattern)


@pytest.mark.parametrize(
    "overrides, exception, pattern", bad_calls(COMMON_BAD_CALLS + DYNAMIC_BAD_CALLS)
)
def test_dynamic_bad_calls(overrides, exception, pattern):
    base = _dynamic_base()
    assert_both_refuse(
        "dynamic_lightweight_conv1d", {**base, **overrides}, exception, pattern
    )


def test_bad_call_bases_are_valid():
    for y in (
        reference.lightweight_conv1d(**_light_base()),
        functional.lightweight_conv1d(**to_torch(_light_base())).numpy(),
        reference.dynamic_lightweight_conv1d(**_dynamic_base()),
        functional.dynamic_lightweight_conv1d(**to_torch(_dynamic_base())).numpy(),
    ):
        assert y.shape == (2, 4, 5) and y.dtype == np.float32 and not y.any()


LAYERS = [LightweightConv1d, DynamicLightweightConv1d]

#: ``(constructor overrides of LayerClass(4, 3), exception, pattern)``.
LAYER_BAD_ARGUMENTS = [
    ({"channels": 0}, ValueError, r"^channels must be >= 1, got 0$"),
    ({"kernel_size": 2.0}, TypeError, r"^kernel_size must be an int, got 2\.0$"),
    ({"heads": 0}, ValueError, r"^heads must be >= 1, got 0$"),
    (
        {"heads": 3},
        ValueError,
        (
            r"^channels = 4 must be divisible by heads = 3, "
            r"so that each head holds C / H channels$"
        ),
    ),
    (
        {"padding": "valid"},
        ValueError,
        r"^padding must be one of 'same', 'causal', got 'valid'$",
    ),
    (
        {"weight_softmax": "yes"},
        TypeError,
        r"^weight_softmax must be a bool, got 'yes'$",
    ),
    (
        {"weight_dropout": 1.0},
        ValueError,
        r"^weight_dropout must be in \[0, 1\), got 1\.0$",
    ),
    ({"weight_dropout": -0.1}, ValueError, r"^weight_dropout must be in \[0, 1\)"),
    (
        {"weight_dropout": "0.1"},
        TypeError,
        r"^weight_dropout must be a number in \[0, 1\), got '0\.1'$",
    ),
    ({"bias": 1}, TypeError, r"^bias must be a bool, got 1$"),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("overrides, exception, pattern", LAYER_BAD_ARGUMENTS)
def test_layers_reject_bad_arguments(layer, overrides, exception, pattern):
    arguments = {"channels": 4, "kernel_size": 3, **overrides}
    with pytest.raises(exception, match=pattern) as info:
        layer(**arguments)
    assert type(info.value) is exception


@pytest.mark.parametrize("padding", ["valid", 1, None])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
def test_layers_and_operators_refuse_a_padding_with_one_message(layer, padding):
    messages = set()
    for operator, base in (
        ("lightweight_conv1d", _light_base()),
        ("dynamic_lightweight_conv1d", _dynamic_base()),
    ):
        messages |= set(
            assert_both_refuse(
                operator, {**base, "padding": padding}, ValueError, "^padding"
            ).values()
        )
    with pytest.raises(ValueError) as info:
        layer(4, 3, padding=padding)
    messages.add(str(info.value))
    assert len(messages) == 1, messages


@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
def test_layers_refuse_a_bad_input_with_their_name(layer):
    module = layer(4, 3, heads=2)
    with pytest.raises(
        ValueError,
        match=rf"^{layer.__name__}: x must be 3-D with shape \(N, C_in, L\), "
        r"got shape \(4, 5\)$",
    ):
        module(torch.zeros(4, 5))
    with pytest.raises(ValueError, match=rf"^{layer.__name__}: x must have 4 channels"):
        module(torch.zeros(1, 6, 5))


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("padding", PADDINGS)
def test_lightweight_layer_is_a_depthwise_conv1d_with_shared_kernels(padding):
    torch.manual_seed(0)
    layer = LightweightConv1d(6, 4, heads=3, padding=padding, bias=True).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(3, 6, 11, dtype=torch.float64)
    expected = torch_depthwise(x, layer.weight, padding, True) + layer.bias.view(
        1, -1, 1
    )
    y = layer(x)
    assert y.shape == (3, 6, 11)
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)
    y.square().sum().backward()
    assert layer.weight.grad.shape == (3, 4) and layer.bias.grad.shape == (6,)


def _predicted(layer: DynamicLightweightConv1d, x: torch.Tensor) -> torch.Tensor:
    """``W^Q x[n, :, t]`` for every sample and step, ``(N, H, K, T)`` (o = h K + j)."""
    logits = torch.einsum("oc,nct->not", layer.kernel_predictor.weight, x)
    return logits.reshape(x.shape[0], layer.heads, layer.kernel_size, x.shape[2])


@pytest.mark.parametrize("padding", PADDINGS)
def test_dynamic_layer_convolves_with_its_predicted_kernels(padding):
    torch.manual_seed(1)
    layer = DynamicLightweightConv1d(6, 4, heads=2, padding=padding, bias=True).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 6, 9, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 6, 9)
    expected = (
        loop_dynamic(x.numpy(), _predicted(layer, x).detach().numpy(), padding, True)
        + layer.bias.detach().numpy()[None, :, None]
    )
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(layer.kernels(x), _predicted(layer, x))
    y.square().sum().backward()
    assert layer.kernel_predictor.weight.grad.abs().sum() > 0


def test_dynamic_kernels_depend_on_the_current_step_only():
    torch.manual_seed(2)
    layer = DynamicLightweightConv1d(4, 3, heads=2).double()
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    for t0 in (0, 3, 7):
        changed = x.clone()
        changed[:, :, t0] += 1.0
        difference = (layer.kernels(changed) - layer.kernels(x)).abs().amax((0, 1, 2))
        assert difference[t0] > 0
        assert torch.count_nonzero(difference) == 1
    # and exactly: the Jacobian of step t's kernels has no entry outside x[:, :, t]
    jacobian = torch.autograd.functional.jacobian(layer.kernels, x[:1])
    # (1, H, K, T, 1, C, T): summed over everything but the two time axes
    mass = jacobian.abs().sum((0, 1, 2, 4, 5))
    assert torch.equal(mass != 0, torch.eye(8, dtype=torch.bool))


@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
def test_causal_layers_do_not_see_the_future(layer):
    torch.manual_seed(3)
    module = layer(4, 5, heads=2, padding="causal").double()
    x = torch.randn(2, 4, 10, dtype=torch.float64)
    changed = x.clone()
    changed[:, :, 6] -= 3.0
    with torch.no_grad():
        before, after = module(x), module(changed)
    torch.testing.assert_close(after[..., :6], before[..., :6], rtol=0, atol=0)
    assert (after[..., 6] - before[..., 6]).abs().min() > 0


def test_weight_dropout_drops_taps_in_training_only():
    """An impulse through a causal one-channel layer shows the kernel it used."""
    layer = LightweightConv1d(
        1, 5, padding="causal", weight_softmax=False, weight_dropout=0.5
    )
    with torch.no_grad():
        layer.weight.fill_(1.0)
    impulse = torch.zeros(1, 1, 5)
    impulse[0, 0, 0] = 1.0  # y[t] = w[K - 1 - t]
    layer.eval()
    for _ in range(3):
        torch.testing.assert_close(layer(impulse), torch.ones(1, 1, 5))
    layer.train()
    torch.manual_seed(4)
    seen = torch.cat([layer(impulse).detach().flatten() for _ in range(20)])
    assert set(seen.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled
    # the softmax comes first: the kept taps of a normalised kernel, times 1 / (1 - p)
    soft = LightweightConv1d(1, 5, padding="causal", weight_dropout=0.5).train()
    kernel_sums = {
        round(float(soft(torch.ones(1, 1, 9))[0, 0, -1].detach()), 6) for _ in range(30)
    }
    assert max(kernel_sums) > 1.0 and min(kernel_sums) < 1.0


def test_dynamic_weight_dropout_is_off_in_eval():
    torch.manual_seed(5)
    layer = DynamicLightweightConv1d(4, 3, heads=2, weight_dropout=0.3)
    plain = DynamicLightweightConv1d(4, 3, heads=2)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, 7)
    layer.eval()
    torch.testing.assert_close(layer(x), plain(x), rtol=0, atol=0)
    layer.train()
    assert not torch.equal(layer(x), plain(x))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
def test_layers_run_in_half_precision(layer, dtype):
    torch.manual_seed(6)
    module = layer(8, 4, heads=4, bias=True)
    x = torch.randn(2, 8, 12)
    with torch.no_grad():
        expected = module(x)
    half = module.to(dtype)
    y = half(x.to(dtype))
    assert y.dtype == dtype
    tolerance = 1e-2 if dtype == torch.float16 else 4e-2
    torch.testing.assert_close(
        y.float(), expected, rtol=0, atol=tolerance * float(expected.abs().max())
    )


def test_initialisation_is_xavier_uniform():
    torch.manual_seed(7)
    light = LightweightConv1d(64, 7, heads=16, bias=True)
    bound = math.sqrt(6 / (7 + 16 * 7))  # fans of a (H, 1, K) kernel
    assert light.weight.abs().max() <= bound
    assert light.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    assert not light.bias.any()
    dynamic = DynamicLightweightConv1d(64, 7, heads=16)
    bound = math.sqrt(6 / (64 + 16 * 7))
    weight = dynamic.kernel_predictor.weight
    assert weight.shape == (16 * 7, 64) and dynamic.kernel_predictor.bias is None
    assert weight.abs().max() <= bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_extra_repr():
    assert repr(LightweightConv1d(8, 4, heads=2, padding="causal")) == (
        "LightweightConv1d(8, kernel_size=4, heads=2, padding='causal', "
        "weight_softmax=True, weight_dropout=0.0, bias=False)"
    )
    text = repr(DynamicLightweightConv1d(8, 3, weight_dropout=0.1, bias=True))
    assert text.startswith(
        "DynamicLightweightConv1d(\n  8, kernel_size=3, heads=1, padding='same', "
        "weight_softmax=True, weight_dropout=0.1, bias=True"
    )
    assert (
        "(kernel_predictor): Linear(in_features=8, out_features=3, bias=False)" in text
    )


@pytest.mark.parametrize("layer", LAYERS, ids=lambda cls: cls.__name__)
def test_cost_matches_the_flop_counter(layer):
    """Multiply-adds of ``arith.count``: half of PyTorch's FLOP count.

    The FLOP counter knows convolutions and matrix products; DynamicConv's window
    products are neither, so they are counted here: ``C T K`` per sample.
    """
    torch.manual_seed(8)
    module = layer(8, 5, heads=2)
    x = torch.randn(3, 8, 11)
    counted = arith.count(module, x)
    assert not counted.uncounted
    with FlopCounterMode(display=False) as flops:
        module(x)
    products = flops.get_total_flops() // 2
    if layer is DynamicLightweightConv1d:  # the window products are no matmul or conv
        products += 3 * 8 * 11 * 5
    assert counted.mult_adds == products


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_cuda_matches_the_reference(rng, dtype):
    x, weight, kernels = _draw(rng, 3, 8, 33, 4, 5)
    tolerance = 1e-5 if dtype == torch.float32 else 5e-2
    for op, kernel, padding in (
        ("lightweight_conv1d", weight, "same"),
        ("dynamic_lightweight_conv1d", kernels, "causal"),
    ):
        expected = getattr(reference, op)(x, kernel, padding)
        got = getattr(functional, op)(
            torch.from_numpy(x).to("cuda", dtype),
            torch.from_numpy(kernel).to("cuda", dtype),
            padding,
        )
        assert got.device.type == "cuda" and got.dtype == dtype
        np.testing.assert_allclose(
            got.double().cpu().numpy(),
            expected,
            rtol=tolerance,
            atol=tolerance * np.abs(expected).max(),
        )
