"""convref.arith's dilation and transposed-convolution helpers against independent oracles.

Oracles: input gradients of stacks of PyTorch convolutions with all-ones kernels (which count
the paths from each input to an output), tap sets built by brute force with Python sets, the
output shapes of ``F.conv1d`` / ``F.conv_transpose1d`` / ``F.conv_transpose2d``, the
vector-Jacobian product of TensorFlow's "SAME" forward convolution written in PyTorch, and the
numbers printed by Wang et al. (2018), van den Oord et al. (2016), Dumoulin & Visin (2016) and
Odena, Dumoulin & Olah (2016).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convref import arith
from convref.arith import (
    causal_receptive_field,
    conv_input_sizes,
    conv_transpose_output_size,
    dilated_kernel_size,
    has_uneven_overlap,
    hdc_max_gap,
    receptive_field_coverage,
    satisfies_hdc,
    tf_same_conv_transpose,
    transpose_overlap,
)

FAST = settings(max_examples=50, deadline=None)


# ---------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------


def autograd_coverage(kernel_sizes, dilations) -> np.ndarray:
    """Path counts of a stack of all-ones 2-D convolutions, read off the input gradient.

    The input is R x R with R = 1 + sum d (k - 1), so the stack has a single (centre) output;
    d(output)/d(input) at each position is the number of paths from there to the output.
    """
    side = 1 + sum(d * (k - 1) for k, d in zip(kernel_sizes, dilations))
    x = torch.zeros(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    y = x
    for k, d in zip(kernel_sizes, dilations):
        y = F.conv2d(y, torch.ones(1, 1, k, k, dtype=torch.float64), dilation=d)
    assert y.shape[-2:] == (1, 1)
    (grad,) = torch.autograd.grad(y[0, 0, 0, 0], x)
    counts = grad[0, 0].numpy()
    assert np.array_equal(counts, np.round(counts))
    return counts.round().astype(np.int64)


def tap_offsets(kernel_sizes, dilations) -> set[int]:
    """Offsets reached by a stack of dilated kernels along one axis: a sumset of tap sets."""
    offsets = {0}
    for k, d in zip(kernel_sizes, dilations):
        offsets = {o + t * d for o in offsets for t in range(k)}
    return offsets


def covers_without_holes(rates, kernel_size) -> bool:
    offsets = tap_offsets([kernel_size] * len(rates), rates)
    return offsets == set(range(max(offsets) + 1))


def largest_gap(offsets: set[int]) -> int:
    ordered = sorted(offsets)
    return max((b - a for a, b in zip(ordered, ordered[1:])), default=1)


def torch_conv_length(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of F.conv1d, or None when PyTorch refuses the input as too short."""
    try:
        x = torch.zeros(1, 1, size)
        return F.conv1d(
            x,
            torch.zeros(1, 1, kernel_size),
            stride=stride,
            padding=padding,
            dilation=dilation,
        ).shape[-1]
    except RuntimeError:
        return None


def torch_refuses(call) -> bool:
    """Whether PyTorch rejects a call or returns nothing.

    For a transposed convolution whose output length would be exactly 0, ``conv_transpose2d``
    returns an empty tensor while ``conv_transpose1d`` raises; below 0 both raise.
    """
    try:
        return call().numel() == 0
    except RuntimeError:
        return True


# ---------------------------------------------------------------------------
# dilated_kernel_size
# ---------------------------------------------------------------------------


def test_dilated_kernel_size_guide():
    # Dumoulin & Visin (2016), section 5: k = 3, d = 2 spans 5 inputs (figure 5.1: i = 7 -> o = 3)
    assert dilated_kernel_size(3, 2) == 5
    assert dilated_kernel_size(3, 1) == 3
    assert dilated_kernel_size(1, 9) == 1


@FAST
@given(kernel=st.integers(1, 7), dilation=st.integers(1, 5))
def test_dilated_kernel_size_is_the_shortest_input_torch_accepts(kernel, dilation):
    span = dilated_kernel_size(kernel, dilation)
    assert torch_conv_length(span, kernel, dilation=dilation) == 1
    if span > 1:
        assert torch_conv_length(span - 1, kernel, dilation=dilation) is None


