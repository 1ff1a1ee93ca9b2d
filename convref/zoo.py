"""Layer tables of published networks, for counting their cost with :mod:`convref.arith`.

Only the architecture (channels, kernels, strides) is written down here -- no weights.
The chapters compare the totals with the numbers printed in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .arith import Cost, conv_cost, linear_cost

__all__ = [
    "Layer",
    "inception_module",
    "GOOGLENET_INCEPTION_3A",
    "resnet_basic_block",
    "resnet_bottleneck",
    "fire_module",
    "mobilenet_v1",
    "cost_by_kind",
    "cost_shares",
    "layer_table",
]


@dataclass(frozen=True)
class Layer:
    """One layer of a network table.

    Attributes
    ----------
    name : str
        Where it sits, e.g. ``"3x3 reduce"`` or ``"conv dw / s2"``.
    kind : str
        Its type, for grouping costs: ``"conv 1x1"``, ``"conv 3x3"``, ``"conv dw 3x3"``, ``"fc"`` ...
    cost : Cost
        Its parameters and multiply-adds.
    """

    name: str
    kind: str
    cost: Cost


#: GoogLeNet's inception (3a) as in Szegedy et al. 2015, Table 1 -- a 28x28x192 input
#: and the filter counts of each branch -- as keyword arguments of
#: :func:`inception_module`.
GOOGLENET_INCEPTION_3A = dict(
    in_channels=192,
    size=28,
    n1x1=64,
    n3x3_reduce=96,
    n3x3=128,
    n5x5_reduce=16,
    n5x5=32,
    pool_proj=32,
)


def inception_module(
    in_channels: int,
    size: int,
    n1x1: int,
    n3x3_reduce: Optional[int],
    n3x3: int,
    n5x5_reduce: Optional[int],
    n5x5: int,
    pool_proj: Optional[int],
) -> list[Layer]:
    """Layers of an Inception module (GoogLeNet, figure 2) at a ``size`` x ``size`` feature map.

    Parameters
    ----------
    in_channels, size : int
        Input channels and spatial size (every branch keeps the size).
    n1x1, n3x3, n5x5 : int
        Output channels of the 1x1, 3x3 and 5x5 branches.
    n3x3_reduce, n5x5_reduce, pool_proj : int or None
        Output channels of the 1x1 reductions before the 3x3 and 5x5 convolutions and of the
        1x1 projection after the 3x3 max-pool. ``None`` leaves that 1x1 out: with all three
        ``None`` this is the naive module of figure 2(a).

    Returns
    -------
    list of Layer
        The convolutions (bias-free counts, as the paper's table).
    """
    layers = [Layer("1x1", "conv 1x1", conv_cost(in_channels, n1x1, 1, size))]
    for name, reduce, out, k in (
        ("3x3", n3x3_reduce, n3x3, 3),
        ("5x5", n5x5_reduce, n5x5, 5),
    ):
        branch_in = in_channels
        if reduce is not None:
            layers.append(
                Layer(
                    f"{name} reduce",
                    "conv 1x1",
                    conv_cost(in_channels, reduce, 1, size),
                )
            )
            branch_in = reduce
        layers.append(Layer(name, f"conv {name}", conv_cost(branch_in, out, k, size)))
    if pool_proj is not None:
        layers.append(
            Layer("pool proj", "conv 1x1", conv_cost(in_channels, pool_proj, 1, size))
        )
    return layers


def resnet_basic_block(channels: int, size: int) -> list[Layer]:
    """Layers of a ResNet basic block: two 3x3 convolutions at ``channels`` (He et al. 2016, figure 5 left).

    Parameters
    ----------
    channels : int
        Channels in, between and out.
    size : int
        Side of the (square) feature map, kept by every layer.

    Returns
    -------
    list of Layer
        The two convolutions (bias-free: each is followed by BatchNorm).
    """
    return [
        Layer(f"3x3, {channels}", "conv 3x3", conv_cost(channels, channels, 3, size))
        for _ in range(2)
    ]


def resnet_bottleneck(
    channels: int, width: int, size: int, groups: int = 1
) -> list[Layer]:
    """Layers of a bottleneck block: 1x1 reduce, 3x3, 1x1 expand (He et al. 2016, figure 5 right).

    With ``groups > 1`` the 3x3 convolution is grouped, which is the ResNeXt block in its
    grouped-convolution form (Xie et al. 2017, figure 3c).

    Parameters
    ----------
    channels : int
        Channels entering and leaving the block (256 in the first stage of ResNet-50).
    width : int
        Channels inside the bottleneck (64 in ResNet-50; 128 with 32 groups in ResNeXt-50 32x4d).
    size : int
        Side of the (square) feature map, kept by every layer.
    groups : int
        Groups of the 3x3 convolution.

    Returns
    -------
    list of Layer
        The three convolutions (bias-free: each is followed by BatchNorm).
    """
    kind = "conv 3x3" if groups == 1 else "conv grouped 3x3"
    return [
        Layer(
            f"1x1, {width} (reduce)", "conv 1x1", conv_cost(channels, width, 1, size)
        ),
        Layer(
            f"3x3, {width}" + (f", {groups} groups" if groups > 1 else ""),
            kind,
            conv_cost(width, width, 3, size, groups=groups),
        ),
        Layer(
            f"1x1, {channels} (expand)", "conv 1x1", conv_cost(width, channels, 1, size)
        ),
    ]


def fire_module(
    in_channels: int,
    squeeze: int,
    expand1x1: int,
    expand3x3: int,
    size: int,
    bias: bool = True,
) -> list[Layer]:
    """Layers of a SqueezeNet fire module (Iandola et al. 2016, figure 1).

    A 1x1 "squeeze" convolution cuts the channels to ``squeeze``; an "expand" layer then
    runs 1x1 and 3x3 convolutions side by side on the squeezed map and concatenates them.

    Parameters
    ----------
    in_channels : int
        Channels entering the module.
    squeeze, expand1x1, expand3x3 : int
        Filters of the squeeze layer and of the two halves of the expand layer
        (the paper's :math:`s_{1x1}`, :math:`e_{1x1}` and :math:`e_{3x3}`).
    size : int
        Side of the (square) feature map, kept by every layer.
    bias : bool
        Count biases (SqueezeNet's convolutions have them, and its Table 1 counts them).

    Returns
    -------
    list of Layer
        The three convolutions.
    """
    return [
        Layer(
            "squeeze 1x1",
            "conv 1x1",
            conv_cost(in_channels, squeeze, 1, size, bias=bias),
        ),
        Layer(
            "expand 1x1", "conv 1x1", conv_cost(squeeze, expand1x1, 1, size, bias=bias)
        ),
        Layer(
            "expand 3x3", "conv 3x3", conv_cost(squeeze, expand3x3, 3, size, bias=bias)
        ),
    ]


# MobileNet v1 body (Howard et al. 2017, Table 1): (output channels, stride) of each
# depthwise separable block after the first full 3x3 convolution (32 channels, stride
# 2).
_MOBILENET_V1_BLOCKS = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
]


def mobilenet_v1(
    width_multiplier: float = 1.0,
    resolution: int = 224,
    separable: bool = True,
    num_classes: int = 1000,
    classifier_bias: bool = True,
) -> list[Layer]:
    """Layers of MobileNet v1 (Howard et al. 2017, Table 1).

    The paper's table lists the last depthwise layer with stride 2 although its output
    stays 7x7; like the authors' released model, it is built here with stride 1.

    Parameters
    ----------
    width_multiplier : float
        The paper's alpha: every layer's channel count is scaled by it.
    resolution : int
        Input size (224 in the paper's baseline).
    separable : bool
        ``False`` replaces every depthwise separable block by a full 3x3 convolution
        (the "Conv MobileNet" of the paper's Table 4).
    num_classes : int
        Outputs of the final fully connected layer.
    classifier_bias : bool
        Count the classifier's bias. The model has one, but the percentages of the paper's
        Table 2 are reproduced only without it (its totals are the same either way).

    Returns
    -------
    list of Layer
        Bias-free convolutions (each is followed by BatchNorm) and the classifier.
    """

    def width(channels: int) -> int:
        return int(channels * width_multiplier)

    size = resolution // 2
    channels = width(32)
    layers = [Layer("conv / s2", "conv 3x3", conv_cost(3, channels, 3, size))]
    for out, stride in _MOBILENET_V1_BLOCKS:
        out = width(out)
        size //= stride
        if separable:
            layers.append(
                Layer(
                    f"conv dw / s{stride}",
                    "conv dw 3x3",
                    conv_cost(channels, channels, 3, size, groups=channels),
                )
            )
            layers.append(
                Layer("conv / s1", "conv 1x1", conv_cost(channels, out, 1, size))
            )
        else:
            layers.append(
                Layer(
                    f"conv / s{stride}", "conv 3x3", conv_cost(channels, out, 3, size)
                )
            )
        channels = out
    layers.append(
        Layer("fc", "fc", linear_cost(channels, num_classes, bias=classifier_bias))
    )
    return layers


def cost_by_kind(layers: list[Layer]) -> dict[str, Cost]:
    """Total cost of each layer kind, in order of first appearance.

    Parameters
    ----------
    layers : list of Layer
        A network table, e.g. from :func:`mobilenet_v1`.

    Returns
    -------
    dict of str to Cost
        ``{kind: summed cost}``.
    """
    totals: dict[str, Cost] = {}
    for layer in layers:
        totals[layer.kind] = totals.get(layer.kind, Cost()) + layer.cost
    return totals


def cost_shares(layers: list[Layer]) -> dict[str, tuple[float, float]]:
    """Each layer kind's share of the parameters and of the multiply-adds, in percent.

    The format that :func:`convref.viz.plot_cost_shares` draws.

    Parameters
    ----------
    layers : list of Layer
        A network table.

    Returns
    -------
    dict
        ``{kind: (percent_of_params, percent_of_mult_adds)}``, kinds in order of first appearance.
    """
    totals = cost_by_kind(layers)
    whole = sum(totals.values(), Cost())
    # A kind-less network or one without parameters has no shares to speak of: 0 %, not
    # a crash.
    params, mult_adds = max(whole.params, 1), max(whole.mult_adds, 1)
    return {
        kind: (100 * c.params / params, 100 * c.mult_adds / mult_adds)
        for kind, c in totals.items()
    }


def layer_table(layers: list[Layer], title: str = "") -> str:
    """A plain-text table of the layers' parameters and multiply-adds, with the total.

    Parameters
    ----------
    layers : list of Layer
        A network table.
    title : str
        A line printed above the table.

    Returns
    -------
    str
        One row per layer, then the total; ready for ``print``.
    """
    width = max([len(layer.name) for layer in layers] + [len("total")])
    kind_width = max([len(layer.kind) for layer in layers] + [len("kind")])
    rows = [title] if title else []
    rows.append(
        f"{'layer':<{width}}  {'kind':<{kind_width}}  {'params':>11}  {'mult-adds':>15}"
    )
    for layer in layers:
        rows.append(
            f"{layer.name:<{width}}  {layer.kind:<{kind_width}}  {layer.cost.params:>11,}  {layer.cost.mult_adds:>15,}"
        )
    total = sum((layer.cost for layer in layers), Cost())
    rows.append(
        f"{'total':<{width}}  {'':<{kind_width}}  {total.params:>11,}  {total.mult_adds:>15,}"
    )
    return "\n".join(rows)
