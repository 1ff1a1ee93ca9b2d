"""conv2d and im2col, NumPy reference and PyTorch version, against PyTorch's own operators.

``torch.nn.functional.conv2d`` and ``torch.nn.functional.unfold`` are the oracles: every
result here is compared with them (in float64, to a tight tolerance), never with convref
itself.
"""

from __future__ import annotations

import re
from typing import Optional, Union

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convref.functional.conv as functional_conv
from convref import functional, reference
from harness import (
    Case,
    Operator,
    Version,
    assert_both_refuse,
    bad_calls,
    case_id,
    refusal,
    to_torch,
    versions,
)

RTOL, ATOL = 1e-10, 1e-10  # float64 against float64

#: Every version of conv2d, and PyTorch's own as the oracle.
CONV2D = Operator(
    {
        **versions("conv2d", "conv2d_im2col", "conv2d_loop", fronts=["reference"]),
        **versions("conv2d", fronts=["functional"]),
    },
    oracle=F.conv2d,
)
REFERENCE_VERSIONS = {
    name: version for name, version in CONV2D.versions.items() if version.takes_numpy
}
TORCH_CONV2D = Version("torch.nn.functional.conv2d", F.conv2d)


# ---------------------------------------------------------------------------
# The case table
# ---------------------------------------------------------------------------


CASES = [
    Case.conv2d("3x3", 2, 3, 4, (7, 7), (3, 3)),
    Case.conv2d("3x3-no-bias", 2, 3, 4, (7, 7), (3, 3), bias=False),
    Case.conv2d("stride2-pad1", 2, 3, 5, (8, 9), (3, 3), stride=2, padding=1),
    Case.conv2d(
        "stride-pair-pad-pair", 1, 2, 3, (9, 8), (3, 2), stride=(1, 2), padding=(2, 0)
    ),
    Case.conv2d("stride3-kernel2", 1, 2, 2, (10, 11), (2, 2), stride=3),
    Case.conv2d("valid", 2, 3, 2, (6, 7), (3, 3), padding="valid"),
    Case.conv2d("same-odd", 2, 3, 2, (6, 7), (3, 3), padding="same"),
    Case.conv2d("same-even-4x4", 1, 2, 3, (7, 6), (4, 4), padding="same"),
    Case.conv2d("same-even-2x3", 2, 2, 2, (5, 6), (2, 3), padding="same", bias=False),
    Case.conv2d(
        "same-even-dilated", 1, 2, 2, (9, 8), (2, 4), padding="same", dilation=(3, 1)
    ),
    Case.conv2d(
        "same-dilated-odd", 1, 3, 2, (9, 9), (3, 3), padding="same", dilation=2
    ),
    Case.conv2d("dilation2", 2, 3, 4, (9, 9), (3, 3), dilation=2),
    Case.conv2d(
        "dilation-pair-stride",
        1,
        2,
        3,
        (11, 10),
        (3, 2),
        stride=(2, 1),
        padding=1,
        dilation=(2, 3),
    ),
    Case.conv2d("groups2", 2, 4, 6, (6, 6), (3, 3), padding=1, groups=2),
    Case.conv2d(
        "groups3-stride2", 1, 6, 3, (8, 7), (3, 3), stride=2, groups=3, bias=False
    ),
    Case.conv2d("depthwise", 2, 4, 4, (7, 7), (3, 3), padding=1, groups=4),
    Case.conv2d(
        "depthwise-multiplier", 1, 3, 6, (6, 8), (3, 3), padding="same", groups=3
    ),
    Case.conv2d("non-square", 2, 3, 2, (5, 11), (2, 5), padding=(1, 2)),
    Case.conv2d("1x1", 3, 5, 7, (4, 6), (1, 1)),
    Case.conv2d("1x1-stride2", 1, 4, 2, (5, 5), (1, 1), stride=2),
    Case.conv2d("kernel-equals-input", 2, 3, 4, (5, 5), (5, 5)),
    Case.conv2d("kernel-equals-input-rect", 1, 2, 2, (3, 6), (3, 6), bias=False),
    Case.conv2d(
        "kernel-equals-input-padded", 1, 2, 3, (4, 4), (4, 4), padding=1, stride=2
    ),
    Case.conv2d("single-channel", 1, 1, 1, (6, 6), (3, 3), padding=1),
    Case.conv2d("large-padding", 1, 2, 2, (3, 3), (2, 2), padding=3),
]


@pytest.mark.parametrize("version", CONV2D.versions)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_version_matches_torch(case: Case, version: str):
    CONV2D.check(case, rtol=RTOL, atol=ATOL, only=[version])


# ---------------------------------------------------------------------------
# im2col against torch.nn.functional.unfold
# ---------------------------------------------------------------------------

IM2COL_CASES = [
    # (shape, kernel_size, stride, padding, dilation)
    ((2, 3, 6, 7), 3, 1, 0, 1),
    ((1, 2, 7, 8), (2, 3), (2, 1), (1, 2), (1, 2)),
    ((2, 1, 5, 5), 5, 1, 0, 1),
    ((1, 4, 6, 6), 1, 2, 0, 1),
    ((1, 2, 9, 9), 3, 2, 1, 2),
    ((0, 2, 5, 5), 3, 1, 1, 1),
]


