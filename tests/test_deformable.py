"""deform_conv2d (DCN v1 and v2, torchvision's layouts) and dcls_kernel, in NumPy and PyTorch.

Oracles, none of them convref:

- PyTorch's ``conv2d``: with zero offsets (and a mask of ones) a deformable convolution is an
  ordinary one; with integer offsets it is ``conv2d`` of an input shifted by a zero-filled shift
  written here (one shift for all taps, or a sum over taps of shifted 1x1 convolutions);
- a linear ramp ``a_c y + b_c x + c_0``, on which bilinear sampling is exact, so the output has a
  closed form computed here for any fractional offsets that keep the points inside the image;
- sample points worked out by hand: on pixels, on the border, fully and partly outside;
- a loop over ``n, o, h, w``, channels and taps, with bilinear sampling written as the sum over
  the four integer neighbours of ``max(0, 1 - |dy|) max(0, 1 - |dx|) x`` (zero outside);
- autograd's numerical gradients (``gradcheck``), away from integer sample points;
- for ``dcls_kernel``: a loop that splats each weight on its four neighbours, and PyTorch's
  dilated ``conv2d`` for positions on the regular dilated grid;
- ``torchvision.ops.deform_conv2d`` itself, forward and backward, in the CUDA tests (torchvision
  is not needed anywhere else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convref.functional.deformable as functional_deformable
from convref import functional, reference
from harness import Case, assert_both_refuse, bad_calls, run_both, to_torch

RTOL, ATOL = 1e-10, 1e-10


def _t(a: Optional[np.ndarray]) -> Optional[torch.Tensor]:
    return None if a is None else torch.from_numpy(a)


# ---------------------------------------------------------------------------
# Independent oracles written here
# ---------------------------------------------------------------------------


def bilinear_read(image: list, y: float, x: float) -> float:
    """Bilinear read of a ``H x W`` nested list at ``(y, x)``: the four integer neighbours, zero outside."""
    height, width = len(image), len(image[0])
    top, left = math.floor(y), math.floor(x)
    total = 0.0
    for qy in (top, top + 1):
        for qx in (left, left + 1):
            if 0 <= qy < height and 0 <= qx < width:
                total += (
                    max(0.0, 1 - abs(qy - y))
                    * max(0.0, 1 - abs(qx - x))
                    * image[qy][qx]
                )
    return total


def loop_deform_conv2d(
    x, offset, weight, bias, stride, padding, dilation, mask
) -> np.ndarray:
    """The definition, one output value at a time (ints or pairs for stride/padding/dilation)."""
    (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (stride, padding, dilation))
    batch, in_channels = x.shape[:2]
    out_channels, per_group, kh, kw = weight.shape
    groups, taps = in_channels // per_group, kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    out_h, out_w = offset.shape[2:]
    xs, offs, ws = x.tolist(), offset.tolist(), weight.tolist()
    masks = None if mask is None else mask.tolist()
    out = np.zeros((batch, out_channels, out_h, out_w))
    for n in range(batch):
        for o in range(out_channels):
            group = o // (out_channels // groups)
            for h in range(out_h):
                for w in range(out_w):
                    total = 0.0 if bias is None else float(bias[o])
                    for c_local in range(per_group):
                        c = group * per_group + c_local
                        g = c // (in_channels // offset_groups)
                        for i in range(kh):
                            for j in range(kw):
                                k = i * kw + j
                                dy, dx = (
                                    offs[n][2 * (g * taps + k)][h][w],
                                    offs[n][2 * (g * taps + k) + 1][h][w],
                                )
                                value = bilinear_read(
                                    xs[n][c],
                                    h * sh - ph + i * dh + dy,
                                    w * sw - pw + j * dw + dx,
                                )
                                m = (
                                    1.0
                                    if masks is None
                                    else masks[n][g * taps + k][h][w]
                                )
                                total += ws[o][c_local][i][j] * m * value
                    out[n, o, h, w] = total
    return out


def shift_zero_filled(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., u, v] = x[..., u + dy, v + dx]``, zero where ``(u + dy, v + dx)`` is outside ``x``."""
    height, width = x.shape[-2:]
    out = torch.zeros_like(x)
    u0, u1 = max(0, -dy), min(height, height - dy)
    v0, v1 = max(0, -dx), min(width, width - dx)
    if u0 < u1 and v0 < v1:
        out[..., u0:u1, v0:v1] = x[..., u0 + dy : u1 + dy, v0 + dx : v1 + dx]
    return out


def splat_dcls_kernel(weight: np.ndarray, positions: np.ndarray, size) -> np.ndarray:
    """DCLS's dense kernel by splatting each weight on the four cells around its (clamped) position."""
    size_h, size_w = _pair(size)
    out_channels, per_group, kh, kw = weight.shape
    dense = np.zeros((out_channels, per_group, size_h, size_w))
    for o in range(out_channels):
        for c in range(per_group):
            for i in range(kh):
                for j in range(kw):
                    y = min(max(float(positions[0, o, c, i, j]), 0.0), size_h - 1)
                    x = min(max(float(positions[1, o, c, i, j]), 0.0), size_w - 1)
                    top, left = math.floor(y), math.floor(x)
                    fy, fx = y - top, x - left
                    for u, wy in ((top, 1 - fy), (top + 1, fy)):
                        for v, wx in ((left, 1 - fx), (left + 1, fx)):
                            if u < size_h and v < size_w:
                                dense[o, c, u, v] += weight[o, c, i, j] * wy * wx
    return dense


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _out_len(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


# ---------------------------------------------------------------------------
# Geometries
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """A deformable convolution's sampling geometry: the shapes of its offsets and masks, its base points."""

    batch: int
    in_channels: int
    out_channels: int
    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    offset_groups: int = 1

    @property
    def out_size(self) -> tuple[int, int]:
        return tuple(
            _out_len(n, k, s, p, d)
            for n, k, s, p, d in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation
            )
        )

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    def kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation)

    def conv_kwargs(self) -> dict:
        return dict(
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
        )

    def case(self, bias: bool = True) -> Case:
        """The convolution's part of the call: ``x``, ``weight`` and ``bias`` (or None)."""
        return Case.conv2d(
            "deform",
            self.batch,
            self.in_channels,
            self.out_channels,
            self.size,
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            bias,
        )

    def arrays(self, rng: np.random.Generator, bias: bool = True, dtype=np.float64):
        """Random ``x``, ``weight`` and ``bias`` (or None), drawn from ``rng`` (which goes on to draw offsets)."""
        return self.case(bias).arrays(rng, dtype)

    def offset_shape(self) -> tuple[int, ...]:
        return (self.batch, 2 * self.offset_groups * self.taps, *self.out_size)

    def mask_shape(self) -> tuple[int, ...]:
        return (self.batch, self.offset_groups * self.taps, *self.out_size)

    def random_offset(self, rng: np.random.Generator, scale: float = 2.5) -> np.ndarray:
        """Fractional offsets, about a third of them rounded to integers (points exactly on pixels)."""
        offset = rng.uniform(-scale, scale, self.offset_shape())
        return np.where(rng.random(offset.shape) < 0.3, np.round(offset), offset)

    def base_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``p_0 + p_k`` of every tap and output pixel: ``(K, H_out, 1)`` rows and ``(K, 1, W_out)`` columns."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
        )
        out_h, out_w = self.out_size
        rows = np.array(
            [
                [h * sh - ph + i * dh for h in range(out_h)]
                for i in range(kh)
                for j in range(kw)
            ]
        )
        cols = np.array(
            [
                [w * sw - pw + j * dw for w in range(out_w)]
                for i in range(kh)
                for j in range(kw)
            ]
        )
        return rows[:, :, None].astype(float), cols[:, None, :].astype(float)


