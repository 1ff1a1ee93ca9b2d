"""shift2d, pattern_shift2d and shift_pattern (NumPy and PyTorch), the shift layers, and the shift's zero cost.

Oracles, none of them convref: a shift written as a loop over output pixels; PyTorch's depthwise
``conv2d`` with one-hot kernels (followed by the same 1x1 convolution); ``grid_sample``-free
closed forms on a linear ramp (bilinear interpolation of a linear function is exact); the
channel permutation between the two layouts; autograd's numerical gradients.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convref import arith, data, functional, reference
from convref import nn as cnn
import convref.functional.shift as functional_shift
from harness import assert_both_refuse, bad_calls, run_both

pattern_shift2d = functional_shift.pattern_shift2d


def loop_shift(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """The definition, one output pixel at a time (integer shifts)."""
    out = np.zeros_like(x)
    _, channels, height, width = x.shape
    for c in range(channels):
        dy, dx = (int(v) for v in shifts[c])
        for h in range(height):
            for w in range(width):
                if 0 <= h - dy < height and 0 <= w - dx < width:
                    out[:, c, h, w] = x[:, c, h - dy, w - dx]
    return out


def shift_of_pattern(
    x: np.ndarray, kernel_size: int, dilation: int, layout: str
) -> np.ndarray:
    return pattern_shift2d(torch.from_numpy(x), kernel_size, dilation, layout).numpy()


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
@pytest.mark.parametrize(
    "channels, kernel_size, dilation",
    [(18, 3, 1), (20, 3, 2), (27, 3, 1), (50, 5, 1), (4, 3, 1), (6, 1, 2)],
)
def test_pattern_shift_matches_the_loop(layout, channels, kernel_size, dilation):
    x = np.random.default_rng(0).standard_normal((2, channels, 7, 6))
    shifts = reference.shift_pattern(channels, kernel_size, dilation, layout)
    expected = loop_shift(x, shifts)
    layer = cnn.Shift2d(channels, kernel_size, dilation, layout)
    pattern_y, layer_y = (
        shift_of_pattern(x, kernel_size, dilation, layout),
        layer(torch.from_numpy(x)).numpy(),
    )
    for y in (*run_both("shift2d", x, shifts).values(), pattern_y, layer_y):
        np.testing.assert_array_equal(y, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_arbitrary_integer_shifts_match_the_loop(channels, height, width, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, channels, height, width))
    shifts = rng.integers(-8, 9, (channels, 2))  # including moves past the edge
    expected = loop_shift(x, shifts)
    for y in run_both("shift2d", x, shifts).values():
        np.testing.assert_array_equal(y, expected)


def test_pattern_layouts():
    grouped = reference.shift_pattern(20, 3, layout="grouped")
    interleaved = reference.shift_pattern(20, 3, layout="interleaved")
    directions = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert [
        tuple(v) for v in grouped[:18:2]
    ] == directions  # 2 channels per direction, in row-major order
    assert [tuple(v) for v in interleaved[:9]] == directions
    assert (
        not grouped[18:].any() and not interleaved[18:].any()
    )  # 20 = 2 * 9 + 2 leftover channels, unshifted
    np.testing.assert_array_equal(
        reference.shift_pattern(9, 3, dilation=3)[0], [-3, -3]
    )
    torch.testing.assert_close(
        functional.shift_pattern(20, 3, layout="interleaved"),
        torch.from_numpy(interleaved),
    )


@pytest.mark.parametrize("channels", [9, 18, 23])
def test_layouts_differ_by_a_channel_permutation(channels):
    grouped = reference.shift_pattern(channels, 3, layout="grouped")
    interleaved = reference.shift_pattern(channels, 3, layout="interleaved")
    per = channels // 9
    # grouped channel d * per + i holds direction d; interleaved channel i * 9 + d holds it too
    permutation = np.array(
        [(c % per) * 9 + c // per if c < 9 * per else c for c in range(channels)]
    )
    np.testing.assert_array_equal(grouped, interleaved[permutation])
    x = np.random.default_rng(2).standard_normal((1, channels, 6, 6))
    # channel permutation[c] of the interleaved layer must receive x[c]: feed x[:, inverse], read [:, permutation]
    inverse = np.argsort(permutation)
    np.testing.assert_array_equal(
        reference.shift2d(x, grouped),
        reference.shift2d(x[:, inverse], interleaved)[:, permutation],
    )
    np.testing.assert_array_equal(
        shift_of_pattern(x, 3, 1, "grouped"),
        shift_of_pattern(x[:, inverse], 3, 1, "interleaved")[:, permutation],
    )


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
def test_shift_then_1x1_equals_one_hot_depthwise_then_1x1(layout):
    """The paper's point: a shift is a depthwise convolution whose kernels are one-hot."""
    channels, k = 18, 3
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((2, channels, 8, 8)))
    pointwise = torch.from_numpy(rng.standard_normal((5, channels, 1, 1)))
    shifts = functional.shift_pattern(channels, k, layout=layout)
    one_hot = torch.zeros(channels, 1, k, k, dtype=torch.float64)
    for c, (dy, dx) in enumerate(shifts.tolist()):
        one_hot[c, 0, k // 2 - dy, k // 2 - dx] = (
            1  # cross-correlation reads x[h + u - r]: u = r - dy
        )
    expected = F.conv2d(
        F.conv2d(x, one_hot, padding=k // 2, groups=channels), pointwise
    )
    torch.testing.assert_close(
        F.conv2d(functional.shift2d(x, shifts), pointwise),
        expected,
        rtol=1e-12,
        atol=1e-12,
    )
    torch.testing.assert_close(
        F.conv2d(pattern_shift2d(x, k, 1, layout), pointwise),
        expected,
        rtol=1e-12,
        atol=1e-12,
    )


def test_fractional_shift_of_a_ramp_is_exact():
    """Bilinear interpolation of a linear function is exact: the ramp moves by exactly the offset."""
    height, width = 12, 13
    ramp = data.ramp(height, width, slope_y=0.7, slope_x=-0.3)
    x = np.stack([ramp] * 3)[None]  # (1, 3, H, W)
    shifts = np.array([[0.25, 0.5], [-1.5, 0.75], [2.4, -1.2]])
    h, w = np.arange(height)[:, None], np.arange(width)[None, :]
    for y in run_both("shift2d", x, shifts).values():
        for c, (dy, dx) in enumerate(shifts):
            expected = ramp[0, 0] + 0.7 * (h - dy) - 0.3 * (w - dx)
            inside = (
                (h - dy >= 0)
                & (h - dy <= height - 1)
                & (w - dx >= 0)
                & (w - dx <= width - 1)
            )
            np.testing.assert_allclose(
                y[0, c][inside], expected[inside], rtol=1e-12, atol=1e-12
            )


def test_integer_valued_float_shifts_equal_integer_shifts():
    rng = np.random.default_rng(4)
    x, shifts = rng.standard_normal((1, 9, 5, 5)), reference.shift_pattern(9, 3)
    for y in run_both("shift2d", x, shifts.astype(np.float64)).values():
        np.testing.assert_allclose(y, loop_shift(x, shifts), rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16))
