"""convref.bench's table of cases: each case runs, reports ratios to its baseline, and counts right.

The multiply-add counts it reports are checked against formulas written out here and
against PyTorch's FLOP counter run on the very calls it times. The rows that compute the
same function are run in float64 and must agree; the baselines are checked against the
NumPy reference. No timing is asserted.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from convref import bench, reference

TINY = dict(batch=1, channels=4, size=6, repeat=1, device="cpu")
HAS_TORCHVISION = (
    bench.torchvision_deform_conv2d() is not None
)  # the GPU image has torchvision


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
def test_conv2d_tiny(kernel_size):
    timings = bench.run_case("conv2d", **TINY, kernel_size=kernel_size)
    assert [t.name for t in timings] == [
        "torch conv2d (groups=1)",
        "convref.functional.conv2d (groups=1)",
        "convref.reference.conv2d (groups=1, NumPy)",
    ]
    _check_ratios(timings)
    out = _out(6, kernel_size)
    assert [t.mult_adds for t in timings] == [
        4 * 4 * kernel_size**2 * out * out
    ] * 3  # C_out C_in k^2 H_out W_out
    assert [t.mult_adds_ratio for t in timings] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_grouped_tiny(groups):
    timings = bench.run_case("grouped", **TINY, kernel_size=3, groups=groups)
    assert [t.name for t in timings] == [
        f"torch conv2d (groups={groups})",
        f"convref.functional.conv2d (groups={groups})",
        f"convref.reference.conv2d (groups={groups}, NumPy)",
        "torch conv2d (groups=1, full)",
    ]
    _check_ratios(timings)
    assert timings[0].mult_adds == 4 * (4 // groups) * 9 * 6 * 6
    assert [t.mult_adds_ratio for t in timings] == [
        1.0,
        1.0,
        1.0,
        groups,
    ]  # the full conv: groups times the work


@pytest.mark.parametrize("channels", [3, 8])
def test_depthwise_tiny(channels):
    timings = bench.run_case(
        "depthwise", **{**TINY, "channels": channels}, kernel_size=3
    )
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
def test_separable_tiny(kernel_size):
    timings = bench.run_case(
        "separable", **{**TINY, "size": 8}, kernel_size=kernel_size
    )
    k = kernel_size
    assert [t.name for t in timings] == [
        f"torch conv2d {k}x{k} depthwise",
        f"torch conv2d {k}x1 then 1x{k}",
        "convref.functional.separable_conv2d",
        "convref.reference.separable_conv2d (NumPy)",
    ]
    _check_ratios(timings)
    assert timings[0].mult_adds == 4 * k * k * 8 * 8
    assert [t.mult_adds for t in timings[1:]] == [
        4 * 2 * k * 8 * 8
    ] * 3  # k + k taps instead of k * k
    assert [t.mult_adds_ratio for t in timings] == [1.0] + [2 / k] * 3


def test_separable_even_kernel_counts_each_stage():
    """An even kernel padded by k // 2 gives one more row and column; the column stage keeps the input's width."""
    timings = bench.run_case("separable", **{**TINY, "size": 6}, kernel_size=4)
    assert timings[0].mult_adds == 4 * 16 * 7 * 7
    assert [t.mult_adds for t in timings[1:]] == [4 * 4 * (7 * 6 + 7 * 7)] * 3


