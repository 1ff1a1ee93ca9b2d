"""convref.nn layers and initialisers against torch.nn and torch.nn.init, and the layers' shared base.

Oracles: PyTorch's own layers (outputs, gradients, parameter shapes, and their default
initialisation draw for draw), ``torch.nn.init``, the papers' standard deviations, and
PyTorch's own signatures (``inspect``) for the argument order that the layers keep.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn

import convref.nn as cnn
from convref import functional
from convref.nn import Conv1x1, Conv2d, init

LAYER_CASES = [
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1),
    dict(
        in_channels=4,
        out_channels=6,
        kernel_size=(3, 2),
        stride=(2, 1),
        padding=(1, 0),
        dilation=(1, 2),
        groups=2,
    ),
    dict(
        in_channels=4,
        out_channels=4,
        kernel_size=3,
        padding="same",
        groups=4,
        bias=False,
    ),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=2, kernel_size=2, padding="valid", stride=2),
]


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=str)
def test_conv2d_layer_matches_torch(kwargs):
    torch.manual_seed(0)
    theirs = nn.Conv2d(**kwargs).double()
    ours = Conv2d(**kwargs).double()
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]
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
    bound = 1 / math.sqrt(
        32 * 3 * 3
    )  # k = groups / (C_in * kh * kw), bound sqrt(k) (torch.nn.Conv2d docs)
    for p in (layer.weight, layer.bias):
        assert p.abs().max().item() <= bound
        assert p.abs().max().item() > 0.95 * bound
    assert (
        abs(layer.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
    )  # std of U(-b, b) is b / sqrt(3)


@pytest.mark.parametrize(
    "shape", [(64, 32, 3, 3), (10, 3, 5, 5), (16, 1, 3, 3), (100, 50), (8, 4, 1, 7)]
)
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
    expected = _empirical_std(
        lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"), shape
    )
    assert init.init_std(shape, "he") == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("shape", INIT_SHAPES, ids=str)
def test_pytorch_default_std_matches_torch(shape):
    """PyTorch's own default draw, kaiming_uniform_(a=sqrt(5)): variance 1 / (3 fan_in)."""
    expected = _empirical_std(
        lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), shape
    )
    assert init.init_std(shape, "pytorch") == pytest.approx(expected, rel=0.01)


def test_pytorch_scheme_draws_uniform_values_within_torchs_bound():
    shape = (256, 128, 3, 3)
    weight = init.init_weight_(
        torch.empty(shape), "pytorch", generator=torch.Generator().manual_seed(4)
    )
    bound = 1 / math.sqrt(
        128 * 9
    )  # kaiming_uniform_'s gain * sqrt(3 / fan_in), a = sqrt(5)
    assert weight.abs().max().item() <= bound
    # a uniform fills its range evenly: each tenth holds a tenth of the draws
    counts = torch.histc(weight, bins=10, min=-bound, max=bound) / weight.numel()
    assert torch.allclose(counts, torch.full((10,), 0.1), atol=0.005)


def test_random_std_is_krizhevsky():
    assert init.init_std((64, 32, 3, 3), "random") == 0.01
    assert init.init_std((5, 5), "random") == 0.01


@pytest.mark.parametrize("scheme", ["random", "xavier", "he"])
def test_init_weight_draws_the_std(scheme):
    shape = (256, 128, 3, 3)
    weight = init.init_weight_(
        torch.empty(shape), scheme, generator=torch.Generator().manual_seed(3)
    )
    analytic = {
        "random": 0.01,
        "xavier": math.sqrt(
            2 / (128 * 9 + 256 * 9)
        ),  # Glorot & Bengio (2010), eq. 16 in its normal form
        "he": math.sqrt(2 / (128 * 9)),  # He et al. (2015), eq. 10
    }[scheme]
    assert weight.std().item() == pytest.approx(analytic, rel=0.01)
    assert abs(weight.mean().item()) < 0.01 * analytic


