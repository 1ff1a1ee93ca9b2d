"""Checks of the non-local family: modes, switches and the projection weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import check_array, check_bool, check_same_dtype

NON_LOCAL_MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


def check_non_local_options(mode: Any, **flags: Any) -> None:
    """Validate a non-local block's ``mode`` and its boolean switches (``scale`` only in the dot-product modes)."""
    if not isinstance(mode, str) or mode not in NON_LOCAL_MODES:
        raise ValueError(
            f"mode must be one of {', '.join(repr(m) for m in NON_LOCAL_MODES)}, got {mode!r}"
        )
    for name, flag in flags.items():
        check_bool(name, flag)
    if flags.get("scale") and mode == "concatenation":
        raise ValueError(
            "scale=True applies to the dot-product modes, not to mode 'concatenation'"
        )


@dataclass(frozen=True)
class NonLocalArgs:
    """Validated arguments of a non-local block."""

    mode: str
    in_channels: int
    inter_channels: int  # channels of theta, phi and g
    embed_channels: (
        int  # channels of theta and phi (C for "gaussian", which has no embedding)
    )
    sub_sample: bool
    scale: bool


def _check_matrix(
    name: str, value: Any, array_type: type, shape: tuple[int, int], layout: str, x: Any
) -> None:
    check_array(name, value, array_type, 2, layout)
    check_same_dtype(name, value, x)
    if tuple(int(s) for s in value.shape) != shape:
        raise ValueError(
            f"{name} must have shape {shape} {layout}, got shape {tuple(value.shape)}"
        )


def _check_vector(
    name: str, value: Any, array_type: type, length: int, layout: str, x: Any
) -> None:
    check_array(name, value, array_type, 1, layout)
    check_same_dtype(name, value, x)
    if int(value.shape[0]) != length:
        raise ValueError(
            f"{name} must have shape ({length},) {layout}, got shape {tuple(value.shape)}"
        )


def check_non_local_args(
    x: Any,
    theta_weight: Any,
    phi_weight: Any,
    g_weight: Any,
    mode: str,
    concat_weight: Any,
    sub_sample: bool,
    scale: bool,
    biases: dict[str, Any],
    *,
    array_type: type,
) -> NonLocalArgs:
    """Validate the arguments of ``non_local_response`` / ``non_local_affinity``.

    Shapes: ``x (N, C, H, W)``; ``theta_weight`` and ``phi_weight`` ``(C_e, C)`` (``None`` in
    ``"gaussian"`` mode, which compares the raw features); ``g_weight`` ``(C_i, C)``;
    ``concat_weight`` ``(2 C_e,)`` in ``"concatenation"`` mode only; biases ``(C_e,)`` / ``(C_i,)``.
    ``g_weight`` may be ``None`` when only the affinity is wanted.
    """
    check_non_local_options(mode, sub_sample=sub_sample, scale=scale)
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    channels = int(x.shape[1])
    if mode == "gaussian":
        for name, value in (("theta_weight", theta_weight), ("phi_weight", phi_weight)):
            if value is not None:
                raise ValueError(
                    f"{name} must be None in mode 'gaussian' (it compares the raw features x)"
                )
        embed = channels
    else:
        if theta_weight is None or phi_weight is None:
            raise ValueError(
                f"theta_weight and phi_weight are required in mode {mode!r}"
            )
        check_array("theta_weight", theta_weight, array_type, 2, "(C_e, C)")
        embed = int(theta_weight.shape[0])
        _check_matrix(
            "theta_weight", theta_weight, array_type, (embed, channels), "(C_e, C)", x
        )
        _check_matrix(
            "phi_weight", phi_weight, array_type, (embed, channels), "(C_e, C)", x
        )
    inter = embed
    if g_weight is not None:
        check_array("g_weight", g_weight, array_type, 2, "(C_i, C)")
        inter = int(g_weight.shape[0])
        _check_matrix(
            "g_weight", g_weight, array_type, (inter, channels), "(C_i, C)", x
        )
    if mode == "concatenation":
        if concat_weight is None:
            raise ValueError("concat_weight is required in mode 'concatenation'")
        _check_vector(
            "concat_weight", concat_weight, array_type, 2 * embed, "(2 C_e,)", x
        )
    elif concat_weight is not None:
        raise ValueError(f"concat_weight must be None in mode {mode!r}")
    lengths = {"theta_bias": embed, "phi_bias": embed, "g_bias": inter}
    for name, value in biases.items():
        if value is None:
            continue
        if mode == "gaussian" and name in ("theta_bias", "phi_bias"):
            raise ValueError(f"{name} must be None in mode 'gaussian'")
        _check_vector(
            name,
            value,
            array_type,
            lengths[name],
            "(C_e,)" if name != "g_bias" else "(C_i,)",
            x,
        )
    if sub_sample and (int(x.shape[2]) < 2 or int(x.shape[3]) < 2):
        raise ValueError(
            f"sub_sample=True needs x of at least 2x2 pixels, got shape {tuple(x.shape)}"
        )
    return NonLocalArgs(mode, channels, inter, embed, sub_sample, scale)


def check_out_weight(
    out_weight: Any, out_bias: Any, x: Any, inter_channels: int, *, array_type: type
) -> None:
    """Validate the output projection ``W_z`` ``(C, C_i)`` of ``non_local2d`` and its bias ``(C,)``."""
    channels = int(x.shape[1])
    _check_matrix(
        "out_weight", out_weight, array_type, (channels, inter_channels), "(C, C_i)", x
    )
    if out_bias is not None:
        _check_vector("out_bias", out_bias, array_type, channels, "(C,)", x)