@pytest.mark.parametrize("dilation", [2, 3])
def test_dilated_tiny(dilation):
    timings = bench.run_case("dilated", **TINY, kernel_size=3, dilation=dilation)
    assert [t.name for t in timings] == [
        f"torch conv2d 3x3 rate {dilation}",
        f"convref.functional.conv2d 3x3 rate {dilation}",
        "convref.functional.conv2d_dilated_kernel",
        "convref.functional.conv2d_space_to_batch",
        f"convref.reference.conv2d 3x3 rate {dilation} (NumPy)",
    ]
    _check_ratios(timings)
    span = 2 * dilation + 1
    assert (
        timings[0].mult_adds == 4 * 4 * 9 * 6 * 6
    )  # same padding: 6x6 out, 9 taps, whatever the rate
    assert (
        timings[2].mult_adds == 4 * 4 * span**2 * 6 * 6
    )  # the zero-filled kernel multiplies its zeros
    # padded side 6 + 2d, rounded up to a multiple of d, split into d*d sub-images of side m
    m = -(-(6 + 2 * dilation) // dilation)
    assert timings[3].mult_adds == dilation**2 * 4 * 4 * 9 * (m - 2) ** 2


@pytest.mark.parametrize("kernel_size, stride", [(4, 2), (3, 2), (2, 2)])
def test_transposed_tiny(kernel_size, stride):
    timings = bench.run_case(
        "transposed", **TINY, kernel_size=kernel_size, stride=stride
    )
    assert [t.name for t in timings] == [
        f"torch conv_transpose2d k={kernel_size} s={stride}",
        "convref.functional.conv_transpose2d",
        "convref.functional.conv_transpose2d_as_conv",
        "convref.reference.conv_transpose2d (NumPy)",
    ]
    _check_ratios(timings)
    pad = (kernel_size - stride + 1) // 2
    out = (6 - 1) * stride - 2 * pad + kernel_size
    assert (
        timings[0].mult_adds == 4 * 4 * kernel_size**2 * 6 * 6
    )  # one stamp of the kernel per input pixel
    assert (
        timings[2].mult_adds == 4 * 4 * kernel_size**2 * out * out
    )  # a full conv over the stuffed image


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product"])
def test_non_local_tiny(mode):
    timings = bench.run_case("non_local", **TINY, mode=mode)
    assert [t.name for t in timings] == [
        "explicit affinity A g (forward)",
        "convref.functional.non_local_response (forward)",
        "explicit affinity A g (forward+backward)",
        "convref.functional.non_local_response (forward+backward)",
        "convref.reference.non_local_response (NumPy, forward)",
    ]
    _check_ratios(timings)
    c, ci, p = 4, 2, 36  # channels, inter channels, positions (6x6)
    explicit = (
        3 * c * ci * p + 2 * p * p * ci
    )  # theta, phi, g; then theta^T phi and A g
    implicit = (
        explicit if mode == "embedded_gaussian" else 3 * c * ci * p + 2 * p * ci * ci
    )  # theta^T (phi g^T)
    assert [t.mult_adds for t in timings] == [
        explicit,
        implicit,
        3 * explicit,
        3 * implicit,
        explicit,
    ]
    assert (
        all(t.peak_bytes is not None for t in timings[:4])
        and timings[4].peak_bytes is None
    )  # NumPy: not measured


def test_non_local_rejects_other_modes():
    with pytest.raises(
        ValueError,
        match="^mode must be 'embedded_gaussian' or 'dot_product', got 'gaussian'$",
    ):
        bench.run_case("non_local", **TINY, mode="gaussian")


def test_shift_tiny():
    timings = bench.run_case("shift", **TINY)
    assert [t.name for t in timings] == [
        "x.clone() (memory floor)",
        "convref.functional.pattern_shift2d (grouped)",
        "convref.functional.pattern_shift2d (interleaved)",
        "convref.functional.shift2d (any table)",
        "convref.functional.shift2d (fractional)",
        "torch conv2d 3x3 depthwise",
        "convref.reference.shift2d (NumPy)",
    ]
    assert timings[0].ratio == 1.0 and all(t.seconds > 0 for t in timings)
    depthwise = 4 * 9 * 6 * 6  # C k^2 H W for one image
    assert [t.mult_adds for t in timings] == [
        0,
        0,
        0,
        0,
        4 * 4 * 6 * 6,
        depthwise,
        0,
    ]  # fractional: 4 weights per value
    assert [t.mult_adds_ratio for t in timings] == [
        0.0,
        0.0,
        0.0,
        0.0,
        16 / 36,
        1.0,
        0.0,
    ]  # against the depthwise count


def test_shift_rows_agree_where_the_pattern_moves():
    """With 4 channels (fewer than 9 directions) nothing moves; with 18 the pattern row takes its one-copy path."""
    rows = bench.candidates(
        bench.CASES["shift"],
        device="cpu",
        dtype=torch.float64,
        batch=2,
        channels=18,
        size=6,
    )
    grouped = [row for row in rows if row.agrees == "grouped"]
    assert [row.name for row in grouped] == [
        "convref.functional.pattern_shift2d (grouped)",
        "convref.functional.shift2d (any table)",
        "convref.reference.shift2d (NumPy)",
    ]
    (expected,) = _as_numpy(
        grouped[-1].run()
    )  # the NumPy reference, a loop over channels
    assert (
        np.count_nonzero(expected == 0) > 0
    )  # some values were moved out and replaced by zeros
    for row in grouped[:-1]:
        (got,) = _as_numpy(row.run())
        np.testing.assert_array_equal(got, expected, err_msg=row.name)


def test_shift_case_keeps_its_shape():
    """``python -m convref.bench shift`` is compared across changes at N=32, C=256: its defaults stay."""
    assert dict(bench.CASES["shift"].params) == dict(batch=32, channels=256, size=56)


def test_deformable_tiny():
    timings = bench.run_case("deformable", **TINY)
    implementations = ["torch conv2d 3x3"]
    if HAS_TORCHVISION:
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
    assert [t.mult_adds for t in timings] == [
        conv,
        *deform,
        3 * conv,
        *(3 * m for m in deform),
        conv + sampling,
    ]
    assert (
        all(t.peak_bytes is not None for t in timings[:-1])
        and timings[-1].peak_bytes is None
    )


def test_deformable_depthwise_tiny():
    """Depthwise weights: nine multiply-adds per output value, and the same sampling."""
    timings = bench.run_case("deformable_depthwise", **TINY)
    assert timings[0].name == "torch conv2d 3x3 depthwise (forward)"
    _check_ratios(timings)
    conv = 4 * 9 * 6 * 6  # C k^2 H W: one input channel per output channel
    sampling = 5 * 4 * 9 * 6 * 6  # four bilinear weights and a mask per sampled value
    by_name = {t.name: t.mult_adds for t in timings}
    assert by_name["torch conv2d 3x3 depthwise (forward)"] == conv
    assert by_name["convref.functional.deform_conv2d (forward)"] == conv + sampling
    assert by_name["convref.functional.deform_conv2d (forward+backward)"] == 3 * (
        conv + sampling
    )


def test_adder_tiny():
    timings = bench.run_case("adder", **TINY)
    names = ["unfold-broadcast-sum (authors' code)", "convref.functional.adder2d"]
    assert [t.name for t in timings] == [
        *(f"{name} (forward)" for name in names),
        *(f"{name} (forward+backward)" for name in names),
        "torch conv2d 3x3 (forward)",
        "convref.reference.adder2d (NumPy, forward)",
    ]
    _check_ratios(timings)
    count = 4 * 4 * 9 * 6 * 6  # C_out C_in k^2 H W, one image, padding 1
    assert [t.mult_adds for t in timings] == [
        count,
        count,
        3 * count,
        3 * count,
        count,
        count,
    ]
    assert (
        all(t.peak_bytes is not None for t in timings[:-1])
        and timings[-1].peak_bytes is None
    )


def test_dynamic_tiny():
    timings = bench.run_case("dynamic", **{**TINY, "batch": 2}, num_kernels=(2, 3))
    rows = ["torch conv2d 3x3, static"]
    for k in (2, 3):
        rows += [
            f"convref.functional.dynamic_conv2d, K={k}",
            f"per-sample conv2d loop, K={k}",
        ]
    assert [t.name for t in timings] == [
        *(f"{row} (forward)" for row in rows),
        *(f"{row} (forward+backward)" for row in rows),
        "convref.reference.dynamic_conv2d, K=2 (NumPy, forward)",
    ]
    _check_ratios(timings)
    conv = 2 * 4 * 4 * 9 * 6 * 6  # N C_out C_in k^2 H W, padding 1
    mixing = {
        k: 2 * k * (4 * 4 * 9 + 4) for k in (2, 3)
    }  # K multiply-adds per kernel entry and bias, per sample
    forward = [
        conv,
        conv + mixing[2],
        conv + mixing[2],
        conv + mixing[3],
        conv + mixing[3],
    ]
    assert [t.mult_adds for t in timings] == [
        *forward,
        *(3 * m for m in forward),
        conv + mixing[2],
    ]


def test_dynamic_rejects_a_zero_kernel_count():
    with pytest.raises(ValueError, match=r"^num_kernels must be >= 1, got 0$"):
        bench.run_case("dynamic", **TINY, num_kernels=(2, 0))


LIGHTWEIGHT_ROWS = [
    "torch conv1d, depthwise (the H kernels repeated to C)",
    "convref.functional.lightweight_conv1d (H=2)",
    "convref.functional.dynamic_lightweight_conv1d",
    "band matrix + bmm (the authors' training path)",
    "self-attention over the sequence (torch SDPA, H=2)",
]


@pytest.mark.parametrize("kernel_size", [3, 4])
def test_lightweight_tiny(kernel_size):
    timings = bench.run_case(
        "lightweight", **{**TINY, "batch": 2}, kernel_size=kernel_size, heads=2
    )
    assert [t.name for t in timings] == [
        *(f"{row} (forward)" for row in LIGHTWEIGHT_ROWS),
        *(f"{row} (forward+backward)" for row in LIGHTWEIGHT_ROWS),
        "convref.reference.dynamic_lightweight_conv1d (NumPy, forward)",
    ]
    _check_ratios(timings)
    window = 2 * 4 * 6 * kernel_size  # N C T K: K taps per output
    band = 2 * 4 * 6 * 6  # N C T T: the band matrix multiplies a whole row
    attention = 2 * 2 * 4 * 6 * 6  # Q K^T and A V, each N C T^2
    forward = [window, window, window, band, attention]
    assert [t.mult_adds for t in timings] == [
        *forward,
        *(3 * m for m in forward),
        window,
    ]
    assert all(t.peak_bytes > 0 for t in timings if "NumPy" not in t.name)


def test_lightweight_rejects_heads_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match=r"^heads must divide channels = 4, got 3$"):
        bench.run_case("lightweight", **TINY, heads=3)


