"""The book's one figure style, and what every family of figures shares.

:data:`STYLE` is applied to each ``plot_*`` function for the duration of the call by the
``_styled`` decorator, so importing :mod:`convref` leaves matplotlib's global settings alone;
:func:`use_style` and :func:`style` apply it globally or to a block. Also here: the colours of
the convolution diagrams, the grid of cells they are drawn from.
"""

from __future__ import annotations

import contextlib
import functools
import textwrap
from typing import Callable, Iterator, Optional, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.rcsetup import cycler

#: The book's type scale, in points: every text of a figure takes one of these sizes,
#: by role. ``"heading"``: a figure's title; ``"title"``: an axes' title; ``"label"``:
#: axis labels and the titles of the panels of a grid; ``"small"``: tick labels,
#: legends, colour-bar ticks, annotations and the numbers in the cells of a diagram.
#: Nothing is smaller than ``"small"``: at the book's 100 dpi it is 11 pixels tall, and
#: still 9 in a figure up to 968 pixels wide that the 784-pixel column shrinks.
TEXT_SIZES: dict[str, float] = {"heading": 11, "title": 10, "label": 9, "small": 8}

#: The book's figure style: matplotlib ``rcParams`` that every ``plot_*`` function runs
#: under (:func:`style`), or that :func:`use_style` makes global. Text sizes are those
#: of :data:`TEXT_SIZES`, by role; the colour cycle is a muted, colour-blind-friendlier
#: palette whose first three entries are the input, kernel-tap and output colours of the
#: convolution diagrams; grids are light and drawn only where a function asks for one;
#: figures have a white background so that they read the same on the book's light and
#: dark themes.
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.edgecolor": "white",
    "figure.titlesize": TEXT_SIZES["heading"],
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
    "font.size": TEXT_SIZES["label"],
    "axes.titlesize": TEXT_SIZES["title"],
    "axes.labelsize": TEXT_SIZES["label"],
    "xtick.labelsize": TEXT_SIZES["small"],
    "ytick.labelsize": TEXT_SIZES["small"],
    "legend.fontsize": TEXT_SIZES["small"],
    "legend.title_fontsize": TEXT_SIZES["small"],
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

#: Width (inches) of the book's content column at ``figure.dpi`` (784 pixels at
#: 100 dpi): the figures are sized to fit it, so that the page shows them at their
#: natural size.
COLUMN_WIDTH = 7.84


def _columns(
    count: int, panel: float, ncols: Optional[int] = None, extra: float = 0.0
) -> int:
    """Panels per row: ``ncols`` (default ``count``), fewer where a row would not fit.

    ``panel`` is the width of one panel and ``extra`` what the row needs besides its
    panels (inches); the row must fit :data:`COLUMN_WIDTH`. A wrapped grid is balanced:
    8 panels that fit 5 to a row become two rows of 4.
    """
    wanted = min(ncols or count, count)
    fitting = max(1, int((COLUMN_WIDTH - extra) / panel + 1e-9))
    if wanted <= fitting:
        return max(1, wanted)
    rows = -(-count // fitting)
    return -(-count // rows)


def _wrap(text: str, width: float, size: float = TEXT_SIZES["label"]) -> str:
    """Break ``text`` between words so that no line is wider than ``width`` inches.

    The text is set at ``size`` points; a line's width is estimated at 0.58 em a
    character (DejaVu Sans runs narrower on average). Lines already short enough, and
    the text's own line breaks, are kept.
    """
    chars = max(8, int(width * 72 / (0.58 * size)))
    return "\n".join(
        textwrap.fill(line, chars, break_long_words=False)
        if len(line) > chars
        else line
        for line in text.split("\n")
    )


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
