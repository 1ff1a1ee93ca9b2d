"""separable_conv2d and factorize_kernel, NumPy reference and PyTorch version.

Oracles, none of them convref: ``torch.nn.functional.conv2d`` applied twice (a ``kh x 1``
then a ``1 x kw`` convolution); ``torch.nn.functional.conv2d`` with the full kernel that the
two factors multiply out to (the mathematical claim: a sum of outer products); the Sobel
kernel as printed; and, for the factorisation, the singular values of the kernel (found
independently, as eigenvalues of ``K^T K``) through the Eckart--Young theorem.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convref import functional, reference
from harness import (
    Case,
    Operator,
    assert_both_refuse,
    bad_calls,
    case_id,
    refusal,
    to_torch,
    versions,
)

RTOL, ATOL = 1e-10, 1e-10  # float64 against float64

IntPair = Union[int, tuple[int, int]]


def _pair(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def torch_two_pass(
    x, column_weight, row_weight, bias=None, stride=1, padding=0, dilation=1, groups=1
):
    """Oracle 1: PyTorch's conv2d twice, ``kh x 1`` along the height, then ``1 x kw`` along the width."""
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        column_padding = row_padding = padding
    else:
        ph, pw = _pair(padding)
        column_padding, row_padding = (ph, 0), (0, pw)
    columns = F.conv2d(x, column_weight, None, (sh, 1), column_padding, (dh, 1), groups)
    return F.conv2d(columns, row_weight, bias, (1, sw), row_padding, (1, dw), groups)


CASES = [
    Case.separable_conv2d("3x3", 2, 3, 4, 5, (7, 7), (3, 3)),
    Case.separable_conv2d("3x3-no-bias", 2, 3, 4, 5, (7, 7), (3, 3), bias=False),
    Case.separable_conv2d(
        "stride2-pad1", 2, 3, 3, 4, (8, 9), (3, 3), stride=2, padding=1
    ),
    Case.separable_conv2d(
        "stride-pair-pad-pair",
        1,
        2,
        3,
        2,
        (9, 8),
        (3, 2),
        stride=(1, 2),
        padding=(2, 0),
    ),
    Case.separable_conv2d("stride3-kernel2", 1, 2, 2, 3, (10, 11), (2, 2), stride=3),
    Case.separable_conv2d("valid", 2, 3, 2, 2, (6, 7), (3, 3), padding="valid"),
    Case.separable_conv2d("same-odd", 2, 3, 3, 2, (6, 7), (3, 5), padding="same"),
    Case.separable_conv2d("same-even-4x4", 1, 2, 3, 3, (7, 6), (4, 4), padding="same"),
    Case.separable_conv2d(
        "same-even-2x3", 2, 2, 2, 2, (5, 6), (2, 3), padding="same", bias=False
    ),
    Case.separable_conv2d(
        "same-even-dilated", 1, 2, 2, 2, (9, 8), (2, 4), padding="same", dilation=(3, 1)
    ),
    Case.separable_conv2d(
        "same-dilated-odd", 1, 3, 3, 2, (9, 9), (3, 3), padding="same", dilation=2
    ),
    Case.separable_conv2d("dilation2", 2, 3, 4, 4, (9, 9), (3, 3), dilation=2),
    Case.separable_conv2d(
        "dilation-pair-stride",
        1,
        2,
        3,
        3,
        (11, 10),
        (3, 2),
        stride=(2, 1),
        padding=1,
        dilation=(2, 3),
    ),
    Case.separable_conv2d("groups2", 2, 4, 6, 4, (6, 6), (3, 3), padding=1, groups=2),
    Case.separable_conv2d(
        "groups3-stride2", 1, 6, 3, 9, (8, 7), (3, 3), stride=2, groups=3, bias=False
    ),
    Case.separable_conv2d("depthwise", 2, 4, 4, 4, (7, 7), (3, 3), padding=1, groups=4),
    Case.separable_conv2d(
        "depthwise-multiplier", 1, 3, 6, 6, (6, 8), (3, 3), padding="same", groups=3
    ),
    Case.separable_conv2d("non-square", 2, 3, 2, 2, (5, 11), (2, 5), padding=(1, 2)),
    Case.separable_conv2d(
        "tall-kernel-7x1-and-1x7", 1, 2, 3, 2, (9, 9), (7, 7), padding=3
    ),  # Inception v3's 7x1, 1x7
    Case.separable_conv2d("1x1", 3, 5, 4, 6, (4, 6), (1, 1)),
    Case.separable_conv2d("kernel-equals-input", 2, 3, 2, 4, (5, 5), (5, 5)),
    Case.separable_conv2d("single-channel", 1, 1, 1, 1, (6, 6), (3, 3), padding=1),
    Case.separable_conv2d("large-padding", 1, 2, 2, 2, (3, 3), (2, 2), padding=3),
]


