"""Sphinx extension for the offline book: each page lists every inline script once.

sphinx-thebe registers its configuration script (``const THEBE_JS_URL = ...``) each time the
documents are read, and the bibliography makes Sphinx read them twice: the second ``const``
declaration is a JavaScript error on every page. Dropping repeated scripts fixes it without
touching the packages.
"""

from __future__ import annotations

from typing import Any


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


def setup(app) -> dict:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
