"""conv_transpose2d (scatter and zero-stuffed convolution), in NumPy and PyTorch, and nn.ConvTranspose2d.

Oracles, none of them convref: ``torch.nn.functional.conv_transpose2d``; the adjoint identity
``<conv2d(x), y> = <x, conv_transpose2d(y)>`` with PyTorch's ``conv2d`` as the forward map;
PyTorch's autograd gradient of ``conv2d`` with respect to its input; ``torch.nn.ConvTranspose2d``
for the layer; and bilinear interpolation (``F.interpolate``) for the bilinear initialisation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convref.functional.transposed as functional_transposed
from convref import functional, reference
from convref import nn as cnn
from convref.nn.init import bilinear_kernel
from harness import (
    Case,
    Operator,
    assert_both_refuse,
    bad_calls,
    case_id,
    to_torch,
    versions,
)

RTOL, ATOL = 1e-10, 1e-10


CASES = [
    Case.conv_transpose2d("3x3", 2, 3, 4, (5, 5), (3, 3)),
    Case.conv_transpose2d("no-bias", 1, 3, 2, (4, 5), (3, 3), bias=False),
    Case.conv_transpose2d(
        "stride2-k3", 2, 2, 3, (4, 4), (3, 3), stride=2
    ),  # uneven overlap: Odena et al.'s checkerboard
    Case.conv_transpose2d(
        "stride2-k4-pad1", 2, 2, 3, (4, 5), (4, 4), stride=2, padding=1
    ),  # the usual 2x upsampler
    Case.conv_transpose2d(
        "stride2-k3-pad1-outpad1",
        1,
        3,
        2,
        (5, 4),
        (3, 3),
        stride=2,
        padding=1,
        output_padding=1,
    ),
    Case.conv_transpose2d(
        "stride-pair",
        1,
        2,
        2,
        (3, 4),
        (3, 2),
        stride=(3, 2),
        padding=(1, 0),
        output_padding=(2, 1),
    ),
    Case.conv_transpose2d(
        "stride-larger-than-kernel", 2, 2, 2, (3, 3), (2, 2), stride=3
    ),  # gaps of zeros between stamps
    Case.conv_transpose2d("dilation2", 1, 2, 3, (4, 4), (3, 3), dilation=2),
    Case.conv_transpose2d(
        "outpad-below-dilation",
        1,
        2,
        2,
        (4, 3),
        (3, 3),
        stride=1,
        dilation=3,
        output_padding=2,
    ),
    Case.conv_transpose2d(
        "outpad-past-full-output", 1, 1, 2, (3, 3), (2, 2), stride=3, output_padding=2
    ),
    Case.conv_transpose2d(
        "dilation-stride-pad",
        2,
        2,
        2,
        (4, 5),
        (2, 3),
        stride=2,
        padding=(2, 1),
        dilation=(3, 2),
        output_padding=(1, 1),
    ),
    Case.conv_transpose2d(
        "groups2", 2, 4, 6, (4, 4), (3, 3), stride=2, padding=1, groups=2
    ),
    Case.conv_transpose2d(
        "depthwise", 1, 3, 3, (5, 4), (4, 4), stride=2, padding=1, groups=3
    ),
    Case.conv_transpose2d(
        "groups-multiplier", 1, 2, 6, (3, 3), (3, 3), stride=2, groups=2
    ),
    Case.conv_transpose2d(
        "1x1-stride2", 2, 3, 2, (3, 4), (1, 1), stride=2, output_padding=1
    ),
    Case.conv_transpose2d(
        "large-padding", 1, 2, 2, (5, 5), (3, 3), stride=2, padding=3
    ),
    Case.conv_transpose2d("single-pixel", 1, 1, 1, (1, 1), (3, 3), stride=2),
    Case.conv_transpose2d(
        "non-square", 2, 2, 3, (2, 6), (5, 2), stride=(1, 2), padding=(2, 0)
    ),
]

#: Scatter and zero-stuffed convolution in both versions, against PyTorch's transposed convolution.
CONV_TRANSPOSE2D = Operator(
    versions("conv_transpose2d", "conv_transpose2d_as_conv"), oracle=F.conv_transpose2d
)
VERSIONS = CONV_TRANSPOSE2D.versions


@pytest.mark.parametrize("name", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch(case: Case, name: str):
    CONV_TRANSPOSE2D.check(case, rtol=RTOL, atol=ATOL, only=[name])


@st.composite
def geometries(draw):
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)
    )
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    padding = []
    for i, k, s, d, op in zip(size, kernel, stride, dilation, output_padding):
        full = (i - 1) * s + d * (k - 1) + 1 + op
        padding.append(
            draw(st.integers(0, (full - 1) // 2))
        )  # keep at least one output row
    case = Case.conv_transpose2d(
        "property",
        draw(st.integers(0, 2)),
        in_channels,
        out_channels,
        size,
        kernel,
        stride=stride,
        padding=tuple(padding),
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        bias=draw(st.booleans()),
    )
    return case, draw(st.integers(0, 2**16))


@settings(max_examples=80, deadline=None)
@given(geometries())
def test_property_every_version_matches_torch(case_and_seed):
    case, seed = case_and_seed
    CONV_TRANSPOSE2D.check(case, rtol=RTOL, atol=ATOL, seed=seed)


# ---------------------------------------------------------------------------
# Adjoint, not inverse
# ---------------------------------------------------------------------------


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


# The identity needs conv2d to map the transposed op's output size back to its input size, which
# holds when output_padding < stride. (PyTorch also accepts stride <= output_padding < dilation; the
# extra rows are then ones no same-size convolution reads.)
ADJOINT_CASES = [
    c
    for c in CASES
    if c.shape("x")[0] > 0
    and all(
        op < s
        for op, s in zip(_pair(c.options["output_padding"]), _pair(c.options["stride"]))
    )
]


def _conv_pair(case: Case, seed: int):
    """x in the transposed op's *output* space, y in its input space, and the shared weight."""
    x_t, weight, _ = case.tensors(seed)
    out_size = F.conv_transpose2d(x_t, weight, **case.kwargs()).shape
    rng = np.random.default_rng(seed + 1)
    x = torch.from_numpy(rng.standard_normal(tuple(out_size)))
    return x, x_t, weight


