"""Integer argument checks shared by the arith modules (ints only: no pairs, no strings)."""

from __future__ import annotations

from typing import Iterable, Sequence

from .._checks import _is_int


def _int_at_least(name: str, value: int, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _int_sequence(
    name: str, values: Sequence[int], minimum: int, *, allow_empty: bool = False
) -> list[int]:
    # A bare int or a string is a common slip for a one-element list: say so rather than
    # iterate it.
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, got {values!r}")
    items = [
        _int_at_least(f"{name}[{index}]", value, minimum)
        for index, value in enumerate(values)
    ]
    if not items and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return items
