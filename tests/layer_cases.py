"""The layers of :mod:`convref.nn` as the layer-wide tests build them: one small case each.

The dtype and layout table (``test_layer_matrix.py``), the export and compile tests
(``test_layer_export.py``) and the two-process test (``test_ddp.py``) all take their
layers and inputs from here, and the compatibility matrix on the API page has one row
per entry of :data:`LAYERS`. Their tolerances are here too, so that the page states
the ones the tests use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from convref import nn

# The tolerances of the layer-wide tests, which the API page's matrix also states.

#: How far a case's output may be from the float32 output, relative to the largest
#: float32 value: float64 differs by float32's rounding; bfloat16 keeps 8 bits, and
#: autocast rounds the input and the weights to it before the products.
TOLERANCE = {
    "float64": 1e-5,
    "bfloat16 autocast": 4e-2,
    "channels_last": 1e-5,
    "non-contiguous": 1e-6,
}


#: A layer converted to half precision, against its float32 output: float16 keeps 11
#: bits, bfloat16 8; the parameters and the input are rounded, and so is the output.
HALF_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 4e-2}


#: Export and compilation change the order of floating-point sums, nothing else: float32
#: rounding for the ONNX models, float64 rounding for the compiled layers.
EXPORT_TOLERANCE = 1e-5
COMPILE_TOLERANCE = 1e-10


@dataclass(frozen=True)
class LayerCase:
    """A layer and its input: ``build()`` returns the layer, ``shape`` one input's shape."""

    build: Callable[[], torch.nn.Module]
    shape: tuple[int, ...] = (4, 9, 9)
    #: Extra inputs after ``x`` (DeformConv2d's offsets and mask), made from ``x``.
    extra: Callable[[torch.Tensor], tuple] | None = None


def deform_inputs(x: torch.Tensor) -> tuple:
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
        lambda: nn.DeformConv2d(4, 6, 3, padding=1), extra=deform_inputs
    ),
    "DCN2d": LayerCase(lambda: nn.DCN2d(4, 6, 3, padding=1, modulated=True)),
    "ActiveConv2d": LayerCase(lambda: nn.ActiveConv2d(4, 6, 3, padding=1)),
    "DclsConv2d": LayerCase(lambda: nn.DclsConv2d(4, 6, 3, 5, padding=2)),
    "Adder2d": LayerCase(lambda: nn.Adder2d(4, 6, 3, padding=1)),
    "CondConv2d": LayerCase(lambda: nn.CondConv2d(4, 6, 3, padding=1)),
    "DynamicConv2d": LayerCase(lambda: nn.DynamicConv2d(4, 6, 3, padding=1)),
    "SelectiveKernel2d": LayerCase(lambda: nn.SelectiveKernel2d(4, 6)),
    "LightweightConv1d": LayerCase(
        lambda: nn.LightweightConv1d(4, 4, heads=2, bias=True), (4, 17)
    ),
    "DynamicLightweightConv1d": LayerCase(
        lambda: nn.DynamicLightweightConv1d(4, 3, heads=2, padding="causal", bias=True),
        (4, 17),
    ),
}


def layer_and_input(name: str, batch: int = 3):
    """The layer ``name`` in eval mode, with moved offsets, its input ``x`` and ``extra``."""
    case = LAYERS[name]
    torch.manual_seed(0)
    layer = case.build().eval()  # batch norm on its running statistics
    # fractional offsets, so that the deformable taps and the active shifts interpolate
    with torch.no_grad():
        for parameter_name, parameter in layer.named_parameters():
            if any(key in parameter_name for key in ("offset", "positions", "shifts")):
                parameter.add_(torch.randn_like(parameter) * 0.5)
    x = torch.randn(batch, *case.shape, generator=torch.Generator().manual_seed(2))
    return layer, x, case.extra


def layer_inputs(x: torch.Tensor, extra) -> tuple:
    """The positional inputs of a layer's forward: ``x`` and what ``extra`` makes from it."""
    return (x, *extra(x)) if extra else (x,)


def run_layer(layer, x, extra) -> torch.Tensor:
    """``layer(x, *extra(x))``."""
    return layer(*layer_inputs(x, extra))


def relative_error(output: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest difference, relative to the largest value of ``expected``."""
    scale = expected.detach().abs().max().clamp_min(1e-6)
    return float(
        (output.detach().double() - expected.detach().double()).abs().max() / scale
    )
