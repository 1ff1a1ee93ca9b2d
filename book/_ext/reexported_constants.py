"""Sphinx extension: a constant that a package front re-exports keeps its ``#:`` doc comment on the API page.

Autodoc documents a module-level constant only if the module it documents has a ``#:``
comment above the constant's assignment (it asks the module's source analyser). convref's
package fronts (``convref.viz``, ``convref.arith``, ``convref.bench``, ...) import their
constants (``STYLE``, ``ENERGY_45NM_PJ``, ``CASES``, ...) from the submodule that defines and
documents them, so autodoc would find no comment in the front and drop every such constant
without a warning -- and leave each link to it dangling. When the build starts, this
extension hands each front's analyser the comments of the constants it re-exports, taken
from the submodule that defines that very object.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Optional

from sphinx.pycode import ModuleAnalyzer

import convref


def _packages() -> list[str]:
    """Every package of convref (each has a front that may re-export constants)."""
    return ["convref"] + [info.name for info in pkgutil.walk_packages(convref.__path__, "convref.") if info.ispkg]


def _submodule_comment(package: str, name: str, value: Any) -> Optional[list[str]]:
    """The ``#:`` comment of ``name`` in the submodule of ``package`` that defines that very object."""
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__, package + "."):
        submodule = importlib.import_module(info.name)
        if vars(submodule).get(name, object()) is not value:
            continue
        comment = ModuleAnalyzer.for_module(info.name).find_attr_docs().get(("", name))
        if comment:
            return list(comment)
    return None


def _lend_comments_to_fronts(app) -> None:
    """``builder-inited``: add the re-exported constants' comments to each front's (cached) analyser."""
    for package in _packages():
        module = importlib.import_module(package)
        analyzer = ModuleAnalyzer.for_module(package)  # the cached instance autodoc asks later
        attr_docs = analyzer.find_attr_docs()
        for name in getattr(module, "__all__", ()):
            if ("", name) in attr_docs:  # documented in the front itself
                continue
            comment = _submodule_comment(package, name, getattr(module, name))
            if comment is not None:
                attr_docs[("", name)] = comment


def setup(app) -> dict:
    app.connect("builder-inited", _lend_comments_to_fronts)
    return {"parallel_read_safe": True}