def _count_instead_of_timing(counted: list[int]):
    def time_call(fn, repeat, device, warmup=2):
        with FlopCounterMode(display=False) as counter:
            fn()
        counted.append(counter.get_total_flops())
        return 1.0

    return time_call


def test_deformable_matmul_does_the_convolutions_work(monkeypatch):
    """The FLOP counter sees the matrix products only: convref's forward does exactly conv2d's multiply-adds."""
    counted: list[int] = []
    monkeypatch.setattr(bench.harness, "time_call", _count_instead_of_timing(counted))
    monkeypatch.setattr(bench.harness, "peak_memory", lambda fn, device: 1)
    timings = bench.run_case(
        "deformable", **{**TINY, "batch": 2}, include_reference=False
    )
    rows = {t.name: flops for t, flops in zip(timings, counted)}
    conv_flops = 2 * 2 * 4 * 4 * 9 * 6 * 6
    assert rows["torch conv2d 3x3 (forward)"] == conv_flops
    assert rows["convref.functional.deform_conv2d (forward)"] == conv_flops


def test_layers_case_counts_what_torch_counts(monkeypatch):
    """The layers' forward rows do the multiply-adds they report; the groups-blind
    backward formula of the counter is left out, as for the lightweight case."""
    counted: list[int] = []
    monkeypatch.setattr(bench.harness, "time_call", _count_instead_of_timing(counted))
    timings = bench.run_case("layers", **{**TINY, "batch": 2}, include_reference=False)
    assert len(counted) == len(timings) == 12
    for t, flops in zip(timings, counted):
        if "backward" not in t.name or "depthwise" not in t.name:
            assert flops == 2 * t.mult_adds, t.name


