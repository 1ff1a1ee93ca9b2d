"""convref.nn layers and initialisers against torch.nn and torch.nn.init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from convref import functional
from convref.nn import Conv1x1, Conv2d, init

LAYER_CASES = [
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=4, bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=2, kernel_size=2, padding="valid", stride=2),
]


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=str)
def test_conv2d_layer_matches_torch(kwargs):
    torch.manual_seed(0)
    theirs = nn.Conv2d(**kwargs).double()
    ours = Conv2d(**kwargs).double()
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]
    with torch.no_grad():
        for mine, other in zip(ours.parameters(), theirs.parameters()):
            mine.copy_(other)
    x = torch.randn(2, kwargs["in_channels"], 7, 6, dtype=torch.float64)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    torch.testing.assert_close(y_ours, y_theirs, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(y_theirs)
    y_ours.backward(grad)
    y_theirs.backward(grad)
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=1e-10, atol=1e-10)
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine.grad, other.grad, rtol=1e-10, atol=1e-10)


def test_pytorch_init_is_torchs_default():
    """init="pytorch" draws the same numbers as torch.nn.Conv2d from the same seed ..."""
    for kwargs in LAYER_CASES:
        torch.manual_seed(1)
        theirs = nn.Conv2d(**kwargs)
        torch.manual_seed(1)
        ours = Conv2d(**kwargs, init="pytorch")
        for mine, other in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(mine, other, rtol=0, atol=0)


def test_pytorch_init_bounds():
    """... and so lies in torch's documented U(-1/sqrt(fan_in), 1/sqrt(fan_in)), filling it."""
    layer = Conv2d(64, 128, 3, groups=2)
    bound = 1 / math.sqrt(32 * 3 * 3)  # k = groups / (C_in * kh * kw), bound sqrt(k) (torch.nn.Conv2d docs)
    for p in (layer.weight, layer.bias):
        assert p.abs().max().item() <= bound
        assert p.abs().max().item() > 0.95 * bound
    assert abs(layer.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound  # std of U(-b, b) is b / sqrt(3)


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (10, 3, 5, 5), (16, 1, 3, 3), (100, 50), (8, 4, 1, 7)])
def test_fans_match_torch(shape):
    assert init.fans(shape) == nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fans_bad_shape():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got \(5,\)"):
        init.fans((5,))


def _empirical_std(fill, shape) -> float:
    torch.manual_seed(2)
    weight = torch.empty(shape)
    fill(weight)
    assert abs(weight.mean().item()) < 0.01 * weight.std().item() + 1e-4
    return weight.std().item()


# large tensors (~1M draws): the empirical std is within 0.3% of the true one
INIT_SHAPES = [(256, 128, 3, 3), (512, 256, 1, 1), (1024, 1024)]


@pytest.mark.parametrize("shape", INIT_SHAPES, ids=str)
def test_xavier_std_matches_torch(shape):
    expected = _empirical_std(nn.init.xavier_normal_, shape)
    assert init.init_std(shape, "xavier") == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("shape", INIT_SHAPES, ids=str)
