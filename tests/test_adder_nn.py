"""AdderNet layers (Adder2d, adder_bn_relu, to_adder) and the operation counts (the chapter's network: test_experiments_adder.py).

Oracles: the NumPy reference (``reference.adder2d`` and ``adder2d_backward``), the adaptive
learning rate's closed form, PyTorch's FLOP counter for the convolution it replaces, the
45 nm energy figures of Horowitz (2014) worked by hand, and plain ``torch.nn`` modules.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, functional, nn, reference
from convref.nn import Adder2d, adder_bn_relu, to_adder


def test_layer_is_the_reference_with_its_parameters():
    torch.manual_seed(0)
    layer = Adder2d(
        4,
        6,
        (3, 2),
        stride=(2, 1),
        padding=(1, 0),
        dilation=(1, 2),
        groups=2,
        bias=True,
    ).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    expected = reference.adder2d(
        x.numpy(),
        layer.weight.detach().numpy(),
        layer.bias.detach().numpy(),
        (2, 1),
        (1, 0),
        (1, 2),
        2,
    )
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12)


def test_layer_initialisation_is_standard_normal_without_bias():
    torch.manual_seed(0)
    layer = Adder2d(64, 64, 3)
    assert layer.bias is None  # BatchNorm follows, as in the authors' code
    weight = layer.weight.detach().numpy().ravel()
    assert abs(weight.mean()) < 0.02 and weight.std() == pytest.approx(1.0, abs=0.02)
    with_bias = Adder2d(3, 5, 3, bias=True)
    assert torch.count_nonzero(with_bias.bias) == 0
    he = Adder2d(64, 64, 3, init="he")
    assert he.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.03)


@pytest.mark.parametrize("gradient", ["paper", "exact"])
def test_layer_gradients_are_the_reference_scaled_by_the_adaptive_rate(gradient):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    layer = Adder2d(3, 4, 3, padding=1, gradient=gradient, eta=0.3).double()
    grad_output = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    layer(x).backward(grad_output)
    grad_x, grad_weight = reference.adder2d_backward(
        x.detach().numpy(),
        layer.weight.detach().numpy(),
        grad_output.numpy(),
        padding=1,
        gradient=gradient,
    )
    alpha = 0.3 * math.sqrt(grad_weight.size) / np.linalg.norm(grad_weight)
    np.testing.assert_allclose(
        layer.weight.grad.numpy(), alpha * grad_weight, rtol=1e-10
    )
    np.testing.assert_allclose(
        x.grad.numpy(), grad_x, rtol=1e-10, atol=1e-12
    )  # the input's is not scaled
    plain = Adder2d(3, 4, 3, padding=1, gradient=gradient, eta=None).double()
    plain.load_state_dict(layer.state_dict())
    plain(x.detach()).backward(grad_output)
    np.testing.assert_allclose(
        plain.weight.grad.numpy(), grad_weight, rtol=1e-10, atol=1e-12
    )


def test_every_step_has_the_same_norm_with_the_adaptive_rate():
    """eta sqrt(k) whatever the scale of the loss: the point of the paper's rule."""
    torch.manual_seed(2)
    layer = Adder2d(2, 3, 3)
    x = torch.randn(4, 2, 5, 5)
    for scale in (1e-3, 1.0, 1e3):
        layer.weight.grad = None
        (scale * layer(x)).sum().backward()
        assert layer.weight.grad.norm().item() == pytest.approx(
            0.2 * math.sqrt(layer.weight.numel()), rel=1e-5
        )


