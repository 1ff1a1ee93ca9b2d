"""The dtype in which the PyTorch versions compute, where the input's own is not enough."""

from __future__ import annotations

import torch

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
