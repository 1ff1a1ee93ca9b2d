"""The benchmark harness: timing, peak memory, a case's rows turned into timed calls, the table.

A benchmark *case* (:class:`Case`) is data: its parameters, a ``setup`` that makes the
inputs, a ``costs`` function that counts multiply-adds, and its rows (:class:`Row`), the
baseline first. :func:`measure` builds every row's call on the same inputs, times them one
after another in the same run, and reports each as a ratio to the baseline (:class:`Timing`),
so numbers from different machines compare by their ratios, not their seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.metadata
import os
import platform
import sys
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from .._checks import positive_int

__all__ = [
    "Timing",
    "Row",
    "Case",
    "Candidate",
    "time_call",
    "peak_memory",
    "default_device",
    "machine_description",
    "with_backward",
    "case_parameters",
    "candidates",
    "measure",
    "format_table",
    "timing_records",
    "seeded_tensors",
]


@dataclass(frozen=True)
class Timing:
    """The median time of one implementation, and its time and multiply-adds relative to the baseline.

    Attributes
    ----------
    name : str
        The implementation (and pass: forward, forward + backward).
    seconds : float
        Median time of one call.
    ratio : float
        ``seconds`` divided by the baseline's (the first row's).
    mult_adds : int
        Multiply-adds of one call, as counted by the benchmark.
    mult_adds_ratio : float
        ``mult_adds`` divided by the baseline's (by the largest count when the baseline does none).
    peak_bytes : int or None
        Peak tensor memory of one call (:func:`peak_memory`), where the case measures it.
    memory_ratio : float or None
        ``peak_bytes`` divided by the baseline's.
    """

    name: str
    seconds: float
    ratio: float
    mult_adds: int = 0
    mult_adds_ratio: float = 1.0
    peak_bytes: Optional[int] = None  # measured only by the cases that compare memory
    memory_ratio: Optional[float] = None


@dataclass(frozen=True)
class Row:
    """One implementation in a case's table: what it is called, what it runs, what it costs.

    Attributes
    ----------
    name : str
        A format string over the case's inputs, e.g. ``"torch conv2d (groups={groups})"``.
    call : callable
        ``call(t)`` runs the implementation once on the case's inputs ``t`` (a namespace of the
        parameters and of what ``setup`` made; NumPy arrays for a NumPy row) and returns its output.
    cost : str
        The key of the row's multiply-adds in the case's ``costs(t)``.
    numpy : bool
        A NumPy reference: runs on the CPU on NumPy copies of the inputs, is not measured for
        memory, and is left out by ``include_reference=False``.
    backward : bool
        Time the forward and backward pass: ``call(t).sum().backward()`` with respect to the
        inputs named in ``grad_inputs``; its multiply-adds count three times the forward's.
    grad_inputs : tuple of str
        The inputs that the backward pass differentiates (fresh leaves, cloned from the inputs).
    agrees : str or None
        Rows with the same label compute the same function of the same inputs, so their
        outputs (for a backward row: the gradients) must agree; ``None``: a row to compare with
        in time only (a plain convolution next to the layer that replaces it).
    """

    name: str
    call: Callable[[SimpleNamespace], Any]
    cost: str
    numpy: bool = False
    backward: bool = False
    grad_inputs: tuple[str, ...] = ()
    agrees: Optional[str] = None


@dataclass(frozen=True)
class Case:
    """One benchmark: its parameters, its inputs, its multiply-add counts and its rows, baseline first.

    Attributes
    ----------
    name : str
        The name on the command line (``python -m convref.bench shift``).
    family : str
        The operator family, as the modules of :mod:`convref.reference` and
        :mod:`convref.functional` are named (``"conv"``, ``"shift"``, ...).
    summary : str
        One line: what is timed against what.
    params : mapping
        The parameters and their defaults, ``{"batch": 8, "channels": 32, ...}``; the input is
        ``(batch, channels, size, size)``.
    setup : callable
        ``setup(p, device, dtype)`` returns a dict of the inputs (floating-point tensors of
        ``dtype`` on ``device``) and the values derived from the parameters ``p`` (a
        namespace) that the rows use.
    costs : callable
        ``costs(t)`` returns the multiply-adds of one forward call, by the keys that the rows' ``cost`` name.
    rows : sequence of Row, or callable
        The rows, the baseline first; or, where the rows depend on the parameters (one set per
        number of kernels), a function of ``p`` that returns them.
    memory : bool
        Whether to measure every row's peak memory too.
    extent : str
        How the table's title names ``size``: ``"{size}x{size}"`` for an image,
        ``"T={size}"`` for a sequence.
    """

    name: str
    family: str
    summary: str
    params: Mapping[str, Any]
    setup: Callable[[SimpleNamespace, torch.device, torch.dtype], dict[str, Any]]
    costs: Callable[[SimpleNamespace], dict[str, int]]
    rows: Union[Sequence[Row], Callable[[SimpleNamespace], Sequence[Row]]]
    memory: bool = False
    extent: str = "{size}x{size}"


@dataclass(frozen=True)
class Candidate:
    """One row of a case made ready to run: a call without arguments on the case's inputs.

    Attributes
    ----------
    name : str
        The row's name with the parameters filled in.
    run : callable
        Runs the row once; returns its output (a backward row: the gradients of its ``grad_inputs``).
    mult_adds : int
        Multiply-adds of one call.
    numpy : bool
        A NumPy reference (timed on the CPU, never measured for memory).
    agrees : str or None
        The row's agreement label (:class:`Row`); a backward row's carries ``" (gradients)"``.
    """

    name: str
    run: Callable[[], Any]
    mult_adds: int
    numpy: bool = False
    agrees: Optional[str] = None


#: Size of the block :func:`settle_allocator` allocates and frees: 16 MiB, under glibc's
#: largest dynamic mmap threshold (32 MiB on 64-bit systems).
SETTLING_BYTES = 2**24


def settle_allocator() -> None:
    """Allocate and free one 16 MiB block, so that the timings that follow see a settled C heap.

    A fresh Linux process hands every tensor of more than 128 KiB to ``mmap`` and gives it
    back on release, so each call of an operator pays page faults on its outputs and
    temporaries. glibc raises that threshold to the size of a freed ``mmap`` block, after
    which such tensors reuse heap memory, as they do in any long-running training loop.
    Without this, the first case timed in a process ran its baseline up to twice as slowly
    (a 3x3 conv2d on ``(8, 32, 32, 32)``: 1.5-1.9 ms for its first fifty calls, 0.77 ms
    after). Elsewhere the call costs one allocation and changes nothing.
    """
    block = torch.empty(SETTLING_BYTES, dtype=torch.uint8)
    del block


def time_call(
    fn: Callable[[], object], repeat: int, device: torch.device, warmup: int = 2
) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, synchronising the GPU around each.

    Parameters
    ----------
    fn : callable
        The work to time, called without arguments.
    repeat : int
        Timed calls.
    device : torch.device
        Where ``fn`` runs; on CUDA the device is synchronised before and after each call.
    warmup : int
        Untimed calls first (caches, lazy initialisation).

    Returns
    -------
    float
        The median time of one call, in seconds.
    """
    repeat = positive_int("repeat", repeat)
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


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: the profiler's C++ layer logs its start and stop there."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _memory_steps(prof: profile) -> list[tuple[int, int]]:
    """Every CPU allocation (positive) and free (negative) that ``prof`` recorded, with its time.

    The profiler's raw records carry each one's own time stamp. The per-op summary, the
    fallback for a torch without them, books what an op frees at the op's start, which
    misplaces the temporaries an autograd Function allocates and frees in a loop.
    """
    try:
        records = prof.profiler.kineto_results.events()
        return [
            (record.start_ns(), record.nbytes())
            for record in records
            if record.name() == "[memory]" and str(record.device_type()).endswith("CPU")
        ]
    except AttributeError:
        pass
    steps = []
    for event in prof.events():
        if event.name == "[memory]":  # a free (or an allocation outside any op)
            steps.append((event.time_range.start, event.cpu_memory_usage))
        elif event.self_cpu_memory_usage:
            steps.append((event.time_range.start, event.self_cpu_memory_usage))
    return steps


