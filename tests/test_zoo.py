"""convref.zoo's ResNet, ResNeXt and SqueezeNet blocks, cost shares and layer tables.

Independent oracles: the same blocks built from ``torch.nn`` modules (parameters summed with
``p.numel()``, multiply-adds from PyTorch's FLOP counter, run on the meta device so nothing
is computed), closed-form counts from the papers, and the numbers the papers print:
He et al. (2016), Xie et al. (2017), Iandola et al. (2016) and Howard et al. (2017).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convref import zoo
from convref.arith import Cost

# ---------------------------------------------------------------------------
# Helpers: counts of torch.nn modules
# ---------------------------------------------------------------------------


def total(layers) -> Cost:
    return sum((layer.cost for layer in layers), Cost())


def conv_params(module: nn.Module) -> int:
    """Parameters of the convolutions in ``module`` (BatchNorm's scale and shift left out, as the zoo does)."""
    return sum(
        p.numel()
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
        for p in m.parameters()
    )


def run_counted(
    module: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, FlopCounterMode]:
    """``module(x)`` on the meta device under PyTorch's FLOP counter (2 FLOPs per multiply-add)."""
    module = module.to("meta")
    with FlopCounterMode(display=False) as counter:
        y = module(x.to("meta"))
    return y, counter


def mult_adds(counter: FlopCounterMode) -> int:
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def layer_mult_adds(conv: nn.Conv2d, size: int) -> int:
    """Multiply-adds of one convolution on a ``size`` x ``size`` input."""
    _, counter = run_counted(conv, torch.zeros(1, conv.in_channels, size, size))
    return mult_adds(counter)


def layer_costs_match(layers, convs, size) -> None:
    """Each zoo layer costs what the torch convolution in the same position costs."""
    assert len(layers) == len(convs)
    for layer, conv in zip(layers, convs):
        assert layer.cost.params == sum(p.numel() for p in conv.parameters()), (
            layer.name
        )
        assert layer.cost.mult_adds == layer_mult_adds(conv, size), layer.name


# ---------------------------------------------------------------------------
# ResNet basic block and bottleneck (He et al. 2016, figure 5), ResNeXt (Xie et al. 2017)
# ---------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """He et al. (2016), figure 5 left: 3x3 -> BN -> ReLU -> 3x3 -> BN, plus the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def convs(self) -> list[nn.Conv2d]:
        return [self.conv1, self.conv2]

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x)


class Bottleneck(nn.Module):
    """He et al. (2016), figure 5 right; with ``groups`` the 3x3 is grouped (ResNeXt, Xie et al. figure 3c)."""

    def __init__(self, channels: int, width: int, groups: int = 1):
        super().__init__()
        self.reduce = nn.Conv2d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv = nn.Conv2d(width, width, 3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.expand = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def convs(self) -> list[nn.Conv2d]:
        return [self.reduce, self.conv, self.expand]

    def forward(self, x):
        y = F.relu(self.bn1(self.reduce(x)))
        y = F.relu(self.bn2(self.conv(y)))
        return F.relu(self.bn3(self.expand(y)) + x)


class ResNeXtPaths(nn.Module):
    """Xie et al. (2017), figure 3a: ``cardinality`` separate paths 1x1 -> 3x3 -> 1x1, summed."""

    def __init__(self, channels: int, cardinality: int, path_width: int):
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, path_width, 1, bias=False),
                nn.ReLU(),
                nn.Conv2d(path_width, path_width, 3, padding=1, bias=False),
                nn.ReLU(),
                nn.Conv2d(path_width, channels, 1, bias=False),
            )
            for _ in range(cardinality)
        )

    def forward(self, x):
        return x + sum(path(x) for path in self.paths)


@pytest.mark.parametrize("channels, size", [(64, 56), (128, 28), (3, 7), (512, 7)])
def test_basic_block_against_torch(channels, size):
    block = BasicBlock(channels)
    layers = zoo.resnet_basic_block(channels, size)
    layer_costs_match(layers, block.convs(), size)
    y, counter = run_counted(block, torch.zeros(1, channels, size, size))
    assert y.shape == (1, channels, size, size)  # the residual sum needs the shape kept
    assert total(layers) == Cost(conv_params(block), mult_adds(counter))
    assert [layer.kind for layer in layers] == ["conv 3x3", "conv 3x3"]


@pytest.mark.parametrize(
    "channels, width, groups, size",
    [
        (256, 64, 1, 56),
        (1024, 256, 1, 14),
        (256, 128, 32, 56),
        (2048, 1024, 32, 7),
        (64, 16, 4, 9),
        (8, 6, 6, 5),
    ],
)
def test_bottleneck_against_torch(channels, width, groups, size):
    block = Bottleneck(channels, width, groups)
    layers = zoo.resnet_bottleneck(channels, width, size, groups=groups)
    layer_costs_match(layers, block.convs(), size)
    y, counter = run_counted(block, torch.zeros(1, channels, size, size))
    assert y.shape == (1, channels, size, size)
    assert total(layers) == Cost(conv_params(block), mult_adds(counter))
    middle = "conv 3x3" if groups == 1 else "conv grouped 3x3"
    assert [layer.kind for layer in layers] == ["conv 1x1", middle, "conv 1x1"]


