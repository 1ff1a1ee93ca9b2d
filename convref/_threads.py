"""The package's one thread policy for CPU work it runs itself: experiments and benchmarks.

The chapters' networks and the benchmark's cases are small: a convolution over a few
thousand pixels and a handful of channels finishes before a second thread has paid for its
start. Measured on two cores (``scripts/thread_gain.py``), a second intra-op thread makes a
training step of the chapters' networks at most a few percent faster on an idle machine and
several times slower when another process holds the other core, because each step waits for
its slowest thread. So the policy is one thread, set for the duration of the work and restored
afterwards: the caller's own setting is never changed behind its back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch

__all__ = ["POLICY_THREADS", "intra_op_threads", "policy_threads"]

# The number of intra-op threads the package's own CPU work runs on (see the module docstring).
POLICY_THREADS = 1


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run a block with PyTorch's intra-op thread count set to ``count``, then restore it.

    Parameters
    ----------
    count : int
        Threads for the block, at least 1.

    Yields
    ------
    None
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def policy_threads() -> AbstractContextManager[None]:
    """The block runs on :data:`POLICY_THREADS` threads: ``with policy_threads(): train()``."""
    return intra_op_threads(POLICY_THREADS)
