"""Figures, widget and data of the non-local chapter, checked against independent computations.

Oracles, none of them the code under test: attention maps indexed out of the affinity rows
with explicit loops; growth exponents known in closed form (``y = a x^p``); and, for the
far-pairs data, the squares found again in the pixels (by thresholding and by their bounding
boxes), whose colours are read off the image and compared to give the label.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from convref import data, reference, viz

# ---------------------------------------------------------------------------
# oracles
# ---------------------------------------------------------------------------


def map_by_loops(row: np.ndarray, height: int, width: int) -> np.ndarray:
    """Entry ``(r, c)`` of the map is key ``r * width + c``, one position at a time."""
    out = np.empty((height, width))
    for r in range(height):
        for c in range(width):
            out[r, c] = row[r * width + c]
    return out


def query_marker(ax) -> tuple[float, float]:
    (line,) = [line for line in ax.get_lines() if line.get_gid() == "query"]
    return float(line.get_xdata()[0]), float(line.get_ydata()[0])


def squares_in(
    image: np.ndarray, threshold: float
) -> list[tuple[int, int, int, int, np.ndarray]]:
    """The coloured squares of one far-pairs image: (top, left, height, width, mean colour), left to right.

    Pixels whose brightest channel exceeds ``threshold`` belong to a square; the left half of the
    image holds one square and the right half the other.
    """
    lit = image.max(axis=0) > threshold
    found = []
    for half in (
        slice(0, image.shape[2] // 2),
        slice(image.shape[2] // 2, image.shape[2]),
    ):
        rows, cols = np.nonzero(lit[:, half])
        cols = cols + half.start
        top, left = rows.min(), cols.min()
        box_h, box_w = rows.max() - top + 1, cols.max() - left + 1
        assert len(rows) == box_h * box_w, (
            "the lit pixels of one half must fill their bounding box"
        )
        colour = (
            image[:, top : top + box_h, left : left + box_w].reshape(3, -1).mean(axis=1)
        )
        found.append((int(top), int(left), int(box_h), int(box_w), colour))
    return found


# ---------------------------------------------------------------------------
# plot_attention_map
# ---------------------------------------------------------------------------


def test_plot_attention_map_shows_each_row_as_a_map(rng):
    height, width = 6, 7
    image = rng.random((height, width))
    rows = {"first": rng.random(height * width), "second": rng.random(height * width)}
    fig = viz.plot_attention_map(image, rows, (4, 2), title="where it looks")
    assert isinstance(fig, Figure)
    panels = fig.axes[:3]  # the colour bars come after the panels
    assert len(fig.axes) == 3 + 2
    np.testing.assert_array_equal(panels[0].images[0].get_array(), image)
    for ax, (name, row) in zip(panels[1:], rows.items()):
        np.testing.assert_array_equal(
            ax.images[0].get_array(), map_by_loops(row, height, width)
        )
        assert ax.get_title() == name
    for ax in panels:
        assert query_marker(ax) == (2.0, 4.0)  # (x, y) = (column, row)
    assert "query (4, 2)" in panels[0].get_title()
    assert fig._suptitle.get_text() == "where it looks"


def test_plot_attention_map_subsampled_keys_cover_two_by_two_pixels(rng):
    height, width = (
        7,
        6,
    )  # odd height: the pooled grid is 3 x 3 and covers the first 6 rows
    row = rng.random((height // 2) * (width // 2))
    fig = viz.plot_attention_map(rng.random((height, width)), row, (0, 5))
    ax = fig.axes[1]
    np.testing.assert_array_equal(
        ax.images[0].get_array(), map_by_loops(row, height // 2, width // 2)
    )
    assert ax.images[0].get_extent() == [-0.5, 5.5, 5.5, -0.5]
    assert ax.get_title() == "attention"  # a single array gets this name
    assert ax.get_xlim() == (-0.5, width - 0.5) and ax.get_ylim() == (
        height - 0.5,
        -0.5,
    )


def test_plot_attention_map_of_a_real_affinity_matrix(rng):
    """Rows of the embedded Gaussian's affinity are distributions over the (pooled) keys."""
    x = rng.standard_normal((1, 4, 8, 10))
    theta, phi = rng.standard_normal((2, 3, 4))
    affinity = reference.non_local_affinity(x, theta, phi, sub_sample=True)[
        0
    ]  # (80, 20)
    query = (5, 3)
    fig = viz.plot_attention_map(
        x[0, 0], {"softmax row": affinity[query[0] * 10 + query[1]]}, query
    )
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (4, 5)
    assert np.isclose(shown.sum(), 1.0)


