"""The learned-shape layers (DeformConv2d, DCN2d, ActiveConv2d, DclsConv2d) and arith.deform_conv_cost.

Oracles: torchvision's ``DeformConv2d`` signature (copied here: torchvision is not installed),
PyTorch's own ``F.conv2d`` (a deformable layer starts as a plain convolution, v2 as
half of one; a dilated convolution for DCLS on its regular grid), the NumPy reference (which
reads pixels by explicit bilinear weights, not ``grid_sample``), a dense kernel splatted by the
NumPy ``dcls_kernel`` for the active convolution, explicit shifts with zero fill, parameter
counts of the modules, PyTorch's FLOP counter, and costs worked out by hand.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from layer_cases import HALF_TOLERANCE
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, functional, reference
from convref import nn as cnn

LAYER_CONFIGS = [
    dict(kernel_size=3, stride=1, padding=1, dilation=1, groups=1),
    dict(kernel_size=3, stride=2, padding=1, dilation=1, groups=2),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(2, 0), dilation=(2, 1), groups=1),
    dict(kernel_size=1, stride=1, padding=0, dilation=1, groups=4),
]


def window(config: dict) -> dict:
    return {k: config[k] for k in ("stride", "padding", "dilation", "groups")}


def shift_content(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., h, w] = x[..., h + dy, w + dx]``, zero where that is outside (what an offset (dy, dx) reads)."""
    height, width = x.shape[-2:]
    padded = F.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)))
    return padded[
        ..., abs(dy) + dy : abs(dy) + dy + height, abs(dx) + dx : abs(dx) + dx + width
    ]


# ---------------------------------------------------------------------------
# DeformConv2d: torchvision's layer, offsets given
# ---------------------------------------------------------------------------

EMPTY = inspect.Parameter.empty
#: ``torchvision.ops.DeformConv2d.__init__`` and ``.forward``, copied by hand from torchvision's
#: ``ops/deform_conv.py``: the names, order and defaults that code written for torchvision uses.
TORCHVISION_INIT = [
    ("in_channels", EMPTY),
    ("out_channels", EMPTY),
    ("kernel_size", EMPTY),
    ("stride", 1),
    ("padding", 0),
    ("dilation", 1),
    ("groups", 1),
    ("bias", True),
]
TORCHVISION_FORWARD = [("input", EMPTY), ("offset", EMPTY), ("mask", None)]


def _parameters(function) -> list[tuple[str, object]]:
    parameters = list(inspect.signature(function).parameters.values())[
        1:
    ]  # without self
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)
    return [(p.name, p.default) for p in parameters]


def test_deform_conv2d_has_torchvisions_signature():
    assert _parameters(cnn.DeformConv2d.__init__) == TORCHVISION_INIT
    assert _parameters(cnn.DeformConv2d.forward) == TORCHVISION_FORWARD


def test_deform_conv2d_draws_its_parameters_as_torchvision():
    """torchvision's reset_parameters is nn.Conv2d's: Kaiming-uniform (a = sqrt 5), bias from the fan-in."""
    torch.manual_seed(10)
    ours = cnn.DeformConv2d(
        4, 6, (3, 2), 2, 1, 1, 2
    )  # every argument positional, as torchvision allows
    torch.manual_seed(10)
    theirs = torch.nn.Conv2d(4, 6, (3, 2), 2, 1, 1, 2)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, other, rtol=0, atol=0)
    assert (
        ours.kernel_size,
        ours.stride,
        ours.padding,
        ours.dilation,
        ours.groups,
    ) == ((3, 2), (2, 2), 1, (1, 1), 2)


