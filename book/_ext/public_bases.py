"""Sphinx extension: a class's "Bases:" line names only classes a reader can look up.

Two layers may share code through a private base (``convref.nn.lightweight``'s
``_LightweightLayer``). The API page documents public names only, so a private base in
"Bases:" would be a dangling reference (a warning under ``-n``) and mean nothing to a
reader. Each private base is replaced by its own bases, recursively, until the classes
named are public.
"""

from __future__ import annotations


def _public_bases(bases: list[type]) -> list[type]:
    """``bases`` with every private class replaced by its nearest public ancestors."""
    public: list[type] = []
    for base in bases:
        found = _public_bases(list(base.__bases__)) if base.__name__.startswith("_") else [base]
        public.extend(cls for cls in found if cls not in public)
    return public


def _hide_private_bases(app, name, obj, options, bases: list) -> None:
    """``autodoc-process-bases``: edit the list of bases autodoc is about to show."""
    bases[:] = _public_bases(list(bases))


def setup(app) -> dict:
    app.connect("autodoc-process-bases", _hide_private_bases)
    return {"parallel_read_safe": True}
