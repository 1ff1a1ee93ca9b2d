"""Non-local block: NumPy reference, PyTorch version (no affinity matrix) and nn.NonLocal2d.

The oracle is written here from the paper's equations (Wang et al. 2018, eqs. 1-6) with plain
PyTorch ops: projections by ``einsum``, ``F.max_pool2d`` for sub-sampling, the four pairwise
functions and their normalisations spelled out, the full affinity matrix, and ``torch.softmax``.
The layer is checked against the same oracle with its own parameters and a BatchNorm in eval
mode, and against the paper's claim that it starts as the identity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convref import functional, reference
from convref import nn as cnn
from harness import assert_both_refuse, bad_calls, run_both, to_torch

MODES = ["gaussian", "embedded_gaussian", "dot_product", "concatenation"]
RTOL, ATOL = 1e-10, 1e-10


def oracle_response(
    x,
    theta_w,
    phi_w,
    g_w,
    mode,
    concat_w,
    sub_sample,
    scale,
    theta_b=None,
    phi_b=None,
    g_b=None,
):
    """y_i = 1/C(x) sum_j f(x_i, x_j) g(x_j), straight from the paper, with the full affinity."""
    n, c, h, w = x.shape
    keys_in = F.max_pool2d(x, 2) if sub_sample else x
    xi, xj = x.reshape(n, c, -1), keys_in.reshape(n, c, -1)

    def proj(weight, features, bias):
        out = torch.einsum("oc,ncp->nop", weight, features)
        return out if bias is None else out + bias[None, :, None]

    theta = xi if mode == "gaussian" else proj(theta_w, xi, theta_b)
    phi = xj if mode == "gaussian" else proj(phi_w, xj, phi_b)
    g = proj(g_w, xj, g_b)
    m = xj.shape[2]
    if mode == "concatenation":
        e = theta.shape[1]
        pairs = torch.cat(  # [theta_i, phi_j] for every pair, then w_f^T . and ReLU
            [
                theta[:, :, :, None].expand(-1, -1, -1, m),
                phi[:, :, None, :].expand(-1, -1, theta.shape[2], -1),
            ],
            dim=1,
        )
        f = torch.relu(torch.einsum("k,nkij->nij", concat_w, pairs))
        assert concat_w.shape[0] == 2 * e
        affinity = f / m
    else:
        dots = torch.einsum("nci,ncj->nij", theta, phi)
        if scale:
            dots = dots / theta.shape[1] ** 0.5
        affinity = (
            dots / m
            if mode == "dot_product"
            else torch.exp(dots) / torch.exp(dots).sum(-1, keepdim=True)
        )
    y = torch.einsum("nij,ncj->nci", affinity, g)
    return y.reshape(n, -1, h, w), affinity


def make_weights(mode, channels=5, embed=3, inter=4, seed=0, biases=True):
    rng = np.random.default_rng(seed)
    e = channels if mode == "gaussian" else embed
    weights = dict(
        theta_weight=None
        if mode == "gaussian"
        else rng.standard_normal((embed, channels)),
        phi_weight=None
        if mode == "gaussian"
        else rng.standard_normal((embed, channels)),
        g_weight=rng.standard_normal((inter, channels)),
        concat_weight=rng.standard_normal(2 * e) if mode == "concatenation" else None,
    )
    extra = {}
    if biases:
        extra = dict(
            theta_bias=None if mode == "gaussian" else rng.standard_normal(embed),
            phi_bias=None if mode == "gaussian" else rng.standard_normal(embed),
            g_bias=rng.standard_normal(inter),
        )
    return weights, extra


def _t(value):
    return None if value is None else torch.from_numpy(np.asarray(value))


def _options():
    for mode in MODES:
        for sub_sample in (False, True):
            for scale in (False, True):
                if mode == "concatenation" and scale:
                    continue
                yield mode, sub_sample, scale


OPTIONS = list(_options())


@pytest.mark.parametrize(
    "size", [(6, 7), (5, 4)]
)  # an odd size: the pooling drops the last row
@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_response_matches_oracle(mode, sub_sample, scale, size):
    x = np.random.default_rng(1).standard_normal((2, 5, *size))
    weights, biases = make_weights(mode)
    expected, _ = oracle_response(
        _t(x),
        _t(weights["theta_weight"]),
        _t(weights["phi_weight"]),
        _t(weights["g_weight"]),
        mode,
        _t(weights["concat_weight"]),
        sub_sample,
        scale,
        _t(biases["theta_bias"]),
        _t(biases["phi_bias"]),
        _t(biases["g_bias"]),
    )
    ys = run_both(
        "non_local_response",
        x,
        **weights,
        mode=mode,
        sub_sample=sub_sample,
        scale=scale,
        **biases,
    )
    for front, y in ys.items():
        assert y.shape == expected.shape == (2, 4, *size) and y.dtype == np.float64, (
            front
        )
        np.testing.assert_allclose(
            y, expected.numpy(), rtol=RTOL, atol=ATOL, err_msg=front
        )


@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_affinity_matches_oracle_and_rows_normalise(mode, sub_sample, scale):
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 6))
    weights, biases = make_weights(mode, seed=3)
    _, expected = oracle_response(
        _t(x),
        _t(weights["theta_weight"]),
        _t(weights["phi_weight"]),
        _t(weights["g_weight"]),
        mode,
        _t(weights["concat_weight"]),
        sub_sample,
        scale,
        _t(biases["theta_bias"]),
        _t(biases["phi_bias"]),
    )
    kwargs = dict(
        mode=mode,
        concat_weight=weights["concat_weight"],
        sub_sample=sub_sample,
        scale=scale,
        theta_bias=biases["theta_bias"],
        phi_bias=biases["phi_bias"],
    )
    affinities = run_both(
        "non_local_affinity",
        x,
        weights["theta_weight"],
        weights["phi_weight"],
        **kwargs,
    )
    for front, affinity in affinities.items():
        assert affinity.shape == expected.shape and affinity.dtype == np.float64, front
        np.testing.assert_allclose(
            affinity, expected.numpy(), rtol=RTOL, atol=ATOL, err_msg=front
        )
    if mode in (
        "gaussian",
        "embedded_gaussian",
    ):  # a softmax over j: every row sums to one
        np.testing.assert_allclose(affinities["reference"].sum(-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_implicit_path_equals_explicit_affinity_path(mode, sub_sample, scale):
    """What the PyTorch version computes without A equals A g with A built explicitly."""
    x = torch.randn(2, 5, 8, 6, dtype=torch.float64)
    weights, biases = make_weights(mode, seed=4)
    w = {k: _t(v) for k, v in weights.items()}
    b = {k: _t(v) for k, v in biases.items()}
    affinity = functional.non_local_affinity(
        x,
        w["theta_weight"],
        w["phi_weight"],
        mode,
        w["concat_weight"],
        sub_sample,
        scale,
        theta_bias=b["theta_bias"],
        phi_bias=b["phi_bias"],
    )
    keys_in = F.max_pool2d(x, 2) if sub_sample else x
    g = (
        torch.einsum("oc,ncp->nop", w["g_weight"], keys_in.flatten(2))
        + b["g_bias"][None, :, None]
    )
    explicit = torch.einsum("nij,ncj->nci", affinity, g).reshape(2, 4, 8, 6)
    implicit = functional.non_local_response(
        x, **w, mode=mode, sub_sample=sub_sample, scale=scale, **b
    )
    torch.testing.assert_close(implicit, explicit, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("sub_sample", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_gives_an_empty_output(mode, sub_sample):
    """N = 0 (the last, empty batch of a loader): both versions return (0, C, H, W)."""
    x = np.zeros((0, 5, 4, 6))
    weights, biases = make_weights(mode, seed=6)
    out_weight = np.random.default_rng(7).standard_normal((5, 4))
    zs = run_both(
        "non_local2d",
        x,
        **weights,
        out_weight=out_weight,
        mode=mode,
        sub_sample=sub_sample,
        **biases,
    )
    for front, z in zs.items():
        assert z.shape == x.shape and z.dtype == x.dtype, front


@pytest.mark.parametrize("mode", MODES)
def test_block_adds_the_residual(mode):
    x = np.random.default_rng(5).standard_normal((1, 5, 4, 5))
    weights, biases = make_weights(mode, seed=6)
    out_weight, out_bias = (
        np.random.default_rng(7).standard_normal((5, 4)),
        np.random.default_rng(8).standard_normal(5),
    )
    y, _ = oracle_response(
        _t(x),
        *(_t(weights[k]) for k in ("theta_weight", "phi_weight", "g_weight")),
        mode,
        _t(weights["concat_weight"]),
        False,
        False,
        *(_t(biases[k]) for k in ("theta_bias", "phi_bias", "g_bias")),
    )
    expected = (
        torch.einsum("oc,nchw->nohw", _t(out_weight), y)
        + _t(out_bias)[None, :, None, None]
        + _t(x)
    )
    zs = run_both(
        "non_local2d",
        x,
        **weights,
        out_weight=out_weight,
        mode=mode,
        out_bias=out_bias,
        **biases,
    )
    for front, z in zs.items():
        assert z.shape == expected.shape and z.dtype == np.float64, front
        np.testing.assert_allclose(
            z, expected.numpy(), rtol=RTOL, atol=ATOL, err_msg=front
        )
    # W_z = 0 makes the block the identity
    zero = reference.non_local2d(
        x, **weights, out_weight=np.zeros((5, 4)), mode=mode, **biases
    )
    np.testing.assert_array_equal(zero, x)


def test_embedded_gaussian_is_single_head_attention():
    """softmax(theta^T phi) g^T is attention with queries theta, keys phi and values g (one head, no scaling)."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 5, dtype=torch.float64)
    attention = torch.nn.MultiheadAttention(
        6, num_heads=1, bias=False, batch_first=True, dtype=torch.float64
    )
    wq, wk, wv = attention.in_proj_weight.detach().chunk(3)
    tokens = x.flatten(2).transpose(1, 2)  # (N, HW, C)
    expected, _ = attention(
        tokens, tokens, tokens, need_weights=False
    )  # = softmax(q k^T / sqrt(6)) v W_o^T
    y = (
        functional.non_local2d(
            x, wq, wk, wv, attention.out_proj.weight.detach(), scale=True
        )
        - x
    )
    torch.testing.assert_close(
        y.flatten(2).transpose(1, 2), expected.detach(), rtol=1e-10, atol=1e-10
    )


