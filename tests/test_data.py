"""convref.data: the generated pictures and labelled shapes, against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convref import data


def test_ramp_is_linear():
    r = data.ramp(5, 7, slope_y=2.0, slope_x=-0.5)
    assert r.shape == (5, 7) and r.dtype == np.float64
    rows, cols = np.indices((5, 7))
    np.testing.assert_array_equal(r, 2.0 * rows - 0.5 * cols)
    np.testing.assert_array_equal(
        data.ramp(3, 4), np.repeat(np.arange(3.0)[:, None], 4, axis=1)
    )


def test_test_image():
    image = data.test_image(40, seed=1)
    assert image.shape == (40, 40) and image.dtype == np.float64
    assert image.min() >= 0 and image.max() <= 1
    assert image.std() > 0.1  # structure, not a flat field
    np.testing.assert_array_equal(image, data.test_image(40, seed=1))
    assert not np.array_equal(image, data.test_image(40, seed=2))
    clean = data.test_image(40, noise=0.0)
    np.testing.assert_array_equal(
        clean, data.test_image(40, seed=5, noise=0.0)
    )  # the seed only drives the noise
    with pytest.raises(ValueError, match="size must be >= 16, got 8"):
        data.test_image(8)


def test_shapes():
    images, labels = data.shapes(40, size=20, seed=3)
    assert images.shape == (40, 1, 20, 20) and images.dtype == np.float32
    assert labels.shape == (40,) and labels.dtype == np.int64
    assert set(labels) <= set(range(len(data.SHAPE_CLASSES)))
    assert len(set(labels)) == len(data.SHAPE_CLASSES)  # 40 draws show every class
    again = data.shapes(40, size=20, seed=3)
    np.testing.assert_array_equal(images, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(images, data.shapes(40, size=20, seed=4)[0])


def test_shapes_are_the_named_shapes():
    """Without noise: squares fill their bounding box, disks fill about pi/4 of it."""
    images, labels = data.shapes(
        30, size=32, seed=0, noise=0.0, classes=("square", "disk")
    )
    assert set(labels) == {0, 1}
    assert set(np.unique(images)) <= {0.0, 1.0}
    for image, label in zip(images[:, 0], labels):
        rows, cols = np.nonzero(image)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        fill = image.sum() / box
        if label == 0:
            assert fill == 1.0
        else:
            assert abs(fill - math.pi / 4) < 0.1


def test_shapes_bad_classes():
    with pytest.raises(
        ValueError, match=r"classes must be taken from .*got \['hexagon'\]"
    ):
        data.shapes(4, classes=("square", "hexagon"))
