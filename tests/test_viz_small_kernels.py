"""convref.viz.small_kernels: the low-rank kernel figures, against the exact rank-one split of a Sobel kernel."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from convref import data, viz


def test_plot_low_rank_kernels_draws_a_row_per_kernel():
    gaussian = np.outer(np.hanning(5), np.hanning(5))
    rng = np.random.default_rng(0)
    fig = viz.plot_low_rank_kernels(
        {"gaussian": gaussian, "random": rng.standard_normal((5, 5))},
        ranks=(1, 2),
        image=data.test_image(32),
    )
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) >= 2 * (
        1 + 2 + 1
    )  # kernel, two approximations and the error plot, per row


def test_plot_low_rank_filtering_reports_an_exact_rank_one_split():
    sobel = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
    fig = viz.plot_low_rank_filtering(data.test_image(32), sobel, rank=1, name="Sobel")
    assert isinstance(fig, Figure)
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "Sobel" in titles