@st.composite
def geometries(
    draw, max_size: int = 6, max_batch: int = 2, max_channel_multiple: int = 2
):
    groups = draw(st.integers(1, 3))
    offset_groups = draw(st.integers(1, 3))
    base = math.lcm(groups, offset_groups)
    in_channels = base * draw(st.integers(1, max_channel_multiple if base <= 3 else 1))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = tuple(
        draw(
            st.integers(
                max(1, d * (k - 1) + 1 - 2 * p), max(max_size, d * (k - 1) + 1 - 2 * p)
            )
        )
        for k, d, p in zip(kernel, dilation, padding)
    )
    return Geometry(
        draw(st.integers(1, max_batch)),
        in_channels,
        out_channels,
        size,
        kernel,
        stride,
        padding,
        dilation,
        groups,
        offset_groups,
    )


# ---------------------------------------------------------------------------
# 1. Zero offsets: an ordinary convolution
# ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    geometries(max_size=7),
    st.sampled_from(["none", "ones"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_zero_offsets_are_an_ordinary_convolution(geometry, mask_kind, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng, with_bias)
    offset = np.zeros(geometry.offset_shape())
    mask = np.ones(geometry.mask_shape()) if mask_kind == "ones" else None
    expected = F.conv2d(_t(x), _t(weight), _t(bias), **geometry.conv_kwargs()).numpy()
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask, **geometry.kwargs()
    ).items():
        assert y.shape == expected.shape, name
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_zero_offsets_with_padding_strings(padding):
    rng = np.random.default_rng(1)
    x, weight, bias = Geometry(2, 4, 6, (5, 6), (3, 2), groups=2).arrays(rng)
    out_size = (
        (3, 4) if padding == "valid" else (5, 6)
    )  # the dilated 3x2 kernel spans 3x3
    offset, mask = np.zeros((2, 2 * 2 * 6, *out_size)), np.ones((2, 2 * 6, *out_size))
    expected = F.conv2d(
        _t(x), _t(weight), _t(bias), padding=padding, dilation=(1, 2), groups=2
    ).numpy()
    for name, y in run_both(
        "deform_conv2d",
        x,
        offset,
        weight,
        bias,
        mask=mask,
        padding=padding,
        dilation=(1, 2),
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


def test_mask_scales_each_tap():
    """A mask of c for every tap of an undeformed convolution scales the convolution (without bias) by c."""
    rng = np.random.default_rng(2)
    g = Geometry(2, 3, 2, (5, 5), (3, 3), padding=(1, 1))
    x, weight, bias = g.arrays(rng)
    expected = (
        0.3 * F.conv2d(_t(x), _t(weight), None, **g.conv_kwargs()).numpy()
        + bias[None, :, None, None]
    )
    mask = np.full(g.mask_shape(), 0.3)
    for name, y in run_both(
        "deform_conv2d",
        x,
        np.zeros(g.offset_shape()),
        weight,
        bias,
        mask=mask,
        **g.kwargs(),
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


# ---------------------------------------------------------------------------
# 2. Integer offsets: convolutions of shifted inputs
# ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(geometries(), st.integers(-4, 4), st.integers(-4, 4), st.integers(0, 2**16))
def test_one_integer_offset_everywhere_is_a_convolution_of_the_shifted_input(
    geometry, dy, dx, seed
):
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng)
    offset = np.zeros(geometry.offset_shape())
    offset[:, 0::2], offset[:, 1::2] = dy, dx
    (ph, pw) = geometry.padding
    padded = F.pad(_t(x), (pw, pw, ph, ph))
    expected = F.conv2d(
        shift_zero_filled(padded, dy, dx),
        _t(weight),
        _t(bias),
        stride=geometry.stride,
        dilation=geometry.dilation,
        groups=geometry.groups,
    ).numpy()
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, **geometry.kwargs()
    ).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(geometries(), st.booleans(), st.integers(0, 2**16))
def test_per_tap_integer_offsets_are_a_sum_of_shifted_1x1_convolutions(
    geometry, with_mask, seed
):
    """Tap k of offset group g moves by its own integer (dy, dx), the same at every pixel."""
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng)
    G, K, (kh, kw) = geometry.offset_groups, geometry.taps, geometry.kernel
    moves = rng.integers(-3, 4, (G, K, 2))  # (dy, dx) per offset group and tap
    offset = np.zeros(geometry.offset_shape())
    # per-tap scalar modulation, the same at every pixel (mask None means 1)
    scales = rng.uniform(0, 1, (G, K)) if with_mask else np.ones((G, K))
    for g in range(G):
        for k in range(K):
            offset[:, 2 * (g * K + k)], offset[:, 2 * (g * K + k) + 1] = moves[g, k]
    mask = (
        np.broadcast_to(scales.reshape(1, G * K, 1, 1), geometry.mask_shape()).copy()
        if with_mask
        else None
    )

    (ph, pw), (dh, dw) = geometry.padding, geometry.dilation
    out_h, out_w = geometry.out_size
    padded = F.pad(_t(x), (pw, pw, ph, ph))
    per_offset_group = geometry.in_channels // G
    expected = torch.zeros(
        geometry.batch, geometry.out_channels, out_h, out_w, dtype=torch.float64
    )
    expected += torch.from_numpy(bias)[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            k = i * kw + j
            # every channel moved to where tap k of its offset group reads, times that tap's scale
            shifted = torch.cat(
                [
                    scales[g, k]
                    * shift_zero_filled(
                        padded[:, g * per_offset_group : (g + 1) * per_offset_group],
                        i * dh + int(moves[g, k, 0]),
                        j * dw + int(moves[g, k, 1]),
                    )
                    for g in range(G)
                ],
                dim=1,
            )
            tap = F.conv2d(
                shifted,
                _t(weight)[:, :, i : i + 1, j : j + 1],
                stride=geometry.stride,
                groups=geometry.groups,
            )
            expected += tap[:, :, :out_h, :out_w]
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask, **geometry.kwargs()
    ).items():
        np.testing.assert_allclose(
            y, expected.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


# ---------------------------------------------------------------------------
# 3. Bilinear sampling is exact on a linear ramp; hand-worked points
# ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(geometries(max_size=6), st.booleans(), st.integers(0, 2**16))
def test_linear_input_has_a_closed_form_for_any_fractional_offsets_inside(
    geometry, with_mask, seed
):
    """x(c, y, x) = a_c y + b_c x + c_0 is reproduced exactly by bilinear reads inside the image."""
    rng = np.random.default_rng(seed)
    N, C, (H, W) = geometry.batch, geometry.in_channels, geometry.size
    G, K = geometry.offset_groups, geometry.taps
    out_h, out_w = geometry.out_size
    a, b, c0 = (rng.uniform(-2, 2, (N, C)) for _ in range(3))
    rows, cols = np.arange(H)[:, None], np.arange(W)[None, :]
    x = a[:, :, None, None] * rows + b[:, :, None, None] * cols + c0[:, :, None, None]
    _, weight, bias = geometry.arrays(rng)

    # the sample points: anywhere in [0, H-1] x [0, W-1], some of them on pixels or on the border
    def targets(extent: int) -> np.ndarray:
        points = rng.uniform(0, extent - 1, (N, G, K, out_h, out_w))
        pick = rng.random(points.shape)
        points = np.where(pick < 0.15, 0.0, points)
        points = np.where((pick >= 0.15) & (pick < 0.3), extent - 1.0, points)
        return np.where((pick >= 0.3) & (pick < 0.4), np.round(points), points)

    sample_y, sample_x = targets(H), targets(W)
    base_y, base_x = geometry.base_points()
    offset = np.zeros(geometry.offset_shape())
    offset[:, 0::2] = (sample_y - base_y).reshape(N, G * K, out_h, out_w)
    offset[:, 1::2] = (sample_x - base_x).reshape(N, G * K, out_h, out_w)
    mask = rng.uniform(0, 1, geometry.mask_shape()) if with_mask else None
    modulation = (
        np.ones((N, G, K, out_h, out_w))
        if mask is None
        else mask.reshape(N, G, K, out_h, out_w)
    )

    # closed form: sum over taps and channels of w * m * (a y_sample + b x_sample + c0)
    expected = (
        np.zeros((N, geometry.out_channels, out_h, out_w)) + bias[None, :, None, None]
    )
    per_group, out_per_group = (
        C // geometry.groups,
        geometry.out_channels // geometry.groups,
    )
    for o in range(geometry.out_channels):
        for c_local in range(per_group):
            c = (o // out_per_group) * per_group + c_local
            g = c // (C // G)
            value = (
                a[:, c, None, None, None] * sample_y[:, g]
                + b[:, c, None, None, None] * sample_x[:, g]
                + c0[:, c, None, None, None]
            )  # (N, K, H_out, W_out)
            expected[:, o] += np.einsum(
                "k,nkhw->nhw", weight[o, c_local].reshape(K), modulation[:, g] * value
            )
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask, **geometry.kwargs()
    ).items():
        np.testing.assert_allclose(y, expected, rtol=1e-9, atol=1e-9, err_msg=name)


def _read_points(
    image: np.ndarray, points: list[tuple[float, float]]
) -> dict[str, np.ndarray]:
    """Read a single-channel image at the given points: a 1x1 kernel of weight 1, one output pixel per point.

    Padding enlarges the output without touching the image: output pixel ``(h, w)`` has the base
    point ``(h - pad, w - pad)``, so its offset is the point minus that. Output pixels without a
    point read far outside the image.
    """
    height, width = image.shape
    pad = 0
    while (height + 2 * pad) * (width + 2 * pad) < len(points):
        pad += 1
    out_h, out_w = height + 2 * pad, width + 2 * pad
    offset = np.full((1, 2, out_h, out_w), -1000.0)
    for t, (py, px) in enumerate(points):
        h, w = divmod(t, out_w)
        offset[0, 0, h, w], offset[0, 1, h, w] = py - (h - pad), px - (w - pad)
    results = run_both(
        "deform_conv2d", image[None, None], offset, np.ones((1, 1, 1, 1)), padding=pad
    )
    values = {}
    for name, y in results.items():
        flat = y.reshape(-1)
        assert not flat[len(points) :].any(), name
        values[name] = flat[: len(points)]
    return values


def test_points_on_pixels_and_on_the_border_read_the_pixel():
    image = np.random.default_rng(3).standard_normal((3, 4))
    H, W = image.shape
    on_pixels = [
        (0, 0),
        (0, W - 1),
        (H - 1, 0),
        (H - 1, W - 1),
        (1, 2),
        (2, 1),
        (0, 1),
        (H - 1, 2),
        (1, 0),
        (2, W - 1),
    ]
    for name, values in _read_points(
        image, [(float(y), float(x)) for y, x in on_pixels]
    ).items():
        np.testing.assert_allclose(
            values,
            [image[y, x] for y, x in on_pixels],
            rtol=1e-12,
            atol=1e-12,
            err_msg=name,
        )


def test_points_along_the_border_interpolate_along_it():
    image = np.random.default_rng(4).standard_normal((3, 4))
    H, W = image.shape
    cases = [
        ((0.0, 1.5), 0.5 * image[0, 1] + 0.5 * image[0, 2]),
        ((H - 1.0, 2.25), 0.75 * image[H - 1, 2] + 0.25 * image[H - 1, 3]),
        ((1.5, 0.0), 0.5 * image[1, 0] + 0.5 * image[2, 0]),
        ((0.25, W - 1.0), 0.75 * image[0, W - 1] + 0.25 * image[1, W - 1]),
    ]
    for name, values in _read_points(image, [p for p, _ in cases]).items():
        np.testing.assert_allclose(
            values, [v for _, v in cases], rtol=1e-12, atol=1e-12, err_msg=name
        )


def test_points_fully_outside_read_zero():
    image = (
        np.random.default_rng(5).standard_normal((3, 4)) + 10
    )  # no zeros anywhere inside
    H, W = image.shape
    outside = [
        (-1.0, 0.0),
        (0.0, -1.0),
        (H, 1.0),
        (1.0, W),
        (-1.0, -1.0),
        (-1.0, 1.5),
        (H, W),
        (-3.7, 2.0),
        (2.0, W + 0.5),
        (H + 100.0, 0.0),
        (1.0, -55.5),
    ]
    for name, values in _read_points(image, outside).items():
        # grid_sample's normalised coordinates can put a point on the far edge (y = H) a rounding error
        # inside, which reads eps * x[H - 1]: zero up to rounding, not a bilinear weight
        np.testing.assert_allclose(
            values, np.zeros(len(outside)), rtol=0, atol=1e-12, err_msg=name
        )


# x = [[1, 2], [3, 4]]; only the corners inside the image count, with their bilinear weights.
PARTLY_OUTSIDE = [
    ((-0.25, 0.5), 0.75 * (0.5 * 1 + 0.5 * 2)),  # row -1 outside
    ((1.5, 1.5), 0.5 * 0.5 * 4),  # row 2 and column 2 outside
    ((-0.5, -0.5), 0.5 * 0.5 * 1),  # row -1 and column -1 outside
    ((0.5, 1.75), 0.5 * 0.25 * 2 + 0.5 * 0.25 * 4),  # column 2 outside
    ((-0.9, 1.0), 0.1 * 2),  # on column 1, 0.1 of row 0
    ((1.0, -0.2), 0.8 * 3),  # on row 1, 0.8 of column 0
    ((0.5, 0.5), 2.5),  # inside, for scale
]


def test_points_partly_outside_count_only_the_corners_inside():
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    for name, values in _read_points(image, [p for p, _ in PARTLY_OUTSIDE]).items():
        np.testing.assert_allclose(
            values, [v for _, v in PARTLY_OUTSIDE], rtol=1e-12, atol=1e-12, err_msg=name
        )


def test_single_pixel_image():
    """A 1x1 image (grid_sample's normalisation has a 1-pixel width in the denominator)."""
    points = [(0.0, 0.0), (0.5, 0.0), (-0.25, 0.75), (1.0, 0.0), (0.0, -1.0)]
    expected = [7.0, 0.5 * 7, 0.75 * 0.25 * 7, 0.0, 0.0]
    results = {}
    for py, px in points:
        offset = np.array([py, px]).reshape(1, 2, 1, 1)
        for name, y in run_both(
            "deform_conv2d", np.full((1, 1, 1, 1), 7.0), offset, np.ones((1, 1, 1, 1))
        ).items():
            results.setdefault(name, []).append(y.item())
    for name, values in results.items():
        np.testing.assert_allclose(
            values, expected, rtol=1e-12, atol=1e-12, err_msg=name
        )


# ---------------------------------------------------------------------------
# 4. The loop oracle; 5. reference against PyTorch
# ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    geometries(max_size=5),
    st.booleans(),
    st.booleans(),
    st.floats(0.5, 7.0),
    st.integers(0, 2**16),
)
def test_both_versions_match_the_loop(geometry, with_mask, with_bias, scale, seed):
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng, with_bias)
    offset = geometry.random_offset(rng, scale)
    mask = rng.uniform(-0.5, 1.5, geometry.mask_shape()) if with_mask else None
    expected = loop_deform_conv2d(
        x,
        offset,
        weight,
        bias,
        geometry.stride,
        geometry.padding,
        geometry.dilation,
        mask,
    )
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask, **geometry.kwargs()
    ).items():
        assert y.shape == expected.shape and y.dtype == np.float64, name
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize(
    "stride, padding, dilation", [(1, 0, 1), ((2, 1), (1, 2), (1, 2)), (3, 2, 2)]
)
def test_offset_layout_is_dy_dx_per_tap_and_group(stride, padding, dilation):
    """One non-zero offset at a time, in every channel, against the loop: pins which channel moves what."""
    g = Geometry(
        1,
        4,
        2,
        (5, 6),
        (2, 3),
        _pair(stride),
        _pair(padding),
        _pair(dilation),
        groups=1,
        offset_groups=2,
    )
    rng = np.random.default_rng(6)
    x, weight, _ = g.arrays(rng, bias=False)
    for channel in range(g.offset_shape()[1]):
        offset = np.zeros(g.offset_shape())
        offset[:, channel] = rng.uniform(-1.5, 1.5, g.out_size)
        expected = loop_deform_conv2d(
            x, offset, weight, None, stride, padding, dilation, None
        )
        for name, y in run_both(
            "deform_conv2d", x, offset, weight, **g.kwargs()
        ).items():
            np.testing.assert_allclose(
                y,
                expected,
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"{name}, offset channel {channel}",
            )