def peak_memory(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes of tensor memory that ``fn()`` holds at once, beyond what existed before it.

    On CUDA: the allocator's high-water mark. On the CPU: the running sum of PyTorch's
    allocations and frees as the profiler records them, each at its own time.
    NumPy candidates are not measured.

    Parameters
    ----------
    fn : callable
        The work to measure, called once without arguments.
    device : torch.device
        Where ``fn`` allocates its tensors.

    Returns
    -------
    int
        Peak bytes above the memory held before the call.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    with (
        _stderr_silenced(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        fn()
    held = peak = 0
    for _, change in sorted(_memory_steps(prof)):
        held += change
        peak = max(peak, held)
    return int(peak)


def default_device(device: Optional[str] = None) -> torch.device:
    """The device to benchmark on: ``device`` if given, else CUDA when it is available, else the CPU.

    Parameters
    ----------
    device : str, optional
        ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Returns
    -------
    torch.device
        The device.
    """
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _processor_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _installed_version(package: str) -> str:
    """The installed distribution's version, or ``"not installed"`` (a bare source tree)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_description(
    device: Union[str, torch.device, None] = None,
) -> dict[str, Any]:
    """What a set of timings was measured on: the machine, the threads and the versions.

    Ratios travel between machines better than seconds, but not perfectly: a record of the
    processor (or GPU), the thread count and the library versions says what they belong to.

    Parameters
    ----------
    device : str or torch.device, optional
        The device timed; by default as :func:`default_device` chooses.

    Returns
    -------
    dict
        ``device``, ``device_name`` (the CPU's model name, or the GPU's), ``cpu_count``,
        ``threads`` (PyTorch's CPU threads), ``platform``, and the ``python``, ``torch``,
        ``numpy`` and ``convref`` versions.
    """
    device = default_device(None if device is None else str(device))
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = _processor_name()
    return dict(
        device=str(device),
        device_name=device_name,
        cpu_count=os.cpu_count(),
        threads=torch.get_num_threads(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        numpy=np.__version__,
        convref=_installed_version("convref"),
    )


def with_backward(*rows: Row) -> tuple[Row, ...]:
    """Each row's forward pass, then each row's forward and backward pass, in that order.

    Parameters
    ----------
    *rows : Row
        Rows without a pass in their names; each names its ``grad_inputs``.

    Returns
    -------
    tuple of Row
        ``"<name> (forward)"`` for every row, then ``"<name> (forward+backward)"`` for every row.
    """
    forward = tuple(
        dataclasses.replace(row, name=f"{row.name} (forward)") for row in rows
    )
    both = tuple(
        dataclasses.replace(row, name=f"{row.name} (forward+backward)", backward=True)
        for row in rows
    )
    return forward + both


def case_parameters(case: Case, params: Mapping[str, Any]) -> dict[str, Any]:
    """The case's defaults updated with ``params``, after checking each name and every integer.

    Parameters
    ----------
    case : Case
        The case.
    params : mapping
        Parameters to change, e.g. ``{"batch": 1, "size": 6}``.

    Returns
    -------
    dict
        Every parameter of the case with its value.

    Raises
    ------
    TypeError
        A name that is not one of the case's parameters.
    ValueError
        An integer parameter below 1.
    """
    unknown = [name for name in params if name not in case.params]
    if unknown:
        raise TypeError(
            f"case {case.name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are {', '.join(case.params)}"
        )
    values = {**case.params, **params}
    for name, default in case.params.items():
        if isinstance(default, int):
            values[name] = positive_int(name, values[name])
    return values


def _numpy_inputs(inputs: SimpleNamespace) -> SimpleNamespace:
    """The inputs with every tensor as a NumPy array on the CPU (what a reference row receives)."""
    return SimpleNamespace(
        **{
            k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
            for k, v in vars(inputs).items()
        }
    )


def _forward_backward(
    row: Row, inputs: SimpleNamespace
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """A step that clears the leaves' gradients, runs the row, backpropagates its sum and returns the gradients."""
    leaves = {
        name: getattr(inputs, name).clone().requires_grad_() for name in row.grad_inputs
    }
    with_leaves = SimpleNamespace(**{**vars(inputs), **leaves})

    def step() -> tuple[torch.Tensor, ...]:
        for leaf in leaves.values():
            leaf.grad = None
        row.call(with_leaves).sum().backward()
        return tuple(leaf.grad for leaf in leaves.values())

    return step


def candidates(
    case: Case,
    *,
    device: Optional[str] = None,
    dtype: Optional[torch.dtype] = None,
    include_reference: bool = True,
    **params: Any,
) -> list[Candidate]:
    """The case's rows made ready to run on one set of inputs, the baseline first.

    Parameters
    ----------
    case : Case
        The case.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    dtype : torch.dtype, optional
        The floating-point type of the inputs (float64 for an exact check); by default float32.
    include_reference : bool
        Whether to keep the NumPy reference rows.
    **params
        Parameters of the case to change from its defaults (:attr:`Case.params`).

    Returns
    -------
    list of Candidate
        One per row, in the table's order.
    """
    dev = default_device(device)
    p = SimpleNamespace(**case_parameters(case, params))
    made = case.setup(p, dev, dtype or torch.float32)
    inputs = SimpleNamespace(
        **{**vars(p), **made}
    )  # a derived value may restate a parameter (groups)
    counts = case.costs(inputs)
    rows = case.rows(p) if callable(case.rows) else case.rows
    numpy_inputs = (
        _numpy_inputs(inputs)
        if include_reference and any(row.numpy for row in rows)
        else None
    )
    made_rows = []
    for row in rows:
        if row.numpy and not include_reference:
            continue
        if row.backward:
            run = _forward_backward(row, inputs)
        else:
            run = functools.partial(row.call, numpy_inputs if row.numpy else inputs)
        agrees = (
            None
            if row.agrees is None
            else row.agrees + (" (gradients)" if row.backward else "")
        )
        mult_adds = (3 if row.backward else 1) * counts[
            row.cost
        ]  # backward: twice the forward's
        made_rows.append(
            Candidate(
                row.name.format(**vars(inputs)), run, mult_adds, row.numpy, agrees
            )
        )
    return made_rows


def measure(
    case: Case,
    *,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
    **params: Any,
) -> list[Timing]:
    """Time every row of ``case`` in this run (and its peak memory if the case measures it).

    Parameters
    ----------
    case : Case
        The case.
    repeat : int
        Timed runs per row; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).
    **params
        Parameters of the case to change from its defaults (:attr:`Case.params`).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = default_device(device)
    ready = candidates(
        case, device=str(dev), include_reference=include_reference, **params
    )
    settle_allocator()
    cpu = torch.device("cpu")
    seconds = [time_call(c.run, repeat, cpu if c.numpy else dev) for c in ready]
    peaks = [
        None if c.numpy or not case.memory else peak_memory(c.run, dev) for c in ready
    ]
    base_seconds, base_peak = seconds[0], peaks[0]
    # a baseline without arithmetic (a copy) compares mult-adds with the largest count
    # instead
    base_mult_adds = ready[0].mult_adds or max(c.mult_adds for c in ready) or 1
    return [
        Timing(
            c.name,
            s,
            s / base_seconds,
            c.mult_adds,
            c.mult_adds / base_mult_adds,
            peak,
            None if peak is None or not base_peak else peak / base_peak,
        )
        for c, s, peak in zip(ready, seconds, peaks)
    ]


def format_table(title: str, timings: Sequence[Timing]) -> str:
    """The timings as a plain-text table, the baseline first (with memory columns when measured).

    Parameters
    ----------
    title : str
        The first line.
    timings : sequence of Timing
        The rows, as :func:`measure` returns them.

    Returns
    -------
    str
        The title, a header and one line per row: median ms, x baseline, mult-adds x, and
        peak MiB and memory x when any row has a peak.
    """
    width = max(len(t.name) for t in timings)
    memory = any(t.peak_bytes is not None for t in timings)
    header = f"{'implementation':<{width}}  {'median ms':>10}  {'x baseline':>10}  {'mult-adds x':>11}"
    lines = [title, header + (f"  {'peak MiB':>9}  {'memory x':>8}" if memory else "")]
    for t in timings:
        row = f"{t.name:<{width}}  {t.seconds * 1e3:>10.3f}  {t.ratio:>10.2f}  {t.mult_adds_ratio:>11.2f}"
        if memory:
            peak = "-" if t.peak_bytes is None else f"{t.peak_bytes / 2**20:.1f}"
            ratio = "-" if t.memory_ratio is None else f"{t.memory_ratio:.2f}"
            row += f"  {peak:>9}  {ratio:>8}"
        lines.append(row)
    return "\n".join(lines)


def timing_records(timings: Sequence[Timing]) -> list[dict[str, Any]]:
    """The timings as plain dicts (for ``--json``), one per row, the baseline first.

    Parameters
    ----------
    timings : sequence of Timing
        The rows, as :func:`measure` returns them.

    Returns
    -------
    list of dict
        Each row's fields by name: ``name``, ``seconds``, ``ratio``, ``mult_adds``,
        ``mult_adds_ratio``, ``peak_bytes``, ``memory_ratio``.
    """
    return [dataclasses.asdict(t) for t in timings]


def seeded_tensors(
    *shapes: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> list[torch.Tensor]:
    """Standard normal tensors of the given shapes, from one generator seeded with 0.

    They are drawn in float32 and then converted, so every dtype and device sees the
    same numbers.

    Parameters
    ----------
    *shapes : tuple of int
        One shape per tensor.
    device : torch.device
        Where the tensors go.
    dtype : torch.dtype
        Their dtype.

    Returns
    -------
    list of torch.Tensor
        The tensors, in the order of ``shapes``.
    """
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randn(*shape, generator=generator).to(device, dtype) for shape in shapes
    ]
