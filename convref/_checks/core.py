"""Argument checks every family uses: ints and pairs, numbers, arrays, dtypes, biases, layer channels."""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence, Union

IntPair = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return (
        cls.__name__
        if module == "builtins"
        else f"{module.split('.')[0]}.{cls.__name__}"
    )


def _dtype_name(dtype: Any) -> str:
    # numpy prints "float32", torch prints "torch.float32": compare and report the same
    # way.
    return str(dtype).removeprefix("torch.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_pair(name: str, value: IntPair, *, minimum: int) -> tuple[int, int]:
    """Return ``value`` as ``(height, width)``; raise if it is not an int or a pair of ints >= ``minimum``."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(_is_int(v) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int >= 1."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool; raise ``TypeError`` naming ``name`` otherwise."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def positive_number(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_layer_channels(
    in_channels: Any, out_channels: Any, groups: Any
) -> tuple[int, int, int]:
    """Validate a layer's ``in_channels``, ``out_channels`` and ``groups`` (ints >= 1, groups dividing both)."""
    in_channels = positive_int("in_channels", in_channels)
    out_channels = positive_int("out_channels", out_channels)
    groups = positive_int("groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide in_channels and out_channels, got groups={groups} "
            f"for {in_channels} -> {out_channels} channels"
        )
    return in_channels, out_channels, groups


def batch_and_sizes(array: Any) -> tuple:
    """``array.shape`` with every size but the first as a Python int.

    The first, the batch size, is left as the array gives it: under ``torch.export`` or
    ``torch.compile`` with a dynamic batch it is a symbol, and ``int()`` of it would fix
    the traced graph to one batch size.
    """
    return (array.shape[0], *(int(s) for s in array.shape[1:]))


def _check_array_type(name: str, value: Any, array_type: type) -> None:
    if not isinstance(value, array_type):
        expected = f"{array_type.__module__.split('.')[0]}.{array_type.__name__}"
        raise TypeError(f"{name} must be a {expected}, got {_type_name(value)}")


def _check_floating_dtype(name: str, value: Any) -> None:
    if not _is_floating(value):
        raise TypeError(
            f"{name} must have a floating dtype, got {_dtype_name(value.dtype)}"
        )


def check_array(
    name: str, value: Any, array_type: type, ndim: int, layout: str
) -> None:
    """Check that ``value`` is an array of ``array_type`` with ``ndim`` dimensions and a floating dtype."""
    _check_array_type(name, value, array_type)
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D with shape {layout}, got shape {tuple(value.shape)}"
        )
    _check_floating_dtype(name, value)


def check_floating(name: str, value: Any, array_type: type) -> None:
    """Check that ``value`` is an array of ``array_type`` (any shape) with a floating dtype."""
    _check_array_type(name, value, array_type)
    _check_floating_dtype(name, value)


def _is_floating(value: Any) -> bool:
    dtype = value.dtype
    if hasattr(dtype, "is_floating_point"):  # torch.dtype
        return bool(dtype.is_floating_point)
    return getattr(dtype, "kind", "") == "f"  # numpy.dtype


def check_same_dtype(name: str, value: Any, x: Any, x_name: str = "x") -> None:
    """Check that ``value`` has the dtype of ``x`` (named ``x_name`` in the message)."""
    if _dtype_name(value.dtype) != _dtype_name(x.dtype):
        raise TypeError(
            f"{name} must have the same dtype as {x_name} ({_dtype_name(x.dtype)}), "
            f"got {_dtype_name(value.dtype)}"
        )


def check_bias(bias: Any, x: Any, out_channels: int, array_type: type) -> None:
    """Check an optional bias: ``None`` or a 1-D array of ``out_channels`` values with ``x``'s dtype."""
    if bias is None:
        return
    check_array("bias", bias, array_type, 1, "(C_out,)")
    check_same_dtype("bias", bias, x)
    if bias.shape[0] != out_channels:
        raise ValueError(
            f"bias must have shape ({out_channels},), got shape {tuple(bias.shape)}"
        )
