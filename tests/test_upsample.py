"""resize_conv2d (nearest-neighbour upsampling, then a stride-1 convolution) in NumPy and PyTorch.

Oracle, not convref: ``F.conv2d(F.interpolate(x, scale_factor=s, mode="nearest"), w, b, padding=p)``.
Also an analytic property: a constant input gives a constant output away from the borders
(no checkerboard), whatever the kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convref import functional, reference
from harness import Case, Operator, assert_both_refuse, bad_calls, to_torch, versions

RTOL, ATOL = 1e-10, 1e-10


def oracle(x: torch.Tensor, w: torch.Tensor, b, scale_factor, padding) -> torch.Tensor:
    """PyTorch's own ops; interpolate takes its factors as (height, width) like ours."""
    factors = (
        scale_factor
        if isinstance(scale_factor, tuple)
        else (scale_factor, scale_factor)
    )
    upsampled = F.interpolate(
        x, scale_factor=tuple(float(f) for f in factors), mode="nearest"
    )
    return F.conv2d(upsampled, w, b, padding=padding)


def resize_case(
    id, batch, c_in, c_out, size, kernel, scale_factor=2, padding="same", bias=True
) -> Case:
    """``x (N, C_in, H, W)``, ``weight (C_out, C_in, kh, kw)``, ``bias (C_out,)`` or left out."""
    shapes = {
        "x": (batch, c_in, *size),
        "weight": (c_out, c_in, *kernel),
        "bias": (c_out,) if bias else None,
    }
    return Case(id, shapes, dict(scale_factor=scale_factor, padding=padding))


#: Both versions, against PyTorch's nearest-neighbour interpolation then conv2d.
RESIZE_CONV2D = Operator(versions("resize_conv2d"), oracle=oracle)