def test_resnet50_blocks_against_paper():
    """He et al. (2016), figure 5: the bottleneck at 256-d (width 64) and the basic block at 64-d
    have similar complexity -- 69,632 and 73,728 weights (no biases: BatchNorm follows)."""
    bottleneck = total(zoo.resnet_bottleneck(256, 64, 56))
    basic = total(zoo.resnet_basic_block(64, 56))
    assert bottleneck.params == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256 == 69_632
    assert basic.params == 2 * 3 * 3 * 64 * 64 == 73_728
    # every layer keeps the 56x56 map: one multiply-add per weight per position
    assert bottleneck.mult_adds == 69_632 * 56 * 56
    assert basic.mult_adds == 73_728 * 56 * 56


def test_resnext_block_against_paper():
    """Xie et al. (2017), figure 1 and Table 1: the ResNeXt-50 (32x4d) block at 256-d has
    C * (256 d + 3 * 3 * d * d + d * 256) ~ 70k parameters for C = 32 paths of width d = 4,
    about the 69,632 of ResNet-50's bottleneck."""
    grouped = zoo.resnet_bottleneck(256, 128, 56, groups=32)
    cost = total(grouped)
    assert cost.params == 32 * (256 * 4 + 3 * 3 * 4 * 4 + 4 * 256) == 70_144
    assert round(cost.params / 1000) == 70
    assert (
        abs(cost.params - total(zoo.resnet_bottleneck(256, 64, 56)).params) / 69_632
        < 0.01
    )
    # figure 3: the 32 separate paths (a) and the grouped convolution (c) are the same block
    paths = ResNeXtPaths(256, cardinality=32, path_width=4)
    y, counter = run_counted(paths, torch.zeros(1, 256, 56, 56))
    assert y.shape == (1, 256, 56, 56)
    assert cost == Cost(conv_params(paths), mult_adds(counter))
    assert "32 groups" in grouped[1].name


def test_bottleneck_groups_must_divide_width():
    with pytest.raises(ValueError):  # PyTorch refuses such a layer too
        nn.Conv2d(128, 128, 3, groups=3)
    with pytest.raises(ValueError, match="groups must divide"):
        zoo.resnet_bottleneck(256, 128, 56, groups=3)


# ---------------------------------------------------------------------------
# SqueezeNet fire module (Iandola et al. 2016, figure 1 and Table 1)
# ---------------------------------------------------------------------------


class Fire(nn.Module):
    def __init__(
        self,
        in_channels: int,
        squeeze: int,
        expand1x1: int,
        expand3x3: int,
        bias: bool = True,
    ):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, 1, bias=bias)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1, bias=bias)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1, bias=bias)

    def convs(self) -> list[nn.Conv2d]:
        return [self.squeeze, self.expand1x1, self.expand3x3]

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


# SqueezeNet v1.0, Table 1: (input size, in channels, s1x1, e1x1, e3x3) of fire2 .. fire9.
SQUEEZENET_FIRES = {
    "fire2": (55, 96, 16, 64, 64),
    "fire3": (55, 128, 16, 64, 64),
    "fire4": (55, 128, 32, 128, 128),
    "fire5": (27, 256, 32, 128, 128),
    "fire6": (27, 256, 48, 192, 192),
    "fire7": (27, 384, 48, 192, 192),
    "fire8": (27, 384, 64, 256, 256),
    "fire9": (13, 512, 64, 256, 256),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", list(SQUEEZENET_FIRES))
def test_fire_module_against_torch(name, bias):
    size, in_channels, s, e1, e3 = SQUEEZENET_FIRES[name]
    module = Fire(in_channels, s, e1, e3, bias=bias)
    layers = zoo.fire_module(in_channels, s, e1, e3, size, bias=bias)
    layer_costs_match(layers, module.convs(), size)
    y, counter = run_counted(module, torch.zeros(1, in_channels, size, size))
    assert y.shape == (1, e1 + e3, size, size)
    assert total(layers) == Cost(
        sum(p.numel() for p in module.parameters()), mult_adds(counter)
    )
    assert [layer.kind for layer in layers] == ["conv 1x1", "conv 1x1", "conv 3x3"]


def test_fire2_against_table1():
    """Iandola et al. (2016), Table 1: fire2 (55x55x96 in, s1x1 = 16, e1x1 = e3x3 = 64) has
    11,920 parameters before pruning, biases included."""
    layers = zoo.fire_module(96, 16, 64, 64, 55)
    assert total(layers).params == 11_920
    assert [layer.cost.params for layer in layers] == [
        96 * 16 + 16,
        16 * 64 + 64,
        16 * 9 * 64 + 64,
    ]
    assert total(zoo.fire_module(96, 16, 64, 64, 55, bias=False)).params == 11_920 - (
        16 + 64 + 64
    )


def test_fire_module_default_counts_biases():
    """SqueezeNet's convolutions have biases (nn.Conv2d's default), and so does the zoo's default."""
    assert total(zoo.fire_module(128, 32, 128, 128, 55)).params == sum(
        p.numel() for p in Fire(128, 32, 128, 128).parameters()
    )


# ---------------------------------------------------------------------------
# MobileNet v1's classifier bias and cost shares (Howard et al. 2017)
# ---------------------------------------------------------------------------


def mobilenet_v1_torch(
    num_classes: int = 1000, classifier_bias: bool = True
) -> nn.Sequential:
    """MobileNet v1 (Howard et al. 2017, Table 1) without BatchNorm; last depthwise layer stride 1."""
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
        channels = out
    layers += [
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, num_classes, bias=classifier_bias),
    ]
    return nn.Sequential(*layers)


