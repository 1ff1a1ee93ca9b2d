"""The dtype in which the PyTorch versions compute: half precision, and under autocast."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch

Op = TypeVar("Op", bound=Callable)

#: The half-precision formats: some CPU kernels are missing or unreliable in them, and
#: long sums or sampling coordinates lose digits.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for a half-precision ``dtype``; any other dtype computes in itself.

    Parameters
    ----------
    dtype : torch.dtype
        The input's dtype.

    Returns
    -------
    torch.dtype
        The dtype to compute in; results are cast back to ``dtype``.
    """
    return torch.float32 if dtype in HALF_DTYPES else dtype


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype :class:`torch.autocast` runs convolutions in on ``device_type``, if enabled.

    Parameters
    ----------
    device_type : str
        ``"cpu"``, ``"cuda"``, ...: a tensor's ``device.type``.

    Returns
    -------
    torch.dtype or None
        ``None`` when autocast is off for that device type.
    """
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type autocast does not know, such as "meta"
        return None
    if not enabled:
        return None
    return torch.get_autocast_dtype(device_type)


def _cast_floating(value, dtype: torch.dtype):
    """``value`` in ``dtype`` if it is a floating tensor other than float64, else as is.

    Autocast leaves float64 tensors alone, and so does convref.
    """
    if (
        isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and value.dtype != torch.float64
    ):
        return value.to(dtype)
    return value


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    return next(
        (v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)), None
    )


def _run_cast(
    op: Callable, args: tuple, kwargs: dict, device_type: str, dtype: torch.dtype
):
    """``op`` on its floating arguments cast to ``dtype``, with autocast off."""
    with torch.autocast(device_type, enabled=False):
        return op(
            *(_cast_floating(v, dtype) for v in args),
            **{k: _cast_floating(v, dtype) for k, v in kwargs.items()},
        )


def follows_autocast(op: Op) -> Op:
    """Make ``op`` run under :class:`torch.autocast` as PyTorch's own convolutions do.

    Under autocast, PyTorch computes a convolution in the autocast dtype (bfloat16 on the
    CPU, float16 or bfloat16 on a GPU), whatever the dtypes of its input, weight and bias.
    The decorated operator does the same: every floating-point tensor among its arguments
    except float64 ones (which autocast leaves alone) is cast to the autocast dtype of the
    first tensor's device, and the operator runs with autocast off, so that the steps that
    need float32 (long sums: :func:`compute_dtype`) keep it. Outside autocast the
    arguments pass unchanged.

    Parameters
    ----------
    op : callable
        A PyTorch version of an operator, taking its tensors as arguments.

    Returns
    -------
    callable
        ``op``, with the same signature and docstring.
    """

    @functools.wraps(op)
    def run(*args, **kwargs):
        first = _first_tensor(args, kwargs)
        dtype = None if first is None else autocast_dtype(first.device.type)
        if dtype is None:
            return op(*args, **kwargs)
        return _run_cast(op, args, kwargs, first.device.type, dtype)

    return run  # type: ignore[return-value]


def float32_under_autocast(op: Op) -> Op:
    """Make ``op`` run in float32 under :class:`torch.autocast`, as torchvision's sampling ops do.

    Operators that read the input at fractional coordinates (deformable convolution,
    fractional shifts) lose their positions in half precision: an offset of 100.3 is 100.5
    in bfloat16. torchvision runs its ``deform_conv2d`` and ``roi_align`` in float32 under
    autocast and returns the input's dtype; the decorated operator does the same (float64
    arguments stay float64). Outside autocast the arguments pass unchanged.

    Parameters
    ----------
    op : callable
        A PyTorch version of an operator whose first tensor argument is its input.

    Returns
    -------
    callable
        ``op``, with the same signature and docstring.
    """

    @functools.wraps(op)
    def run(*args, **kwargs):
        first = _first_tensor(args, kwargs)
        if first is None or autocast_dtype(first.device.type) is None:
            return op(*args, **kwargs)
        output = _run_cast(op, args, kwargs, first.device.type, torch.float32)
        return output.to(first.dtype)

    return run  # type: ignore[return-value]
