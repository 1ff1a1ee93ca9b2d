"""Every layer of :mod:`convref.nn` where practitioners put it: dtypes, autocast, layouts, batches.

One table: each layer runs in float64, under ``torch.autocast`` (CPU, bfloat16), on a
channels_last model and input, on an empty batch and on a non-contiguous input, and its
output matches the same layer's float32 output on the plain input within a stated
tolerance. The float32 output is the layer's own, already checked against PyTorch's
operators and the NumPy references by the family tests; what this table tests is that
nothing about the dtype, layout or batch changes it.
"""

from __future__ import annotations

import pytest
import torch
from layer_cases import (
    HALF_TOLERANCE,
    LAYERS,
    TOLERANCE,
    layer_and_input,
    relative_error,
    run_layer,
)

from convref import nn


def _case_output(layer, x, extra, case: str) -> torch.Tensor:
    if case == "float64":
        return run_layer(layer.double(), x.double(), extra)
    if case == "bfloat16 autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return run_layer(layer, x, extra)
    if case == "channels_last":
        return run_layer(
            layer.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
            extra,
        )
    if case == "non-contiguous":
        wide = torch.stack([x, torch.full_like(x, float("nan"))], dim=-1)
        view = wide[..., 0]  # every other value of a wider tensor: a strided view
        assert not view.is_contiguous()
        return run_layer(layer, view, extra)
    raise AssertionError(case)


#: The cases that are columns of the API page's compatibility matrix.
MATRIX_COLUMNS = {"bfloat16 autocast": "autocast", "channels_last": "channels_last"}

CASES = [
    pytest.param(
        name,
        case,
        id=f"{name}-{case}",
        marks=[pytest.mark.compat(MATRIX_COLUMNS[case])]
        if case in MATRIX_COLUMNS
        else [],
    )
    for name in LAYERS
    for case in TOLERANCE
    # a 1-D layer's input is 3-D: no channels_last, the 2-D (4-D tensor) format
    if not (case == "channels_last" and len(LAYERS[name].shape) != 3)
]


@pytest.mark.parametrize("name, case", CASES)
def test_layer_matches_its_float32_output(name, case):
    layer, x, extra = layer_and_input(name)
    with torch.no_grad():
        expected = run_layer(layer, x, extra)
        output = _case_output(layer, x, extra, case)
    assert output.shape == expected.shape
    if case == "bfloat16 autocast":
        assert output.dtype in (torch.bfloat16, torch.float32), output.dtype
    error = relative_error(output, expected)
    assert error <= TOLERANCE[case], f"{name}, {case}: relative error {error:.2e}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_takes_an_empty_batch(name):
    layer, x, extra = layer_and_input(name)
    with torch.no_grad():
        expected = run_layer(layer, x, extra)
        empty = run_layer(layer, x[:0], extra)
    assert empty.shape == (0, *expected.shape[1:])


@pytest.mark.compat("autocast")
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_trains_under_autocast(name):
    """A step under bfloat16 autocast gives the input and every parameter a finite gradient."""
    layer, x, extra = layer_and_input(name)
    layer.train()
    x.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = run_layer(layer, x, extra).float().square().mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for parameter_name, parameter in layer.named_parameters():
        assert parameter.grad is not None, f"{name}.{parameter_name} has no gradient"
        assert parameter.grad.dtype == parameter.dtype
        assert torch.isfinite(parameter.grad).all(), f"{name}.{parameter_name}"


@pytest.mark.parametrize(
    "dtype",
    [
        pytest.param(dtype, id=str(dtype), marks=pytest.mark.compat(str(dtype)[6:]))
        for dtype in HALF_TOLERANCE
    ],
)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_runs_in_half_precision(name, dtype):
    """``layer.to(dtype)`` on an input in ``dtype``: the float32 output, and finite gradients."""
    layer, x, extra = layer_and_input(name)
    with torch.no_grad():
        expected = run_layer(layer, x, extra)
    layer = layer.to(dtype)  # still in eval mode: batch norm on its running statistics
    x = x.to(dtype).requires_grad_(True)
    output = run_layer(layer, x, extra)  # extra inputs take x's dtype
    assert output.dtype == dtype
    error = relative_error(output, expected)
    assert error <= HALF_TOLERANCE[dtype], (
        f"{name}, {dtype}: relative error {error:.2e}"
    )
    output.float().square().mean().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()
    for parameter_name, parameter in layer.named_parameters():
        assert parameter.grad is not None, f"{name}.{parameter_name} has no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name}.{parameter_name}"


