"""convref.arith and convref.zoo against convolution arithmetic, PyTorch's shapes and the papers.

Independent oracles: the worked examples of Dumoulin & Visin (2016), the output shapes of
``torch.nn.functional.conv2d``, receptive fields found by backpropagating through PyTorch
convolutions, parameter counts of ``torch.nn`` modules, PyTorch's FLOP counter, and the
numbers printed in the GoogLeNet, MobileNet and Araujo et al. papers.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convref import arith, zoo
from convref.arith import (
    ConvSpec,
    Cost,
    conv_cost,
    conv_output_size,
    linear_cost,
    receptive_field,
)


def torch_output_length(size, kernel_size, stride=1, padding=0, dilation=1) -> int:
    """Output width of PyTorch's conv2d on a 1 x size input (the height stays 1 with a 1-tall kernel)."""
    x = torch.zeros(1, 1, 1, size)
    weight = torch.zeros(1, 1, 1, kernel_size)
    pad = padding if isinstance(padding, str) else (0, padding)
    return F.conv2d(
        x, weight, stride=(1, stride), padding=pad, dilation=(1, dilation)
    ).shape[-1]


# ---------------------------------------------------------------------------
# conv_output_size
# ---------------------------------------------------------------------------

# Dumoulin & Visin (2016), "A guide to convolution arithmetic for deep learning", section 2.
CONV_ARITHMETIC = [
    # (name, i, k, s, p, d, o)
    ("no padding, unit strides (fig 2.1)", 4, 3, 1, 0, 1, 2),
    ("arbitrary padding (fig 2.2)", 5, 4, 1, 2, 1, 6),
    ("half (same) padding (fig 2.3)", 5, 3, 1, 1, 1, 5),
    ("full padding (fig 2.4)", 5, 3, 1, 2, 1, 7),
    ("no padding, strides (fig 2.5)", 5, 3, 2, 0, 1, 2),
    ("padding and strides (fig 2.6)", 5, 3, 2, 1, 1, 3),
    ("padding and strides, odd (fig 2.7)", 6, 3, 2, 1, 1, 3),
    ("dilated (fig 5.1)", 7, 3, 1, 0, 2, 3),
]


@pytest.mark.parametrize(
    "name, i, k, s, p, d, o", CONV_ARITHMETIC, ids=[row[0] for row in CONV_ARITHMETIC]
)
def test_conv_output_size_guide(name, i, k, s, p, d, o):
    assert conv_output_size(i, k, stride=s, padding=p, dilation=d) == o
    assert torch_output_length(i, k, s, p, d) == o


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 30),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 4),
)
def test_conv_output_size_matches_torch(size, kernel, stride, padding, dilation):
    if size + 2 * padding < dilation * (kernel - 1) + 1:
        with pytest.raises(ValueError, match="smaller than the dilated kernel"):
            conv_output_size(size, kernel, stride, padding, dilation)
        with pytest.raises(RuntimeError):  # PyTorch refuses it too
            torch_output_length(size, kernel, stride, padding, dilation)
    else:
        assert conv_output_size(
            size, kernel, stride, padding, dilation
        ) == torch_output_length(size, kernel, stride, padding, dilation)


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(1, 20),
    kernel=st.integers(1, 6),
    dilation=st.integers(1, 3),
    stride=st.integers(1, 3),
)
def test_conv_output_size_strings_match_torch(size, kernel, dilation, stride):
    assert conv_output_size(size, kernel, padding="same", dilation=dilation) == size
    assert torch_output_length(size, kernel, padding="same", dilation=dilation) == size
    if size >= dilation * (kernel - 1) + 1:
        expected = torch_output_length(size, kernel, stride, "valid", dilation)
        assert conv_output_size(size, kernel, stride, "valid", dilation) == expected
        assert conv_output_size(size, kernel, stride, 0, dilation) == expected