@settings(max_examples=30, deadline=None)
@given(geometries(max_size=9, max_batch=3), st.booleans(), st.integers(0, 2**16))
def test_reference_matches_functional_float64(geometry, with_mask, seed):
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng)
    offset = geometry.random_offset(rng, scale=4.0)
    mask = rng.uniform(0, 1, geometry.mask_shape()) if with_mask else None
    results = run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask, **geometry.kwargs()
    )
    np.testing.assert_allclose(
        results["reference"], results["functional"], rtol=RTOL, atol=ATOL
    )


@settings(max_examples=25, deadline=None)
@given(geometries(max_size=7), st.booleans(), st.integers(0, 2**16))
def test_float32_is_kept_and_close_to_float64(geometry, with_mask, seed):
    """float32 rounds the sample points (relative 6e-8 of coordinates < 10) and the sums: 1e-4 is ample."""
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng)
    offset = geometry.random_offset(rng, scale=3.0)
    mask = rng.uniform(0, 1, geometry.mask_shape()) if with_mask else None
    expected = reference.deform_conv2d(
        x, offset, weight, bias, mask=mask, **geometry.kwargs()
    )
    f32 = [
        None if a is None else a.astype(np.float32)
        for a in (x, offset, weight, bias, mask)
    ]
    for name, y in run_both(
        "deform_conv2d", *f32[:4], mask=f32[4], **geometry.kwargs()
    ).items():
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("argument", ["x", "offset", "weight", "bias", "mask"])
def test_non_contiguous_inputs(argument):
    """Each argument in turn as a non-contiguous view (H and W swapped in memory, or a strided slice)."""
    g = Geometry(2, 4, 6, (5, 6), (3, 3), padding=(1, 1), groups=2, offset_groups=2)
    rng = np.random.default_rng(7)
    x, weight, bias = g.arrays(rng)
    arrays = dict(
        x=x,
        offset=g.random_offset(rng),
        weight=weight,
        bias=bias,
        mask=rng.uniform(0, 1, g.mask_shape()),
    )
    expected = reference.deform_conv2d(**arrays, **g.kwargs())
    tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
    if argument == "bias":
        tensors["bias"] = torch.from_numpy(np.repeat(bias, 2))[::2]
    else:
        tensors[argument] = (
            tensors[argument].transpose(2, 3).contiguous().transpose(2, 3)
        )
    assert not tensors[argument].is_contiguous()
    np.testing.assert_allclose(
        functional.deform_conv2d(**tensors, **g.kwargs()).numpy(),
        expected,
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize("with_mask", [False, True])
def test_empty_batch(with_mask):
    """torchvision accepts a batch of 0 images; so do both versions, and the gradients are zero."""
    g = Geometry(0, 4, 6, (5, 5), (3, 3), groups=2, offset_groups=2)
    rng = np.random.default_rng(8)
    x, weight, bias = g.arrays(rng)
    offset, mask = (
        np.zeros(g.offset_shape()),
        (np.ones(g.mask_shape()) if with_mask else None),
    )
    for name, y in run_both(
        "deform_conv2d", x, offset, weight, bias, mask=mask
    ).items():
        assert y.shape == (0, 6, 3, 3), name
    w = torch.from_numpy(weight).requires_grad_()
    functional.deform_conv2d(
        _t(x), _t(offset), w, _t(bias), mask=_t(mask)
    ).sum().backward()
    assert w.grad is not None and not w.grad.any()


# ---------------------------------------------------------------------------
# 6. Gradients; the chunked, checkpointed path
# ---------------------------------------------------------------------------


GRAD_CASES = [
    Geometry(1, 2, 2, (4, 4), (2, 2), padding=(1, 0)),
    Geometry(1, 4, 2, (3, 4), (2, 2), groups=2, offset_groups=2),
    Geometry(1, 2, 2, (4, 5), (3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2)),
    Geometry(1, 3, 3, (3, 3), (2, 2), padding=(1, 1), groups=3, offset_groups=3),
]


def _smooth_offset(geometry: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Integer + uniform(0.2, 0.8) (signed): no sample point lands on a pixel row or column."""
    magnitude = rng.integers(0, 3, geometry.offset_shape()) + rng.uniform(
        0.2, 0.8, geometry.offset_shape()
    )
    return np.where(rng.random(geometry.offset_shape()) < 0.5, -magnitude, magnitude)


def _grad_inputs(geometry: Geometry, seed: int, with_mask: bool = True):
    rng = np.random.default_rng(seed)
    x, weight, bias = geometry.arrays(rng)
    mask = rng.uniform(0, 1, geometry.mask_shape()) if with_mask else None
    return [
        _t(a).requires_grad_() if a is not None else None
        for a in (x, _smooth_offset(geometry, rng), weight, bias, mask)
    ]


@pytest.mark.parametrize("with_mask", [True, False], ids=["v2", "v1"])
@pytest.mark.parametrize(
    "geometry",
    GRAD_CASES,
    ids=lambda g: f"g{g.groups}-og{g.offset_groups}-s{g.stride}-d{g.dilation}",
)
def test_gradcheck(geometry, with_mask):
    inputs = [a for a in _grad_inputs(geometry, 9, with_mask) if a is not None]

    def call(x, offset, weight, bias, mask=None):
        return functional.deform_conv2d(
            x, offset, weight, bias, mask=mask, **geometry.kwargs()
        )

    assert torch.autograd.gradcheck(call, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("offset_groups", [1, 2])
def test_depthwise_layers_read_as_the_reference_does(offset_groups):
    """One filter per channel takes its own path (reads scaled tap by tap, no columns)."""
    geometry = Geometry(
        2, 4, 4, (6, 7), (3, 3), padding=(1, 1), groups=4, offset_groups=offset_groups
    )
    rng = np.random.default_rng(21)
    x, weight, bias = geometry.arrays(rng)
    offset = rng.uniform(-2.5, 2.5, geometry.offset_shape())
    mask = rng.uniform(0, 1, geometry.mask_shape())
    expected = reference.deform_conv2d(
        x, offset, weight, bias, mask=mask, **geometry.kwargs()
    )
    got = functional.deform_conv2d(
        _t(x), _t(offset), _t(weight), _t(bias), mask=_t(mask), **geometry.kwargs()
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=RTOL, atol=ATOL)


def test_second_derivatives_match_finite_differences():
    """The backward pass recorded for double backward (create_graph) is its own code path."""
    geometry = GRAD_CASES[0]
    inputs = [a for a in _grad_inputs(geometry, 11) if a is not None]

    def call(x, offset, weight, bias, mask):
        return functional.deform_conv2d(
            x, offset, weight, bias, mask=mask, **geometry.kwargs()
        )

    assert torch.autograd.gradgradcheck(call, inputs, eps=1e-6, atol=1e-6)


def test_gradient_with_respect_to_offset_on_a_ramp():
    """On x = a y + b x + c, d out / d dy = w a and d out / d dx = w b for points strictly inside."""
    g = Geometry(1, 1, 1, (6, 7), (3, 3))
    rows, cols = np.arange(6)[:, None], np.arange(7)[None, :]
    x = (0.7 * rows - 1.3 * cols + 2.0)[None, None]
    rng = np.random.default_rng(10)
    weight = rng.standard_normal((1, 1, 3, 3))
    offset = torch.from_numpy(
        rng.uniform(0.1, 0.9, g.offset_shape())
        * np.where(rng.random(g.offset_shape()) < 0.5, -1, 1)
    )
    offset.requires_grad_()
    functional.deform_conv2d(_t(x), offset, _t(weight)).sum().backward()
    # a base point off the image's edge rows and columns, moved by less than 0.9 (and never onto a
    # pixel row or column), stays strictly inside, where the read is the ramp itself
    base_y, base_x = g.base_points()
    strictly = np.broadcast_to(
        (base_y > 0) & (base_y < 5) & (base_x > 0) & (base_x < 6), (9, *g.out_size)
    )
    w = weight.reshape(9, 1, 1)
    grad = offset.grad.numpy()[0]
    np.testing.assert_allclose(
        grad[0::2][strictly],
        np.broadcast_to(0.7 * w, strictly.shape)[strictly],
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        grad[1::2][strictly],
        np.broadcast_to(-1.3 * w, strictly.shape)[strictly],
        rtol=1e-12,
        atol=1e-12,
    )
    assert strictly.sum() > 10


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Every image its own chunk, and a count of the checkpointed chunk calls."""
    monkeypatch.setattr(functional_deformable, "MAX_COLUMN_ELEMENTS", 1)
    calls = []
    original = functional_deformable.checkpoint

    def counting_checkpoint(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(functional_deformable, "checkpoint", counting_checkpoint)
    return calls


CHUNK_CASE = Geometry(
    3, 4, 6, (5, 6), (3, 3), stride=(1, 2), padding=(1, 1), groups=2, offset_groups=2
)


def test_chunked_forward_matches_the_loop(tiny_chunks):
    rng = np.random.default_rng(11)
    x, weight, bias = CHUNK_CASE.arrays(rng)
    offset, mask = (
        CHUNK_CASE.random_offset(rng),
        rng.uniform(0, 1, CHUNK_CASE.mask_shape()),
    )
    expected = loop_deform_conv2d(
        x,
        offset,
        weight,
        bias,
        CHUNK_CASE.stride,
        CHUNK_CASE.padding,
        CHUNK_CASE.dilation,
        mask,
    )
    with torch.no_grad():
        y = functional.deform_conv2d(
            _t(x),
            _t(offset),
            _t(weight),
            _t(bias),
            mask=_t(mask),
            **CHUNK_CASE.kwargs(),
        )
    np.testing.assert_allclose(y.numpy(), expected, rtol=RTOL, atol=ATOL)
    assert not tiny_chunks  # nothing to recompute without gradients
    xs = _t(x).requires_grad_()
    y = functional.deform_conv2d(
        xs, _t(offset), _t(weight), _t(bias), mask=_t(mask), **CHUNK_CASE.kwargs()
    )
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=RTOL, atol=ATOL)
    assert len(tiny_chunks) == CHUNK_CASE.batch  # one checkpointed chunk per image


@pytest.mark.parametrize("with_mask", [True, False], ids=["v2", "v1"])
def test_chunked_gradients_equal_unchunked(monkeypatch, with_mask):
    grad_out = torch.from_numpy(
        np.random.default_rng(12).standard_normal(
            (CHUNK_CASE.batch, 6, *CHUNK_CASE.out_size)
        )
    )
    grads = {}
    for budget in (functional_deformable.MAX_COLUMN_ELEMENTS, 1):
        monkeypatch.setattr(functional_deformable, "MAX_COLUMN_ELEMENTS", budget)
        inputs = _grad_inputs(CHUNK_CASE, 13, with_mask)
        x, offset, weight, bias, mask = inputs
        functional.deform_conv2d(
            x, offset, weight, bias, mask=mask, **CHUNK_CASE.kwargs()
        ).backward(grad_out)
        grads[budget] = [None if a is None else a.grad for a in inputs]
    for name, a, b in zip(("x", "offset", "weight", "bias", "mask"), *grads.values()):
        if a is None:
            assert b is None
            continue
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12, msg=name)


def test_gradcheck_chunked(tiny_chunks):
    geometry = Geometry(2, 2, 1, (3, 3), (2, 2), padding=(0, 1), offset_groups=2)
    inputs = _grad_inputs(geometry, 14)
    assert torch.autograd.gradcheck(
        lambda *a: functional.deform_conv2d(*a[:4], mask=a[4], **geometry.kwargs()),
        inputs,
        eps=1e-6,
        atol=1e-7,
    )
    assert tiny_chunks


def test_chunked_gradient_of_weight_only(tiny_chunks):
    """Gradients wanted for the weight alone still go through the checkpointed chunks.

    d sum(out) / d w[o, c_local, i, j] is the sum over images and output pixels of the bilinear read
    of input channel ``group(o) * C_in/groups + c_local`` at tap ``(i, j)``: summed here by a loop.
    """
    g = CHUNK_CASE
    rng = np.random.default_rng(15)
    x, weight, bias = g.arrays(rng)
    offset = _smooth_offset(g, rng)
    w = _t(weight).requires_grad_()
    functional.deform_conv2d(
        _t(x), _t(offset), w, _t(bias), **g.kwargs()
    ).sum().backward()
    assert len(tiny_chunks) == g.batch
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g.kernel, g.stride, g.padding, g.dilation
    out_h, out_w = g.out_size
    per_offset_group, taps = g.in_channels // g.offset_groups, g.taps
    read_sums = np.zeros((g.in_channels, kh, kw))
    for n in range(g.batch):
        for c in range(g.in_channels):
            og = c // per_offset_group
            image = x[n, c].tolist()
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    for h in range(out_h):
                        for ww in range(out_w):
                            dy, dx = (
                                offset[n, 2 * (og * taps + k), h, ww],
                                offset[n, 2 * (og * taps + k) + 1, h, ww],
                            )
                            read_sums[c, i, j] += bilinear_read(
                                image,
                                h * sh - ph + i * dh + dy,
                                ww * sw - pw + j * dw + dx,
                            )
    per_group, out_per_group = g.in_channels // g.groups, g.out_channels // g.groups
    expected = np.stack(
        [
            read_sums[
                (o // out_per_group) * per_group : (o // out_per_group + 1) * per_group
            ]
            for o in range(g.out_channels)
        ]
    )
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# 7. DCLS dense kernels
# ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 6),
    st.floats(0.0, 3.0),
    st.integers(0, 2**16),
)
def test_dcls_kernel_matches_splatting(
    out_channels, per_group, kh, kw, size_h, size_w, overshoot, seed
):
    """Positions anywhere in [-overshoot, size - 1 + overshoot]: the out-of-range ones are clamped."""
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((out_channels, per_group, kh, kw))
    positions = np.stack(
        [
            rng.uniform(-overshoot, size_h - 1 + overshoot, weight.shape),
            rng.uniform(-overshoot, size_w - 1 + overshoot, weight.shape),
        ]
    )
    positions = np.where(
        rng.random(positions.shape) < 0.2, np.round(positions), positions
    )
    size = (size_h, size_w) if size_h != size_w else size_h
    expected = splat_dcls_kernel(weight, positions, size)
    for name, dense in run_both("dcls_kernel", weight, positions, size).items():
        assert dense.shape == (out_channels, per_group, size_h, size_w), name
        np.testing.assert_allclose(
            dense, expected, rtol=1e-12, atol=1e-12, err_msg=name
        )


def test_dcls_clamps_positions_to_the_kernel():
    weight = np.array([2.0, 3.0, 5.0, 7.0]).reshape(1, 1, 2, 2)
    positions = np.array([[-3.0, 10.0, 1.5, -0.5], [10.0, -3.0, 99.0, 2.5]]).reshape(
        2, 1, 1, 2, 2
    )
    expected = np.zeros((1, 1, 5, 5))
    expected[0, 0, 0, 4] += 2.0  # (-3, 10) -> corner (0, 4)
    expected[0, 0, 4, 0] += 3.0  # (10, -3) -> corner (4, 0)
    expected[0, 0, 1, 4] += 0.5 * 5.0  # (1.5, 99) -> (1.5, 4): half on rows 1 and 2
    expected[0, 0, 2, 4] += 0.5 * 5.0
    expected[0, 0, 0, 2] += (
        0.5 * 7.0
    )  # (-0.5, 2.5) -> (0, 2.5): half on columns 2 and 3
    expected[0, 0, 0, 3] += 0.5 * 7.0
    for name, dense in run_both("dcls_kernel", weight, positions, 5).items():
        np.testing.assert_allclose(
            dense, expected, rtol=1e-15, atol=1e-15, err_msg=name
        )


@pytest.mark.parametrize(
    "kernel, dilation",
    [((3, 3), (2, 2)), ((2, 3), (3, 1)), ((3, 1), (1, 4)), ((1, 1), (1, 1))],
)
def test_dcls_on_the_dilated_grid_is_a_dilated_convolution(kernel, dilation):
    rng = np.random.default_rng(16)
    weight = rng.standard_normal((4, 2, *kernel))
    rows = np.arange(kernel[0])[:, None] * dilation[0] + np.zeros(kernel[1])
    cols = np.arange(kernel[1])[None, :] * dilation[1] + np.zeros((kernel[0], 1))
    positions = np.stack(
        [np.broadcast_to(rows, weight.shape), np.broadcast_to(cols, weight.shape)]
    ).astype(np.float64)
    size = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    x = torch.from_numpy(rng.standard_normal((2, 4, 9, 10)))
    expected = F.conv2d(
        x, torch.from_numpy(weight), dilation=dilation, groups=2, padding=1
    )
    for name, dense in run_both("dcls_kernel", weight, positions, size).items():
        assert np.count_nonzero(dense) == weight.size, (
            name
        )  # one cell per weight: sparse
        y = F.conv2d(x, torch.from_numpy(dense), groups=2, padding=1)
        torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL, msg=name)


