"""Pre-drawn widgets: every figure drawn once, in Python, and chosen in the browser.

A widget of :mod:`convref.widgets` offers a bounded set of values per control. When the
widget is made, the figure of every combination of values is drawn and kept as PNG bytes
in an :class:`ipywidgets.Image`, with a caption under it that states the values and the
result. The panels sit in nested :class:`ipywidgets.Stack` containers: the outer Stack
has one child per value of the first control, each of those one per value of the second,
and so on. A browser-side link (:func:`ipywidgets.jsdlink`) from each control's
``index`` to the ``selected_index`` of every Stack of its level makes the figure follow
the controls with no Python callback, so the static book (no kernel) and a live notebook
behave alike: the links are widget models, saved with the notebook's widget state.
"""

from __future__ import annotations

import html
import io
import itertools
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..viz.figure_style import STYLE

#: Resolution of the pre-drawn figures: the book's own (``figure.dpi`` of its style), so
#: that a widget's figure shows at the size of the static figures around it.
DPI = int(STYLE["figure.dpi"])

#: The most panels one widget may pre-draw (each is a figure drawn and embedded in the
#: page).
MAX_PANELS = 48

#: The kinds of control: a slider over the values, or a drop-down menu.
_SLIDER_KINDS = ("slider", "dropdown")


@dataclass(frozen=True)
class Control:
    """One control of a pre-drawn widget: the values it offers and how it is labelled.

    Attributes
    ----------
    name : str
        The keyword under which the value reaches the draw and caption functions.
    description : str
        The label shown beside the control.
    values : tuple
        The values offered, in order.
    labels : tuple of str
        One text per value: the slider's readout or the drop-down's option.
    start : int
        Index of the value shown first.
    kind : str
        ``"slider"`` (:class:`ipywidgets.SelectionSlider`) or ``"dropdown"``.
    """

    name: str
    description: str
    values: tuple
    labels: tuple
    start: int
    kind: str


def control(
    name: str,
    description: str,
    values: Sequence[Any],
    start: Any,
    labels: Optional[Sequence[str]] = None,
    kind: str = "slider",
) -> Control:
    """A :class:`Control` offering ``values``, showing ``start`` first.

    Parameters
    ----------
    name : str
        Keyword of the draw and caption functions.
    description : str
        Label of the control.
    values : sequence
        The values offered (at least one, no repeats).
    start : object
        The value shown first; it must be one of ``values``.
    labels : sequence of str, optional
        One distinct text per value (``str(value)`` by default).
    kind : str
        ``"slider"`` or ``"dropdown"``.

    Returns
    -------
    Control
    """
    values = tuple(values)
    if not values:
        raise ValueError(f"{name}: the control must offer at least one value")
    labels = tuple(str(v) for v in values) if labels is None else tuple(labels)
    if len(labels) != len(values):
        raise ValueError(
            f"{name}: {len(labels)} labels for {len(values)} values; give one per value"
        )
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name}: the labels must be distinct, got {list(labels)}")
    matches = [i for i, value in enumerate(values) if _same(value, start)]
    if not matches:
        raise ValueError(
            f"{name} must be one of the values offered {list(labels)}, got {start!r}"
        )
    if kind not in _SLIDER_KINDS:
        raise ValueError(f"kind must be one of {_SLIDER_KINDS}, got {kind!r}")
    return Control(name, description, values, labels, matches[0], kind)


def _same(a: Any, b: Any) -> bool:
    """Equality that also compares tuples with lists and arrays element by element."""
    try:
        return (
            bool(a == b) if not isinstance(a, (tuple, list)) else tuple(a) == tuple(b)
        )
    except (TypeError, ValueError):
        return False


def figure_png(figure: Figure, dpi: int = DPI) -> bytes:
    """Render ``figure`` as a 256-colour PNG and close it.

    The image is reduced to an adaptive palette (median cut, no dithering), which keeps
    the book's flat colours and grey ramps and makes the file two to three times
    smaller. The result depends on the figure alone: the same drawing gives the same
    bytes.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure to render; it is closed afterwards.
    dpi : int
        Dots per inch.

    Returns
    -------
    bytes
        The PNG file.
    """
    buffer = io.BytesIO()
    try:
        figure.savefig(
            buffer,
            format="png",
            dpi=dpi,
            bbox_inches="tight",  # as the notebook's inline figures are saved
            metadata={"Software": None},
        )
    finally:
        plt.close(figure)
    picture = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    palette = picture.quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


class Predrawn(widgets.VBox):
    """The controls above the nested Stacks of pre-drawn panels (see the module's docstring).

    Besides the VBox's children, it keeps ``controls`` (``{name: control widget}``),
    ``specs`` (the :class:`Control` of each), ``stack`` (the outer Stack) and ``links``
    (the browser-side links, each from a control's ``index`` to a Stack's
    ``selected_index``), so that tests can walk the structure.
    """

    def panel(self, **values: Any) -> widgets.VBox:
        """The panel (image above caption) drawn for ``values``, one per control."""
        node: widgets.Widget = self.stack
        for spec in self.specs:
            if spec.name not in values:
                raise TypeError(f"panel() needs a value for {spec.name!r}")
            matches = [
                i for i, v in enumerate(spec.values) if _same(v, values[spec.name])
            ]
            if not matches:
                raise ValueError(
                    f"{spec.name} must be one of {list(spec.labels)},"
                    f" got {values[spec.name]!r}"
                )
            node = node.children[matches[0]]
        return node

    def image(self, **values: Any) -> bytes:
        """The PNG bytes drawn for ``values``."""
        return bytes(self.panel(**values).children[0].value)

    def caption(self, **values: Any) -> str:
        """The caption (plain text) of the panel drawn for ``values``."""
        return html.unescape(self.panel(**values).children[1].value)