CONV_OUTPUT_BAD = [
    (dict(size=-1, kernel_size=3), ValueError, r"^size must be >= 0, got -1$"),
    (dict(size=5.0, kernel_size=3), TypeError, r"^size must be an int, got 5\.0$"),
    (dict(size=5, kernel_size=0), ValueError, r"^kernel_size must be >= 1, got 0$"),
    (
        dict(size=5, kernel_size=3, stride=0),
        ValueError,
        r"^stride must be >= 1, got 0$",
    ),
    (
        dict(size=5, kernel_size=3, stride=True),
        TypeError,
        r"^stride must be an int, got True$",
    ),
    (
        dict(size=5, kernel_size=3, dilation=0),
        ValueError,
        r"^dilation must be >= 1, got 0$",
    ),
    (
        dict(size=5, kernel_size=3, padding=-1),
        ValueError,
        r"^padding must be >= 0, got -1$",
    ),
    (
        dict(size=5, kernel_size=3, padding=1.5),
        TypeError,
        r"^padding must be an int, got 1\.5$",
    ),
    (
        dict(size=5, kernel_size=3, padding="full"),
        ValueError,
        r"'valid' or 'same', got 'full'$",
    ),
    (
        dict(size=5, kernel_size=3, stride=2, padding="same"),
        ValueError,
        r"^padding='same' needs stride=1",
    ),
    (
        dict(size=2, kernel_size=3),
        ValueError,
        r"smaller than the dilated kernel \(3\)$",
    ),
    (
        dict(size=5, kernel_size=3, dilation=3),
        ValueError,
        r"smaller than the dilated kernel \(7\)$",
    ),
    (
        dict(size=0, kernel_size=1),
        ValueError,
        r"smaller than the dilated kernel \(1\)$",
    ),
]


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    CONV_OUTPUT_BAD,
    ids=[str(row[0]) for row in CONV_OUTPUT_BAD],
)
def test_conv_output_size_bad_arguments(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        conv_output_size(**kwargs)


# ---------------------------------------------------------------------------
# receptive_field against autograd
# ---------------------------------------------------------------------------


def brute_force_field(specs: list[ConvSpec], length: int) -> tuple[int, int, int]:
    """``(size, stride, start)`` of the stack, read off input gradients of PyTorch convolutions.

    Each layer is a 1-D convolution with an all-ones kernel (pooling has the same geometry),
    ``padding`` zeros on the left and right. With positive weights and inputs nothing
    cancels, so output ``i``'s input gradient is nonzero exactly where it looks. Two outputs
    from the middle of the map, whose fields lie inside the input (checked), give the size, the
    stride between outputs and -- knowing ``i`` -- the first input position of output 0.
    """
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for spec in specs:
        weight = torch.ones(1, 1, spec.kernel_size, dtype=torch.float64)
        y = F.conv1d(
            F.pad(y, (spec.padding, spec.padding)),
            weight,
            stride=spec.stride,
            dilation=spec.dilation,
        )
    out_length = y.shape[-1]
    assert out_length >= 2, "input too short for the test"
    i = out_length // 2 - 1
    firsts, lasts = [], []
    for position in (i, i + 1):
        (grad,) = torch.autograd.grad(y[0, 0, position], x, retain_graph=True)
        support = torch.nonzero(grad[0, 0]).flatten()
        first, last = int(support[0]), int(support[-1])
        assert 0 < first and last < length - 1, (
            "field touches the input's border: make the input longer"
        )
        firsts.append(first)
        lasts.append(last)
    size = lasts[0] - firsts[0] + 1
    assert lasts[1] - firsts[1] + 1 == size
    stride = firsts[1] - firsts[0]
    return size, stride, firsts[0] - i * stride


def required_length(specs: list[ConvSpec]) -> int:
    """An input long enough that the middle outputs see no border: a generous bound."""
    jump, total = 1, 1
    for spec in specs:
        total += (spec.span + 2 * spec.padding + 2 * spec.stride) * jump
        jump *= spec.stride
    return 4 * total + 8


STACKS = {
    "single 3x3": [ConvSpec(3)],
    "single padded": [ConvSpec(3, padding=1)],
    "two 3x3": [ConvSpec(3), ConvSpec(3)],
    "strided then 3x3": [ConvSpec(3, stride=2, padding=1), ConvSpec(3, padding=1)],
    "pool then conv": [
        ConvSpec(5, padding=2),
        ConvSpec(2, stride=2),
        ConvSpec(3, padding=1),
    ],
    "dilated": [ConvSpec(3, dilation=2), ConvSpec(3, dilation=4, padding=4)],
    "even kernels strided": [
        ConvSpec(4, stride=2, padding=1),
        ConvSpec(2, stride=3),
        ConvSpec(4, padding=3),
    ],
}


@pytest.mark.parametrize("specs", list(STACKS.values()), ids=list(STACKS))
def test_receptive_field_matches_autograd(specs):
    field = receptive_field(specs)
    assert (field.size, field.stride, field.start) == brute_force_field(
        specs, required_length(specs)
    )


SPECS = st.builds(
    ConvSpec,
    kernel_size=st.integers(1, 5),
    stride=st.integers(1, 3),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(SPECS, min_size=1, max_size=4))
def test_receptive_field_property(specs):
    field = receptive_field(specs)
    assert (field.size, field.stride, field.start) == brute_force_field(
        specs, required_length(specs)
    )


def test_receptive_field_center_and_empty_stack():
    # one 3x3 conv with padding 1: output 0 looks at -1, 0, 1, centred on input 0
    assert receptive_field([ConvSpec(3, padding=1)]).center == 0.0
    assert receptive_field([ConvSpec(4)]).center == 1.5
    # no layer: every output is its own input
    assert receptive_field([]) == arith.ReceptiveField(size=1, stride=1, start=0)


def alexnet_specs() -> list[ConvSpec]:
    """AlexNet's single path (Krizhevsky et al. 2012): conv1 .. pool5."""
    return [
        ConvSpec(11, stride=4),  # conv1
        ConvSpec(3, stride=2),  # pool1
        ConvSpec(5, padding=2),  # conv2
        ConvSpec(3, stride=2),  # pool2
        ConvSpec(3, padding=1),  # conv3
        ConvSpec(3, padding=1),  # conv4
        ConvSpec(3, padding=1),  # conv5
        ConvSpec(3, stride=2),  # pool5
    ]


def vgg16_specs(until_pool5: bool = True) -> list[ConvSpec]:
    """VGG-16 (Simonyan & Zisserman 2015): 3x3 convs with padding 1, a 2x2/s2 pool after each block."""
    specs = []
    for block, convs in enumerate((2, 2, 3, 3, 3)):
        specs += [ConvSpec(3, padding=1)] * convs
        if until_pool5 or block < 4:
            specs.append(ConvSpec(2, stride=2))
    return specs


def test_receptive_field_alexnet_published():
    """Araujo, Norris & Sim (Distill 2019), Table 1: AlexNet's receptive field is 195."""
    field = receptive_field(alexnet_specs())
    assert field.size == 195
    assert field.stride == 4 * 2 * 2 * 2
    assert (field.size, field.stride, field.start) == brute_force_field(
        alexnet_specs(), required_length(alexnet_specs())
    )


def test_receptive_field_vgg16_published():
    """Araujo et al. (2019): VGG-16's receptive field is 212 at pool5 (196 at conv5_3)."""
    assert receptive_field(vgg16_specs()).size == 212
    assert receptive_field(vgg16_specs()).stride == 32
    assert receptive_field(vgg16_specs(until_pool5=False)).size == 196
    specs = vgg16_specs()
    field = receptive_field(specs)
    assert (field.size, field.stride, field.start) == brute_force_field(
        specs, required_length(specs)
    )


def test_stack_specs():
    assert arith.stack_specs([3, 2], [1, 2]) == [ConvSpec(3), ConvSpec(2, stride=2)]
    assert arith.stack_specs([3], dilations=[2]) == [ConvSpec(3, dilation=2)]
    # three 3x3 convolutions see as far as one 7x7 (Simonyan & Zisserman 2015, section 2.3)
    assert (
        receptive_field(arith.stack_specs([3, 3, 3])).size
        == receptive_field([ConvSpec(7)]).size
        == 7
    )
    with pytest.raises(ValueError, match="must have the same length, got 2, 1 and 2"):
        arith.stack_specs([3, 3], [1], [1, 1])


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(kernel_size=0), ValueError, r"^kernel_size must be >= 1, got 0$"),
        (dict(kernel_size=3, stride=0), ValueError, r"^stride must be >= 1, got 0$"),
        (
            dict(kernel_size=3, padding=-1),
            ValueError,
            r"^padding must be >= 0, got -1$",
        ),
        (
            dict(kernel_size=3, dilation=0),
            ValueError,
            r"^dilation must be >= 1, got 0$",
        ),
        (dict(kernel_size=3.0), TypeError, r"^kernel_size must be an int, got 3\.0$"),
    ],
)
def test_conv_spec_bad_arguments(kwargs, exception, pattern):
    with pytest.raises(exception, match=pattern):
        ConvSpec(**kwargs)


