"""ASPP and AtrousCascade (DeepLab v3) against torch.nn.functional, parameter arithmetic and autograd.

Oracles, none of them convref.functional: the whole ASPP forward rebuilt from
``F.conv2d``, ``F.adaptive_avg_pool2d``, ``F.batch_norm``, ``F.interpolate`` and ``torch.cat``
with the module's own weights; parameter counts summed from the formula of
:func:`convref.arith.conv_cost` and, for the paper's head, counted by hand; receptive fields
found by brute force, as the support of an autograd gradient compared with the set of
input offsets that the dilated taps can reach (a sumset computed here in plain Python).
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convref.arith import conv_cost
from convref.nn import ASPP, AtrousCascade

RTOL, ATOL = 1e-10, 1e-10  # float64 against float64


def _randomise_batch_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial affine parameters and running statistics."""
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm2d):
                shape, dtype = bn.weight.shape, bn.weight.dtype
                bn.weight.copy_(
                    torch.rand(shape, generator=generator, dtype=dtype) + 0.5
                )
                bn.bias.copy_(torch.randn(shape, generator=generator, dtype=dtype))
                bn.running_mean.copy_(
                    torch.randn(shape, generator=generator, dtype=dtype)
                )
                bn.running_var.copy_(
                    torch.rand(shape, generator=generator, dtype=dtype) + 0.5
                )


def _conv_bn_relu_oracle(
    x: torch.Tensor, block: nn.Sequential, padding: int, dilation: int
) -> torch.Tensor:
    conv, norm = block[0], block[1]
    y = F.conv2d(x, conv.weight, conv.bias, padding=padding, dilation=dilation)
    if isinstance(norm, nn.BatchNorm2d):  # evaluation mode: the running statistics
        y = F.batch_norm(
            y,
            norm.running_mean,
            norm.running_var,
            norm.weight,
            norm.bias,
            False,
            0.0,
            norm.eps,
        )
    return F.relu(y)


def torch_aspp(module: ASPP, x: torch.Tensor) -> torch.Tensor:
    """DeepLab v3's ASPP (section 3.3) in torch.nn.functional ops, with ``module``'s weights."""
    features = [_conv_bn_relu_oracle(x, module.branches[0], 0, 1)]
    for block, rate in zip(module.branches[1:], module.rates):
        features.append(_conv_bn_relu_oracle(x, block, rate, rate))
    if module.pooling is not None:
        pooled = _conv_bn_relu_oracle(
            F.adaptive_avg_pool2d(x, 1), module.pooling.block, 0, 1
        )
        features.append(
            F.interpolate(
                pooled, size=x.shape[-2:], mode="bilinear", align_corners=False
            )
        )
    return _conv_bn_relu_oracle(torch.cat(features, dim=1), module.project, 0, 1)


# --------------------------------------------------------------------------------------
# shapes and values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rates", [(1,), (2, 3), (6, 12, 18)], ids=str)
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 9)], ids=str)
@pytest.mark.parametrize("image_pooling", [True, False])
def test_aspp_keeps_the_feature_map_size(rates, size, image_pooling):
    module = ASPP(3, 5, rates=rates, image_pooling=image_pooling).eval()
    y = module(torch.randn(2, 3, *size))
    assert y.shape == (2, 5, *size)


