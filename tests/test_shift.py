"""shift2d and shift_pattern (NumPy and PyTorch), the shift layers, and the shift's zero cost.

Oracles, none of them convref: a shift written as a loop over output pixels; PyTorch's depthwise
``conv2d`` with one-hot kernels (followed by the same 1x1 convolution); ``grid_sample``-free
closed forms on a linear ramp (bilinear interpolation of a linear function is exact); the
channel permutation between the two layouts; autograd's numerical gradients.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convref import arith, data, functional, reference
from convref import nn as cnn
import convref.functional.shift as functional_shift


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


def both(x: np.ndarray, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return reference.shift2d(x, shifts), functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts)).numpy()


@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
@pytest.mark.parametrize("channels, kernel_size, dilation", [(18, 3, 1), (20, 3, 2), (27, 3, 1), (50, 5, 1), (4, 3, 1)])
def test_pattern_shift_matches_the_loop(layout, channels, kernel_size, dilation):
    x = np.random.default_rng(0).standard_normal((2, channels, 7, 6))
    shifts = reference.shift_pattern(channels, kernel_size, dilation, layout)
    expected = loop_shift(x, shifts)
    for y in both(x, shifts):
        np.testing.assert_array_equal(y, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_arbitrary_integer_shifts_match_the_loop(channels, height, width, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, channels, height, width))
    shifts = rng.integers(-8, 9, (channels, 2))  # including moves past the edge
    expected = loop_shift(x, shifts)
    for y in both(x, shifts):
        np.testing.assert_array_equal(y, expected)


def test_many_distinct_offsets_use_the_gather_path(monkeypatch):
    rng = np.random.default_rng(1)
    x, shifts = rng.standard_normal((2, 12, 5, 6)), rng.integers(-4, 5, (12, 2))
    monkeypatch.setattr(functional_shift, "MAX_SLICED_OFFSETS", 1)
    np.testing.assert_array_equal(functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts)).numpy(), loop_shift(x, shifts))


def test_pattern_layouts():
    grouped = reference.shift_pattern(20, 3, layout="grouped")
    interleaved = reference.shift_pattern(20, 3, layout="interleaved")
    directions = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert [tuple(v) for v in grouped[:18:2]] == directions  # 2 channels per direction, in row-major order
    assert [tuple(v) for v in interleaved[:9]] == directions
    assert not grouped[18:].any() and not interleaved[18:].any()  # 20 = 2 * 9 + 2 leftover channels, unshifted
    np.testing.assert_array_equal(reference.shift_pattern(9, 3, dilation=3)[0], [-3, -3])
    torch.testing.assert_close(functional.shift_pattern(20, 3, layout="interleaved"), torch.from_numpy(interleaved))


@pytest.mark.parametrize("channels", [9, 18, 23])
def test_layouts_differ_by_a_channel_permutation(channels):
    grouped = reference.shift_pattern(channels, 3, layout="grouped")
    interleaved = reference.shift_pattern(channels, 3, layout="interleaved")
    per = channels // 9
    # grouped channel d * per + i holds direction d; interleaved channel i * 9 + d holds it too
    permutation = np.array([(c % per) * 9 + c // per if c < 9 * per else c for c in range(channels)])
    np.testing.assert_array_equal(grouped, interleaved[permutation])
    x = np.random.default_rng(2).standard_normal((1, channels, 6, 6))
    # channel permutation[c] of the interleaved layer must receive x[c]: feed x[:, inverse], read [:, permutation]
    inverse = np.argsort(permutation)
    np.testing.assert_array_equal(reference.shift2d(x, grouped), reference.shift2d(x[:, inverse], interleaved)[:, permutation])


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
        one_hot[c, 0, k // 2 - dy, k // 2 - dx] = 1  # cross-correlation reads x[h + u - r]: u = r - dy
    expected = F.conv2d(F.conv2d(x, one_hot, padding=k // 2, groups=channels), pointwise)
    torch.testing.assert_close(F.conv2d(functional.shift2d(x, shifts), pointwise), expected, rtol=1e-12, atol=1e-12)


def test_fractional_shift_of_a_ramp_is_exact():
    """Bilinear interpolation of a linear function is exact: the ramp moves by exactly the offset."""
    height, width = 12, 13
    ramp = data.ramp(height, width, slope_y=0.7, slope_x=-0.3)
    x = np.stack([ramp] * 3)[None]  # (1, 3, H, W)
    shifts = np.array([[0.25, 0.5], [-1.5, 0.75], [2.4, -1.2]])
    h, w = np.arange(height)[:, None], np.arange(width)[None, :]
    for y in both(x, shifts):
        for c, (dy, dx) in enumerate(shifts):
            expected = ramp[0, 0] + 0.7 * (h - dy) - 0.3 * (w - dx)
            inside = (h - dy >= 0) & (h - dy <= height - 1) & (w - dx >= 0) & (w - dx <= width - 1)
            np.testing.assert_allclose(y[0, c][inside], expected[inside], rtol=1e-12, atol=1e-12)


def test_integer_valued_float_shifts_equal_integer_shifts():
    rng = np.random.default_rng(4)
    x, shifts = rng.standard_normal((1, 9, 5, 5)), reference.shift_pattern(9, 3)
    for y in both(x, shifts.astype(np.float64)):
        np.testing.assert_allclose(y, loop_shift(x, shifts), rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16))
def test_fractional_reference_matches_functional(seed):
    rng = np.random.default_rng(seed)
    x, shifts = rng.standard_normal((2, 4, 5, 6)), rng.uniform(-6, 6, (4, 2))
    reference_y, functional_y = both(x, shifts)
    np.testing.assert_allclose(reference_y, functional_y, rtol=1e-12, atol=1e-12)


def test_gradcheck_active_shift():
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    shifts = torch.tensor([[0.3, -0.6], [1.2, 0.4], [-0.7, -1.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(functional.shift2d, (x, shifts))


def test_integer_shift_backward_is_the_opposite_shift():
    x = torch.randn(2, 9, 6, 6, dtype=torch.float64, requires_grad=True)
    shifts = functional.shift_pattern(9, 3)
    grad_out = torch.randn(2, 9, 6, 6, dtype=torch.float64)
    functional.shift2d(x, shifts).backward(grad_out)
    torch.testing.assert_close(x.grad, torch.from_numpy(loop_shift(grad_out.numpy(), -shifts.numpy())))


def test_functional_keeps_dtypes():
    x = torch.randn(1, 9, 4, 4, dtype=torch.bfloat16)
    assert functional.shift2d(x, functional.shift_pattern(9)).dtype == torch.bfloat16
    assert reference.shift2d(np.ones((1, 9, 4, 4), np.float32), reference.shift_pattern(9)).dtype == np.float32


# ---------------------------------------------------------------------------
# Layers and cost
# ---------------------------------------------------------------------------


def test_shift_layer_has_no_parameters_and_no_cost():
    layer = cnn.Shift2d(18, 3)
    assert sum(p.numel() for p in layer.parameters()) == 0
    assert arith.shift_cost(18, 32) == arith.Cost(0, 0)
    x = torch.randn(1, 18, 5, 5, dtype=torch.float64)
    np.testing.assert_array_equal(layer(x).numpy(), loop_shift(x.numpy(), layer.shifts.numpy()))


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
    torch.testing.assert_close(layer.shifts.detach(), torch.tensor([[1.0, -1.0]], dtype=torch.float64), atol=0.05, rtol=0)


def test_shift_block_parameters_and_residual():
    block = cnn.ShiftBlock(16, 16, expansion=2)
    # two 1x1 convolutions without bias and two BatchNorms; the shift adds nothing
    assert sum(p.numel() for p in block.parameters()) == 16 * 32 + 32 * 16 + 2 * 32 + 2 * 16
    assert block.residual and not cnn.ShiftBlock(16, 32).residual and not cnn.ShiftBlock(16, 16, stride=2).residual
    x = torch.randn(2, 16, 8, 8)
    assert block(x).shape == (2, 16, 8, 8)
    assert cnn.ShiftBlock(16, 32, stride=2)(x).shape == (2, 32, 4, 4)


# ---------------------------------------------------------------------------
# Bad calls
# ---------------------------------------------------------------------------

BAD_SHIFTS = [
    (dict(shifts=np.zeros((3, 2), dtype=np.int64)), ValueError,
     r"^shifts must have shape \(4, 2\) \(one \(dy, dx\) per channel\), got shape \(3, 2\)$"),
    (dict(shifts=np.zeros((4, 3), dtype=np.int64)), ValueError, r"^shifts must have shape \(4, 2\)"),
    (dict(shifts=np.zeros((4, 2), dtype=bool)), TypeError, r"^shifts must be integer or floating, got bool$"),
    (dict(shifts=np.zeros((4, 2), dtype=np.float32)), TypeError, r"^shifts must have the same dtype as x \(float64\), got float32$"),
    (dict(x=np.zeros((4, 5, 5))), ValueError, r"^x must be 4-D with shape \(N, C, H, W\), got shape \(4, 5, 5\)$"),
    (dict(x=np.zeros((1, 4, 5, 5), dtype=np.int64)), TypeError, r"^x must have a floating dtype, got int64$"),
]


@pytest.mark.parametrize("overrides, exception, pattern", BAD_SHIFTS)
def test_shift2d_bad_calls(overrides, exception, pattern):
    kwargs = {**dict(x=np.zeros((1, 4, 5, 5)), shifts=np.zeros((4, 2), dtype=np.int64)), **overrides}
    messages = []
    for call, convert in ((reference.shift2d, lambda v: v), (functional.shift2d, torch.from_numpy)):
        with pytest.raises(exception) as info:
            call(**{k: convert(v) for k, v in kwargs.items()})
        messages.append(str(info.value))
        assert re.search(pattern, messages[-1]), messages[-1]
    assert messages[0] == messages[1]


def test_shift2d_wrong_shifts_type():
    with pytest.raises(TypeError, match=r"^shifts must be a numpy.ndarray, got list$"):
        reference.shift2d(np.zeros((1, 2, 3, 3)), [[0, 0], [0, 0]])
    with pytest.raises(TypeError, match=r"^shifts must be a torch.Tensor, got list$"):
        functional.shift2d(torch.zeros(1, 2, 3, 3), [[0, 0], [0, 0]])


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(channels=0), ValueError, r"^channels must be >= 1, got 0$"),
        (dict(channels=9, kernel_size=4), ValueError, r"^kernel_size must be odd \(the directions are centred\), got 4$"),
        (dict(channels=9, dilation=0), ValueError, r"^dilation must be >= 1, got 0$"),
        (dict(channels=9, layout="random"), ValueError, r"^layout must be 'grouped' or 'interleaved', got 'random'$"),
        (dict(channels=9.0), TypeError, r"^channels must be an int, got 9\.0$"),
    ],
)
def test_shift_pattern_bad_calls(kwargs, exception, pattern):
    for call in (reference.shift_pattern, functional.shift_pattern, cnn.Shift2d):
        with pytest.raises(exception, match=pattern):
            call(**kwargs)


@pytest.mark.cuda
def test_functional_on_cuda():
    x = torch.randn(2, 18, 7, 7, dtype=torch.float64, device="cuda")
    for shifts in (functional.shift_pattern(18, 3, device="cuda"), torch.rand(18, 2, dtype=torch.float64, device="cuda") * 4 - 2):
        y = functional.shift2d(x, shifts)
        assert y.device.type == "cuda"
        np.testing.assert_allclose(y.cpu().numpy(), reference.shift2d(x.cpu().numpy(), shifts.cpu().numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pattern", ["runs", "scattered", "strided_and_leftover"])
def test_integer_shift_copy_paths_match_the_loop(pattern):
    """Channels of one offset as a few evenly spaced runs (one copy each) or scattered (one indexed copy)."""
    rng = np.random.default_rng(3)
    channels = 20
    if pattern == "runs":  # two offsets, each in two contiguous runs
        offsets = np.array([(1, -2)] * 5 + [(-1, 1)] * 5 + [(1, -2)] * 5 + [(-1, 1)] * 5)
    elif pattern == "scattered":  # far more runs than MAX_RUNS_PER_OFFSET
        offsets = np.array([(2, 1), (0, -1)])[rng.integers(0, 2, channels)]
    else:  # every third channel, then an unshifted tail (ShiftNet's leftover channels)
        offsets = np.array([(1, 1) if c % 3 == 0 and c < 15 else (0, 0) for c in range(channels)])
    assert functional_shift.MAX_RUNS_PER_OFFSET < 8
    x = rng.standard_normal((2, channels, 5, 6))
    expected = loop_shift(x, offsets)
    out = functional.shift2d(torch.from_numpy(x), torch.from_numpy(offsets))
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("small_plane", [0, 10**9], ids=["flat-copies", "zero-then-window"])
@pytest.mark.parametrize("layout", ["grouped", "interleaved"])
def test_both_integer_copy_strategies_match_the_loop(monkeypatch, small_plane, layout):
    """Large planes move by flat copies and clear the borders; small ones are zeroed, then copied by window."""
    monkeypatch.setattr(functional_shift, "MAX_SMALL_PLANE", small_plane)
    rng = np.random.default_rng(4)
    shifts = reference.shift_pattern(22, 3, dilation=2, layout=layout)  # 4 unshifted leftover channels
    shifts[:3] = [(7, 0), (0, -9), (-3, 40)]  # past the edge: whole planes of zeros
    x = rng.standard_normal((2, 22, 7, 9))
    out = functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts))
    np.testing.assert_array_equal(out.numpy(), loop_shift(x, shifts))


def test_a_table_changed_in_place_gets_a_new_plan():
    """The per-offset channel plan is reused by content, so editing the table (even behind autograd's back) is seen."""
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
@pytest.mark.parametrize("kernel_size, dilation, channels", [(3, 1, 22), (3, 2, 18), (5, 1, 53), (3, 4, 9)])
@pytest.mark.parametrize("sign", [1, -1], ids=["pattern", "negated"])
@pytest.mark.parametrize("batch", [1, 2, 4])
def test_shiftnet_tables_move_as_one_lattice_and_match_the_loop(layout, kernel_size, dilation, channels, sign, batch):
    """ShiftNet's table and its negation (the backward pass) are recognised; first/last images that would read outside fall back."""
    rng = np.random.default_rng(6)
    shifts = sign * reference.shift_pattern(channels, kernel_size, dilation, layout)
    table = torch.from_numpy(shifts)
    assert functional_shift._offset_plan(table).lattice is not None
    x = rng.standard_normal((batch, channels, 5, 7))  # dilation 4 at k = 3: the largest move that stays in a 5-row image
    expected = loop_shift(x, shifts)
    np.testing.assert_array_equal(functional.shift2d(torch.from_numpy(x), table).numpy(), expected)
    channels_last = torch.from_numpy(x).to(memory_format=torch.channels_last)
    np.testing.assert_array_equal(functional.shift2d(channels_last, table).numpy(), expected)


def test_lattice_copy_never_leaks_values_from_outside_or_from_wrapped_rows():
    """Neighbouring memory full of NaN, and inf in the columns a flat move wraps: the border must still be exact zeros."""
    shifts = reference.shift_pattern(18, 3, 1, "grouped")
    storage = torch.full((4, 18, 6, 6), float("nan"), dtype=torch.float64)
    x = storage[1:3]  # a contiguous view with NaN right before and after it
    x.copy_(torch.from_numpy(np.random.default_rng(7).standard_normal((2, 18, 6, 6))))
    x[:, :, :, 0] = float("inf")
    x[:, :, :, -1] = -float("inf")
    x[:, :, 0] = float("inf")
    expected = loop_shift(x.numpy(), shifts)
    out = functional.shift2d(x, torch.from_numpy(shifts))
    np.testing.assert_array_equal(out.numpy(), expected)
    assert not out.isnan().any()
    for sign in (1, -1):
        grad_out = torch.randn(2, 18, 6, 6, dtype=torch.float64)
        x_req = x.clone().requires_grad_(True)
        functional.shift2d(x_req, torch.from_numpy(sign * shifts)).backward(grad_out)
        np.testing.assert_array_equal(x_req.grad.numpy(), loop_shift(grad_out.numpy(), -sign * shifts))


@pytest.mark.parametrize(
    "change",
    ["one_channel_moved", "moves_as_large_as_the_image", "no_moves"],
)
def test_tables_that_are_not_a_usable_lattice_still_match_the_loop(change):
    rng = np.random.default_rng(8)
    shifts = reference.shift_pattern(20, 3, 1, "interleaved")
    height = 6
    if change == "one_channel_moved":
        shifts[5] = (1, 1)
    elif change == "moves_as_large_as_the_image":
        shifts = reference.shift_pattern(20, 3, height, "interleaved")
    else:
        shifts[:] = 0
    plan = functional_shift._offset_plan(torch.from_numpy(shifts))
    assert (plan.lattice is None) == (change != "moves_as_large_as_the_image")
    x = rng.standard_normal((3, 20, height, 6))
    out = functional.shift2d(torch.from_numpy(x), torch.from_numpy(shifts))
    np.testing.assert_array_equal(out.numpy(), loop_shift(x, shifts))