@pytest.mark.parametrize("scheme", ["random", "xavier", "he"])
def test_layer_with_named_init(scheme):
    layer = Conv2d(128, 256, 3, init=scheme)
    assert (
        torch.count_nonzero(layer.bias) == 0
    )  # biases start at zero outside "pytorch"
    assert layer.weight.std().item() == pytest.approx(
        init.init_std((256, 128, 3, 3), scheme), rel=0.02
    )


def test_bad_init_name():
    with pytest.raises(ValueError, match=r"'glorot'"):
        Conv2d(3, 4, 3, init="glorot")
    with pytest.raises(
        ValueError,
        match=r"^scheme must be one of \['he', 'pytorch', 'random', 'xavier'\], got 'kaiming'$",
    ):
        init.init_std((4, 3, 3, 3), "kaiming")


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (
            dict(in_channels=0, out_channels=4, kernel_size=3),
            ValueError,
            r"^in_channels must be >= 1, got 0$",
        ),
        (
            dict(in_channels=3, out_channels=4.0, kernel_size=3),
            TypeError,
            r"^out_channels must be an int, got 4\.0$",
        ),
        (
            dict(in_channels=4, out_channels=6, kernel_size=3, groups=4),
            ValueError,
            r"groups must divide in_channels and out_channels",
        ),
        (
            dict(in_channels=3, out_channels=4, kernel_size=0),
            ValueError,
            r"^kernel_size must be >= 1, got 0$",
        ),
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
    expected = linear(x.permute(0, 2, 3, 1)).permute(
        0, 3, 1, 2
    )  # the same Linear at every pixel
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


# ---------------------------------------------------------------------------
# One base for the convolution-shaped layers
# ---------------------------------------------------------------------------

#: One of each convolution-shaped layer, 4 -> 6 channels in 2 groups, with what it holds.
CONV_LAYERS = {
    "Conv2d": (lambda: cnn.Conv2d(4, 6, 3, padding=1, groups=2), (6, 2, 3, 3)),
    "Conv1x1": (lambda: cnn.Conv1x1(4, 6, groups=2), (6, 2, 1, 1)),
    "ConvTranspose2d": (
        lambda: cnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2),
        (4, 3, 3, 3),
    ),
    "CondConv2d": (
        lambda: cnn.CondConv2d(4, 6, 3, padding=1, groups=2, num_kernels=3),
        (3, 6, 2, 3, 3),
    ),
    "DynamicConv2d": (
        lambda: cnn.DynamicConv2d(4, 6, 3, padding=1, groups=2, num_kernels=3),
        (3, 6, 2, 3, 3),
    ),
    "DeformConv2d": (
        lambda: cnn.DeformConv2d(4, 6, 3, padding=1, groups=2),
        (6, 2, 3, 3),
    ),
    "DCN2d": (
        lambda: cnn.DCN2d(4, 6, 3, padding=1, groups=2, offset_groups=2),
        (6, 2, 3, 3),
    ),
    "ActiveConv2d": (
        lambda: cnn.ActiveConv2d(4, 6, 3, padding=1, groups=2),
        (6, 2, 3, 3),
    ),
    "DclsConv2d": (
        lambda: cnn.DclsConv2d(4, 6, 3, 5, padding=2, groups=2),
        (6, 2, 3, 3),
    ),
    "Adder2d": (
        lambda: cnn.Adder2d(4, 6, 3, padding=1, groups=2, bias=True),
        (6, 2, 3, 3),
    ),
}


@pytest.mark.parametrize("name", CONV_LAYERS)
def test_every_conv_layer_is_built_on_the_base(name):
    make, weight_shape = CONV_LAYERS[name]
    layer = make()
    assert isinstance(layer, cnn.ConvLayer2d)
    assert tuple(layer.weight.shape) == weight_shape
    assert tuple(layer.bias.shape) == (
        (weight_shape[0], 6) if len(weight_shape) == 5 else (6,)
    )
    assert (layer.in_channels, layer.out_channels, layer.groups) == (4, 6, 2)


