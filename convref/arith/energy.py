"""Multiplications and additions counted apart, and their energy (AdderNet's argument)."""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import IntPair
from .costs import conv_cost


#: Energy of one operation in picojoules on a 45 nm process at 0.9 V (Horowitz, ISSCC
#: 2014), the figures AdderNet's argument rests on: ``(operation, number format) ->
#: pJ``.
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
            raise ValueError(
                f"number_format must be one of {formats}, got {number_format!r}"
            )
        return (
            self.multiplications * ENERGY_45NM_PJ[("mult", number_format)]
            + self.additions * ENERGY_45NM_PJ[("add", number_format)]
        )


def conv_op_count(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    groups: int = 1,
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
    return OpCount(
        params=cost.params, multiplications=cost.mult_adds, additions=cost.mult_adds
    )


def adder_op_count(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    output_size: IntPair,
    groups: int = 1,
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