#: Both versions, against PyTorch's conv2d run twice (kh x 1, then 1 x kw).
SEPARABLE = Operator(versions("separable_conv2d"), oracle=torch_two_pass)


def channels(case: Case) -> tuple[int, int, int]:
    """``(C_in, C_mid, C_out)`` of a separable case."""
    return (
        case.shape("x")[1],
        case.shape("column_weight")[0],
        case.shape("row_weight")[0],
    )


@pytest.mark.parametrize("version", SEPARABLE.versions)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_two_pass(case: Case, version: str):
    SEPARABLE.check(case, rtol=RTOL, atol=ATOL, only=[version])


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_output_shape_is_that_of_the_kh_x_kw_convolution(case: Case):
    """The result has the shape PyTorch's conv2d with a kh x kw kernel and the same arguments gives."""
    kh, kw = case.shape("column_weight")[2], case.shape("row_weight")[3]
    x = torch.zeros(case.shape("x"))
    weight = torch.zeros(channels(case)[2], case.shape("column_weight")[1], kh, kw)
    expected = F.conv2d(x, weight, **case.kwargs()).shape
    assert (
        functional.separable_conv2d(*case.tensors(), **case.kwargs()).shape == expected
    )
    assert reference.separable_conv2d(*case.arrays(), **case.kwargs()).shape == tuple(
        expected
    )


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    channels = [groups * draw(st.integers(1, 3)) for _ in range(3)]
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding_kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    if padding_kind == "same":
        stride = (1, 1)
        padding: Union[int, tuple, str] = "same"
        pad_totals = (0, 0)
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
    return Case.separable_conv2d(
        "property",
        draw(st.integers(1, 2)),
        *channels,
        tuple(size),
        kernel,
        stride=stride[0] if stride[0] == stride[1] and draw(st.booleans()) else stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    ), draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_property_both_versions_match_torch_two_pass(case_and_seed):
    case, seed = case_and_seed
    tensors = case.tensors(seed)
    expected = torch_two_pass(*tensors, **case.kwargs())
    np.testing.assert_allclose(
        reference.separable_conv2d(*case.arrays(seed), **case.kwargs()),
        expected.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )
    torch.testing.assert_close(
        functional.separable_conv2d(*tensors, **case.kwargs()),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )


# ---------------------------------------------------------------------------
# Oracle 2: the mathematical claim, a sum of outer products
# ---------------------------------------------------------------------------

DEPTHWISE_CASES = [c for c in CASES if channels(c) == (c.options["groups"],) * 3] + [
    Case.separable_conv2d(
        "dw-stride-dilation",
        2,
        3,
        3,
        3,
        (11, 9),
        (3, 2),
        stride=(2, 3),
        padding=(1, 2),
        dilation=(2, 1),
        groups=3,
    ),
    Case.separable_conv2d(
        "dw-same-even",
        1,
        5,
        5,
        5,
        (6, 7),
        (4, 2),
        padding="same",
        dilation=(1, 2),
        groups=5,
    ),
    Case.separable_conv2d(
        "dw-valid", 2, 2, 2, 2, (6, 5), (5, 3), padding="valid", groups=2, bias=False
    ),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=case_id)