def test_layers_run_pytorchs_own_kernels():
    """convref.nn.Conv2d and ConvTranspose2d give PyTorch's float32 result to the last bit
    (the im2col and fold versions of convref.functional round differently), gradients too."""
    rows = bench.candidates(
        bench.CASES["layers"],
        device="cpu",
        dtype=torch.float32,
        batch=2,
        channels=8,
        size=9,
    )
    by_name = {row.name: row for row in rows}
    for name in by_name:
        if name.startswith("torch.nn."):
            ours = name.replace("torch.nn.", "convref.nn.")
            for a, b in zip(
                _as_numpy(by_name[name].run()), _as_numpy(by_name[ours].run())
            ):
                assert np.array_equal(a, b), ours


FLOP_CASES = [
    ("conv2d", dict(kernel_size=3)),
    ("conv2d", dict(kernel_size=4)),
    ("grouped", dict(kernel_size=3, groups=2)),
    ("grouped", dict(kernel_size=2, groups=4)),
    ("depthwise", dict(kernel_size=3)),
    ("depthwise", dict(kernel_size=4)),
    ("separable", dict(kernel_size=3)),
    ("separable", dict(kernel_size=4)),
    ("dilated", dict(kernel_size=3, dilation=2)),
    (
        "dilated",
        dict(kernel_size=3, dilation=4),
    ),  # the block (4) does not divide the padded size (14)
    ("dilated", dict(kernel_size=2, dilation=3)),
    ("transposed", dict(kernel_size=4, stride=2)),
    ("transposed", dict(kernel_size=3, stride=2)),
    ("transposed", dict(kernel_size=3, stride=3)),
]