def predrawn(
    specs: Sequence[Control],
    draw: Callable[..., Figure],
    caption: Callable[..., str],
    dpi: int = DPI,
    max_panels: int = MAX_PANELS,
) -> Predrawn:
    """Draw ``draw(**values)`` for every combination of the controls' values and link them.

    Parameters
    ----------
    specs : sequence of Control
        The controls, outermost Stack first.
    draw : callable
        ``draw(**values)`` returns the figure of one combination (it is closed here).
    caption : callable
        ``caption(**values)`` returns the text under that figure: the values and the
        result.
    dpi : int
        Resolution of the figures.
    max_panels : int
        Refuse more combinations than this (each is a figure embedded in the page).

    Returns
    -------
    Predrawn
        The widget: controls (wrapping on narrow screens) above the figure and its
        caption.
    """
    specs = tuple(specs)
    count = 1
    for spec in specs:
        count *= len(spec.values)
    if not specs or count > max_panels:
        raise ValueError(
            f"a pre-drawn widget draws one figure per combination of values: {count} "
            f"combinations, the limit is {max_panels}; offer fewer values"
        )
    # natural size, shrunk (never stretched) to narrow columns
    image_layout = widgets.Layout(
        max_width="100%", height="auto", align_self="flex-start"
    )
    caption_layout = widgets.Layout(width="100%", margin="0 0 0.5em 0")
    panels: dict[tuple[int, ...], widgets.VBox] = {}
    for indices in itertools.product(*(range(len(s.values)) for s in specs)):
        values = {s.name: s.values[i] for s, i in zip(specs, indices)}
        png = figure_png(draw(**values), dpi)
        text = html.escape(caption(**values))
        panels[indices] = widgets.VBox(
            [
                widgets.Image(value=png, format="png", layout=image_layout),
                widgets.HTML(value=text, layout=caption_layout),
            ]
        )

    links: list[widgets.Widget] = []
    controls = {spec.name: _control_widget(spec) for spec in specs}

    def nest(prefix: tuple[int, ...]) -> widgets.Widget:
        level = len(prefix)
        if level == len(specs):
            return panels[prefix]
        spec = specs[level]
        stack = widgets.Stack(
            [nest(prefix + (i,)) for i in range(len(spec.values))],
            selected_index=spec.start,
            layout=widgets.Layout(width="100%"),
        )
        links.append(
            widgets.jsdlink((controls[spec.name], "index"), (stack, "selected_index"))
        )
        return stack

    stack = nest(())
    bar = widgets.Box(
        list(controls.values()),
        layout=widgets.Layout(
            display="flex",
            flex_flow="row wrap",
            width="100%",
            align_items="center",
            grid_gap="0.25em 1.5em",
        ),
    )
    widget = Predrawn(
        [bar, stack], layout=widgets.Layout(width="100%", max_width="100%")
    )
    widget.controls, widget.specs, widget.stack, widget.links = (
        controls,
        specs,
        stack,
        links,
    )
    return widget


def _control_widget(spec: Control) -> widgets.DOMWidget:
    """The ipywidgets control of ``spec``: its options are the labels, its ``index`` the choice."""
    options = [(label, i) for i, label in enumerate(spec.labels)]
    common = dict(
        options=options,
        value=spec.start,
        description=spec.description,
        style={"description_width": "initial"},
        layout=widgets.Layout(flex="1 1 16rem", min_width="0", max_width="30rem"),
    )
    if spec.kind == "dropdown":
        return widgets.Dropdown(**common)
    return widgets.SelectionSlider(continuous_update=True, readout=True, **common)


def int_values(name: str, values: Any, minimum: int) -> tuple[int, ...]:
    """``values`` as a tuple of distinct ints >= ``minimum``, sorted; raise naming ``name``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"{name} must be a sequence of ints, got {type(values).__name__}"
        )
    values = tuple(values)
    if not values or not all(_is_int(v) for v in values):
        raise TypeError(f"{name} must be a non-empty sequence of ints, got {values!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must all be >= {minimum}, got {values!r}")
    return tuple(sorted({int(v) for v in values}))


def with_start(name: str, values: tuple, start: Any) -> tuple:
    """``values`` with ``start`` added (kept sorted) when it is not offered yet."""
    if not _is_int(start):
        raise TypeError(f"{name} must be an int, got {type(start).__name__}")
    return values if start in values else tuple(sorted((*values, int(start))))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def grey_image(name: str, image: Any) -> np.ndarray:
    """``image`` as a float64 ``(H, W)`` array; raise naming ``name`` otherwise."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(image).__name__}")
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {image.shape}")
    return np.asarray(image, dtype=np.float64)


def message_figure(text: str, size: tuple[float, float] = (7.0, 3.6)) -> Figure:
    """A figure holding only ``text``, centred: the panel of a combination with no picture."""
    figure = plt.figure(figsize=size)
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11)
    return figure
