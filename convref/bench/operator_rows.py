"""Benchmark rows of the operators beyond convolution: non-local, shift, deformable, adder, dynamic,
lightweight.

As in :mod:`convref.bench.conv_rows`: a ``setup``, a ``costs`` function and the rows of
each operator, the baseline first (PyTorch's op, the authors' formulation or the memory
floor). The table that names them is :data:`convref.bench.cases.CASES`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from .. import arith, functional, reference
from .._checks import positive_int
from .baselines import (
    band_matrix_dynamic_conv1d,
    broadcast_adder2d,
    explicit_non_local_response,
    per_sample_dynamic_conv2d,
)
from .harness import Row, seeded_tensors, with_backward

__all__ = [
    "ADDER_ROWS",
    "NON_LOCAL_ROWS",
    "SHIFT_ROWS",
    "adder_costs",
    "adder_setup",
    "deformable_costs",
    "deformable_rows",
    "deformable_setup",
    "dynamic_costs",
    "dynamic_rows",
    "dynamic_setup",
    "LIGHTWEIGHT_ROWS",
    "lightweight_costs",
    "lightweight_rows",
    "lightweight_setup",
    "non_local_mult_adds",
    "non_local_setup",
    "shift_costs",
    "shift_setup",
    "torchvision_deform_conv2d",
]

# --- non_local: the stored affinity matrix against a response that never forms it
# -------------


def non_local_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    if p.mode not in ("embedded_gaussian", "dot_product"):
        raise ValueError(
            f"mode must be 'embedded_gaussian' or 'dot_product', got {p.mode!r}"
        )
    inter = max(
        1, p.channels // 2
    )  # as in the paper's ResNet-50 blocks, no sub-sampling
    x, theta, phi, g = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (inter, p.channels),
        (inter, p.channels),
        (inter, p.channels),
        device=device,
        dtype=dtype,
    )
    return dict(x=x, theta=theta, phi=phi, g=g, inter=inter)


def non_local_mult_adds(t: SimpleNamespace, implicit_mode: Optional[str]) -> int:
    """Multiply-adds of one embedded-Gaussian or dot-product response (``None``: the explicit ``A g``)."""
    positions = t.size * t.size
    projections = (
        t.channels * t.inter * 3 * positions
    )  # theta, phi, g (no sub-sampling)
    if implicit_mode == "dot_product":  # phi g^T (C_i x C_i), then theta^T of that
        pairwise = 2 * positions * t.inter * t.inter
    else:  # theta^T phi and A g: H W x H W x C_i each, whether A is stored or streamed
        pairwise = 2 * positions * positions * t.inter
    return t.batch * (projections + pairwise)


_NON_LOCAL_INPUTS = ("x", "theta", "phi", "g")
# the forward rows use tensors without grad, so they build no graph
NON_LOCAL_ROWS = (
    *with_backward(
        Row(
            "explicit affinity A g",
            lambda t: explicit_non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
            "explicit",
            grad_inputs=_NON_LOCAL_INPUTS,
            agrees="response",
        ),
        Row(
            "convref.functional.non_local_response",
            lambda t: functional.non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
            "implicit",
            grad_inputs=_NON_LOCAL_INPUTS,
            agrees="response",
        ),
    ),
    Row(
        "convref.reference.non_local_response (NumPy, forward)",
        lambda t: reference.non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
        "explicit",
        numpy=True,
        agrees="response",
    ),
)


# --- shift: against x.clone(), the floor for any op that writes a new tensor of the
# same size --


def shift_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    (x,) = seeded_tensors(
        (p.batch, p.channels, p.size, p.size), device=device, dtype=dtype
    )
    (weight,) = seeded_tensors((p.channels, 1, 3, 3), device=device, dtype=dtype)
    grouped = functional.shift_pattern(p.channels, 3, layout="grouped", device=device)
    return dict(
        x=x, weight=weight, grouped=grouped, fractional=grouped.to(x.dtype) + 0.5
    )


def shift_costs(t: SimpleNamespace) -> dict[str, int]:
    return dict(
        none=0,  # a shift only moves values
        fractional=4 * t.x.numel(),  # four bilinear weights per value
        depthwise=t.batch
        * arith.conv_cost(
            t.channels, t.channels, 3, t.size, groups=t.channels
        ).mult_adds,
    )


SHIFT_ROWS = (
    Row("x.clone() (memory floor)", lambda t: t.x.clone(), "none"),
    # ShiftNet's pattern from its parameters: one strided copy (what nn.Shift2d runs)
    Row(
        "convref.functional.pattern_shift2d (grouped)",
        lambda t: functional.pattern_shift2d(t.x, 3, 1, "grouped"),
        "none",
        agrees="grouped",
    ),
    Row(
        "convref.functional.pattern_shift2d (interleaved)",
        lambda t: functional.pattern_shift2d(t.x, 3, 1, "interleaved"),
        "none",
    ),
    # the general path, one gather, given the same grouped pattern as a table so that it
    # must agree
    Row(
        "convref.functional.shift2d (any table)",
        lambda t: functional.shift2d(t.x, t.grouped),
        "none",
        agrees="grouped",
    ),
    Row(
        "convref.functional.shift2d (fractional)",
        lambda t: functional.shift2d(t.x, t.fractional),
        "fractional",
    ),
    Row(
        "torch conv2d 3x3 depthwise",
        lambda t: F.conv2d(t.x, t.weight, padding=1, groups=t.channels),
        "depthwise",
    ),
    Row(
        "convref.reference.shift2d (NumPy)",
        lambda t: reference.shift2d(t.x, t.grouped),
        "none",
        numpy=True,
        agrees="grouped",
    ),
)


# --- deformable: a modulated 3x3 layer (offsets given) against conv2d of the same shape
# -------


def torchvision_deform_conv2d() -> Optional[Callable[..., torch.Tensor]]:
    """``torchvision.ops.deform_conv2d`` when torchvision (with its compiled ops) can be imported, else None.

    Returns
    -------
    callable or None
        ``deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask)``, which
        maps ``(N, C_in, H, W)`` to ``(N, C_out, H_out, W_out)``.
    """
    try:
        # inside: torchvision is optional (the GPU image has it)
        from torchvision.ops import deform_conv2d
    except (ImportError, OSError, RuntimeError):  # missing, or built for another torch
        return None
    return deform_conv2d


def deformable_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype, groups: int = 1
) -> dict[str, Any]:
    taps, generator = 9, torch.Generator().manual_seed(0)
    x, weight, bias = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (p.channels, p.channels // groups, 3, 3),
        (p.channels,),
        device=device,
        dtype=dtype,
    )
    offset = (
        torch.rand(p.batch, 2 * taps, p.size, p.size, generator=generator) * 4 - 2
    ).to(device, dtype)  # within 2 pixels
    mask = torch.rand(p.batch, taps, p.size, p.size, generator=generator).to(
        device, dtype
    )
    return dict(
        x=x,
        weight=weight / (9 * p.channels // groups) ** 0.5,
        bias=bias,
        offset=offset,
        mask=mask,
        groups=groups,
    )


def deformable_costs(t: SimpleNamespace) -> dict[str, int]:
    cost = arith.deform_conv_cost(
        t.channels, t.channels, 3, t.size, groups=t.groups, modulated=True
    )
    return dict(
        conv=t.batch * cost["conv"].mult_adds,
        deform=t.batch * (cost["conv"].mult_adds + cost["sampling"].mult_adds),
    )


_DEFORM_INPUTS = ("x", "offset", "weight", "bias", "mask")


def deformable_rows(p: SimpleNamespace, depthwise: bool = False) -> tuple[Row, ...]:
    """The rows, with torchvision's op among them where torchvision can be imported.

    With ``depthwise``, the baseline is PyTorch's depthwise convolution (groups = channels),
    and the deformable rows take its weights, so they are depthwise too.
    """
    implementations = [
        Row(
            "torch conv2d 3x3" + (" depthwise" if depthwise else ""),
            lambda t: F.conv2d(t.x, t.weight, t.bias, padding=1, groups=t.groups),
            "conv",
            grad_inputs=("x", "weight", "bias"),
        )
    ]
    torchvision_op = torchvision_deform_conv2d()
    if torchvision_op is not None:
        implementations.append(
            Row(
                "torchvision.ops.deform_conv2d",
                lambda t: torchvision_op(
                    t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask
                ),
                "deform",
                grad_inputs=_DEFORM_INPUTS,
                agrees="deform",
            )
        )
    implementations.append(
        Row(
            "convref.functional.deform_conv2d",
            lambda t: functional.deform_conv2d(
                t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask
            ),
            "deform",
            grad_inputs=_DEFORM_INPUTS,
            agrees="deform",
        )
    )
    reference_row = Row(
        "convref.reference.deform_conv2d (NumPy, forward)",
        lambda t: reference.deform_conv2d(
            t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask
        ),
        "deform",
        numpy=True,
        agrees="deform",
    )
    return (*with_backward(*implementations), reference_row)


# --- adder: AdderNet's layer against the authors' unfold-broadcast-sum
# --------------------------


def adder_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    x, weight = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (p.channels, p.channels, 3, 3),
        device=device,
        dtype=dtype,
    )
    return dict(x=x, weight=weight)


def adder_costs(t: SimpleNamespace) -> dict[str, int]:
    # subtract-and-accumulate pairs, as many as the convolution's multiply-adds
    return dict(
        layer=t.batch * arith.conv_cost(t.channels, t.channels, 3, t.size).mult_adds
    )


ADDER_ROWS = (
    *with_backward(
        Row(
            "unfold-broadcast-sum (authors' code)",
            lambda t: broadcast_adder2d(t.x, t.weight, padding=1),
            "layer",
            grad_inputs=("x", "weight"),
            agrees="adder",
        ),
        Row(
            "convref.functional.adder2d",
            lambda t: functional.adder2d(t.x, t.weight, padding=1),
            "layer",
            grad_inputs=("x", "weight"),
            agrees="adder",
        ),
    ),
    Row(
        "torch conv2d 3x3 (forward)",
        lambda t: F.conv2d(t.x, t.weight, padding=1),
        "layer",
    ),
    Row(
        "convref.reference.adder2d (NumPy, forward)",
        lambda t: reference.adder2d(t.x, t.weight, padding=1),
        "layer",
        numpy=True,
        agrees="adder",
    ),
)


# --- dynamic: K kernels mixed per sample, batched into one grouped conv or looped
# ------------


def dynamic_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:

    c = p.channels
    x, weight, bias = seeded_tensors(
        (p.batch, c, p.size, p.size), (c, c, 3, 3), (c,), device=device, dtype=dtype
    )
    made = dict(x=x, weight=weight / (9 * c) ** 0.5, bias=bias)
    # the attention is given (random rows of a softmax): only the mixing and the
    # convolution are timed
    generator = torch.Generator().manual_seed(1)
    for k in p.num_kernels:
        k = positive_int("num_kernels", k)
        made[f"weights_{k}"] = (
            torch.randn(k, c, c, 3, 3, generator=generator) / (9 * c) ** 0.5
        ).to(device, dtype)
        made[f"biases_{k}"] = torch.randn(k, c, generator=generator).to(device, dtype)
        made[f"attention_{k}"] = torch.softmax(
            torch.randn(p.batch, k, generator=generator), dim=1
        ).to(device, dtype)
    return made


def dynamic_costs(t: SimpleNamespace) -> dict[str, int]:
    counts = dict(
        static=t.batch * arith.conv_cost(t.channels, t.channels, 3, t.size).mult_adds
    )
    for k in t.num_kernels:
        cost = arith.dynamic_conv_cost(t.channels, t.channels, 3, t.size, k)
        counts[f"K={k}"] = t.batch * (
            cost["conv"].mult_adds + cost["aggregation"].mult_adds
        )  # the mixing too
    return counts


def _mixture(t: SimpleNamespace, k: int) -> tuple[Any, Any, Any]:
    """The ``K = k`` kernels, attention and biases, in the order ``dynamic_conv2d`` takes them."""
    return (
        getattr(t, f"weights_{k}"),
        getattr(t, f"attention_{k}"),
        getattr(t, f"biases_{k}"),
    )


def dynamic_rows(p: SimpleNamespace) -> tuple[Row, ...]:
    """The static convolution, then for each ``K`` the batched and the looped dynamic convolution."""
    rows = [
        Row(
            "torch conv2d 3x3, static",
            lambda t: F.conv2d(t.x, t.weight, t.bias, padding=1),
            "static",
            grad_inputs=("x", "weight", "bias"),
        )
    ]
    for k in p.num_kernels:
        mixture = ("x", f"weights_{k}", f"attention_{k}", f"biases_{k}")
        rows += [
            Row(
                f"convref.functional.dynamic_conv2d, K={k}",
                lambda t, k=k: functional.dynamic_conv2d(
                    t.x, *_mixture(t, k), padding=1
                ),
                f"K={k}",
                grad_inputs=mixture,
                agrees=f"K={k}",
            ),
            Row(
                f"per-sample conv2d loop, K={k}",
                lambda t, k=k: per_sample_dynamic_conv2d(
                    t.x, *_mixture(t, k), padding=1
                ),
                f"K={k}",
                grad_inputs=mixture,
                agrees=f"K={k}",
            ),
        ]
    first = p.num_kernels[0]
    reference_row = Row(
        f"convref.reference.dynamic_conv2d, K={first} (NumPy, forward)",
        lambda t: reference.dynamic_conv2d(t.x, *_mixture(t, first), padding=1),
        f"K={first}",
        numpy=True,
        agrees=f"K={first}",
    )
    return (*with_backward(*rows), reference_row)


# --- lightweight: LightConv and DynamicConv (1-D) against a depthwise conv1d, the band
# matrix of the authors' training path, and self-attention over the same sequence
# ------------


def lightweight_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    """A sequence ``(N, C, T = size)``, ``H`` head kernels and one kernel per step and head."""
    c, length, k = p.channels, p.size, positive_int("kernel_size", p.kernel_size)
    heads = positive_int("heads", p.heads)
    if c % heads:
        raise ValueError(f"heads must divide channels = {c}, got {heads}")
    x, head_logits, step_logits = seeded_tensors(
        (p.batch, c, length),
        (heads, k),
        (p.batch, heads, k, length),
        device=device,
        dtype=dtype,
    )
    # kernels as the layers use them, normalised over the taps; given, so that only
    # the convolutions are timed
    return dict(
        x=x,
        head_kernels=torch.softmax(head_logits, -1),
        step_kernels=torch.softmax(step_logits, 2),
        tokens=x.reshape(p.batch, heads, c // heads, length).transpose(2, 3),
    )


def lightweight_costs(t: SimpleNamespace) -> dict[str, int]:
    window = t.batch * t.channels * t.size * t.kernel_size  # K per output
    return dict(
        window=window,
        band=t.batch * t.channels * t.size * t.size,  # a whole row of T per output
        attention=2 * t.batch * t.channels * t.size * t.size,  # Q K^T, then A V
    )


LIGHTWEIGHT_ROWS = (
    *with_backward(
        Row(
            "torch conv1d, depthwise (the H kernels repeated to C)",
            lambda t: F.conv1d(
                F.pad(t.x, ((t.kernel_size - 1) // 2, t.kernel_size // 2)),
                t.head_kernels.repeat_interleave(t.channels // t.heads, 0)[:, None],
                groups=t.channels,
            ),  # "same": an even K's extra tap on the right, as LightConv's
            "window",
            grad_inputs=("x", "head_kernels"),
            agrees="light",
        ),
        Row(
            "convref.functional.lightweight_conv1d (H={heads})",
            lambda t: functional.lightweight_conv1d(t.x, t.head_kernels, softmax=False),
            "window",
            grad_inputs=("x", "head_kernels"),
            agrees="light",
        ),
        Row(
            "convref.functional.dynamic_lightweight_conv1d",
            lambda t: functional.dynamic_lightweight_conv1d(
                t.x, t.step_kernels, softmax=False
            ),
            "window",
            grad_inputs=("x", "step_kernels"),
            agrees="dynamic",
        ),
        Row(
            "band matrix + bmm (the authors' training path)",
            lambda t: band_matrix_dynamic_conv1d(t.x, t.step_kernels),
            "band",
            grad_inputs=("x", "step_kernels"),
            agrees="dynamic",
        ),
        Row(
            "self-attention over the sequence (torch SDPA, H={heads})",
            lambda t: F.scaled_dot_product_attention(t.tokens, t.tokens, t.tokens),
            "attention",
            grad_inputs=("tokens",),
        ),
    ),
    Row(
        "convref.reference.dynamic_lightweight_conv1d (NumPy, forward)",
        lambda t: reference.dynamic_lightweight_conv1d(
            t.x, t.step_kernels, softmax=False
        ),
        "window",
        numpy=True,
        agrees="dynamic",
    ),
)