# ---------------------------------------------------------------------------
# receptive_field_coverage: gridding
# ---------------------------------------------------------------------------

LAYERS = st.lists(
    st.tuples(st.integers(1, 5), st.integers(1, 4)), min_size=1, max_size=4
)


@FAST
@given(LAYERS)
def test_coverage_matches_autograd(layers):
    kernel_sizes, dilations = [k for k, _ in layers], [d for _, d in layers]
    coverage = receptive_field_coverage(kernel_sizes, dilations)
    assert coverage.dtype == np.int64
    np.testing.assert_array_equal(coverage, autograd_coverage(kernel_sizes, dilations))
    # its nonzero rows are the brute-force tap sumset
    reached = set(np.flatnonzero(coverage.sum(axis=1)).tolist())
    assert reached == tap_offsets(kernel_sizes, dilations)


def test_gridding_of_equal_rates_is_a_checkerboard():
    """Wang et al. (2018), figure 2: three 3x3 layers with rate 2 leave holes in a regular grid."""
    coverage = receptive_field_coverage([3, 3, 3], [2, 2, 2])
    assert coverage.shape == (13, 13)
    np.testing.assert_array_equal(coverage, autograd_coverage([3, 3, 3], [2, 2, 2]))
    even = np.arange(13) % 2 == 0
    # reached exactly where both coordinate offsets are even: every odd offset is a hole
    np.testing.assert_array_equal(coverage > 0, np.outer(even, even))
    assert (coverage > 0).sum() == 7 * 7


def test_hybrid_rates_cover_everything():
    """Wang et al. (2018): rates (1, 2, 5) fill their 17 x 17 field without a hole."""
    coverage = receptive_field_coverage([3, 3, 3], [1, 2, 5])
    assert coverage.shape == (17, 17)
    np.testing.assert_array_equal(coverage, autograd_coverage([3, 3, 3], [1, 2, 5]))
    assert (coverage > 0).all()


# ---------------------------------------------------------------------------
# HDC rule (Wang et al. 2018, section 3.2)
# ---------------------------------------------------------------------------


def test_hdc_paper_examples():
    """ "for kernel size K = 3, an r = [1, 2, 5] pattern works as M2 = 2; however, an
    r = [1, 2, 9] pattern does not work as M2 = 5"."""
    assert hdc_max_gap([1, 2, 5], 3) == 2
    assert satisfies_hdc([1, 2, 5], 3)
    assert hdc_max_gap([1, 2, 9], 3) == 5
    assert not satisfies_hdc([1, 2, 9], 3)
    # and [1, 2, 9] really has holes: offsets 7 and 8 (and their mirror images) are never reached
    assert (receptive_field_coverage([3, 3, 3], [1, 2, 9]) == 0).any()
    assert not covers_without_holes([1, 2, 9], 3)
    # the paper's sawtooth [1, 2, 3] pattern
    assert satisfies_hdc([1, 2, 3, 1, 2, 3], 3)


RATES = st.tuples(
    st.sampled_from([1, 1, 1, 2, 3]),
    st.lists(st.integers(1, 9), min_size=0, max_size=4),
).map(lambda first_rest: [first_rest[0], *first_rest[1]])


@FAST
@given(rates=RATES, kernel=st.integers(3, 6))
def test_hdc_rule_is_sufficient(rates, kernel):
    if satisfies_hdc(rates, kernel):
        assert covers_without_holes(rates, kernel)
        assert (receptive_field_coverage([kernel] * len(rates), rates) > 0).all()
    if len(rates) >= 2:
        # why it is: M_2 bounds the largest gap between the taps of layers 2..n ...
        upper = tap_offsets([kernel] * (len(rates) - 1), rates[1:])
        assert hdc_max_gap(rates, kernel) >= largest_gap(upper)
        # ... and a dense first layer of K taps fills any gap of at most K
        if rates[0] == 1 and largest_gap(upper) <= kernel:
            assert covers_without_holes(rates, kernel)


