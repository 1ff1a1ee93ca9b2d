"""One figure style: every plotting function draws in ``viz.STYLE``, whatever the global settings, and leaves them alone."""

from __future__ import annotations

import inspect
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.rcsetup import cycler

from convref import viz, widgets

#: Global settings as unlike the book's style as possible: if one of them shows up in a
#: figure drawn by ``viz``, the style was not applied.
FOREIGN = {
    "figure.dpi": 42,
    "figure.facecolor": "#102030",
    "axes.facecolor": "#ffeedd",
    "axes.titlesize": 19,
    "xtick.labelsize": 23,
    "ytick.labelsize": 21,
    "lines.linewidth": 4.5,
    "axes.prop_cycle": cycler(color=["#ff00ff", "#00ffff"]),
    "image.cmap": "plasma",
}


def _colour(name: str) -> tuple:
    return to_rgba(viz.STYLE[name])


def _first_colour() -> tuple:
    return to_rgba(viz.STYLE["axes.prop_cycle"].by_key()["color"][0])


def _rc_snapshot() -> dict:
    return {
        key: matplotlib.rcParams[key] for key in matplotlib.rcParams if key != "backend"
    }


def _tick_label_sizes(fig) -> tuple[set, set]:
    """The font sizes of the x and of the y tick labels of every visible axes (drawn first: ticks are made lazily)."""
    fig.canvas.draw()
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    x = {t.get_fontsize() for ax in axes for t in ax.get_xticklabels() if t.get_text()}
    y = {t.get_fontsize() for ax in axes for t in ax.get_yticklabels() if t.get_text()}
    return x, y


# Representative functions: lines, a heat map with ticks, a diagram of grids, a log-log plot.
# The first two leave the tick labels to the style; the others set some sizes themselves.
CASES = {
    "plot_curves": lambda: viz.plot_curves(
        {"a": [1.0, 2.0, 4.0], "b": [3.0, 2.0, 1.0]}, "layer", "value"
    ),
    "plot_matrix": lambda: viz.plot_matrix(np.arange(12.0).reshape(3, 4), title="m"),
    "plot_coverage": lambda: viz.plot_coverage([(1, 2, 5), (2, 2, 2)]),
    "plot_scaling": lambda: viz.plot_scaling(
        [8, 16, 32],
        {"explicit": [1.0, 4.0, 16.0], "implicit": [1.0, 2.0, 4.0]},
        "side",
        "MiB",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_plot_draws_in_the_book_style_under_foreign_global_settings(name):
    with matplotlib.rc_context(FOREIGN):
        before = _rc_snapshot()
        fig = CASES[name]()
        assert _rc_snapshot() == before, (
            "the plotting function changed the global rcParams"
        )
        x_sizes, y_sizes = _tick_label_sizes(fig)
    assert fig.dpi == viz.STYLE["figure.dpi"]
    assert to_rgba(fig.get_facecolor()) == _colour("figure.facecolor")
    assert x_sizes or y_sizes, "no tick labels to check"
    assert (
        FOREIGN["xtick.labelsize"] not in x_sizes
        and FOREIGN["ytick.labelsize"] not in y_sizes
    )
    if name in ("plot_curves", "plot_matrix"):
        assert x_sizes == {viz.STYLE["xtick.labelsize"]} and y_sizes == {
            viz.STYLE["ytick.labelsize"]
        }
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert all(t.get_fontsize() != FOREIGN["axes.titlesize"] for t in titles)


def test_lines_take_the_style_colour_cycle_and_width():
    with matplotlib.rc_context(FOREIGN):
        fig = viz.plot_curves({"a": [1.0, 2.0], "b": [2.0, 1.0]}, "x", "y")
    first, second = fig.axes[0].get_lines()[:2]
    assert to_rgba(first.get_color()) == _first_colour()
    assert to_rgba(second.get_color()) == to_rgba(
        viz.STYLE["axes.prop_cycle"].by_key()["color"][1]
    )
    assert first.get_linewidth() == viz.STYLE["lines.linewidth"]
    assert to_rgba(fig.axes[0].get_facecolor()) == _colour("axes.facecolor")


def test_every_public_plot_function_is_styled():
    plots = [name for name in viz.__all__ if name.startswith("plot_")]
    assert len(plots) > 30
    unstyled = [
        name
        for name in plots
        if not getattr(getattr(viz, name), "_convref_styled", False)
    ]
    assert not unstyled, (
        f"plot functions not wrapped in the book style (decorate them with @_styled): {unstyled}"
    )
    # the wrapper keeps the signature and the docstring that the API page shows
    assert (
        "images" in inspect.signature(viz.plot_images).parameters
        and viz.plot_images.__doc__
    )


def test_widgets_draw_through_the_styled_functions():
    with matplotlib.rc_context(FOREIGN):
        before = _rc_snapshot()
        widgets.kernel_widget(
            np.eye(8),
            {"identity": np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])},
        )
        assert _rc_snapshot() == before
    fig = plt.gcf()
    assert fig.dpi == viz.STYLE["figure.dpi"] and to_rgba(
        fig.get_facecolor()
    ) == _colour("figure.facecolor")


def test_importing_convref_leaves_the_global_style_alone():
    """In a fresh interpreter: the rcParams after importing every convref module equal those before."""
    code = (
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "before = {k: v for k, v in matplotlib.rcParams.items()}\n"
        "import convref, convref.viz, convref.widgets, convref.experiments, convref.bench\n"
        "after = {k: v for k, v in matplotlib.rcParams.items()}\n"
        "changed = sorted(k for k in before if before[k] != after[k])\n"
        "assert not changed, changed\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_use_style_and_style_apply_the_style_globally_or_for_a_block():
    with matplotlib.rc_context(FOREIGN):
        with viz.style():
            assert (
                matplotlib.rcParams["xtick.labelsize"] == viz.STYLE["xtick.labelsize"]
            )
        assert matplotlib.rcParams["xtick.labelsize"] == FOREIGN["xtick.labelsize"]
        viz.use_style()
        validated = matplotlib.RcParams(viz.STYLE)  # the values as rcParams stores them
        for key in viz.STYLE:
            assert matplotlib.rcParams[key] == validated[key], key
    # rc_context restored the settings from before the test, use_style included
    assert matplotlib.rcParams["xtick.labelsize"] != FOREIGN["xtick.labelsize"]
