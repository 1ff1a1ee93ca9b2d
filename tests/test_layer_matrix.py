"""Every layer of :mod:`convref.nn` where practitioners put it: dtypes, autocast, layouts, batches.

One table: each layer runs in float64, under ``torch.autocast`` (CPU, bfloat16), on a
channels_last model and input, on an empty batch and on a non-contiguous input, and its
output matches the same layer's float32 output on the plain input within a stated
tolerance. The float32 output is the layer's own, already checked against PyTorch's
operators and the NumPy references by the family tests; what this table tests is that
nothing about the dtype, layout or batch changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from convref import nn

#: How far a case's output may be from the float32 output, relative to the largest
#: float32 value: float64 differs by float32's rounding; bfloat16 keeps 8 bits, and
#: autocast rounds the input and the weights to it before the products.
TOLERANCE = {
    "float64": 1e-5,
    "bfloat16 autocast": 4e-2,
    "channels_last": 1e-5,
    "non-contiguous": 1e-6,
}


@dataclass(frozen=True)
class LayerCase:
    """A layer and its input: ``build()`` returns the layer, ``shape`` one input's shape."""

    build: Callable[[], torch.nn.Module]
    shape: tuple[int, ...] = (4, 9, 9)
    #: Extra inputs after ``x`` (DeformConv2d's offsets and mask), made from ``x``.
    extra: Callable[[torch.Tensor], tuple] | None = None


def _deform_inputs(x: torch.Tensor) -> tuple:
    generator = torch.Generator().manual_seed(1)
    n, _, h, w = x.shape
    offset = torch.randn(n, 18, h, w, generator=generator) * 1.5
    mask = torch.rand(n, 9, h, w, generator=generator)
    return offset.to(x), mask.to(x)  # x's device and dtype


LAYERS: dict[str, LayerCase] = {
    "Conv2d": LayerCase(lambda: nn.Conv2d(4, 6, 3, padding=1)),
    "Conv2d groups": LayerCase(lambda: nn.Conv2d(4, 6, 3, stride=2, groups=2)),
    "Conv1x1": LayerCase(lambda: nn.Conv1x1(4, 6)),
    "DepthwiseSeparableConv2d": LayerCase(
        lambda: nn.DepthwiseSeparableConv2d(4, 6, 3, padding=1, batch_norm=True)
    ),
    "ChannelShuffle": LayerCase(lambda: nn.ChannelShuffle(2)),
    "ASPP": LayerCase(lambda: nn.ASPP(4, 6, rates=(1, 2))),
    "AtrousCascade": LayerCase(lambda: nn.AtrousCascade(4, rates=(1, 2))),
    "CausalConv1d": LayerCase(lambda: nn.CausalConv1d(4, 6, 3, dilation=2), (4, 17)),
    "ConvTranspose2d": LayerCase(
        lambda: nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)
    ),
    "NonLocal2d": LayerCase(lambda: nn.NonLocal2d(4)),
    "NonLocal2d concatenation": LayerCase(
        lambda: nn.NonLocal2d(4, mode="concatenation", sub_sample=False)
    ),
    "Shift2d": LayerCase(lambda: nn.Shift2d(9), (9, 9, 9)),
    "ActiveShift2d": LayerCase(lambda: nn.ActiveShift2d(4), (4, 9, 9)),
    "ShiftBlock": LayerCase(lambda: nn.ShiftBlock(4, 6)),
    "DeformConv2d": LayerCase(
        lambda: nn.DeformConv2d(4, 6, 3, padding=1), extra=_deform_inputs
    ),
    "DCN2d": LayerCase(lambda: nn.DCN2d(4, 6, 3, padding=1, modulated=True)),
    "ActiveConv2d": LayerCase(lambda: nn.ActiveConv2d(4, 6, 3, padding=1)),
    "DclsConv2d": LayerCase(lambda: nn.DclsConv2d(4, 6, 3, 5, padding=2)),
    "Adder2d": LayerCase(lambda: nn.Adder2d(4, 6, 3, padding=1)),
    "CondConv2d": LayerCase(lambda: nn.CondConv2d(4, 6, 3, padding=1)),
    "DynamicConv2d": LayerCase(lambda: nn.DynamicConv2d(4, 6, 3, padding=1)),
    "SelectiveKernel2d": LayerCase(lambda: nn.SelectiveKernel2d(4, 6)),
}


