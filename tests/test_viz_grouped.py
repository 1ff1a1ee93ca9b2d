"""convref.viz.grouped and its widget: channel-shuffle connectivity and the roofline."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from convref import viz


def test_plot_shuffle_connectivity_draws_and_validates():
    fig = viz.plot_shuffle_connectivity(8, 2)
    assert isinstance(fig, Figure) and len(fig.axes) >= 4
    with pytest.raises(
        ValueError, match=r"^groups must divide channels, got groups=3 for 8 channels$"
    ):
        viz.plot_shuffle_connectivity(8, 3)
    with pytest.raises(
        ValueError, match=r"^highlight must be an output channel in \[0, 8\), got 8$"
    ):
        viz.plot_shuffle_connectivity(8, 2, highlight=8)


def test_plot_roofline_draws_the_roof_as_the_lower_ceiling():
    fig = viz.plot_roofline(
        {"depthwise": (1.0, 5.0), "dense": (50.0, 80.0)}, peak=100.0, bandwidth=20.0
    )
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    roofs = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert roofs, "the roof line is drawn"
    x, y = np.asarray(roofs[0].get_xdata()), np.asarray(roofs[0].get_ydata())
    np.testing.assert_allclose(y, np.minimum(100.0, 20.0 * x))