def test_layer_options_in_repr():
    text = repr(Adder2d(2, 3, 3, gradient="exact", eta=None))
    assert "gradient='exact'" in text and "eta=None" in text and "bias=False" in text


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(gradient="sign"),
            ValueError,
            r"^gradient must be 'paper' or 'exact', got 'sign'$",
        ),
        (dict(eta=0), ValueError, r"^eta must be a positive finite number, got 0$"),
        (dict(eta="0.2"), TypeError, r"^eta must be a number, got str$"),
        (
            dict(init="glorot"),
            ValueError,
            r"^init must be one of \['normal', 'pytorch', 'he', 'random', 'xavier'\], got 'glorot'$",
        ),
        (dict(groups=3), ValueError, r"groups"),
        (
            dict(padding="full"),
            ValueError,
            r"^padding must be an int, a pair of ints, 'valid' or 'same', got 'full'$",
        ),
    ],
)
def test_layer_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        Adder2d(4, 6, 3, **kwargs)


def test_adder_bn_relu_is_the_papers_unit():
    unit = adder_bn_relu(3, 8, 3, stride=2, padding=1, eta=None)
    assert [type(m) for m in unit] == [Adder2d, torch.nn.BatchNorm2d, torch.nn.ReLU]
    assert unit[0].bias is None and unit[0].eta is None and unit[0].stride == (2, 2)
    assert [type(m) for m in adder_bn_relu(3, 8, 3, relu=False)] == [
        Adder2d,
        torch.nn.BatchNorm2d,
    ]
    y = unit(torch.randn(4, 3, 8, 8))
    assert y.shape == (4, 8, 4, 4) and (y >= 0).all()


def test_to_adder_keeps_the_first_convolution_and_the_geometry():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.Sequential(
            torch.nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False),
            torch.nn.BatchNorm2d(8),
        ),
        torch.nn.Conv2d(8, 8, (1, 3), padding=(0, 2), dilation=(1, 2), groups=4),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    )
    first = model[0]
    x = torch.randn(2, 1, 8, 8)
    shape_before = model(x).shape
    assert to_adder(model, eta=None) is model
    assert model[0] is first and type(model[-1]) is torch.nn.Linear
    second, third = model[2][0], model[3]
    assert type(second) is Adder2d and type(third) is Adder2d
    assert (
        second.in_channels,
        second.out_channels,
        second.stride,
        second.padding,
        second.bias,
    ) == (4, 8, (2, 2), (1, 1), None)
    assert (
        third.kernel_size,
        third.padding,
        third.dilation,
        third.groups,
        third.bias is not None,
    ) == ((1, 3), (0, 2), (1, 2), 4, True)
    assert model(x).shape == shape_before
    everything = to_adder(
        torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)), keep_first=False
    )
    assert type(everything[0]) is Adder2d and everything[0].eta == 0.2


def test_to_adder_rejects_what_it_cannot_convert():
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module, got list$"):
        to_adder([torch.nn.Conv2d(1, 2, 3)])
    with pytest.raises(TypeError, match=r"^keep_first must be a bool, got 0$"):
        to_adder(torch.nn.Conv2d(1, 2, 3), keep_first=0)
    reflect = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"),
    )
    with pytest.raises(
        ValueError, match=r"^1 pads with 'reflect'; Adder2d pads with zeros only$"
    ):
        to_adder(reflect)


def test_functional_and_layer_agree_on_half_precision():
    torch.manual_seed(3)
    layer = Adder2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 5, 5)
    expected = functional.adder2d(x.double(), layer.weight.double(), padding=1)
    half = layer.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.double(), expected, rtol=2e-2, atol=0.5)


# ---------------------------------------------------------------------------
# Operation counts and energy
# ---------------------------------------------------------------------------


def test_op_counts_against_the_flop_counter():
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=False)
    with FlopCounterMode(display=False) as counter:
        conv(torch.zeros(1, 8, 10, 10))
    mult_adds = (
        counter.get_total_flops() // 2
    )  # the counter counts a multiply-add as two FLOPs
    conv_count = arith.conv_op_count(8, 16, 3, 10, groups=2)
    adder_count = arith.adder_op_count(8, 16, 3, 10, groups=2)
    assert conv_count.multiplications == conv_count.additions == mult_adds
    assert adder_count.multiplications == 0 and adder_count.additions == 2 * mult_adds
    assert (
        conv_count.params
        == adder_count.params
        == sum(p.numel() for p in conv.parameters())
    )


