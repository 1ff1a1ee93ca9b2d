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


# ---------------------------------------------------------------------------
# data.shape_scenes
# ---------------------------------------------------------------------------


def test_shape_scenes_label_is_the_targets_cell_and_objects_do_not_touch():
    images, labels, params = data.shape_scenes(
        60, size=32, cell=4, distractors=2, noise=0.0, seed=4
    )
    assert images.shape == (60, 1, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.shape == (60,)
    centre, half = params["centre"], params["half_size"]
    assert 0.06 * 32 - 1e-9 <= half.min() and half.max() <= 0.25 * 32 + 1e-9
    row, col = (centre // 4).astype(int).T
    assert np.array_equal(labels, row * 8 + col)
    for image, (cy, cx), s in zip(images[:, 0], centre, half):
        assert set(np.unique(image)) <= {0.0, 1.0}
        # the cross's centre and the ends of its arms are lit, its box corners are not
        rows, cols = np.mgrid[0:32, 0:32]
        box = (np.abs(rows - cy) <= s) & (np.abs(cols - cx) <= s)
        assert image[int(round(cy)), int(round(cx))] == 1
        corners = box & (np.abs(rows - cy) > s / 2) & (np.abs(cols - cx) > s / 2)
        assert image[corners].sum() == 0
        # its pixels cover the cross's area, 20/9 s^2, up to the pixels its edge cuts
        area = image[box].sum()
        assert abs(area - data.SHAPE_AREAS["cross"] * s**2) <= 4 * s + 2


def test_shape_scenes_hold_the_named_objects_apart():
    for distractors in (0, 1, 3):
        images, _, params = data.shape_scenes(
            20, size=24, cell=4, distractors=distractors, noise=0.0, seed=distractors
        )
        for image in images[:, 0]:
            assert _components(image > 0.5) == 1 + distractors


def _components(mask: np.ndarray) -> int:
    """Connected groups of lit pixels (8-neighbourhood), by flood fill."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            r, c = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if (
                        0 <= nr < mask.shape[0]
                        and 0 <= nc < mask.shape[1]
                        and mask[nr, nc]
                        and not seen[nr, nc]
                    ):
                        seen[nr, nc] = True
                        stack.append((nr, nc))
    return count


def test_shape_scenes_follow_the_seed_and_reject_bad_arguments():
    a, b = data.shape_scenes(5, seed=1), data.shape_scenes(5, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], data.shape_scenes(5, seed=2)[0])
    with pytest.raises(ValueError, match="target must be one of"):
        data.shape_scenes(5, target="star")
    with pytest.raises(ValueError, match="size must be a multiple of cell = 5"):
        data.shape_scenes(5, size=32, cell=5)
    with pytest.raises(ValueError, match="distractors must be an int >= 0"):
        data.shape_scenes(5, distractors=-1)
    with pytest.raises(ValueError, match="scale must be a range"):
        data.shape_scenes(5, scale=(0.1, 0.3))
    with pytest.raises(ValueError, match="n must be a positive int"):
        data.shape_scenes(0)