@pytest.mark.parametrize("layout", ["chw", "hwc"])
def test_plot_attention_map_rgb_image(layout, rng):
    image = rng.uniform(
        -0.2, 1.2, size=(3, 5, 4)
    )  # out of range: drawn clipped to [0, 1]
    given = image if layout == "chw" else image.transpose(1, 2, 0)
    fig = viz.plot_attention_map(given, rng.random(20), (1, 1))
    np.testing.assert_array_equal(
        fig.axes[0].images[0].get_array(), np.clip(image.transpose(1, 2, 0), 0, 1)
    )


@pytest.mark.parametrize(
    "image, attention, query, message",
    [
        (
            np.zeros((4, 4)),
            np.zeros(5),
            (0, 0),
            "an attention row must hold H\\*W = 16 or \\(H//2\\)\\*\\(W//2\\) = 4 weights",
        ),
        (
            np.zeros((4, 4)),
            np.zeros((3, 3)),
            (0, 0),
            "an attention map must be 4x4 or 2x2, got \\(3, 3\\)",
        ),
        (
            np.zeros((4, 4)),
            np.zeros(16),
            (4, 0),
            "query must lie inside the 4x4 image, got \\(4, 0\\)",
        ),
        (np.zeros((4, 4)), {}, (0, 0), "attention must hold at least one map"),
        (
            np.zeros((2, 4, 4)),
            np.zeros(16),
            (0, 0),
            "image must be \\(H, W\\), \\(3, H, W\\) or \\(H, W, 3\\)",
        ),
    ],
)
def test_plot_attention_map_rejects_bad_input(image, attention, query, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_attention_map(image, attention, query)


# ---------------------------------------------------------------------------
# plot_scaling
# ---------------------------------------------------------------------------


def test_plot_scaling_labels_each_curve_with_its_exponent():
    x = np.array([16.0, 64.0, 256.0, 1024.0])
    curves = {"quadratic": 3 * x**2, "linear": 5 * x + 0.0, "square root": np.sqrt(x)}
    fig = viz.plot_scaling(x, curves, "positions", "cost", "growth")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "quadratic (slope 2.00)",
        "linear (slope 1.00)",
        "square root (slope 0.50)",
    ]
    for line, values in zip(ax.get_lines(), curves.values()):
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), values)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "positions",
        "cost",
        "growth",
    )


def test_plot_scaling_draws_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert viz.plot_scaling([1, 2], {"a": [1, 4]}, "x", "y", ax=axes[1]) is fig
    assert not axes[0].get_lines() and len(axes[1].get_lines()) == 1


