"""Checks of the grouped-convolution family: ``channel_shuffle``."""

from __future__ import annotations

from typing import Any

from .core import check_array, positive_int


def check_channel_shuffle_args(x: Any, groups: int, *, array_type: type) -> int:
    """Validate ``channel_shuffle``: ``x (N, C, H, W)`` with ``groups`` dividing ``C``."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    groups = positive_int("groups", groups)
    if x.shape[1] % groups:
        raise ValueError(
            f"groups must divide the channels: x has {int(x.shape[1])} channels, groups={groups}"
        )
    return groups