@pytest.mark.parametrize("modulated", [False, True])
@pytest.mark.parametrize("offset_groups", [1, 2])
def test_deform_conv2d_equals_the_reference_on_given_offsets(modulated, offset_groups):
    torch.manual_seed(11)
    layer = cnn.DeformConv2d(
        4, 6, 3, stride=2, padding=1, dilation=(1, 2), groups=2
    ).double()
    x = torch.randn(2, 4, 9, 10, dtype=torch.float64)
    out_size = (5, 4)
    offset = 1.5 * torch.randn(2, 2 * offset_groups * 9, *out_size, dtype=torch.float64)
    mask = (
        torch.rand(2, offset_groups * 9, *out_size, dtype=torch.float64)
        if modulated
        else None
    )
    y = layer(x, offset, mask) if modulated else layer(x, offset)
    numpy = [
        None if t is None else t.detach().numpy()
        for t in (x, offset, layer.weight, layer.bias, mask)
    ]
    expected = reference.deform_conv2d(*numpy[:4], (2, 2), (1, 1), (1, 2), numpy[4])
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-10, atol=1e-10)
    keywords = layer(input=x, offset=offset, mask=mask)  # torchvision's argument names
    torch.testing.assert_close(keywords, y, rtol=0, atol=0)


def test_deform_conv2d_with_zero_offsets_is_a_convolution():
    torch.manual_seed(12)
    layer = cnn.DeformConv2d(3, 5, 3, padding=1).double()
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    offset = torch.zeros(2, 18, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(
        layer(x, offset), F.conv2d(x, layer.weight, layer.bias, padding=1)
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(groups=3),
            ValueError,
            r"^groups must divide in_channels and out_channels",
        ),
        (dict(kernel_size=0), ValueError, r"^kernel_size must be >= 1, got 0$"),
        (
            dict(stride=1.5),
            TypeError,
            r"^stride must be an int or a pair of ints, got 1\.5$",
        ),
        (
            dict(padding="full"),
            ValueError,
            r"^padding must be an int, a pair of ints, 'valid' or 'same', got 'full'$",
        ),
        (dict(bias=1), TypeError, r"^bias must be a bool, got 1$"),
    ],
)
def test_deform_conv2d_rejects_bad_arguments(kwargs, error, message):
    arguments = dict(in_channels=4, out_channels=6, kernel_size=3) | kwargs
    with pytest.raises(error, match=message):
        cnn.DeformConv2d(**arguments)


def test_deform_conv2d_rejects_offsets_of_the_wrong_size():
    layer = cnn.DeformConv2d(4, 6, 3)
    with pytest.raises(ValueError, match=r"^offset must cover the output, 3x3 pixels"):
        layer(torch.randn(1, 4, 5, 5), torch.zeros(1, 18, 5, 5))


# ---------------------------------------------------------------------------
# DCN2d: the papers' layer, offsets predicted from the input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("config", LAYER_CONFIGS)
@pytest.mark.parametrize("offset_groups", [1, 2])
def test_deform_v1_starts_as_a_plain_convolution(config, offset_groups):
    torch.manual_seed(0)
    layer = cnn.DCN2d(4, 8, offset_groups=offset_groups, **config).double()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    expected = F.conv2d(x, layer.weight, layer.bias, **window(config))
    torch.testing.assert_close(layer(x), expected)
    assert not layer.conv_offset.weight.any() and not layer.conv_offset.bias.any()


@pytest.mark.parametrize("config", LAYER_CONFIGS[:2])
def test_deform_v2_starts_as_half_a_convolution(config):
    torch.manual_seed(1)
    layer = cnn.DCN2d(4, 6, modulated=True, **config).double()
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    offset, mask = layer.offsets_and_mask(x)
    assert not offset.any() and torch.equal(
        mask, torch.full_like(mask, 0.5)
    )  # sigmoid(0)
    half = 0.5 * F.conv2d(x, layer.weight, None, **window(config)) + layer.bias.view(
        1, -1, 1, 1
    )
    torch.testing.assert_close(layer(x), half)


@pytest.mark.parametrize("modulated", [False, True])
def test_deform_layer_equals_the_reference_with_its_predicted_offsets(modulated):
    torch.manual_seed(2)
    layer = cnn.DCN2d(
        4, 6, 3, stride=2, padding=1, groups=2, offset_groups=2, modulated=modulated
    ).double()
    with torch.no_grad():  # move away from the zero start so the offsets matter
        layer.conv_offset.weight.normal_(0, 0.5)
        layer.conv_offset.bias.normal_(0, 1.0)
    x = torch.randn(2, 4, 9, 10, dtype=torch.float64)
    offset, mask = layer.offsets_and_mask(x)
    assert offset.shape == (2, 2 * 2 * 9, 5, 5)
    assert (mask is None) == (not modulated)
    if modulated:
        assert mask.shape == (2, 2 * 9, 5, 5) and bool(((mask > 0) & (mask < 1)).all())
    numpy = [
        None if t is None else t.detach().numpy()
        for t in (x, offset, layer.weight, layer.bias, mask)
    ]
    expected = reference.deform_conv2d(*numpy[:4], 2, 1, 1, numpy[4])
    np.testing.assert_allclose(
        layer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-10
    )