def _torch_draws(name: str, count: int) -> list[torch.nn.Module]:
    """The layers PyTorch itself builds with the same geometry, one per kernel."""
    if name == "ConvTranspose2d":
        return [nn.ConvTranspose2d(4, 6, 3, groups=2) for _ in range(count)]
    kernel_size = 1 if name == "Conv1x1" else 3
    return [nn.Conv2d(4, 6, kernel_size, groups=2) for _ in range(count)]


@pytest.mark.parametrize("name", CONV_LAYERS)
def test_reset_parameters_redraws_weight_and_bias(name):
    """With the default scheme: PyTorch's own draws from the same seed (standard normal, zero bias, for the adder)."""
    make, weight_shape = CONV_LAYERS[name]
    layer = make()
    with torch.no_grad():
        layer.weight.fill_(7.0)
        layer.bias.fill_(7.0)
    torch.manual_seed(5)
    layer.reset_parameters()
    torch.manual_seed(5)
    if name == "Adder2d":
        expected_weight, expected_bias = (
            torch.empty(weight_shape).normal_(0.0, 1.0),
            torch.zeros(6),
        )
    else:
        theirs = _torch_draws(name, weight_shape[0] if len(weight_shape) == 5 else 1)
        expected_weight = torch.stack([t.weight.detach() for t in theirs]).reshape(
            weight_shape
        )
        expected_bias = torch.stack([t.bias.detach() for t in theirs]).reshape(
            layer.bias.shape
        )
    torch.testing.assert_close(layer.weight.detach(), expected_weight, rtol=0, atol=0)
    torch.testing.assert_close(layer.bias.detach(), expected_bias, rtol=0, atol=0)


TORCH_SCHEMES = {
    "he": lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
    "xavier": nn.init.xavier_normal_,
}


@pytest.mark.parametrize("scheme", TORCH_SCHEMES)
@pytest.mark.parametrize(
    "name", [n for n in CONV_LAYERS if n != "DeformConv2d"]
)  # torchvision's has no init
def test_init_scheme_is_shared(name, scheme):
    """Every layer with an ``init`` draws each kernel as torch.nn.init does, and starts its bias at zero."""
    make, weight_shape = CONV_LAYERS[name]
    layer = make()
    layer.init = scheme
    torch.manual_seed(6)
    layer.reset_parameters()
    assert layer.init == scheme and not layer.bias.any()
    torch.manual_seed(6)
    kernels = [
        torch.empty(weight_shape[-4:])
        for _ in range(weight_shape[0] if len(weight_shape) == 5 else 1)
    ]
    for kernel in kernels:
        TORCH_SCHEMES[scheme](kernel)
    # the same normal draws; the standard deviations may differ in the last bit (sqrt(2/n) vs sqrt(2)/sqrt(n))
    torch.testing.assert_close(
        layer.weight.detach(),
        torch.stack(kernels).reshape(weight_shape),
        rtol=1e-6,
        atol=0,
    )


EXPECTED_REPRS = {
    "Conv2d": "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True",
    "Conv1x1": "4, 6, kernel_size=(1, 1), stride=(1, 1), padding=0, dilation=(1, 1), groups=2, bias=True",
    "ConvTranspose2d": (
        "4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(0, 0), dilation=(1, 1), "
        "groups=2, bias=True"
    ),
    "CondConv2d": (
        "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True, num_kernels=3"
    ),
    "DynamicConv2d": (
        "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True, num_kernels=3, "
        "temperature=30.0"
    ),
    "DeformConv2d": "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True",
    "DCN2d": (
        "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True, "
        "offset_groups=2, modulated=False"
    ),
    "ActiveConv2d": "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True",
    "DclsConv2d": "4, 6, kernel_count=3, dilated_kernel_size=5, stride=(1, 1), padding=2, groups=2, bias=True",
    "Adder2d": (
        "4, 6, kernel_size=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=2, bias=True, "
        "gradient='paper', eta=0.2"
    ),
}


