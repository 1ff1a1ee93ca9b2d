"""Every layer refuses a bad input with its own message, before any PyTorch operation runs.

One table of bad inputs, run on every layer of :mod:`convref.nn`: each message starts with
the layer's name and names ``x``, what was expected and what was given; PyTorch's own
would come from inside a matrix product or a reshape, or blame the weight.
"""

from __future__ import annotations

import re

import pytest
import torch
from layer_cases import LAYERS, layer_and_input


def _spatial_layout(x: torch.Tensor) -> str:
    return "(N, C_in, L)" if x.dim() == 3 else "(N, C_in, H, W)"


def _bad_inputs(name: str):
    """``(what, bad input, exception, message pattern)`` for the layer ``name``."""
    layer, x, _ = layer_and_input(name)
    channels = x.shape[1]
    layout = re.escape(_spatial_layout(x))
    rows = [
        (
            "a NumPy array",
            x.numpy(),
            TypeError,
            r"x must be a torch\.Tensor, got numpy\.ndarray$",
        ),
        (
            "no batch axis",
            x[0],
            ValueError,
            rf"x must be {x.dim()}-D with shape {layout}, got shape "
            + re.escape(str(tuple(x[0].shape))),
        ),
        (
            "integers",
            x.to(torch.int64),
            TypeError,
            r"x must have a floating dtype, got int64$",
        ),
    ]
    if name != "ChannelShuffle":  # any channel count its groups divide
        wrong = torch.cat([x, x[:, :1]], dim=1)
        rows.append(
            (
                "one channel too many",
                wrong,
                ValueError,
                rf"x must have {channels} channels, the layer's input channels, got"
                rf" shape {re.escape(str(tuple(wrong.shape)))}$",
            )
        )
    if next(layer.parameters(), None) is not None:
        rows.append(
            (
                "float64 for a float32 layer",
                x.double(),
                TypeError,
                r"x has dtype torch\.float64, the layer's parameters torch\.float32",
            )
        )
        rows.append(
            (
                "another device",
                torch.empty(x.shape, device="meta"),
                ValueError,
                r"x is on meta, the layer's parameters on cpu",
            )
        )
    return rows


ROWS = [
    pytest.param(name, *row, id=f"{name}-{row[0]}")
    for name in LAYERS
    for row in _bad_inputs(name)
]


@pytest.mark.parametrize("name, what, bad, exception, pattern", ROWS)
def test_layer_refuses_a_bad_input_with_its_own_message(
    name, what, bad, exception, pattern
):
    layer, x, extra = layer_and_input(name)
    layer_name = type(layer).__name__
    # DeformConv2d: valid offsets and mask beside the bad input
    inputs = (bad, *extra(x)) if extra is not None else (bad,)
    with pytest.raises(exception, match=f"^{layer_name}: {pattern}"):
        layer(*inputs)


def test_every_layer_has_rows():
    assert {param.values[0] for param in ROWS} == set(LAYERS)
