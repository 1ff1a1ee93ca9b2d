"""convref.bench's harness: timing, peak memory, the table (no timing is asserted).

Peak memory is checked against allocations of known size; the table against the numbers
put into it.
"""

from __future__ import annotations

import pytest
import torch

from convref import bench

CPU = torch.device("cpu")


def test_time_call_runs_warmup_and_repeats():
    calls = []
    seconds = bench.time_call(lambda: calls.append(1), repeat=3, device=CPU, warmup=2)
    assert len(calls) == 5
    assert seconds >= 0


def test_time_call_rejects_zero_repeats():
    with pytest.raises(ValueError, match=r"^repeat must be >= 1, got 0$"):
        bench.time_call(lambda: None, repeat=0, device=CPU)


def test_peak_memory_sees_a_known_allocation():
    size = 2**22  # 16 MiB of float32, alive at once, then 4 MiB more on top

    def hold() -> None:
        big = torch.ones(size)
        small = torch.ones(size // 4)
        del small, big

    peak = bench.peak_memory(hold, CPU)
    assert 4 * size * 1.25 <= peak <= 4 * size * 1.25 + 2**16


def test_peak_memory_sees_the_temporaries_of_an_autograd_function():
    """Buffers allocated and freed inside a custom Function count while they are alive, not before."""
    size = 2**22  # 16 MiB of float32

    class Temporaries(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            first = x + 1  # 16 MiB
            second = first * 2  # 16 MiB more, both alive
            return second.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad.expand(size)

    x = torch.zeros(size)
    peak = bench.peak_memory(lambda: Temporaries.apply(x), CPU)
    assert 2 * 4 * size <= peak <= 2 * 4 * size + 2**16


def test_format_table():
    timings = [
        bench.Timing("base", 0.002, 1.0, 100, 1.0),
        bench.Timing("other one", 0.001, 0.5, 50, 0.5),
    ]
    lines = bench.format_table("title", timings).splitlines()
    assert lines[0] == "title"
    assert lines[1].split() == [
        "implementation",
        "median",
        "ms",
        "x",
        "baseline",
        "mult-adds",
        "x",
    ]
    assert lines[2].split() == ["base", "2.000", "1.00", "1.00"]
    assert lines[3].split() == ["other", "one", "1.000", "0.50", "0.50"]


def test_format_table_with_memory_columns():
    timings = [
        bench.Timing("base", 0.002, 1.0, 100, 1.0, 2**21, 1.0),
        bench.Timing("numpy", 0.004, 2.0, 100, 1.0),
    ]
    lines = bench.format_table("title", timings).splitlines()
    assert lines[1].split()[-4:] == ["peak", "MiB", "memory", "x"]
    assert lines[2].split()[-2:] == ["2.0", "1.00"]
    assert lines[3].split()[-2:] == ["-", "-"]


def test_timing_records_are_the_fields():
    timing = bench.Timing("base", 0.002, 1.0, 100, 1.0, 2**21, 1.0)
    assert bench.timing_records([timing]) == [
        dict(
            name="base",
            seconds=0.002,
            ratio=1.0,
            mult_adds=100,
            mult_adds_ratio=1.0,
            peak_bytes=2**21,
            memory_ratio=1.0,
        )
    ]


def _toy_case(memory: bool = False) -> bench.Case:
    """A case made up here: a copy (baseline, no arithmetic), a doubling and its NumPy twin."""
    return bench.Case(
        name="toy",
        family="conv",
        summary="a made-up case",
        params=dict(batch=2, channels=3, size=4),
        setup=lambda p, device, dtype: dict(
            x=torch.ones(
                p.batch, p.channels, p.size, p.size, device=device, dtype=dtype
            ),
            factor=2,
        ),
        costs=lambda t: dict(none=0, double=t.x.numel()),
        rows=(
            bench.Row("copy of {batch}x{channels}", lambda t: t.x.clone(), "none"),
            *bench.with_backward(
                bench.Row(
                    "times {factor}",
                    lambda t: t.x * t.factor,
                    "double",
                    grad_inputs=("x",),
                    agrees="double",
                )
            ),
            bench.Row(
                "NumPy times {factor}",
                lambda t: t.x * t.factor,
                "double",
                numpy=True,
                agrees="double",
            ),
        ),
        memory=memory,
    )


def test_measure_runs_the_rows_in_order_against_the_first(monkeypatch):
    calls = []

    def count_instead_of_timing(fn, repeat, device, warmup=2):
        calls.append((fn(), device))
        return 0.5 * len(calls)

    monkeypatch.setattr(bench.harness, "time_call", count_instead_of_timing)
    timings = bench.measure(_toy_case(), repeat=1, device="cpu", size=5)
    assert [t.name for t in timings] == [
        "copy of 2x3",
        "times 2 (forward)",
        "times 2 (forward+backward)",
        "NumPy times 2",
    ]
    assert [t.seconds for t in timings] == [0.5, 1.0, 1.5, 2.0]
    assert [t.ratio for t in timings] == [1.0, 2.0, 3.0, 4.0]
    n = 2 * 3 * 5 * 5
    assert [t.mult_adds for t in timings] == [
        0,
        n,
        3 * n,
        n,
    ]  # backward: three times the forward
    assert [t.mult_adds_ratio for t in timings] == [
        0.0,
        1 / 3,
        1.0,
        1 / 3,
    ]  # a copy's zero: against the largest
    assert all(t.peak_bytes is None for t in timings)
    outputs = [out for out, _ in calls]
    assert torch.equal(outputs[1], torch.full((2, 3, 5, 5), 2.0))
    assert torch.equal(outputs[2][0], torch.full((2, 3, 5, 5), 2.0))  # d(sum(2 x))/dx
    assert type(outputs[3]).__module__ == "numpy" and calls[3][1] == CPU


def test_measure_without_reference_and_with_memory():
    timings = bench.measure(
        _toy_case(memory=True), repeat=1, device="cpu", include_reference=False
    )
    assert [t.name for t in timings] == [
        "copy of 2x3",
        "times 2 (forward)",
        "times 2 (forward+backward)",
    ]
    assert all(
        t.peak_bytes is not None and t.peak_bytes >= 4 * 2 * 3 * 4 * 4 for t in timings
    )
    assert timings[0].memory_ratio == 1.0


def test_candidates_cast_to_the_requested_dtype():
    rows = bench.candidates(_toy_case(), device="cpu", dtype=torch.float64)
    assert [c.agrees for c in rows] == [None, "double", "double (gradients)", "double"]
    assert (
        rows[1].run().dtype == torch.float64 and str(rows[3].run().dtype) == "float64"
    )


def test_measure_rejects_a_parameter_the_case_lacks():
    with pytest.raises(
        TypeError,
        match=r"^case 'toy' has no parameter 'groups'; its parameters are batch, channels, size$",
    ):
        bench.measure(_toy_case(), repeat=1, device="cpu", groups=2)


def test_measure_rejects_a_size_below_one():
    with pytest.raises(ValueError, match=r"^size must be >= 1, got 0$"):
        bench.measure(_toy_case(), repeat=1, device="cpu", size=0)
