"""Widgets over the book's figures that work with or without a kernel.

Each widget draws its figure for every combination of a bounded set of control values
when it is made, and the controls choose among those figures in the browser: the static
book behaves as a live notebook does.
"""

from . import _requires  # noqa: F401 (first: says which install brings what is missing)
from .basics import (
    channel_mix_widget,
    conv_arithmetic_widget,
    kernel_widget,
    low_rank_widget,
    shuffle_widget,
)
from .context import attention_widget, deform_widget, dilation_widget, overlap_widget
from .operations import choice_widget, dynamic_widget, shift_widget, template_widget

__all__ = [
    "conv_arithmetic_widget",
    "kernel_widget",
    "channel_mix_widget",
    "low_rank_widget",
    "dilation_widget",
    "overlap_widget",
    "attention_widget",
    "shuffle_widget",
    "deform_widget",
    "shift_widget",
    "template_widget",
    "dynamic_widget",
    "choice_widget",
]