@pytest.mark.parametrize("name", CONV_LAYERS)
def test_extra_repr_names_the_arguments(name):
    layer = CONV_LAYERS[name][0]()
    assert layer.extra_repr() == EXPECTED_REPRS[name]
    assert repr(layer).startswith(f"{name}(")


# The arguments each layer shares with PyTorch's layer of its kind, in PyTorch's order.
TORCH_ORDER = {
    cnn.Conv2d: nn.Conv2d,
    cnn.KernelMixtureConv2d: nn.Conv2d,
    cnn.CondConv2d: nn.Conv2d,
    cnn.DynamicConv2d: nn.Conv2d,
    cnn.DeformConv2d: nn.Conv2d,  # torchvision's order is PyTorch's
    cnn.DCN2d: nn.Conv2d,
    cnn.ActiveConv2d: nn.Conv2d,
    cnn.Adder2d: nn.Conv2d,
    cnn.ConvTranspose2d: nn.ConvTranspose2d,
}
#: The options beyond PyTorch's: keyword-only.
KEYWORD_ONLY = {
    cnn.Conv2d: ["init"],
    cnn.Conv1x1: ["init"],
    cnn.KernelMixtureConv2d: ["num_kernels", "init"],
    cnn.CondConv2d: ["num_kernels", "init"],
    cnn.DynamicConv2d: ["num_kernels", "reduction", "temperature", "init"],
    cnn.DeformConv2d: [],
    cnn.DCN2d: ["offset_groups", "modulated", "init"],
    cnn.ActiveConv2d: ["init"],
    cnn.DclsConv2d: ["init"],
    cnn.Adder2d: ["gradient", "eta", "scale_when", "init"],
    cnn.ConvTranspose2d: ["init"],
    cnn.DepthwiseSeparableConv2d: ["depth_multiplier", "batch_norm", "activation"],
    cnn.adder_bn_relu: ["eta", "relu"],
    cnn.to_adder: ["eta", "keep_first"],
}


def _kinds(function) -> dict[str, object]:
    return {
        name: p.kind
        for name, p in inspect.signature(function).parameters.items()
        if name != "self"
    }


@pytest.mark.parametrize("layer", list(TORCH_ORDER), ids=lambda c: c.__name__)
def test_pytorchs_arguments_keep_pytorchs_order(layer):
    theirs = [
        name
        for name in _kinds(TORCH_ORDER[layer].__init__)
        if name not in ("padding_mode", "device", "dtype")
    ]
    positional = [
        n
        for n, kind in _kinds(layer.__init__).items()
        if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert positional == theirs


@pytest.mark.parametrize("function", list(KEYWORD_ONLY), ids=lambda c: c.__name__)
def test_options_beyond_pytorchs_are_keyword_only(function):
    kinds = _kinds(function)
    assert [
        n for n, kind in kinds.items() if kind is inspect.Parameter.KEYWORD_ONLY
    ] == KEYWORD_ONLY[function]


@pytest.mark.parametrize(
    "call",
    [
        lambda: cnn.Conv2d(3, 4, 3, 1, 0, 1, 1, True, "he"),
        lambda: cnn.Conv1x1(3, 4, 1, True, "he"),
        lambda: cnn.CondConv2d(4, 4, 3, 1, 0, 1, 1, True, 3),
        lambda: cnn.DynamicConv2d(4, 4, 3, 1, 0, 1, 1, True, 3),
        lambda: cnn.ConvTranspose2d(2, 2, 4, 2, 1, 0, 1, True, 1, "bilinear"),
        lambda: cnn.Adder2d(4, 6, 3, 1, 0, 1, 1, False, "exact"),
        lambda: cnn.ActiveConv2d(4, 6, 3, 1, 0, 1, 1, True, "he"),
        lambda: cnn.DclsConv2d(4, 6, 3, 5, 1, 0, 1, True, "he"),
        lambda: cnn.DeformConv2d(4, 6, 3, 1, 0, 1, 1, True, 2),
        lambda: cnn.DepthwiseSeparableConv2d(4, 6, 3, 1, 0, 1, True, 2),
        lambda: cnn.adder_bn_relu(3, 8, 3, 1, 0, 1, None),
    ],
)
def test_options_passed_positionally_are_refused(call):
    with pytest.raises(
        TypeError,
        match=r"takes from \d+ to \d+ positional arguments but \d+ were given",
    ):
        call()


def test_pytorchs_arguments_still_work_positionally():
    torch.manual_seed(7)
    ours = cnn.Conv2d(4, 6, (3, 2), 2, 1, (1, 2), 2, False).double()
    theirs = nn.Conv2d(4, 6, (3, 2), 2, 1, (1, 2), 2, False).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 7, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-12, atol=1e-12)
    transposed = cnn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, False, 1)
    assert (transposed.output_padding, transposed.groups, transposed.bias) == (
        (1, 1),
        2,
        None,
    )