@pytest.mark.parametrize("name, params", FLOP_CASES, ids=lambda v: str(v))
def test_mult_adds_match_torch_flop_counter(monkeypatch, name, params):
    """Every PyTorch row does the multiply-adds it reports, as PyTorch's FLOP counter sees them."""
    counted: list[int] = []
    monkeypatch.setattr(bench.harness, "time_call", _count_instead_of_timing(counted))
    timings = bench.run_case(
        name, **{**TINY, "batch": 2}, include_reference=False, **params
    )
    assert len(counted) == len(timings)
    for t, flops in zip(timings, counted):
        assert flops == 2 * t.mult_adds, t.name


def test_lightweight_mult_adds_match_torch_flop_counter(monkeypatch):
    """The rows built on conv1d, bmm and attention do the multiply-adds they report."""
    counted: list[int] = []
    monkeypatch.setattr(bench.harness, "time_call", _count_instead_of_timing(counted))
    monkeypatch.setattr(bench.harness, "peak_memory", lambda fn, device: 1)
    timings = bench.run_case(
        "lightweight",
        **{**TINY, "batch": 2},
        heads=2,
        kernel_size=3,
        include_reference=False,
    )
    # Left out: the dynamic windows, and the depthwise rows' backward passes, for which
    # the counter's formula ignores the groups (it counts a full conv1d's gradients).
    seen = [
        (t, flops)
        for t, flops in zip(timings, counted)
        if "dynamic_lightweight" not in t.name
        and ("backward" not in t.name or "conv1d" not in t.name)
    ]
    assert len(seen) == 6
    for t, flops in seen:
        assert flops == 2 * t.mult_adds, t.name


@pytest.mark.parametrize("name", list(bench.CASES))
def test_without_reference_drops_the_numpy_row(name):
    timings = bench.run_case(name, **TINY, include_reference=False)
    with_reference = bench.run_case(name, **TINY)
    assert not any("NumPy" in t.name for t in timings)
    assert [t.name for t in with_reference if "NumPy" not in t.name] == [
        t.name for t in timings
    ]
    assert len(with_reference) == len(timings) + 1
    assert timings[0].ratio == 1.0


