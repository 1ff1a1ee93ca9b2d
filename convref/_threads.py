"""The package's one thread policy for CPU work it runs itself: experiments and benchmarks.

The chapters' networks and the benchmark's cases are small. Measured on two cores
(``scripts/thread_gain.py``, which prints ratios to the one-thread idle time of the same work),
a second intra-op thread makes a training step of the chapters' networks 1.2 to 1.5 times
faster on an idle machine, but when another process holds the other core, the two-thread step
becomes 1.2 to 2.3 times *slower* than the one-thread step, because every parallel region waits
for its slowest thread; one thread loses nothing under that load. The book's builds run two
notebooks at once, so both cores are always taken. So the policy is one thread, set for the
duration of the work and restored afterwards: the caller's own setting is never changed
behind its back. On an idle machine the policy gives up to a third of the speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch

__all__ = ["POLICY_THREADS", "intra_op_threads", "policy_threads"]

#: The number of intra-op threads the package's own CPU work runs on (see the module docstring).
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
    """Run a block on the policy's one thread: ``with policy_threads(): train()``.

    Returns
    -------
    contextlib.AbstractContextManager
        Sets the intra-op thread count on entry and restores the caller's on exit.
    """
    return intra_op_threads(POLICY_THREADS)
