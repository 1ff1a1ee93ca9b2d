"""Parameters and multiply-adds of single layers, from their hyper-parameters (closed forms).

These are the formulas the chapters derive; :func:`convref.arith.count` counts whole models
from a forward pass, and its tests use these formulas as the independent side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .._checks import IntPair, check_bool, int_pair, positive_int


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds of a layer (or a sum of layers).

    Costs add up: ``sum(costs, Cost())`` totals a network.

    Attributes
    ----------
    params : int
        Number of learned parameters.
    mult_adds : int
        Multiply-adds of one forward pass (per sample where the function that made it says so).
    """

    params: int = 0
    mult_adds: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(self.params + other.params, self.mult_adds + other.mult_adds)

    def __radd__(self, other: object) -> "Cost":
        if other == 0:  # lets the builtin sum() start from 0
            return self
        return NotImplemented


def conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    groups: int = 1,
    bias: bool = False,
) -> Cost:
    r"""Parameters and multiply-adds of a 2-D convolution.

    .. math::

        \text{params} = C_{out} \frac{C_{in}}{G} k_h k_w \;(+\, C_{out}), \qquad
        \text{mult-adds} = C_{out} \frac{C_{in}}{G} k_h k_w \, H_{out} W_{out}

    Multiply-adds count the weight multiplications, as the papers do (the bias adds
    are not counted). A depthwise convolution is ``groups = in_channels``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; both divisible by ``groups``.
    kernel_size, output_size : int or (int, int)
        Kernel and output feature-map size (square when an int).
    groups : int
        Number of groups.
    bias : bool
        Whether the layer has a bias (adds ``out_channels`` parameters).

    Returns
    -------
    Cost
    """
    in_channels = positive_int("in_channels", in_channels)
    out_channels = positive_int("out_channels", out_channels)
    groups = positive_int("groups", groups)
    kh, kw = int_pair("kernel_size", kernel_size, minimum=1)
    oh, ow = int_pair("output_size", output_size, minimum=1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide in_channels and out_channels, got groups={groups} "
            f"for {in_channels} -> {out_channels} channels"
        )
    check_bool("bias", bias)
    weights = out_channels * (in_channels // groups) * kh * kw
    return Cost(
        params=weights + (out_channels if bias else 0), mult_adds=weights * oh * ow
    )


def linear_cost(in_features: int, out_features: int, bias: bool = True) -> Cost:
    """Parameters and multiply-adds of a fully connected layer on one sample.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes.
    bias : bool
        Whether the layer has a bias.

    Returns
    -------
    Cost
    """
    in_features = positive_int("in_features", in_features)
    out_features = positive_int("out_features", out_features)
    weights = in_features * out_features
    return Cost(params=weights + (out_features if bias else 0), mult_adds=weights)


def depthwise_separable_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    depth_multiplier: int = 1,
    bias: bool = False,
) -> Cost:
    r"""Cost of a depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` one.

    .. math::

        \text{mult-adds} = \underbrace{M\, D_K^2\, D_F^2}_{\text{depthwise}}
            + \underbrace{M N D_F^2}_{\text{pointwise}}

    in the notation of Howard et al. (2017): ``M`` input channels (times the depth
    multiplier), ``N`` output channels, a ``D_K x D_K`` kernel and a ``D_F x D_F`` output.

    Parameters
    ----------
    in_channels, out_channels : int
        ``M`` and ``N``.
    kernel_size, output_size : int or (int, int)
        Of the depthwise stage; the pointwise stage keeps the output size.
    depth_multiplier : int
        Depthwise filters per input channel.
    bias : bool
        Whether the pointwise stage has a bias.

    Returns
    -------
    Cost
    """
    depth_multiplier = positive_int("depth_multiplier", depth_multiplier)
    middle = positive_int("in_channels", in_channels) * depth_multiplier
    depthwise = conv_cost(
        in_channels, middle, kernel_size, output_size, groups=in_channels
    )
    return depthwise + conv_cost(middle, out_channels, 1, output_size, bias=bias)


def depthwise_separable_ratio(out_channels: int, kernel_size: IntPair) -> float:
    r"""Multiply-adds of a depthwise separable convolution over those of the full convolution.

    .. math::

        \frac{M D_K^2 D_F^2 + M N D_F^2}{M N D_K^2 D_F^2} = \frac{1}{N} + \frac{1}{D_K^2}

    (Howard et al. 2017, section 3.1); for a non-square kernel :math:`D_K^2 = k_h k_w`.
    It depends on neither the input channels nor the feature-map size.

    Parameters
    ----------
    out_channels : int
        ``N``.
    kernel_size : int or (int, int)
        ``D_K``.

    Returns
    -------
    float
    """
    kh, kw = int_pair("kernel_size", kernel_size, minimum=1)
    return 1 / positive_int("out_channels", out_channels) + 1 / (kh * kw)