#: Rows that compute a different function from every other row of their case: there only to be
#: compared in time (the full convolution next to a grouped one, a copy next to a shift).
STANDS_ALONE = {
    "grouped": {"torch conv2d (groups=1, full)"},
    "depthwise": {"torch conv2d (groups=1, full)"},
    "shift": {
        "x.clone() (memory floor)",
        "convref.functional.pattern_shift2d (interleaved)",
        "convref.functional.shift2d (fractional)",
        "torch conv2d 3x3 depthwise",
    },
    "deformable": {"torch conv2d 3x3 (forward)", "torch conv2d 3x3 (forward+backward)"}
    # without torchvision, no other row computes the deformable layer's gradients
    | (
        set()
        if HAS_TORCHVISION
        else {"convref.functional.deform_conv2d (forward+backward)"}
    ),
    # the NumPy reference checks the depthwise deformable forward pass; without
    # torchvision no other row computes its gradients
    "deformable_depthwise": {
        "torch conv2d 3x3 depthwise (forward)",
        "torch conv2d 3x3 depthwise (forward+backward)",
    }
    | (
        set()
        if HAS_TORCHVISION
        else {"convref.functional.deform_conv2d (forward+backward)"}
    ),
    "adder": {"torch conv2d 3x3 (forward)"},
    "dynamic": {
        "torch conv2d 3x3, static (forward)",
        "torch conv2d 3x3, static (forward+backward)",
    },
    "lightweight": {
        "self-attention over the sequence (torch SDPA, H=4) (forward)",
        "self-attention over the sequence (torch SDPA, H=4) (forward+backward)",
    },
}


def _as_numpy(output) -> list[np.ndarray]:
    """An output, or a tuple of gradients (None for an input that gets none), as NumPy arrays."""
    outputs = output if isinstance(output, tuple) else (output,)
    return [
        np.asarray(o.detach().cpu() if isinstance(o, torch.Tensor) else o)
        for o in outputs
        if o is not None
    ]


@pytest.mark.parametrize("name", list(bench.CASES))
def test_rows_that_compute_the_same_function_agree(name):
    """In float64, every row agrees with the first row (the baseline, where it is one) that computes the same thing."""
    rows = bench.candidates(
        bench.CASES[name],
        device="cpu",
        dtype=torch.float64,
        batch=2,
        channels=4,
        size=6,
    )
    groups: dict[str, list[bench.Candidate]] = {}
    for row in rows:
        groups.setdefault(row.agrees, []).append(row)
    alone = {row.name for row in groups.pop(None, [])}
    alone |= {group[0].name for group in groups.values() if len(group) == 1}
    assert alone == STANDS_ALONE.get(name, set())
    if rows[0].name not in alone:
        assert (
            rows[0].agrees is not None
        )  # the baseline is what the others are checked against
    for group in groups.values():
        first = _as_numpy(group[0].run())
        for row in group[1:]:
            got = _as_numpy(row.run())
            assert len(got) == len(first), row.name
            for a, b in zip(got, first):
                assert a.dtype == np.float64, row.name
                np.testing.assert_allclose(
                    a, b, rtol=1e-7, atol=1e-7, err_msg=f"{row.name} vs {group[0].name}"
                )


def test_cases_table():
    assert list(bench.CASES) == [
        "conv2d",
        "grouped",
        "depthwise",
        "separable",
        "dilated",
        "transposed",
        "layers",
        "non_local",
        "shift",
        "deformable",
        "deformable_depthwise",
        "adder",
        "dynamic",
        "lightweight",
    ]
    for name, case in bench.CASES.items():
        assert case.name == name
        importlib.import_module(
            f"convref.functional.{case.family}"
        )  # the family is a module of the package
        assert {"batch", "channels", "size"} <= set(case.params)
    assert bench.get_case("shift") is bench.CASES["shift"]


def test_run_case_rejects_an_unknown_case():
    with pytest.raises(
        ValueError,
        match=r"^unknown benchmark case 'deform_conv2d' \(choose from conv2d, grouped, .*, lightweight\)$",
    ):
        bench.run_case("deform_conv2d", **TINY)


def test_run_case_rejects_a_parameter_the_case_lacks():
    with pytest.raises(
        TypeError,
        match=r"^case 'shift' has no parameter 'kernel_size'; its parameters are batch, channels, size$",
    ):
        bench.run_case("shift", **TINY, kernel_size=3)


