"""Shared by the operator tests: run the NumPy or the PyTorch version of an operator on a test case."""

from __future__ import annotations

from typing import Callable

import numpy as np
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