@pytest.mark.parametrize("shape, kernel_size, stride, padding, dilation", IM2COL_CASES)
def test_im2col_matches_unfold(shape, kernel_size, stride, padding, dilation):
    x = torch.from_numpy(np.random.default_rng(1).standard_normal(shape))
    expected = F.unfold(
        x, kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    ours_np = reference.im2col(x.numpy(), kernel_size, stride, padding, dilation)
    ours_t = functional.im2col(x, kernel_size, stride, padding, dilation)
    assert ours_np.shape == tuple(expected.shape)
    np.testing.assert_array_equal(ours_np, expected.numpy())
    torch.testing.assert_close(ours_t, expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    "kernel_size, dilation, pads",
    [
        # "same" pads d * (k - 1) in total, the odd element on the bottom/right (PyTorch's rule)
        ((3, 3), 1, (1, 1, 1, 1)),
        ((4, 2), 1, (1, 2, 0, 1)),
        ((2, 3), (3, 1), (1, 2, 1, 1)),
    ],
)
def test_im2col_same_and_valid_match_padded_unfold(kernel_size, dilation, pads):
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((2, 2, 6, 5)))
    top, bottom, left, right = pads
    expected = F.unfold(
        F.pad(x, (left, right, top, bottom)), kernel_size, dilation=dilation
    )
    np.testing.assert_array_equal(
        reference.im2col(x.numpy(), kernel_size, padding="same", dilation=dilation),
        expected.numpy(),
    )
    torch.testing.assert_close(
        functional.im2col(x, kernel_size, padding="same", dilation=dilation),
        expected,
        rtol=0,
        atol=0,
    )
    # "same" keeps the size: one column per input pixel
    assert expected.shape[-1] == 6 * 5
    valid = F.unfold(x, kernel_size, dilation=dilation)
    np.testing.assert_array_equal(
        reference.im2col(x.numpy(), kernel_size, padding="valid", dilation=dilation),
        valid.numpy(),
    )
    torch.testing.assert_close(
        functional.im2col(x, kernel_size, padding="valid", dilation=dilation),
        valid,
        rtol=0,
        atol=0,
    )