@pytest.mark.parametrize("groups", [1, 2])
def test_dcls_convolution_equals_deform_conv_with_constant_offsets(groups):
    """Positions shared by all output channels = one offset per input channel and tap (offset_groups = C_in)."""
    rng = np.random.default_rng(17)
    in_channels, out_channels, (kh, kw), dilation = 4, 6, (3, 3), (2, 2)
    size = (5, 5)  # = dilation (k - 1) + 1, so both produce the same output size
    per_group = in_channels // groups
    weight = rng.standard_normal((out_channels, per_group, kh, kw))
    channel_positions = rng.uniform(
        0, 4, (2, in_channels, kh, kw)
    )  # (y, x) per input channel and tap
    group_of = np.arange(out_channels) // (out_channels // groups)
    positions = np.stack(
        [channel_positions[:, g * per_group : (g + 1) * per_group] for g in group_of],
        axis=1,
    )  # (2, C_out, C_in / groups, kh, kw): the same for every output channel of a group
    dense = functional.dcls_kernel(
        torch.from_numpy(weight), torch.from_numpy(positions), size
    )
    x = torch.from_numpy(rng.standard_normal((2, in_channels, 7, 8)))
    expected = F.conv2d(x, dense, padding=1, groups=groups)
    # deform_conv2d: tap (i, j) reads at h - 1 + i d + dy, so dy = P_y - i d (and dx = P_x - j d)
    taps = kh * kw
    out_h, out_w = expected.shape[2:]
    offset = np.zeros((2, 2 * in_channels * taps, out_h, out_w))
    for c in range(in_channels):
        for i in range(kh):
            for j in range(kw):
                k = i * kw + j
                offset[:, 2 * (c * taps + k)] = (
                    channel_positions[0, c, i, j] - i * dilation[0]
                )
                offset[:, 2 * (c * taps + k) + 1] = (
                    channel_positions[1, c, i, j] - j * dilation[1]
                )
    y = functional.deform_conv2d(
        x,
        torch.from_numpy(offset),
        torch.from_numpy(weight),
        padding=1,
        dilation=dilation,
    )
    torch.testing.assert_close(y, expected, rtol=RTOL, atol=ATOL)