def test_receptive_field_rejects_non_specs():
    with pytest.raises(TypeError, match=r"^specs\[1\] must be a ConvSpec, got tuple$"):
        receptive_field([ConvSpec(3), (3, 1)])


# ---------------------------------------------------------------------------
# conv_cost and linear_cost against torch.nn modules and PyTorch's FLOP counter
# ---------------------------------------------------------------------------


def torch_mult_adds(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds PyTorch's FLOP counter finds in ``module(x)`` (it counts 2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        module(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


CONV_COST_CASES = [
    # (in, out, kernel, stride, padding, groups, bias, input size)
    (3, 16, 3, 1, 1, 1, True, (12, 12)),
    (3, 16, 3, 1, 1, 1, False, (12, 12)),
    (8, 12, (3, 5), 2, 1, 4, True, (11, 9)),
    (8, 8, 3, 1, 1, 8, False, (10, 10)),  # depthwise
    (16, 32, 1, 1, 0, 1, False, (7, 7)),  # pointwise
    (6, 4, (2, 3), (2, 1), 0, 2, True, (9, 8)),
]


@pytest.mark.parametrize(
    "c_in, c_out, kernel, stride, padding, groups, bias, size", CONV_COST_CASES
)
def test_conv_cost_matches_torch(
    c_in, c_out, kernel, stride, padding, groups, bias, size
):
    layer = nn.Conv2d(
        c_in, c_out, kernel, stride=stride, padding=padding, groups=groups, bias=bias
    )
    x = torch.zeros(1, c_in, *size)
    out_size = tuple(layer(x).shape[-2:])
    cost = conv_cost(c_in, c_out, kernel, out_size, groups=groups, bias=bias)
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.mult_adds == torch_mult_adds(layer, x)


@pytest.mark.parametrize(
    "c_in, c_out, bias", [(10, 7, True), (10, 7, False), (1024, 1000, True)]
)
def test_linear_cost_matches_torch(c_in, c_out, bias):
    layer = nn.Linear(c_in, c_out, bias=bias)
    cost = linear_cost(c_in, c_out, bias=bias)
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.mult_adds == torch_mult_adds(layer, torch.zeros(1, c_in))


def test_costs_add_up():
    assert Cost(1, 2) + Cost(3, 4) == Cost(4, 6)
    assert sum([Cost(1, 2), Cost(3, 4)]) == Cost(4, 6)
    assert sum([Cost(1, 2)], Cost()) == Cost(1, 2)
    with pytest.raises(TypeError):
        Cost(1, 2) + 3


@pytest.mark.parametrize(
    "call, exception, pattern",
    [
        (
            lambda: conv_cost(0, 4, 3, 5),
            ValueError,
            r"^in_channels must be >= 1, got 0$",
        ),
        (
            lambda: conv_cost(4, 4.0, 3, 5),
            TypeError,
            r"^out_channels must be an int, got 4\.0$",
        ),
        (
            lambda: conv_cost(4, 4, 0, 5),
            ValueError,
            r"^kernel_size must be >= 1, got 0$",
        ),
        (
            lambda: conv_cost(4, 4, 3, (5, 0)),
            ValueError,
            r"^output_size must be >= 1, got \(5, 0\)$",
        ),
        (
            lambda: conv_cost(4, 6, 3, 5, groups=4),
            ValueError,
            r"groups must divide in_channels and out_channels",
        ),
        (
            lambda: conv_cost(4, 4, 3, 5, groups=0),
            ValueError,
            r"^groups must be >= 1, got 0$",
        ),
        (
            lambda: conv_cost(4, 4, 3, 5, bias=1),
            TypeError,
            r"^bias must be a bool, got 1$",
        ),
        (lambda: linear_cost(0, 3), ValueError, r"^in_features must be >= 1, got 0$"),
        (
            lambda: linear_cost(3, -1),
            ValueError,
            r"^out_features must be >= 1, got -1$",
        ),
    ],
)
def test_cost_bad_arguments(call, exception, pattern):
    with pytest.raises(exception, match=pattern):
        call()


# ---------------------------------------------------------------------------
# zoo against the papers
# ---------------------------------------------------------------------------


def total(layers) -> Cost:
    return sum((layer.cost for layer in layers), Cost())


def test_inception_3a_against_googlenet_table1():
    """Szegedy et al. (2015), Table 1, inception (3a): 159K parameters and 128M ops."""
    cost = total(zoo.inception_module(**zoo.GOOGLENET_INCEPTION_3A))
    assert cost == Cost(params=163_328, mult_adds=128_049_152)
    # The paper's K is 1024 and it truncates: 163,328 / 1024 = 159.5 exactly, printed as 159K
    # (round() would give 160).
    assert cost.params / 1024 == 159.5
    assert math.floor(cost.params / 1024) == 159
    assert round(cost.mult_adds / 1e6) == 128
    # each branch keeps the 28x28 map, so mult-adds are params times the 784 positions
    assert cost.mult_adds == cost.params * 28 * 28


def inception_torch(
    in_channels, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj
) -> nn.ModuleList:
    return nn.ModuleList(
        [
            nn.Conv2d(in_channels, n1x1, 1, bias=False),
            nn.Sequential(
                nn.Conv2d(in_channels, n3x3_reduce, 1, bias=False),
                nn.Conv2d(n3x3_reduce, n3x3, 3, padding=1, bias=False),
            ),
            nn.Sequential(
                nn.Conv2d(in_channels, n5x5_reduce, 1, bias=False),
                nn.Conv2d(n5x5_reduce, n5x5, 5, padding=2, bias=False),
            ),
            nn.Sequential(
                nn.MaxPool2d(3, stride=1, padding=1),
                nn.Conv2d(in_channels, pool_proj, 1, bias=False),
            ),
        ]
    )


def test_inception_3a_against_torch_module():
    args = dict(zoo.GOOGLENET_INCEPTION_3A)
    size = args.pop("size")
    module = inception_torch(**args)
    x = torch.zeros(1, args["in_channels"], size, size, device="meta")
    module = module.to("meta")
    with FlopCounterMode(display=False) as counter:
        outputs = [branch(x) for branch in module]
    assert torch.cat(outputs, 1).shape == (1, 256, 28, 28)  # the paper's output depth
    cost = total(zoo.inception_module(**zoo.GOOGLENET_INCEPTION_3A))
    assert cost.params == sum(p.numel() for p in module.parameters())
    assert cost.mult_adds == counter.get_total_flops() // 2


def mobilenet_v1_torch(
    separable: bool = True, num_classes: int = 1000
) -> nn.Sequential:
    """MobileNet v1 (Howard et al. 2017, Table 1) as torch modules, without BatchNorm.

    Like the released model, the last depthwise layer has stride 1 (the table's "s2" there
    would halve the 7x7 map, which the next row says stays 7x7).
    """
    blocks = (
        [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
        + [(512, 1)] * 5
        + [(1024, 2), (1024, 1)]
    )
    layers: list[nn.Module] = [
        nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False),
        nn.ReLU(),
    ]
    channels = 32
    for out, stride in blocks:
        if separable:
            layers += [
                nn.Conv2d(
                    channels,
                    channels,
                    3,
                    stride=stride,
                    padding=1,
                    groups=channels,
                    bias=False,
                ),
                nn.ReLU(),
                nn.Conv2d(channels, out, 1, bias=False),
                nn.ReLU(),
            ]
        else:
            layers += [
                nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=False),
                nn.ReLU(),
            ]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("separable", [True, False])