def test_hdc_all_three_layer_stacks():
    """Every 3x3 stack of three rates in 1..6: the rule, the paper's common-factor remark, and its gap."""
    literal_but_holes = []
    for rates in itertools.product(range(1, 7), repeat=3):
        full = covers_without_holes(rates, 3)
        if satisfies_hdc(rates, 3):
            assert full, rates
        if math.gcd(*rates) > 1:
            # "the dilation rate within a group should not have a common factor relationship"
            assert not full and not satisfies_hdc(rates, 3), rates
        if hdc_max_gap(rates, 3) <= 3 and math.gcd(*rates) == 1 and not full:
            literal_but_holes.append(rates)
    # M_2 <= K with no common factor is not enough: every failure starts with a rate > 1,
    # which M_2 never looks at; satisfies_hdc also asks r_1 = 1 and rejects them all.
    assert literal_but_holes and all(rates[0] > 1 for rates in literal_but_holes)
    assert (2, 2, 5) in literal_but_holes and (2, 3, 3) in literal_but_holes
    assert sorted(set(range(19)) - tap_offsets([3] * 3, [2, 2, 5])) == [1, 3, 15, 17]
    # the literal rule would even accept the gridding example (2, 2, 2)
    assert hdc_max_gap([2, 2, 2], 3) == 2 and not satisfies_hdc([2, 2, 2], 3)


def test_hdc_rule_is_not_necessary():
    # [1, 3, 1] has no hole, but the recursion's bound M_2 = 5 exceeds K = 3
    assert covers_without_holes([1, 3, 1], 3)
    assert hdc_max_gap([1, 3, 1], 3) == 5 and not satisfies_hdc([1, 3, 1], 3)


def test_hdc_single_layer_and_two_tap_kernels():
    assert hdc_max_gap([1], 3) == hdc_max_gap([7], 5) == 1
    assert satisfies_hdc([1], 3) and covers_without_holes([1], 3)
    assert not satisfies_hdc([2], 3) and not covers_without_holes([2], 3)
    # With 2-tap kernels the recursion is no bound: [1, 2, 5] gives M_2 = 2 <= 2, yet has holes.
    # That is why kernel_size must be >= 3.
    assert not covers_without_holes([1, 2, 5], 2)
    with pytest.raises(ValueError, match=r"^kernel_size must be >= 3, got 2$"):
        satisfies_hdc([1, 2, 5], 2)


# ---------------------------------------------------------------------------
# causal_receptive_field (WaveNet)
# ---------------------------------------------------------------------------


def autograd_causal_field(kernel_size, dilations) -> tuple[int, int]:
    """(width, holes) of the last output's support in a stack of causal conv1d (left padding)."""
    length = 2 + 2 * (1 + (kernel_size - 1) * sum(dilations))
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    ones = torch.ones(1, 1, kernel_size, dtype=torch.float64)
    for d in dilations:
        y = F.conv1d(
            F.pad(y, (d * (kernel_size - 1), 0)), ones, dilation=d
        )  # causal: pad the past only
    assert y.shape[-1] == length  # causal padding keeps the length
    (grad,) = torch.autograd.grad(y[0, 0, -1], x)
    support = torch.nonzero(grad[0, 0]).flatten().tolist()
    assert support[-1] == length - 1  # the current sample, nothing from the future
    width = support[-1] - support[0] + 1
    return width, width - len(support)


def test_wavenet_receptive_field_published():
    """van den Oord et al. (2016), section 2.1: rates 1, 2, ..., 512 give a receptive field of 1024."""
    rates = [2**i for i in range(10)]
    assert rates[-1] == 512
    assert causal_receptive_field(2, rates) == 1024
    assert autograd_causal_field(2, rates) == (1024, 0)  # and no hole in it


@FAST
@given(
    kernel=st.integers(1, 4),
    dilations=st.lists(st.integers(1, 8), min_size=1, max_size=5),
)
def test_causal_receptive_field_matches_autograd(kernel, dilations):
    width, _ = autograd_causal_field(kernel, dilations)
    assert causal_receptive_field(kernel, dilations) == width


