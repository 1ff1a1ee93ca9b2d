"""Sampling geometry of deformable convolution: :func:`convref.arith.tap_positions` and :func:`convref.arith.affine_tap_offsets`.

Oracles, none of them the code under test: tap positions written out by hand from the
definition, the values that :func:`convref.reference.deform_conv2d` reads on a linear ramp
(where bilinear sampling is exact), rotations and stretches of the grid worked out by hand,
and the pixels of shapes drawn by :func:`convref.data.varied_shapes` with the same parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from convref import arith, data
from convref.reference import deform_conv2d


def test_tap_positions_by_hand():
    # stride 2, padding 1, dilation 2: tap (i, j) of output (h, w) reads (2h - 1 + 2i, 2w - 1 + 2j)
    regular = arith.tap_positions(
        None, [(0, 0), (3, 1)], 3, stride=2, padding=1, dilation=2
    )
    expected = np.array(
        [
            [(2 * h - 1 + 2 * i, 2 * w - 1 + 2 * j) for i in range(3) for j in range(3)]
            for h, w in [(0, 0), (3, 1)]
        ]
    )
    np.testing.assert_array_equal(regular, expected)
    # channel 2k holds dy and 2k + 1 holds dx of tap k = i * kw + j
    field = np.zeros((18, 4, 5))
    field[2 * 5, 1, 2], field[2 * 5 + 1, 1, 2] = (
        0.5,
        -1.25,
    )  # tap 5 = (1, 2) of pixel (1, 2)
    moved = arith.tap_positions(field, [(1, 2), (0, 0)], 3, padding=1)
    assert moved.shape == (2, 9, 2)
    np.testing.assert_array_equal(moved[0, 5], [1 - 1 + 1 + 0.5, 2 - 1 + 2 - 1.25])
    np.testing.assert_array_equal(
        np.delete(moved[0], 5, axis=0),
        np.delete(arith.tap_positions(None, [(1, 2)], 3, padding=1)[0], 5, axis=0),
    )
    # per-tap offsets (kh kw, 2) act like the same field at every pixel
    taps = np.random.default_rng(0).normal(size=(6, 2))
    broadcast = np.broadcast_to(taps.reshape(12, 1, 1), (12, 4, 4))
    np.testing.assert_array_equal(
        arith.tap_positions(taps, [(2, 3)], (2, 3)),
        arith.tap_positions(broadcast, [(2, 3)], (2, 3)),
    )
    with pytest.raises(ValueError):
        arith.tap_positions(np.zeros((10, 4, 4)), [(0, 0)], 3)


def test_tap_positions_are_where_deform_conv2d_reads():
    # on a ramp a one-hot kernel reads a * y + b * x at its tap's position, exactly (bilinear is exact on linear images)
    a, b = 0.3, -0.7
    image = data.ramp(12, 12, slope_y=a, slope_x=b)[None, None]
    field = np.random.default_rng(1).uniform(-1.5, 1.5, size=(1, 18, 10, 10))
    for k in (0, 4, 7):
        one_hot = np.zeros((1, 1, 3, 3))
        one_hot.flat[k] = 1
        out = deform_conv2d(image, field, one_hot, dilation=1)[0, 0]
        for h, w in [(3, 4), (5, 2), (6, 6)]:
            y, x = arith.tap_positions(field[0], [(h, w)], 3)[0, k]
            assert 0 <= y <= 11 and 0 <= x <= 11
            np.testing.assert_allclose(out[h, w], a * y + b * x, atol=1e-12)


def test_affine_tap_offsets():
    grid = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    np.testing.assert_allclose(arith.affine_tap_offsets(3), 0, atol=1e-15)
    np.testing.assert_allclose(
        grid + arith.affine_tap_offsets(3, scale=2.5), 2.5 * grid
    )
    np.testing.assert_allclose(
        grid * 2 + arith.affine_tap_offsets(3, dilation=2, scale=1.5), 3 * grid
    )
    # a quarter turn counter-clockwise on the screen (y down): right -> up, up -> left
    turned = grid + arith.affine_tap_offsets(3, angle=np.pi / 2)
    np.testing.assert_allclose(
        turned[5], [-1, 0], atol=1e-12
    )  # tap (0, +1) was to the right
    np.testing.assert_allclose(turned[1], [0, -1], atol=1e-12)  # tap (-1, 0) was above
    stretched = grid + arith.affine_tap_offsets(3, aspect=4.0)
    np.testing.assert_allclose(stretched, grid * [2.0, 0.5])


def test_affine_taps_turn_the_same_way_as_the_shapes():
    # taps scaled, stretched and turned with a rectangle's own parameters land inside it (and the mirror turn does not)
    images, _, params = data.varied_shapes(
        20,
        size=64,
        seed=5,
        noise=0.0,
        scale=(0.25, 0.3),
        max_aspect=3.0,
        classes=("square",),
    )
    inside, mirrored = [], []
    for image, centre, half, aspect, angle in zip(
        images[:, 0],
        params["centre"],
        params["half_size"],
        params["aspect"],
        params["angle"],
    ):
        grid = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
        for sign, hits in ((1, inside), (-1, mirrored)):
            points = (
                centre
                + grid
                + arith.affine_tap_offsets(
                    3, scale=0.8 * half, aspect=aspect, angle=sign * angle
                )
            )
            rows, cols = np.clip(np.rint(points), 0, 63).astype(int).T
            hits.append(image[rows, cols].all())
    assert all(inside) and not all(mirrored)