def test_fractional_reference_matches_functional(seed):
    rng = np.random.default_rng(seed)
    x, shifts = rng.standard_normal((2, 4, 5, 6)), rng.uniform(-6, 6, (4, 2))
    reference_y, functional_y = run_both("shift2d", x, shifts).values()
    np.testing.assert_allclose(reference_y, functional_y, rtol=1e-12, atol=1e-12)


def test_fractional_moves_past_the_image_give_zeros():
    """Offsets outside the image read only zeros, also those far outside int64 once floored (1e30)."""
    x = np.random.default_rng(9).standard_normal((2, 4, 5, 6))
    shifts = np.array([[5.5, 0.25], [-6.75, 0.5], [0.5, 7.5], [-1.0, -6.5]])
    for y in run_both("shift2d", x, shifts).values():
        np.testing.assert_array_equal(y, 0)
    huge = torch.tensor(
        [[0.5, 1e30], [-1e30, -2.5], [1e30, 1e30], [-1e30, 0.0]], dtype=torch.float64
    )
    np.testing.assert_array_equal(
        functional.shift2d(torch.from_numpy(x), huge).numpy(), 0
    )


def test_gradcheck_active_shift():
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    shifts = torch.tensor(
        [[0.3, -0.6], [1.2, 0.4], [-0.7, -1.9]], dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(functional.shift2d, (x, shifts))
    assert torch.autograd.gradgradcheck(functional.shift2d, (x, shifts))


@pytest.mark.parametrize("sign", [1, -1], ids=["pattern", "negated"])
def test_gradcheck_integer_shifts(sign):
    """First and second derivatives of the integer shifts (their backward is a shift again)."""
    x = torch.randn(2, 11, 4, 5, dtype=torch.float64, requires_grad=True)
    table = sign * functional.shift_pattern(11, 3, layout="interleaved")
    assert torch.autograd.gradcheck(functional.shift2d, (x, table))
    assert torch.autograd.gradgradcheck(functional.shift2d, (x, table))
    assert torch.autograd.gradcheck(pattern_shift2d, (x, 3, 1, "interleaved"))
    assert torch.autograd.gradgradcheck(pattern_shift2d, (x, 3, 1, "interleaved"))


def test_integer_shift_backward_is_the_opposite_shift():
    shifts = functional.shift_pattern(9, 3)
    grad_out = torch.randn(2, 9, 6, 6, dtype=torch.float64)
    expected = torch.from_numpy(loop_shift(grad_out.numpy(), -shifts.numpy()))
    for shift in (
        lambda t: functional.shift2d(t, shifts),
        pattern_shift2d,
        cnn.Shift2d(9),
    ):
        x = torch.randn(2, 9, 6, 6, dtype=torch.float64, requires_grad=True)
        shift(x).backward(grad_out)
        torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


def test_functional_keeps_dtypes():
    x = torch.randn(1, 9, 4, 4, dtype=torch.bfloat16)
    assert functional.shift2d(x, functional.shift_pattern(9)).dtype == torch.bfloat16
    assert pattern_shift2d(x).dtype == torch.bfloat16
    for dtype in (torch.float16, torch.bfloat16):
        assert (
            functional.shift2d(x.to(dtype), torch.full((9, 2), 0.5, dtype=dtype)).dtype
            == dtype
        )
    assert (
        reference.shift2d(
            np.ones((1, 9, 4, 4), np.float32), reference.shift_pattern(9)
        ).dtype
        == np.float32
    )


def test_shifts_read_no_value_back_from_the_tables():
    """On the meta device there are no values to read: no ``.tolist()``, so no device sync and no graph break."""
    x = torch.empty(2, 18, 6, 7, device="meta", requires_grad=True)
    for table in (
        functional.shift_pattern(18, 3).to("meta"),
        torch.empty(18, 2, device="meta", requires_grad=True),
    ):
        y = functional.shift2d(x, table)
        y.sum().backward()
        assert y.shape == x.shape and x.grad.shape == x.shape
    assert pattern_shift2d(x).shape == x.shape


# ---------------------------------------------------------------------------
# Tables of every kind, moves past the edge, memory around the input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["runs", "scattered", "strided_and_leftover"])
def test_integer_shift_tables_match_the_loop(pattern):
    """Channels of one offset as a few evenly spaced runs, scattered, or every third channel with an unshifted tail."""
    rng = np.random.default_rng(3)
    channels = 20
    if pattern == "runs":  # two offsets, each in two contiguous runs
        offsets = np.array(
            [(1, -2)] * 5 + [(-1, 1)] * 5 + [(1, -2)] * 5 + [(-1, 1)] * 5
        )
    elif pattern == "scattered":
        offsets = np.array([(2, 1), (0, -1)])[rng.integers(0, 2, channels)]
    else:  # every third channel, then an unshifted tail (ShiftNet's leftover channels)
        offsets = np.array(
            [(1, 1) if c % 3 == 0 and c < 15 else (0, 0) for c in range(channels)]
        )
    x = rng.standard_normal((2, channels, 5, 6))
    expected = loop_shift(x, offsets)
    out = functional.shift2d(torch.from_numpy(x), torch.from_numpy(offsets))
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
@pytest.mark.parametrize("size", [(7, 9), (40, 40)], ids=["small-plane", "large-plane"])
def test_large_moves_match_the_loop(layout, size):
    """Moves past the edge (whole planes of zeros) and as far as int64 allows, on small and large planes."""
    rng = np.random.default_rng(4)
    shifts = reference.shift_pattern(
        22, 3, dilation=2, layout=layout
    )  # 4 unshifted leftover channels
    shifts[:4] = [(7, 0), (0, -9), (-3, 40), (2**62, -(2**62))]
    x = rng.standard_normal((2, 22, *size))
    out = functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts))
    np.testing.assert_array_equal(out.numpy(), loop_shift(x, shifts))