def torch_kind(module: nn.Module) -> str:
    """The kind of a torch layer, read off its type and geometry (the zoo's names)."""
    if isinstance(module, nn.Linear):
        return "fc"
    if module.groups == module.in_channels > 1:
        return f"conv dw {module.kernel_size[0]}x{module.kernel_size[1]}"
    return f"conv {module.kernel_size[0]}x{module.kernel_size[1]}"


@pytest.fixture(scope="module")
def mobilenet_torch_counts() -> dict[bool, dict[str, Cost]]:
    """``{classifier_bias: {kind: Cost}}`` of the torch MobileNet, per-module FLOPs from the counter."""
    counts = {}
    for bias in (True, False):
        model = mobilenet_v1_torch(classifier_bias=bias)
        y, counter = run_counted(model, torch.zeros(1, 3, 224, 224))
        assert y.shape == (1, 1000)
        per_module = counter.get_flop_counts()
        kinds: dict[str, Cost] = {}
        for index, module in enumerate(model):
            if not isinstance(module, (nn.Conv2d, nn.Linear)):
                continue
            flops = sum(per_module[f"Sequential.{index}"].values())
            cost = Cost(sum(p.numel() for p in module.parameters()), flops // 2)
            kinds[torch_kind(module)] = kinds.get(torch_kind(module), Cost()) + cost
        assert sum(kinds.values(), Cost()).mult_adds == mult_adds(
            counter
        )  # nothing else was counted
        counts[bias] = kinds
    return counts


@pytest.mark.parametrize("classifier_bias", [True, False])
def test_mobilenet_classifier_bias_against_torch(
    mobilenet_torch_counts, classifier_bias
):
    layers = zoo.mobilenet_v1(classifier_bias=classifier_bias)
    assert zoo.cost_by_kind(layers) == mobilenet_torch_counts[classifier_bias]
    fc = layers[-1]
    assert fc.kind == "fc"
    assert fc.cost.params == sum(
        p.numel() for p in nn.Linear(1024, 1000, bias=classifier_bias).parameters()
    )


def test_mobilenet_classifier_bias_changes_only_the_biases():
    with_bias, without = (
        total(zoo.mobilenet_v1()),
        total(zoo.mobilenet_v1(classifier_bias=False)),
    )
    assert with_bias.params - without.params == 1000
    assert with_bias.mult_adds == without.mult_adds  # bias adds are not multiply-adds
    assert (
        total(zoo.mobilenet_v1(num_classes=10)).params
        - total(zoo.mobilenet_v1(num_classes=10, classifier_bias=False)).params
        == 10
    )
    # the totals of Howard et al. (2017), Table 8, either way: 4.2M parameters, 569M mult-adds
    assert round(without.params / 1e5) == round(with_bias.params / 1e5) == 42
    assert round(without.mult_adds / 1e6) == 569


@pytest.mark.parametrize("classifier_bias", [True, False])
def test_cost_shares_against_torch(mobilenet_torch_counts, classifier_bias):
    kinds = mobilenet_torch_counts[classifier_bias]
    params = sum(c.params for c in kinds.values())
    ops = sum(c.mult_adds for c in kinds.values())
    expected = {
        kind: (100 * c.params / params, 100 * c.mult_adds / ops)
        for kind, c in kinds.items()
    }
    shares = zoo.cost_shares(zoo.mobilenet_v1(classifier_bias=classifier_bias))
    assert list(shares) == [
        "conv 3x3",
        "conv dw 3x3",
        "conv 1x1",
        "fc",
    ]  # order of first appearance
    assert set(shares) == set(expected)
    for kind, (p, m) in expected.items():
        assert shares[kind] == (
            pytest.approx(p, rel=1e-12),
            pytest.approx(m, rel=1e-12),
        ), kind


def test_cost_shares_against_table2():
    """Howard et al. (2017), Table 2, without the classifier's biases (which the table leaves out):

    ====================  ==========  ==========
    type                  mult-adds   parameters
    ====================  ==========  ==========
    conv 1x1              94.86%      74.59%
    conv dw 3x3           3.06%       1.06%
    conv 3x3 (first)      --          0.02%
    fully connected       0.18%       24.33%
    ====================  ==========  ==========

    (the table's 1.19% of mult-adds for the first layer does not fit its other rows, which
    already sum to 98.10%; it is not checked.)
    """
    shares = zoo.cost_shares(zoo.mobilenet_v1(classifier_bias=False))
    rounded = {kind: (round(p, 2), round(m, 2)) for kind, (p, m) in shares.items()}
    assert rounded["conv 1x1"] == (74.59, 94.86)
    assert rounded["conv dw 3x3"] == (1.06, 3.06)
    assert rounded["fc"] == (24.33, 0.18)
    assert rounded["conv 3x3"][0] == 0.02
    assert sum(p for p, _ in shares.values()) == pytest.approx(100, abs=1e-9)
    assert sum(m for _, m in shares.values()) == pytest.approx(100, abs=1e-9)


def test_cost_shares_of_a_block():
    """ResNet-50's bottleneck at 56x56: each 1x1 holds 16,384 / 69,632 of the weights, the 3x3 36,864 / 69,632,
    and with every map the same size the mult-add shares equal the parameter shares."""
    shares = zoo.cost_shares(zoo.resnet_bottleneck(256, 64, 56))
    assert list(shares) == ["conv 1x1", "conv 3x3"]
    assert shares["conv 1x1"] == (
        pytest.approx(100 * 2 * 16_384 / 69_632),
        pytest.approx(100 * 2 * 16_384 / 69_632),
    )
    assert shares["conv 3x3"] == (
        pytest.approx(100 * 36_864 / 69_632),
        pytest.approx(100 * 36_864 / 69_632),
    )


def test_cost_shares_degenerate():
    assert zoo.cost_shares([]) == {}
    free = zoo.Layer("pool", "pool", Cost())
    assert zoo.cost_shares([free]) == {"pool": (0.0, 0.0)}
    shares = zoo.cost_shares(
        [free, zoo.Layer("fc", "fc", Cost(params=10, mult_adds=0))]
    )
    assert shares == {"pool": (0.0, 0.0), "fc": (100.0, 0.0)}


# ---------------------------------------------------------------------------
# layer_table
# ---------------------------------------------------------------------------


def test_layer_table_fire2_against_torch_counts():
    module = Fire(96, 16, 64, 64)
    layers = zoo.fire_module(96, 16, 64, 64, 55)
    text = zoo.layer_table(layers, title="fire2")
    lines = text.splitlines()
    assert lines[0] == "fire2"
    assert lines[1].split() == ["layer", "kind", "params", "mult-adds"]
    assert len(lines) == 1 + 1 + len(layers) + 1
    for line, layer, conv in zip(lines[2:], layers, module.convs()):
        params = sum(p.numel() for p in conv.parameters())
        assert line.startswith(layer.name)
        assert layer.kind in line
        assert line.split()[-2:] == [f"{params:,}", f"{layer_mult_adds(conv, 55):,}"]
    _, counter = run_counted(module, torch.zeros(1, 96, 55, 55))
    assert lines[-1].split() == ["total", "11,920", f"{mult_adds(counter):,}"]
    assert len({len(line) for line in lines[1:]}) == 1  # the columns line up


def test_layer_table_mobilenet():
    layers = zoo.mobilenet_v1()
    text = zoo.layer_table(layers)
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "kind", "params", "mult-adds"]  # no title line
    assert len(lines) == len(layers) + 2
    for line, layer in zip(lines[1:-1], layers):
        assert line.startswith(layer.name) and layer.kind in line
        assert line.split()[-2:] == [
            f"{layer.cost.params:,}",
            f"{layer.cost.mult_adds:,}",
        ]
    model = mobilenet_v1_torch()
    _, counter = run_counted(model, torch.zeros(1, 3, 224, 224))
    assert lines[-1].split() == [
        "total",
        f"{sum(p.numel() for p in model.parameters()):,}",
        f"{mult_adds(counter):,}",
    ]
    assert len({len(line) for line in lines}) == 1
    assert math.isclose(
        float(lines[-1].split()[-1].replace(",", "")) / 1e6, 569, abs_tol=1
    )


def test_layer_table_empty():
    assert zoo.layer_table([]).splitlines()[-1].split() == ["total", "0", "0"]