CASES = [
    # (id, batch, C_in, C_out, (H, W), (kh, kw), scale_factor, padding)
    ("odena 3x3 same", 2, 3, 4, (5, 6), (3, 3), 2, "same"),
    ("even kernel same", 1, 2, 2, (4, 4), (4, 4), 2, "same"),
    ("non-square kernel", 2, 2, 3, (3, 5), (2, 3), 2, "same"),
    ("factor pair", 1, 1, 2, (3, 4), (3, 3), (2, 3), "same"),
    ("factor 3", 1, 2, 1, (4, 3), (5, 5), 3, "same"),
    ("factor 1 is conv2d", 2, 3, 2, (6, 5), (3, 3), 1, 1),
    ("valid", 1, 2, 3, (4, 4), (3, 3), 2, "valid"),
    ("explicit padding pair", 1, 1, 1, (3, 3), (3, 5), 2, (1, 2)),
    ("1x1 kernel", 2, 4, 3, (3, 3), (1, 1), 2, "same"),
    ("empty batch", 0, 2, 3, (4, 4), (3, 3), 2, "same"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch(case, bias):
    RESIZE_CONV2D.check(resize_case(*case, bias=bias), rtol=RTOL, atol=ATOL)


def test_same_padding_keeps_scaled_size():
    x, w, b = resize_case("scaled", 1, 2, 3, (5, 7), (3, 3)).tensors()
    assert functional.resize_conv2d(x, w, b, (2, 3)).shape == (1, 3, 10, 21)
    assert reference.resize_conv2d(x.numpy(), w.numpy(), b.numpy(), 4).shape == (
        1,
        3,
        20,
        28,
    )


@st.composite
def geometries(draw):
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    factor = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    mode = draw(st.sampled_from(["same", "valid", "int"]))
    if mode == "int":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    else:
        padding = mode
    # the kernel must fit the padded upsampled input
    pads = (0, 0) if padding in ("same", "valid") else padding
    if padding != "same":
        kernel = tuple(
            min(k, i * s + 2 * p) for k, i, s, p in zip(kernel, size, factor, pads)
        )
    return dict(
        batch=draw(st.integers(0, 2)),
        c_in=draw(st.integers(1, 3)),
        c_out=draw(st.integers(1, 3)),
        size=size,
        kernel=kernel,
        factor=factor,
        padding=padding,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_property_both_versions_match_torch(g):
    case = resize_case(
        "property",
        g["batch"],
        g["c_in"],
        g["c_out"],
        g["size"],
        g["kernel"],
        g["factor"],
        g["padding"],
        g["bias"],
    )
    RESIZE_CONV2D.check(case, rtol=RTOL, atol=ATOL, seed=g["seed"])


def test_float32_is_kept():
    x, w, b = resize_case("f32", 1, 2, 2, (4, 4), (3, 3)).tensors(dtype=np.float32)
    assert reference.resize_conv2d(x.numpy(), w.numpy(), b.numpy()).dtype == np.float32
    y = functional.resize_conv2d(x, w, b)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, oracle(x, w, b, 2, "same"), rtol=1e-5, atol=1e-5)


def test_non_contiguous_input():
    x, w, b = resize_case("transposed", 2, 3, 2, (6, 5), (3, 3)).tensors()
    x_t = x.transpose(2, 3)  # (2, 3, 5, 6), not contiguous
    torch.testing.assert_close(
        functional.resize_conv2d(x_t, w, b),
        oracle(x_t, w, b, 2, "same"),
        rtol=RTOL,
        atol=ATOL,
    )


def test_gradcheck():
    x, w, b = resize_case("gradcheck", 1, 2, 2, (3, 4), (3, 2)).tensors()
    inputs = tuple(t.requires_grad_(True) for t in (x, w, b))
    assert torch.autograd.gradcheck(
        lambda x, w, b: functional.resize_conv2d(x, w, b, (2, 3)), inputs
    )


def test_gradients_match_torch():
    x, w, b = resize_case("gradients", 2, 3, 2, (4, 4), (3, 3)).tensors()
    grads = []
    for fn in (
        lambda x, w, b: functional.resize_conv2d(x, w, b),
        lambda x, w, b: oracle(x, w, b, 2, "same"),
    ):
        leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
        fn(*leaves).square().sum().backward()
        grads.append([t.grad for t in leaves])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("version", ["reference", "functional"])
@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
def test_constant_input_gives_constant_interior(version, kernel_size):
    """No checkerboard: away from the zero-padded border every output pixel sees the same sum of taps."""
    rng = np.random.default_rng(kernel_size)
    x = np.full((1, 1, 8, 8), 0.7)
    w = rng.standard_normal((1, 1, kernel_size, kernel_size))
    y = (
        reference.resize_conv2d(x, w)
        if version == "reference"
        else functional.resize_conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    )
    interior = y[0, 0, kernel_size:-kernel_size, kernel_size:-kernel_size]
    np.testing.assert_allclose(interior, 0.7 * w.sum(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# Bad calls: one table, both versions, the same error type and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    return dict(
        x=_f32(2, 3, 4, 4),
        weight=_f32(5, 3, 3, 3),
        bias=_f32(5),
        scale_factor=2,
        padding="same",
    )


BAD_CALLS = [
    (
        "scale_factor 0",
        dict(scale_factor=0),
        ValueError,
        r"^scale_factor must be >= 1, got 0$",
    ),
    (
        "scale_factor float",
        dict(scale_factor=1.5),
        TypeError,
        r"^scale_factor must be an int or a pair of ints, got 1\.5$",
    ),
    (
        "scale_factor triple",
        dict(scale_factor=(2, 2, 2)),
        TypeError,
        r"^scale_factor must be an int or a pair of ints, got \(2, 2, 2\)$",
    ),
    (
        "scale_factor bool",
        dict(scale_factor=True),
        TypeError,
        r"^scale_factor must be an int or a pair of ints, got True$",
    ),
    (
        "padding unknown string",
        dict(padding="full"),
        ValueError,
        r"^padding must be an int, a pair of ints, 'valid' or 'same', got 'full'$",
    ),
    (
        "negative padding",
        dict(padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (
        "kernel larger than upsampled input",
        dict(padding="valid", weight=_f32(5, 3, 9, 3)),
        ValueError,
        r"^resize_conv2d: x is too small: padded height 8 is less than the dilated kernel height 9$",
    ),
    (
        "weight channels",
        dict(weight=_f32(5, 2, 3, 3)),
        ValueError,
        r"^weight\.shape\[1\] must equal the input channels C_in = 3, got weight of shape \(5, 2, 3, 3\)$",
    ),
    (
        "empty kernel",
        dict(weight=_f32(5, 3, 0, 3)),
        ValueError,
        r"^weight must have a kernel of at least 1x1, got weight of shape \(5, 3, 0, 3\)$",
    ),
    (
        "bias length",
        dict(bias=_f32(4)),
        ValueError,
        r"^bias must have shape \(5,\), got shape \(4,\)$",
    ),
    (
        "bias dtype",
        dict(bias=np.zeros(5)),
        TypeError,
        r"^bias must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "weight dtype",
        dict(weight=np.zeros((5, 3, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(3, 4, 4)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(3, 4, 4\)$",
    ),
    (
        "weight not 4-D",
        dict(weight=_f32(5, 3, 3)),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in, kh, kw\), got shape \(5, 3, 3\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((2, 3, 4, 4), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse("resize_conv2d", {**_base(), **overrides}, exception, pattern)


def test_bad_call_base_is_valid():
    kwargs = _base()
    assert reference.resize_conv2d(**kwargs).shape == (2, 5, 8, 8)
    assert functional.resize_conv2d(**to_torch(kwargs)).shape == (2, 5, 8, 8)


@pytest.mark.parametrize("argument", ["x", "weight", "bias"])
def test_wrong_array_type(argument):
    kwargs = _base()
    kwargs[argument] = kwargs[argument].tolist()
    with pytest.raises(
        TypeError, match=f"^{argument} must be a numpy.ndarray, got list$"
    ):
        reference.resize_conv2d(**kwargs)
    with pytest.raises(
        TypeError, match=f"^{argument} must be a torch.Tensor, got list$"
    ):
        functional.resize_conv2d(**to_torch(kwargs))


# ---------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_functional_on_cuda_matches_torch(dtype):
    x, w, b = (
        t.to("cuda", dtype)
        for t in resize_case("cuda", 2, 3, 4, (5, 6), (3, 3)).tensors()
    )
    leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
    y = functional.resize_conv2d(*leaves, (2, 3))
    expected = oracle(x, w, b, (2, 3), "same")
    assert y.device.type == "cuda" and y.dtype == dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(y, expected, rtol=tol, atol=tol)
    y.sum().backward()
    assert all(t.grad is not None and t.grad.device.type == "cuda" for t in leaves)
