"""convref.arith.conv_memory_traffic and arithmetic_intensity against tensors PyTorch really makes.

Independent oracles: the ``nbytes`` of the input, weight, bias and output tensors of an actual
``torch.nn.functional.conv2d`` call (in the dtype whose element size is being counted),
PyTorch's FLOP counter for the multiply-adds, and the closed-form limits of the intensity
(fan-in over twice the element size for equal input and output maps).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from convref.arith import arithmetic_intensity, conv_cost, conv_memory_traffic

DTYPES = {2: torch.float16, 4: torch.float32, 8: torch.float64}


def torch_traffic_and_mult_adds(
    c_in, c_out, kernel, size, stride, padding, groups, batch, bias, dtype
):
    """Bytes of the tensors that one real conv2d call reads and writes, and its multiply-adds."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(batch, c_in, h, w, dtype=dtype, device="meta")
    weight = torch.zeros(c_out, c_in // groups, kh, kw, dtype=dtype, device="meta")
    b = torch.zeros(c_out, dtype=dtype, device="meta") if bias else None
    with FlopCounterMode(display=False) as counter:
        y = F.conv2d(x, weight, b, stride=stride, padding=padding, groups=groups)
    nbytes = x.nbytes + weight.nbytes + (b.nbytes if bias else 0) + y.nbytes
    flops = counter.get_total_flops()
    assert flops % 2 == 0  # PyTorch counts two FLOPs per multiply-add
    return nbytes, flops // 2, tuple(y.shape[-2:])


CASES = [
    # (in, out, kernel, input size, stride, padding, groups, batch, bias, bytes per element)
    (32, 32, 3, 56, 1, 1, 1, 1, False, 4),  # full 3x3
    (32, 32, 3, 56, 1, 1, 32, 1, False, 4),  # depthwise 3x3
    (32, 64, 1, 56, 1, 0, 1, 1, False, 4),  # pointwise
    (
        512,
        512,
        3,
        14,
        1,
        1,
        512,
        8,
        False,
        4,
    ),  # MobileNet's depthwise at 14x14, batch 8
    (
        16,
        24,
        (3, 5),
        (11, 9),
        2,
        1,
        4,
        3,
        True,
        2,
    ),  # grouped, strided, non-square, float16
    (6, 6, 5, 7, 1, 2, 2, 2, True, 8),  # float64
    (3, 32, 3, 224, 2, 1, 1, 1, False, 4),  # MobileNet's first layer (output 112x112)
]


@pytest.mark.parametrize(
    "c_in, c_out, kernel, size, stride, padding, groups, batch, bias, element", CASES
)
def test_traffic_is_the_bytes_of_the_tensors(
    c_in, c_out, kernel, size, stride, padding, groups, batch, bias, element
):
    nbytes, mult_adds, out_size = torch_traffic_and_mult_adds(
        c_in, c_out, kernel, size, stride, padding, groups, batch, bias, DTYPES[element]
    )
    traffic = conv_memory_traffic(
        c_in,
        c_out,
        kernel,
        size,
        out_size,
        groups=groups,
        batch=batch,
        bias=bias,
        bytes_per_element=element,
    )
    assert traffic == nbytes
    if not bias:
        intensity = arithmetic_intensity(
            c_in,
            c_out,
            kernel,
            size,
            out_size,
            groups=groups,
            batch=batch,
            bytes_per_element=element,
        )
        assert intensity == pytest.approx(mult_adds / nbytes, rel=1e-12)


def test_output_size_defaults_to_the_input_size():
    assert conv_memory_traffic(8, 16, 3, (10, 12)) == conv_memory_traffic(
        8, 16, 3, (10, 12), (10, 12)
    )
    assert arithmetic_intensity(8, 16, 3, 10) == arithmetic_intensity(8, 16, 3, 10, 10)


def test_docstring_example():
    # two 32 x 56 x 56 maps and 32 * 9 weights, 4 bytes each
    assert (
        conv_memory_traffic(32, 32, 3, 56, groups=32)
        == 4 * (2 * 32 * 56 * 56 + 32 * 9)
        == 803_968
    )


def test_float32_is_half_the_intensity_of_float16():
    args = (64, 64, 3, 28)
    assert arithmetic_intensity(*args, bytes_per_element=2) == pytest.approx(
        2 * arithmetic_intensity(*args)
    )


@settings(max_examples=60, deadline=None)
@given(
    channels=st.integers(1, 64),
    kernel=st.sampled_from([1, 3, 5]),
    size=st.integers(1, 32),
    depthwise=st.booleans(),
    element=st.sampled_from([2, 4, 8]),
)
def test_intensity_grows_with_batch_towards_fan_in_over_two_elements(
    channels, kernel, size, depthwise, element
):
    """Equal input and output maps: I(N) increases with N towards fan-in / (2 b) and never reaches it."""
    groups = channels if depthwise else 1
    fan_in = channels // groups * kernel * kernel
    limit = fan_in / (2 * element)
    values = [
        arithmetic_intensity(
            channels,
            channels,
            kernel,
            size,
            groups=groups,
            batch=n,
            bytes_per_element=element,
        )
        for n in (1, 2, 16, 1024)
    ]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert values[-1] < limit
    # The exact expression, written out independently: N F C H W / (b (2 N C H W + C F)).
    pixels = size * size
    n = 1024
    expected = (
        n
        * fan_in
        * channels
        * pixels
        / (element * (2 * n * channels * pixels + channels * fan_in))
    )
    assert values[-1] == pytest.approx(expected, rel=1e-12)
    assert values[-1] == pytest.approx(limit, rel=fan_in / (2 * n * pixels) + 1e-12)


def test_depthwise_3x3_is_memory_bound_at_any_width():
    """A depthwise 3x3 in float32 does at most 9/8 multiply-adds per byte; a full 3x3 far more."""
    for channels in (32, 128, 512, 1024):
        dw = arithmetic_intensity(channels, channels, 3, 14, groups=channels, batch=64)
        full = arithmetic_intensity(channels, channels, 3, 14, batch=64)
        pointwise = arithmetic_intensity(channels, channels, 1, 14, batch=64)
        assert dw < 9 / 8
        # The full layer uses each activation for C times the multiply-adds; its C times larger
        # weight eats into that, but at this batch less than half of it.
        assert channels / 2 < full / dw < channels
        assert dw < pointwise < full
    # the bound does not depend on the width: within 1% at 32 and at 1024 channels
    assert math.isclose(
        arithmetic_intensity(32, 32, 3, 14, groups=32, batch=64),
        arithmetic_intensity(1024, 1024, 3, 14, groups=1024, batch=64),
        rel_tol=0.01,
    )


def test_intensity_is_mult_adds_over_traffic():
    args = dict(groups=4, batch=3, bytes_per_element=2)
    cost = conv_cost(16, 24, (3, 5), (6, 5), groups=4)
    traffic = conv_memory_traffic(16, 24, (3, 5), (11, 9), (6, 5), **args)
    assert (
        arithmetic_intensity(16, 24, (3, 5), (11, 9), (6, 5), **args)
        == 3 * cost.mult_adds / traffic
    )


@pytest.mark.parametrize(
    "call, exception, pattern",
    [
        (
            lambda: conv_memory_traffic(8, 8, 3, 10, batch=0),
            ValueError,
            r"^batch must be >= 1, got 0$",
        ),
        (
            lambda: conv_memory_traffic(8, 8, 3, 10, batch=2.0),
            TypeError,
            r"^batch must be an int, got 2\.0$",
        ),
        (
            lambda: conv_memory_traffic(8, 8, 3, 10, bytes_per_element=0),
            ValueError,
            r"^bytes_per_element must be >= 1, got 0$",
        ),
        (
            lambda: conv_memory_traffic(8, 8, 3, (10, 0)),
            ValueError,
            r"^input_size must be >= 1, got \(10, 0\)$",
        ),
        (
            lambda: conv_memory_traffic(8, 8, 3, 10, "same"),
            TypeError,
            r"^output_size must be an int or a pair of ints, got 'same'$",
        ),
        (
            lambda: conv_memory_traffic(8, 6, 3, 10, groups=4),
            ValueError,
            r"groups must divide in_channels and out_channels",
        ),
        (
            lambda: conv_memory_traffic(8, 8, 3, 10, bias=1),
            TypeError,
            r"^bias must be a bool, got 1$",
        ),
        (
            lambda: arithmetic_intensity(0, 8, 3, 10),
            ValueError,
            r"^in_channels must be >= 1, got 0$",
        ),
        (
            lambda: arithmetic_intensity(8, 8, 0, 10),
            ValueError,
            r"^kernel_size must be >= 1, got 0$",
        ),
        (
            lambda: arithmetic_intensity(8, 8, 3, 10, batch=-1),
            ValueError,
            r"^batch must be >= 1, got -1$",
        ),
    ],
)
def test_bad_arguments(call, exception, pattern):
    with pytest.raises(exception, match=pattern):
        call()
