"""Checks of the lightweight family: LightConv's and DynamicConv's kernels.

Both operators take ``x (N, C, T)`` with its channels split into ``H`` heads of
``C / H`` consecutive channels, a ``padding`` of :data:`LIGHTWEIGHT_PADDINGS` and a
``softmax`` switch. The layers check their constructor arguments with the same
functions, so that a layer and the operator refuse a bad ``padding`` with one
message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import (
    _is_int,
    batch_and_sizes,
    check_array,
    check_bool,
    check_same_dtype,
    positive_int,
)

#: The paddings of the lightweight family: ``"same"`` keeps the length with the window
#: centred (for an even kernel one zero more on the right, as PyTorch's ``"same"``);
#: ``"causal"`` puts all ``K - 1`` zeros on the left, so that output ``t`` sees inputs
#: ``t - K + 1 ... t`` only (a decoder's convolution).
LIGHTWEIGHT_PADDINGS = ("same", "causal")


@dataclass(frozen=True)
class LightweightArgs:
    """Validated arguments of ``lightweight_conv1d`` and ``dynamic_lightweight_conv1d``.

    ``batch`` is left as the input gives it (a symbol under ``torch.compile`` with a
    dynamic batch); ``left`` and ``right`` are the zeros padded on each side of the time
    axis.
    """

    batch: Any
    channels: int
    length: int
    heads: int
    kernel_size: int
    left: int
    right: int


def lightweight_padding(padding: Any, kernel_size: int) -> tuple[int, int]:
    """``(left, right)`` zeros for ``padding`` and a kernel of ``kernel_size`` taps.

    ``"same"``: ``left = (K - 1) // 2``, ``right = K - 1 - left``; ``"causal"``:
    ``left = K - 1``, ``right = 0``. Anything else raises ``ValueError``.
    """
    if not isinstance(padding, str) or padding not in LIGHTWEIGHT_PADDINGS:
        raise ValueError(
            "padding must be one of "
            f"{', '.join(repr(p) for p in LIGHTWEIGHT_PADDINGS)}, got {padding!r}"
        )
    if padding == "causal":
        return kernel_size - 1, 0
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def check_heads(channels: int, heads: int, channels_name: str, heads_name: str) -> None:
    """Raise ``ValueError`` unless ``heads`` divides ``channels``."""
    if channels % heads:
        raise ValueError(
            f"{channels_name} = {channels} must be divisible by {heads_name} = {heads}"
            ", so that each head holds C / H channels"
        )


def _check_input(x: Any, array_type: type) -> tuple:
    check_array("x", x, array_type, 3, "(N, C, T)")
    batch, channels, length = batch_and_sizes(x)
    if channels < 1 or length < 1:
        raise ValueError(
            "x must have at least one channel and one time step, "
            f"got shape {tuple(x.shape)}"
        )
    return batch, channels, length


def check_lightweight_conv1d_args(
    x: Any, weight: Any, padding: Any, softmax: Any, *, array_type: type
) -> LightweightArgs:
    """Validate ``lightweight_conv1d``: ``x (N, C, T)``, ``weight (H, K)``."""
    batch, channels, length = _check_input(x, array_type)
    check_array("weight", weight, array_type, 2, "(H, K)")
    check_same_dtype("weight", weight, x)
    heads, kernel_size = (int(s) for s in weight.shape)
    if heads < 1 or kernel_size < 1:
        raise ValueError(
            "weight must have at least one head and one tap, "
            f"got shape {tuple(weight.shape)}"
        )
    check_heads(channels, heads, "x.shape[1] (C)", "weight.shape[0] (H)")
    left, right = lightweight_padding(padding, kernel_size)
    check_bool("softmax", softmax)
    return LightweightArgs(batch, channels, length, heads, kernel_size, left, right)


def check_dynamic_lightweight_conv1d_args(
    x: Any, kernels: Any, padding: Any, softmax: Any, *, array_type: type
) -> LightweightArgs:
    """Validate ``dynamic_lightweight_conv1d``.

    ``x (N, C, T)`` and ``kernels (N, H, K, T)``, with ``H`` dividing ``C``.
    """
    batch, channels, length = _check_input(x, array_type)
    check_array("kernels", kernels, array_type, 4, "(N, H, K, T)")
    check_same_dtype("kernels", kernels, x)
    kernel_batch, heads, kernel_size, kernel_length = batch_and_sizes(kernels)
    if heads < 1 or kernel_size < 1:
        raise ValueError(
            "kernels must have at least one head and one tap, "
            f"got shape {tuple(kernels.shape)}"
        )
    if kernel_batch != batch or kernel_length != length:
        raise ValueError(
            f"kernels must have shape ({batch}, H, K, {length}) (one kernel per sample "
            f"and time step of x), got shape {tuple(kernels.shape)}"
        )
    check_heads(channels, heads, "x.shape[1] (C)", "kernels.shape[1] (H)")
    left, right = lightweight_padding(padding, kernel_size)
    check_bool("softmax", softmax)
    return LightweightArgs(batch, channels, length, heads, kernel_size, left, right)


def check_lightweight_layer_args(
    channels: Any,
    kernel_size: Any,
    heads: Any,
    padding: Any,
    weight_softmax: Any,
    weight_dropout: Any,
    bias: Any,
) -> tuple[int, int, int, float]:
    """Validate a lightweight layer's constructor arguments.

    Returns ``(channels, kernel_size, heads, weight_dropout)``.
    """
    channels = positive_int("channels", channels)
    kernel_size = positive_int("kernel_size", kernel_size)
    heads = positive_int("heads", heads)
    check_heads(channels, heads, "channels", "heads")
    lightweight_padding(padding, kernel_size)
    check_bool("weight_softmax", weight_softmax)
    check_bool("bias", bias)
    if isinstance(weight_dropout, bool) or not (
        _is_int(weight_dropout) or isinstance(weight_dropout, float)
    ):
        raise TypeError(
            f"weight_dropout must be a number in [0, 1), got {weight_dropout!r}"
        )
    if not 0.0 <= weight_dropout < 1.0:
        raise ValueError(f"weight_dropout must be in [0, 1), got {weight_dropout!r}")
    return channels, kernel_size, heads, float(weight_dropout)