def test_dcls_gradcheck():
    rng = np.random.default_rng(18)
    weight = torch.from_numpy(rng.standard_normal((2, 2, 2, 2))).requires_grad_()
    # integer + uniform(0.2, 0.8) inside [0, size - 1]: away from the kinks of the bilinear spread
    positions = rng.integers(0, 4, (2, 2, 2, 2, 2)) + rng.uniform(
        0.2, 0.8, (2, 2, 2, 2, 2)
    )
    positions = torch.from_numpy(positions).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda w, p: functional.dcls_kernel(w, p, (5, 6)),
        (weight, positions),
        eps=1e-6,
        atol=1e-7,
    )


def test_dcls_clamped_positions_have_zero_gradient():
    weight = torch.ones(1, 1, 1, 3, dtype=torch.float64)
    positions = (
        torch.tensor([[-2.3, 1.4, 7.5], [0.6, 9.2, -0.1]], dtype=torch.float64)
        .view(2, 1, 1, 1, 3)
        .requires_grad_()
    )
    dense = functional.dcls_kernel(weight, positions, 4)
    (dense * torch.arange(16, dtype=torch.float64).view(4, 4)).sum().backward()
    grad = positions.grad.view(2, 3)
    clamped = torch.tensor([[True, False, True], [False, True, True]])
    assert not grad[clamped].any()
    # the free coordinates: d/dy of sum over cells of (4 u + v) spread = 4 along y, 1 along x
    torch.testing.assert_close(
        grad[~clamped], torch.tensor([4.0, 1.0], dtype=torch.float64)
    )