def test_he_std_matches_torch(shape):
    expected = _empirical_std(lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"), shape)
    assert init.init_std(shape, "he") == pytest.approx(expected, rel=0.01)


def test_random_std_is_krizhevsky():
    assert init.init_std((64, 32, 3, 3), "random") == 0.01
    assert init.init_std((5, 5), "random") == 0.01


@pytest.mark.parametrize("scheme", ["random", "xavier", "he"])
def test_init_weight_draws_the_std(scheme):
    shape = (256, 128, 3, 3)
    weight = init.init_weight_(torch.empty(shape), scheme, generator=torch.Generator().manual_seed(3))
    analytic = {
        "random": 0.01,
        "xavier": math.sqrt(2 / (128 * 9 + 256 * 9)),  # Glorot & Bengio (2010), eq. 16 in its normal form
        "he": math.sqrt(2 / (128 * 9)),  # He et al. (2015), eq. 10
    }[scheme]
    assert weight.std().item() == pytest.approx(analytic, rel=0.01)
    assert abs(weight.mean().item()) < 0.01 * analytic


@pytest.mark.parametrize("scheme", ["random", "xavier", "he"])
def test_layer_with_named_init(scheme):
    layer = Conv2d(128, 256, 3, init=scheme)
    assert torch.count_nonzero(layer.bias) == 0  # biases start at zero outside "pytorch"
    assert layer.weight.std().item() == pytest.approx(init.init_std((256, 128, 3, 3), scheme), rel=0.02)


def test_bad_init_name():
    with pytest.raises(ValueError, match=r"'glorot'"):
        Conv2d(3, 4, 3, init="glorot")
    with pytest.raises(ValueError, match=r"^scheme must be one of \['he', 'random', 'xavier'\], got 'kaiming'$"):
        init.init_std((4, 3, 3, 3), "kaiming")


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(in_channels=0, out_channels=4, kernel_size=3), ValueError, r"^in_channels must be >= 1, got 0$"),
        (dict(in_channels=3, out_channels=4.0, kernel_size=3), TypeError, r"^out_channels must be an int, got 4\.0$"),
        (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4), ValueError, r"groups must divide in_channels and out_channels"),
        (dict(in_channels=3, out_channels=4, kernel_size=0), ValueError, r"^kernel_size must be >= 1, got 0$"),
    ],
)
def test_conv2d_layer_bad_arguments(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        Conv2d(**kwargs)


@pytest.mark.parametrize(
    "kwargs, exception",
    [
        (dict(stride=2, padding="same"), ValueError),
        (dict(padding="full"), ValueError),
        (dict(padding=-1), ValueError),
        (dict(padding=(1, 1, 1)), TypeError),
        (dict(stride=0), ValueError),
        (dict(stride=1.5), TypeError),
        (dict(dilation=0), ValueError),
    ],
    ids=str,
)
def test_layer_refuses_bad_geometry_when_built(kwargs, exception):
    """Refused at construction, with the message functional.conv2d gives for the same argument."""
    with pytest.raises(exception) as layer_error:
        Conv2d(3, 4, 3, **kwargs)
    with pytest.raises(exception) as function_error:
        functional.conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3, 3), **kwargs)
    assert str(layer_error.value) == str(function_error.value)


def test_torch_also_refuses_bad_padding_when_built():
    """The two padding errors PyTorch's own layer raises at construction (the drop-in's reference)."""
    for kwargs in (dict(stride=2, padding="same"), dict(padding="full")):
        with pytest.raises(ValueError):
            nn.Conv2d(3, 4, 3, **kwargs)


def test_extra_repr():
    text = repr(Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2, bias=False))
    assert text == (
        "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=1, dilation=(1, 1), groups=2, bias=False)"
    )


@pytest.mark.parametrize("groups, bias", [(1, True), (1, False)])
def test_conv1x1_is_linear_over_channels(groups, bias):
    torch.manual_seed(4)
    linear = nn.Linear(6, 5, bias=bias).double()
    conv = Conv1x1(6, 5, groups=groups, bias=bias).double()
    assert conv.weight.shape == (5, 6, 1, 1)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        if bias:
            conv.bias.copy_(linear.bias)
    x = torch.randn(3, 6, 4, 7, dtype=torch.float64)
    expected = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # the same Linear at every pixel
    torch.testing.assert_close(conv(x), expected, rtol=1e-12, atol=1e-12)


def test_grouped_conv1x1_is_block_diagonal_linear():
    torch.manual_seed(5)
    conv = Conv1x1(6, 4, groups=2, bias=False).double()
    block = torch.zeros(4, 6, dtype=torch.float64)
    block[:2, :3] = conv.weight[:2, :, 0, 0].detach()
    block[2:, 3:] = conv.weight[2:, :, 0, 0].detach()
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    expected = torch.einsum("oc,nchw->nohw", block, x)
    torch.testing.assert_close(conv(x), expected, rtol=1e-12, atol=1e-12)
