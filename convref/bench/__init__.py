"""Benchmarks: ``python -m convref.bench [case ...] [--device cuda] [--threads N] [--json] [--repeat N]``.

Each implementation is timed in one run against a baseline measured in the same run
(PyTorch's own op, the authors' formulation, or a copy), and reported as a ratio to it, so
numbers from different machines compare by their ratios, not their seconds. Next to the
time ratio stands the ratio of multiply-adds: where the two differ, arithmetic is not what
limits the speed. From Python, :func:`run_case` times one case,
``run_case("shift", batch=8, channels=64, size=28, repeat=20, include_reference=False)``.

.. rubric:: Modules

harness
    Timing, peak memory, a case's rows run against its baseline, the table and ``--json`` rows.
cases
    The table of cases, one per operator: parameters, inputs, multiply-adds, rows.
conv_rows
    The inputs, costs and rows of conv2d, grouped, separable, dilated and transposed.
operator_rows
    The inputs, costs and rows of non-local, shift, deformable, adder, dynamic and
    lightweight.
baselines
    The authors' formulations that some cases use as their baseline.
cli
    The command line (``--help`` documents every option).
"""

from .baselines import (
    band_matrix_dynamic_conv1d,
    broadcast_adder2d,
    explicit_non_local_response,
    per_sample_dynamic_conv2d,
)
from .cases import CASES, get_case, run_case, torchvision_deform_conv2d
from .cli import main
from .harness import (
    Candidate,
    Case,
    Row,
    Timing,
    candidates,
    format_table,
    machine_description,
    measure,
    peak_memory,
    time_call,
    timing_records,
    with_backward,
)

__all__ = [
    # harness
    "Timing",
    "Row",
    "Case",
    "Candidate",
    "time_call",
    "peak_memory",
    "candidates",
    "measure",
    "with_backward",
    "format_table",
    "machine_description",
    "timing_records",
    # cases
    "CASES",
    "get_case",
    "run_case",
    "torchvision_deform_conv2d",
    # baselines
    "band_matrix_dynamic_conv1d",
    "broadcast_adder2d",
    "per_sample_dynamic_conv2d",
    "explicit_non_local_response",
    # command line
    "main",
]
