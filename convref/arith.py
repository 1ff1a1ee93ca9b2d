"""Convolution arithmetic: output sizes, receptive fields, parameter and multiply-add counts.

Pure Python on integers, no arrays: these are the formulas the chapters derive, and
the tests check them against shapes that PyTorch actually produces, brute-force
receptive fields found by autograd, and the numbers published in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

from ._checks import IntPair, _is_int, int_pair, padding_amounts, positive_int

__all__ = [
    "conv_output_size",
    "ConvSpec",
    "ReceptiveField",
    "receptive_field",
    "Cost",
    "conv_cost",
    "linear_cost",
    "depthwise_separable_cost",
    "depthwise_separable_ratio",
    "stack_specs",
]


def _int_at_least(name: str, value: int, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: Union[int, str] = 0,
    dilation: int = 1,
) -> int:
    r"""Output length of a convolution (or pooling) along one axis.

    .. math::

        o = \left\lfloor \frac{i + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

    Parameters
    ----------
    size : int
        Input length :math:`i`.
    kernel_size, stride, dilation : int
        :math:`k`, :math:`s` and :math:`d` (``dilation=1`` is an ordinary kernel).
    padding : int, ``"valid"`` or ``"same"``
        Zeros :math:`p` added on *each* side; ``"same"`` pads ``d(k-1)`` in total
        (stride 1 only) so that the output keeps the input's length.

    Returns
    -------
    int
        The number of output positions.

    Examples
    --------
    >>> conv_output_size(5, 3, stride=2, padding=1)  # Dumoulin & Visin, figure 2.6
    3
    """
    size = _int_at_least("size", size, 0)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    dilation = _int_at_least("dilation", dilation, 1)
    if isinstance(padding, str):
        if padding == "same" and stride != 1:
            raise ValueError(f"padding='same' needs stride=1, got stride={stride}")
        before, after, _, _ = padding_amounts(padding, (kernel_size, 1), (dilation, 1), (1, 1))
    else:
        before = after = _int_at_least("padding", padding, 0)
    span = dilation * (kernel_size - 1) + 1
    if size + before + after < span:
        raise ValueError(
            f"size {size} with padding {before}+{after} is smaller than the dilated kernel ({span})"
        )
    return (size + before + after - span) // stride + 1


@dataclass(frozen=True)
class ConvSpec:
    """One layer of a single-path stack, along one axis, for :func:`receptive_field`.

    A pooling layer is a ``ConvSpec`` too: a 2×2 max-pool with stride 2 is
    ``ConvSpec(2, stride=2)``; only the window's geometry matters here.

    Parameters
    ----------
    kernel_size, stride, dilation : int
        As in a convolution (``dilation=1`` is ordinary).
    padding : int
        Zeros added on the left (top) side.
    """

    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def __post_init__(self) -> None:
        _int_at_least("kernel_size", self.kernel_size, 1)
        _int_at_least("stride", self.stride, 1)
        _int_at_least("padding", self.padding, 0)
        _int_at_least("dilation", self.dilation, 1)

    @property
    def span(self) -> int:
        """Input positions between the first and last tap, inclusive: ``d (k - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1


@dataclass(frozen=True)
class ReceptiveField:
    """Where the output of a stack looks in its input, along one axis.

    Output position ``i`` depends on input positions ``start + i * stride`` up to
    ``start + i * stride + size - 1`` (negative positions are padding).

    Attributes
    ----------
    size : int
        Width of the region one output sees.
    stride : int
        Distance in the input between neighbouring outputs (product of strides).
    start : int
        First input position seen by output 0.
    """

    size: int
    stride: int
    start: int

    @property
    def center(self) -> float:
        """Centre of output 0's receptive field in input coordinates."""
        return self.start + (self.size - 1) / 2


def receptive_field(specs: Iterable[ConvSpec]) -> ReceptiveField:
    r"""Receptive field of a single-path stack of convolutions and poolings (one axis).

    Araujo, Norris & Sim (Distill, 2019), with the dilated span
    :math:`k'_l = d_l (k_l - 1) + 1` in place of the kernel size:

    .. math::

        r_0 = \sum_{l=1}^{L} (k'_l - 1) \prod_{i=1}^{l-1} s_i + 1, \qquad
        S = \prod_{l=1}^{L} s_l, \qquad
        u_0 = -\sum_{l=1}^{L} p_l \prod_{i=1}^{l-1} s_i

    Parameters
    ----------
    specs : iterable of ConvSpec
        The layers, input side first.

    Returns
    -------
    ReceptiveField
        ``size`` :math:`r_0`, ``stride`` :math:`S` and ``start`` :math:`u_0`.
    """
    size, jump, start = 1, 1, 0
    for index, spec in enumerate(specs):
        if not isinstance(spec, ConvSpec):
            raise TypeError(f"specs[{index}] must be a ConvSpec, got {type(spec).__name__}")
        size += (spec.span - 1) * jump
        start -= spec.padding * jump
        jump *= spec.stride
    return ReceptiveField(size=size, stride=jump, start=start)


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds of a layer (or a sum of layers).

    Costs add up: ``sum(costs, Cost())`` totals a network.
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
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    weights = out_channels * (in_channels // groups) * kh * kw
    return Cost(params=weights + (out_channels if bias else 0), mult_adds=weights * oh * ow)


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
    depthwise = conv_cost(in_channels, middle, kernel_size, output_size, groups=in_channels)
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


def stack_specs(kernel_sizes: Sequence[int], strides: Sequence[int] = (), dilations: Sequence[int] = ()) -> list[ConvSpec]:
    """Build :class:`ConvSpec` layers from parallel lists (missing strides and dilations are 1)."""
    strides = list(strides) or [1] * len(kernel_sizes)
    dilations = list(dilations) or [1] * len(kernel_sizes)
    if not len(kernel_sizes) == len(strides) == len(dilations):
        raise ValueError(
            f"kernel_sizes, strides and dilations must have the same length, got "
            f"{len(kernel_sizes)}, {len(strides)} and {len(dilations)}"
        )
    return [ConvSpec(k, stride=s, dilation=d) for k, s, d in zip(kernel_sizes, strides, dilations)]


def conv_memory_traffic(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    input_size: IntPair,
    output_size: Union[IntPair, None] = None,
    groups: int = 1,
    batch: int = 1,
    bias: bool = False,
    bytes_per_element: int = 4,
) -> int:
    r"""Bytes a 2-D convolution must move at the least: read the input and the weights, write the output.

    .. math::

        \text{bytes} = b \left( N C_{in} H W \;+\; C_{out} \frac{C_{in}}{G} k_h k_w \,(+\, C_{out})
            \;+\; N C_{out} H_{out} W_{out} \right)

    with :math:`b` bytes per element (4 for float32). This is the traffic of an ideal
    implementation that touches every value exactly once (each input value is reused by
    all the windows and kernels that read it while it sits in cache); a real one moves at
    least this much, usually more. Padding zeros are not counted: they need not be stored.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; both divisible by ``groups``.
    kernel_size : int or (int, int)
        Kernel size (it sets the number of weights).
    input_size : int or (int, int)
        Input feature-map size :math:`(H, W)`.
    output_size : int or (int, int), optional
        Output feature-map size; the input size when omitted (stride 1, "same" padding).
    groups : int
        Number of groups (``in_channels`` for a depthwise convolution).
    batch : int
        Images :math:`N` processed together; the weights are read once for all of them.
    bias : bool
        Whether the layer reads a bias.
    bytes_per_element : int
        Size of one value: 4 for float32, 2 for float16/bfloat16, 8 for float64.

    Returns
    -------
    int
        Bytes read and written.

    Examples
    --------
    >>> conv_memory_traffic(32, 32, 3, 56, groups=32)  # depthwise 3x3: 2 maps + 288 weights, float32
    803968
    """
    batch = positive_int("batch", batch)
    bytes_per_element = positive_int("bytes_per_element", bytes_per_element)
    h, w = int_pair("input_size", input_size, minimum=1)
    oh, ow = (h, w) if output_size is None else int_pair("output_size", output_size, minimum=1)
    weights = conv_cost(in_channels, out_channels, kernel_size, (oh, ow), groups=groups, bias=bias).params
    return bytes_per_element * (batch * in_channels * h * w + weights + batch * out_channels * oh * ow)


def arithmetic_intensity(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    input_size: IntPair,
    output_size: Union[IntPair, None] = None,
    groups: int = 1,
    batch: int = 1,
    bytes_per_element: int = 4,
) -> float:
    r"""Multiply-adds per byte of memory traffic of a 2-D convolution (no bias).

    .. math::

        I = \frac{N \cdot \text{mult-adds}}{\text{bytes}}
          = \frac{N C_{out} \frac{C_{in}}{G} k_h k_w H_{out} W_{out}}
                 {b\,(N C_{in} H W + C_{out} \frac{C_{in}}{G} k_h k_w + N C_{out} H_{out} W_{out})}

    the quantity on the horizontal axis of a roofline plot (Williams, Waterman & Patterson,
    2009; they count FLOPs, two per multiply-add). A layer whose intensity is below the
    machine's ratio of peak arithmetic to memory bandwidth cannot keep the arithmetic units
    busy: it is *memory-bound*. Each output value costs :math:`C_{in} k_h k_w / G`
    multiply-adds (its fan-in), so when input and output have the same size the intensity
    stays below :math:`\text{fan-in} / (2b)` however large the batch: 9/8 for a depthwise
    3x3 in float32.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, input_size, output_size, groups, batch, bytes_per_element
        As in :func:`conv_memory_traffic`.

    Returns
    -------
    float
        Multiply-adds per byte.
    """
    traffic = conv_memory_traffic(
        in_channels, out_channels, kernel_size, input_size, output_size, groups, batch, False, bytes_per_element
    )
    out = input_size if output_size is None else output_size
    return batch * conv_cost(in_channels, out_channels, kernel_size, out, groups=groups).mult_adds / traffic


__all__ += ["conv_memory_traffic", "arithmetic_intensity"]
