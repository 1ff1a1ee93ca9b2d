"""The command line: ``python -m convref.bench [case ...] [--device cuda] [--threads N] [--json] [--repeat N]``.

Runs the named cases of :data:`convref.bench.cases.CASES` (all of them by default) at one
input shape, ``(--batch, --channels, --size, --size)``, and prints one table per case (or,
with ``--json``, one JSON document with every case's rows).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Optional, Sequence

import torch

from .._threads import POLICY_THREADS
from .cases import CASES
from .harness import (
    default_device,
    format_table,
    machine_description,
    measure,
    timing_records,
)

__all__ = ["main", "build_parser"]

#: The options that set a case parameter of the same name, where the case has that
#: parameter.
_CASE_OPTIONS = ("batch", "channels", "size", "groups")


def _case_list() -> str:
    """The epilog of ``--help``: every case with its one-line summary."""
    width = max(map(len, CASES))
    return "cases:\n" + "\n".join(
        f"  {name:<{width}}  {case.summary}" for name, case in CASES.items()
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m convref.bench``; ``--help`` documents every option.

    Returns
    -------
    argparse.ArgumentParser
        The parser (it does not check value ranges; :func:`main` does).
    """
    parser = argparse.ArgumentParser(
        prog="python -m convref.bench",
        description=(
            "Time convref's operators against a baseline measured in the same run (PyTorch's own op, "
            "the authors' formulation or a copy) and print every time, multiply-add count and peak "
            "memory as a ratio to the baseline, the first row of each table."
        ),
        epilog=_case_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # No argparse `choices` here: with nargs="*" it rejects an empty list on Python
    # 3.11.
    parser.add_argument(
        "cases",
        nargs="*",
        metavar="case",
        help=f"any of {', '.join(CASES)} (default: all, in that order)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="cpu or cuda (default: cuda when available, else cpu)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=10,
        help="timed runs per row; the median is reported (default: 10)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=8,
        help="N of the (N, C, H, W) input of every case (default: 8)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        default=32,
        help="C of the input of every case (default: 32)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=32,
        help="H = W of the input of every case, T of a sequence case (default: 32)",
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=4,
        help="groups of the grouped case; must divide --channels (default: 4)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=POLICY_THREADS,
        help=f"CPU threads for PyTorch (default: {POLICY_THREADS}, the package thread "
        "policy, the steadiest ratios on a shared machine; give the core count to time "
        "multi-threaded runs)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (the machine, threads and versions, and per case its "
        "parameters and rows) instead of tables",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point: run the named cases and print their tables (or JSON).

    Parameters
    ----------
    argv : sequence of str, optional
        The command-line arguments (default: ``sys.argv[1:]``); ``--help`` lists them.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("repeat", "batch", "channels", "size", "groups", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(
            f"invalid choice: {', '.join(unknown)} (choose from {', '.join(CASES)})"
        )
    names = args.cases or list(CASES)
    if "grouped" in names and args.channels % args.groups:
        parser.error(
            f"--groups must divide --channels, got {args.groups} and {args.channels}"
        )
    device = default_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results: list[dict[str, Any]] = []
    for name in names:
        case = CASES[name]
        params = {
            option: getattr(args, option)
            for option in _CASE_OPTIONS
            if option in case.params
        }
        timings = measure(case, repeat=args.repeat, device=str(device), **params)
        title = (
            f"{name}: N={args.batch}, C={args.channels}, "
            f"{case.extent.format(size=args.size)}, on {device} "
            f"(torch {torch.__version__}, {torch.get_num_threads()} CPU threads); baseline = first row"
        )
        if args.json:
            results.append(
                dict(
                    case=name,
                    family=case.family,
                    params={**case.params, **params},
                    title=title,
                    rows=timing_records(timings),
                )
            )
        else:
            print(format_table(title, timings), end="\n\n", flush=True)
    if args.json:
        document = dict(machine_description(device), cases=results)
        print(json.dumps(document, indent=1))