def _layer_and_input(name: str, batch: int = 3):
    case = LAYERS[name]
    torch.manual_seed(0)
    layer = case.build().eval()  # batch norm on its running statistics
    with torch.no_grad():  # non-zero offsets, so that the deformable taps move
        for parameter_name, parameter in layer.named_parameters():
            if "offset" in parameter_name or "positions" in parameter_name:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    x = torch.randn(batch, *case.shape, generator=torch.Generator().manual_seed(2))
    return layer, x, case.extra


def _run(layer, x, extra) -> torch.Tensor:
    inputs = (x, *extra(x)) if extra else (x,)
    return layer(*inputs)


def _relative_error(output: torch.Tensor, expected: torch.Tensor) -> float:
    scale = expected.abs().max().clamp_min(1e-6)
    return float((output.double() - expected.double()).abs().max() / scale)


def _case_output(layer, x, extra, case: str) -> torch.Tensor:
    if case == "float64":
        return _run(layer.double(), x.double(), extra)
    if case == "bfloat16 autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return _run(layer, x, extra)
    if case == "channels_last":
        return _run(
            layer.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
            extra,
        )
    if case == "non-contiguous":
        wide = torch.stack([x, torch.full_like(x, float("nan"))], dim=-1)
        view = wide[..., 0]  # every other value of a wider tensor: a strided view
        assert not view.is_contiguous()
        return _run(layer, view, extra)
    raise AssertionError(case)


CASES = [
    pytest.param(name, case, id=f"{name}-{case}")
    for name in LAYERS
    for case in TOLERANCE
    # a 1-D layer's input is 3-D: no channels_last, the 2-D (4-D tensor) format
    if not (case == "channels_last" and len(LAYERS[name].shape) != 3)
]


@pytest.mark.parametrize("name, case", CASES)
def test_layer_matches_its_float32_output(name, case):
    layer, x, extra = _layer_and_input(name)
    with torch.no_grad():
        expected = _run(layer, x, extra)
        output = _case_output(layer, x, extra, case)
    assert output.shape == expected.shape
    if case == "bfloat16 autocast":
        assert output.dtype in (torch.bfloat16, torch.float32), output.dtype
    error = _relative_error(output, expected)
    assert error <= TOLERANCE[case], f"{name}, {case}: relative error {error:.2e}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_takes_an_empty_batch(name):
    layer, x, extra = _layer_and_input(name)
    with torch.no_grad():
        expected = _run(layer, x, extra)
        empty = _run(layer, x[:0], extra)
    assert empty.shape == (0, *expected.shape[1:])


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_trains_under_autocast(name):
    """A step under bfloat16 autocast gives the input and every parameter a finite gradient."""
    layer, x, extra = _layer_and_input(name)
    layer.train()
    x.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = _run(layer, x, extra).float().square().mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for parameter_name, parameter in layer.named_parameters():
        assert parameter.grad is not None, f"{name}.{parameter_name} has no gradient"
        assert parameter.grad.dtype == parameter.dtype
        assert torch.isfinite(parameter.grad).all(), f"{name}.{parameter_name}"


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_under_cuda_autocast_matches_float32(name, dtype):
    layer, x, extra = _layer_and_input(name)
    layer, x = layer.cuda(), x.cuda()
    with torch.no_grad():
        expected = _run(layer, x, extra)
        with torch.autocast("cuda", dtype=dtype):
            output = _run(layer, x, extra)
    error = _relative_error(output, expected)
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