def test_mobilenet_v1_against_torch_module(separable):
    model = mobilenet_v1_torch(separable).to("meta")
    x = torch.zeros(1, 3, 224, 224, device="meta")
    with FlopCounterMode(display=False) as counter:
        y = model(x)
    assert y.shape == (1, 1000)
    cost = total(zoo.mobilenet_v1(separable=separable))
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert cost.mult_adds == counter.get_total_flops() // 2


def test_mobilenet_v1_totals_against_paper():
    """Howard et al. (2017), Table 8 / Table 4: 4.2M parameters, 569M mult-adds."""
    cost = total(zoo.mobilenet_v1())
    assert round(cost.params / 1e5) == 42
    assert round(cost.mult_adds / 1e6) == 569


def test_mobilenet_v1_shares_against_table2():
    """Howard et al. (2017), Table 2: where the mult-adds and parameters are.

    The paper's parameter shares leave out the classifier's 1000 biases.
    """
    layers = zoo.mobilenet_v1(num_classes=1000)
    kinds = zoo.cost_by_kind(layers)
    assert set(kinds) == {"conv 3x3", "conv dw 3x3", "conv 1x1", "fc"}
    cost = total(layers)
    params_without_fc_bias = cost.params - 1000
    fc_weights = kinds["fc"].params - 1000

    def shares(kind, params=None):
        params = kinds[kind].params if params is None else params
        return round(100 * kinds[kind].mult_adds / cost.mult_adds, 2), round(
            100 * params / params_without_fc_bias, 2
        )

    assert shares("conv 1x1") == (94.86, 74.59)
    assert shares("conv dw 3x3") == (3.06, 1.06)
    assert shares("fc", fc_weights) == (0.18, 24.33)
    assert (
        shares("conv 3x3")[1] == 0.02
    )  # (the table's 1.19% of mult-adds is inconsistent: the rows sum to 99.29%)


