"""Shared by the operator tests: run the NumPy or the PyTorch version of an operator, or make both refuse a call."""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pytest
import torch


def run_version(call: Callable, is_torch: bool, case, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """``call`` on ``case``'s arrays (NumPy) or tensors (PyTorch), returned as a NumPy array of the right type."""
    if is_torch:
        y = call(*case.tensors(seed, dtype), **case.kwargs())
        assert isinstance(y, torch.Tensor)
        return y.detach().numpy()
    y = call(*case.arrays(seed, dtype), **case.kwargs())
    assert isinstance(y, np.ndarray)
    return y


def to_torch(kwargs: dict) -> dict:
    """The same keyword arguments with every NumPy array turned into a tensor (sharing its memory)."""
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def assert_both_refuse(reference_op: Callable, functional_op: Callable, kwargs: dict, exception: type, pattern: str) -> None:
    """Both versions raise exactly ``exception`` with the same message, matching ``pattern``."""
    messages = {}
    for name, (call, convert) in {"reference": (reference_op, dict), "functional": (functional_op, to_torch)}.items():
        with pytest.raises(exception) as info:
            call(**convert(kwargs))
        assert type(info.value) is exception, name
        messages[name] = str(info.value)
        assert re.search(pattern, messages[name]), f"{name}: {messages[name]!r}"
    assert messages["reference"] == messages["functional"]