def test_a_table_changed_in_place_is_seen():
    """Nothing is cached by a table's identity, so editing the table (even behind autograd's back) is seen."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 9, 5, 5))
    table = reference.shift_pattern(9, 3)
    shifts = torch.from_numpy(table)  # shares memory with the NumPy array
    first = functional.shift2d(torch.from_numpy(x), shifts)
    np.testing.assert_array_equal(first.numpy(), loop_shift(x, table))
    table[:] = table[::-1]  # same tensor object, same version counter, new content
    second = functional.shift2d(torch.from_numpy(x), shifts)
    np.testing.assert_array_equal(second.numpy(), loop_shift(x, table))
    assert not np.array_equal(first.numpy(), second.numpy())


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
@pytest.mark.parametrize(
    "kernel_size, dilation, channels", [(3, 1, 22), (3, 2, 18), (5, 1, 53), (3, 4, 9)]
)
@pytest.mark.parametrize("batch", [1, 2, 4])
def test_pattern_moves_as_one_lattice_and_matches_the_loop(
    monkeypatch, layout, kernel_size, dilation, channels, batch
):
    """ShiftNet's pattern (forward) and its negation (backward) never go through the gather, and match the loop.

    In the backward pass the first and the last image would read outside the input: they read
    from a padded copy instead. Dilation 4 at k = 3 is the largest move that stays in a 5-row image.
    """

    def no_gather(*args):
        raise AssertionError("ShiftNet's pattern went through the gather")

    monkeypatch.setattr(functional_shift, "_gather_shift", no_gather)
    rng = np.random.default_rng(6)
    shifts = reference.shift_pattern(channels, kernel_size, dilation, layout)
    x = rng.standard_normal((batch, channels, 5, 7))
    grad_out = rng.standard_normal(x.shape)
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x_t = torch.from_numpy(x).to(memory_format=memory_format).requires_grad_(True)
        y = pattern_shift2d(x_t, kernel_size, dilation, layout)
        np.testing.assert_array_equal(y.detach().numpy(), loop_shift(x, shifts))
        y.backward(torch.from_numpy(grad_out).to(memory_format=memory_format))
        np.testing.assert_array_equal(x_t.grad.numpy(), loop_shift(grad_out, -shifts))


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
def test_shifts_never_leak_values_from_outside_or_from_wrapped_rows(layout):
    """Neighbouring memory full of NaN, and inf in the rows and columns a flat move wraps: the border must be exact zeros."""
    shifts = reference.shift_pattern(18, 3, 1, layout)
    storage = torch.full((4, 18, 6, 6), float("nan"), dtype=torch.float64)
    x = storage[1:3]  # a contiguous view with NaN right before and after it
    x.copy_(torch.from_numpy(np.random.default_rng(7).standard_normal((2, 18, 6, 6))))
    x[:, :, :, 0] = float("inf")
    x[:, :, :, -1] = -float("inf")
    x[:, :, 0] = float("inf")
    for sign in (1, -1):
        expected = loop_shift(x.numpy(), sign * shifts)
        np.testing.assert_array_equal(
            functional.shift2d(x, torch.from_numpy(sign * shifts)).numpy(), expected
        )
    np.testing.assert_array_equal(
        pattern_shift2d(x, 3, 1, layout).numpy(), loop_shift(x.numpy(), shifts)
    )
    # the backward pass shifts by the negated pattern: its gradient, too, sits between NaNs
    grad_storage = storage.clone()
    grad_out = grad_storage[1:3]
    x_req = torch.zeros(2, 18, 6, 6, dtype=torch.float64, requires_grad=True)
    pattern_shift2d(x_req, 3, 1, layout).backward(grad_out)
    expected = loop_shift(grad_out.numpy(), -shifts)
    np.testing.assert_array_equal(x_req.grad.numpy(), expected)
    assert not x_req.grad.isnan().any()


@pytest.mark.parametrize(
    "change",
    [
        "one_channel_moved",
        "moves_as_large_as_the_image",
        "no_moves",
        "fewer_channels_than_directions",
    ],
)
def test_tables_that_are_not_a_usable_lattice_still_match_the_loop(change):
    rng = np.random.default_rng(8)
    height, channels, dilation = 6, 20, 1
    if change == "moves_as_large_as_the_image":
        dilation = height
    elif change == "fewer_channels_than_directions":
        channels = 7
    shifts = reference.shift_pattern(channels, 3, dilation, "interleaved")
    if change == "one_channel_moved":
        shifts[5] = (1, 1)
    elif change == "no_moves":
        shifts[:] = 0
    x = rng.standard_normal((3, channels, height, 6))
    expected = loop_shift(x, shifts)
    np.testing.assert_array_equal(
        functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts)).numpy(),
        expected,
    )
    if change in ("moves_as_large_as_the_image", "fewer_channels_than_directions"):
        np.testing.assert_array_equal(
            shift_of_pattern(x, 3, dilation, "interleaved"), expected
        )


def test_empty_inputs():
    for shape in ((0, 9, 4, 4), (2, 9, 0, 4)):
        x = torch.zeros(shape)
        assert functional.shift2d(x, functional.shift_pattern(9)).shape == shape
        assert pattern_shift2d(x).shape == shape
        assert functional.shift2d(x, torch.full((9, 2), 0.5)).shape == shape


# ---------------------------------------------------------------------------
# Layers and cost
# ---------------------------------------------------------------------------


def test_shift_layer_has_no_parameters_and_no_cost():
    layer = cnn.Shift2d(18, 3)
    assert sum(p.numel() for p in layer.parameters()) == 0
    assert arith.shift_cost(18, 32) == arith.Cost(0, 0)
    x = torch.randn(1, 18, 5, 5, dtype=torch.float64)
    np.testing.assert_array_equal(
        layer(x).numpy(), loop_shift(x.numpy(), layer.shifts.numpy())
    )


def test_active_shift_learns_its_offsets():
    """A learnable fractional shift, trained to reproduce a one-pixel move, finds the offset."""
    torch.manual_seed(0)
    layer = cnn.ActiveShift2d(1, kernel_size=1).double()  # starts at (0, 0)
    assert sum(p.numel() for p in layer.parameters()) == 2
    x = torch.from_numpy(data.test_image(16))[None, None]
    target = functional.shift2d(x, torch.tensor([[1, -1]]))
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(150):
        optimiser.zero_grad()
        loss = (layer(x) - target).pow(2).mean()
        loss.backward()
        optimiser.step()
    torch.testing.assert_close(
        layer.shifts.detach(),
        torch.tensor([[1.0, -1.0]], dtype=torch.float64),
        atol=0.05,
        rtol=0,
    )


def test_shift_block_parameters_and_residual():
    block = cnn.ShiftBlock(16, 16, expansion=2)
    # two 1x1 convolutions without bias and two BatchNorms; the shift adds nothing
    assert (
        sum(p.numel() for p in block.parameters())
        == 16 * 32 + 32 * 16 + 2 * 32 + 2 * 16
    )
    assert (
        block.residual
        and not cnn.ShiftBlock(16, 32).residual
        and not cnn.ShiftBlock(16, 16, stride=2).residual
    )
    x = torch.randn(2, 16, 8, 8)
    assert block(x).shape == (2, 16, 8, 8)
    assert cnn.ShiftBlock(16, 32, stride=2)(x).shape == (2, 32, 4, 4)


def test_shift_layers_with_different_patterns_keep_their_plans():
    """Two layers (k = 3 and k = 5) alternating in training: each plan is built once, never per call."""
    model = nn.Sequential(
        cnn.Shift2d(50, 3),
        nn.Conv2d(50, 50, 1),
        cnn.Shift2d(50, 5, layout="interleaved"),
    )
    x = torch.randn(2, 50, 9, 9, requires_grad=True)
    model(
        x
    ).sum().backward()  # builds at most four plans: two layers, forward and backward
    before = functional_shift._lattice_plan.cache_info()
    for _ in range(3):
        model(x).sum().backward()
    after = functional_shift._lattice_plan.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3 * 4


# ---------------------------------------------------------------------------
# Bad calls
# ---------------------------------------------------------------------------

BAD_SHIFTS = [
    (
        "shifts for 3 channels",
        dict(shifts=np.zeros((3, 2), dtype=np.int64)),
        ValueError,
        r"^shifts must have shape \(4, 2\) \(one \(dy, dx\) per channel\), got shape \(3, 2\)$",
    ),
    (
        "shifts of 3 coordinates",
        dict(shifts=np.zeros((4, 3), dtype=np.int64)),
        ValueError,
        r"^shifts must have shape \(4, 2\)",
    ),
    (
        "bool shifts",
        dict(shifts=np.zeros((4, 2), dtype=bool)),
        TypeError,
        r"^shifts must be integer or floating, got bool$",
    ),
    (
        "float32 shifts on float64 x",
        dict(shifts=np.zeros((4, 2), dtype=np.float32)),
        TypeError,
        r"^shifts must have the same dtype as x \(float64\), got float32$",
    ),
    (
        "x not 4-D",
        dict(x=np.zeros((4, 5, 5))),
        ValueError,
        r"^x must be 4-D with shape \(N, C, H, W\), got shape \(4, 5, 5\)$",
    ),
    (
        "integer x",
        dict(x=np.zeros((1, 4, 5, 5), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_SHIFTS))
def test_shift2d_bad_calls(overrides, exception, pattern):
    kwargs = {
        **dict(x=np.zeros((1, 4, 5, 5)), shifts=np.zeros((4, 2), dtype=np.int64)),
        **overrides,
    }
    assert_both_refuse("shift2d", kwargs, exception, pattern)
    if "x" in overrides:  # pattern_shift2d checks x with the same words
        with pytest.raises(exception, match=pattern):
            pattern_shift2d(torch.from_numpy(overrides["x"]))


def test_shift_layer_refuses_other_channel_counts():
    with pytest.raises(
        ValueError,
        match=r"^Shift2d: x must have 18 channels, the layer's input channels,"
        r" got shape \(1, 20, 5, 5\)$",
    ):
        cnn.Shift2d(18)(torch.zeros(1, 20, 5, 5))


def test_shift2d_wrong_shifts_type():
    with pytest.raises(TypeError, match=r"^shifts must be a numpy.ndarray, got list$"):
        reference.shift2d(np.zeros((1, 2, 3, 3)), [[0, 0], [0, 0]])
    with pytest.raises(TypeError, match=r"^shifts must be a torch.Tensor, got list$"):
        functional.shift2d(torch.zeros(1, 2, 3, 3), [[0, 0], [0, 0]])
    with pytest.raises(
        TypeError, match=r"^x must be a torch.Tensor, got numpy.ndarray$"
    ):
        pattern_shift2d(np.zeros((1, 9, 3, 3)))


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(channels=0), ValueError, r"^channels must be >= 1, got 0$"),
        (
            dict(channels=9, kernel_size=4),
            ValueError,
            r"^kernel_size must be odd \(the directions are centred\), got 4$",
        ),
        (dict(channels=9, dilation=0), ValueError, r"^dilation must be >= 1, got 0$"),
        (
            dict(channels=9, layout="random"),
            ValueError,
            r"^layout must be 'grouped' or 'interleaved', got 'random'$",
        ),
        (dict(channels=9.0), TypeError, r"^channels must be an int, got 9\.0$"),
    ],
)
def test_shift_pattern_bad_calls(kwargs, exception, pattern):
    assert_both_refuse("shift_pattern", kwargs, exception, pattern)
    with pytest.raises(exception, match=pattern):
        cnn.Shift2d(**kwargs)
    if (
        type(kwargs["channels"]) is int
    ):  # the same pattern arguments, with the channels taken from x
        options = {k: v for k, v in kwargs.items() if k != "channels"}
        with pytest.raises(exception, match=pattern):
            pattern_shift2d(torch.zeros(1, kwargs["channels"], 4, 4), **options)


@pytest.mark.cuda
def test_functional_on_cuda_without_a_device_sync():
    x = torch.randn(2, 18, 7, 7, dtype=torch.float64, device="cuda", requires_grad=True)
    tables = (
        functional.shift_pattern(18, 3, device="cuda"),
        torch.rand(18, 2, dtype=torch.float64, device="cuda") * 4 - 2,
    )
    expected = [
        reference.shift2d(x.detach().cpu().numpy(), table.cpu().numpy())
        for table in tables
    ]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host-device synchronisation raises
    try:
        outputs = [functional.shift2d(x, table) for table in tables] + [
            pattern_shift2d(x)
        ]
        torch.autograd.grad(sum(y.sum() for y in outputs), x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for y, want in zip(outputs, [*expected, expected[0]]):
        assert y.device.type == "cuda"
        np.testing.assert_allclose(
            y.detach().cpu().numpy(), want, rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
@pytest.mark.parametrize(
    "channels, kernel_size, dilation", [(20, 3, 1), (18, 3, 2), (53, 5, 1)]
)
def test_pattern_shift2d_in_both_fronts_matches_the_loop(
    layout, channels, kernel_size, dilation
):
    x = np.random.default_rng(1).standard_normal((2, channels, 7, 6))
    table = reference.shift_pattern(channels, kernel_size, dilation, layout)
    expected = loop_shift(x, table)  # the definition, pixel by pixel
    np.testing.assert_array_equal(reference.shift2d(x, table), expected)
    np.testing.assert_array_equal(
        reference.pattern_shift2d(x, kernel_size, dilation, layout), expected
    )
    y = functional.pattern_shift2d(torch.from_numpy(x), kernel_size, dilation, layout)
    np.testing.assert_array_equal(y.numpy(), expected)


@pytest.mark.parametrize(
    "x, options, exception, pattern",
    [
        (
            np.zeros((9, 3, 3)),
            {},
            ValueError,
            r"^x must be 4-D with shape \(N, C, H, W\), got shape \(9, 3, 3\)$",
        ),
        (
            np.zeros((1, 9, 3, 3), dtype=np.int64),
            {},
            TypeError,
            r"^x must have a floating dtype, got int64$",
        ),
        (
            np.zeros((1, 9, 3, 3)),
            dict(kernel_size=2),
            ValueError,
            r"^kernel_size must be odd \(the directions are centred\), got 2$",
        ),
        (
            np.zeros((1, 9, 3, 3)),
            dict(dilation=0),
            ValueError,
            r"^dilation must be >= 1, got 0$",
        ),
        (
            np.zeros((1, 9, 3, 3)),
            dict(layout="random"),
            ValueError,
            r"^layout must be 'grouped' or 'interleaved', got 'random'$",
        ),
    ],
)
def test_pattern_shift2d_bad_calls_in_both_fronts(x, options, exception, pattern):
    assert_both_refuse("pattern_shift2d", dict(x=x, **options), exception, pattern)