def test_full_conv_mobilenet_against_table4():
    """Howard et al. (2017), Table 4: "Conv MobileNet" has 29.3M parameters and 4866M mult-adds."""
    cost = total(zoo.mobilenet_v1(separable=False))
    assert cost.mult_adds == 4_867_293_184
    assert abs(cost.mult_adds / 1e6 - 4866) < 2
    assert round(cost.params / 1e5) == 293


# Howard et al. (2017), Table 6 (width multiplier) and Table 7 (resolution): (M mult-adds, M params).
# The paper's rounding is not consistent (569 for 568.7M, 290 for 290.7M), so mult-adds are
# checked to within 1M of the printed number.
MOBILENET_MULTIPLIERS = [
    (dict(width_multiplier=1.0), 569, 4.2),
    (dict(width_multiplier=0.75), 325, 2.6),
    (dict(width_multiplier=0.5), 149, 1.3),
    (dict(width_multiplier=0.25), 41, 0.5),
    (dict(resolution=192), 418, 4.2),
    (dict(resolution=160), 290, 4.2),
    (dict(resolution=128), 186, 4.2),
]


@pytest.mark.parametrize(
    "kwargs, mult_adds_m, params_m", MOBILENET_MULTIPLIERS, ids=str
)
def test_mobilenet_multipliers_against_tables_6_and_7(kwargs, mult_adds_m, params_m):
    cost = total(zoo.mobilenet_v1(**kwargs))
    assert abs(cost.mult_adds / 1e6 - mult_adds_m) < 1
    assert round(cost.params / 1e6, 1) == params_m
