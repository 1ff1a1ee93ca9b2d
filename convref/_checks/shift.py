"""Checks of the shift family: ``shift2d`` and ``shift_pattern``."""

from __future__ import annotations

from typing import Any

from .core import (
    _check_array_type,
    _dtype_name,
    _is_floating,
    check_array,
    check_same_dtype,
    positive_int,
)

SHIFT_LAYOUTS = ("grouped", "interleaved")


def check_shift_args(x: Any, shifts: Any, *, array_type: type) -> None:
    """Validate ``shift2d``: ``x (N, C, H, W)`` and ``shifts (C, 2)``, integer or floating."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    _check_array_type("shifts", shifts, array_type)
    channels = int(x.shape[1])
    if tuple(int(s) for s in shifts.shape) != (channels, 2):
        raise ValueError(
            f"shifts must have shape ({channels}, 2) (one (dy, dx) per channel), got shape {tuple(shifts.shape)}"
        )
    kind = _dtype_name(shifts.dtype)
    if not (_is_floating(shifts) or kind.startswith("int") or kind.startswith("uint")):
        raise TypeError(f"shifts must be integer or floating, got {kind}")
    if _is_floating(shifts):
        check_same_dtype("shifts", shifts, x)


def check_shift_pattern_args(
    channels: int, kernel_size: int, dilation: int, layout: str
) -> tuple[int, int, int]:
    """Validate ``shift_pattern``: channels >= 1, an odd kernel size, dilation >= 1, a known layout."""
    channels = positive_int("channels", channels)
    kernel_size = positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd (the directions are centred), got {kernel_size}"
        )
    dilation = positive_int("dilation", dilation)
    if not isinstance(layout, str) or layout not in SHIFT_LAYOUTS:
        raise ValueError(f"layout must be 'grouped' or 'interleaved', got {layout!r}")
    return channels, kernel_size, dilation