#: Constructor arguments every layer needs, and a bad value per shared argument.
NEEDED = {
    cnn.Conv2d: dict(kernel_size=3),
    cnn.Conv1x1: {},
    cnn.CondConv2d: dict(kernel_size=3),
    cnn.DynamicConv2d: dict(kernel_size=3),
    cnn.DeformConv2d: dict(kernel_size=3),
    cnn.DCN2d: dict(kernel_size=3),
    cnn.ActiveConv2d: dict(kernel_size=3),
    cnn.DclsConv2d: dict(kernel_count=3, dilated_kernel_size=5),
    cnn.Adder2d: dict(kernel_size=3),
    cnn.ConvTranspose2d: dict(kernel_size=3),
}
BAD_SHARED = [
    ("in_channels", 0, ValueError, r"^in_channels must be >= 1, got 0$"),
    ("out_channels", 6.0, TypeError, r"^out_channels must be an int, got 6\.0$"),
    (
        "groups",
        4,
        ValueError,
        r"^groups must divide in_channels and out_channels, got groups=4 for 4 -> 6 channels$",
    ),
    ("kernel_size", 0, ValueError, r"^kernel_size must be >= 1, got 0$"),
    ("stride", (1, 0), ValueError, r"^stride must be >= 1, got \(1, 0\)$"),
    ("padding", -1, ValueError, r"^padding must be >= 0, got -1$"),
    (
        "dilation",
        1.0,
        TypeError,
        r"^dilation must be an int or a pair of ints, got 1\.0$",
    ),
    ("bias", 1, TypeError, r"^bias must be a bool, got 1$"),
    (
        "init",
        "glorot",
        ValueError,
        r"^init must be one of \['\w+'(, '\w+')*\], got 'glorot'$",
    ),
    ("num_kernels", 0, ValueError, r"^num_kernels must be >= 1, got 0$"),
]
BAD_CASES = [
    pytest.param(layer, name, value, error, pattern, id=f"{layer.__name__}-{name}")
    for layer in NEEDED
    for name, value, error, pattern in BAD_SHARED
    if name in inspect.signature(layer).parameters
]


@pytest.mark.parametrize("layer, name, value, error, pattern", BAD_CASES)
def test_bad_shared_arguments_are_refused_by_every_layer(
    layer, name, value, error, pattern
):
    with pytest.raises(error, match=pattern):
        layer(**{"in_channels": 4, "out_channels": 6, **NEEDED[layer], name: value})


def test_setting_a_bad_init_is_refused():
    layer = cnn.Conv2d(3, 4, 3)
    message = (
        r"^init must be one of \['pytorch', 'he', 'random', 'xavier'\], got 'normal'$"
    )
    with pytest.raises(ValueError, match=message):
        layer.init = "normal"
    assert layer.init == "pytorch"