def test_causal_receptive_field_empty_stack():
    assert causal_receptive_field(3, []) == 1


# ---------------------------------------------------------------------------
# conv_transpose_output_size and conv_input_sizes
# ---------------------------------------------------------------------------

# Dumoulin & Visin (2016), section 4: transposed convolutions (i', k, s, p, a, o').
TRANSPOSE_GUIDE = [
    ("no padding, unit strides, transposed (fig 4.1)", 2, 3, 1, 0, 0, 4),
    ("full padding, transposed (fig 4.4)", 7, 3, 1, 2, 0, 5),
    ("no padding, strides, transposed (fig 4.5)", 2, 3, 2, 0, 0, 5),
    ("padding, strides, transposed (fig 4.6)", 3, 3, 2, 1, 0, 5),
    ("padding, strides, odd, transposed (fig 4.7)", 3, 3, 2, 1, 1, 6),
]


@pytest.mark.parametrize(
    "name, i, k, s, p, a, o", TRANSPOSE_GUIDE, ids=[row[0] for row in TRANSPOSE_GUIDE]
)
def test_conv_transpose_output_size_guide(name, i, k, s, p, a, o):
    assert conv_transpose_output_size(i, k, stride=s, padding=p, output_padding=a) == o
    x, w = torch.zeros(1, 1, i, i), torch.zeros(1, 1, k, k)
    assert F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a).shape[
        -2:
    ] == (o, o)