def test_offset_convolution_learns_from_the_start():
    """At zero offsets the gradient with respect to them is the image gradient, so conv_offset gets one."""
    torch.manual_seed(3)
    layer = cnn.DCN2d(3, 5, 3, padding=1, modulated=True)
    layer(torch.randn(2, 3, 8, 8)).square().sum().backward()
    weight_grad = layer.conv_offset.weight.grad
    assert weight_grad is not None and weight_grad[:18].abs().sum() > 0  # offsets
    assert weight_grad[18:].abs().sum() > 0  # mask logits


@pytest.mark.parametrize("modulated", [False, True])
def test_deform_parameter_count_and_flops_match_the_cost_formula(modulated):
    layer = cnn.DCN2d(
        8, 16, 3, padding=1, groups=2, offset_groups=4, modulated=modulated
    )
    cost = arith.deform_conv_cost(
        8, 16, 3, 6, groups=2, offset_groups=4, modulated=modulated
    )
    assert (
        sum(p.numel() for p in layer.parameters())
        == cost["conv"].params + cost["offsets"].params
    )
    with FlopCounterMode(display=False) as counter:
        layer(torch.randn(1, 8, 6, 6))
    # the counter sees the two matrix products / convolutions, not the bilinear reads
    assert counter.get_total_flops() == 2 * (
        cost["conv"].mult_adds + cost["offsets"].mult_adds
    )


def test_deform_conv_cost_by_hand():
    cost = arith.deform_conv_cost(256, 256, 3, 14, modulated=True)
    assert cost["conv"] == arith.Cost(
        params=256 * 256 * 9 + 256, mult_adds=256 * 256 * 9 * 196
    )
    assert cost["offsets"] == arith.Cost(
        params=27 * 256 * 9 + 27, mult_adds=27 * 256 * 9 * 196
    )
    assert cost["sampling"] == arith.Cost(params=0, mult_adds=5 * 256 * 9 * 196)
    assert cost["total"] == cost["conv"] + cost["offsets"] + cost["sampling"]
    v1 = arith.deform_conv_cost(
        64, 32, (3, 5), (7, 9), groups=4, offset_groups=2, bias=False
    )
    assert v1["conv"] == arith.Cost(params=32 * 16 * 15, mult_adds=32 * 16 * 15 * 63)
    assert v1["offsets"] == arith.Cost(
        params=2 * 2 * 15 * 64 * 15 + 60, mult_adds=60 * 64 * 15 * 63
    )
    assert v1["sampling"].mult_adds == 4 * 64 * 15 * 63


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(offset_groups=3),
            ValueError,
            "offset_groups must divide in_channels, got offset_groups=3 for 4 channels",
        ),
        (dict(offset_groups=0), ValueError, "offset_groups must be >= 1"),
        (dict(offset_groups=1.0), TypeError, "offset_groups must be an int"),
        (dict(modulated=1), TypeError, "modulated must be a bool"),
        (dict(groups=3), ValueError, "groups"),
        (dict(padding="same", stride=2), ValueError, "padding='same' needs stride=1"),
    ],
)
def test_deform_layer_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        cnn.DCN2d(4, 6, 3, **kwargs)


def test_dcn_options_are_keyword_only():
    """offset_groups and modulated used to come before bias; positionally they are refused now."""
    with pytest.raises(TypeError):
        cnn.DCN2d(4, 6, 3, 1, 0, 1, 1, 2)  # the old offset_groups slot
    with pytest.raises(TypeError):
        cnn.DCN2d(4, 6, 3, 1, 0, 1, 1, True, 2)
    layer = cnn.DCN2d(
        4, 6, 3, 1, 1, 1, 2, False, offset_groups=2, modulated=True
    )  # PyTorch's order, then keywords
    assert (layer.groups, layer.bias, layer.offset_groups, layer.modulated) == (
        2,
        None,
        2,
        True,
    )


