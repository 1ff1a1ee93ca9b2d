"""Run notebooks as the book build does, on an idle machine and with one core held busy.

The notebooks run two at a time, each kernel on one thread (the Makefile's setting), so a
shared machine whose other process takes a core must not slow them much: the project's
bound is twice the idle time. This script measures it. It executes the notebooks the way
``scripts/execute_notebooks.py`` does (same executor, same per-cell timeout, results
thrown away), first idle and then while a busy loop holds one core, and prints each
notebook's time and the ratio of the two wall-clock totals, measured in the same run.

Usage: ``python scripts/suite_under_load.py [NOTEBOOK ...] [--jobs 2] [--limit 2.0]``;
without notebooks it runs every notebook of the table of contents (about twice the time
of the build's execution). Exits 1 if a notebook fails or the ratio passes ``--limit``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from execute_notebooks import ROOT, book_notebooks, cell_timeout, execute_notebook


def _busy_loop() -> None:  # holds one core until terminated
    while True:
        pass


def run_suite(notebooks: list[Path], jobs: int) -> tuple[float, dict[Path, float]]:
    """Execute the notebooks ``jobs`` at a time; return the wall time and each one's time."""
    timeout = cell_timeout()
    start = time.perf_counter()
    seconds: dict[Path, float] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        runs = [pool.submit(execute_notebook, path, timeout) for path in notebooks]
        for run in runs:
            path, _, elapsed, error = run.result()
            if error is not None:
                raise RuntimeError(f"{path.relative_to(ROOT)} failed:\n{error}")
            seconds[path] = elapsed
    return time.perf_counter() - start, seconds


def main(argv: list[str] | None = None) -> int:
    """Run the suite idle, then loaded; print the times; return 1 past the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every one")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at once")
    parser.add_argument(
        "--limit", type=float, default=2.0, help="largest loaded/idle ratio (2.0)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the Makefile runs the build
    notebooks = [path.resolve() for path in args.notebooks] or book_notebooks()
    idle, idle_each = run_suite(notebooks, args.jobs)
    busy = multiprocessing.Process(target=_busy_loop, daemon=True)
    busy.start()
    try:
        loaded, loaded_each = run_suite(notebooks, args.jobs)
    finally:
        busy.terminate()
        busy.join()
    print(f"{'notebook':<45} {'idle s':>8} {'loaded s':>9} {'ratio':>6}")
    for path in notebooks:
        name = str(path.relative_to(ROOT))
        ratio = loaded_each[path] / idle_each[path]
        print(
            f"{name:<45} {idle_each[path]:8.1f} {loaded_each[path]:9.1f} {ratio:6.2f}"
        )
    ratio = loaded / idle
    print(f"{'all, wall clock':<45} {idle:8.1f} {loaded:9.1f} {ratio:6.2f}")
    verdict = "within" if ratio <= args.limit else "over"
    print(f"loaded / idle = {ratio:.2f}: {verdict} the limit of {args.limit}")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