@pytest.mark.parametrize("rates", [(2,), (6, 12, 18)], ids=str)
@pytest.mark.parametrize("size", [(5, 7), (3, 3)], ids=str)
def test_atrous_cascade_keeps_the_feature_map_size(rates, size):
    cascade = AtrousCascade(4, rates).eval()
    assert len(cascade) == len(rates)
    assert cascade(torch.randn(2, 4, *size)).shape == (2, 4, *size)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(rates=(6, 12, 18)),
        dict(rates=(1, 2), image_pooling=False),
        dict(rates=(3,), batch_norm=True),
        dict(
            rates=(2, 4), batch_norm=True, dropout=0.5
        ),  # evaluation mode: Dropout is the identity
    ],
    ids=str,
)
def test_aspp_matches_functional_oracle(kwargs):
    kwargs = {"batch_norm": False, **kwargs}
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    module = ASPP(3, 4, **kwargs).double()
    _randomise_batch_norms(module, generator)
    module.eval()
    x = torch.randn(2, 3, 9, 11, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(module(x), torch_aspp(module, x), rtol=RTOL, atol=ATOL)


def test_aspp_layout_is_the_papers():
    module = ASPP(8, 4)  # the defaults: rates (6, 12, 18), image pooling, BN
    assert module.rates == (6, 12, 18)
    convs = [block[0] for block in module.branches]
    assert [c.kernel_size for c in convs] == [(1, 1), (3, 3), (3, 3), (3, 3)]
    assert [c.dilation for c in convs] == [(1, 1), (6, 6), (12, 12), (18, 18)]
    assert [c.padding for c in convs] == [0, 6, 12, 18]
    assert all(c.bias is None for c in convs)  # BN follows every convolution
    assert (
        module.project[0].in_channels == 5 * 4
    )  # 1x1 + 3 rates + image pooling, concatenated
    assert not any(isinstance(m, nn.Dropout) for m in module.modules())
    assert any(isinstance(m, nn.Dropout) for m in ASPP(8, 4, dropout=0.1).modules())


def test_image_pooling_branch_is_constant_over_positions():
    torch.manual_seed(1)
    module = ASPP(3, 4, rates=(2,)).double().eval()
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    y = module.pooling(x)
    assert y.shape == (2, 4, 6, 5)
    torch.testing.assert_close(y, y[:, :, :1, :1].expand_as(y), rtol=0, atol=0)
    # the constant is the branch applied to the global mean of every channel
    mean = x.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(
        y[:, :, :1, :1], module.pooling.block(mean), rtol=RTOL, atol=ATOL
    )
    # ... which is what the paper's bilinear upsampling of the 1x1 map gives, up to rounding
    upsampled = F.interpolate(
        module.pooling.block(mean), size=(6, 5), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(y, upsampled, rtol=1e-14, atol=1e-14)


def test_image_pooling_sees_the_whole_input():
    """A pixel far outside every atrous span moves the centre output only through the pooled branch."""
    torch.manual_seed(2)
    x = torch.rand(1, 2, 15, 15, dtype=torch.float64)
    x_far = x.clone()
    x_far[0, :, 0, 0] += 1.0  # 7 pixels from the centre; the widest branch reaches 2
    for image_pooling, expect_change in ((True, True), (False, False)):
        torch.manual_seed(3)
        module = (
            ASPP(2, 3, rates=(2,), image_pooling=image_pooling, batch_norm=False)
            .double()
            .eval()
        )
        with torch.no_grad():
            for p in module.parameters():
                p.abs_()  # positive weights keep every ReLU open: no change can be hidden
            change = (module(x_far) - module(x))[0, :, 7, 7].abs().max().item()
        assert (change > 1e-8) == expect_change
        assert module.receptive_field == (None if image_pooling else 5)


# --------------------------------------------------------------------------------------
# parameter counts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "in_channels, out_channels, rates, image_pooling, batch_norm",
    [
        (3, 4, (6, 12, 18), True, True),
        (5, 2, (1,), False, False),
        (4, 6, (2, 4), True, False),
    ],
)
def test_aspp_parameters_match_conv_cost(
    in_channels, out_channels, rates, image_pooling, batch_norm
):
    module = ASPP(
        in_channels,
        out_channels,
        rates,
        image_pooling=image_pooling,
        batch_norm=batch_norm,
    )
    bias = not batch_norm
    branches = 1 + len(rates) + int(image_pooling)
    costs = [conv_cost(in_channels, out_channels, 1, 1, bias=bias)]
    costs += [conv_cost(in_channels, out_channels, 3, 1, bias=bias) for _ in rates]
    if image_pooling:
        costs.append(conv_cost(in_channels, out_channels, 1, 1, bias=bias))
    costs.append(conv_cost(branches * out_channels, out_channels, 1, 1, bias=bias))
    batch_norms = (
        (branches + 1) * 2 * out_channels if batch_norm else 0
    )  # a scale and a shift per channel
    assert (
        sum(p.numel() for p in module.parameters())
        == sum(c.params for c in costs) + batch_norms
    )


def test_aspp_parameters_of_the_deeplab_v3_head():
    """DeepLab v3 on ResNet (2048 channels), 256 filters, rates (6, 12, 18), image pooling, BN."""
    module = ASPP(2048, 256, (6, 12, 18), image_pooling=True, batch_norm=True)
    expected = (
        2048 * 256  # 1x1 branch
        + 3 * 2048 * 256 * 3 * 3  # three 3x3 atrous branches
        + 2048 * 256  # image pooling 1x1
        + 5 * 256 * 256  # projection of the 1280 concatenated channels
        + 6 * 2 * 256  # six BatchNorms
    )
    assert expected == 15_535_104
    assert sum(p.numel() for p in module.parameters()) == expected


def test_atrous_cascade_parameters():
    cascade = AtrousCascade(6, (1, 2, 4), kernel_size=5, batch_norm=True)
    assert sum(p.numel() for p in cascade.parameters()) == 3 * (6 * 6 * 5 * 5 + 2 * 6)
    cascade = AtrousCascade(6, (2, 2), batch_norm=False)
    assert sum(p.numel() for p in cascade.parameters()) == 2 * (6 * 6 * 3 * 3 + 6)


# --------------------------------------------------------------------------------------
# receptive fields against autograd
# --------------------------------------------------------------------------------------


def _taps(kernel_size: int, dilation: int) -> set[int]:
    """Input offsets one "same"-padded layer reads, relative to its output position (PyTorch's split)."""
    before = (
        dilation * (kernel_size - 1) // 2
    )  # the odd element of the padding goes after
    return {-before + dilation * t for t in range(kernel_size)}


def _sumset(layers: list[set[int]]) -> set[int]:
    reached = {0}
    for offsets in layers:
        reached = {a + b for a in reached for b in offsets}
    return reached


def _gradient_support(
    module: nn.Module, channels: int, size: int
) -> set[tuple[int, int]]:
    """Input pixels (relative to the centre) whose gradient at the centre output is nonzero."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            # Positive weights and inputs keep every ReLU open and rule out cancellation,
            # so the support is exactly the set of positions some path reaches.
            p.copy_(p.abs() + 0.1 if "weight" in name else torch.zeros_like(p))
    module.double().eval()
    x = torch.rand(1, channels, size, size, dtype=torch.float64) + 0.1
    x.requires_grad_(True)
    centre = size // 2
    module(x)[0, :, centre, centre].sum().backward()
    rows, cols = torch.nonzero(x.grad[0].sum(0), as_tuple=True)
    return {(int(r) - centre, int(c) - centre) for r, c in zip(rows, cols)}


@pytest.mark.parametrize("rates", [(1,), (2,), (3,), (2, 5)], ids=str)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_aspp_branches_see_exactly_their_dilated_taps(rates, batch_norm):
    torch.manual_seed(4)
    module = ASPP(2, 3, rates, image_pooling=False, batch_norm=batch_norm)
    support = _gradient_support(module, 2, 2 * max(rates) + 7)
    expected = {(0, 0)}  # the 1x1 branch
    for rate in rates:
        expected |= {(rate * i, rate * j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    assert support == expected
    extent = max(r for r, _ in support) - min(r for r, _ in support) + 1
    assert (
        extent
        == 2 * max(rates) + 1
        == module.receptive_field
        == module.conv_receptive_field
    )


@pytest.mark.parametrize(
    "rates, kernel_size",
    [((1,), 3), ((2, 2), 3), ((1, 2, 4), 3), ((3, 1), 5), ((1, 2), 2), ((2, 3), 4)],
    ids=str,
)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_atrous_cascade_receptive_field_matches_autograd(
    rates, kernel_size, batch_norm
):
    torch.manual_seed(5)
    cascade = AtrousCascade(2, rates, kernel_size=kernel_size, batch_norm=batch_norm)
    reach = _sumset([_taps(kernel_size, rate) for rate in rates])
    size = (
        2 * max(abs(o) for o in reach) + 5
    )  # the field fits with room: no padding in the way
    support = _gradient_support(cascade, 2, size)
    assert support == set(
        itertools.product(reach, reach)
    )  # including the gaps of gridding
    assert cascade.receptive_field == max(reach) - min(reach) + 1


def test_equal_rates_grid():
    """Two 3x3 layers at rate 2 read every other pixel of a 9-wide field (the gridding effect)."""
    reach = _sumset([_taps(3, 2), _taps(3, 2)])
    assert sorted(reach) == [-4, -2, 0, 2, 4]
    assert AtrousCascade(1, (2, 2)).receptive_field == 9


# --------------------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(batch_norm=False), dict(image_pooling=False, dropout=0.2)],
    ids=str,
)
def test_gradients_reach_every_parameter(kwargs):
    torch.manual_seed(6)
    module = ASPP(3, 4, rates=(1, 2), **kwargs).train()
    x = torch.randn(4, 3, 6, 6)
    y = module(x)
    (
        y * torch.randn_like(y)
    ).sum().backward()  # a random projection: BN outputs do not sum to a constant
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_cascade_gradients_reach_every_parameter():
    torch.manual_seed(7)
    cascade = AtrousCascade(3, (1, 2)).train()
    y = cascade(torch.randn(2, 3, 7, 7))
    (y * torch.randn_like(y)).sum().backward()
    for name, p in cascade.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_aspp_gradcheck():
    torch.manual_seed(8)
    module = ASPP(2, 2, rates=(1, 2), batch_norm=True).double().eval()
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,))


# --------------------------------------------------------------------------------------
# bad calls
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(in_channels=0), ValueError, r"^in_channels must be >= 1, got 0$"),
        (dict(in_channels=2.0), TypeError, r"^in_channels must be an int, got 2\.0$"),
        (
            dict(in_channels=2, out_channels=-1),
            ValueError,
            r"^out_channels must be >= 1, got -1$",
        ),
        (
            dict(in_channels=2, rates=()),
            ValueError,
            r"^rates must be a non-empty sequence of ints, got \(\)$",
        ),
        (
            dict(in_channels=2, rates=6),
            TypeError,
            r"^rates must be a non-empty sequence of ints, got 6$",
        ),
        (
            dict(in_channels=2, rates="6"),
            TypeError,
            r"^rates must be a non-empty sequence of ints, got '6'$",
        ),
        (
            dict(in_channels=2, rates=(6, 0)),
            ValueError,
            r"^rates\[1\] must be >= 1, got 0$",
        ),
        (
            dict(in_channels=2, rates=(6, 1.5)),
            TypeError,
            r"^rates\[1\] must be an int, got 1\.5$",
        ),
        (
            dict(in_channels=2, image_pooling=1),
            TypeError,
            r"^image_pooling must be a bool, got 1$",
        ),
        (
            dict(in_channels=2, batch_norm=None),
            TypeError,
            r"^batch_norm must be a bool, got None$",
        ),
        (
            dict(in_channels=2, dropout=1.0),
            ValueError,
            r"^dropout must be in \[0, 1\), got 1\.0$",
        ),
        (
            dict(in_channels=2, dropout=-0.1),
            ValueError,
            r"^dropout must be in \[0, 1\), got -0\.1$",
        ),
        (
            dict(in_channels=2, dropout="0.1"),
            TypeError,
            r"^dropout must be a number, got '0\.1'$",
        ),
    ],
    ids=str,
)
def test_aspp_bad_arguments(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        ASPP(**kwargs)


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(channels=0, rates=(1,)), ValueError, r"^channels must be >= 1, got 0$"),
        (
            dict(channels=2, rates=[]),
            ValueError,
            r"^rates must be a non-empty sequence of ints, got \[\]$",
        ),
        (
            dict(channels=2, rates=(2, -1)),
            ValueError,
            r"^rates\[1\] must be >= 1, got -1$",
        ),
        (
            dict(channels=2, rates=(2,), kernel_size=0),
            ValueError,
            r"^kernel_size must be >= 1, got 0$",
        ),
        (
            dict(channels=2, rates=(2,), kernel_size=(3, 3)),
            TypeError,
            r"^kernel_size must be an int",
        ),
        (
            dict(channels=2, rates=(2,), batch_norm="yes"),
            TypeError,
            r"^batch_norm must be a bool, got 'yes'$",
        ),
    ],
    ids=str,
)
def test_atrous_cascade_bad_arguments(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        AtrousCascade(**kwargs)


@pytest.mark.parametrize(
    "x, exception, pattern",
    [
        (
            torch.zeros(3, 5, 5),
            ValueError,
            r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(3, 5, 5\)$",
        ),
        (
            torch.zeros(1, 4, 5, 5),
            ValueError,
            r"^x must have 3 channels, the layer's input channels, got shape \(1, 4, 5, 5\)$",
        ),
        (
            torch.zeros(1, 3, 5, 5, dtype=torch.int64),
            TypeError,
            r"^x must have a floating dtype, got int64$",
        ),
        ([[[[0.0]]]], TypeError, r"^x must be a torch\.Tensor, got list$"),
    ],
    ids=["3-D", "channels", "dtype", "list"],
)
@pytest.mark.parametrize(
    "make",
    [lambda: ASPP(3, 2, (1,)).eval(), lambda: AtrousCascade(3, (1,)).eval()],
    ids=["ASPP", "cascade"],
)
def test_bad_inputs(make, x, exception, pattern):
    module = make()
    pattern = f"^{type(module).__name__}: " + pattern.removeprefix(
        "^"
    )  # names the layer
    with pytest.raises(exception, match=pattern):
        module(x)


def test_aspp_refuses_a_single_sample_in_training():
    module = ASPP(3, 2, (1,)).train()
    with pytest.raises(
        ValueError, match=r"^x must hold at least 2 samples in training mode"
    ):
        module(torch.zeros(1, 3, 5, 5))
    module(torch.zeros(2, 3, 5, 5))  # two samples are fine
    ASPP(3, 2, (1,), image_pooling=False).train()(
        torch.zeros(1, 3, 5, 5)
    )  # no pooled BN: fine


def test_extra_repr():
    text = repr(ASPP(4, 2, (1, 2), dropout=0.25)).splitlines()[1].strip()
    assert (
        text == "4, 2, rates=(1, 2), image_pooling=True, batch_norm=True, dropout=0.25"
    )
    assert (
        repr(AtrousCascade(3, [2, 4])).splitlines()[1].strip()
        == "3, rates=(2, 4), kernel_size=3, batch_norm=True"
    )
