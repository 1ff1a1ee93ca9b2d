"""convref.bench runs and reports ratios to its baseline (no timing is asserted).

The multiply-add counts it reports are checked against formulas written out here and
against PyTorch's FLOP counter run on the very calls it times.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from convref import bench, reference

TINY = dict(batch=1, channels=4, size=6, repeat=1, device="cpu")


def _out(size: int, k: int) -> int:
    """Output length of a stride-1 convolution padded by k // 2 on each side."""
    return size + 2 * (k // 2) - k + 1


def _check_ratios(timings: list[bench.Timing]) -> None:
    assert timings[0].ratio == 1.0 and timings[0].mult_adds_ratio == 1.0
    for t in timings:
        assert isinstance(t, bench.Timing)
        assert t.seconds > 0
        assert math.isclose(t.ratio, t.seconds / timings[0].seconds)
        assert t.mult_adds > 0
        assert t.mult_adds_ratio == t.mult_adds / timings[0].mult_adds


@pytest.mark.parametrize("kernel_size", [3, 4])
def test_bench_conv2d_tiny(kernel_size):
    timings = bench.bench_conv2d(**TINY, kernel_size=kernel_size)
    assert [t.name for t in timings] == [
        "torch conv2d (groups=1)",
        "convref.functional.conv2d (groups=1)",
        "convref.reference.conv2d (groups=1, NumPy)",
    ]
    _check_ratios(timings)
    out = _out(6, kernel_size)
    assert [t.mult_adds for t in timings] == [4 * 4 * kernel_size**2 * out * out] * 3  # C_out C_in k^2 H_out W_out
    assert [t.mult_adds_ratio for t in timings] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_bench_grouped_tiny(groups):
    timings = bench.bench_grouped(**TINY, kernel_size=3, groups=groups)
    assert [t.name for t in timings] == [
        f"torch conv2d (groups={groups})",
        f"convref.functional.conv2d (groups={groups})",
        f"convref.reference.conv2d (groups={groups}, NumPy)",
        "torch conv2d (groups=1, full)",
    ]
    _check_ratios(timings)
    assert timings[0].mult_adds == 4 * (4 // groups) * 9 * 6 * 6
    assert [t.mult_adds_ratio for t in timings] == [1.0, 1.0, 1.0, groups]  # the full conv: groups times the work


@pytest.mark.parametrize("channels", [3, 8])
def test_bench_depthwise_tiny(channels):
    timings = bench.bench_depthwise(**{**TINY, "channels": channels}, kernel_size=3)
    assert [t.name for t in timings] == [
        f"torch conv2d (groups={channels})",
        f"convref.functional.conv2d (groups={channels})",
        f"convref.reference.conv2d (groups={channels}, NumPy)",
        "torch conv2d (groups=1, full)",
    ]
    _check_ratios(timings)
    assert timings[0].mult_adds == channels * 9 * 6 * 6  # one k x k filter per channel
    assert [t.mult_adds_ratio for t in timings] == [1.0, 1.0, 1.0, channels]


@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_bench_separable_tiny(kernel_size):
    timings = bench.bench_separable(**{**TINY, "size": 8}, kernel_size=kernel_size)
    k = kernel_size
    assert [t.name for t in timings] == [
        f"torch conv2d {k}x{k} depthwise",
        f"torch conv2d {k}x1 then 1x{k}",
        "convref.functional.separable_conv2d",
        "convref.reference.separable_conv2d (NumPy)",
    ]
    _check_ratios(timings)
    assert timings[0].mult_adds == 4 * k * k * 8 * 8
    assert [t.mult_adds for t in timings[1:]] == [4 * 2 * k * 8 * 8] * 3  # k + k taps instead of k * k
    assert [t.mult_adds_ratio for t in timings] == [1.0] + [2 / k] * 3


@pytest.mark.parametrize("dilation", [2, 3])
def test_bench_dilated_tiny(dilation):
    timings = bench.bench_dilated(**TINY, kernel_size=3, dilation=dilation)
    assert [t.name for t in timings] == [
        f"torch conv2d 3x3 rate {dilation}",
        f"convref.functional.conv2d 3x3 rate {dilation}",
        "convref.functional.conv2d_dilated_kernel",
        "convref.functional.conv2d_space_to_batch",
        f"convref.reference.conv2d 3x3 rate {dilation} (NumPy)",
    ]
    _check_ratios(timings)
    span = 2 * dilation + 1
    assert timings[0].mult_adds == 4 * 4 * 9 * 6 * 6  # same padding: 6x6 out, 9 taps, whatever the rate
    assert timings[2].mult_adds == 4 * 4 * span**2 * 6 * 6  # the zero-filled kernel multiplies its zeros
    # padded side 6 + 2d, rounded up to a multiple of d, split into d*d sub-images of side m
    m = -(-(6 + 2 * dilation) // dilation)
    assert timings[3].mult_adds == dilation**2 * 4 * 4 * 9 * (m - 2) ** 2


@pytest.mark.parametrize("kernel_size, stride", [(4, 2), (3, 2), (2, 2)])
def test_bench_transposed_tiny(kernel_size, stride):
    timings = bench.bench_transposed(**TINY, kernel_size=kernel_size, stride=stride)
    assert [t.name for t in timings] == [
        f"torch conv_transpose2d k={kernel_size} s={stride}",
        "convref.functional.conv_transpose2d",
        "convref.functional.conv_transpose2d_as_conv",
        "convref.reference.conv_transpose2d (NumPy)",
    ]
    _check_ratios(timings)
    pad = (kernel_size - stride + 1) // 2
    out = (6 - 1) * stride - 2 * pad + kernel_size
    assert timings[0].mult_adds == 4 * 4 * kernel_size**2 * 6 * 6  # one stamp of the kernel per input pixel
    assert timings[2].mult_adds == 4 * 4 * kernel_size**2 * out * out  # a full conv over the stuffed image


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product"])
def test_bench_non_local_tiny(mode):
    timings = bench.bench_non_local(**TINY, mode=mode)
    assert [t.name for t in timings] == [
        "explicit affinity A g (forward)",
        "convref.functional.non_local_response (forward)",
        "explicit affinity A g (forward+backward)",
        "convref.functional.non_local_response (forward+backward)",
        "convref.reference.non_local_response (NumPy, forward)",
    ]
    _check_ratios(timings)
    c, ci, p = 4, 2, 36  # channels, inter channels, positions (6x6)
    explicit = 3 * c * ci * p + 2 * p * p * ci  # theta, phi, g; then theta^T phi and A g
    implicit = explicit if mode == "embedded_gaussian" else 3 * c * ci * p + 2 * p * ci * ci  # theta^T (phi g^T)
    assert [t.mult_adds for t in timings] == [explicit, implicit, 3 * explicit, 3 * implicit, explicit]
    assert all(t.peak_bytes is not None for t in timings[:4]) and timings[4].peak_bytes is None  # NumPy: not measured


def test_bench_non_local_rejects_other_modes():
    with pytest.raises(ValueError, match="^mode must be 'embedded_gaussian' or 'dot_product', got 'gaussian'$"):
        bench.bench_non_local(**TINY, mode="gaussian")


def test_peak_memory_sees_a_known_allocation():
    size = 2**22  # 16 MiB of float32, alive at once, then 4 MiB more on top
    def hold() -> None:
        big = torch.ones(size)
        small = torch.ones(size // 4)
        del small, big

    peak = bench.peak_memory(hold, torch.device("cpu"))
    assert 4 * size * 1.25 <= peak <= 4 * size * 1.25 + 2**16


def test_format_table_with_memory_columns():
    timings = [bench.Timing("base", 0.002, 1.0, 100, 1.0, 2**21, 1.0), bench.Timing("numpy", 0.004, 2.0, 100, 1.0)]
    lines = bench.format_table("title", timings).splitlines()
    assert lines[1].split()[-4:] == ["peak", "MiB", "memory", "x"]
    assert lines[2].split()[-2:] == ["2.0", "1.00"]
    assert lines[3].split()[-2:] == ["-", "-"]


def test_bench_shift_tiny():
    timings = bench.bench_shift(**TINY)
    assert [t.name for t in timings] == [
        "x.clone() (memory floor)",
        "convref.functional.shift2d (grouped)",
        "convref.functional.shift2d (interleaved)",
        "convref.functional.shift2d (fractional)",
        "torch conv2d 3x3 depthwise",
        "convref.reference.shift2d (NumPy)",
    ]
    assert timings[0].ratio == 1.0 and all(t.seconds > 0 for t in timings)
    depthwise = 4 * 9 * 6 * 6  # C k^2 H W for one image
    assert [t.mult_adds for t in timings] == [0, 0, 0, 4 * 4 * 6 * 6, depthwise, 0]  # fractional: 4 weights per value
    assert [t.mult_adds_ratio for t in timings] == [0.0, 0.0, 0.0, 16 / 36, 1.0, 0.0]  # against the depthwise count


def test_bench_deformable_tiny():
    timings = bench.bench_deformable(**TINY)
    implementations = ["torch conv2d 3x3"]
    if bench._torchvision_deform_conv2d() is not None:  # the GPU image has torchvision
        implementations.append("torchvision.ops.deform_conv2d")
    implementations.append("convref.functional.deform_conv2d")
    assert [t.name for t in timings] == [
        *(f"{name} (forward)" for name in implementations),
        *(f"{name} (forward+backward)" for name in implementations),
        "convref.reference.deform_conv2d (NumPy, forward)",
    ]
    _check_ratios(timings)
    conv = 4 * 4 * 9 * 6 * 6  # C_out C_in k^2 H W, one image, padding 1
    sampling = 5 * 4 * 9 * 6 * 6  # four bilinear weights and a mask per sampled value
    deform = [conv + sampling] * (len(implementations) - 1)
    assert [t.mult_adds for t in timings] == [conv, *deform, 3 * conv, *(3 * m for m in deform), conv + sampling]
    assert all(t.peak_bytes is not None for t in timings[:-1]) and timings[-1].peak_bytes is None


def test_bench_deformable_matmul_does_the_convolutions_work(monkeypatch):
    """The FLOP counter sees the matrix products only: convref's forward does exactly conv2d's multiply-adds."""
    counted = []

    def count_instead_of_timing(fn, repeat, device, warmup=2):
        with FlopCounterMode(display=False) as counter:
            fn()
        counted.append(counter.get_total_flops())
        return 1.0

    monkeypatch.setattr(bench, "time_call", count_instead_of_timing)
    monkeypatch.setattr(bench, "peak_memory", lambda fn, device: 1)
    timings = bench.bench_deformable(**{**TINY, "batch": 2}, include_reference=False)
    rows = {t.name: flops for t, flops in zip(timings, counted)}
    conv_flops = 2 * 2 * 4 * 4 * 9 * 6 * 6
    assert rows["torch conv2d 3x3 (forward)"] == conv_flops
    assert rows["convref.functional.deform_conv2d (forward)"] == conv_flops


def test_bench_separable_even_kernel_counts_each_stage():
    """An even kernel padded by k // 2 gives one more row and column; the column stage keeps the input's width."""
    timings = bench.bench_separable(**{**TINY, "size": 6}, kernel_size=4)
    assert timings[0].mult_adds == 4 * 16 * 7 * 7
    assert [t.mult_adds for t in timings[1:]] == [4 * 4 * (7 * 6 + 7 * 7)] * 3


BENCH_CALLS = [
    (bench.bench_conv2d, dict(kernel_size=3)),
    (bench.bench_conv2d, dict(kernel_size=4)),
    (bench.bench_grouped, dict(kernel_size=3, groups=2)),
    (bench.bench_grouped, dict(kernel_size=2, groups=4)),
    (bench.bench_depthwise, dict(kernel_size=3)),
    (bench.bench_depthwise, dict(kernel_size=4)),
    (bench.bench_separable, dict(kernel_size=3)),
    (bench.bench_separable, dict(kernel_size=4)),
    (bench.bench_dilated, dict(kernel_size=3, dilation=2)),
    (bench.bench_dilated, dict(kernel_size=3, dilation=4)),  # the block (4) does not divide the padded size (14)
    (bench.bench_dilated, dict(kernel_size=2, dilation=3)),
    (bench.bench_transposed, dict(kernel_size=4, stride=2)),
    (bench.bench_transposed, dict(kernel_size=3, stride=2)),
    (bench.bench_transposed, dict(kernel_size=3, stride=3)),
]


@pytest.mark.parametrize("benchmark, kwargs", BENCH_CALLS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_mult_adds_match_torch_flop_counter(monkeypatch, benchmark, kwargs):
    """Every PyTorch candidate does the multiply-adds it reports, as PyTorch's FLOP counter sees them."""
    counted = []

    def count_instead_of_timing(fn, repeat, device, warmup=2):
        with FlopCounterMode(display=False) as counter:
            fn()
        counted.append(counter.get_total_flops())
        return 1.0

    monkeypatch.setattr(bench, "time_call", count_instead_of_timing)
    timings = benchmark(**{**TINY, "batch": 2}, include_reference=False, **kwargs)
    assert len(counted) == len(timings)
    for t, flops in zip(timings, counted):
        assert flops == 2 * t.mult_adds, t.name


@pytest.mark.parametrize("name", list(bench.BENCHMARKS))
def test_without_reference_drops_the_numpy_row(name):
    kwargs = dict(TINY, include_reference=False)
    timings = bench.BENCHMARKS[name](**kwargs)
    with_reference = bench.BENCHMARKS[name](**TINY)
    assert not any("NumPy" in t.name for t in timings)
    assert [t.name for t in with_reference if "NumPy" not in t.name] == [t.name for t in timings]
    assert len(with_reference) == len(timings) + 1
    assert timings[0].ratio == 1.0


def test_benchmarks_registry():
    assert list(bench.BENCHMARKS) == ["conv2d", "grouped", "depthwise", "separable", "dilated", "transposed", "non_local", "shift", "deformable", "adder", "dynamic"]
    assert bench.BENCHMARKS["conv2d"] is bench.bench_conv2d
    assert bench.BENCHMARKS["separable"] is bench.bench_separable


def test_time_call_runs_warmup_and_repeats():
    calls = []
    seconds = bench.time_call(lambda: calls.append(1), repeat=3, device=torch.device("cpu"), warmup=2)
    assert len(calls) == 5
    assert seconds >= 0


def test_format_table():
    timings = [bench.Timing("base", 0.002, 1.0, 100, 1.0), bench.Timing("other one", 0.001, 0.5, 50, 0.5)]
    lines = bench.format_table("title", timings).splitlines()
    assert lines[0] == "title"
    assert lines[1].split() == ["implementation", "median", "ms", "x", "baseline", "mult-adds", "x"]
    assert lines[2].split() == ["base", "2.000", "1.00", "1.00"]
    assert lines[3].split() == ["other", "one", "1.000", "0.50", "0.50"]


MAIN_ARGS = ["--repeat", "1", "--size", "8", "--channels", "4", "--batch", "1", "--device", "cpu"]


def _tables(out: str) -> list[list[str]]:
    return [block.splitlines() for block in out.strip().split("\n\n")]


def test_main_prints_a_table(capsys):
    bench.main(["conv2d", *MAIN_ARGS])
    (lines,) = _tables(capsys.readouterr().out)
    assert lines[0].startswith("conv2d: N=1, C=4, 8x8, on cpu (torch ")
    assert lines[0].endswith("baseline = first row")
    assert lines[1].split() == ["implementation", "median", "ms", "x", "baseline", "mult-adds", "x"]
    assert len(lines) == 5  # title, header, three implementations
    assert lines[2].startswith("torch conv2d (groups=1)")
    assert lines[2].split()[-2:] == ["1.00", "1.00"]  # the baseline row: x baseline, mult-adds x


def test_main_runs_every_benchmark_by_default(capsys):
    bench.main(MAIN_ARGS)
    tables = _tables(capsys.readouterr().out)
    assert [lines[0].split(":")[0] for lines in tables] == [
        "conv2d", "grouped", "depthwise", "separable", "dilated", "transposed", "non_local", "shift", "deformable", "adder", "dynamic"
    ]
    for lines in tables:
        assert "median ms" in lines[1] and "x baseline" in lines[1] and "mult-adds x" in lines[1]
        columns = 4 if "peak MiB" in lines[1] else 2  # the memory columns follow when measured
        baseline = ["1.00", "0.00"] if lines[0].startswith("shift") else ["1.00", "1.00"]  # a copy: no arithmetic
        assert lines[2].split()[-columns:][:2] == baseline
    # the last column, from the formulas: the full conv does groups (4) and channels (4) times the
    # work of the grouped and depthwise ones; 7x1 + 1x7 does 2/7 = 0.29 of the 7x7's
    assert tables[1][-1].startswith("torch conv2d (groups=1, full)") and tables[1][-1].split()[-1] == "4.00"
    assert tables[2][-1].startswith("torch conv2d (groups=1, full)") and tables[2][-1].split()[-1] == "4.00"
    assert [row.split()[-1] for row in tables[3][3:]] == ["0.29"] * 3


def test_main_runs_the_named_benchmarks_in_order(capsys):
    bench.main(["separable", "grouped", *MAIN_ARGS])
    tables = _tables(capsys.readouterr().out)
    assert [lines[0].split(":")[0] for lines in tables] == ["separable", "grouped"]


def test_main_default_device(capsys):
    bench.main(["conv2d", "--repeat", "1", "--size", "8", "--channels", "4", "--batch", "1"])
    out = capsys.readouterr().out
    assert "torch conv2d (groups=1)" in out
    assert f"on {'cuda' if torch.cuda.is_available() else 'cpu'} " in out


def test_main_rejects_unknown_operator(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["conv2d", "deform_conv2d"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: deform_conv2d (choose from conv2d, grouped, depthwise, separable, dilated, transposed, non_local, shift, deformable, adder, dynamic)" in err
    assert capsys.readouterr().out == ""  # nothing ran


@pytest.mark.cuda
def test_bench_on_cuda():
    for benchmark in bench.BENCHMARKS.values():
        timings = benchmark(batch=2, channels=4, size=16, repeat=2, device="cuda")
        assert timings[0].ratio == 1.0
        assert all(t.seconds > 0 for t in timings)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grouped", "--channels", "6"], "--groups must divide --channels, got 4 and 6"),
        (["conv2d", "--repeat", "0"], "--repeat must be >= 1, got 0"),
        (["conv2d", "--size", "-1"], "--size must be >= 1, got -1"),
        (["conv2d", "--threads", "0"], "--threads must be >= 1, got 0"),
    ],
)
def test_main_rejects_bad_options(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_main_threads_option_sets_and_reports_the_thread_count(capsys):
    before = torch.get_num_threads()
    try:
        bench.main(["conv2d", *MAIN_ARGS, "--threads", "1"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert ", 1 CPU threads); baseline = first row" in capsys.readouterr().out


def test_main_grouped_uses_the_groups_option(capsys):
    bench.main(["grouped", "--repeat", "1", "--size", "6", "--channels", "6", "--batch", "1", "--groups", "3", "--device", "cpu"])
    assert "torch conv2d (groups=3)" in capsys.readouterr().out


def test_time_call_rejects_zero_repeats():
    with pytest.raises(ValueError, match=r"^repeat must be >= 1, got 0$"):
        bench.time_call(lambda: None, repeat=0, device=bench.torch.device("cpu"))


def test_bench_adder_tiny():
    timings = bench.bench_adder(**TINY)
    names = ["unfold-broadcast-sum (authors' code)", "convref.functional.adder2d"]
    assert [t.name for t in timings] == [
        *(f"{name} (forward)" for name in names),
        *(f"{name} (forward+backward)" for name in names),
        "torch conv2d 3x3 (forward)",
        "convref.reference.adder2d (NumPy, forward)",
    ]
    _check_ratios(timings)
    count = 4 * 4 * 9 * 6 * 6  # C_out C_in k^2 H W, one image, padding 1
    assert [t.mult_adds for t in timings] == [count, count, 3 * count, 3 * count, count, count]
    assert all(t.peak_bytes is not None for t in timings[:-1]) and timings[-1].peak_bytes is None


def test_broadcast_adder_baseline_computes_the_adder_layer():
    """The baseline must be the same layer as the candidate, with the same (paper's) gradients."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 5, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    grad = torch.randn(2, 4, 5, 5, generator=generator, dtype=torch.float64)
    expected_y = reference.adder2d(x.numpy(), weight.numpy(), padding=1)
    expected_grads = reference.adder2d_backward(x.numpy(), weight.numpy(), grad.numpy(), padding=1)
    leaves = [x.clone().requires_grad_(), weight.clone().requires_grad_()]
    y = bench.broadcast_adder2d(*leaves, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), expected_y, rtol=1e-12)
    y.backward(grad)
    for leaf, want in zip(leaves, expected_grads):
        np.testing.assert_allclose(leaf.grad.numpy(), want, rtol=1e-12, atol=1e-12)


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
    peak = bench.peak_memory(lambda: Temporaries.apply(x), torch.device("cpu"))
    assert 2 * 4 * size <= peak <= 2 * 4 * size + 2**16


def test_bench_dynamic_tiny():
    timings = bench.bench_dynamic(**{**TINY, "batch": 2}, num_kernels=(2, 3))
    rows = ["torch conv2d 3x3, static"]
    for k in (2, 3):
        rows += [f"convref.functional.dynamic_conv2d, K={k}", f"per-sample conv2d loop, K={k}"]
    assert [t.name for t in timings] == [
        *(f"{row} (forward)" for row in rows),
        *(f"{row} (forward+backward)" for row in rows),
        "convref.reference.dynamic_conv2d, K=2 (NumPy, forward)",
    ]
    _check_ratios(timings)
    conv = 2 * 4 * 4 * 9 * 6 * 6  # N C_out C_in k^2 H W, padding 1
    mixing = {k: 2 * k * (4 * 4 * 9 + 4) for k in (2, 3)}  # K multiply-adds per kernel entry and bias, per sample
    forward = [conv, conv + mixing[2], conv + mixing[2], conv + mixing[3], conv + mixing[3]]
    assert [t.mult_adds for t in timings] == [*forward, *(3 * m for m in forward), conv + mixing[2]]


def test_per_sample_baseline_is_dynamic_convolution():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(3, 2, 5, 5, generator=generator, dtype=torch.float64)
    weights = torch.randn(4, 3, 2, 3, 3, generator=generator, dtype=torch.float64)
    attention = torch.rand(3, 4, generator=generator, dtype=torch.float64)
    bias = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    expected = reference.dynamic_conv2d(x.numpy(), weights.numpy(), attention.numpy(), bias.numpy(), padding=1)
    got = bench.per_sample_dynamic_conv2d(x, weights, attention, bias, padding=1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    no_bias = reference.dynamic_conv2d(x.numpy(), weights.numpy(), attention.numpy(), padding=1)
    np.testing.assert_allclose(bench.per_sample_dynamic_conv2d(x, weights, attention).numpy(), no_bias, rtol=1e-12, atol=1e-12)
