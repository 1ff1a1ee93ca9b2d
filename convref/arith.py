"""Convolution arithmetic: output sizes, receptive fields, parameter and multiply-add counts.

Integer formulas (the few maps, such as receptive-field coverage and transposed-convolution
overlap, are small integer arrays): these are the formulas the chapters derive, and the
tests check them against shapes that PyTorch actually produces, brute-force receptive
fields found by autograd, and the numbers published in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import numpy as np

from ._checks import IntPair, _is_int, conv_transpose_length, int_pair, padding_amounts, positive_int

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
    """Build :class:`ConvSpec` layers from parallel lists (missing strides and dilations are 1).

    Parameters
    ----------
    kernel_sizes : sequence of int
        Kernel size of each layer, input side first.
    strides, dilations : sequence of int
        One per layer, or empty for all ones.

    Returns
    -------
    list of ConvSpec
        One spec per layer, without padding.
    """
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


# ---------------------------------------------------------------------------
# Dilation: dilated kernels, coverage of a stack (gridding), HDC, causal stacks
# ---------------------------------------------------------------------------


def _int_sequence(name: str, values: Sequence[int], minimum: int, *, allow_empty: bool = False) -> list[int]:
    # A bare int or a string is a common slip for a one-element list: say so rather than iterate it.
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, got {values!r}")
    items = [_int_at_least(f"{name}[{index}]", value, minimum) for index, value in enumerate(values)]
    if not items and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return items


def dilated_kernel_size(kernel_size: int, dilation: int) -> int:
    r"""Input positions spanned by a dilated kernel, from its first tap to its last.

    .. math::

        k' = d\,(k - 1) + 1

    A kernel of :math:`k` taps with dilation :math:`d` has :math:`d - 1` holes between
    neighbouring taps; it reads the same input window as a dense kernel of size :math:`k'`.

    Parameters
    ----------
    kernel_size, dilation : int
        :math:`k` and :math:`d` (``dilation=1`` is an ordinary kernel).

    Returns
    -------
    int
        :math:`k'`.

    Examples
    --------
    >>> dilated_kernel_size(3, 2)  # Dumoulin & Visin, figure 5.1
    5
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    dilation = _int_at_least("dilation", dilation, 1)
    return dilation * (kernel_size - 1) + 1