# ---------------------------------------------------------------------------
# 8. Bad calls: one table, both versions, the same error and message
# ---------------------------------------------------------------------------


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    """A valid call: C_in = 4 in 2 weight groups and 2 offset groups, C_out = 6, 3x3 over 5x5 -> 3x3."""
    rng = np.random.default_rng(19)
    return dict(
        x=rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
        offset=rng.standard_normal((2, 36, 3, 3)).astype(np.float32),
        weight=rng.standard_normal((6, 2, 3, 3)).astype(np.float32),
        bias=rng.standard_normal(6).astype(np.float32),
        mask=rng.uniform(0, 1, (2, 18, 3, 3)).astype(np.float32),
    )


OFFSET_LAYOUT = r"\(N, 2 \* offset_groups \* kh \* kw, H_out, W_out\)"
MASK_LAYOUT = r"\(N, offset_groups \* kh \* kw, H_out, W_out\)"

BAD_CALLS = [
    (
        "x integer",
        dict(x=np.zeros((2, 4, 5, 5), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "offset integer",
        dict(offset=np.zeros((2, 36, 3, 3), dtype=np.int64)),
        TypeError,
        r"^offset must have a floating dtype, got int64$",
    ),
    (
        "mask integer",
        dict(mask=np.zeros((2, 18, 3, 3), dtype=np.int32)),
        TypeError,
        r"^mask must have a floating dtype, got int32$",
    ),
    (
        "weight integer",
        dict(weight=np.zeros((6, 2, 3, 3), dtype=np.int64)),
        TypeError,
        r"^weight must have a floating dtype, got int64$",
    ),
    (
        "offset other dtype",
        dict(offset=np.zeros((2, 36, 3, 3))),
        TypeError,
        r"^offset must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "mask other dtype",
        dict(mask=np.zeros((2, 18, 3, 3))),
        TypeError,
        r"^mask must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "weight other dtype",
        dict(weight=np.zeros((6, 2, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "bias other dtype",
        dict(bias=np.zeros(6)),
        TypeError,
        r"^bias must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "offset channels not a multiple of 2 kh kw",
        dict(offset=_f32(2, 10, 3, 3)),
        ValueError,
        rf"^offset must have a positive multiple of 18 channels {OFFSET_LAYOUT}, got 10$",
    ),
    (
        "offset with no channels",
        dict(offset=_f32(2, 0, 3, 3), mask=None),
        ValueError,
        rf"^offset must have a positive multiple of 18 channels {OFFSET_LAYOUT}, got 0$",
    ),
    (
        "offset groups do not divide C_in",
        dict(offset=_f32(2, 54, 3, 3), mask=None),
        ValueError,
        r"^the offset groups must divide the input channels: offset has 3 groups \(54 channels\), x has 4 channels$",
    ),
    (
        "mask channels for one group",
        dict(mask=_f32(2, 9, 3, 3)),
        ValueError,
        r"^mask must have offset_groups \* kh \* kw = 18 channels \(one per offset\), got 9$",
    ),
    (
        "mask channels not a multiple of kh kw",
        dict(mask=_f32(2, 10, 3, 3)),
        ValueError,
        rf"^mask must have a positive multiple of 9 channels {MASK_LAYOUT}, got 10$",
    ),
    (
        "offset spatial size",
        dict(offset=_f32(2, 36, 4, 3)),
        ValueError,
        r"^offset must cover the output, 3x3 pixels, got shape \(2, 36, 4, 3\)$",
    ),
    (
        "mask spatial size",
        dict(mask=_f32(2, 18, 3, 5)),
        ValueError,
        r"^mask must cover the output, 3x3 pixels, got shape \(2, 18, 3, 5\)$",
    ),
    (
        "offset sized for stride 1 with stride 2",
        dict(stride=2),
        ValueError,
        r"^offset must cover the output, 2x2 pixels, got shape \(2, 36, 3, 3\)$",
    ),
    (
        "offset batch",
        dict(offset=_f32(1, 36, 3, 3)),
        ValueError,
        r"^offset must have the batch size of x \(2\), got shape \(1, 36, 3, 3\)$",
    ),
    (
        "mask batch",
        dict(mask=_f32(3, 18, 3, 3)),
        ValueError,
        r"^mask must have the batch size of x \(2\), got shape \(3, 18, 3, 3\)$",
    ),
    (
        "weight.shape[1] does not divide C_in",
        dict(weight=_f32(6, 3, 3, 3)),
        ValueError,
        r"^weight\.shape\[1\] must divide the input channels \(it is C_in / groups\): x has 4 channels, "
        r"weight has shape \(6, 3, 3, 3\)$",
    ),
    (
        "weight.shape[1] zero",
        dict(weight=_f32(6, 0, 3, 3)),
        ValueError,
        r"^weight\.shape\[1\] must divide the input channels .*weight has shape \(6, 0, 3, 3\)$",
    ),
    (
        "C_out not divisible by groups",
        dict(weight=_f32(5, 2, 3, 3), bias=_f32(5)),
        ValueError,
        r"^groups must divide the output channels: weight has 5 output channels, groups=2$",
    ),
    (
        "bias wrong length",
        dict(bias=_f32(3)),
        ValueError,
        r"^bias must have shape \(6,\), got shape \(3,\)$",
    ),
    (
        "bias 2-D",
        dict(bias=_f32(6, 1)),
        ValueError,
        r"^bias must be 1-D with shape \(C_out,\), got shape \(6, 1\)$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(4, 5, 5)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 5, 5\)$",
    ),
    (
        "weight not 4-D",
        dict(weight=_f32(6, 2, 9)),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in / groups, kh, kw\), got shape \(6, 2, 9\)$",
    ),
    (
        "offset not 4-D",
        dict(offset=_f32(2, 36, 9)),
        ValueError,
        rf"^offset must be 4-D with shape {OFFSET_LAYOUT}, got shape \(2, 36, 9\)$",
    ),
    (
        "mask not 4-D",
        dict(mask=_f32(2, 18, 9)),
        ValueError,
        rf"^mask must be 4-D with shape {MASK_LAYOUT}, got shape \(2, 18, 9\)$",
    ),
    (
        "empty kernel",
        dict(weight=_f32(6, 2, 0, 3)),
        ValueError,
        r"^weight must have a kernel of at least 1x1, got weight of shape \(6, 2, 0, 3\)$",
    ),
    (
        "kernel larger than the input",
        dict(weight=_f32(6, 2, 7, 3)),
        ValueError,
        r"^deform_conv2d: x is too small: padded height 5 is less than the dilated kernel height 7$",
    ),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
    (
        "negative padding",
        dict(padding=(0, -1)),
        ValueError,
        r"^padding must be >= 0, got \(0, -1\)$",
    ),
    (
        "dilation float",
        dict(dilation=1.5),
        TypeError,
        r"^dilation must be an int or a pair of ints, got 1\.5$",
    ),
    (
        "padding same with stride",
        dict(padding="same", stride=2),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
    (
        "padding unknown string",
        dict(padding="full"),
        ValueError,
        r"^padding must be an int, a pair of ints, 'valid' or 'same', got 'full'$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse("deform_conv2d", {**_base(), **overrides}, exception, pattern)


def test_bad_call_base_is_valid():
    kwargs = _base()
    expected = loop_deform_conv2d(
        *(kwargs[k].astype(np.float64) for k in ("x", "offset", "weight", "bias")),
        1,
        0,
        1,
        kwargs["mask"].astype(np.float64),
    )
    for y in (
        reference.deform_conv2d(**kwargs),
        functional.deform_conv2d(**to_torch(kwargs)).numpy(),
    ):
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("argument", ["x", "offset", "weight", "bias", "mask"])
def test_wrong_array_type(argument):
    kwargs = _base()
    kwargs[argument] = kwargs[argument].tolist()
    with pytest.raises(
        TypeError, match=f"^{argument} must be a numpy.ndarray, got list$"
    ):
        reference.deform_conv2d(**kwargs)
    with pytest.raises(
        TypeError, match=f"^{argument} must be a torch.Tensor, got list$"
    ):
        functional.deform_conv2d(**to_torch(kwargs))


def _dcls_base() -> dict:
    return dict(
        weight=_f32(3, 2, 3, 3) + 1, positions=_f32(2, 3, 2, 3, 3) + 1.5, size=5
    )


DCLS_BAD_CALLS = [
    (
        "positions wrong shape",
        dict(positions=_f32(2, 3, 2, 3, 2)),
        ValueError,
        r"^positions must have shape \(2, 3, 2, 3, 3\) \(a \(y, x\) per weight\), got shape \(2, 3, 2, 3, 2\)$",
    ),
    (
        "positions three coordinates",
        dict(positions=_f32(3, 3, 2, 3, 3)),
        ValueError,
        r"^positions must have shape \(2, 3, 2, 3, 3\) \(a \(y, x\) per weight\), got shape \(3, 3, 2, 3, 3\)$",
    ),
    (
        "positions 4-D",
        dict(positions=_f32(2, 3, 2, 9)),
        ValueError,
        r"^positions must be 5-D with shape \(2, C_out, C_in / groups, kh, kw\), got shape \(2, 3, 2, 9\)$",
    ),
    (
        "positions integer",
        dict(positions=np.zeros((2, 3, 2, 3, 3), dtype=np.int64)),
        TypeError,
        r"^positions must have a floating dtype, got int64$",
    ),
    (
        "positions other dtype",
        dict(positions=np.zeros((2, 3, 2, 3, 3))),
        TypeError,
        r"^positions must have the same dtype as weight \(float32\), got float64$",
    ),
    (
        "weight 3-D",
        dict(weight=_f32(3, 2, 9)),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in / groups, kh, kw\), got shape \(3, 2, 9\)$",
    ),
    (
        "weight integer",
        dict(weight=np.zeros((3, 2, 3, 3), dtype=np.int64)),
        TypeError,
        r"^weight must have a floating dtype, got int64$",
    ),
    ("size 0", dict(size=0), ValueError, r"^size must be >= 1, got 0$"),
    (
        "size pair with 0",
        dict(size=(5, 0)),
        ValueError,
        r"^size must be >= 1, got \(5, 0\)$",
    ),
    ("size negative", dict(size=-3), ValueError, r"^size must be >= 1, got -3$"),
    (
        "size float",
        dict(size=2.5),
        TypeError,
        r"^size must be an int or a pair of ints, got 2\.5$",
    ),
    (
        "size triple",
        dict(size=(5, 5, 5)),
        TypeError,
        r"^size must be an int or a pair of ints, got \(5, 5, 5\)$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(DCLS_BAD_CALLS))
def test_dcls_bad_calls(overrides, exception, pattern):
    assert_both_refuse("dcls_kernel", {**_dcls_base(), **overrides}, exception, pattern)


def test_dcls_bad_call_base_is_valid():
    kwargs = _dcls_base()
    expected = splat_dcls_kernel(kwargs["weight"], kwargs["positions"], 5)
    np.testing.assert_allclose(reference.dcls_kernel(**kwargs), expected, rtol=1e-6)
    np.testing.assert_allclose(
        functional.dcls_kernel(**to_torch(kwargs)).numpy(), expected, rtol=1e-6
    )


@pytest.mark.parametrize("argument", ["weight", "positions"])
def test_dcls_wrong_array_type(argument):
    kwargs = _dcls_base()
    kwargs[argument] = kwargs[argument].tolist()
    with pytest.raises(
        TypeError, match=f"^{argument} must be a numpy.ndarray, got list$"
    ):
        reference.dcls_kernel(**kwargs)
    with pytest.raises(
        TypeError, match=f"^{argument} must be a torch.Tensor, got list$"
    ):
        functional.dcls_kernel(**to_torch(kwargs))


# ---------------------------------------------------------------------------
# 9. CUDA, and torchvision's own operator
# ---------------------------------------------------------------------------

CUDA_CASES = [
    Geometry(2, 4, 6, (7, 8), (3, 3), padding=(1, 1), groups=2, offset_groups=2),
    Geometry(
        3,
        6,
        4,
        (9, 7),
        (3, 2),
        stride=(2, 1),
        padding=(2, 1),
        dilation=(2, 3),
        groups=2,
        offset_groups=3,
    ),
    Geometry(1, 3, 3, (6, 6), (2, 2), stride=(2, 2), groups=3, offset_groups=1),
]
CUDA_IDS = [
    f"g{g.groups}-og{g.offset_groups}-s{g.stride}-p{g.padding}-d{g.dilation}"
    for g in CUDA_CASES
]


def _run_with_grads(call, tensors, geometry: Geometry, grad_out: torch.Tensor):
    inputs = [None if a is None else a.clone().requires_grad_() for a in tensors]
    x, offset, weight, bias, mask = inputs
    y = call(
        x,
        offset,
        weight,
        bias,
        stride=geometry.stride,
        padding=geometry.padding,
        dilation=geometry.dilation,
        mask=mask,
    )
    y.backward(grad_out)
    return y.detach(), [None if a is None else a.grad for a in inputs]


@pytest.mark.cuda
@pytest.mark.parametrize("with_mask", [True, False], ids=["v2", "v1"])
@pytest.mark.parametrize("geometry", CUDA_CASES, ids=CUDA_IDS)
def test_functional_on_cuda_matches_cpu(geometry, with_mask):
    tensors = _grad_inputs(geometry, 20, with_mask)
    tensors = [None if a is None else a.detach() for a in tensors]
    grad_out = torch.from_numpy(
        np.random.default_rng(21).standard_normal(
            (geometry.batch, geometry.out_channels, *geometry.out_size)
        )
    )
    y_cpu, grads_cpu = _run_with_grads(
        functional.deform_conv2d, tensors, geometry, grad_out
    )
    cuda = [None if a is None else a.cuda() for a in tensors]
    y_cuda, grads_cuda = _run_with_grads(
        functional.deform_conv2d, cuda, geometry, grad_out.cuda()
    )
    assert y_cuda.device.type == "cuda"
    torch.testing.assert_close(y_cuda.cpu(), y_cpu, rtol=1e-10, atol=1e-10)
    for name, a, b in zip(
        ("x", "offset", "weight", "bias", "mask"), grads_cuda, grads_cpu
    ):
        if b is not None:
            torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-10, msg=name)


@pytest.mark.cuda
def test_chunked_on_cuda_matches_the_reference(tiny_chunks):
    rng = np.random.default_rng(22)
    x, weight, bias = CHUNK_CASE.arrays(rng)
    offset, mask = (
        CHUNK_CASE.random_offset(rng),
        rng.uniform(0, 1, CHUNK_CASE.mask_shape()),
    )
    expected = reference.deform_conv2d(
        x, offset, weight, bias, mask=mask, **CHUNK_CASE.kwargs()
    )
    xs = _t(x).cuda().requires_grad_()
    y = functional.deform_conv2d(
        xs,
        _t(offset).cuda(),
        _t(weight).cuda(),
        _t(bias).cuda(),
        mask=_t(mask).cuda(),
        **CHUNK_CASE.kwargs(),
    )
    np.testing.assert_allclose(
        y.detach().cpu().numpy(), expected, rtol=1e-10, atol=1e-10
    )
    y.sum().backward()
    assert len(tiny_chunks) == CHUNK_CASE.batch and xs.grad is not None


# float64 agrees to rounding; float32 to a few units of 1e-5 of the sums (grads sum over more terms)
TORCHVISION_TOLERANCES = {
    torch.float64: (1e-10, 1e-10, 1e-10),
    torch.float32: (1e-4, 1e-4, 1e-3),
}


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("with_mask", [True, False], ids=["v2", "v1"])
@pytest.mark.parametrize("geometry", CUDA_CASES, ids=CUDA_IDS)
def test_functional_matches_torchvision_on_cuda(geometry, with_mask, dtype):
    torchvision = pytest.importorskip("torchvision")
    tensors = [
        None if a is None else a.detach().to("cuda", dtype)
        for a in _grad_inputs(geometry, 23, with_mask)
    ]
    grad_out = torch.from_numpy(
        np.random.default_rng(24).standard_normal(
            (geometry.batch, geometry.out_channels, *geometry.out_size)
        )
    ).to("cuda", dtype)
    y, grads = _run_with_grads(functional.deform_conv2d, tensors, geometry, grad_out)
    y_tv, grads_tv = _run_with_grads(
        torchvision.ops.deform_conv2d, tensors, geometry, grad_out
    )
    rtol, atol, grad_tol = TORCHVISION_TOLERANCES[dtype]
    assert y.dtype == dtype and y.device.type == "cuda"
    torch.testing.assert_close(y, y_tv, rtol=rtol, atol=atol)
    for name, a, b in zip(("x", "offset", "weight", "bias", "mask"), grads, grads_tv):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=grad_tol, atol=grad_tol, msg=name)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_functional_matches_torchvision_forward_with_integer_offsets_on_cuda(dtype):
    """Points exactly on pixels and far outside: the forward values (the gradient there is one-sided)."""
    torchvision = pytest.importorskip("torchvision")
    geometry = CUDA_CASES[1]
    rng = np.random.default_rng(25)
    x, weight, bias = (
        torch.from_numpy(a).to("cuda", dtype) for a in geometry.arrays(rng)
    )
    offset = torch.from_numpy(
        rng.integers(-12, 13, geometry.offset_shape()).astype(np.float64)
    ).to("cuda", dtype)
    mask = torch.from_numpy(rng.uniform(0, 1, geometry.mask_shape())).to("cuda", dtype)
    kwargs = geometry.kwargs()
    y = functional.deform_conv2d(x, offset, weight, bias, mask=mask, **kwargs)
    y_tv = torchvision.ops.deform_conv2d(x, offset, weight, bias, mask=mask, **kwargs)
    rtol, atol, _ = TORCHVISION_TOLERANCES[dtype]
    torch.testing.assert_close(y, y_tv, rtol=rtol, atol=atol)