def test_reset_parameters_restarts_the_learned_shapes():
    """Each layer is back to a plain (or dilated) convolution of its new weights."""
    torch.manual_seed(13)
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    dcn = cnn.DCN2d(4, 6, 3, padding=1, offset_groups=2).double()
    active = cnn.ActiveConv2d(4, 6, 3, padding=1).double()
    dcls = cnn.DclsConv2d(4, 6, 3, 5, padding=2).double()
    for layer in (dcn, active, dcls):
        with torch.no_grad():
            for parameter in layer.parameters():
                parameter.add_(torch.rand_like(parameter) + 0.5)
        before = layer.weight.detach().clone()
        layer.reset_parameters()
        assert not torch.equal(layer.weight, before)
    torch.testing.assert_close(dcn(x), F.conv2d(x, dcn.weight, dcn.bias, padding=1))
    torch.testing.assert_close(
        active(x), F.conv2d(x, active.weight, active.bias, padding=1)
    )
    torch.testing.assert_close(
        dcls(x), F.conv2d(x, dcls.weight, dcls.bias, padding=2, dilation=2)
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(offset_groups=3), ValueError, "offset_groups must divide in_channels"),
        (dict(modulated=None), TypeError, "modulated must be a bool"),
        (dict(kernel_size=0), ValueError, "kernel_size must be >= 1"),
    ],
)
def test_deform_conv_cost_rejects_bad_arguments(kwargs, error, message):
    arguments = (
        dict(in_channels=4, out_channels=6, kernel_size=3, output_size=5) | kwargs
    )
    with pytest.raises(error, match=message):
        arith.deform_conv_cost(**arguments)


@pytest.mark.parametrize("config", LAYER_CONFIGS[:3])
def test_active_conv_starts_as_a_plain_convolution(config):
    torch.manual_seed(4)
    layer = cnn.ActiveConv2d(4, 6, **config).double()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    torch.testing.assert_close(
        layer(x), F.conv2d(x, layer.weight, layer.bias, **window(config))
    )
    assert (
        layer.tap_offsets.shape == (layer.kernel_size[0] * layer.kernel_size[1], 2)
        and not layer.tap_offsets.any()
    )


def test_active_conv_with_one_integer_offset_is_a_shifted_convolution():
    torch.manual_seed(5)
    layer = cnn.ActiveConv2d(3, 4, 3, padding=1).double()
    x = torch.randn(2, 3, 8, 9, dtype=torch.float64)
    with torch.no_grad():
        layer.tap_offsets.copy_(torch.tensor([2.0, -1.0]).expand(9, 2))
    # every tap reads 2 rows lower and 1 column to the left of where it did
    padded = shift_content(
        F.pad(x, (1, 1, 1, 1)), 2, -1
    )  # the zero padding moves with the content
    expected = F.conv2d(padded, layer.weight, layer.bias)
    torch.testing.assert_close(layer(x), expected)


def test_active_conv_equals_a_convolution_with_a_splatted_dense_kernel():
    """Offsets shared by every pixel: the sampling can be moved into the kernel, as DCLS does."""
    torch.manual_seed(6)
    layer = cnn.ActiveConv2d(3, 5, 3, padding=1).double()
    offsets = torch.rand(9, 2, dtype=torch.float64) * 3 - 1.5  # within 1.5 pixels
    with torch.no_grad():
        layer.tap_offsets.copy_(offsets)
    margin, size = (
        2,
        3 + 2 * 2,
    )  # a 7x7 dense kernel holds taps moved by up to 1.5 (+1 for the bilinear spread)
    grid = (
        torch.stack(
            torch.meshgrid(torch.arange(3.0), torch.arange(3.0), indexing="ij"), -1
        )
        .reshape(9, 2)
        .double()
    )
    positions = (grid + offsets + margin).T.reshape(2, 1, 1, 3, 3).expand(2, 5, 3, 3, 3)
    dense = reference.dcls_kernel(
        layer.weight.detach().numpy(), positions.numpy().copy(), size
    )
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    expected = F.conv2d(x, torch.from_numpy(dense), layer.bias, padding=1 + margin)
    torch.testing.assert_close(layer(x), expected)
    layer(x).sum().backward()
    assert layer.tap_offsets.grad.abs().sum() > 0