@st.composite
def concatenation_inputs(draw):
    n, m, c = draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 3))
    hw = draw(st.integers(1, 9))
    values = st.integers(-3, 3).map(
        float
    )  # small integers: ties, exact zeros of s_i + t_j, repeated t_j
    s = torch.tensor(
        draw(st.lists(values, min_size=n * hw, max_size=n * hw)), dtype=torch.float64
    ).view(n, hw)
    t = torch.tensor(
        draw(st.lists(values, min_size=n * m, max_size=n * m)), dtype=torch.float64
    ).view(n, m)
    g = torch.tensor(
        draw(st.lists(st.floats(-2, 2), min_size=n * m * c, max_size=n * m * c)),
        dtype=torch.float64,
    )
    return s, t, g.view(n, m, c)


@settings(max_examples=150, deadline=None)
@given(concatenation_inputs())
def test_concatenation_prefix_sums_equal_the_relu_sum(inputs):
    """The sorted prefix-sum evaluation is exact, including ties and pairs with s_i + t_j = 0."""
    from convref.functional.non_local import _concatenation_response

    s, t, g = inputs
    expected = (
        torch.einsum("nij,njc->nic", torch.relu(s[:, :, None] + t[:, None, :]), g)
        / t.shape[1]
    )
    torch.testing.assert_close(
        _concatenation_response(s, t, g), expected, rtol=1e-12, atol=1e-12
    )