@settings(max_examples=80, deadline=None)
@given(
    size=st.integers(1, 8),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    output_padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_conv_transpose_output_size_matches_torch(
    size, kernel, stride, padding, output_padding, dilation
):
    x, w = torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel)
    args = dict(
        stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    expected_length = (
        (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    )
    if output_padding >= max(stride, dilation):
        pattern = r"^output_padding must be smaller than stride or dilation"
    elif expected_length < 1:
        pattern = r"crops the whole output"
    else:
        out = conv_transpose_output_size(size, kernel, **args)
        assert F.conv_transpose2d(x, w, **args).shape[-2:] == (out, out)
        return
    with pytest.raises(ValueError, match=pattern):
        conv_transpose_output_size(size, kernel, **args)
    assert torch_refuses(lambda: F.conv_transpose2d(x, w, **args))


def test_conv_input_sizes_guide():
    # Dumoulin & Visin (2016), figures 2.6 and 2.7: inputs 5 and 6 both give 3 outputs
    assert conv_input_sizes(3, 3, stride=2, padding=1) == [5, 6]
    assert conv_input_sizes(2, 3) == [4]  # stride 1: the size is recoverable


@FAST
@given(
    out=st.integers(1, 6),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_conv_input_sizes_brute_force_and_round_trip(
    out, kernel, stride, padding, dilation
):
    sizes = conv_input_sizes(out, kernel, stride, padding, dilation)
    upper = (out + 1) * stride + dilation * (kernel - 1) + 2
    brute = [
        i
        for i in range(1, upper)
        if torch_conv_length(i, kernel, stride, padding, dilation) == out
    ]
    assert sizes == brute
    assert len(sizes) <= stride
    args = dict(stride=stride, padding=padding, dilation=dilation)
    if len(sizes) == stride:
        # output_padding picks which of the `stride` input sizes the transposed conv restores
        for i in sizes:
            a = i - min(sizes)
            assert (
                conv_transpose_output_size(out, kernel, output_padding=a, **args) == i
            )
            y = F.conv_transpose1d(
                torch.zeros(1, 1, out),
                torch.zeros(1, 1, kernel),
                output_padding=a,
                **args,
            )
            assert y.shape[-1] == i
    else:
        # fewer only when the padding would crop the transposed output below one position
        with pytest.raises(ValueError, match="crops the whole output"):
            conv_transpose_output_size(out, kernel, **args)


# ---------------------------------------------------------------------------
# tf_same_conv_transpose against the adjoint of TensorFlow's SAME convolution
# ---------------------------------------------------------------------------


def tf_same_forward(
    x: torch.Tensor, weight: torch.Tensor, stride: int, dilation: int
) -> torch.Tensor:
    """TensorFlow's conv1d(padding="SAME") in PyTorch: ceil(n / s) outputs, the smaller half of the padding first."""
    n, k = x.shape[-1], weight.shape[-1]
    out = -(-n // stride)
    total = max((out - 1) * stride + dilation * (k - 1) + 1 - n, 0)
    y = F.conv1d(
        F.pad(x, (total // 2, total - total // 2)),
        weight,
        stride=stride,
        dilation=dilation,
    )
    assert y.shape[-1] == out
    return y


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 6),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
)
def test_tf_same_conv_transpose_matches_adjoint(size, kernel, stride, dilation):
    gen = torch.Generator().manual_seed(
        size * 1000 + kernel * 100 + stride * 10 + dilation
    )
    weight = torch.randn(
        3, 2, kernel, dtype=torch.float64, generator=gen
    )  # (C_out, C_in, k) of the forward conv
    x = torch.zeros(1, 2, size * stride, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 3, size, dtype=torch.float64, generator=gen)
    (tf_out,) = torch.autograd.grad(
        tf_same_forward(x, weight, stride, dilation), x, g
    )  # the transposed conv

    tf = tf_same_conv_transpose(size, kernel, stride, dilation)
    assert tf.output_size == size * stride == tf_out.shape[-1]
    assert tf.trim_end in (0, 1)

    # PyTorch's ConvTranspose arguments, then dropping trim_end positions
    y = F.conv_transpose1d(
        g,
        weight,
        stride=stride,
        padding=tf.padding,
        output_padding=tf.output_padding,
        dilation=dilation,
    )
    assert y.shape[-1] == conv_transpose_output_size(
        size, kernel, stride, tf.padding, tf.output_padding, dilation
    )
    torch.testing.assert_close(
        y[..., : y.shape[-1] - tf.trim_end], tf_out, rtol=0, atol=1e-12
    )

    # the crops, applied to the uncropped transposed output
    full = F.conv_transpose1d(g, weight, stride=stride, dilation=dilation)
    assert full.shape[-1] - tf.crop_before - tf.crop_after == tf.output_size
    if tf.crop_after >= 0:
        cropped = full[..., tf.crop_before : full.shape[-1] - tf.crop_after]
    else:  # kernel span < stride: trailing positions the forward conv never reads
        cropped = F.pad(full[..., tf.crop_before :], (0, -tf.crop_after))
    torch.testing.assert_close(cropped, tf_out, rtol=0, atol=1e-12)


def test_tf_same_conv_transpose_common_cases():
    # 4x4 stride 2 (DCGAN-style): PyTorch's padding=1 matches TF exactly
    assert tf_same_conv_transpose(8, 4, 2) == arith.TfSameTranspose(16, 1, 1, 1, 0, 0)
    # 3x3 stride 2: TF crops 0 before and 1 after; no single PyTorch ConvTranspose does that
    assert tf_same_conv_transpose(8, 3, 2) == arith.TfSameTranspose(16, 0, 1, 0, 0, 1)
    # 1x1 stride 2: TF's output ends in a zero that PyTorch adds with output_padding=1
    assert tf_same_conv_transpose(8, 1, 2) == arith.TfSameTranspose(16, 0, -1, 0, 1, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tf_same_conv_transpose(8, 4, 2).padding = 2


# ---------------------------------------------------------------------------
# Checkerboard overlap (Odena, Dumoulin & Olah 2016)
# ---------------------------------------------------------------------------


def torch_overlap(shape, kernel_size, stride, padding=0) -> np.ndarray:
    """Taps per output position: a transposed conv of an all-ones input with an all-ones kernel."""
    ones = torch.ones(1, 1, *shape, dtype=torch.float64)
    kernel = torch.ones(1, 1, *([kernel_size] * len(shape)), dtype=torch.float64)
    op = F.conv_transpose1d if len(shape) == 1 else F.conv_transpose2d
    return (
        op(ones, kernel, stride=stride, padding=padding)[0, 0]
        .numpy()
        .round()
        .astype(np.int64)
    )


@FAST
@given(
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    padding=st.integers(0, 3),
)
def test_transpose_overlap_matches_torch(height, width, kernel, stride, padding):
    for size in (height, width):
        if (size - 1) * stride - 2 * padding + kernel < 1:
            with pytest.raises(ValueError, match="crops the whole output"):
                transpose_overlap(size, kernel, stride, padding)
            assert torch_refuses(
                lambda: torch_overlap((size,), kernel, stride, padding)
            )
            return
    rows = transpose_overlap(height, kernel, stride, padding)
    cols = transpose_overlap(width, kernel, stride, padding)
    assert rows.dtype == np.int64
    assert len(rows) == conv_transpose_output_size(height, kernel, stride, padding)
    np.testing.assert_array_equal(
        rows, torch_overlap((height,), kernel, stride, padding)
    )
    np.testing.assert_array_equal(
        np.outer(rows, cols), torch_overlap((height, width), kernel, stride, padding)
    )


def test_overlap_distill_examples():
    """Odena et al. (2016): kernel 3, stride 2 overlaps unevenly; kernel 4, stride 2 evenly."""
    assert has_uneven_overlap(3, 2) and not has_uneven_overlap(4, 2)
    interior = torch_overlap((8,), 3, 2)[3:-3]
    assert set(interior.tolist()) == {1, 2}
    assert set(torch_overlap((8,), 4, 2)[3:-3].tolist()) == {2}


@FAST
@given(kernel=st.integers(1, 8), stride=st.integers(1, 5))
def test_has_uneven_overlap_matches_interior_counts(kernel, stride):
    size = kernel // stride + 6
    counts = torch_overlap((size,), kernel, stride)
    # positions k-1 .. (i-1)s receive every tap they can: away from both borders
    interior = counts[kernel - 1 : (size - 1) * stride + 1]
    assert len(interior) >= 2 * stride
    assert set(interior.tolist()) <= {kernel // stride, -(-kernel // stride)}
    assert has_uneven_overlap(kernel, stride) == (len(set(interior.tolist())) > 1)


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------

BAD_CALLS = [
    (
        lambda: dilated_kernel_size(0, 1),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (lambda: dilated_kernel_size(3, 0), ValueError, r"^dilation must be >= 1, got 0$"),
    (
        lambda: dilated_kernel_size(3, 2.0),
        TypeError,
        r"^dilation must be an int, got 2\.0$",
    ),
    (
        lambda: receptive_field_coverage([3, 3], [1]),
        ValueError,
        r"^kernel_sizes and dilations must have the same length, got 2 and 1$",
    ),
    (
        lambda: receptive_field_coverage([], []),
        ValueError,
        r"^kernel_sizes must not be empty$",
    ),
    (
        lambda: receptive_field_coverage([3], 2),
        TypeError,
        r"^dilations must be a sequence of ints, got 2$",
    ),
    (
        lambda: receptive_field_coverage("33", [1, 1]),
        TypeError,
        r"^kernel_sizes must be a sequence of ints, got '33'$",
    ),
    (
        lambda: receptive_field_coverage([3, 0], [1, 1]),
        ValueError,
        r"^kernel_sizes\[1\] must be >= 1, got 0$",
    ),
    (
        lambda: receptive_field_coverage([3], [1.5]),
        TypeError,
        r"^dilations\[0\] must be an int, got 1\.5$",
    ),
    (lambda: hdc_max_gap([], 3), ValueError, r"^dilations must not be empty$"),
    (
        lambda: hdc_max_gap([1, 0, 2], 3),
        ValueError,
        r"^dilations\[1\] must be >= 1, got 0$",
    ),
    (lambda: hdc_max_gap([1, 2], 2), ValueError, r"^kernel_size must be >= 3, got 2$"),
    (
        lambda: satisfies_hdc([1, 2, 5], 3.0),
        TypeError,
        r"^kernel_size must be an int, got 3\.0$",
    ),
    (
        lambda: satisfies_hdc(5, 3),
        TypeError,
        r"^dilations must be a sequence of ints, got 5$",
    ),
    (
        lambda: satisfies_hdc([1, True], 3),
        TypeError,
        r"^dilations\[1\] must be an int, got True$",
    ),
    (
        lambda: causal_receptive_field(0, [1]),
        ValueError,
        r"^kernel_size must be >= 1, got 0$",
    ),
    (
        lambda: causal_receptive_field(2, [1, -1]),
        ValueError,
        r"^dilations\[1\] must be >= 1, got -1$",
    ),
    (
        lambda: causal_receptive_field(2, 4),
        TypeError,
        r"^dilations must be a sequence of ints, got 4$",
    ),
    (
        lambda: conv_transpose_output_size(0, 3),
        ValueError,
        r"^size must be >= 1, got 0$",
    ),
    (
        lambda: conv_transpose_output_size(3, 3, stride=0),
        ValueError,
        r"^stride must be >= 1, got 0$",
    ),
    (
        lambda: conv_transpose_output_size(3, 3, padding="same"),
        TypeError,
        r"^padding must be an int, got 'same'$",
    ),
    (
        lambda: conv_transpose_output_size(3, 3, output_padding=-1),
        ValueError,
        r"^output_padding must be >= 0, got -1$",
    ),
    (
        lambda: conv_transpose_output_size(3, 3, stride=2, output_padding=2),
        ValueError,
        r"^output_padding must be smaller than stride or dilation, got output_padding=2 with stride=2 and dilation=1$",
    ),
    (
        lambda: conv_transpose_output_size(3, 3, output_padding=1),
        ValueError,
        r"^output_padding must be smaller than stride or dilation, got output_padding=1 with stride=1 and dilation=1$",
    ),
    (
        lambda: conv_transpose_output_size(1, 3, padding=2),
        ValueError,
        r"^padding 2 crops the whole output: the output length would be -1$",
    ),
    (lambda: conv_input_sizes(0, 3), ValueError, r"^out_size must be >= 1, got 0$"),
    (
        lambda: conv_input_sizes(3, 3, padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (
        lambda: conv_input_sizes(3, 3, dilation=1.0),
        TypeError,
        r"^dilation must be an int, got 1\.0$",
    ),
    (
        lambda: tf_same_conv_transpose(0, 3, 2),
        ValueError,
        r"^size must be >= 1, got 0$",
    ),
    (
        lambda: tf_same_conv_transpose(4, 3, 0),
        ValueError,
        r"^stride must be >= 1, got 0$",
    ),
    (
        lambda: tf_same_conv_transpose(4, 3, 2, dilation=0),
        ValueError,
        r"^dilation must be >= 1, got 0$",
    ),
    (
        lambda: transpose_overlap(0, 3, 2),
        ValueError,
        r"^input_size must be >= 1, got 0$",
    ),
    (
        lambda: transpose_overlap(2, 3, 1, padding=2),
        ValueError,
        r"^padding 2 crops the whole output: the output length would be 0$",
    ),
    (
        lambda: transpose_overlap(2, 3, 1, padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (lambda: has_uneven_overlap(3, 0), ValueError, r"^stride must be >= 1, got 0$"),
    (
        lambda: has_uneven_overlap(3.0, 2),
        TypeError,
        r"^kernel_size must be an int, got 3\.0$",
    ),
]


@pytest.mark.parametrize(
    "call, exception, pattern", BAD_CALLS, ids=[row[2] for row in BAD_CALLS]
)
def test_bad_arguments(call, exception, pattern):
    with pytest.raises(exception, match=pattern):
        call()


def test_new_names_are_exported():
    for name in (
        "dilated_kernel_size",
        "receptive_field_coverage",
        "hdc_max_gap",
        "satisfies_hdc",
        "causal_receptive_field",
        "conv_transpose_output_size",
        "conv_input_sizes",
        "TfSameTranspose",
        "tf_same_conv_transpose",
        "transpose_overlap",
        "has_uneven_overlap",
    ):
        assert name in arith.__all__ and hasattr(arith, name)