def test_op_count_by_hand_and_energy():
    # 2 -> 3 channels, 1x2 kernel, 2x2 output: 3 * 2 * 2 = 12 weights, 48 products
    count = arith.adder_op_count(2, 3, (1, 2), 2)
    assert count == arith.OpCount(params=12, multiplications=0, additions=96)
    conv = arith.conv_op_count(2, 3, (1, 2), 2)
    assert conv.energy_pj("fp32") == pytest.approx(48 * 3.7 + 48 * 0.9)
    assert count.energy_pj("fp32") == pytest.approx(96 * 0.9)
    assert count.energy_pj("int8") == pytest.approx(96 * 0.03)
    assert conv.energy_pj("int8") / count.energy_pj("int8") == pytest.approx(
        (0.2 + 0.03) / 0.06
    )
    with pytest.raises(
        ValueError,
        match=r"^number_format must be one of \['fp16', 'fp32', 'int32', 'int8'\], got 'fp64'$",
    ):
        count.energy_pj("fp64")


def test_energy_table_is_horowitz_2014():
    table = arith.ENERGY_45NM_PJ
    assert (table[("add", "fp32")], table[("mult", "fp32")]) == (0.9, 3.7)
    assert (table[("add", "int32")], table[("mult", "int32")]) == (0.1, 3.1)
    assert all(
        table[("mult", fmt)] > table[("add", fmt)]
        for fmt in ("int8", "int32", "fp16", "fp32")
    )


def test_scale_when_is_checked_and_shown():
    with pytest.raises(
        ValueError,
        match=r"^scale_when must be one of \['backward', 'on_call'\], got 'x'$",
    ):
        Adder2d(2, 3, 3, scale_when="x")
    assert "scale_when='on_call'" in repr(Adder2d(2, 3, 3, scale_when="on_call"))
    assert "scale_when" not in repr(Adder2d(2, 3, 3))


def test_on_call_scaling_equals_in_backward_scaling_in_one_process():
    """The deferred scale, applied by scale_adder_gradients_, is the authors' step."""
    from convref.nn import scale_adder_gradients_

    grads = []
    for when in ("backward", "on_call"):
        torch.manual_seed(0)
        layer = Adder2d(3, 4, 3, padding=1, scale_when=when).double()
        x = torch.randn(
            2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
        )
        layer(x).square().mean().backward()
        assert scale_adder_gradients_(layer) == (when == "on_call")
        grads.append(layer.weight.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=0)


def test_double_backward_names_the_adder_layer():
    """A gradient penalty through Adder2d fails with a message that says why, not PyTorch's generic one."""
    layer = nn.Adder2d(2, 3, 3, padding=1)
    x = torch.randn(2, 2, 5, 5, requires_grad=True)
    (grad_x,) = torch.autograd.grad(layer(x).square().mean(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=r"adder2d has no second derivative"):
        grad_x.square().sum().backward()


def test_double_backward_names_the_adaptive_scale():
    weight = torch.randn(3, 4, requires_grad=True)
    scaled = functional.with_adaptive_gradient(weight, eta=0.2)
    (grad_w,) = torch.autograd.grad(
        (scaled * weight.detach()).sum() ** 2, weight, create_graph=True
    )
    with pytest.raises(RuntimeError, match=r"with_adaptive_gradient .* no second"):
        grad_w.sum().backward()


def test_a_graph_of_gradients_keeps_the_first_order_gradients():
    """create_graph=True alone (no second derivative taken) gives the usual gradients."""
    layer = nn.Adder2d(2, 3, 3, padding=1)
    x = torch.randn(2, 2, 5, 5, requires_grad=True)
    plain = torch.autograd.grad(layer(x).square().mean(), (x, layer.weight))
    graphed = torch.autograd.grad(
        layer(x).square().mean(), (x, layer.weight), create_graph=True
    )
    for first, second in zip(plain, graphed, strict=True):
        torch.testing.assert_close(first, second.detach(), rtol=0, atol=0)
