"""The book's one figure style, and what every family of figures shares.

:data:`STYLE` is applied to each ``plot_*`` function for the duration of the call by the
``_styled`` decorator, so importing :mod:`convref` leaves matplotlib's global settings alone;
:func:`use_style` and :func:`style` apply it globally or to a block. Also here: the colours of
the convolution diagrams, the grid of cells they are drawn from.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.rcsetup import cycler

#: The book's figure style: matplotlib ``rcParams`` that every ``plot_*`` function runs under
#: (:func:`style`), or that :func:`use_style` makes global. Text sizes step down from titles
#: to tick labels; the colour cycle is a muted, colour-blind-friendlier palette whose first
#: three entries are the input, kernel-tap and output colours of the convolution diagrams;
#: grids are light and drawn only where a function asks for one; figures have a white
#: background so that they read the same on the book's light and dark themes.
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.edgecolor": "white",
    "figure.titlesize": 11,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.linewidth": 0.8,
    "axes.labelcolor": "#222222",
    "axes.titlepad": 6.0,
    "axes.grid": False,
    "axes.spines.top": True,
    "axes.spines.right": True,
    "axes.prop_cycle": cycler(
        color=[
            "#4c72b0",
            "#dd8452",
            "#55a868",
            "#c44e52",
            "#8172b3",
            "#937860",
            "#da8bc3",
            "#8c8c8c",
            "#ccb974",
            "#64b5cd",
        ]
    ),
    "grid.color": "#b0b0b0",
    "grid.linestyle": "-",
    "grid.linewidth": 0.6,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.0,
    "patch.linewidth": 0.8,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "image.cmap": "viridis",
    "image.interpolation": "nearest",
}

_Plot = TypeVar("_Plot", bound=Callable)


def use_style() -> None:
    """Make :data:`STYLE` matplotlib's global style (for figures drawn without :mod:`convref.viz`).

    The chapters call it once, after their imports. ``matplotlib.rcdefaults()`` undoes it.
    """
    matplotlib.rcParams.update(STYLE)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """A context in which matplotlib draws in :data:`STYLE`; the previous settings return after it.

    Yields
    ------
    None
        The block runs with :data:`STYLE` applied.

    Examples
    --------
    >>> with style():
    ...     fig, ax = plt.subplots()
    """
    with matplotlib.rc_context(STYLE):
        yield


def _styled(plot: _Plot) -> _Plot:
    """Run a plotting function under :data:`STYLE` (the marker ``_convref_styled`` lets a test find it)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    wrapper._convref_styled = True
    return wrapper  # type: ignore[return-value]


#: Colour of the input cells of the convolution diagrams (the first of the style's colour cycle).
INPUT_COLOR = "#4c72b0"
#: Colour of the zero-padding cells of the convolution diagrams.
PAD_COLOR = "#ffffff"
#: Colour of the cells that the kernel's taps cover (the second of the style's colour cycle).
TAP_COLOR = "#dd8452"
#: Colour of the output cells of the convolution diagrams (the third of the style's colour cycle).
OUTPUT_COLOR = "#55a868"


def _grid(
    ax: Axes,
    top: float,
    left: float,
    rows: int,
    cols: int,
    colors: np.ndarray,
    alpha: np.ndarray,
) -> None:
    """Draw ``rows x cols`` unit cells whose top-left corner is ``(left, top)``, each with its colour and alpha."""
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                Rectangle(
                    (left + j, top - i - 1),
                    1,
                    1,
                    facecolor=colors[i][j],
                    alpha=alpha[i][j],
                    edgecolor="#333333",
                    linewidth=0.6,
                )
            )
