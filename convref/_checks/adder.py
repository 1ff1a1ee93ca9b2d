"""Checks of the adder family: AdderNet's gradient option, ``eta`` and the output gradient."""

from __future__ import annotations

from typing import Any

from .conv import Conv2dArgs
from .core import check_array, check_same_dtype, positive_number

ADDER_GRADIENTS = ("paper", "exact")


def check_adder_gradient(gradient: Any) -> str:
    """Validate the ``gradient`` option of ``adder2d``: ``"paper"`` or ``"exact"``."""
    if not isinstance(gradient, str) or gradient not in ADDER_GRADIENTS:
        raise ValueError(f"gradient must be 'paper' or 'exact', got {gradient!r}")
    return gradient


def check_grad_output(
    grad_output: Any, x: Any, args: Conv2dArgs, array_type: type
) -> None:
    """Validate the gradient of an output ``(N, C_out, H_out, W_out)`` against the call that produced it."""
    check_array("grad_output", grad_output, array_type, 4, "(N, C_out, H_out, W_out)")
    check_same_dtype("grad_output", grad_output, x)
    expected = (args.batch, args.out_channels, *args.out_size)
    if tuple(int(s) for s in grad_output.shape) != expected:
        raise ValueError(
            f"grad_output must have the output's shape {expected}, got shape {tuple(grad_output.shape)}"
        )


def check_eta(eta: Any) -> float:
    """Validate AdderNet's adaptive learning-rate coefficient: a positive finite number."""
    return positive_number("eta", eta)