# ---------------------------------------------------------------------------
# Gradients and dtypes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, sub_sample, scale",
    [o for o in OPTIONS if not o[2] or o[0] == "embedded_gaussian"],
)
def test_gradcheck(mode, sub_sample, scale):
    weights, biases = make_weights(mode, channels=3, embed=2, inter=2, seed=9)
    names = [k for k, v in {**weights, **biases}.items() if v is not None]
    tensors = {
        k: _t(v).requires_grad_()
        for k, v in {**weights, **biases}.items()
        if v is not None
    }
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    out_weight = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)

    def block(x, out_weight, *values):
        kwargs = {
            **{k: None for k in list(weights) + list(biases)},
            **dict(zip(names, values)),
        }
        return functional.non_local2d(
            x,
            out_weight=out_weight,
            mode=mode,
            sub_sample=sub_sample,
            scale=scale,
            **kwargs,
        )

    assert torch.autograd.gradcheck(
        block, (x, out_weight, *tensors.values()), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_functional_low_precision(mode, dtype):
    weights, biases = make_weights(mode, seed=10)
    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    expected = functional.non_local_response(
        x, **{k: _t(v) for k, v in {**weights, **biases}.items()}, mode=mode
    )
    y = functional.non_local_response(
        x.to(dtype),
        **{
            k: None if v is None else _t(v).to(dtype)
            for k, v in {**weights, **biases}.items()
        },
        mode=mode,
    )
    assert y.dtype == dtype
    tolerance = 1e-4 if dtype == torch.float32 else 0.1
    scale = expected.abs().max().item()
    assert (y.double() - expected).abs().max().item() <= tolerance * max(scale, 1.0)


def test_reference_keeps_float32():
    weights, _ = make_weights("embedded_gaussian", seed=11)
    x = np.random.default_rng(12).standard_normal((1, 5, 4, 4)).astype(np.float32)
    y = reference.non_local_response(
        x,
        **{k: None if v is None else v.astype(np.float32) for k, v in weights.items()},
    )
    assert y.dtype == np.float32


# ---------------------------------------------------------------------------
# nn.NonLocal2d
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bn", [True, False])
@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_layer_is_identity_at_initialisation(mode, sub_sample, scale, bn):
    torch.manual_seed(0)
    layer = cnn.NonLocal2d(6, mode=mode, sub_sample=sub_sample, scale=scale, bn=bn)
    x = torch.randn(2, 6, 6, 5)
    for train in (True, False):
        layer.train(train)
        torch.testing.assert_close(layer(x), x, rtol=0, atol=0)
    # and it is not a constant identity: the response itself is non-trivial
    assert layer.response(x).abs().max() > 0


@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_layer_matches_oracle_with_its_parameters(mode, sub_sample, scale):
    torch.manual_seed(1)
    layer = (
        cnn.NonLocal2d(
            6, inter_channels=3, mode=mode, sub_sample=sub_sample, scale=scale
        )
        .double()
        .eval()
    )
    with torch.no_grad():  # a trained-looking BatchNorm
        layer.bn.weight.uniform_(0.5, 1.5)
        layer.bn.bias.normal_()
        layer.bn.running_mean.normal_()
        layer.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 6, 6, 6, dtype=torch.float64)
    p = dict(layer.named_parameters())
    y, _ = oracle_response(
        x,
        p.get("theta_weight"),
        p.get("phi_weight"),
        p["g_weight"],
        mode,
        p.get("concat_weight"),
        sub_sample,
        scale,
        p.get("theta_bias"),
        p.get("phi_bias"),
        p["g_bias"],
    )
    wz = (
        torch.einsum("oc,nchw->nohw", p["out_weight"], y)
        + p["out_bias"][None, :, None, None]
    )
    bn = layer.bn
    expected = (wz - bn.running_mean[None, :, None, None]) / torch.sqrt(
        bn.running_var[None, :, None, None] + bn.eps
    )
    expected = (
        expected * bn.weight[None, :, None, None] + bn.bias[None, :, None, None] + x
    )
    torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)


