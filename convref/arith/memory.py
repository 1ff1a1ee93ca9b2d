"""Memory traffic and arithmetic intensity of a convolution (the roofline's horizontal axis)."""

from __future__ import annotations

from typing import Union

from .._checks import IntPair, int_pair, positive_int
from .costs import conv_cost


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
    oh, ow = (
        (h, w)
        if output_size is None
        else int_pair("output_size", output_size, minimum=1)
    )
    weights = conv_cost(
        in_channels, out_channels, kernel_size, (oh, ow), groups=groups, bias=bias
    ).params
    return bytes_per_element * (
        batch * in_channels * h * w + weights + batch * out_channels * oh * ow
    )


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
        in_channels,
        out_channels,
        kernel_size,
        input_size,
        output_size,
        groups,
        batch,
        False,
        bytes_per_element,
    )
    out = input_size if output_size is None else output_size
    return (
        batch
        * conv_cost(
            in_channels, out_channels, kernel_size, out, groups=groups
        ).mult_adds
        / traffic
    )