@pytest.mark.parametrize(
    "x, curves, message",
    [
        ([1.0], {"a": [1.0]}, "x must hold at least two positive numbers"),
        ([0.0, 1.0], {"a": [1.0, 2.0]}, "x must hold at least two positive numbers"),
        ([1.0, 2.0], {"a": [1.0]}, "curve 'a' must hold 2 positive values"),
        ([1.0, 2.0], {"a": [1.0, -2.0]}, "curve 'a' must hold 2 positive values"),
    ],
)
def test_plot_scaling_rejects_bad_input(x, curves, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_scaling(x, curves, "x", "y")


# ---------------------------------------------------------------------------
# far_pairs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("noise, threshold", [(0.0, 0.0), (0.05, 0.5)])
def test_far_pairs_labels_match_the_colours_found_in_the_pixels(noise, threshold):
    size, patch = 20, 3
    images, labels, corners = data.far_pairs(
        400, size=size, patch=patch, noise=noise, seed=3
    )
    third = size // 3
    for image, label, corner in zip(images, labels, corners):
        (top0, left0, h0, w0, colour0), (top1, left1, h1, w1, colour1) = squares_in(
            image, threshold
        )
        assert (h0, w0, h1, w1) == (patch,) * 4
        assert [[top0, left0], [top1, left1]] == corner.tolist()
        # The true colours are palette entries: round the (noisy) mean colour to the nearest one.
        index0 = int(np.argmin(((data.PAIR_COLOURS - colour0) ** 2).sum(axis=1)))
        index1 = int(np.argmin(((data.PAIR_COLOURS - colour1) ** 2).sum(axis=1)))
        assert np.abs(colour0 - data.PAIR_COLOURS[index0]).max() < 0.1
        assert label == int(index0 == index1)
        # Geometry: left third, right third, a one-pixel margin everywhere.
        assert 1 <= left0 and left0 + patch <= third
        assert size - third <= left1 and left1 + patch <= size - 1
        assert 1 <= min(top0, top1) and max(top0, top1) + patch <= size - 1
        assert (
            left1 - (left0 + patch - 1) >= size - 2 * third + 1
        )  # the documented minimum distance
    if noise == 0.0:  # the background is exactly zero
        mask = np.ones(images.shape, dtype=bool)
        for i, ((r0, c0), (r1, c1)) in enumerate(corners):
            mask[i, :, r0 : r0 + patch, c0 : c0 + patch] = False
            mask[i, :, r1 : r1 + patch, c1 : c1 + patch] = False
        assert not images[mask].any()


def test_far_pairs_each_square_alone_says_nothing_about_the_label():
    images, labels, corners = data.far_pairs(3000, seed=0, noise=0.0)
    assert images.shape == (3000, 3, 20, 20) and images.dtype == np.float32
    assert (
        labels.dtype == np.int64
        and corners.dtype == np.int64
        and corners.shape == (3000, 2, 2)
    )
    assert 0.45 < labels.mean() < 0.55
    left = np.array([images[i, :, r, c] for i, ((r, c), _) in enumerate(corners)])
    right = np.array([images[i, :, r, c] for i, (_, (r, c)) in enumerate(corners)])
    # The palette index of each square's colour (noise-free, so the pixels equal a palette entry exactly).
    index = {
        side: np.argmax((colours[:, None] == data.PAIR_COLOURS[None]).all(-1), axis=1)
        for side, colours in (("left", left), ("right", right))
    }
    for side in ("left", "right"):
        for label in (
            0,
            1,
        ):  # every colour about equally likely, in both classes, on both sides
            counts = np.bincount(index[side][labels == label], minlength=6)
            assert (
                counts.min() > 0.6 * counts.mean()
                and counts.max() < 1.4 * counts.mean()
            )
    assert np.array_equal(index["left"] == index["right"], labels == 1)


def test_far_pairs_is_reproducible_and_respects_its_arguments():
    first, second = data.far_pairs(20, seed=5), data.far_pairs(20, seed=5)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], data.far_pairs(20, seed=6)[0])
    images, labels, corners = data.far_pairs(
        200, size=15, patch=2, colours=2, noise=0.0, seed=1
    )
    assert images.shape == (200, 3, 15, 15)
    lit = images.max(axis=1) > 0
    assert (lit.sum(axis=(1, 2)) == 2 * 2 * 2).all()
    used = {
        tuple(images[i, :, r, c]) for i, pair in enumerate(corners) for r, c in pair
    }
    assert used == {tuple(data.PAIR_COLOURS[0]), tuple(data.PAIR_COLOURS[1])}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), "n must be a positive int"),
        (
            dict(n=5, size=11, patch=3),
            "size must be an int >= 3 \\* \\(patch \\+ 1\\) = 12",
        ),
        (dict(n=5, patch=0), "patch must be a positive int"),
        (dict(n=5, colours=1), "colours must be an int from 2 to 6"),
        (dict(n=5, colours=7), "colours must be an int from 2 to 6"),
        (dict(n=5, noise=-0.1), "noise must be >= 0"),
    ],
)
def test_far_pairs_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.far_pairs(**kwargs)


# ---------------------------------------------------------------------------
# attention_widget (constructed and redrawn outside a kernel: errors propagate)
# ---------------------------------------------------------------------------