def test_broadcast_adder_baseline_computes_the_adder_layer():
    """The baseline must be the same layer as the candidate, with the same (paper's) gradients."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 5, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    grad = torch.randn(2, 4, 5, 5, generator=generator, dtype=torch.float64)
    expected_y = reference.adder2d(x.numpy(), weight.numpy(), padding=1)
    expected_grads = reference.adder2d_backward(
        x.numpy(), weight.numpy(), grad.numpy(), padding=1
    )
    leaves = [x.clone().requires_grad_(), weight.clone().requires_grad_()]
    y = bench.broadcast_adder2d(*leaves, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), expected_y, rtol=1e-12)
    y.backward(grad)
    for leaf, want in zip(leaves, expected_grads):
        np.testing.assert_allclose(leaf.grad.numpy(), want, rtol=1e-12, atol=1e-12)


def test_per_sample_baseline_is_dynamic_convolution():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(3, 2, 5, 5, generator=generator, dtype=torch.float64)
    weights = torch.randn(4, 3, 2, 3, 3, generator=generator, dtype=torch.float64)
    attention = torch.rand(3, 4, generator=generator, dtype=torch.float64)
    bias = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    expected = reference.dynamic_conv2d(
        x.numpy(), weights.numpy(), attention.numpy(), bias.numpy(), padding=1
    )
    got = bench.per_sample_dynamic_conv2d(x, weights, attention, bias, padding=1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    no_bias = reference.dynamic_conv2d(
        x.numpy(), weights.numpy(), attention.numpy(), padding=1
    )
    np.testing.assert_allclose(
        bench.per_sample_dynamic_conv2d(x, weights, attention).numpy(),
        no_bias,
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product"])
def test_explicit_non_local_baseline_is_the_response(mode):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 3, 5, generator=generator, dtype=torch.float64)
    theta, phi, g = (
        torch.randn(2, 4, generator=generator, dtype=torch.float64) for _ in range(3)
    )
    expected = reference.non_local_response(
        x.numpy(), theta.numpy(), phi.numpy(), g.numpy(), mode
    )
    got = bench.explicit_non_local_response(x, theta, phi, g, mode)
    assert got.shape == (2, 2, 3, 5)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.cuda
def test_cases_on_cuda():
    for name in bench.CASES:
        timings = bench.run_case(
            name, batch=2, channels=4, size=16, repeat=2, device="cuda"
        )
        assert timings[0].ratio == 1.0
        assert all(t.seconds > 0 for t in timings)


@pytest.mark.cuda
@pytest.mark.parametrize("name", list(bench.CASES))
def test_rows_agree_on_cuda(name):
    """The same float64 agreement on the GPU (where torchvision's deformable op joins the comparison)."""
    rows = bench.candidates(
        bench.CASES[name],
        device="cuda",
        dtype=torch.float64,
        batch=2,
        channels=4,
        size=6,
    )
    groups: dict[str, list[bench.Candidate]] = {}
    for row in rows:
        if row.agrees is not None:
            groups.setdefault(row.agrees, []).append(row)
    for group in groups.values():
        first = _as_numpy(group[0].run())
        for row in group[1:]:
            for a, b in zip(_as_numpy(row.run()), first):
                np.testing.assert_allclose(
                    a, b, rtol=1e-7, atol=1e-7, err_msg=f"{row.name} vs {group[0].name}"
                )


@pytest.mark.parametrize("padding", ["same", "causal"])
@pytest.mark.parametrize("kernel_size", [1, 4, 7])
def test_band_matrix_baseline_is_dynamic_convolution(padding, kernel_size):
    """fairseq's band-matrix form against the NumPy reference's sum over the window."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 9, dtype=torch.float64, generator=generator)
    kernels = torch.randn(
        2, 3, kernel_size, 9, dtype=torch.float64, generator=generator
    )
    expected = reference.dynamic_lightweight_conv1d(
        x.numpy(), kernels.numpy(), padding, softmax=False
    )
    got = bench.band_matrix_dynamic_conv1d(x, kernels, padding)
    assert got.shape == (2, 6, 9)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