@pytest.fixture
def deterministic_algorithms():
    """``torch.use_deterministic_algorithms(True)`` for one test, then as it was."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.compat("deterministic")
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_is_deterministic(name, deterministic_algorithms):
    """Under PyTorch's deterministic mode, no op refuses, and two steps agree bit for bit."""

    def step() -> list[torch.Tensor]:
        layer, x, extra = layer_and_input(name)
        layer.train()
        x.requires_grad_(True)
        output = run_layer(layer, x, extra)
        output.square().mean().backward()
        return [output, x.grad, *(p.grad for p in layer.parameters())]

    for first, second in zip(step(), step(), strict=True):
        torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_under_cuda_autocast_matches_float32(name, dtype):
    layer, x, extra = layer_and_input(name)
    layer, x = layer.cuda(), x.cuda()
    with torch.no_grad():
        expected = run_layer(layer, x, extra)
        with torch.autocast("cuda", dtype=dtype):
            output = run_layer(layer, x, extra)
    error = relative_error(output, expected)
    assert error <= TOLERANCE["bfloat16 autocast"], f"{name}, {dtype}: {error:.2e}"


def test_conv2d_under_autocast_is_pytorchs_own():
    """Under autocast, functional.conv2d rounds and computes as torch's conv2d does."""
    from convref import functional

    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 9, 9, generator=generator)
    weight = torch.randn(6, 2, 3, 3, generator=generator)
    bias = torch.randn(6, generator=generator)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = functional.conv2d(x, weight, bias, padding=1, groups=2)
        theirs = torch.nn.functional.conv2d(x, weight, bias, padding=1, groups=2)
    assert ours.dtype == theirs.dtype == torch.bfloat16
    # the same bfloat16 operands; a sum may round once more (the bias added apart), so
    # the two agree to within one bfloat16 unit (2^-7 of a value) at the output scale
    scale = float(theirs.float().abs().max())
    torch.testing.assert_close(ours, theirs, rtol=0, atol=scale * 2**-7)


def test_sampling_ops_run_in_float32_under_autocast():
    """deform_conv2d and shift2d: float32 results, as torchvision's autocast policy."""
    from convref import functional

    generator = torch.Generator().manual_seed(4)
    x = torch.randn(2, 4, 9, 9, generator=generator)
    weight = torch.randn(6, 4, 3, 3, generator=generator)
    offset = torch.randn(2, 18, 9, 9, generator=generator) * 40  # far positions
    shifts = torch.randn(4, 2, generator=generator) * 3
    expected = functional.deform_conv2d(x, offset, weight, padding=1)
    expected_shift = functional.shift2d(x, shifts)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sampled = functional.deform_conv2d(x, offset, weight, padding=1)
        shifted = functional.shift2d(x, shifts)
    assert sampled.dtype == shifted.dtype == torch.float32  # x's dtype
    torch.testing.assert_close(sampled, expected)
    torch.testing.assert_close(shifted, expected_shift)


def test_active_shifts_keep_float32_positions_under_autocast():
    """A bfloat16 input does not round the learned shifts: 2.31 stays 2.31, not 2.3125."""
    from convref import functional

    layer = nn.ActiveShift2d(4)
    with torch.no_grad():
        layer.shifts.copy_(
            torch.tensor([[1.3, -0.7], [2.31, 0.1], [-1.17, 0.45], [0.33, 1.9]])
        )
    x = torch.randn(2, 4, 9, 9, generator=torch.Generator().manual_seed(6))
    x = x.to(torch.bfloat16)  # the output of an earlier layer under autocast
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        output = layer(x)
    expected = functional.shift2d(x.float(), layer.shifts.detach()).to(torch.bfloat16)
    assert output.dtype == torch.bfloat16
    torch.testing.assert_close(output, expected, rtol=0, atol=0)