# ---------------------------------------------------------------------------
# Property test over random geometries
# ---------------------------------------------------------------------------


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 3))
    out_channels = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding_kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    if padding_kind == "same":
        stride = (1, 1)
        padding: Union[int, tuple, str] = "same"
        pad_totals = (0, 0)  # "same" always fits
    elif padding_kind == "valid":
        padding, pad_totals = "valid", (0, 0)
    elif padding_kind == "int":
        p = draw(st.integers(0, 3))
        padding, pad_totals = p, (2 * p, 2 * p)
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        pad_totals = (2 * padding[0], 2 * padding[1])
    size = []
    for k, d, total in zip(kernel, dilation, pad_totals):
        smallest = max(
            1, d * (k - 1) + 1 - total
        )  # the padded input must hold the dilated kernel
        size.append(draw(st.integers(smallest, smallest + 6)))
    return dict(
        batch=draw(st.integers(1, 2)),
        in_channels=in_channels,
        out_channels=out_channels,
        size=tuple(size),
        kernel=kernel,
        stride=stride[0] if stride[0] == stride[1] and draw(st.booleans()) else stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_property_both_versions_match_torch(g):
    case = Case.conv2d(
        "property",
        g["batch"],
        g["in_channels"],
        g["out_channels"],
        g["size"],
        g["kernel"],
        stride=g["stride"],
        padding=g["padding"],
        dilation=g["dilation"],
        groups=g["groups"],
        bias=g["bias"],
    )
    x, weight, bias = case.arrays(g["seed"])
    kwargs = dict(
        stride=g["stride"],
        padding=g["padding"],
        dilation=g["dilation"],
        groups=g["groups"],
    )
    expected = TORCH_CONV2D(x, weight, bias, **kwargs)
    np.testing.assert_allclose(
        reference.conv2d(x, weight, bias, **kwargs), expected, rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        reference.conv2d_im2col(x, weight, bias, **kwargs),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )
    t = torch.from_numpy
    y = functional.conv2d(t(x), t(weight), None if bias is None else t(bias), **kwargs)
    torch.testing.assert_close(y, t(expected), rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------

GRAD_CASES = [
    Case.conv2d("3x3", 2, 2, 3, (4, 4), (3, 3), padding=1),
    Case.conv2d("groups-stride", 1, 4, 4, (6, 5), (3, 2), stride=2, groups=2),
    Case.conv2d("dilation", 1, 2, 2, (7, 6), (2, 3), dilation=(2, 1), padding=(1, 0)),
    Case.conv2d("same-even", 1, 2, 2, (5, 4), (2, 4), padding="same"),
    Case.conv2d("depthwise", 1, 3, 3, (5, 5), (3, 3), groups=3, stride=(1, 2)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradcheck(case: Case):
    x, weight, bias = (torch.from_numpy(a).requires_grad_() for a in case.arrays(3))
    assert torch.autograd.gradcheck(
        lambda x, w, b: functional.conv2d(x, w, b, **case.kwargs()),
        (x, weight, bias),
        eps=1e-6,
        atol=1e-7,
    )


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradients_match_torch(case: Case):
    """The gradients autograd finds through unfold + matmul are those of PyTorch's conv2d."""
    arrays = case.arrays(4)
    ours = [torch.from_numpy(a).requires_grad_() for a in arrays]
    theirs = [torch.from_numpy(a).requires_grad_() for a in arrays]
    grad_out = torch.from_numpy(
        np.random.default_rng(5).standard_normal(
            F.conv2d(*theirs, **case.kwargs()).shape
        )
    )
    functional.conv2d(*ours, **case.kwargs()).backward(grad_out)
    F.conv2d(*theirs, **case.kwargs()).backward(grad_out)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# dtypes, layouts, empty batches, chunking
# ---------------------------------------------------------------------------


def test_reference_keeps_float32():
    case = Case.conv2d("f32", 2, 3, 4, (6, 6), (3, 3), padding=1, groups=1)
    x, weight, bias = case.arrays(dtype=np.float32)
    expected = TORCH_CONV2D(x, weight, bias, **case.kwargs())
    for name, conv in REFERENCE_VERSIONS.items():
        y = conv(x, weight, bias, **case.kwargs())
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5, err_msg=name)


# Unit roundoff of each dtype: a dot product of K terms accumulated in that precision is off by at
# most about (K + 2) * u * sum|x_i w_i| (Higham, Accuracy and Stability, section 3.1), the
# +2 covering the bias addition and the rounding of the result.
UNIT_ROUNDOFF = {
    torch.float64: 2.0**-53,
    torch.float32: 2.0**-24,
    torch.bfloat16: 2.0**-8,
    torch.float16: 2.0**-11,
}


@pytest.mark.parametrize("dtype", list(UNIT_ROUNDOFF), ids=str)
def test_functional_dtypes(dtype):
    case = Case.conv2d(
        "dtypes", 2, 4, 6, (7, 6), (3, 3), stride=(1, 2), padding=1, groups=2
    )
    x, weight, bias = (torch.from_numpy(a).to(dtype) for a in case.arrays(6))
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert y.dtype == dtype
    # Oracle: PyTorch's conv of the same (rounded) values, computed in float64.
    x64, w64, b64 = (a.double() for a in (x, weight, bias))
    expected = F.conv2d(x64, w64, b64, **case.kwargs())
    scale = F.conv2d(x64.abs(), w64.abs(), b64.abs(), **case.kwargs())
    terms = case.shape("weight")[1] * 3 * 3
    bound = (terms + 2) * UNIT_ROUNDOFF[dtype] * scale
    error = (y.double() - expected).abs()
    assert bool((error <= bound).all()), (
        f"max error {error.max().item()}, bound there {bound.flatten()[error.argmax()].item()}"
    )


def test_functional_float32_matches_torch_float32():
    case = Case.conv2d("f32", 2, 3, 5, (8, 8), (3, 3), padding="same")
    x, weight, bias = (torch.from_numpy(a) for a in case.arrays(7, dtype=np.float32))
    torch.testing.assert_close(
        functional.conv2d(x, weight, bias, padding="same"),
        F.conv2d(x, weight, bias, padding="same"),
        rtol=1e-5,
        atol=1e-5,
    )


def test_non_contiguous_inputs():
    rng = np.random.default_rng(8)
    x_base = rng.standard_normal(
        (2, 6, 9, 7)
    )  # will be transposed to (2, 3, 7, 9) after slicing channels
    w_base = rng.standard_normal((4, 3, 2, 3))
    x_np = x_base[:, ::2].transpose(
        0, 1, 3, 2
    )  # sliced and transposed view: (2, 3, 7, 9)
    w_np = w_base.transpose(0, 1, 3, 2)  # (4, 3, 3, 2)
    b_np = rng.standard_normal(8)[::2]
    assert (
        not x_np.flags.c_contiguous
        and not w_np.flags.c_contiguous
        and not b_np.flags.c_contiguous
    )
    x_t, w_t, b_t = (
        torch.from_numpy(x_base)[:, ::2].transpose(2, 3),
        torch.from_numpy(w_base).transpose(2, 3),
        torch.from_numpy(rng.standard_normal(8))[::2],
    )
    b_np = b_t.numpy()
    assert (
        not x_t.is_contiguous() and not w_t.is_contiguous() and not b_t.is_contiguous()
    )
    kwargs = dict(stride=(2, 1), padding=(1, 0))
    expected = F.conv2d(x_t.contiguous(), w_t.contiguous(), b_t.contiguous(), **kwargs)
    torch.testing.assert_close(
        functional.conv2d(x_t, w_t, b_t, **kwargs), expected, rtol=RTOL, atol=ATOL
    )
    for name, conv in REFERENCE_VERSIONS.items():
        np.testing.assert_allclose(
            conv(x_np, w_np, b_np, **kwargs),
            expected.numpy(),
            rtol=RTOL,
            atol=ATOL,
            err_msg=name,
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(stride=2, padding=1),
        dict(padding="same", dilation=2),
        dict(groups=2),
    ],
    ids=str,
)
def test_empty_batch(kwargs):
    x = np.zeros((0, 4, 7, 6))
    weight = np.random.default_rng(9).standard_normal(
        (6, 4 // kwargs.get("groups", 1), 3, 2)
    )
    bias = np.ones(6)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias), **kwargs
    )
    assert expected.shape[0] == 0
    for name, conv in REFERENCE_VERSIONS.items():
        y = conv(x, weight, bias, **kwargs)
        assert y.shape == tuple(expected.shape), name
    y = functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias), **kwargs
    )
    assert y.shape == expected.shape