def receptive_field_coverage(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> np.ndarray:
    r"""How often each input position reaches one output of a stack of dilated convolutions.

    For a single-path stack of stride-1 2-D convolutions with square :math:`k_l \times k_l`
    kernels and dilation rates :math:`d_l` (input side first), the entry at
    :math:`(u, v)` is the number of paths from input position :math:`(u, v)` of the
    receptive field to one output position: the output's gradient with respect to the input
    when every kernel is all ones. Along one axis the counts are the convolution of the
    layers' dilated box indicators,

    .. math::

        c = b_1 * b_2 * \dots * b_L, \qquad
        b_l[t] = \begin{cases} 1 & t = 0, d_l, 2 d_l, \dots, (k_l - 1) d_l \\
                               0 & \text{otherwise} \end{cases}

    and the 2-D map is their outer product :math:`C = c\,c^\top` (the kernels are separable).
    Its side is :math:`R = 1 + \sum_l d_l (k_l - 1)`.

    A zero entry is a *hole*: an input position inside the receptive field that can never
    influence the output. This is the *gridding* problem of dilated convolution (Wang et
    al. 2018, "Understanding Convolution for Semantic Segmentation", WACV): three 3x3
    layers with rates ``(2, 2, 2)`` reach only the positions whose two coordinates are both
    even (a grid holding a quarter of the field), while rates ``(1, 2, 5)`` reach every
    position (their Hybrid Dilated Convolution, see :func:`satisfies_hdc`). The
    number of paths is also the shape of the receptive field's weighting when all weights
    are equal: it is largest in the middle.

    Parameters
    ----------
    kernel_sizes, dilations : sequence of int
        :math:`k_l` and :math:`d_l`, one per layer, input side first, same length (>= 1).

    Returns
    -------
    numpy.ndarray
        ``(R, R)`` int64 array of path counts; ``counts > 0`` marks the positions that
        reach the output.

    Examples
    --------
    >>> int((receptive_field_coverage([3, 3, 3], [2, 2, 2]) > 0).sum())  # 7 x 7 of the 13 x 13
    49
    """
    kernel_sizes = _int_sequence("kernel_sizes", kernel_sizes, 1)
    dilations = _int_sequence("dilations", dilations, 1)
    if len(kernel_sizes) != len(dilations):
        raise ValueError(
            f"kernel_sizes and dilations must have the same length, got {len(kernel_sizes)} and {len(dilations)}"
        )
    counts = np.ones(1, dtype=np.int64)
    for kernel_size, dilation in zip(kernel_sizes, dilations):
        box = np.zeros(dilation * (kernel_size - 1) + 1, dtype=np.int64)
        box[::dilation] = 1
        counts = np.convolve(counts, box)  # full convolution: the field grows by d (k - 1)
    return np.outer(counts, counts)


def hdc_max_gap(dilations: Sequence[int], kernel_size: int) -> int:
    r"""The HDC "maximum distance between two nonzero values", :math:`M_2`, of Wang et al. (2018).

    Wang et al. ("Understanding Convolution for Semantic Segmentation", WACV 2018,
    section 3.2) consider :math:`n` layers of :math:`K \times K` kernels with dilation rates
    :math:`r_1, \dots, r_n` (input side first) and define, from the top layer down,

    .. math::

        M_n = r_n, \qquad
        M_i = \max\bigl[\, M_{i+1} - 2 r_i,\; M_{i+1} - 2 (M_{i+1} - r_i),\; r_i \,\bigr]

    (the middle term is :math:`2 r_i - M_{i+1}`). :math:`M_i` bounds the distance between
    neighbouring nonzero taps of the kernel that layers :math:`i, \dots, n` compose to, along
    one axis (neighbours at distance 1 mean no hole). The recursion pictures each layer as the
    three taps :math:`-r_i, 0, r_i` of a 3x3 kernel (hence the :math:`2 r_i`); a larger
    kernel only adds taps, and for every :math:`K \ge 3` the bound holds:
    :math:`M_2` is at least the true largest gap of layers :math:`2 \dots n` (the tests check
    this). It is conservative: ``[1, 3, 1]`` covers its field without a hole, yet
    :math:`M_2 = 5`.

    The recursion never reads :math:`r_1`: the first layer is the one meant to fill the
    gaps left by the others, see :func:`satisfies_hdc`.

    Parameters
    ----------
    dilations : sequence of int
        :math:`r_1, \dots, r_n`, input side first (>= 1 each, at least one).
    kernel_size : int
        :math:`K`, at least 3. It does not enter the recursion; it is checked here because
        the recursion is a bound only for :math:`K \ge 3` (with 2-tap kernels the taps are
        not :math:`-r_i, 0, r_i` and the bound fails).

    Returns
    -------
    int
        :math:`M_2`. For a single layer there is no layer 2: the layers above layer 1
        compose to a single tap, which leaves no gap, and the result is 1 (the distance
        between neighbouring positions, what :math:`M` is for a dense kernel).

    Examples
    --------
    >>> hdc_max_gap([1, 2, 5], 3), hdc_max_gap([1, 2, 9], 3)  # the paper's two examples
    (2, 5)
    """
    dilations = _int_sequence("dilations", dilations, 1)
    _int_at_least("kernel_size", kernel_size, 3)
    if len(dilations) == 1:
        return 1
    gap = dilations[-1]  # M_n = r_n
    for rate in reversed(dilations[1:-1]):  # i = n-1 down to 2
        gap = max(gap - 2 * rate, gap - 2 * (gap - rate), rate)
    return gap


def satisfies_hdc(dilations: Sequence[int], kernel_size: int) -> bool:
    r"""Whether a stack of dilated :math:`K \times K` convolutions passes the HDC design rule.

    Wang et al. (2018, section 3.2): the goal of Hybrid Dilated Convolution is that the
    receptive field of the stack "fully covers a square region without any holes or missing
    edges" (no gridding, see :func:`receptive_field_coverage`); the design goal is

    .. math::

        M_2 \le K

    with :math:`M_2` from :func:`hdc_max_gap`. The idea: the layers above the first leave
    gaps of at most :math:`M_2` between the taps of their composed kernel, and a first layer
    of :math:`K` *adjacent* taps fills any gap of at most :math:`K`.

    That argument needs the first layer to be dense, :math:`r_1 = 1`, which the paper's
    examples all have (``[1, 2, 5]``, ``[1, 2, 3]``) but its formula never checks:
    :math:`M_2` does not depend on :math:`r_1`. Taken literally, :math:`M_2 \le K` accepts
    ``[2, 2, 2]`` (:math:`M_2 = 2`), which reaches only a quarter of its field. The paper adds
    that the rates in a group should not have a common factor greater than 1 (like
    ``2, 4, 8``), otherwise the gridding remains; that remark does not close the gap either:
    ``[2, 2, 5]`` has no common factor and :math:`M_2 = 2`, yet along each axis it never
    reaches offsets 1, 3, 15 and 17 of its 19. This function therefore checks both
    :math:`r_1 = 1` and :math:`M_2 \le K`, which makes it a *sufficient* rule for full
    coverage (with :math:`r_1 = 1` the rates' greatest common divisor is 1 automatically).
    It is not a necessary one: ``[1, 3, 1]`` covers its field but fails the rule.

    Parameters
    ----------
    dilations : sequence of int
        :math:`r_1, \dots, r_n`, input side first (>= 1 each, at least one).
    kernel_size : int
        :math:`K` (>= 3; the rule's recursion assumes a kernel with taps on both sides of
        its centre).

    Returns
    -------
    bool
        ``True`` when :math:`r_1 = 1` and :math:`M_2 \le K`. For one layer this is
        :math:`r_1 = 1`: a single dilated kernel always has holes.

    Examples
    --------
    >>> satisfies_hdc([1, 2, 5], 3), satisfies_hdc([1, 2, 9], 3), satisfies_hdc([2, 2, 2], 3)
    (True, False, False)
    """
    gap = hdc_max_gap(dilations, kernel_size)
    return int(dilations[0]) == 1 and gap <= kernel_size


def causal_receptive_field(kernel_size: int, dilations: Sequence[int]) -> int:
    r"""Receptive field of a stack of causal dilated 1-D convolutions (WaveNet).

    .. math::

        r = 1 + (k - 1) \sum_l d_l

    Each causal layer looks :math:`(k - 1) d_l` samples further into the past. WaveNet
    (van den Oord et al. 2016, section 2.1) uses :math:`k = 2` and rates
    :math:`1, 2, 4, \dots, 512`, whose receptive field is 1024 samples; doubling rates make it
    grow exponentially with depth, and every sample in it is seen (no gridding: with
    :math:`k = 2`, layer :math:`l` fills its field without a hole exactly when :math:`d_l` is at
    most the receptive field of the layers before it, which doubling rates starting at 1 meet).

    Parameters
    ----------
    kernel_size : int
        :math:`k`, the same in every layer.
    dilations : sequence of int
        :math:`d_l`, one per layer (>= 1 each). An empty stack sees only the current
        sample: 1.

    Returns
    -------
    int
        :math:`r`, the number of samples (the current one included) an output depends on.

    Examples
    --------
    >>> causal_receptive_field(2, [2 ** i for i in range(10)])
    1024
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    dilations = _int_sequence("dilations", dilations, 1, allow_empty=True)
    return 1 + (kernel_size - 1) * sum(dilations)


__all__ += [
    "dilated_kernel_size",
    "receptive_field_coverage",
    "hdc_max_gap",
    "satisfies_hdc",
    "causal_receptive_field",
]


# ---------------------------------------------------------------------------
# Transposed convolution: output sizes, TensorFlow's "same", checkerboard overlap
# ---------------------------------------------------------------------------


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    r"""Output length of a transposed convolution along one axis (PyTorch's ``ConvTranspose``).

    .. math::

        o = (i - 1) s - 2 p + d (k - 1) + a + 1

    with output padding :math:`a`. The transposed convolution spreads each of the
    :math:`i` inputs over a dilated kernel placed every :math:`s` positions (full length
    :math:`(i - 1) s + d (k - 1) + 1`), then crops :math:`p` positions from each end and
    adds :math:`a` at the end only. It is the adjoint of :func:`conv_output_size`'s
    convolution with the same arguments; :math:`a` picks which of the input lengths
    that all map to :math:`i` is meant (see :func:`conv_input_sizes`).

    Parameters
    ----------
    size : int
        Input length :math:`i` (>= 1).
    kernel_size, stride, dilation : int
        :math:`k`, :math:`s` and :math:`d`.
    padding : int
        :math:`p`, cropped from *each* end of the full output.
    output_padding : int
        :math:`a`; PyTorch requires :math:`0 \le a < \max(s, d)`.

    Returns
    -------
    int
        :math:`o`. A length below 1 is an error here (PyTorch's ``conv_transpose1d``
        rejects it too; ``conv_transpose2d`` returns an empty tensor when it is exactly 0).

    Examples
    --------
    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)  # undoes 6 -> 3
    6
    """
    size = _int_at_least("size", size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    padding = _int_at_least("padding", padding, 0)
    output_padding = _int_at_least("output_padding", output_padding, 0)
    dilation = _int_at_least("dilation", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got output_padding={output_padding} "
            f"with stride={stride} and dilation={dilation}"
        )
    out = conv_transpose_length(size, kernel_size, stride, padding, output_padding, dilation)
    if out < 1:
        raise ValueError(f"padding {padding} crops the whole output: the output length would be {out}")
    return out


def conv_input_sizes(
    out_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> list[int]:
    r"""Every input length that a convolution maps to ``out_size``.

    :func:`conv_output_size` rounds down, so the input lengths

    .. math::

        i = (o - 1) s + d (k - 1) + 1 - 2 p + a, \qquad a = 0, 1, \dots, s - 1

    all give :math:`o` outputs (the last :math:`a` inputs are not read). Those that are at
    least 1 are returned: :math:`s` of them, fewer only when the padding is so large that the
    smallest would be below 1, none when :math:`o` cannot be reached at all.

    This is why a transposed convolution, which should map :math:`o` back to :math:`i`,
    needs ``output_padding``: from :math:`o` alone it cannot know which :math:`i` was meant.
    Its output length with :math:`a = 0` is the smallest candidate, and
    ``conv_transpose_output_size(out_size, ..., output_padding=i - sizes[0]) == i`` for each
    candidate ``i`` when all :math:`s` of them exist (``sizes[0]`` is then their minimum).

    Parameters
    ----------
    out_size : int
        Output length :math:`o` (>= 1).
    kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size` (integer padding only).

    Returns
    -------
    list of int
        The input lengths, increasing.

    Examples
    --------
    >>> conv_input_sizes(3, 3, stride=2, padding=1)  # Dumoulin & Visin, figures 2.6 and 2.7
    [5, 6]
    """
    out_size = _int_at_least("out_size", out_size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    padding = _int_at_least("padding", padding, 0)
    dilation = _int_at_least("dilation", dilation, 1)
    smallest = (out_size - 1) * stride + dilation * (kernel_size - 1) + 1 - 2 * padding
    return [size for size in range(smallest, smallest + stride) if size >= 1]


@dataclass(frozen=True)
class TfSameTranspose:
    """TensorFlow's ``padding="same"`` transposed convolution, and how to get it in PyTorch.

    See :func:`tf_same_conv_transpose`. The full transposed output has length
    ``full = (i - 1) s + d (k - 1) + 1``; TensorFlow keeps ``full[crop_before : full - crop_after]``
    (a negative ``crop_after`` appends that many zeros), and PyTorch's
    ``conv_transpose1d(x, w, stride, padding, output_padding, dilation=d)`` followed by
    dropping the last ``trim_end`` positions gives exactly the same values.

    Attributes
    ----------
    output_size : int
        ``i * s``, TensorFlow's output length for ``"same"``.
    crop_before, crop_after : int
        Positions TensorFlow removes from the start and the end of the full output.
    padding, output_padding : int
        The matching ``ConvTranspose`` arguments of PyTorch.
    trim_end : int
        0 or 1: positions to drop from the end of PyTorch's output.
    """

    output_size: int
    crop_before: int
    crop_after: int
    padding: int
    output_padding: int
    trim_end: int


def tf_same_conv_transpose(size: int, kernel_size: int, stride: int, dilation: int = 1) -> TfSameTranspose:
    r"""TensorFlow's ``padding="same"`` for a transposed convolution, in PyTorch's arguments.

    TensorFlow defines ``conv*_transpose(..., padding="SAME")`` as the gradient (adjoint) of
    its forward ``"SAME"`` convolution on an input of length :math:`n = i s`, which has
    :math:`\lceil n / s \rceil = i` outputs. That forward convolution pads

    .. math::

        P = \max\bigl((i - 1) s + k' - n,\; 0\bigr) = \max(k' - s,\; 0), \qquad
        k' = d (k - 1) + 1

    zeros in total, :math:`\lfloor P / 2 \rfloor` before and the rest after (the larger half
    goes at the end). Its adjoint spreads the :math:`i` inputs over the full length
    :math:`(i - 1) s + k'` and crops the same amounts, so the output has :math:`i s`
    positions. When :math:`k' < s` nothing is padded and the forward convolution never reads
    its last :math:`s - k'` inputs: the adjoint ends in that many zeros
    (``crop_after`` is negative).

    PyTorch crops ``padding`` from *both* ends and adds ``output_padding`` at the end only, so
    it cannot crop more at the end than at the start:

    - :math:`P` even: ``padding = P / 2``, ``output_padding = 0``; exact.
    - :math:`P` odd: ``padding =`` :math:`\lfloor P / 2 \rfloor`, ``output_padding = 0``; the
      output is one position too long and its last position must be dropped
      (``trim_end = 1``). Cropping :math:`\lceil P / 2 \rceil` would shift the output by one.
    - :math:`k' < s`: ``padding = 0``, ``output_padding =`` :math:`s - k'`; exact (the
      extra positions are zeros in both).

    Parameters
    ----------
    size : int
        Input length :math:`i` of the transposed convolution.
    kernel_size, stride, dilation : int
        :math:`k`, :math:`s` and :math:`d`.

    Returns
    -------
    TfSameTranspose

    Examples
    --------
    >>> tf_same_conv_transpose(4, 3, 2)  # P = 1: PyTorch gives 9 positions, TensorFlow 8
    TfSameTranspose(output_size=8, crop_before=0, crop_after=1, padding=0, output_padding=0, trim_end=1)
    """
    size = _int_at_least("size", size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    dilation = _int_at_least("dilation", dilation, 1)
    span = dilation * (kernel_size - 1) + 1
    if span < stride:
        return TfSameTranspose(
            output_size=size * stride, crop_before=0, crop_after=span - stride,
            padding=0, output_padding=stride - span, trim_end=0,
        )
    total = span - stride
    before = total // 2
    return TfSameTranspose(
        output_size=size * stride, crop_before=before, crop_after=total - before,
        padding=before, output_padding=0, trim_end=total % 2,
    )


def transpose_overlap(input_size: int, kernel_size: int, stride: int, padding: int = 0) -> np.ndarray:
    r"""How many kernel taps land on each output position of a transposed convolution (1-D).

    Output position :math:`j` (before cropping) receives input :math:`m` through tap
    :math:`t` when :math:`j = m s + t`, so it counts

    .. math::

        n_j = \#\{(m, t) : m s + t = j,\; 0 \le m < i,\; 0 \le t < k\}

    taps; ``padding`` positions are then cropped from each end, as PyTorch does, and the
    length is :func:`conv_transpose_output_size`. Odena, Dumoulin & Olah ("Deconvolution and
    checkerboard artifacts", Distill 2016) show that when :math:`k` is not a multiple of
    :math:`s` these counts alternate in the interior (see :func:`has_uneven_overlap`),
    which is where the checkerboard pattern of generated images comes from. For a 2-D
    transposed convolution with a separable footprint the count map is the outer product
    ``np.outer(transpose_overlap(h, ...), transpose_overlap(w, ...))``.

    Parameters
    ----------
    input_size : int
        :math:`i`.
    kernel_size, stride : int
        :math:`k` and :math:`s`.
    padding : int
        Cropped from each end (PyTorch's ``padding`` of ``ConvTranspose``).

    Returns
    -------
    numpy.ndarray
        int64 counts of shape ``(conv_transpose_output_size(i, k, s, padding),)``, one per
        output position.

    Examples
    --------
    >>> transpose_overlap(4, 3, 2).tolist()
    [1, 1, 2, 1, 2, 1, 2, 1, 1]
    """
    input_size = _int_at_least("input_size", input_size, 1)
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    full = np.zeros((input_size - 1) * stride + kernel_size, dtype=np.int64)
    for tap in range(kernel_size):
        full[tap : tap + (input_size - 1) * stride + 1 : stride] += 1  # tap t of every input
    return full[padding : padding + out]


def has_uneven_overlap(kernel_size: int, stride: int) -> bool:
    r"""Whether a transposed convolution's kernel overlaps itself unevenly (checkerboard artifacts).

    Away from the borders an output position of a transposed convolution receives either
    :math:`\lceil k / s \rceil` or :math:`\lfloor k / s \rfloor` kernel taps (see
    :func:`transpose_overlap`); both are the same exactly when

    .. math::

        k \bmod s = 0

    Otherwise the counts alternate with period :math:`s`, and even a constant input gives
    a striped (in 2-D, checkerboard) output unless the learned weights compensate. Odena,
    Dumoulin & Olah (Distill 2016): a 3x3 kernel with stride 2 overlaps unevenly, a 4x4 one
    does not (though even overlap does not by itself prevent artifacts).

    Parameters
    ----------
    kernel_size, stride : int
        :math:`k` and :math:`s`.

    Returns
    -------
    bool
        ``True`` when :math:`k` is not a multiple of :math:`s`.

    Examples
    --------
    >>> has_uneven_overlap(3, 2), has_uneven_overlap(4, 2)
    (True, False)
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    return kernel_size % stride != 0


__all__ += [
    "conv_transpose_output_size",
    "conv_input_sizes",
    "TfSameTranspose",
    "tf_same_conv_transpose",
    "transpose_overlap",
    "has_uneven_overlap",
]


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


__all__ += ["shift_cost"]


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

    Three parts, as in :class:`convref.nn.DeformConv2d`:

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
        raise ValueError(f"offset_groups must divide in_channels, got offset_groups={offset_groups} for {in_channels} channels")
    if not isinstance(modulated, bool):
        raise TypeError(f"modulated must be a bool, got {modulated!r}")
    kh, kw = int_pair("kernel_size", kernel_size, minimum=1)
    oh, ow = int_pair("output_size", output_size, minimum=1)
    predicted = (3 if modulated else 2) * offset_groups * kh * kw
    offsets = conv_cost(in_channels, predicted, kernel_size, output_size, bias=True)
    sampled_values = in_channels * kh * kw * oh * ow
    sampling = Cost(params=0, mult_adds=(5 if modulated else 4) * sampled_values)
    return {"conv": conv, "offsets": offsets, "sampling": sampling, "total": conv + offsets + sampling}


__all__ += ["deform_conv_cost"]


#: Energy of one operation in picojoules on a 45 nm process at 0.9 V (Horowitz, ISSCC 2014),
#: the figures AdderNet's argument rests on: ``(operation, number format) -> pJ``.
ENERGY_45NM_PJ: dict[tuple[str, str], float] = {
    ("add", "int8"): 0.03,
    ("mult", "int8"): 0.2,
    ("add", "int32"): 0.1,
    ("mult", "int32"): 3.1,
    ("add", "fp16"): 0.4,
    ("mult", "fp16"): 1.1,
    ("add", "fp32"): 0.9,
    ("mult", "fp32"): 3.7,
}


@dataclass(frozen=True)
class OpCount:
    """Parameters, multiplications and additions of a layer on one sample (subtractions count as additions).

    Attributes
    ----------
    params : int
        Number of learned parameters.
    multiplications : int
        Multiplications of one forward pass on one sample.
    additions : int
        Additions (and subtractions) of one forward pass on one sample.
    """

    params: int
    multiplications: int
    additions: int

    def energy_pj(self, number_format: str = "fp32") -> float:
        """Energy of the arithmetic alone, in picojoules, with :data:`ENERGY_45NM_PJ` (memory traffic not counted).

        Parameters
        ----------
        number_format : {"int8", "int32", "fp16", "fp32"}
            The format both operations work in.
        """
        formats = sorted({fmt for _, fmt in ENERGY_45NM_PJ})
        if number_format not in formats:
            raise ValueError(f"number_format must be one of {formats}, got {number_format!r}")
        return (
            self.multiplications * ENERGY_45NM_PJ[("mult", number_format)]
            + self.additions * ENERGY_45NM_PJ[("add", number_format)]
        )


def conv_op_count(
    in_channels: int, out_channels: int, kernel_size: IntPair, output_size: IntPair, groups: int = 1
) -> OpCount:
    """Multiplications and additions of a convolution: one of each per weight per output position.

    Each multiply-add of :func:`conv_cost` is one multiplication and one addition (the
    accumulation), the count AdderNet's paper compares against.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, output_size, groups
        As in :func:`conv_cost` (no bias).

    Returns
    -------
    OpCount
    """
    cost = conv_cost(in_channels, out_channels, kernel_size, output_size, groups)
    return OpCount(params=cost.params, multiplications=cost.mult_adds, additions=cost.mult_adds)


def adder_op_count(
    in_channels: int, out_channels: int, kernel_size: IntPair, output_size: IntPair, groups: int = 1
) -> OpCount:
    r"""Multiplications and additions of an AdderNet layer: none of the first, two of the second per term.

    Each term :math:`|X - F|` of the sum is a subtraction and an accumulation; the absolute
    value clears a sign bit and is not counted. Same parameters as the convolution.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, output_size, groups
        As in :func:`conv_cost` (no bias).

    Returns
    -------
    OpCount
        ``multiplications == 0``, ``additions == 2 * conv_cost(...).mult_adds``.
    """
    cost = conv_cost(in_channels, out_channels, kernel_size, output_size, groups)
    return OpCount(params=cost.params, multiplications=0, additions=2 * cost.mult_adds)


__all__ += ["ENERGY_45NM_PJ", "OpCount", "conv_op_count", "adder_op_count"]


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
    single = conv_cost(in_channels, out_channels, kernel_size, output_size, groups, bias)
    kernels = positive_int("num_kernels", num_kernels)
    conv = Cost(params=kernels * single.params, mult_adds=single.mult_adds)
    if hidden is None:
        attention = linear_cost(in_channels, kernels)
    else:
        hidden = positive_int("hidden", hidden)
        attention = linear_cost(in_channels, hidden) + linear_cost(hidden, kernels)
    aggregation = Cost(params=0, mult_adds=kernels * single.params)
    return {"conv": conv, "attention": attention, "aggregation": aggregation, "total": conv + attention + aggregation}


__all__ += ["dynamic_conv_cost"]
