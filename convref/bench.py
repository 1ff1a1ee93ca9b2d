"""Benchmarks: ``python -m convref.bench [conv2d grouped depthwise separable dilated transposed non_local shift deformable adder dynamic] [--device cuda]``.

Each implementation is timed in one run against a baseline measured in the same run
(PyTorch's own op), and reported as a ratio to it, so numbers from different machines
compare by their ratios, not their seconds. Next to the time ratio stands the ratio of
multiply-adds: where the two differ, arithmetic is not what limits the speed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import arith, functional, reference
from ._checks import positive_int

__all__ = [
    "Timing",
    "time_call",
    "bench_conv2d",
    "bench_grouped",
    "bench_depthwise",
    "bench_separable",
    "bench_dilated",
    "bench_transposed",
    "bench_non_local",
    "bench_shift",
    "bench_deformable",
    "bench_adder",
    "broadcast_adder2d",
    "bench_dynamic",
    "per_sample_dynamic_conv2d",
    "peak_memory",
    "BENCHMARKS",
    "main",
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
        Peak tensor memory of one call (:func:`peak_memory`), where the benchmark measures it.
    memory_ratio : float or None
        ``peak_bytes`` divided by the baseline's.
    """

    name: str
    seconds: float
    ratio: float
    mult_adds: int = 0
    mult_adds_ratio: float = 1.0
    peak_bytes: Optional[int] = None  # measured only by the benchmarks that compare memory
    memory_ratio: Optional[float] = None


@dataclass(frozen=True)
class _Candidate:
    name: str
    run: Callable[[], object]
    mult_adds: int
    numpy: bool = False  # the NumPy reference always runs on the CPU


def time_call(fn: Callable[[], object], repeat: int, device: torch.device, warmup: int = 2) -> float:
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


def _device(device: Optional[str]) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


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


def _memory_steps(prof) -> list[tuple[int, int]]:
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
    from torch.profiler import ProfilerActivity, profile

    with _stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    held = peak = 0
    for _, change in sorted(_memory_steps(prof)):
        held += change
        peak = max(peak, held)
    return int(peak)


def _run(
    candidates: list[_Candidate], repeat: int, device: torch.device, memory: bool = False, include_reference: bool = True
) -> list[Timing]:
    """Time every candidate (and measure its peak memory if ``memory``); the first one is the baseline.

    ``include_reference=False`` drops the NumPy candidates (slow at large sizes).
    """
    candidates = [c for c in candidates if include_reference or not c.numpy]
    cpu = torch.device("cpu")
    seconds = [time_call(c.run, repeat, cpu if c.numpy else device) for c in candidates]
    peaks = [None if c.numpy or not memory else peak_memory(c.run, device) for c in candidates]
    base_seconds, base_peak = seconds[0], peaks[0]
    # a baseline without arithmetic (a copy) compares mult-adds with the largest count instead
    base_mult_adds = candidates[0].mult_adds or max(c.mult_adds for c in candidates) or 1
    return [
        Timing(
            c.name, s, s / base_seconds, c.mult_adds, c.mult_adds / base_mult_adds,
            peak, None if peak is None or not base_peak else peak / base_peak,
        )
        for c, s, peak in zip(candidates, seconds, peaks)
    ]


def _forward_backward(run: Callable[..., torch.Tensor], leaves: Sequence[torch.Tensor]) -> Callable[[], None]:
    """A step that clears the leaves' gradients, runs ``run(*leaves)`` and backpropagates its sum."""

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        run(*leaves).sum().backward()

    return step


def _tensors(*shapes: tuple[int, ...], device: torch.device) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(*shape, generator=generator).to(device) for shape in shapes]


