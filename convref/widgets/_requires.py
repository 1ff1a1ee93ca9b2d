"""Imported first by :mod:`convref.widgets`: ipywidgets and matplotlib, or a message that says how to install them."""

from .._optional import require

require("ipywidgets", "convref.widgets")
require("matplotlib", "convref.widgets")
