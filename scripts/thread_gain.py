"""Measure what a second intra-op thread gains on the package's own CPU work, idle and under load.

The package runs its experiments and benchmarks on one thread (``convref._threads``). This
script is the measurement behind that policy: it times a training step of three of the
chapters' networks and a forward pass of three benchmark-sized layers, on one and on two
threads, first on an idle machine and then with one core held by a busy process, and prints
each time as a ratio to the one-thread idle time of the same work, measured in the same run.

Usage: ``python scripts/thread_gain.py [--repeat N]`` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import torch
from torch import nn

from convref import experiments
from convref.nn import DCN2d, NonLocal2d


def _busy_loop() -> None:  # holds one core until terminated
    while True:
        pass


def _training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    return step


def workloads() -> dict:
    """Name -> a callable doing one unit of work, sized as the chapters and benchmarks do."""
    torch.manual_seed(0)
    shapes = torch.randn(64, 1, 24, 24), torch.randint(0, 4, (64,))
    pairs = torch.randn(64, 3, 20, 20), torch.randint(0, 2, (64,))
    far_pairs = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        NonLocal2d(8),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    features = torch.randn(4, 64, 14, 14)
    conv = nn.Conv2d(64, 64, 3, padding=1)
    dcn = DCN2d(64, 64, 3, padding=1)
    return {
        "train step: plain shape classifier": _training_step(
            experiments.shape_classifier("plain", 8), *shapes
        ),
        "train step: deformable shape classifier": _training_step(
            experiments.shape_classifier("deformable", 8), *shapes
        ),
        "train step: far-pairs CNN + non-local": _training_step(far_pairs, *pairs),
        "forward: conv2d 64->64, 14x14, batch 4": lambda: conv(features),
        "forward: DCN2d 64->64, 14x14, batch 4": lambda: dcn(features),
    }


def seconds(work, repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``work``, after two warm-up calls."""
    for _ in range(2):
        work()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for load in ("idle", "one core busy"):
        busy = None
        if load != "idle":
            busy = multiprocessing.Process(target=_busy_loop, daemon=True)
            busy.start()
            time.sleep(0.5)
        try:
            for name, work in workloads().items():
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    results[name, load, threads] = seconds(work, args.repeat)
        finally:
            if busy is not None:
                busy.terminate()
    print(f"time / (1 thread, idle) of the same work, median of {args.repeat}")
    print(f"{'work':44s} {'1 idle':>8s} {'2 idle':>8s} {'1 busy':>8s} {'2 busy':>8s}")
    for name in workloads():
        base = results[name, "idle", 1]
        cells = [
            results[name, load, threads] / base
            for load in ("idle", "one core busy")
            for threads in (1, 2)
        ]
        print(f"{name:44s} " + " ".join(f"{c:8.2f}" for c in cells))


if __name__ == "__main__":
    main()