def _conv_candidates(
    batch: int, channels: int, size: int, kernel_size: int, groups: int, device: torch.device
) -> list[_Candidate]:
    """torch's conv2d (baseline), convref.functional.conv2d and the NumPy reference, same ``groups``."""
    x, weight = _tensors(
        (batch, channels, size, size), (channels, channels // groups, kernel_size, kernel_size), device=device
    )
    x_np, weight_np = x.cpu().numpy(), weight.cpu().numpy()
    padding = kernel_size // 2
    out = arith.conv_output_size(size, kernel_size, padding=padding)  # size + 1 for an even kernel
    mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, out, groups=groups).mult_adds
    candidates = [
        _Candidate(f"torch conv2d (groups={groups})", lambda: F.conv2d(x, weight, None, 1, padding, 1, groups), mult_adds),
        _Candidate(f"convref.functional.conv2d (groups={groups})", lambda: functional.conv2d(x, weight, None, 1, padding, 1, groups), mult_adds),
    ]
    candidates.append(
        _Candidate(
            f"convref.reference.conv2d (groups={groups}, NumPy)",
            lambda: reference.conv2d(x_np, weight_np, None, 1, padding, 1, groups),
            mult_adds,
            numpy=True,
        )
    )
    return candidates


def _dense_candidate(batch: int, channels: int, size: int, kernel_size: int, device: torch.device) -> _Candidate:
    """torch's full (groups=1) convolution of the same shape, for comparison."""
    x, weight = _tensors((batch, channels, size, size), (channels, channels, kernel_size, kernel_size), device=device)
    out = arith.conv_output_size(size, kernel_size, padding=kernel_size // 2)
    mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, out).mult_adds
    return _Candidate("torch conv2d (groups=1, full)", lambda: F.conv2d(x, weight, padding=kernel_size // 2), mult_adds)


def bench_conv2d(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time ``conv2d``: PyTorch's op (baseline), :mod:`convref.functional` and the NumPy reference.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Side of the square kernel.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    return _run(_conv_candidates(batch, channels, size, kernel_size, 1, dev), repeat, dev, include_reference=include_reference)


def bench_grouped(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    groups: int = 4,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time a grouped convolution against PyTorch's ``conv2d`` with the same ``groups`` (baseline).

    The full convolution of the same shape is added last: ``groups`` times the multiply-adds.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Side of the square kernel.
    groups : int
        Groups of the convolution; must divide ``channels``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    candidates = _conv_candidates(batch, channels, size, kernel_size, groups, dev)
    return _run(
        candidates + [_dense_candidate(batch, channels, size, kernel_size, dev)], repeat, dev,
        include_reference=include_reference,
    )


def bench_depthwise(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time a depthwise convolution (``groups = channels``) against PyTorch's (baseline).

    The full convolution of the same shape is added last. It does ``channels`` times the
    multiply-adds; its time ratio is usually far smaller, because a depthwise convolution
    reads each input value for only ``k * k`` multiply-adds and is limited by memory traffic.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Side of the square kernel.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    return bench_grouped(batch, channels, size, kernel_size, channels, repeat, device, include_reference)


def bench_separable(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 7,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time a depthwise spatially separable ``k x 1`` + ``1 x k`` convolution.

    Baseline: PyTorch's depthwise ``k x k`` ``conv2d`` with the equivalent rank-1 kernels
    (the same result). Then PyTorch's own two 1-D convolutions, :func:`convref.functional.separable_conv2d`
    and the NumPy reference.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Length ``k`` of the two 1-D kernels.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    x, column, row = _tensors(
        (batch, channels, size, size), (channels, 1, kernel_size, 1), (channels, 1, 1, kernel_size), device=dev
    )
    full = column * row  # (C, 1, k, k): the rank-1 kernel of each channel
    x_np, column_np, row_np = x.cpu().numpy(), column.cpu().numpy(), row.cpu().numpy()
    pad = kernel_size // 2
    out = arith.conv_output_size(size, kernel_size, padding=pad)  # size + 1 for an even kernel
    full_mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, out, groups=channels).mult_adds
    # the column stage keeps the input's width, the row stage then gives the full output
    separable_mult_adds = batch * (
        arith.conv_cost(channels, channels, (kernel_size, 1), (out, size), groups=channels)
        + arith.conv_cost(channels, channels, (1, kernel_size), out, groups=channels)
    ).mult_adds

    def torch_two_pass() -> torch.Tensor:
        columns = F.conv2d(x, column, padding=(pad, 0), groups=channels)
        return F.conv2d(columns, row, padding=(0, pad), groups=channels)

    candidates = [
        _Candidate(f"torch conv2d {kernel_size}x{kernel_size} depthwise", lambda: F.conv2d(x, full, padding=pad, groups=channels), full_mult_adds),
        _Candidate(f"torch conv2d {kernel_size}x1 then 1x{kernel_size}", torch_two_pass, separable_mult_adds),
        _Candidate(
            "convref.functional.separable_conv2d",
            lambda: functional.separable_conv2d(x, column, row, padding=pad, groups=channels),
            separable_mult_adds,
        ),
    ]
    candidates.append(
        _Candidate(
            "convref.reference.separable_conv2d (NumPy)",
            lambda: reference.separable_conv2d(x_np, column_np, row_np, padding=pad, groups=channels),
            separable_mult_adds,
            numpy=True,
        )
    )
    return _run(candidates, repeat, dev, include_reference=include_reference)


def bench_dilated(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    dilation: int = 2,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time a dilated ``k x k`` convolution (padding ``d (k - 1) / 2``) computed three ways.

    Baseline: PyTorch's ``conv2d(dilation=d)``. Then :func:`convref.functional.conv2d` with the same
    dilation, the zero-inserted kernel (:func:`convref.functional.conv2d_dilated_kernel`, which
    multiplies by the zeros too: about ``d**2`` the multiply-adds), space-to-batch
    (:func:`convref.functional.conv2d_space_to_batch`, the same work spread over ``d**2``
    sub-images) and the NumPy reference.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Side of the square kernel.
    dilation : int
        The rate ``d``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    x, weight = _tensors((batch, channels, size, size), (channels, channels, kernel_size, kernel_size), device=dev)
    x_np, weight_np = x.cpu().numpy(), weight.cpu().numpy()
    pad = dilation * (kernel_size - 1) // 2
    out = arith.conv_output_size(size, kernel_size, padding=pad, dilation=dilation)
    mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, out).mult_adds
    span = dilation * (kernel_size - 1) + 1
    zero_filled_mult_adds = batch * arith.conv_cost(channels, channels, span, out).mult_adds
    # space-to-batch: the padded image is rounded up to a multiple of d, then d*d sub-images of side m
    side = -(-(size + 2 * pad) // dilation)
    sub_out = side - kernel_size + 1
    space_to_batch_mult_adds = batch * dilation**2 * arith.conv_cost(channels, channels, kernel_size, sub_out).mult_adds
    name = f"{kernel_size}x{kernel_size} rate {dilation}"
    candidates = [
        _Candidate(f"torch conv2d {name}", lambda: F.conv2d(x, weight, None, 1, pad, dilation), mult_adds),
        _Candidate(
            f"convref.functional.conv2d {name}", lambda: functional.conv2d(x, weight, None, 1, pad, dilation), mult_adds
        ),
        _Candidate(
            "convref.functional.conv2d_dilated_kernel",
            lambda: functional.conv2d_dilated_kernel(x, weight, None, 1, pad, dilation),
            zero_filled_mult_adds,
        ),
        _Candidate(
            "convref.functional.conv2d_space_to_batch",
            lambda: functional.conv2d_space_to_batch(x, weight, None, 1, pad, dilation),
            space_to_batch_mult_adds,
        ),
    ]
    candidates.append(
        _Candidate(
            f"convref.reference.conv2d {name} (NumPy)",
            lambda: reference.conv2d(x_np, weight_np, None, 1, pad, dilation),
            mult_adds,
            numpy=True,
        )
    )
    return _run(candidates, repeat, dev, include_reference=include_reference)


def bench_transposed(
    batch: int = 8,
    channels: int = 32,
    size: int = 32,
    kernel_size: int = 4,
    stride: int = 2,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time a transposed convolution that upsamples by ``stride`` (``k = 4, s = 2, p = 1`` by default).

    Baseline: PyTorch's ``conv_transpose2d``. Then :func:`convref.functional.conv_transpose2d`
    (matrix product + fold: every input pixel stamps the kernel once), the zero-stuffed
    convolution (:func:`convref.functional.conv_transpose2d_as_conv`: about ``stride**2`` the
    multiply-adds, most of them with inserted zeros) and the NumPy reference.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    kernel_size : int
        Side of the square kernel.
    stride : int
        The upsampling factor ``s``; the padding is ``(kernel_size - stride + 1) // 2``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    x, weight = _tensors((batch, channels, size, size), (channels, channels, kernel_size, kernel_size), device=dev)
    x_np, weight_np = x.cpu().numpy(), weight.cpu().numpy()
    pad = (kernel_size - stride + 1) // 2  # k = 2s gives exactly stride * size
    out = (size - 1) * stride - 2 * pad + kernel_size
    # a transposed convolution does, per input pixel, what a convolution does per output pixel
    mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, size).mult_adds
    stuffed_mult_adds = batch * arith.conv_cost(channels, channels, kernel_size, out).mult_adds
    name = f"k={kernel_size} s={stride}"
    candidates = [
        _Candidate(f"torch conv_transpose2d {name}", lambda: F.conv_transpose2d(x, weight, None, stride, pad), mult_adds),
        _Candidate(
            "convref.functional.conv_transpose2d",
            lambda: functional.conv_transpose2d(x, weight, None, stride, pad),
            mult_adds,
        ),
        _Candidate(
            "convref.functional.conv_transpose2d_as_conv",
            lambda: functional.conv_transpose2d_as_conv(x, weight, None, stride, pad),
            stuffed_mult_adds,
        ),
    ]
    candidates.append(
        _Candidate(
            "convref.reference.conv_transpose2d (NumPy)",
            lambda: reference.conv_transpose2d(x_np, weight_np, None, stride, pad),
            mult_adds,
            numpy=True,
        )
    )
    return _run(candidates, repeat, dev, include_reference=include_reference)


def _non_local_mult_adds(batch: int, channels: int, inter: int, positions: int, implicit_mode: Optional[str]) -> int:
    """Multiply-adds of one embedded-Gaussian or dot-product response (``None``: the explicit ``A g``)."""
    projections = channels * inter * 3 * positions  # theta, phi, g (no sub-sampling)
    if implicit_mode == "dot_product":  # phi g^T (C_i x C_i), then theta^T of that
        pairwise = 2 * positions * inter * inter
    else:  # theta^T phi and A g: H W x H W x C_i each, whether A is stored or streamed
        pairwise = 2 * positions * positions * inter
    return batch * (projections + pairwise)


def bench_non_local(
    batch: int = 8,
    channels: int = 256,
    size: int = 28,
    mode: str = "embedded_gaussian",
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time and measure the peak memory of a non-local response, forward and forward + backward.

    Baseline: the explicit form, ``A = non_local_affinity(...)`` (``H W x H W`` per sample)
    followed by ``A g``. Against it, :func:`convref.functional.non_local_response`, which never
    stores ``A`` (attention kernel for the Gaussian modes, ``theta^T (phi g^T)`` for the dot
    product), forward and forward + backward (with respect to the input and every weight), and
    the NumPy reference (forward). Inter channels are ``channels // 2``, no sub-sampling, as in
    the paper's ResNet-50 blocks. Backward multiply-adds are counted as twice the forward's.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    mode : {"embedded_gaussian", "dot_product"}
        The pairwise function (see :func:`convref.functional.non_local_affinity`).
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    if mode not in ("embedded_gaussian", "dot_product"):
        raise ValueError(f"mode must be 'embedded_gaussian' or 'dot_product', got {mode!r}")
    inter = max(1, channels // 2)
    x, theta, phi, g = _tensors((batch, channels, size, size), (inter, channels), (inter, channels), (inter, channels), device=dev)
    x_np, theta_np, phi_np, g_np = (t.cpu().numpy() for t in (x, theta, phi, g))
    leaves = [t.clone().requires_grad_() for t in (x, theta, phi, g)]

    def explicit(x, theta, phi, g):
        affinity = functional.non_local_affinity(x, theta, phi, mode)  # (N, HW, HW)
        return torch.matmul(affinity, torch.matmul(g, x.flatten(2)).transpose(1, 2))

    def implicit(x, theta, phi, g):
        return functional.non_local_response(x, theta, phi, g, mode)

    positions = size * size
    explicit_mult_adds = _non_local_mult_adds(batch, channels, inter, positions, None)
    implicit_mult_adds = _non_local_mult_adds(batch, channels, inter, positions, mode)
    candidates = [
        _Candidate("explicit affinity A g (forward)", lambda: explicit(x, theta, phi, g), explicit_mult_adds),
        _Candidate("convref.functional.non_local_response (forward)", lambda: implicit(x, theta, phi, g), implicit_mult_adds),
        _Candidate("explicit affinity A g (forward+backward)", _forward_backward(explicit, leaves), 3 * explicit_mult_adds),
        _Candidate("convref.functional.non_local_response (forward+backward)", _forward_backward(implicit, leaves), 3 * implicit_mult_adds),
    ]
    candidates.append(
        _Candidate(
            "convref.reference.non_local_response (NumPy, forward)",
            lambda: reference.non_local_response(x_np, theta_np, phi_np, g_np, mode),
            explicit_mult_adds,
            numpy=True,
        )
    )
    # the forward rows use tensors without grad, so they build no graph
    return _run(candidates, repeat, dev, memory=True, include_reference=include_reference)


def bench_shift(
    batch: int = 32,
    channels: int = 256,
    size: int = 56,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time ShiftNet's shift against ``x.clone()`` of the same tensor (baseline: the memory floor).

    Rows: the clone; :func:`convref.functional.shift2d` with the grouped and the interleaved
    3x3 pattern (no multiply-adds: the time ratio is the whole story); a fractional (active)
    shift, which blends four integer shifts; PyTorch's depthwise 3x3 convolution, the layer a
    shift replaces; and the NumPy reference. Multiply-add ratios are against the depthwise
    convolution's count, since the baseline does none.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    (x,) = _tensors((batch, channels, size, size), device=dev)
    (weight,) = _tensors((channels, 1, 3, 3), device=dev)
    grouped = functional.shift_pattern(channels, 3, layout="grouped", device=dev)
    interleaved = functional.shift_pattern(channels, 3, layout="interleaved", device=dev)
    fractional = grouped.to(x.dtype) + 0.5
    depthwise_mult_adds = batch * arith.conv_cost(channels, channels, 3, size, groups=channels).mult_adds
    x_np, grouped_np = x.cpu().numpy(), grouped.cpu().numpy()
    candidates = [
        _Candidate("x.clone() (memory floor)", x.clone, 0),
        _Candidate("convref.functional.shift2d (grouped)", lambda: functional.shift2d(x, grouped), 0),
        _Candidate("convref.functional.shift2d (interleaved)", lambda: functional.shift2d(x, interleaved), 0),
        _Candidate("convref.functional.shift2d (fractional)", lambda: functional.shift2d(x, fractional), 4 * x.numel()),
        _Candidate(
            "torch conv2d 3x3 depthwise", lambda: F.conv2d(x, weight, padding=1, groups=channels), depthwise_mult_adds
        ),
    ]
    candidates.append(
        _Candidate(
            "convref.reference.shift2d (NumPy)", lambda: reference.shift2d(x_np, grouped_np), 0, numpy=True
        )
    )
    return _run(candidates, repeat, dev, include_reference=include_reference)


def _torchvision_deform_conv2d() -> Optional[Callable[..., torch.Tensor]]:
    """``torchvision.ops.deform_conv2d`` when torchvision (with its compiled ops) can be imported, else None."""
    try:
        from torchvision.ops import deform_conv2d
    except (ImportError, OSError, RuntimeError):  # not installed, or built for another torch
        return None
    return deform_conv2d


def bench_deformable(
    batch: int = 8,
    channels: int = 256,
    size: int = 14,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time and measure the memory of a modulated 3x3 deformable convolution (DCN v2), ``C -> C``, padding 1.

    Baseline: PyTorch's ``conv2d`` of the same shape (forward), the price of a plain layer.
    Against it, forward and forward + backward (with respect to the input, offsets, mask,
    weight and bias) of :func:`convref.functional.deform_conv2d`, of ``conv2d``, and of
    ``torchvision.ops.deform_conv2d`` where torchvision is importable (the GPU image has it);
    then the NumPy reference (forward). The offsets are given, not predicted: the offset
    convolution is an ordinary ``conv2d``. Backward multiply-adds count as twice the forward's.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    taps, generator = 9, torch.Generator().manual_seed(0)
    x, weight, bias = _tensors((batch, channels, size, size), (channels, channels, 3, 3), (channels,), device=dev)
    weight = weight / (9 * channels) ** 0.5
    offset = (torch.rand(batch, 2 * taps, size, size, generator=generator) * 4 - 2).to(dev)  # within 2 pixels
    mask = torch.rand(batch, taps, size, size, generator=generator).to(dev)
    inputs = (x, offset, weight, bias, mask)
    leaves = [t.clone().requires_grad_() for t in inputs]
    cost = arith.deform_conv_cost(channels, channels, 3, size, modulated=True)
    conv_mult_adds = batch * cost["conv"].mult_adds
    deform_mult_adds = batch * (cost["conv"].mult_adds + cost["sampling"].mult_adds)

    def deform(op: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        return lambda x, offset, weight, bias, mask: op(x, offset, weight, bias, 1, 1, 1, mask)

    def conv(x, offset, weight, bias, mask):
        return F.conv2d(x, weight, bias, padding=1)

    implementations = [("torch conv2d 3x3", conv, conv_mult_adds)]
    torchvision_op = _torchvision_deform_conv2d()
    if torchvision_op is not None:
        implementations.append(("torchvision.ops.deform_conv2d", deform(torchvision_op), deform_mult_adds))
    implementations.append(("convref.functional.deform_conv2d", deform(functional.deform_conv2d), deform_mult_adds))
    candidates = [_Candidate(f"{name} (forward)", lambda run=run: run(*inputs), count) for name, run, count in implementations]
    candidates += [
        _Candidate(f"{name} (forward+backward)", _forward_backward(run, leaves), 3 * count) for name, run, count in implementations
    ]
    numpy_inputs = [t.cpu().numpy() for t in inputs]
    candidates.append(
        _Candidate(
            "convref.reference.deform_conv2d (NumPy, forward)",
            lambda: deform(reference.deform_conv2d)(*numpy_inputs),
            deform_mult_adds,
            numpy=True,
        )
    )
    return _run(candidates, repeat, dev, memory=True, include_reference=include_reference)



class _BroadcastAdder(torch.autograd.Function):
    """The adder layer as the authors' code computes it: every difference at once, ``(C_out, C_in k^2, N L)``.

    Same gradients as ``convref.functional.adder2d(..., gradient="paper")``, without the
    adaptive scaling (which neither side applies here).
    """

    @staticmethod
    def forward(ctx, filters: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(filters, columns)
        return -(filters.unsqueeze(2) - columns.unsqueeze(0)).abs().sum(1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        filters, columns = ctx.saved_tensors
        grad_filters = ((columns.unsqueeze(0) - filters.unsqueeze(2)) * grad.unsqueeze(1)).sum(2)
        grad_columns = ((filters.unsqueeze(2) - columns.unsqueeze(0)).clamp(-1, 1) * grad.unsqueeze(1)).sum(0)
        return grad_filters, grad_columns


def broadcast_adder2d(x: torch.Tensor, weight: torch.Tensor, padding: int = 1) -> torch.Tensor:
    """AdderNet's layer (stride 1, no groups) computed the way the paper's code does it: unfold, broadcast, sum.

    The baseline of :func:`bench_adder`: it holds the ``C_out x C_in k^2 x N H W`` difference
    tensor, in the forward pass and in each gradient.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Filters ``(C_out, C_in, kh, kw)``.
    padding : int
        Zeros added on each side.

    Returns
    -------
    torch.Tensor
        ``(N, C_out, H + 2 padding - kh + 1, W + 2 padding - kw + 1)``.
    """
    n, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    columns = F.unfold(x, (kh, kw), padding=padding)  # (N, C k^2, L)
    columns = columns.permute(1, 0, 2).reshape(columns.shape[1], -1)  # (C k^2, N L)
    distances = _BroadcastAdder.apply(weight.reshape(out_channels, -1), columns)  # (C_out, N L)
    h_out, w_out = height + 2 * padding - kh + 1, width + 2 * padding - kw + 1
    return distances.reshape(out_channels, n, h_out, w_out).transpose(0, 1)


def bench_adder(
    batch: int = 32,
    channels: int = 16,
    size: int = 32,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
) -> list[Timing]:
    """Time and measure the memory of AdderNet's 3x3 adder layer, ``C -> C``, padding 1.

    Baseline: :func:`broadcast_adder2d`, the authors' formulation (forward). Against it,
    forward and forward + backward (the paper's gradients, with respect to the input and the
    filters) of the baseline and of :func:`convref.functional.adder2d`; PyTorch's ``conv2d``
    of the same shape, the layer an adder replaces; and the NumPy reference (forward). The
    "multiply-adds" of an adder layer count its subtract-and-accumulate pairs, as many as the
    convolution's multiply-adds; backward counts twice the forward's.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    x, weight = _tensors((batch, channels, size, size), (channels, channels, 3, 3), device=dev)
    leaves = [t.clone().requires_grad_() for t in (x, weight)]
    count = batch * arith.conv_cost(channels, channels, 3, size).mult_adds

    def ours(x, weight):
        return functional.adder2d(x, weight, padding=1)

    implementations = [("unfold-broadcast-sum (authors' code)", broadcast_adder2d), ("convref.functional.adder2d", ours)]
    candidates = [_Candidate(f"{name} (forward)", lambda run=run: run(x, weight), count) for name, run in implementations]
    candidates += [_Candidate(f"{name} (forward+backward)", _forward_backward(run, leaves), 3 * count) for name, run in implementations]
    candidates.append(_Candidate("torch conv2d 3x3 (forward)", lambda: F.conv2d(x, weight, padding=1), count))
    x_np, weight_np = x.cpu().numpy(), weight.cpu().numpy()
    candidates.append(
        _Candidate(
            "convref.reference.adder2d (NumPy, forward)",
            lambda: reference.adder2d(x_np, weight_np, padding=1),
            count,
            numpy=True,
        )
    )
    return _run(candidates, repeat, dev, memory=True, include_reference=include_reference)


def per_sample_dynamic_conv2d(
    x: torch.Tensor, weights: torch.Tensor, attention: torch.Tensor, bias: Optional[torch.Tensor] = None, padding: int = 1
) -> torch.Tensor:
    """Dynamic convolution with one ``conv2d`` call per sample: the loop the batching trick replaces.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weights : torch.Tensor
        The ``K`` kernels ``(K, C_out, C_in, kh, kw)``.
    attention : torch.Tensor
        Mixing weights ``(N, K)``, one row per sample.
    bias : torch.Tensor, optional
        The ``K`` biases ``(K, C_out)``, mixed like the kernels.
    padding : int
        Zeros added on each side.

    Returns
    -------
    torch.Tensor
        ``(N, C_out, H + 2 padding - kh + 1, W + 2 padding - kw + 1)``.
    """
    kernels = torch.matmul(attention, weights.flatten(1)).reshape(-1, *weights.shape[1:])  # (N, C_out, ...)
    biases = [None] * len(x) if bias is None else torch.matmul(attention, bias)
    return torch.cat([F.conv2d(x[n : n + 1], kernels[n], biases[n], padding=padding) for n in range(len(x))])


def bench_dynamic(
    batch: int = 32,
    channels: int = 256,
    size: int = 14,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
    num_kernels: Sequence[int] = (4, 8),
) -> list[Timing]:
    """Time dynamic convolution (3x3, ``C -> C``, padding 1) with ``K`` kernels mixed per sample.

    Baseline: PyTorch's static ``conv2d`` of the same shape (forward). Against it, for each ``K``
    in ``num_kernels``: :func:`convref.functional.dynamic_conv2d` (the batch folded into the
    groups of one convolution) and :func:`per_sample_dynamic_conv2d` (a loop of ``N``
    convolutions), forward and forward + backward (input, kernels, attention, biases); the
    static convolution's forward + backward; and the NumPy reference (forward, first ``K``).
    The attention is given (random rows of a softmax), so only the mixing and the convolution
    are timed. Multiply-adds include the mixing, ``K`` per kernel entry per sample.

    Parameters
    ----------
    batch, channels, size : int
        The input is ``(batch, channels, size, size)``.
    num_kernels : sequence of int
        The values of ``K`` to time, each in its own rows.
    repeat : int
        Timed runs per implementation; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    dev = _device(device)
    x, weight, bias = _tensors((batch, channels, size, size), (channels, channels, 3, 3), (channels,), device=dev)
    weight = weight / (9 * channels) ** 0.5
    static_mult_adds = batch * arith.conv_cost(channels, channels, 3, size).mult_adds
    static_leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]

    def static(x, weight, bias):
        return F.conv2d(x, weight, bias, padding=1)

    forward_rows = [_Candidate("torch conv2d 3x3, static (forward)", lambda: static(x, weight, bias), static_mult_adds)]
    backward_rows = [_Candidate("torch conv2d 3x3, static (forward+backward)", _forward_backward(static, static_leaves), 3 * static_mult_adds)]
    numpy_rows = []
    generator = torch.Generator().manual_seed(1)
    for kernels in num_kernels:
        kernels = positive_int("num_kernels", kernels)
        weights = (torch.randn(kernels, *weight.shape, generator=generator) / (9 * channels) ** 0.5).to(dev)
        biases = torch.randn(kernels, channels, generator=generator).to(dev)
        attention = torch.softmax(torch.randn(batch, kernels, generator=generator), dim=1).to(dev)
        inputs = (x, weights, attention, biases)
        leaves = [t.clone().requires_grad_() for t in inputs]
        cost = arith.dynamic_conv_cost(channels, channels, 3, size, kernels)
        mult_adds = batch * (cost["conv"].mult_adds + cost["aggregation"].mult_adds)

        def batched(x, weights, attention, biases):
            return functional.dynamic_conv2d(x, weights, attention, biases, padding=1)

        for name, run in ((f"convref.functional.dynamic_conv2d, K={kernels}", batched),
                          (f"per-sample conv2d loop, K={kernels}", per_sample_dynamic_conv2d)):
            forward_rows.append(_Candidate(f"{name} (forward)", lambda run=run, inputs=inputs: run(*inputs), mult_adds))
            backward_rows.append(_Candidate(f"{name} (forward+backward)", _forward_backward(run, leaves), 3 * mult_adds))
        if not numpy_rows:
            arrays = [t.cpu().numpy() for t in inputs]
            numpy_rows.append(
                _Candidate(
                    f"convref.reference.dynamic_conv2d, K={kernels} (NumPy, forward)",
                    lambda arrays=arrays: reference.dynamic_conv2d(*arrays, padding=1),
                    mult_adds,
                    numpy=True,
                )
            )
    return _run(forward_rows + backward_rows + numpy_rows, repeat, dev, include_reference=include_reference)

#: The benchmarks that ``python -m convref.bench`` knows, by name.
BENCHMARKS: dict[str, Callable[..., list[Timing]]] = {
    "conv2d": bench_conv2d,
    "grouped": bench_grouped,
    "depthwise": bench_depthwise,
    "separable": bench_separable,
    "dilated": bench_dilated,
    "transposed": bench_transposed,
    "non_local": bench_non_local,
    "shift": bench_shift,
    "deformable": bench_deformable,
    "adder": bench_adder,
    "dynamic": bench_dynamic,
}


def format_table(title: str, timings: Sequence[Timing]) -> str:
    """The timings as a plain-text table, the baseline first (with memory columns when measured)."""
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


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str, optional
        The command-line arguments (default: ``sys.argv[1:]``); ``--help`` lists them.
    """
    parser = argparse.ArgumentParser(prog="python -m convref.bench", description=__doc__.splitlines()[0])
    # No argparse `choices` here: with nargs="*" it rejects an empty list on Python 3.11.
    parser.add_argument("operators", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--groups", type=int, default=4, help="of the grouped benchmark")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for PyTorch (default: its own choice); 1 gives the steadiest ratios"
    )
    args = parser.parse_args(argv)
    for name in ("repeat", "batch", "channels", "size", "groups", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.channels % args.groups:
        parser.error(f"--groups must divide --channels, got {args.groups} and {args.channels}")
    unknown = [name for name in args.operators if name not in BENCHMARKS]
    if unknown:
        parser.error(f"invalid choice: {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    device = _device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for name in args.operators or list(BENCHMARKS):
        options = dict(batch=args.batch, channels=args.channels, size=args.size, repeat=args.repeat, device=str(device))
        if name == "grouped":
            options["groups"] = args.groups
        timings = BENCHMARKS[name](**options)
        title = (
            f"{name}: N={args.batch}, C={args.channels}, {args.size}x{args.size}, on {device} "
            f"(torch {torch.__version__}, {torch.get_num_threads()} CPU threads); baseline = first row"
        )
        print(format_table(title, timings), end="\n\n")


if __name__ == "__main__":
    main()