@pytest.fixture
def count_chunks(monkeypatch):
    """Count how many batch chunks functional.conv2d lowers (one im2col per chunk)."""
    calls = []
    original = functional_conv._columns

    def spy(x, args):
        calls.append(x.shape[0])
        return original(x, args)

    monkeypatch.setattr(functional_conv, "_columns", spy)
    return calls


@pytest.mark.parametrize(
    "limit, chunks", [(1, [1, 1, 1]), (2 * 64, [2, 1]), (2 * 64 - 1, [1, 1, 1])]
)
def test_chunked_batch_matches_torch(monkeypatch, count_chunks, limit, chunks):
    # one sample's columns: C_in * kh * kw * H_out * W_out = 2 * 2 * 2 * 2 * 4 = 64 elements
    monkeypatch.setattr(functional_conv, "MAX_COLUMN_ELEMENTS", limit)
    case = Case.conv2d("chunks", 3, 2, 4, (3, 3), (2, 2), padding=(0, 1), groups=2)
    x, weight, bias = (torch.from_numpy(a).requires_grad_() for a in case.arrays(10))
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert count_chunks == chunks
    torch.testing.assert_close(
        y, F.conv2d(x, weight, bias, **case.kwargs()), rtol=RTOL, atol=ATOL
    )
    assert torch.autograd.gradcheck(
        lambda x, w, b: functional.conv2d(x, w, b, **case.kwargs()),
        (x, weight, bias),
        eps=1e-6,
        atol=1e-7,
    )


def test_unchunked_by_default(count_chunks):
    x, weight, bias = (
        torch.from_numpy(a)
        for a in Case.conv2d("one", 5, 2, 4, (6, 5), (3, 3)).arrays()
    )
    functional.conv2d(x, weight, bias)
    assert count_chunks == [5]


# ---------------------------------------------------------------------------
# Bad calls: one table, both versions, the same error and message
# ---------------------------------------------------------------------------


def _base_arrays():
    rng = np.random.default_rng(11)
    return dict(
        x=rng.standard_normal((2, 4, 6, 6)).astype(np.float32),
        weight=rng.standard_normal((6, 4, 3, 3)).astype(np.float32),
        bias=rng.standard_normal(6).astype(np.float32),
    )


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