def _active_with_offsets(config: dict, offsets: torch.Tensor) -> cnn.ActiveConv2d:
    torch.manual_seed(7)
    layer = cnn.ActiveConv2d(4, 8, **config).double()
    with torch.no_grad():
        layer.tap_offsets.copy_(offsets)
    return layer


def _through_deform_conv(layer: cnn.ActiveConv2d, x: torch.Tensor) -> torch.Tensor:
    """The layer's definition: deform_conv2d with its offsets broadcast to every pixel."""
    return functional.deform_conv2d(
        x,
        layer.offset_map(x),
        layer.weight,
        layer.bias,
        layer.stride,
        layer.padding,
        layer.dilation,
    )


@pytest.mark.parametrize("config", LAYER_CONFIGS)
@pytest.mark.parametrize("reach", [0.4, 1.5, 6.0])
def test_active_conv_dense_kernel_matches_deform_conv_and_its_gradients(config, reach):
    """Eager ActiveConv2d runs a plain convolution with a dense kernel; it must be the deformable one."""
    generator = torch.Generator().manual_seed(int(10 * reach))
    size = config["kernel_size"]
    taps = size * size if isinstance(size, int) else size[0] * size[1]
    # points off the pixel grid, some of them past the image's border
    offsets = (torch.rand(taps, 2, generator=generator, dtype=torch.float64) - 0.5) * (
        2 * reach
    ) + 0.123
    layer = _active_with_offsets(config, offsets)
    x = torch.randn(2, 4, 9, 8, generator=generator, dtype=torch.float64)
    x.requires_grad_(True)
    out, expected = layer(x), _through_deform_conv(layer, x)
    torch.testing.assert_close(out, expected)
    cotangent = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    inputs = [x, layer.weight, layer.bias, layer.tap_offsets]
    got = torch.autograd.grad(out, inputs, cotangent)
    want = torch.autograd.grad(expected, inputs, cotangent)
    for name, a, b in zip(["x", "weight", "bias", "tap_offsets"], got, want):
        torch.testing.assert_close(a, b, msg=name)


def test_active_conv_gradient_at_integer_offsets_is_the_right_hand_derivative():
    """On the pixel grid (every new layer's offsets are 0) the read has a kink.

    The dense path takes the derivative from the right everywhere, checked here against a
    one-sided difference quotient. (deform_conv2d does too, except for a point exactly on
    row or column -1, which torchvision's rule counts as outside: there it reports 0.)
    """
    config = LAYER_CONFIGS[0]
    layer = _active_with_offsets(config, torch.zeros(9, 2, dtype=torch.float64))
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _through_deform_conv(layer, x))
    layer(x).sum().backward()
    step = 1e-7
    quotients = torch.zeros(9, 2, dtype=torch.float64)
    with torch.no_grad():
        base = layer(x).sum()
        for tap in range(9):
            for axis in range(2):
                layer.tap_offsets[tap, axis] += step
                quotients[tap, axis] = (layer(x).sum() - base) / step
                layer.tap_offsets[tap, axis] -= step
    torch.testing.assert_close(layer.tap_offsets.grad, quotients, rtol=1e-5, atol=1e-5)


def test_active_conv_with_non_finite_offsets_reads_as_deform_conv():
    """A NaN offset cannot size a dense kernel: the layer takes the deformable path."""
    offsets = torch.zeros(9, 2, dtype=torch.float64)
    offsets[4, 0] = float("nan")
    layer = _active_with_offsets(LAYER_CONFIGS[0], offsets)
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    out = layer(x)
    assert torch.isfinite(out).all()  # the NaN point reads 0, as in torchvision
    torch.testing.assert_close(out, _through_deform_conv(layer, x))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_active_conv_dense_path_in_half_precision(dtype):
    layer = _active_with_offsets(
        LAYER_CONFIGS[0], torch.full((9, 2), 0.3, dtype=torch.float64)
    ).float()
    x = torch.randn(2, 4, 9, 8)
    expected = _through_deform_conv(layer, x)
    out = layer.to(dtype)(x.to(dtype))
    assert out.dtype == dtype
    torch.testing.assert_close(
        out.float(),
        expected,
        rtol=0,
        atol=HALF_TOLERANCE[dtype] * expected.abs().max().item(),
    )