@pytest.mark.parametrize("name", VERSIONS)
@pytest.mark.parametrize("case", ADJOINT_CASES, ids=case_id)
def test_adjoint_identity(case: Case, name: str):
    """<conv2d(x), y> = <x, conv_transpose2d(y)> with PyTorch's conv2d as the forward map."""
    x, y, weight = _conv_pair(case, seed=3)
    kw = case.kwargs()
    conv_x = F.conv2d(
        x, weight, None, kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    )
    assert (
        conv_x.shape == y.shape
    )  # the transposed op maps conv's output space back to its input space
    transposed_y = torch.from_numpy(
        VERSIONS[name](y.numpy(), weight.numpy(), None, **kw)
    )
    left = float((conv_x * y).sum())
    right = float((x * transposed_y).sum())
    assert left == pytest.approx(right, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("case", ADJOINT_CASES, ids=case_id)
def test_is_gradient_of_conv2d_wrt_input(case: Case):
    x, y, weight = _conv_pair(case, seed=4)
    kw = case.kwargs()
    x.requires_grad_()
    F.conv2d(
        x, weight, None, kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    ).backward(y)
    torch.testing.assert_close(
        functional.conv_transpose2d(y, weight, None, **kw), x.grad, rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        reference.conv_transpose2d(y.numpy(), weight.numpy(), None, **kw),
        x.grad.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


def test_not_an_inverse():
    """Transposing a stride-2 convolution does not give the input back (only a unitary map would)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 8, 8))
    weight = rng.standard_normal((1, 1, 3, 3))
    y = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), stride=2, padding=1
    ).numpy()
    back = reference.conv_transpose2d(y, weight, stride=2, padding=1, output_padding=1)
    assert back.shape == x.shape
    assert np.linalg.norm(back - x) > 0.5 * np.linalg.norm(x)
    # a strided convolution loses information: a 64 -> 16 linear map has a 48-dimensional null space
    assert y.size < x.size


# ---------------------------------------------------------------------------
# Gradients, dtypes, layouts
# ---------------------------------------------------------------------------

# Small on purpose: gradcheck builds the Jacobian one input element at a time.
GRAD_CASES = [
    Case.conv_transpose2d(
        "g-stride2-outpad",
        1,
        2,
        2,
        (3, 3),
        (3, 3),
        stride=2,
        padding=1,
        output_padding=1,
    ),
    Case.conv_transpose2d(
        "g-stride-pair",
        1,
        2,
        1,
        (2, 3),
        (3, 2),
        stride=(3, 2),
        padding=(1, 0),
        output_padding=(2, 1),
    ),
    Case.conv_transpose2d(
        "g-outpad-below-dilation", 1, 1, 2, (3, 2), (2, 2), dilation=3, output_padding=2
    ),
    Case.conv_transpose2d(
        "g-dilation-stride-pad",
        2,
        1,
        1,
        (2, 3),
        (2, 3),
        stride=2,
        padding=(2, 1),
        dilation=(3, 2),
        output_padding=1,
    ),
    Case.conv_transpose2d("g-groups2", 1, 4, 2, (3, 2), (2, 2), stride=2, groups=2),
]


@pytest.mark.parametrize(
    "name", ["functional.conv_transpose2d", "functional.conv_transpose2d_as_conv"]
)
@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradcheck(case: Case, name: str):
    call = VERSIONS[name].call
    inputs = tuple(a.requires_grad_() for a in case.tensors(seed=6))
    assert torch.autograd.gradcheck(
        lambda x, w, b: call(x, w, b, **case.kwargs()), inputs, eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradients_match_torch(case: Case):
    tensors = case.tensors(seed=7)
    ours = [a.clone().requires_grad_() for a in tensors]
    theirs = [a.clone().requires_grad_() for a in tensors]
    y = functional.conv_transpose2d(*ours, **case.kwargs())
    expected = F.conv_transpose2d(*theirs, **case.kwargs())
    grad_out = torch.from_numpy(
        np.random.default_rng(8).standard_normal(tuple(expected.shape))
    )
    y.backward(grad_out)
    expected.backward(grad_out)
    for name, a, b in zip(("x", "weight", "bias"), ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL, msg=name)


@pytest.mark.parametrize("name", VERSIONS)
def test_float32_is_kept(name: str):
    case = CASES[4]
    y = VERSIONS[name].on(case, seed=9, dtype=np.float32)
    assert y.dtype == np.float32
    expected = F.conv_transpose2d(*case.tensors(9, np.float32), **case.kwargs()).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


UNIT_ROUNDOFF = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_functional_half_precision_within_rounding_bound(dtype):
    case = CASES[11]  # groups, stride and padding
    x, weight, bias = (a.to(dtype) for a in case.tensors(seed=10))
    y = functional.conv_transpose2d(x, weight, bias, **case.kwargs())
    assert y.dtype == dtype
    x64, w64, b64 = (a.double() for a in (x, weight, bias))
    expected = F.conv_transpose2d(x64, w64, b64, **case.kwargs())
    scale = F.conv_transpose2d(x64.abs(), w64.abs(), b64.abs(), **case.kwargs())
    terms = (
        case.shape("x")[1] // case.options["groups"] * 9 + 2
    )  # products per output, plus the bias and the cast
    assert bool(
        ((y.double() - expected).abs() <= terms * UNIT_ROUNDOFF[dtype] * scale).all()
    )


def test_non_contiguous_inputs():
    case = CASES[11]
    x, weight, bias = case.tensors(seed=11)
    x_view = x.transpose(2, 3).contiguous().transpose(2, 3)
    weight_view = weight.contiguous(memory_format=torch.channels_last)
    assert not x_view.is_contiguous()
    expected = F.conv_transpose2d(x, weight, bias, **case.kwargs())
    torch.testing.assert_close(
        functional.conv_transpose2d(x_view, weight_view, bias, **case.kwargs()),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(
        reference.conv_transpose2d(
            x_view.numpy(), weight.numpy(), bias.numpy(), **case.kwargs()
        ),
        expected.numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


def test_batch_is_chunked_without_changing_the_result(monkeypatch):
    """With a tiny column budget every sample is its own chunk; the answer must not change."""
    case = Case.conv_transpose2d(
        "chunks", 5, 2, 3, (4, 4), (3, 3), stride=2, padding=1, output_padding=1
    )
    monkeypatch.setattr(functional_transposed, "MAX_COLUMN_ELEMENTS", 1)
    torch.testing.assert_close(
        functional.conv_transpose2d(*case.tensors(12), **case.kwargs()),
        F.conv_transpose2d(*case.tensors(12), **case.kwargs()),
        rtol=RTOL,
        atol=ATOL,
    )


# ---------------------------------------------------------------------------
# The pieces of the zero-stuffing view
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", [reference, functional], ids=["reference", "functional"]
)
@pytest.mark.parametrize("stride", [1, 2, (3, 1)])
def test_stuff_zeros(version, stride):
    x = np.arange(1, 2 * 3 * 4 * 1 + 1, dtype=np.float64).reshape(2, 1, 3, 4)
    arg = torch.from_numpy(x) if version is functional else x
    stuffed = np.asarray(version.stuff_zeros(arg, stride))
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    assert stuffed.shape == (2, 1, 2 * sh + 1, 3 * sw + 1)
    np.testing.assert_array_equal(stuffed[:, :, ::sh, ::sw], x)
    assert np.count_nonzero(stuffed) == x.size  # everything else is an inserted zero


@pytest.mark.parametrize(
    "version", [reference, functional], ids=["reference", "functional"]
)
def test_stride1_transposed_conv_is_full_conv_with_flipped_kernel(version):
    """Stride 1: conv_transpose2d(x, w) = conv2d(x, flip(w), padding=k-1), i.e. 'full' convolution."""
    rng = np.random.default_rng(13)
    x, weight = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 3, 3, 2))
    flipped = version.flip_transpose_weight(
        torch.from_numpy(weight) if version is functional else weight, 2
    )
    flipped = np.asarray(flipped)
    assert flipped.shape == (6, 2, 3, 2)
    expected = F.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(weight), groups=2
    )
    y = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(flipped.copy()), padding=(2, 1), groups=2
    )
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# Bad calls: one table, both versions (and both readings), the same error and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    """A valid call: C_in = 4, C_out = 6 in 2 groups, 3x3, stride 2, 5x5 input."""
    rng = np.random.default_rng(14)
    return dict(
        x=rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
        weight=rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        bias=rng.standard_normal(6).astype(np.float32),
        stride=2,
        groups=2,
    )


BAD_CALLS = [
    (
        "output_padding equal to stride",
        dict(output_padding=2),
        ValueError,
        r"^output_padding must be smaller than stride or dilation, got output_padding=\(2, 2\), stride=\(2, 2\), "
        r"dilation=\(1, 1\)$",
    ),
    (
        "output_padding with stride 1",
        dict(stride=1, output_padding=(0, 1)),
        ValueError,
        r"^output_padding must be smaller than stride or dilation, got output_padding=\(0, 1\)",
    ),
    (
        "output_padding not below dilation either",
        dict(stride=1, dilation=2, output_padding=2),
        ValueError,
        r"^output_padding must be smaller than stride or dilation",
    ),
    (
        "negative output_padding",
        dict(output_padding=-1),
        ValueError,
        r"^output_padding must be >= 0, got -1$",
    ),
    (
        "output_padding float",
        dict(output_padding=1.0),
        TypeError,
        r"^output_padding must be an int or a pair of ints, got 1\.0$",
    ),
    (
        "padding string",
        dict(padding="same"),
        TypeError,
        r"^padding must be an int or a pair of ints, got 'same'$",
    ),
    (
        "negative padding",
        dict(padding=(0, -1)),
        ValueError,
        r"^padding must be >= 0, got \(0, -1\)$",
    ),
    (
        "padding crops everything",
        dict(padding=6),
        ValueError,
        r"^padding \(6, 6\) crops the whole output: the output size would be \(-1, -1\)$",
    ),
    (
        "weight.shape[0] != C_in",
        dict(weight=_f32(3, 3, 3, 3)),
        ValueError,
        r"^weight\.shape\[0\] must equal the input channels C_in = 4, got weight of shape \(3, 3, 3, 3\)$",
    ),
    (
        "weight in conv layout",
        dict(weight=_f32(6, 2, 3, 3)),
        ValueError,
        r"^weight\.shape\[0\] must equal",
    ),
    (
        "groups does not divide C_in",
        dict(groups=3),
        ValueError,
        r"^groups must divide the input channels: x has 4 channels, groups=3$",
    ),
    ("groups 0", dict(groups=0), ValueError, r"^groups must be >= 1, got 0$"),
    ("groups float", dict(groups=2.0), TypeError, r"^groups must be an int, got 2\.0$"),
    (
        "no output channels",
        dict(weight=_f32(4, 0, 3, 3), bias=None),
        ValueError,
        r"^weight must have at least one output channel and a 1x1 kernel",
    ),
    (
        "empty kernel",
        dict(weight=_f32(4, 3, 0, 3)),
        ValueError,
        r"^weight must have at least one output channel and a 1x1 kernel, got weight of shape \(4, 3, 0, 3\)$",
    ),
    (
        "bias wrong length",
        dict(bias=_f32(3)),
        ValueError,
        r"^bias must have shape \(6,\), got shape \(3,\)$",
    ),
    (
        "bias other dtype",
        dict(bias=np.zeros(6)),
        TypeError,
        r"^bias must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "weight other dtype",
        dict(weight=np.zeros((4, 3, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(4, 5, 5)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 5, 5\)$",
    ),
    (
        "weight not 4-D",
        dict(weight=_f32(4, 3, 3)),
        ValueError,
        r"^weight must be 4-D with shape \(C_in, C_out / groups, kh, kw\), got shape \(4, 3, 3\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((2, 4, 5, 5), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "empty image",
        dict(x=_f32(2, 4, 0, 5)),
        ValueError,
        r"^x must have a height and width of at least 1, got shape \(2, 4, 0, 5\)$",
    ),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
    (
        "dilation 0",
        dict(dilation=(1, 0)),
        ValueError,
        r"^dilation must be >= 1, got \(1, 0\)$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse(VERSIONS, {**_base(), **overrides}, exception, pattern)


def test_bad_call_base_is_valid():
    kwargs = _base()
    expected = F.conv_transpose2d(
        **{k if k != "x" else "input": v for k, v in to_torch(kwargs).items()}
    )
    for name, version in VERSIONS.items():
        np.testing.assert_allclose(
            version(**kwargs), expected.numpy(), rtol=1e-5, atol=1e-5, err_msg=name
        )


def test_torch_refuses_what_we_refuse():
    """The output_padding rule is PyTorch's own: its op refuses the same call."""
    kwargs = to_torch({**_base(), "output_padding": 2})
    with pytest.raises(
        RuntimeError,
        match="output padding must be smaller than either stride or dilation",
    ):
        F.conv_transpose2d(kwargs.pop("x"), **kwargs)


@pytest.mark.parametrize("argument", ["x", "weight", "bias"])
def test_wrong_array_type(argument):
    kwargs = _base()
    kwargs[argument] = kwargs[argument].tolist()
    with pytest.raises(
        TypeError, match=f"^{argument} must be a numpy.ndarray, got list$"
    ):
        reference.conv_transpose2d(**kwargs)
    with pytest.raises(
        TypeError, match=f"^{argument} must be a torch.Tensor, got list$"
    ):
        functional.conv_transpose2d(**to_torch(kwargs))


# ---------------------------------------------------------------------------
# nn.ConvTranspose2d
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=4, kernel_size=3),
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=(3, 2),
            stride=2,
            padding=1,
            output_padding=1,
            groups=2,
        ),
        dict(
            in_channels=2,
            out_channels=2,
            kernel_size=3,
            stride=1,
            dilation=3,
            output_padding=2,
            bias=False,
        ),
    ],
)
def test_layer_matches_torch_layer_with_same_seed(kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(**kwargs).double()
    torch.manual_seed(0)
    ours = cnn.ConvTranspose2d(**kwargs).double()
    for (
        name,
        parameter,
    ) in theirs.named_parameters():  # same default initialisation, draw for draw
        torch.testing.assert_close(getattr(ours, name), parameter, rtol=0, atol=0)
    x = torch.randn(2, kwargs["in_channels"], 5, 4, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("output_size", [(9, 9), (10, 10), (9, 10), (1, 2, 10, 9)])
def test_layer_output_size_picks_output_padding_like_torch(output_size):
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = cnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    expected = theirs(x, output_size=list(output_size))
    y = ours(x, output_size=output_size)
    assert y.shape == expected.shape
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("output_size", [(8, 9), (11, 9)])
def test_layer_output_size_out_of_range(output_size):
    layer = cnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    with pytest.raises(
        ValueError, match=r"^output_size must be between 9 and 10 along axis 0"
    ):
        layer(torch.randn(1, 2, 5, 5), output_size=output_size)
    with pytest.raises(ValueError):  # PyTorch refuses the same sizes
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)(
            torch.randn(1, 2, 5, 5), output_size=output_size
        )


def test_bilinear_kernel_matches_fcn_formula():
    # FCN's upsample_filt for size 4: factor 2, centre 1.5 -> [0.25, 0.75, 0.75, 0.25] per axis
    torch.testing.assert_close(
        bilinear_kernel(4, torch.float64)[0],
        0.25 * torch.tensor([0.25, 0.75, 0.75, 0.25], dtype=torch.float64),
    )
    torch.testing.assert_close(
        bilinear_kernel(3, torch.float64)[1],
        torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64),
    )