def shift_cost(channels: int, output_size: IntPair) -> Cost:
    """Cost of a shift layer (Wu et al. 2018): no parameters and no multiply-adds, whatever its size.

    Parameters
    ----------
    channels : int
        Channels shifted.
    output_size : int or (int, int)
        Spatial size of the output.

    Returns
    -------
    Cost
        ``Cost(params=0, mult_adds=0)``. What a shift does cost is memory traffic: it reads
        and writes every value once, as ``x.clone()`` does (see ``python -m convref.bench shift``).
    """
    positive_int("channels", channels)
    int_pair("output_size", output_size, minimum=1)
    return Cost(params=0, mult_adds=0)


def deform_conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    groups: int = 1,
    offset_groups: int = 1,
    modulated: bool = False,
    bias: bool = True,
) -> dict[str, Cost]:
    r"""Parameters and multiply-adds of a deformable convolution layer (Dai et al. 2017; Zhu et al. 2019).

    Three parts, as in :class:`convref.nn.DCN2d`:

    * ``"conv"``: the ``k_h x k_w`` convolution itself, as :func:`conv_cost`;
    * ``"offsets"``: the convolution that predicts them, same window, ``C_in`` to
      ``2 G k_h k_w`` channels (``3 G k_h k_w`` with the modulation of DCN v2), with a bias;
    * ``"sampling"``: the bilinear reads, four multiply-adds per sampled value
      (``C_in k_h k_w`` values per output pixel), and one more per value for the modulation.
      The interpolation weights are computed once per tap and offset group, which is
      ``C_in / G`` times fewer and not counted.

    ``"total"`` is the sum.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; both divisible by ``groups``, ``in_channels`` by ``offset_groups``.
    kernel_size, output_size : int or (int, int)
        Kernel and output feature-map size.
    groups, offset_groups : int
        Weight groups and offset groups.
    modulated : bool
        DCN v2's mask (``G k_h k_w`` more predicted channels).
    bias : bool
        Whether the main convolution has a bias.

    Returns
    -------
    dict[str, Cost]
        ``"conv"``, ``"offsets"``, ``"sampling"`` and ``"total"``.
    """
    conv = conv_cost(in_channels, out_channels, kernel_size, output_size, groups, bias)
    offset_groups = positive_int("offset_groups", offset_groups)
    if in_channels % offset_groups:
        raise ValueError(
            f"offset_groups must divide in_channels, got offset_groups={offset_groups} for {in_channels} channels"
        )
    check_bool("modulated", modulated)
    kh, kw = int_pair("kernel_size", kernel_size, minimum=1)
    oh, ow = int_pair("output_size", output_size, minimum=1)
    predicted = (3 if modulated else 2) * offset_groups * kh * kw
    offsets = conv_cost(in_channels, predicted, kernel_size, output_size, bias=True)
    sampled_values = in_channels * kh * kw * oh * ow
    sampling = Cost(params=0, mult_adds=(5 if modulated else 4) * sampled_values)
    return {
        "conv": conv,
        "offsets": offsets,
        "sampling": sampling,
        "total": conv + offsets + sampling,
    }


def dynamic_conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    num_kernels: int = 4,
    groups: int = 1,
    bias: bool = True,
    hidden: Union[int, None] = None,
) -> dict[str, Cost]:
    r"""Parameters and multiply-adds (per sample) of a CondConv or DY-CNN layer with ``K`` kernels.

    Three parts, as in :class:`convref.nn.CondConv2d` and :class:`convref.nn.DynamicConv2d`:

    * ``"conv"``: ``K`` kernels (and biases) stored, but one mixed convolution computed:
      ``K`` times :func:`conv_cost`'s parameters, its multiply-adds once;
    * ``"attention"``: the layers that compute the ``K`` weights from the pooled input: one
      linear layer ``C_in -> K`` (CondConv, ``hidden=None``) or two, ``C_in -> hidden -> K``
      (DY-CNN, ``hidden = max(4, C_in // 4)``); the pooling's additions are not counted;
    * ``"aggregation"``: mixing the kernels, ``K`` multiply-adds per kernel entry (and bias).

    ``"total"`` is the sum.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, output_size, groups, bias
        As in :func:`conv_cost`.
    num_kernels : int
        ``K``.
    hidden : int or None
        Width of DY-CNN's hidden attention layer; ``None`` for CondConv's single routing layer.

    Returns
    -------
    dict[str, Cost]
        ``"conv"``, ``"attention"``, ``"aggregation"`` and ``"total"``.
    """
    single = conv_cost(
        in_channels, out_channels, kernel_size, output_size, groups, bias
    )
    kernels = positive_int("num_kernels", num_kernels)
    conv = Cost(params=kernels * single.params, mult_adds=single.mult_adds)
    if hidden is None:
        attention = linear_cost(in_channels, kernels)
    else:
        hidden = positive_int("hidden", hidden)
        attention = linear_cost(in_channels, hidden) + linear_cost(hidden, kernels)
    aggregation = Cost(params=0, mult_adds=kernels * single.params)
    return {
        "conv": conv,
        "attention": attention,
        "aggregation": aggregation,
        "total": conv + attention + aggregation,
    }