def test_depthwise_equals_conv_with_rank1_kernels(case: Case):
    """groups = C_in = C_mid = C_out: one convolution with kernel column ⊗ row for each channel."""
    assert channels(case) == (case.options["groups"],) * 3
    x, column, row, bias = case.tensors(seed=1)
    kernels = torch.einsum("ci,cj->cij", column[:, 0, :, 0], row[:, 0, 0, :]).unsqueeze(
        1
    )  # (C, 1, kh, kw)
    assert all(torch.linalg.matrix_rank(k[0]) == 1 for k in kernels)
    expected = F.conv2d(
        x,
        kernels,
        bias,
        groups=case.options["groups"],
        **{k: v for k, v in case.kwargs().items() if k != "groups"},
    )
    torch.testing.assert_close(
        functional.separable_conv2d(x, column, row, bias, **case.kwargs()),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(
        reference.separable_conv2d(*case.arrays(seed=1), **case.kwargs()),
        expected.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize(
    "rank, kernel_size, kwargs",
    [
        (1, (3, 3), dict(padding=1)),
        (2, (3, 5), dict()),
        (3, (5, 5), dict(padding="same")),
        (2, (4, 2), dict(padding="same", dilation=(2, 1))),
        (4, (4, 6), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    ],
    ids=str,
)
def test_sum_of_outer_products(rank, kernel_size, kwargs):
    """One input and output channel, C_mid = r: the convolution with kernel sum_r c_r r_r^T."""
    rng = np.random.default_rng(2)
    kh, kw = kernel_size
    x = rng.standard_normal((2, 1, 9, 10))
    columns, rows = rng.standard_normal((rank, kh)), rng.standard_normal((rank, kw))
    kernel = sum(np.outer(columns[i], rows[i]) for i in range(rank))
    assert np.linalg.matrix_rank(kernel) == rank
    bias = rng.standard_normal(1)
    expected = F.conv2d(
        *(torch.from_numpy(a) for a in (x, kernel[None, None], bias)), **kwargs
    )
    column_weight, row_weight = (
        columns[:, None, :, None],
        rows[None, :, None, :],
    )  # (r, 1, kh, 1), (1, r, 1, kw)
    y = reference.separable_conv2d(x, column_weight, row_weight, bias, **kwargs)
    np.testing.assert_allclose(y, expected.numpy(), rtol=RTOL, atol=ATOL)
    y = functional.separable_conv2d(
        *(torch.from_numpy(a) for a in (x, column_weight, row_weight, bias)), **kwargs
    )
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)


SOBEL_X = np.array(
    [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
)  # as printed (Sobel & Feldman)


def test_sobel_as_column_then_row():
    """Sobel's x-derivative kernel is the smoothing column [1, 2, 1] times the difference row [-1, 0, 1]."""
    x = np.random.default_rng(3).standard_normal((1, 1, 8, 9))
    column = np.array([1.0, 2.0, 1.0]).reshape(1, 1, 3, 1)
    row = np.array([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(SOBEL_X)[None, None], padding=1
    )
    np.testing.assert_allclose(
        reference.separable_conv2d(x, column, row, padding=1),
        expected.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )
    y = functional.separable_conv2d(
        *(torch.from_numpy(a) for a in (x, column, row)), padding=1
    )
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kernel_size", [(3, 3), (5, 3), (2, 4)])
def test_factorized_kernel_drives_separable_conv(kernel_size):
    """A kernel factorised at full rank, run as C_mid = rank separable convolution, gives torch's conv with the kernel."""
    rng = np.random.default_rng(4)
    kernel = rng.standard_normal(kernel_size)
    x = rng.standard_normal((2, 1, 7, 8))
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(kernel)[None, None], padding="same"
    )
    columns, rows = reference.factorize_kernel(kernel)
    y = reference.separable_conv2d(
        x, columns[:, None, :, None], rows[None, :, None, :], padding="same"
    )
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-9, atol=1e-9)
    columns, rows = functional.factorize_kernel(torch.from_numpy(kernel))
    y = functional.separable_conv2d(
        torch.from_numpy(x),
        columns[:, None, :, None],
        rows[None, :, None, :],
        padding="same",
    )
    torch.testing.assert_close(y, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# Gradients and dtypes
# ---------------------------------------------------------------------------

GRAD_CASES = [
    Case.separable_conv2d("3x3", 1, 2, 3, 2, (4, 4), (3, 3), padding=1),
    Case.separable_conv2d(
        "groups-stride", 1, 4, 2, 4, (4, 4), (3, 2), stride=2, groups=2
    ),
    Case.separable_conv2d(
        "dilation", 1, 2, 2, 3, (4, 5), (2, 3), dilation=(2, 1), padding=(1, 0)
    ),
    Case.separable_conv2d("same-even", 1, 2, 2, 2, (4, 4), (2, 4), padding="same"),
    Case.separable_conv2d(
        "depthwise", 1, 3, 3, 3, (4, 4), (3, 3), groups=3, stride=(1, 2)
    ),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradcheck(case: Case):
    inputs = tuple(a.requires_grad_() for a in case.tensors(seed=5))
    assert torch.autograd.gradcheck(
        lambda x, c, r, b: functional.separable_conv2d(x, c, r, b, **case.kwargs()),
        inputs,
        eps=1e-6,
        atol=1e-7,
    )


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradients_match_torch_two_pass(case: Case):
    tensors = case.tensors(seed=6)
    ours = [a.clone().requires_grad_() for a in tensors]
    theirs = [a.clone().requires_grad_() for a in tensors]
    expected = torch_two_pass(*theirs, **case.kwargs())
    grad_out = torch.from_numpy(
        np.random.default_rng(7).standard_normal(tuple(expected.shape))
    )
    functional.separable_conv2d(*ours, **case.kwargs()).backward(grad_out)
    expected.backward(grad_out)
    for name, a, b in zip(("x", "column_weight", "row_weight", "bias"), ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL, msg=name)


F32_CASES = [
    CASES[2],
    CASES[7],
    CASES[13],
    CASES[16],
]  # stride, same-even, groups, depthwise multiplier


@pytest.mark.parametrize("case", F32_CASES, ids=case_id)
def test_reference_keeps_float32(case: Case):
    arrays = case.arrays(seed=8, dtype=np.float32)
    y = reference.separable_conv2d(*arrays, **case.kwargs())
    assert y.dtype == np.float32
    expected = torch_two_pass(*(torch.from_numpy(a) for a in arrays), **case.kwargs())
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", F32_CASES, ids=case_id)
def test_functional_float32_matches_torch_float32(case: Case):
    tensors = case.tensors(seed=9, dtype=np.float32)
    y = functional.separable_conv2d(*tensors, **case.kwargs())
    assert y.dtype == torch.float32
    torch.testing.assert_close(
        y, torch_two_pass(*tensors, **case.kwargs()), rtol=1e-5, atol=1e-5
    )


def test_non_contiguous_inputs():
    case = Case.separable_conv2d("nc", 2, 3, 3, 3, (7, 6), (3, 3), padding=1, groups=3)
    x, column, row, bias = case.tensors(seed=10)
    x_view = x.transpose(2, 3).contiguous().transpose(2, 3)
    column_view = column.contiguous(memory_format=torch.channels_last)
    assert not x_view.is_contiguous()
    expected = torch_two_pass(x, column, row, bias, **case.kwargs())
    torch.testing.assert_close(
        functional.separable_conv2d(x_view, column_view, row, bias, **case.kwargs()),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )
    x_np = x_view.numpy()
    assert not x_np.flags.c_contiguous
    np.testing.assert_allclose(
        reference.separable_conv2d(
            x_np, column.numpy(), row.numpy(), bias.numpy(), **case.kwargs()
        ),
        expected.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


# ---------------------------------------------------------------------------
# Bad calls: one table, both versions, the same error and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def _base_arrays() -> dict:
    """A valid call: C_in = 4, C_mid = 6, C_out = 8, 3x3 (column 3x1, row 1x3), 6x6 input."""
    rng = np.random.default_rng(11)
    return dict(
        x=rng.standard_normal((2, 4, 6, 6)).astype(np.float32),
        column_weight=rng.standard_normal((6, 4, 3, 1)).astype(np.float32),
        row_weight=rng.standard_normal((8, 6, 1, 3)).astype(np.float32),
        bias=rng.standard_normal(8).astype(np.float32),
    )


BAD_CALLS = [
    # (description, overrides of the base call, exception, regex of the message)
    (
        "column_weight last dim != 1",
        dict(column_weight=_f32(6, 4, 3, 2)),
        ValueError,
        r"^column_weight must have shape \(C_mid, C_in / groups, kh, 1\), got shape \(6, 4, 3, 2\)$",
    ),
    (
        "column_weight empty kernel",
        dict(column_weight=_f32(6, 4, 0, 1)),
        ValueError,
        r"^column_weight must have shape \(C_mid, C_in / groups, kh, 1\), got shape \(6, 4, 0, 1\)$",
    ),
    (
        "row_weight third dim != 1",
        dict(row_weight=_f32(8, 6, 3, 3)),
        ValueError,
        r"^row_weight must have shape \(C_out, C_mid / groups, 1, kw\), got shape \(8, 6, 3, 3\)$",
    ),
    (
        "row_weight empty kernel",
        dict(row_weight=_f32(8, 6, 1, 0)),
        ValueError,
        r"^row_weight must have shape \(C_out, C_mid / groups, 1, kw\), got shape \(8, 6, 1, 0\)$",
    ),
    (
        "row_weight.shape[1] != C_mid / groups",
        dict(row_weight=_f32(8, 4, 1, 3)),
        ValueError,
        r"^row_weight\.shape\[1\] must be C_mid / groups = 6 / 1 = 6, got row_weight of shape \(8, 4, 1, 3\)$",
    ),
    (
        "row_weight.shape[1] != C_mid / groups with groups",
        dict(column_weight=_f32(6, 2, 3, 1), groups=2),
        ValueError,
        r"^row_weight\.shape\[1\] must be C_mid / groups = 6 / 2 = 3, got row_weight of shape \(8, 6, 1, 3\)$",
    ),
    (
        "column_weight.shape[1] != C_in / groups",
        dict(column_weight=_f32(6, 3, 3, 1)),
        ValueError,
        r"^column_weight\.shape\[1\] must be C_in / groups = 4 / 1 = 4, got column_weight of shape \(6, 3, 3, 1\)$",
    ),
    (
        "column_weight.shape[1] != C_in / groups with groups",
        dict(groups=2),
        ValueError,
        r"^column_weight\.shape\[1\] must be C_in / groups = 4 / 2 = 2, got column_weight of shape \(6, 4, 3, 1\)$",
    ),
    (
        "groups does not divide C_in",
        dict(groups=3),
        ValueError,
        r"^groups must divide the input channels: 4 channels, groups=3$",
    ),
    (
        "groups does not divide C_mid",
        dict(column_weight=_f32(5, 2, 3, 1), row_weight=_f32(8, 2, 1, 3), groups=2),
        ValueError,
        r"^groups must divide the middle channels: 5 channels, groups=2$",
    ),
    (
        "groups does not divide C_out",
        dict(column_weight=_f32(6, 2, 3, 1), row_weight=_f32(7, 3, 1, 3), groups=2),
        ValueError,
        r"^groups must divide the output channels: 7 channels, groups=2$",
    ),
    ("groups 0", dict(groups=0), ValueError, r"^groups must be >= 1, got 0$"),
    ("groups float", dict(groups=2.0), TypeError, r"^groups must be an int, got 2\.0$"),
    (
        "bias wrong length",
        dict(bias=_f32(6)),
        ValueError,
        r"^bias must have shape \(8,\), got shape \(6,\)$",
    ),
    (
        "bias 2-D",
        dict(bias=_f32(8, 1)),
        ValueError,
        r"^bias must be 1-D with shape \(C_out,\), got shape \(8, 1\)$",
    ),
    (
        "bias other dtype",
        dict(bias=np.zeros(8)),
        TypeError,
        r"^bias must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "column_weight other dtype",
        dict(column_weight=np.zeros((6, 4, 3, 1))),
        TypeError,
        r"^column_weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "row_weight other dtype",
        dict(row_weight=np.zeros((8, 6, 1, 3))),
        TypeError,
        r"^row_weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "column_weight 3-D",
        dict(column_weight=_f32(6, 4, 3)),
        ValueError,
        r"^column_weight must be 4-D with shape \(C_mid, C_in / groups, kh, 1\), got shape \(6, 4, 3\)$",
    ),
    (
        "row_weight 2-D",
        dict(row_weight=_f32(8, 6)),
        ValueError,
        r"^row_weight must be 4-D with shape \(C_out, C_mid / groups, 1, kw\), got shape \(8, 6\)$",
    ),
    (
        "row_weight 5-D",
        dict(row_weight=_f32(8, 6, 1, 1, 3)),
        ValueError,
        r"^row_weight must be 4-D with shape .*got shape \(8, 6, 1, 1, 3\)$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(4, 6, 6)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 6, 6\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((2, 4, 6, 6), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "integer column_weight",
        dict(column_weight=np.zeros((6, 4, 3, 1), dtype=np.int32)),
        TypeError,
        r"^column_weight must have a floating dtype, got int32$",
    ),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
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
        "dilation 0",
        dict(dilation=(0, 1)),
        ValueError,
        r"^dilation must be >= 1, got \(0, 1\)$",
    ),
    (
        "negative padding",
        dict(padding=(0, -1)),
        ValueError,
        r"^padding must be >= 0, got \(0, -1\)$",
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
        "padding same with stride 2",
        dict(padding="same", stride=2),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
    (
        "padding same with stride pair",
        dict(padding="same", stride=(1, 2)),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(1, 2\)$",
    ),
    (
        "x too small in height",
        dict(x=_f32(2, 4, 2, 6)),
        ValueError,
        r"^separable_conv2d: x is too small: padded height 2 is less than the dilated kernel height 3$",
    ),
    (
        "x too small for the dilated row",
        dict(dilation=(1, 3)),
        ValueError,
        r"^separable_conv2d: x is too small: padded width 6 is less than the dilated kernel width 7$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse(
        SEPARABLE.versions, {**_base_arrays(), **overrides}, exception, pattern
    )


def test_bad_call_rows_are_good_without_override():
    """The base call of the table is valid (and right), so each row fails for its own reason only."""
    kwargs = _base_arrays()
    expected = torch_two_pass(**to_torch(kwargs))
    np.testing.assert_allclose(
        reference.separable_conv2d(**kwargs), expected.numpy(), rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(
        functional.separable_conv2d(**to_torch(kwargs)), expected, rtol=1e-5, atol=1e-5
    )
    # and the rows that change groups are valid once every shape agrees
    grouped = {
        **kwargs,
        "column_weight": _f32(6, 2, 3, 1),
        "row_weight": _f32(8, 3, 1, 3),
        "groups": 2,
    }
    assert reference.separable_conv2d(**grouped).shape == (2, 8, 4, 4)


@pytest.mark.parametrize("argument", ["x", "column_weight", "row_weight", "bias"])
def test_wrong_array_type_names_each_versions_type(argument):
    kwargs = _base_arrays()
    kwargs[argument] = kwargs[argument].tolist()
    message = refusal(reference.separable_conv2d, kwargs, TypeError)
    assert message == f"{argument} must be a numpy.ndarray, got list"
    message = refusal(functional.separable_conv2d, to_torch(kwargs), TypeError)
    assert message == f"{argument} must be a torch.Tensor, got list"


# ---------------------------------------------------------------------------
# factorize_kernel
# ---------------------------------------------------------------------------

FACTORIZE_VERSIONS = versions("factorize_kernel")


def _gaussian(size: int, sigma: float) -> np.ndarray:
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


RANK1_KERNELS = {
    "sobel-x": SOBEL_X,
    "sobel-y": SOBEL_X.T,
    "gaussian-5x5": np.outer(_gaussian(5, 1.0), _gaussian(5, 1.0)),
    "gaussian-7x3": np.outer(_gaussian(7, 2.0), _gaussian(3, 0.8)),
    "box-3x4": np.full((3, 4), 1 / 12),
    "one-tap": np.array([[2.5]]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("version", list(FACTORIZE_VERSIONS))
@pytest.mark.parametrize("name", list(RANK1_KERNELS))
def test_factorize_rank1_kernels(name, version, dtype):
    kernel = RANK1_KERNELS[name].astype(dtype)
    factorize = FACTORIZE_VERSIONS[version]
    columns, rows = factorize(kernel)
    kh, kw = kernel.shape
    assert columns.shape == (1, kh) and rows.shape == (1, kw)  # rank 1 found on its own
    assert columns.dtype == dtype and rows.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(columns.T @ rows, kernel, rtol=tol, atol=tol)


def test_sobel_factors_are_smoothing_and_difference():
    """Up to scale and sign, Sobel's factors are [1, 2, 1] and [-1, 0, 1]."""
    for factorize in FACTORIZE_VERSIONS.values():
        columns, rows = factorize(SOBEL_X)
        column, row = columns[0], rows[0]
        np.testing.assert_allclose(column / column[0], [1.0, 2.0, 1.0], atol=1e-12)
        np.testing.assert_allclose(row / row[2], [-1.0, 0.0, 1.0], atol=1e-12)
        assert math.isclose(column[0] * row[2], 1.0, rel_tol=1e-12)


@pytest.mark.parametrize("version", list(FACTORIZE_VERSIONS))
@pytest.mark.parametrize("shape", [(3, 3), (5, 5), (3, 7), (6, 2), (1, 4)])
def test_factorize_random_kernel_at_full_rank(shape, version):
    kernel = np.random.default_rng(12).standard_normal(shape)
    factorize = FACTORIZE_VERSIONS[version]
    columns, rows = factorize(kernel)
    assert columns.shape == (min(shape), shape[0]) and rows.shape == (
        min(shape),
        shape[1],
    )
    np.testing.assert_allclose(columns.T @ rows, kernel, rtol=1e-12, atol=1e-12)


def _singular_values(kernel: np.ndarray) -> np.ndarray:
    """Singular values, largest first, as square roots of the eigenvalues of K^T K (or K K^T), not an SVD."""
    gram = (
        kernel.T @ kernel if kernel.shape[1] <= kernel.shape[0] else kernel @ kernel.T
    )
    return np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0, None))[::-1]


@pytest.mark.parametrize("version", list(FACTORIZE_VERSIONS))
@pytest.mark.parametrize("shape", [(5, 5), (4, 7), (7, 3)])
def test_factorize_truncated_is_eckart_young_optimal(shape, version):
    rng = np.random.default_rng(13)
    kernel = rng.standard_normal(shape)
    sigma = _singular_values(kernel)
    np.testing.assert_allclose(
        sigma, np.linalg.svd(kernel, compute_uv=False), rtol=1e-10
    )
    factorize = FACTORIZE_VERSIONS[version]
    for rank in range(1, min(shape) + 1):
        columns, rows = factorize(kernel, rank)
        assert columns.shape == (rank, shape[0]) and rows.shape == (rank, shape[1])
        approximation = columns.T @ rows
        assert np.linalg.matrix_rank(approximation) == rank
        error = np.linalg.norm(kernel - approximation)
        optimum = math.sqrt(float(np.sum(sigma[rank:] ** 2)))
        assert math.isclose(error, optimum, rel_tol=1e-9, abs_tol=1e-12), (
            rank,
            error,
            optimum,
        )
        # no other rank-r matrix does better: random ones, and random small moves from ours
        for _ in range(5):
            other = rng.standard_normal((shape[0], rank)) @ rng.standard_normal(
                (rank, shape[1])
            )
            assert np.linalg.norm(kernel - other) >= optimum
            moved = (columns + 1e-3 * rng.standard_normal(columns.shape)).T @ (
                rows + 1e-3 * rng.standard_normal(rows.shape)
            )
            assert np.linalg.norm(kernel - moved) >= optimum - 1e-12


def _kernel_of_rank(
    rng: np.random.Generator, shape: tuple[int, int], rank: int
) -> np.ndarray:
    if rank == 0:
        return np.zeros(shape)
    return rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))


@pytest.mark.parametrize("version", list(FACTORIZE_VERSIONS))
@pytest.mark.parametrize("shape", [(3, 3), (5, 5), (4, 7), (7, 2)])
def test_factorize_default_rank_is_matrix_rank(shape, version):
    rng = np.random.default_rng(14)
    factorize = FACTORIZE_VERSIONS[version]
    for rank in range(1, min(shape) + 1):
        for dtype in (np.float64, np.float32):
            kernel = _kernel_of_rank(rng, shape, rank).astype(dtype)
            expected = int(np.linalg.matrix_rank(kernel))
            assert expected == rank
            columns, rows = factorize(kernel)
            assert columns.shape[0] == rows.shape[0] == expected, (rank, dtype)
            tol = 1e-10 if dtype == np.float64 else 1e-4
            np.testing.assert_allclose(
                columns.T @ rows, kernel, rtol=tol, atol=tol * np.abs(kernel).max()
            )


@pytest.mark.parametrize("version", list(FACTORIZE_VERSIONS))
def test_factorize_zero_kernel_gives_one_zero_term(version):
    """matrix_rank of zeros is 0; the documented default keeps at least one (zero) term."""
    factorize = FACTORIZE_VERSIONS[version]
    kernel = np.zeros((3, 4))
    assert np.linalg.matrix_rank(kernel) == 0
    columns, rows = factorize(kernel)
    assert columns.shape == (1, 3) and rows.shape == (1, 4)
    np.testing.assert_array_equal(columns.T @ rows, kernel)


def _well_conditioned_kernel(shape: tuple[int, int], singular_values) -> np.ndarray:
    """A kernel with the given (distinct, well-separated) singular values, from random orthogonal factors."""
    rng = np.random.default_rng(15)
    u, _ = np.linalg.qr(rng.standard_normal((shape[0], shape[0])))
    v, _ = np.linalg.qr(rng.standard_normal((shape[1], shape[1])))
    k = len(singular_values)
    return u[:, :k] @ np.diag(singular_values) @ v[:, :k].T


@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (4, 2)])
def test_factorize_functional_gradcheck_full_rank(shape):
    kernel = torch.from_numpy(
        _well_conditioned_kernel(shape, [4.0, 2.5, 1.0][: min(shape)])
    ).requires_grad_()

    def reconstruction(k):
        columns, rows = functional.factorize_kernel(k, rank=min(shape))
        return columns.T @ rows

    assert torch.autograd.gradcheck(reconstruction, (kernel,), eps=1e-6, atol=1e-7)
    # at full rank the reconstruction is the kernel itself: its gradient is the identity
    grad_out = torch.from_numpy(np.random.default_rng(16).standard_normal(shape))
    reconstruction(kernel).backward(grad_out)
    torch.testing.assert_close(kernel.grad, grad_out, rtol=1e-10, atol=1e-10)


def test_factorize_functional_gradcheck_truncated():
    """Below full rank the gradient is that of the best rank-r approximation (finite differences agree)."""
    kernel = torch.from_numpy(
        _well_conditioned_kernel((4, 5), [5.0, 3.0, 1.5, 0.5])
    ).requires_grad_()
    for rank in (1, 2, 3):
        assert torch.autograd.gradcheck(
            lambda k: (lambda c, r: c.T @ r)(
                *functional.factorize_kernel(k, rank=rank)
            ),
            (kernel,),
            eps=1e-6,
            atol=1e-7,
        )


FACTORIZE_BAD_CALLS = [
    (
        "1-D kernel",
        _f32(3),
        None,
        ValueError,
        r"^kernel must be 2-D with shape \(kh, kw\), got shape \(3,\)$",
    ),
    (
        "3-D kernel",
        _f32(1, 3, 3),
        None,
        ValueError,
        r"^kernel must be 2-D with shape \(kh, kw\), got shape \(1, 3, 3\)$",
    ),
    (
        "empty kernel",
        _f32(0, 3),
        None,
        ValueError,
        r"^kernel must be at least 1x1, got shape \(0, 3\)$",
    ),
    (
        "empty kernel with rank",
        _f32(2, 0),
        1,
        ValueError,
        r"^kernel must be at least 1x1, got shape \(2, 0\)$",
    ),
    ("rank 0", _f32(3, 3), 0, ValueError, r"^rank must be >= 1, got 0$"),
    ("rank negative", _f32(3, 3), -1, ValueError, r"^rank must be >= 1, got -1$"),
    (
        "rank > min(kh, kw)",
        _f32(3, 5),
        4,
        ValueError,
        r"^rank must be <= min\(kh, kw\) = 3, got 4$",
    ),
    ("rank float", _f32(3, 3), 1.0, TypeError, r"^rank must be an int, got 1\.0$"),
    ("rank bool", _f32(3, 3), True, TypeError, r"^rank must be an int, got True$"),
    (
        "integer kernel",
        np.ones((3, 3), dtype=np.int64),
        None,
        TypeError,
        r"^kernel must have a floating dtype, got int64$",
    ),
    (
        "float16 kernel",
        np.ones((3, 3), dtype=np.float16),
        None,
        TypeError,
        r"^kernel must be float32 or float64, got float16$",
    ),
]


@pytest.mark.parametrize(
    "description, kernel, rank, exception, pattern",
    FACTORIZE_BAD_CALLS,
    ids=[row[0] for row in FACTORIZE_BAD_CALLS],
)
def test_factorize_bad_calls(description, kernel, rank, exception, pattern):
    assert_both_refuse(
        FACTORIZE_VERSIONS, dict(kernel=kernel, rank=rank), exception, pattern
    )


def test_factorize_wrong_array_type():
    assert (
        refusal(reference.factorize_kernel, dict(kernel=[[1.0]]), TypeError)
        == "kernel must be a numpy.ndarray, got list"
    )
    assert refusal(
        functional.factorize_kernel, dict(kernel=np.ones((2, 2))), TypeError
    ) == ("kernel must be a torch.Tensor, got numpy.ndarray")