def test_active_conv_reports_a_too_small_input():
    with pytest.raises(ValueError, match="ActiveConv2d: x is too small"):
        cnn.ActiveConv2d(2, 2, 5)(torch.randn(1, 2, 3, 3))


@pytest.mark.parametrize("count, side, dilation", [(3, 5, 2), (3, 7, 3), (2, 4, 3)])
def test_dcls_starts_as_a_dilated_convolution(count, side, dilation):
    torch.manual_seed(7)
    layer = cnn.DclsConv2d(4, 6, count, side, padding=side // 2, groups=2).double()
    x = torch.randn(2, 4, 10, 10, dtype=torch.float64)
    expected = F.conv2d(
        x, layer.weight, layer.bias, padding=side // 2, dilation=dilation, groups=2
    )
    torch.testing.assert_close(layer(x), expected)
    assert layer.positions.shape == (2, 6, 2, count, count)


def test_dcls_single_element_sits_in_the_centre():
    layer = cnn.DclsConv2d(2, 2, 1, 5, bias=False).double()
    dense = layer.dense_kernel().detach()
    assert torch.equal(dense[:, :, 2, 2], layer.weight.detach()[:, :, 0, 0])
    assert dense.abs().sum() == layer.weight.detach().abs().sum()


def test_dcls_dense_kernel_matches_the_reference_and_learns_positions():
    torch.manual_seed(8)
    layer = cnn.DclsConv2d(3, 4, 3, 7, padding=3).double()
    with torch.no_grad():
        layer.positions.add_(torch.rand_like(layer.positions) - 0.5)
    expected = reference.dcls_kernel(
        layer.weight.detach().numpy(), layer.positions.detach().numpy(), 7
    )
    np.testing.assert_allclose(
        layer.dense_kernel().detach().numpy(), expected, rtol=1e-12, atol=1e-12
    )
    layer(torch.randn(1, 3, 9, 9, dtype=torch.float64)).square().sum().backward()
    assert layer.positions.grad.abs().sum() > 0 and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (
            (4, 6, 3, 2),
            {},
            ValueError,
            "dilated_kernel_size must be >= kernel_count, got 2 < 3",
        ),
        ((4, 6, 0, 5), {}, ValueError, "kernel_count must be >= 1"),
        ((4, 6, 3, 5), dict(groups=4), ValueError, "groups"),
        (
            (4, 6, 3, 5),
            dict(padding="same", stride=2),
            ValueError,
            "padding='same' needs stride=1",
        ),
    ],
)
def test_dcls_layer_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        cnn.DclsConv2d(*args, **kwargs)


def test_reprs_name_the_options():
    assert "offset_groups=2, modulated=True" in repr(
        cnn.DCN2d(4, 4, 3, offset_groups=2, modulated=True)
    )
    assert "kernel_size=(3, 3)" in repr(cnn.ActiveConv2d(4, 4, 3))
    assert "kernel_count=3, dilated_kernel_size=7" in repr(cnn.DclsConv2d(4, 4, 3, 7))


@pytest.mark.cuda
def test_layers_on_cuda_match_the_cpu():
    torch.manual_seed(9)
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    layers = [
        cnn.DCN2d(4, 6, 3, padding=1, offset_groups=2, modulated=True),
        cnn.ActiveConv2d(4, 6, 3, padding=1),
        cnn.DclsConv2d(4, 6, 3, 5, padding=2),
    ]
    for layer in layers:
        layer = layer.double()
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(torch.rand_like(p) * 0.3)
        cpu = layer(x)
        gpu = layer.cuda()(x.cuda())
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu)
