"""Benchmarks: ``python -m convref.bench conv2d [--device cuda] [--repeat 20]``.

Each operator is timed in one run against a baseline measured in the same run
(PyTorch's own op), and reported as a ratio to it, so numbers from different
machines compare by their ratios, not their seconds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import functional, reference

__all__ = ["Timing", "time_call", "bench_conv2d", "main"]


@dataclass(frozen=True)
class Timing:
    """The median time of one implementation and its ratio to the baseline."""

    name: str
    seconds: float
    ratio: float


def time_call(fn: Callable[[], object], repeat: int, device: torch.device, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, synchronising the GPU around each."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_conv2d(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time ``conv2d``: PyTorch's op (baseline), :mod:`convref.functional` and the NumPy reference."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=generator).to(dev)
    weight = torch.randn(channels, channels, kernel_size, kernel_size, generator=generator).to(dev)
    x_np, weight_np = x.cpu().numpy(), weight.cpu().numpy()
    padding = kernel_size // 2
    candidates: list[tuple[str, Callable[[], object], torch.device]] = [
        ("torch.nn.functional.conv2d", lambda: F.conv2d(x, weight, padding=padding), dev),
        ("convref.functional.conv2d", lambda: functional.conv2d(x, weight, padding=padding), dev),
    ]
    if include_reference:
        candidates.append(
            ("convref.reference.conv2d (NumPy, CPU)", lambda: reference.conv2d(x_np, weight_np, padding=padding), torch.device("cpu"))
        )
    seconds = [time_call(fn, repeat, where) for _, fn, where in candidates]
    return [Timing(name, s, s / seconds[0]) for (name, _, _), s in zip(candidates, seconds)]


def _print_table(title: str, timings: Sequence[Timing]) -> None:
    print(title)
    width = max(len(t.name) for t in timings)
    print(f"{'implementation':<{width}}  {'median ms':>10}  {'x baseline':>10}")
    for t in timings:
        print(f"{t.name:<{width}}  {t.seconds * 1e3:>10.3f}  {t.ratio:>10.2f}")


BENCHMARKS = {"conv2d": bench_conv2d}


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m convref.bench", description=__doc__.splitlines()[0])
    parser.add_argument("operators", nargs="*", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args(argv)
    for name in args.operators:
        timings = BENCHMARKS[name](
            batch=args.batch, channels=args.channels, size=args.size, repeat=args.repeat, device=args.device
        )
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        _print_table(
            f"{name}: N={args.batch}, C={args.channels}, {args.size}x{args.size}, 3x3, on {device} "
            f"(torch {torch.__version__}); baseline = first row",
            timings,
        )


if __name__ == "__main__":
    main()
