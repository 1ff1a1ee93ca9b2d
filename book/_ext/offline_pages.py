"""Sphinx extension for the offline book: each page lists every inline script once, and widget figures get alt text.

sphinx-thebe registers its configuration script (``const THEBE_JS_URL = ...``) each time the
documents are read, and the bibliography makes Sphinx read them twice: the second ``const``
declaration is a JavaScript error on every page. Dropping repeated scripts fixes it without
touching the packages.

myst-nb writes a cell's ``mystnb: {image: {alt: ...}}`` metadata into the ``alt`` of the cell's
image outputs, but a widget's figure is drawn later, in the browser, by the widget manager,
which gives its ``<img>`` no alt text. For each widget output, the build leaves the cell's alt
text beside it (a hidden ``span.widget-figure-alt``); ``vendor/widgets-config.js`` copies it
onto the widget's images as they appear.
"""

from __future__ import annotations

import html
from typing import Any

from docutils import nodes

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_repeated_scripts(app, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""  # an inline script's is None or "": the same
        key = (str(filename), str(getattr(script, "attributes", {}).get("body", "")))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _widget_figure_alt(app, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        alt = (((cell.get("cell_metadata") or {}).get("mystnb") or {}).get("image") or {}).get("alt")
        if not alt:
            continue
        for view in [raw for raw in cell.findall(nodes.raw) if WIDGET_VIEW in raw.astext()]:
            carrier = f'<span class="widget-figure-alt" data-alt="{html.escape(alt, quote=True)}" hidden></span>'
            view.parent.insert(view.parent.index(view) + 1, nodes.raw("", carrier, format="html"))


def setup(app) -> dict:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    app.connect("doctree-resolved", _widget_figure_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
