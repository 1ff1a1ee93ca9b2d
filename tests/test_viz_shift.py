"""Figure and widget of the shift chapter, checked against independent computations.

Oracles, none of them the code under test: integer shifts done one pixel at a time with
explicit loops, and the arrow of each panel, whose direction must be the sign of the shift.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from convref import data, viz


def shift_by_loops(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[h, w] = image[h - dy, w - dx]``, zero where that falls outside, one pixel at a time."""
    height, width = image.shape
    out = np.zeros_like(image)
    for h in range(height):
        for w in range(width):
            if 0 <= h - dy < height and 0 <= w - dx < width:
                out[h, w] = image[h - dy, w - dx]
    return out


def panels(fig):
    return [ax for ax in fig.axes if ax.images]


def test_panels_show_each_channel_shifted_by_loops():
    image = data.test_image(16, seed=3)
    shifts = np.array(
        [[-2, -2], [-2, 0], [-2, 2], [0, -2], [0, 0], [0, 2], [2, -2], [2, 0], [2, 2]]
    )
    fig = viz.plot_shifted_channels(image, shifts)
    axes = panels(fig)
    assert len(axes) == 9
    for ax, (dy, dx) in zip(axes, shifts):
        np.testing.assert_allclose(
            ax.images[0].get_array(), shift_by_loops(image, dy, dx), atol=1e-12
        )
        assert ax.get_title().endswith(f"({dy}, {dx})")
    # a square number of channels lies out like the k x k kernel: 3 rows of 3
    rows = sorted({round(ax.get_position().y0, 3) for ax in axes})
    assert len(rows) == 3
    plt.close(fig)


def test_arrows_point_where_the_content_moves():
    image = data.test_image(16)
    shifts = np.array([[0, 0], [3, 0], [0, -2], [-1.5, 2.5]])
    fig = viz.plot_shifted_channels(image, shifts, ncols=4)
    axes = panels(fig)
    centre = (np.array(image.shape) - 1) / 2
    for ax, (dy, dx) in zip(axes, shifts):
        marks = [a for a in ax.texts if a.get_gid() == "shift"] + [
            l for l in ax.get_lines() if l.get_gid() == "shift"
        ]
        assert len(marks) == 1
        if dy == 0 and dx == 0:
            assert (
                marks[0].get_xdata()[0] == centre[1]
                and marks[0].get_ydata()[0] == centre[0]
            )
            continue
        tip = (
            np.array(marks[0].xy) - centre[::-1]
        )  # (x, y) of the tip relative to the centre
        assert np.sign(tip[0]) == np.sign(dx) and np.sign(tip[1]) == np.sign(dy)
        np.testing.assert_allclose(
            tip[1] * dx, tip[0] * dy, atol=1e-9
        )  # parallel to (dx, dy)
    plt.close(fig)


def test_fractional_shift_of_a_ramp_is_the_ramp_moved():
    # bilinear reading of a linear image is exact away from the border
    image = data.ramp(12, 12, slope_y=0.5, slope_x=0.25)
    fig = viz.plot_shifted_channels(image, np.array([[0.5, -1.25]]))
    shown = panels(fig)[0].images[0].get_array()
    expected = 0.5 * (np.arange(12)[:, None] - 0.5) + 0.25 * (
        np.arange(12)[None, :] + 1.25
    )
    np.testing.assert_allclose(shown[1:, :10], expected[1:, :10], atol=1e-12)
    plt.close(fig)


@pytest.mark.parametrize(
    "image, shifts",
    [
        (np.zeros((2, 4, 4)), np.zeros((1, 2))),
        (np.zeros((4, 4)), np.zeros((3,))),
        (np.zeros((4, 4)), np.zeros((0, 2))),
    ],
)
def test_bad_arguments_raise(image, shifts):
    with pytest.raises(ValueError):
        viz.plot_shifted_channels(image, shifts)