@pytest.mark.parametrize("groups", [1, 3])
def test_bilinear_init_is_bilinear_interpolation_in_the_interior(groups):
    """k = 4, s = 2, p = 1 with the tent kernel equals F.interpolate(bilinear) away from the border."""
    layer = cnn.ConvTranspose2d(
        3, 3, 4, stride=2, padding=1, groups=groups, init="bilinear"
    ).double()
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    y = layer(x).detach()
    assert y.shape == expected.shape
    torch.testing.assert_close(
        y[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], rtol=1e-12, atol=1e-12
    )


LAYER_BAD_CALLS = [
    (dict(in_channels=0), ValueError, r"^in_channels must be >= 1, got 0$"),
    (dict(groups=4), ValueError, r"^groups must divide in_channels and out_channels"),
    (
        dict(output_padding=2, stride=2),
        ValueError,
        r"^output_padding must be smaller than stride or dilation",
    ),
    (
        dict(padding="same"),
        TypeError,
        r"^padding must be an int or a pair of ints, got 'same'$",
    ),
    (dict(kernel_size=0), ValueError, r"^kernel_size must be >= 1, got 0$"),
    (
        dict(out_channels=4, init="bilinear"),
        ValueError,
        r"^init='bilinear' needs in_channels == out_channels",
    ),
    (
        dict(init="orthogonal"),
        ValueError,
        r"^init must be one of \[.pytorch., .bilinear., .he., .random., .xavier.\], got .orthogonal.$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", LAYER_BAD_CALLS)
def test_layer_bad_calls(overrides, exception, pattern):
    kwargs = {**dict(in_channels=2, out_channels=2, kernel_size=3), **overrides}
    with pytest.raises(exception, match=pattern):
        cnn.ConvTranspose2d(**kwargs)


# ---------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_functional_on_cuda_matches_torch(case: Case):
    ours = [a.cuda().requires_grad_() for a in case.tensors(seed=15)]
    theirs = [a.cuda().requires_grad_() for a in case.tensors(seed=15)]
    y = functional.conv_transpose2d(*ours, **case.kwargs())
    expected = F.conv_transpose2d(*theirs, **case.kwargs())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn_like(expected)
    y.backward(grad_out)
    expected.backward(grad_out)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)