def test_layer_parameter_count():
    c, ci = 64, 32
    layer = cnn.NonLocal2d(
        c
    )  # embedded Gaussian: theta, phi, g (C -> C_i) and W_z (C_i -> C), each with bias, + BN
    assert layer.inter_channels == ci
    assert (
        sum(p.numel() for p in layer.parameters())
        == 3 * (c * ci + ci) + (ci * c + c) + 2 * c
    )
    assert sum(
        p.numel() for p in cnn.NonLocal2d(c, mode="gaussian", bn=False).parameters()
    ) == (c * ci + ci) + (ci * c + c)


def test_layer_global_receptive_field():
    """One block: every input pixel reaches every output pixel (a 3x3 convolution reaches 9)."""
    torch.manual_seed(2)
    layer = cnn.NonLocal2d(4, bn=False, sub_sample=False).double()
    with torch.no_grad():
        layer.out_weight.normal_()
    x = torch.randn(1, 4, 9, 9, dtype=torch.float64, requires_grad=True)
    (layer(x) - x)[
        0, :, 0, 0
    ].sum().backward()  # the corner output, without the residual
    assert bool((x.grad.abs().sum(1) > 0).all())


LAYER_BAD_CALLS = [
    (dict(in_channels=0), ValueError, r"^in_channels must be >= 1, got 0$"),
    (dict(inter_channels=0), ValueError, r"^inter_channels must be >= 1, got 0$"),
    (
        dict(mode="softmax"),
        ValueError,
        r"^mode must be one of 'gaussian', 'embedded_gaussian', 'dot_product', 'concatenation', got 'softmax'$",
    ),
    (dict(sub_sample=1), TypeError, r"^sub_sample must be a bool, got 1$"),
    (
        dict(mode="concatenation", scale=True),
        ValueError,
        r"^scale=True applies to the dot-product modes",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", LAYER_BAD_CALLS)
def test_layer_bad_calls(overrides, exception, pattern):
    with pytest.raises(exception, match=pattern):
        cnn.NonLocal2d(**{**dict(in_channels=4), **overrides})


def test_layer_forward_checks_channels():
    with pytest.raises(
        ValueError,
        match=r"^NonLocal2d: x must have 4 channels, the layer's input channels,"
        r" got shape \(1, 3, 4, 4\)$",
    ):
        cnn.NonLocal2d(4)(torch.randn(1, 3, 4, 4))


# ---------------------------------------------------------------------------
# Bad calls: both versions, the same error and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    return dict(
        x=_f32(1, 5, 4, 4),
        theta_weight=_f32(3, 5),
        phi_weight=_f32(3, 5),
        g_weight=_f32(2, 5),
        out_weight=_f32(5, 2),
    )


BAD_CALLS = [
    (
        "unknown mode",
        dict(mode="cosine"),
        ValueError,
        r"^mode must be one of 'gaussian', .*got 'cosine'$",
    ),
    (
        "theta wrong input channels",
        dict(theta_weight=_f32(3, 4)),
        ValueError,
        r"^theta_weight must have shape \(3, 5\) \(C_e, C\), got shape \(3, 4\)$",
    ),
    (
        "phi not matching theta",
        dict(phi_weight=_f32(2, 5)),
        ValueError,
        r"^phi_weight must have shape \(3, 5\) \(C_e, C\), got shape \(2, 5\)$",
    ),
    (
        "g wrong input channels",
        dict(g_weight=_f32(2, 6)),
        ValueError,
        r"^g_weight must have shape \(2, 5\) \(C_i, C\), got shape \(2, 6\)$",
    ),
    (
        "out_weight wrong shape",
        dict(out_weight=_f32(5, 3)),
        ValueError,
        r"^out_weight must have shape \(5, 2\) \(C, C_i\), got shape \(5, 3\)$",
    ),
    (
        "theta 3-D",
        dict(theta_weight=_f32(3, 5, 1)),
        ValueError,
        r"^theta_weight must be 2-D with shape \(C_e, C\)",
    ),
    (
        "theta missing",
        dict(theta_weight=None),
        ValueError,
        r"^theta_weight and phi_weight are required in mode 'embedded_gaussian'$",
    ),
    (
        "theta in gaussian mode",
        dict(mode="gaussian"),
        ValueError,
        r"^theta_weight must be None in mode 'gaussian' \(it compares the raw features x\)$",
    ),
    (
        "concat_weight missing",
        dict(mode="concatenation"),
        ValueError,
        r"^concat_weight is required in mode 'concatenation'$",
    ),
    (
        "concat_weight wrong length",
        dict(mode="concatenation", concat_weight=_f32(5)),
        ValueError,
        r"^concat_weight must have shape \(6,\) \(2 C_e,\), got shape \(5,\)$",
    ),
    (
        "concat_weight in another mode",
        dict(concat_weight=_f32(6)),
        ValueError,
        r"^concat_weight must be None in mode 'embedded_gaussian'$",
    ),
    (
        "scale with concatenation",
        dict(mode="concatenation", concat_weight=_f32(6), scale=True),
        ValueError,
        r"^scale=True applies to the dot-product modes, not to mode 'concatenation'$",
    ),
    ("scale not a bool", dict(scale=1), TypeError, r"^scale must be a bool, got 1$"),
    (
        "x 3-D",
        dict(x=_f32(5, 4, 4)),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\), got shape \(5, 4, 4\)$",
    ),
    (
        "x integer",
        dict(x=np.zeros((1, 5, 4, 4), dtype=np.int32)),
        TypeError,
        r"^x must have a floating dtype, got int32$",
    ),
    (
        "weight other dtype",
        dict(g_weight=np.zeros((2, 5))),
        TypeError,
        r"^g_weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "sub_sample on one row",
        dict(x=_f32(1, 5, 1, 4), sub_sample=True),
        ValueError,
        r"^sub_sample=True needs x of at least 2x2 pixels, got shape \(1, 5, 1, 4\)$",
    ),
    (
        "g_bias wrong length",
        dict(g_bias=_f32(3)),
        ValueError,
        r"^g_bias must have shape \(2,\) \(C_i,\), got shape \(3,\)$",
    ),
    (
        "out_bias wrong length",
        dict(out_bias=_f32(2)),
        ValueError,
        r"^out_bias must have shape \(5,\) \(C,\), got shape \(2,\)$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse("non_local2d", {**_base(), **overrides}, exception, pattern)


def test_bad_call_base_is_valid():
    assert reference.non_local2d(**_base()).shape == (1, 5, 4, 4)
    assert functional.non_local2d(**to_torch(_base())).shape == (1, 5, 4, 4)


# ---------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("mode, sub_sample, scale", OPTIONS)
def test_functional_on_cuda_matches_oracle(mode, sub_sample, scale):
    weights, biases = make_weights(mode, seed=13)
    tensors = {
        k: None if v is None else _t(v).cuda() for k, v in {**weights, **biases}.items()
    }
    x = torch.randn(2, 5, 8, 8, dtype=torch.float64, device="cuda")
    y = functional.non_local_response(
        x, **tensors, mode=mode, sub_sample=sub_sample, scale=scale
    )
    expected, _ = oracle_response(
        x,
        tensors["theta_weight"],
        tensors["phi_weight"],
        tensors["g_weight"],
        mode,
        tensors["concat_weight"],
        sub_sample,
        scale,
        tensors["theta_bias"],
        tensors["phi_bias"],
        tensors["g_bias"],
    )
    assert y.device.type == "cuda"
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
