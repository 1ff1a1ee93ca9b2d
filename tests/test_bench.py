"""convref.bench runs and reports ratios to its baseline (no timing is asserted)."""

from __future__ import annotations

import math

import pytest

from convref import bench


def test_bench_conv2d_tiny():
    timings = bench.bench_conv2d(batch=1, channels=2, size=6, kernel_size=3, repeat=1, device="cpu")
    assert [t.name for t in timings] == [
        "torch.nn.functional.conv2d",
        "convref.functional.conv2d",
        "convref.reference.conv2d (NumPy, CPU)",
    ]
    assert timings[0].ratio == 1.0
    for t in timings:
        assert t.seconds > 0
        assert math.isclose(t.ratio, t.seconds / timings[0].seconds)


def test_bench_conv2d_without_reference():
    timings = bench.bench_conv2d(batch=1, channels=2, size=6, repeat=1, device="cpu", include_reference=False)
    assert len(timings) == 2 and timings[0].ratio == 1.0


def test_time_call_runs_warmup_and_repeats():
    calls = []
    seconds = bench.time_call(lambda: calls.append(1), repeat=3, device=bench.torch.device("cpu"), warmup=2)
    assert len(calls) == 5
    assert seconds >= 0


def test_main_prints_a_table(capsys):
    bench.main(["conv2d", "--repeat", "1", "--size", "8", "--channels", "4", "--batch", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("conv2d: N=1, C=4, 8x8, 3x3, on cpu")
    assert "median ms" in lines[1] and "x baseline" in lines[1]
    assert len(lines) == 5  # title, header, three implementations
    assert lines[2].split()[-1] == "1.00"  # the baseline row


def test_main_default_device(capsys):
    bench.main(["conv2d", "--repeat", "1", "--size", "8", "--channels", "4", "--batch", "1"])
    assert "torch.nn.functional.conv2d" in capsys.readouterr().out


def test_main_rejects_unknown_operator(capsys):
    with pytest.raises(SystemExit):
        bench.main(["deform_conv2d"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.cuda
def test_bench_conv2d_on_cuda():
    timings = bench.bench_conv2d(batch=2, channels=4, size=16, repeat=2, device="cuda")
    assert timings[0].ratio == 1.0
    assert all(t.seconds > 0 for t in timings)
