"""Output sizes and receptive fields of convolution and pooling stacks, along one axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

from .._checks import padding_amounts
from ._ints import _int_at_least


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
        before, after, _, _ = padding_amounts(
            padding, (kernel_size, 1), (dilation, 1), (1, 1)
        )
    else:
        before = after = _int_at_least("padding", padding, 0)
    span = dilation * (kernel_size - 1) + 1
    if size + before + after < span:
        raise ValueError(
            f"size {size} with padding {before}+{after} is smaller than the dilated "
            f"kernel ({span})"
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
            raise TypeError(
                f"specs[{index}] must be a ConvSpec, got {type(spec).__name__}"
            )
        size += (spec.span - 1) * jump
        start -= spec.padding * jump
        jump *= spec.stride
    return ReceptiveField(size=size, stride=jump, start=start)


def stack_specs(
    kernel_sizes: Sequence[int],
    strides: Sequence[int] = (),
    dilations: Sequence[int] = (),
) -> list[ConvSpec]:
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
    return [
        ConvSpec(k, stride=s, dilation=d)
        for k, s, d in zip(kernel_sizes, strides, dilations)
    ]
