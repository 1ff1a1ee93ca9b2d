"""Dilated convolution computed two ways (zero-inserted kernel; space-to-batch), and causal_conv1d.

Oracles, none of them convref: ``torch.nn.functional.conv2d(dilation=...)``; the definition of
the dilated kernel (taps at multiples of the rate, zeros between); ``torch.nn.functional.pixel_unshuffle``
for the space-to-batch split (it moves the same pixels, into channels instead of the batch);
``torch.nn.functional.conv1d`` on a left-padded sequence and a perturbation of the future for
causality; PyTorch's ``torch.nn.Conv1d`` for the layer.
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
from harness import Case, Operator, assert_both_refuse, bad_calls, case_id, versions

RTOL, ATOL = 1e-10, 1e-10


CASES = [
    Case.conv2d("rate1-is-ordinary", 2, 3, 4, (7, 7), (3, 3)),
    Case.conv2d("rate2", 2, 3, 4, (9, 9), (3, 3), dilation=2),
    Case.conv2d("rate2-same", 1, 2, 3, (8, 9), (3, 3), padding="same", dilation=2),
    Case.conv2d(
        "rate3-odd-size", 2, 2, 2, (11, 10), (3, 3), padding=3, dilation=3
    ),  # block does not divide the image
    Case.conv2d("rate-pair", 1, 2, 3, (9, 12), (3, 2), padding=(1, 2), dilation=(2, 3)),
    Case.conv2d(
        "rate-pair-same-even", 1, 2, 2, (10, 9), (2, 4), padding="same", dilation=(3, 1)
    ),
    Case.conv2d(
        "rate2-stride2", 2, 2, 3, (11, 11), (3, 3), stride=2, padding=2, dilation=2
    ),
    Case.conv2d(
        "rate2-stride-pair",
        1,
        2,
        2,
        (12, 11),
        (3, 3),
        stride=(3, 2),
        padding=1,
        dilation=(2, 4),
    ),
    Case.conv2d("rate4-no-bias", 1, 3, 2, (13, 13), (3, 3), dilation=4, bias=False),
    Case.conv2d("groups2", 2, 4, 6, (9, 9), (3, 3), padding=2, dilation=2, groups=2),
    Case.conv2d(
        "depthwise-rate6", 1, 3, 3, (14, 15), (3, 3), padding=6, dilation=6, groups=3
    ),  # DeepLab's ASPP rate
    Case.conv2d("kernel1-rate5", 1, 2, 3, (5, 6), (1, 1), dilation=5),
    Case.conv2d("kernel-spans-input", 2, 2, 2, (5, 5), (3, 3), dilation=2),
    Case.conv2d("empty-batch", 0, 2, 2, (7, 7), (3, 3), dilation=2),
]

#: Both constructions in both versions, against PyTorch's dilated convolution.
DILATED = Operator(
    versions("conv2d_dilated_kernel", "conv2d_space_to_batch"), oracle=F.conv2d
)
DILATED_VERSIONS = DILATED.versions


@pytest.mark.parametrize("name", DILATED_VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_dilated_conv(case: Case, name: str):
    DILATED.check(case, rtol=RTOL, atol=ATOL, only=[name])


@st.composite
def geometries(draw):
    groups = draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if stride == (1, 1) and draw(st.booleans()):
        padding, totals = "same", tuple(d * (k - 1) for k, d in zip(kernel, dilation))
    else:
        padding = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
        totals = (2 * padding[0], 2 * padding[1])
    size = []
    for k, d, total in zip(kernel, dilation, totals):
        smallest = max(1, d * (k - 1) + 1 - total)
        size.append(draw(st.integers(smallest, smallest + 7)))
    case = Case.conv2d(
        "property",
        draw(st.integers(1, 2)),
        groups * draw(st.integers(1, 2)),
        groups * draw(st.integers(1, 2)),
        tuple(size),
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    )
    return case, draw(st.integers(0, 2**16))


@settings(max_examples=50, deadline=None)
@given(geometries())
def test_property_both_constructions_match_torch(case_and_seed):
    case, seed = case_and_seed
    DILATED.check(case, rtol=RTOL, atol=ATOL, seed=seed)


# ---------------------------------------------------------------------------
# The pieces: the dilated kernel and the space-to-batch split
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", [reference, functional], ids=["reference", "functional"]
)
@pytest.mark.parametrize(
    "kernel_size, dilation", [((3, 3), 2), ((3, 3), 1), ((2, 4), (3, 2)), ((1, 1), 4)]
)
def test_dilate_kernel_puts_taps_at_multiples_of_the_rate(
    version, kernel_size, dilation
):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((2, 3, *kernel_size))
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    out = version.dilate_kernel(
        torch.from_numpy(weight) if version is functional else weight, dilation
    )
    out = np.asarray(out)
    kh, kw = kernel_size
    assert out.shape == (2, 3, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    for u in range(out.shape[2]):
        for v in range(out.shape[3]):
            if u % dh == 0 and v % dw == 0:
                np.testing.assert_array_equal(
                    out[:, :, u, v], weight[:, :, u // dh, v // dw]
                )
            else:
                assert not out[:, :, u, v].any()


def test_dilate_kernel_gradient_reaches_the_taps_only():
    weight = torch.randn(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    functional.dilate_kernel(weight, 2).sum().backward()
    torch.testing.assert_close(weight.grad, torch.ones_like(weight))


def _space_to_batch_oracle(x: torch.Tensor, block: int) -> torch.Tensor:
    """pixel_unshuffle moves the same pixels into channels (c * r^2 + a * r + b); move them to the batch."""
    n, c, h, w = x.shape
    unshuffled = F.pixel_unshuffle(x, block).reshape(
        n, c, block, block, h // block, w // block
    )
    return unshuffled.permute(2, 3, 0, 1, 4, 5).reshape(
        block * block * n, c, h // block, w // block
    )


@pytest.mark.parametrize(
    "version", [reference, functional], ids=["reference", "functional"]
)
@pytest.mark.parametrize("block", [1, 2, 3])
def test_space_to_batch_matches_pixel_unshuffle(version, block):
    x = torch.randn(2, 3, 6, 12, dtype=torch.float64)
    expected = _space_to_batch_oracle(x, block)
    out = version.space_to_batch(x if version is functional else x.numpy(), block)
    np.testing.assert_array_equal(np.asarray(out), expected.numpy())
    back = version.batch_to_space(out, block)
    np.testing.assert_array_equal(
        np.asarray(back), x.numpy()
    )  # it is a permutation of the pixels


@pytest.mark.parametrize(
    "version", [reference, functional], ids=["reference", "functional"]
)
def test_space_to_batch_rectangular_block_is_strided_slicing(version):
    x = np.arange(2 * 1 * 6 * 6, dtype=np.float64).reshape(2, 1, 6, 6)
    arg = torch.from_numpy(x) if version is functional else x
    out = np.asarray(version.space_to_batch(arg, (2, 3)))
    assert out.shape == (12, 1, 3, 2)
    for index, (a, b) in enumerate((a, b) for a in range(2) for b in range(3)):
        np.testing.assert_array_equal(
            out[2 * index : 2 * index + 2], x[:, :, a::2, b::3]
        )


def test_each_sub_image_sees_an_undilated_kernel():
    """The claim behind space-to-batch: output phase (a, b) of a rate-d conv is an ordinary conv of sub-image (a, b)."""
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal((1, 2, 12, 12)), rng.standard_normal((3, 2, 3, 3))
    dilated = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), dilation=2
    ).numpy()  # 8 x 8
    for a in range(2):
        for b in range(2):
            ordinary = F.conv2d(
                torch.from_numpy(x[:, :, a::2, b::2].copy()), torch.from_numpy(weight)
            ).numpy()
            np.testing.assert_allclose(
                dilated[:, :, a::2, b::2], ordinary, rtol=RTOL, atol=ATOL
            )


# ---------------------------------------------------------------------------
# Gradients, dtypes
# ---------------------------------------------------------------------------

GRAD_CASES = [
    Case.conv2d("g-rate2-same", 1, 1, 2, (5, 4), (3, 3), padding="same", dilation=2),
    Case.conv2d(
        "g-rate-pair-stride",
        1,
        1,
        2,
        (6, 5),
        (2, 2),
        stride=(2, 1),
        padding=1,
        dilation=(3, 2),
    ),
    Case.conv2d("g-groups", 1, 2, 2, (5, 5), (2, 2), dilation=2, groups=2),
]


@pytest.mark.parametrize(
    "name", ["functional.conv2d_dilated_kernel", "functional.conv2d_space_to_batch"]
)
@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradcheck(case: Case, name: str):
    call = DILATED_VERSIONS[name].call
    inputs = tuple(a.requires_grad_() for a in case.tensors(seed=3))
    assert torch.autograd.gradcheck(
        lambda x, w, b: call(x, w, b, **case.kwargs()), inputs, eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("name", DILATED_VERSIONS)
def test_float32_is_kept(name):
    case = CASES[3]
    y = DILATED_VERSIONS[name].on(case, seed=4, dtype=np.float32)
    assert y.dtype == np.float32
    np.testing.assert_allclose(
        y,
        F.conv2d(*case.tensors(4, np.float32), **case.kwargs()).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


# ---------------------------------------------------------------------------
# causal_conv1d
# ---------------------------------------------------------------------------

CAUSAL_VERSIONS = versions("causal_conv1d")


def _causal(name, x, weight, bias=None, dilation=1, groups=1) -> np.ndarray:
    return CAUSAL_VERSIONS[name](x, weight, bias, dilation, groups)


@pytest.mark.parametrize("name", CAUSAL_VERSIONS)
@pytest.mark.parametrize(
    "kernel_size, dilation, groups, length",
    [
        (2, 1, 1, 10),
        (2, 4, 1, 12),
        (3, 2, 2, 9),
        (3, 5, 1, 4),
        (1, 3, 1, 5),
        (4, 1, 2, 3),
    ],
)
def test_causal_conv1d_matches_left_padded_conv1d(
    name, kernel_size, dilation, groups, length
):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2 * groups, length))
    weight = rng.standard_normal((3 * groups, 2, kernel_size))
    bias = rng.standard_normal(3 * groups)
    history = dilation * (kernel_size - 1)
    expected = F.conv1d(
        F.pad(torch.from_numpy(x), (history, 0)),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        dilation=dilation,
        groups=groups,
    ).numpy()
    y = _causal(name, x, weight, bias, dilation, groups)
    assert y.shape == x.shape[:1] + (3 * groups, length)
    np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", CAUSAL_VERSIONS)
def test_causal_conv1d_never_sees_the_future(name):
    rng = np.random.default_rng(6)
    x, weight = rng.standard_normal((1, 2, 16)), rng.standard_normal((2, 2, 3))
    y = _causal(name, x, weight, dilation=2)
    for t in range(16):
        changed = x.copy()
        changed[:, :, t:] += rng.standard_normal(changed[:, :, t:].shape)
        np.testing.assert_allclose(
            _causal(name, changed, weight, dilation=2)[:, :, :t],
            y[:, :, :t],
            rtol=RTOL,
            atol=ATOL,
        )


def test_wavenet_stack_receptive_field_doubles_per_layer():
    """Rates 1, 2, 4, ...: the last output depends on exactly 2^L past samples (k = 2), found by autograd."""
    torch.manual_seed(0)
    length = 80
    for depth in range(1, 7):
        x = torch.randn(1, 1, length, dtype=torch.float64, requires_grad=True)
        y = x
        for layer in range(depth):
            weight = (
                torch.rand(1, 1, 2, dtype=torch.float64) + 0.5
            )  # positive taps: no cancellation
            y = functional.causal_conv1d(y, weight, dilation=2**layer)
        y[0, 0, -1].backward()
        reached = torch.nonzero(x.grad[0, 0]).flatten()
        assert reached.max().item() == length - 1  # the present
        assert (
            length - reached.min().item() == 2**depth
        )  # and 2^depth - 1 steps of the past, no more


def test_causal_conv1d_gradcheck():
    x = torch.randn(1, 2, 7, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 1, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: functional.causal_conv1d(x, w, b, 2, 2), (x, weight, bias)
    )


def test_causal_conv1d_layer_matches_torch_conv1d():
    torch.manual_seed(0)
    theirs = torch.nn.Conv1d(4, 6, 3, dilation=2, groups=2).double()
    torch.manual_seed(0)
    ours = cnn.CausalConv1d(4, 6, 3, dilation=2, groups=2).double()
    torch.testing.assert_close(
        ours.weight, theirs.weight, rtol=0, atol=0
    )  # same default init, draw for draw
    torch.testing.assert_close(ours.bias, theirs.bias, rtol=0, atol=0)
    x = torch.randn(2, 4, 11, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(F.pad(x, (4, 0))), rtol=RTOL, atol=ATOL)
    assert ours.receptive_field == 5


# ---------------------------------------------------------------------------
# Bad calls: both versions, the same error and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


CONV_BAD_CALLS = [
    ("dilation 0", dict(dilation=0), ValueError, r"^dilation must be >= 1, got 0$"),
    (
        "dilation float",
        dict(dilation=2.0),
        TypeError,
        r"^dilation must be an int or a pair of ints, got 2\.0$",
    ),
    (
        "dilated kernel larger than the input",
        dict(dilation=4),
        ValueError,
        r"x is too small: padded height 7 is less than the dilated kernel height 9$",
    ),
    (
        "groups do not divide",
        dict(groups=2),
        ValueError,
        r"^groups must divide the input channels: x has 3 channels",
    ),
    (
        "same with stride",
        dict(padding="same", stride=2),
        ValueError,
        r"^padding='same' needs stride=1",
    ),
    (
        "weight other dtype",
        dict(weight=np.zeros((4, 3, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x",
    ),
]


@pytest.mark.parametrize("name", ["conv2d_dilated_kernel", "conv2d_space_to_batch"])
@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(CONV_BAD_CALLS))
def test_dilated_conv_bad_calls(name, overrides, exception, pattern):
    kwargs = {
        **dict(x=_f32(1, 3, 7, 7), weight=_f32(4, 3, 3, 3), dilation=2),
        **overrides,
    }
    assert_both_refuse(name, kwargs, exception, pattern)


OTHER_BAD_CALLS = [
    (
        "dilate_kernel",
        dict(weight=_f32(2, 3, 3), dilation=2),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in / groups, kh, kw\), got shape \(2, 3, 3\)$",
    ),
    (
        "dilate_kernel",
        dict(weight=_f32(2, 3, 3, 3), dilation=(2, 0)),
        ValueError,
        r"^dilation must be >= 1, got \(2, 0\)$",
    ),
    (
        "dilate_kernel",
        dict(weight=_f32(2, 3, 0, 3), dilation=2),
        ValueError,
        r"^weight must have a kernel of at least 1x1",
    ),
    (
        "dilate_kernel",
        dict(weight=np.zeros((2, 3, 3, 3), dtype=np.int32), dilation=2),
        TypeError,
        r"^weight must have a floating dtype, got int32$",
    ),
    (
        "space_to_batch",
        dict(x=_f32(1, 2, 6, 5), block=2),
        ValueError,
        r"^block must divide the height and width of x \(6, 5\), got block=\(2, 2\)$",
    ),
    (
        "space_to_batch",
        dict(x=_f32(1, 2, 6, 6), block=0),
        ValueError,
        r"^block must be >= 1, got 0$",
    ),
    (
        "space_to_batch",
        dict(x=_f32(2, 6, 6), block=2),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\)",
    ),
    (
        "batch_to_space",
        dict(y=_f32(3, 2, 3, 3), block=2),
        ValueError,
        r"^block_h \* block_w = 4 must divide the batch of y, got y of shape \(3, 2, 3, 3\)$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5, 5), weight=_f32(2, 2, 3)),
        ValueError,
        r"^x must be 3-D with shape \(N, C_in, L\), got shape \(1, 2, 5, 5\)$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=_f32(2, 3, 3)),
        ValueError,
        r"^weight\.shape\[1\] must be C_in / groups = 2 / 1 = 2, got weight of shape \(2, 3, 3\)$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=_f32(3, 1, 3), groups=2),
        ValueError,
        r"^groups must divide the input and output channels, got groups=2 for 2 -> 3 channels$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=_f32(2, 2, 3), dilation=0),
        ValueError,
        r"^dilation must be >= 1, got 0$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=_f32(2, 2, 0)),
        ValueError,
        r"^weight must have a kernel of at least 1 tap",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=_f32(2, 2, 3), bias=_f32(3)),
        ValueError,
        r"^bias must have shape \(2,\), got shape \(3,\)$",
    ),
    (
        "causal_conv1d",
        dict(x=_f32(1, 2, 5), weight=np.zeros((2, 2, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
]


@pytest.mark.parametrize(
    "name, kwargs, exception, pattern",
    OTHER_BAD_CALLS,
    ids=[f"{r[0]}-{i}" for i, r in enumerate(OTHER_BAD_CALLS)],
)
def test_other_bad_calls(name, kwargs, exception, pattern):
    assert_both_refuse(name, kwargs, exception, pattern)


# ---------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize(
    "name", ["functional.conv2d_dilated_kernel", "functional.conv2d_space_to_batch"]
)
@pytest.mark.parametrize("case", CASES[:8], ids=case_id)
def test_functional_on_cuda_matches_torch(case: Case, name: str):
    call = DILATED_VERSIONS[name].call
    tensors = [None if a is None else a.cuda() for a in case.tensors(seed=7)]
    y = call(*tensors, **case.kwargs())
    assert y.device.type == "cuda"
    torch.testing.assert_close(
        y, F.conv2d(*tensors, **case.kwargs()), rtol=1e-10, atol=1e-10
    )
