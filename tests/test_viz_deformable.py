"""Data, figures and widget of the deformable-convolution chapter (its experiments: test_experiments_deformable.py).

Oracles, none of them the code under test: the areas and symmetries of the drawn shapes,
tap positions written out by hand from the definition, bilinear reads done with explicit
loops, and PyTorch's own ``conv2d`` (plain and dilated) for the outputs that integer offsets
must reproduce.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from convref import arith, data, viz

# ---------------------------------------------------------------------------
# data.varied_shapes
# ---------------------------------------------------------------------------


def test_varied_shapes_is_deterministic_and_well_formed():
    images, labels, params = data.varied_shapes(40, size=20, seed=5)
    again = data.varied_shapes(40, size=20, seed=5)
    other = data.varied_shapes(40, size=20, seed=6)
    assert images.shape == (40, 1, 20, 20) and images.dtype == np.float32
    assert (
        labels.shape == (40,)
        and labels.dtype == np.int64
        and set(labels) <= {0, 1, 2, 3}
    )
    np.testing.assert_array_equal(images, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(images, other[0])
    assert params["centre"].shape == (40, 2) and params["half_size"].shape == params[
        "aspect"
    ].shape == (40,)


def test_drawn_area_matches_the_shape_and_size():
    # the area of a shape is SHAPE_AREAS[shape] * s**2 whatever its aspect and angle (large objects: little pixel error)
    images, labels, params = data.varied_shapes(
        60, size=64, seed=1, noise=0.0, scale=(0.2, 0.3)
    )
    areas = images[:, 0].sum(axis=(1, 2))
    expected = (
        np.array([data.SHAPE_AREAS[data.SHAPE_CLASSES[label]] for label in labels])
        * params["half_size"] ** 2
    )
    np.testing.assert_allclose(areas, expected, rtol=0.08)
    # clean images are exactly 0 / 1, and nothing touches the border (the object fits)
    assert set(np.unique(images)) <= {0.0, 1.0}
    assert images[:, 0, [0, -1], :].sum() == 0 and images[:, 0, :, [0, -1]].sum() == 0


def test_centroid_is_the_centre_for_symmetric_shapes_and_a_third_of_the_height_for_triangles():
    images, labels, params = data.varied_shapes(
        60, size=64, seed=2, noise=0.0, scale=(0.2, 0.3)
    )
    rows, cols = np.mgrid[0:64, 0:64]
    for image, label, centre, half, aspect, angle in zip(
        images[:, 0],
        labels,
        params["centre"],
        params["half_size"],
        params["aspect"],
        params["angle"],
    ):
        centroid = np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()
        if data.SHAPE_CLASSES[label] == "triangle":
            # apex at v = -1, base at v = 1: the centroid sits at v = 1/3 of the half-height, along the
            # height axis, which the angle turns counter-clockwise on the screen from straight down
            height = half * np.sqrt(aspect)
            centre = centre + height / 3 * np.array([np.cos(angle), np.sin(angle)])
        np.testing.assert_allclose(centroid, centre, atol=0.35)


def test_labels_match_what_is_drawn():
    # upright, unstretched objects: tell the shapes apart from the pixels alone, by bounding-box fill and symmetry
    images, labels, _ = data.varied_shapes(
        80, size=48, seed=3, noise=0.0, scale=(0.25, 0.35), max_aspect=1.0, rotate=False
    )
    for image, label in zip(images[:, 0], labels):
        rows, cols = np.nonzero(image)
        box = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        fill = box.mean()
        asymmetry = (
            np.abs(box - box[::-1]).sum() / box.sum()
        )  # pixels that differ when flipped upside down
        if asymmetry > 0.3:
            guess = "triangle"  # the only shape that is not symmetric top to bottom (about 2/3 differ)
        elif fill > 0.93:
            guess = "square"
        elif fill > 0.68:
            guess = "disk"  # pi / 4 = 0.785
        else:
            guess = "cross"  # 20 / 36 = 0.556
        assert guess == data.SHAPE_CLASSES[label]


def test_scale_aspect_and_angle_follow_the_arguments():
    images, labels, params = data.varied_shapes(
        50,
        size=64,
        seed=4,
        noise=0.0,
        scale=(0.1, 0.2),
        max_aspect=3.0,
        rotate=False,
        classes=("square",),
    )
    assert np.all(labels == 0) and np.all(params["angle"] == 0)
    assert np.all(params["half_size"] >= 0.1 * 64 - 1e-9) and np.all(
        params["half_size"] <= 0.2 * 64 + 1e-9
    )
    assert (
        np.all(params["aspect"] >= 1 / 3)
        and np.all(params["aspect"] <= 3)
        and np.ptp(params["aspect"]) > 1
    )
    # an upright rectangle: height / width of the drawn box is the aspect ratio
    for image, half, aspect in zip(images[:, 0], params["half_size"], params["aspect"]):
        rows, cols = np.nonzero(image)
        np.testing.assert_allclose(
            np.ptp(rows) + 1, 2 * half * np.sqrt(aspect), atol=1.01
        )
        np.testing.assert_allclose(
            np.ptp(cols) + 1, 2 * half / np.sqrt(aspect), atol=1.01
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"size": 4},
        {"scale": (0.3, 0.2)},
        {"scale": (0.1, 0.7)},
        {"max_aspect": 0.5},
        {"noise": -1.0},
        {"classes": ("hexagon",)},
        {"classes": ()},
    ],
)
def test_varied_shapes_rejects_bad_arguments(kwargs):
    arguments = {"n": 4, **kwargs}
    with pytest.raises(ValueError):
        data.varied_shapes(**arguments)


# ---------------------------------------------------------------------------
# viz: the figures (the tap geometry itself is tested in test_arith_taps.py)
# ---------------------------------------------------------------------------


def _points(ax, gid):
    return [
        a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == gid
    ]


def test_sampling_grid_draws_the_computed_positions():
    image = data.test_image(20)
    field = np.random.default_rng(2).normal(0, 1, size=(18, 20, 20))
    taps = arith.affine_tap_offsets(3, scale=2.0)
    mask = np.linspace(0, 1, 9)
    fig = viz.plot_sampling_grid(
        image,
        {"regular": None, "free": field, "scaled": taps},
        [(5, 6), (12, 14)],
        padding=1,
        masks={"scaled": mask},
    )
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == ["regular", "free", "scaled"]
    for ax, offset in zip(axes, (None, field, taps)):
        regular = _points(ax, "regular")
        assert len(regular) == 2
        for line, (h, w) in zip(regular, [(5, 6), (12, 14)]):
            hand = np.array(
                [(h - 1 + i, w - 1 + j) for i in range(3) for j in range(3)]
            )
            np.testing.assert_array_equal(
                np.c_[line.get_ydata(), line.get_xdata()], hand
            )
        deformed = _points(ax, "deformed")
        if offset is None:
            assert not deformed
            continue
        expected = arith.tap_positions(offset, [(5, 6), (12, 14)], 3, padding=1)
        assert len(deformed) == 2
        for collection, positions in zip(deformed, expected):
            np.testing.assert_allclose(collection.get_offsets()[:, ::-1], positions)
    sizes = _points(axes[2], "deformed")[0].get_sizes()
    assert np.all(np.diff(sizes) > 0)  # dot area grows with the modulation
    plt.close(fig)
    zoomed = viz.plot_sampling_grid(image, {"a": None}, [(10, 10)], padding=1, crop=3)
    assert zoomed.axes[0].get_xlim() == (6.5, 13.5)
    plt.close(zoomed)


def _bilinear_by_loops(image, y, x):
    value = 0.0
    for row in range(image.shape[0]):
        for col in range(image.shape[1]):
            value += (
                max(0.0, 1 - abs(row - y))
                * max(0.0, 1 - abs(col - x))
                * image[row, col]
            )
    return value


def _title_value(fig):
    return float(re.search(r"= (-?[0-9.]+)", fig._suptitle.get_text()).group(1))


def test_deformed_sampling_reads_and_sums_like_the_equation():
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(10, 11))
    weight = rng.normal(size=(3, 3))
    taps = rng.uniform(-2, 2, size=(9, 2))
    mask = rng.uniform(size=9)
    for dilation, m in [(1, None), (2, mask)]:
        fig = viz.plot_deformed_sampling(
            image, weight, (4, 6), taps, dilation=dilation, mask=m
        )
        shown = fig.axes[1].images[0].get_array()
        reads = np.array(
            [
                _bilinear_by_loops(
                    image,
                    4 - dilation + dilation * i + taps[3 * i + j, 0],
                    6 - dilation + dilation * j + taps[3 * i + j, 1],
                )
                for i in range(3)
                for j in range(3)
            ]
        )
        if m is not None:
            reads = reads * m
        np.testing.assert_allclose(shown.ravel(), reads, atol=1e-12)
        np.testing.assert_allclose(
            _title_value(fig), (weight.ravel() * reads).sum(), atol=1e-4
        )
        plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_deformed_sampling(image, np.ones((2, 2)), (0, 0), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        viz.plot_deformed_sampling(image, weight, (20, 0), taps)


def test_learned_taps_and_spread_figures():
    images = [np.zeros((8, 8)), np.ones((8, 8))]
    taps = [np.array([[1.0, 2.0], [3.5, 4.0]]), np.array([[0.0, 0.0]])]
    fig = viz.plot_learned_taps(images, taps, [(2, 3), (4, 4)], ["a", "b"])
    for ax, points in zip([ax for ax in fig.axes if ax.images], taps):
        np.testing.assert_array_equal(
            _points(ax, "taps")[0].get_offsets()[:, ::-1], points
        )
    plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_learned_taps(images, taps[:1], [(0, 0)])
    sizes = np.array([1.0, 2.0, 3.0, 4.0])
    spread = np.array([2.0, 2.5, 2.4, 4.0])
    fig = viz.plot_tap_spread(sizes, {"model": spread})
    label = fig.axes[0].get_legend().get_texts()[0].get_text()
    assert label == f"model (r = {np.corrcoef(sizes, spread)[0, 1]:.2f})"
    plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_tap_spread(sizes, {"model": spread[:3]})


# ---------------------------------------------------------------------------
# widgets.deform_widget
# ---------------------------------------------------------------------------
