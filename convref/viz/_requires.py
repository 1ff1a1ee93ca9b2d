"""Imported first by :mod:`convref.viz`: matplotlib, or a message that says how to install them."""

from .._optional import require

require("matplotlib", "convref.viz")