BAD_CALLS = [
    # (description, overrides of the base call, exception, regex of the message)
    (
        "x not 4-D",
        dict(x=_f32(4, 6, 6)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 6, 6\)$",
    ),
    (
        "x 5-D",
        dict(x=_f32(1, 2, 4, 6, 6)),
        ValueError,
        r"^x must be 4-D .*got shape \(1, 2, 4, 6, 6\)$",
    ),
    (
        "weight not 4-D",
        dict(weight=_f32(6, 4, 3)),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in / groups, kh, kw\), got shape \(6, 4, 3\)$",
    ),
    (
        "weight.shape[1] != C_in / groups",
        dict(weight=_f32(6, 3, 3, 3)),
        ValueError,
        r"^weight\.shape\[1\] must be C_in / groups = 4 / 1 = 4, got weight of shape \(6, 3, 3, 3\)$",
    ),
    (
        "weight.shape[1] != C_in / groups with groups",
        dict(weight=_f32(6, 4, 3, 3), groups=2),
        ValueError,
        r"^weight\.shape\[1\] must be C_in / groups = 4 / 2 = 2, got weight of shape \(6, 4, 3, 3\)$",
    ),
    (
        "groups does not divide C_in",
        dict(weight=_f32(6, 1, 3, 3), groups=3),
        ValueError,
        r"^groups must divide the input channels: x has 4 channels, groups=3$",
    ),
    (
        "groups does not divide C_out",
        dict(weight=_f32(5, 2, 3, 3), groups=2),
        ValueError,
        r"^groups must divide the output channels: weight has 5 output channels, groups=2$",
    ),
    ("groups 0", dict(groups=0), ValueError, r"^groups must be >= 1, got 0$"),
    ("groups negative", dict(groups=-2), ValueError, r"^groups must be >= 1, got -2$"),
    ("groups float", dict(groups=1.5), TypeError, r"^groups must be an int, got 1\.5$"),
    ("groups bool", dict(groups=True), TypeError, r"^groups must be an int, got True$"),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
    ("stride negative", dict(stride=-1), ValueError, r"^stride must be >= 1, got -1$"),
    (
        "stride pair with 0",
        dict(stride=(1, 0)),
        ValueError,
        r"^stride must be >= 1, got \(1, 0\)$",
    ),
    (
        "stride float",
        dict(stride=1.0),
        TypeError,
        r"^stride must be an int or a pair of ints, got 1\.0$",
    ),
    (
        "stride triple",
        dict(stride=(1, 1, 1)),
        TypeError,
        r"^stride must be an int or a pair of ints, got \(1, 1, 1\)$",
    ),
    (
        "stride string",
        dict(stride="1"),
        TypeError,
        r"^stride must be an int or a pair of ints, got '1'$",
    ),
    ("dilation 0", dict(dilation=0), ValueError, r"^dilation must be >= 1, got 0$"),
    (
        "dilation float pair",
        dict(dilation=(1, 2.0)),
        TypeError,
        r"^dilation must be an int or a pair of ints, got \(1, 2\.0\)$",
    ),
    (
        "negative padding",
        dict(padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (
        "negative padding pair",
        dict(padding=(0, -2)),
        ValueError,
        r"^padding must be >= 0, got \(0, -2\)$",
    ),
    (
        "padding unknown string",
        dict(padding="full"),
        ValueError,
        r"^padding must be an int, a pair of ints, 'valid' or 'same', got 'full'$",
    ),
    (
        "padding float",
        dict(padding=0.5),
        TypeError,
        r"^padding must be an int, a pair of ints, 'valid' or 'same', got 0\.5$",
    ),
    (
        "padding triple",
        dict(padding=(1, 1, 1)),
        TypeError,
        r"^padding must be an int, a pair of ints, 'valid' or 'same', got \(1, 1, 1\)$",
    ),
    (
        "padding same with stride 2",
        dict(padding="same", stride=2),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
    (
        "bias wrong length",
        dict(bias=_f32(5)),
        ValueError,
        r"^bias must have shape \(6,\), got shape \(5,\)$",
    ),
    (
        "bias 2-D",
        dict(bias=_f32(6, 1)),
        ValueError,
        r"^bias must be 1-D with shape \(C_out,\), got shape \(6, 1\)$",
    ),
    (
        "bias other dtype",
        dict(bias=np.zeros(6)),
        TypeError,
        r"^bias must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "weight other dtype",
        dict(weight=np.zeros((6, 4, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "integer input",
        dict(
            x=np.zeros((2, 4, 6, 6), dtype=np.int64),
            weight=np.zeros((6, 4, 3, 3), dtype=np.int64),
        ),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "bool input",
        dict(x=np.zeros((2, 4, 6, 6), dtype=bool)),
        TypeError,
        r"^x must have a floating dtype, got bool$",
    ),
    (
        "empty kernel",
        dict(weight=_f32(6, 4, 0, 3)),
        ValueError,
        r"^weight must have a kernel of at least 1x1, got weight of shape \(6, 4, 0, 3\)$",
    ),
    (
        "input smaller than kernel",
        dict(x=_f32(2, 4, 2, 6)),
        ValueError,
        r"^conv2d: x is too small: padded height 2 is less than the dilated kernel height 3$",
    ),
    (
        "input smaller than dilated kernel",
        dict(dilation=(1, 3)),
        ValueError,
        r"^conv2d: x is too small: padded width 6 is less than the dilated kernel width 7$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse(
        CONV2D.versions, {**_base_arrays(), **overrides}, exception, pattern
    )


def test_bad_call_rows_are_good_without_override():
    """The base call of the table is valid, so each row fails for its own reason only."""
    kwargs = _base_arrays()
    y = reference.conv2d(**kwargs)
    np.testing.assert_allclose(
        y,
        TORCH_CONV2D(kwargs["x"], kwargs["weight"], kwargs["bias"]),
        rtol=1e-5,
        atol=1e-5,
    )
    functional.conv2d(**to_torch(kwargs))


@pytest.mark.parametrize("argument", ["x", "weight", "bias"])
def test_wrong_array_type_names_each_versions_type(argument):
    kwargs = _base_arrays()
    kwargs[argument] = kwargs[argument].tolist()
    message = refusal(reference.conv2d, kwargs, TypeError)
    assert re.fullmatch(rf"{argument} must be a numpy\.ndarray, got list", message), (
        message
    )
    torch_kwargs = to_torch(kwargs)
    message = refusal(functional.conv2d, torch_kwargs, TypeError)
    assert re.fullmatch(rf"{argument} must be a torch\.Tensor, got list", message), (
        message
    )
    # and each version refuses the other's array type
    message = refusal(
        functional.conv2d,
        {**torch_kwargs, argument: np.asarray(kwargs[argument], np.float32)},
        TypeError,
    )
    assert re.fullmatch(
        rf"{argument} must be a torch\.Tensor, got numpy\.ndarray", message
    ), message
    message = refusal(
        reference.conv2d,
        {**kwargs, argument: torch.tensor(kwargs[argument])},
        TypeError,
    )
    assert re.fullmatch(
        rf"{argument} must be a numpy\.ndarray, got torch\.Tensor", message
    ), message


IM2COL_BAD_CALLS = [
    (
        "kernel_size 0",
        dict(kernel_size=0),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (
        "kernel_size pair with 0",
        dict(kernel_size=(3, 0)),
        ValueError,
        r"^kernel_size must be >= 1, got \(3, 0\)$",
    ),
    (
        "kernel_size float",
        dict(kernel_size=2.5),
        TypeError,
        r"^kernel_size must be an int or a pair of ints, got 2\.5$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(3, 5, 5)),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\), got shape \(3, 5, 5\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((1, 1, 5, 5), dtype=np.int32)),
        TypeError,
        r"^x must have a floating dtype, got int32$",
    ),
    (
        "kernel larger than input",
        dict(kernel_size=6),
        ValueError,
        r"^im2col: x is too small: padded height 5 is less than the dilated kernel height 6$",
    ),
    (
        "stride 0",
        dict(kernel_size=3, stride=0),
        ValueError,
        r"^stride must be >= 1, got 0$",
    ),
    (
        "same with stride",
        dict(kernel_size=3, stride=2, padding="same"),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
    (
        "negative padding",
        dict(kernel_size=3, padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(IM2COL_BAD_CALLS))
def test_im2col_bad_calls(overrides, exception, pattern):
    assert_both_refuse(
        "im2col",
        {"x": _f32(2, 3, 5, 5), "kernel_size": 3, **overrides},
        exception,
        pattern,
    )


# ---------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("case", GRAD_CASES + CASES[:6], ids=case_id)
def test_functional_on_cuda_matches_torch(case: Case):
    arrays = case.arrays(12)
    ours = [torch.from_numpy(a).cuda().requires_grad_() for a in arrays]
    theirs = [torch.from_numpy(a).cuda().requires_grad_() for a in arrays]
    y = functional.conv2d(*ours, **case.kwargs())
    expected = F.conv2d(*theirs, **case.kwargs())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn_like(expected)
    y.backward(grad_out)
    expected.backward(grad_out)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.cuda
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str
)
def test_functional_on_cuda_low_precision(dtype):
    case = Case.conv2d("cuda-dtypes", 2, 4, 6, (9, 8), (3, 3), padding=1, groups=2)
    x, weight, bias = (torch.from_numpy(a).to("cuda", dtype) for a in case.arrays(13))
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert y.dtype == dtype and y.device.type == "cuda"
    x64, w64, b64 = (a.double() for a in (x, weight, bias))
    expected = F.conv2d(x64, w64, b64, **case.kwargs())
    scale = F.conv2d(x64.abs(), w64.abs(), b64.abs(), **case.kwargs())
    # float32 matmuls may run in TF32 (10-bit mantissa) on the GPU: use its unit roundoff
    u = 2.0**-11 if dtype == torch.float32 else UNIT_ROUNDOFF[dtype]
    bound = (case.shape("weight")[1] * 9 + 2) * u * scale
    assert bool(((y.double() - expected).abs() <= bound).all())


# ---------------------------------------------------------------------------
# 1x1 kernels: with no padding the columns are the (strided) input itself, no unfold
# ---------------------------------------------------------------------------


def pointwise(
    id: str, shape: tuple[int, int, int, int], out_channels: int, **options
) -> Case:
    """A ``conv2d`` case with a 1x1 kernel: ``x`` of ``shape`` ``(N, C_in, H, W)``."""
    n, c, h, w = shape
    return Case.conv2d(id, n, c, out_channels, (h, w), (1, 1), **options)


def takes_fast_path(case: Case) -> bool:
    """Whether the case takes the no-unfold path (a 1x1 kernel and no padding at all)."""
    return case.options["padding"] in (0, (0, 0), "valid", "same")


POINTWISE_CASES = [
    # no padding: the fast path
    pointwise("stride1", (2, 6, 7, 5), 4),
    pointwise("stride1-no-bias", (2, 6, 7, 5), 4, bias=False),
    pointwise("stride2-odd-size", (2, 6, 7, 9), 4, stride=2),
    pointwise("stride-2x3", (2, 4, 7, 8), 6, stride=(2, 3)),
    pointwise("stride-3x1-groups2", (1, 4, 8, 5), 6, stride=(3, 1), groups=2),
    pointwise("groups3-valid", (2, 6, 5, 5), 9, padding="valid", groups=3),
    pointwise("groups2-same", (2, 4, 6, 5), 2, padding="same", groups=2),
    pointwise("pad-pair-zero", (1, 4, 5, 6), 3, stride=(2, 1), padding=(0, 0)),
    pointwise("depthwise", (2, 5, 6, 7), 5, groups=5),
    pointwise("depthwise-stride2", (2, 5, 6, 7), 5, stride=2, groups=5),
    pointwise(
        "depthwise-multiplier-2x3",
        (1, 3, 7, 6),
        6,
        stride=(2, 3),
        padding="valid",
        groups=3,
    ),
    pointwise("dilated", (1, 4, 7, 7), 3, stride=2, dilation=3),
    pointwise("same-dilated", (1, 2, 4, 5), 3, padding="same", dilation=(2, 3)),
    pointwise("stride-beyond-input", (2, 2, 2, 3), 3, stride=5),
    pointwise("single-pixel", (3, 4, 1, 1), 2, stride=(1, 2)),
    # padding: the unfold path
    pointwise("pad1", (2, 4, 5, 6), 6, padding=1, groups=2),
    pointwise("pad1-stride2", (2, 4, 5, 6), 3, stride=2, padding=1),
    pointwise(
        "pad-0x2-stride-2x3", (1, 4, 5, 7), 4, stride=(2, 3), padding=(0, 2), groups=4
    ),
    pointwise("pad-1x0-depthwise", (2, 3, 4, 4), 3, padding=(1, 0), groups=3),
]


@pytest.fixture
def unfold_calls(monkeypatch):
    """Count calls of torch.nn.functional.unfold (which functional.conv2d uses except on its 1x1 fast path)."""
    calls = []
    original = F.unfold

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, "unfold", spy)
    return calls


@pytest.mark.parametrize("case", POINTWISE_CASES, ids=case_id)
def test_pointwise_matches_torch(case: Case, unfold_calls):
    ours = [None if a is None else a.requires_grad_() for a in case.tensors(seed=20)]
    theirs = [None if a is None else a.detach().clone().requires_grad_() for a in ours]
    expected = F.conv2d(*theirs, **case.kwargs())
    y = functional.conv2d(*ours, **case.kwargs())
    assert (len(unfold_calls) == 0) == takes_fast_path(
        case
    )  # the path the case is meant to exercise
    assert y.dtype == torch.float64 and y.shape == expected.shape
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)
    grad_out = torch.from_numpy(
        np.random.default_rng(21).standard_normal(tuple(expected.shape))
    )
    y.backward(grad_out)
    expected.backward(grad_out)
    for name, a, b in zip(("x", "weight", "bias"), ours, theirs):
        if a is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL, msg=name)


@pytest.mark.parametrize("case", POINTWISE_CASES, ids=case_id)
def test_pointwise_float32(case: Case):
    x, weight, bias = case.tensors(seed=22, dtype=np.float32)
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert y.dtype == torch.float32
    torch.testing.assert_close(
        y, F.conv2d(x, weight, bias, **case.kwargs()), rtol=1e-5, atol=1e-5
    )
    # and within the float32 rounding bound of the exact result (same bound as test_functional_dtypes)
    x64, w64 = x.double(), weight.double()
    b64 = None if bias is None else bias.double()
    expected = F.conv2d(x64, w64, b64, **case.kwargs())
    scale = F.conv2d(
        x64.abs(), w64.abs(), None if b64 is None else b64.abs(), **case.kwargs()
    )
    bound = (weight.shape[1] + 2) * UNIT_ROUNDOFF[torch.float32] * scale
    assert bool(((y.double() - expected).abs() <= bound).all())


def _layout(x: torch.Tensor, layout: str, check: bool = True) -> torch.Tensor:
    """The same values as ``x`` in another memory layout (a copy or a view; ``check``: not contiguous)."""
    if layout == "channels_last":
        y = x.contiguous(memory_format=torch.channels_last)
    elif layout == "transposed":
        y = (
            x.transpose(2, 3).contiguous().transpose(2, 3)
        )  # a transposed view of (N, C, W, H) storage
    elif layout == "sliced":
        n, c, h, w = x.shape
        base = torch.zeros(n, 2 * c, h, w + 3, dtype=x.dtype)
        base[:, ::2, :, 1 : w + 1] = x
        y = base[:, ::2, :, 1 : w + 1]
    else:
        raise AssertionError(layout)
    assert torch.equal(y, x)
    assert not (check and y.is_contiguous())
    return y


POINTWISE_BY_ID = {case.id: case for case in POINTWISE_CASES}


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "sliced"])
@pytest.mark.parametrize(
    "case",
    [
        POINTWISE_BY_ID[name]
        for name in (
            "stride1",
            "stride-2x3",
            "stride-3x1-groups2",
            "depthwise-stride2",
            "depthwise-multiplier-2x3",
            "pad1-stride2",
        )
    ],
    ids=case_id,
)
def test_pointwise_non_contiguous(case: Case, layout: str):
    x, weight, bias = case.tensors(seed=23)
    expected = F.conv2d(x, weight, bias, **case.kwargs())
    ours = _layout(x, layout).requires_grad_()
    weight_view = (
        weight.contiguous(memory_format=torch.channels_last)
        if layout == "channels_last"
        else weight
    )
    y = functional.conv2d(ours, weight_view, bias, **case.kwargs())
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)
    # the gradient reaches the strided input
    theirs = x.clone().requires_grad_()
    grad_out = torch.from_numpy(
        np.random.default_rng(24).standard_normal(tuple(expected.shape))
    )
    y.backward(grad_out)
    F.conv2d(theirs, weight, bias, **case.kwargs()).backward(grad_out)
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "case",
    [
        pointwise("stride-2x3-groups2", (0, 4, 7, 8), 6, stride=(2, 3), groups=2),
        pointwise("depthwise-same", (0, 3, 5, 5), 3, padding="same", groups=3),
        pointwise("pad1", (0, 2, 4, 4), 4, padding=1),
    ],
    ids=case_id,
)
def test_pointwise_empty_batch(case: Case):
    x, weight, bias = (a.requires_grad_() for a in case.tensors(seed=25))
    expected = F.conv2d(x, weight, bias, **case.kwargs())
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert expected.shape[0] == 0
    assert y.shape == expected.shape and y.dtype == expected.dtype
    y.sum().backward()  # no sample: every gradient is zero
    assert x.grad.shape == x.shape
    torch.testing.assert_close(weight.grad, torch.zeros_like(weight), rtol=0, atol=0)
    torch.testing.assert_close(bias.grad, torch.zeros_like(bias), rtol=0, atol=0)


@pytest.mark.parametrize(
    "case, layout",
    [
        (pointwise("strided-grouped", (2, 4, 5, 7), 6, stride=(2, 3), groups=2), None),
        (
            pointwise("depthwise-stride2", (1, 3, 5, 4), 6, stride=2, groups=3),
            "channels_last",
        ),
        (
            pointwise("strided-transposed", (1, 4, 4, 5), 2, stride=(1, 2), groups=2),
            "transposed",
        ),
    ],
    ids=lambda v: getattr(v, "id", str(v)),
)
def test_pointwise_gradcheck(case: Case, layout: Optional[str]):
    x, weight, bias = case.tensors(seed=26)
    if layout is not None:
        x = _layout(x, layout)
    x, weight, bias = (a.requires_grad_() for a in (x, weight, bias))
    assert torch.autograd.gradcheck(
        lambda x, w, b: functional.conv2d(x, w, b, **case.kwargs()),
        (x, weight, bias),
        eps=1e-6,
        atol=1e-7,
    )


@pytest.mark.parametrize(
    "limit, chunks", [(1, [1, 1, 1]), (2 * 12, [2, 1]), (2 * 12 - 1, [1, 1, 1])]
)
def test_pointwise_chunked_batch(monkeypatch, count_chunks, limit, chunks):
    # one sample's columns: C_in * H_out * W_out = 4 * 3 * 1 = 12 elements
    monkeypatch.setattr(functional_conv, "MAX_COLUMN_ELEMENTS", limit)
    case = pointwise("chunks", (3, 4, 5, 3), 6, stride=(2, 3), groups=2)
    x, weight, bias = (a.requires_grad_() for a in case.tensors(seed=27))
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert count_chunks == chunks
    torch.testing.assert_close(
        y, F.conv2d(x, weight, bias, **case.kwargs()), rtol=RTOL, atol=ATOL
    )


@pytest.mark.parametrize("layout", [None, "channels_last", "transposed", "sliced"])
@pytest.mark.parametrize(
    "stride, padding", [(1, 0), (2, 0), ((2, 3), "valid"), (1, "same"), ((3, 2), 1)]
)
def test_pointwise_im2col_matches_unfold(stride, padding, layout):
    x = torch.from_numpy(np.random.default_rng(28).standard_normal((2, 3, 7, 8)))
    if layout is not None:
        x = _layout(x, layout)
    unfold_padding = (
        0 if isinstance(padding, str) else padding
    )  # a 1x1 kernel needs no "same" padding
    expected = F.unfold(x.contiguous(), 1, padding=unfold_padding, stride=stride)
    torch.testing.assert_close(
        functional.im2col(x, 1, stride, padding), expected, rtol=0, atol=0
    )
    np.testing.assert_array_equal(
        reference.im2col(x.numpy(), 1, stride, padding), expected.numpy()
    )


@st.composite
def pointwise_geometries(draw):
    groups = draw(st.integers(1, 3))
    return dict(
        shape=(
            draw(st.integers(0, 2)),
            groups * draw(st.integers(1, 3)),
            draw(st.integers(1, 7)),
            draw(st.integers(1, 7)),
        ),
        out_channels=groups * draw(st.integers(1, 3)),
        groups=groups,
        stride=(draw(st.integers(1, 4)), draw(st.integers(1, 4))),
        padding=draw(st.sampled_from([0, "valid", (0, 0), 1, (0, 1), (2, 0)])),
        layout=draw(st.sampled_from([None, "channels_last", "transposed", "sliced"])),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=40, deadline=None)
@given(pointwise_geometries())
def test_pointwise_property_matches_torch(g):
    layout = g.pop("layout")
    seed = g.pop("seed")
    case = pointwise("property", **g)
    x, weight, bias = case.tensors(seed)
    if layout is not None:
        x = _layout(
            x, layout, check=False
        )  # tiny or empty shapes may still count as contiguous
    expected = F.conv2d(x.contiguous(), weight, bias, **case.kwargs())
    y = functional.conv2d(x, weight, bias, **case.kwargs())
    assert y.shape == expected.shape
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)
