"""Benchmark rows of the convolution family: conv2d, grouped, separable, dilated, transposed, layers.

Each operator has a ``setup`` that makes its inputs, a ``costs`` function that counts the
multiply-adds of each row's formulation, and its rows, PyTorch's own op first. The table
that names them is :data:`convref.bench.cases.CASES`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from .. import arith, functional, reference
from .. import nn as convref_nn
from .harness import Row, seeded_tensors, with_backward

__all__ = [
    "CONV_ROWS",
    "DILATED_ROWS",
    "FULL_ROW",
    "LAYER_ROWS",
    "SEPARABLE_ROWS",
    "TRANSPOSED_ROWS",
    "conv_costs",
    "conv_setup",
    "dilated_costs",
    "dilated_setup",
    "layer_costs",
    "layer_setup",
    "separable_costs",
    "separable_setup",
    "transposed_costs",
    "transposed_setup",
]

# --- conv2d, grouped, depthwise: PyTorch's conv2d with the same groups is the baseline
# -------


def conv_setup(
    p: SimpleNamespace,
    device: torch.device,
    dtype: torch.dtype,
    groups: int,
    full: bool = False,
) -> dict[str, Any]:
    """The input and weight, and with ``full`` the weight of the full (groups=1) convolution too."""
    shape, k = (p.batch, p.channels, p.size, p.size), p.kernel_size
    x, weight = seeded_tensors(
        shape, (p.channels, p.channels // groups, k, k), device=device, dtype=dtype
    )
    made = dict(x=x, weight=weight, groups=groups, pad=k // 2)
    if full:
        made["full_weight"] = seeded_tensors(
            shape, (p.channels, p.channels, k, k), device=device, dtype=dtype
        )[1]
    return made


def conv_costs(t: SimpleNamespace) -> dict[str, int]:
    out = arith.conv_output_size(
        t.size, t.kernel_size, padding=t.pad
    )  # size + 1 for an even kernel
    return dict(
        conv=t.batch
        * arith.conv_cost(
            t.channels, t.channels, t.kernel_size, out, groups=t.groups
        ).mult_adds,
        full=t.batch
        * arith.conv_cost(t.channels, t.channels, t.kernel_size, out).mult_adds,
    )


CONV_ROWS = (
    Row(
        "torch conv2d (groups={groups})",
        lambda t: F.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups),
        "conv",
        agrees="conv",
    ),
    Row(
        "convref.functional.conv2d (groups={groups})",
        lambda t: functional.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups),
        "conv",
        agrees="conv",
    ),
    Row(
        "convref.reference.conv2d (groups={groups}, NumPy)",
        lambda t: reference.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups),
        "conv",
        numpy=True,
        agrees="conv",
    ),
)
# the full convolution of the same shape: groups (or channels) times the multiply-adds
FULL_ROW = Row(
    "torch conv2d (groups=1, full)",
    lambda t: F.conv2d(t.x, t.full_weight, padding=t.pad),
    "full",
)


# --- separable: a rank-1 k x k kernel against its k x 1 and 1 x k factors
# ----------------------


def separable_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    k = p.kernel_size
    x, column, row = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (p.channels, 1, k, 1),
        (p.channels, 1, 1, k),
        device=device,
        dtype=dtype,
    )
    return dict(
        x=x, column=column, row=row, full=column * row, pad=k // 2
    )  # full: each channel's rank-1 kernel


def separable_costs(t: SimpleNamespace) -> dict[str, int]:
    k, c = t.kernel_size, t.channels
    out = arith.conv_output_size(
        t.size, k, padding=t.pad
    )  # size + 1 for an even kernel
    # the column stage keeps the input's width, the row stage then gives the full output
    two_pass = arith.conv_cost(c, c, (k, 1), (out, t.size), groups=c) + arith.conv_cost(
        c, c, (1, k), out, groups=c
    )
    return dict(
        full=t.batch * arith.conv_cost(c, c, k, out, groups=c).mult_adds,
        separable=t.batch * two_pass.mult_adds,
    )


def _torch_two_pass(t: SimpleNamespace) -> torch.Tensor:
    columns = F.conv2d(t.x, t.column, padding=(t.pad, 0), groups=t.channels)
    return F.conv2d(columns, t.row, padding=(0, t.pad), groups=t.channels)


SEPARABLE_ROWS = (
    Row(
        "torch conv2d {kernel_size}x{kernel_size} depthwise",
        lambda t: F.conv2d(t.x, t.full, padding=t.pad, groups=t.channels),
        "full",
        agrees="separable",
    ),
    Row(
        "torch conv2d {kernel_size}x1 then 1x{kernel_size}",
        _torch_two_pass,
        "separable",
        agrees="separable",
    ),
    Row(
        "convref.functional.separable_conv2d",
        lambda t: functional.separable_conv2d(
            t.x, t.column, t.row, padding=t.pad, groups=t.channels
        ),
        "separable",
        agrees="separable",
    ),
    Row(
        "convref.reference.separable_conv2d (NumPy)",
        lambda t: reference.separable_conv2d(
            t.x, t.column, t.row, padding=t.pad, groups=t.channels
        ),
        "separable",
        numpy=True,
        agrees="separable",
    ),
)


# --- dilated: three ways to a k x k kernel at rate d
# ------------------------------------------


def dilated_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    k = p.kernel_size
    x, weight = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (p.channels, p.channels, k, k),
        device=device,
        dtype=dtype,
    )
    return dict(x=x, weight=weight, pad=p.dilation * (k - 1) // 2)


def dilated_costs(t: SimpleNamespace) -> dict[str, int]:
    c, k, d = t.channels, t.kernel_size, t.dilation
    out = arith.conv_output_size(t.size, k, padding=t.pad, dilation=d)
    span = d * (k - 1) + 1
    # space-to-batch: the padded image is rounded up to a multiple of d, then d*d
    # sub-images of side m
    side = -(-(t.size + 2 * t.pad) // d)
    return dict(
        conv=t.batch * arith.conv_cost(c, c, k, out).mult_adds,
        zero_filled=t.batch * arith.conv_cost(c, c, span, out).mult_adds,
        space_to_batch=t.batch
        * d**2
        * arith.conv_cost(c, c, k, side - k + 1).mult_adds,
    )


DILATED_ROWS = (
    Row(
        "torch conv2d {kernel_size}x{kernel_size} rate {dilation}",
        lambda t: F.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation),
        "conv",
        agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d {kernel_size}x{kernel_size} rate {dilation}",
        lambda t: functional.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation),
        "conv",
        agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d_dilated_kernel",
        lambda t: functional.conv2d_dilated_kernel(
            t.x, t.weight, None, 1, t.pad, t.dilation
        ),
        "zero_filled",
        agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d_space_to_batch",
        lambda t: functional.conv2d_space_to_batch(
            t.x, t.weight, None, 1, t.pad, t.dilation
        ),
        "space_to_batch",
        agrees="dilated",
    ),
    Row(
        "convref.reference.conv2d {kernel_size}x{kernel_size} rate {dilation} (NumPy)",
        lambda t: reference.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation),
        "conv",
        numpy=True,
        agrees="dilated",
    ),
)


# --- transposed: every input pixel stamps the kernel, or a convolution over a stuffed
# image ---


def transposed_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    k = p.kernel_size
    x, weight = seeded_tensors(
        (p.batch, p.channels, p.size, p.size),
        (p.channels, p.channels, k, k),
        device=device,
        dtype=dtype,
    )
    return dict(
        x=x, weight=weight, pad=(k - p.stride + 1) // 2
    )  # k = 2s gives exactly stride * size


def transposed_costs(t: SimpleNamespace) -> dict[str, int]:
    c, k = t.channels, t.kernel_size
    out = (t.size - 1) * t.stride - 2 * t.pad + k
    # a transposed convolution does, per input pixel, what a convolution does per output
    # pixel
    return dict(
        stamp=t.batch * arith.conv_cost(c, c, k, t.size).mult_adds,
        stuffed=t.batch * arith.conv_cost(c, c, k, out).mult_adds,
    )


TRANSPOSED_ROWS = (
    Row(
        "torch conv_transpose2d k={kernel_size} s={stride}",
        lambda t: F.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad),
        "stamp",
        agrees="transposed",
    ),
    Row(
        "convref.functional.conv_transpose2d",
        lambda t: functional.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad),
        "stamp",
        agrees="transposed",
    ),
    Row(
        "convref.functional.conv_transpose2d_as_conv",
        lambda t: functional.conv_transpose2d_as_conv(
            t.x, t.weight, None, t.stride, t.pad
        ),
        "stuffed",
        agrees="transposed",
    ),
    Row(
        "convref.reference.conv_transpose2d (NumPy)",
        lambda t: reference.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad),
        "stamp",
        numpy=True,
        agrees="transposed",
    ),
)


# --- layers: convref.nn's convolution layers against torch.nn's twins, same weights
# -------

#: The pairs of the ``layers`` case: key -> (convref.nn class, torch.nn class, options).
_LAYER_PAIRS = {
    "conv": (convref_nn.Conv2d, torch.nn.Conv2d, dict(kernel_size=3, padding=1)),
    "depthwise": (
        convref_nn.Conv2d,
        torch.nn.Conv2d,
        dict(kernel_size=3, padding=1, groups=-1),  # -1: groups = channels
    ),
    "transposed": (
        convref_nn.ConvTranspose2d,
        torch.nn.ConvTranspose2d,
        dict(kernel_size=4, stride=2, padding=1),
    ),
}


def layer_setup(
    p: SimpleNamespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    """The input, and for each pair a torch.nn layer and a convref.nn layer with its weights."""
    (x,) = seeded_tensors(
        (p.batch, p.channels, p.size, p.size), device=device, dtype=dtype
    )
    made: dict[str, Any] = dict(x=x)
    for key, (ours_class, torch_class, options) in _LAYER_PAIRS.items():
        options = dict(options)
        if options.get("groups") == -1:
            options["groups"] = p.channels
        theirs = torch_class(p.channels, p.channels, **options)
        weight, bias = seeded_tensors(
            tuple(theirs.weight.shape),
            tuple(theirs.bias.shape),
            device=device,
            dtype=dtype,
        )
        theirs = theirs.to(device, dtype)
        ours = ours_class(p.channels, p.channels, **options).to(device, dtype)
        with torch.no_grad():
            for layer in (theirs, ours):
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)
        made[f"torch_{key}"], made[f"convref_{key}"] = theirs, ours
        made[f"{key}_weight"], made[f"{key}_bias"] = weight, bias  # for the reference
    return made


def layer_costs(t: SimpleNamespace) -> dict[str, int]:
    c, size = t.channels, t.size
    return dict(
        conv=t.batch * arith.conv_cost(c, c, 3, size).mult_adds,
        depthwise=t.batch * arith.conv_cost(c, c, 3, size, groups=c).mult_adds,
        # per input pixel, what a 4x4 convolution does per output pixel
        transposed=t.batch * arith.conv_cost(c, c, 4, size).mult_adds,
    )


def _layer_row(library: str, key: str, title: str) -> Row:
    return Row(
        f"{library}.nn.{title}",
        lambda t: getattr(t, f"{library}_{key}")(t.x),
        key,
        grad_inputs=("x",),
        agrees=key,
    )


LAYER_ROWS = (
    *with_backward(
        *(
            _layer_row(library, key, title)
            for key, title in (
                ("conv", "Conv2d 3x3"),
                ("depthwise", "Conv2d 3x3 depthwise"),
                ("transposed", "ConvTranspose2d k=4 s=2"),
            )
            for library in ("torch", "convref")
        )
    ),
    Row(
        "convref.reference.conv2d 3x3 (NumPy, forward)",
        lambda t: reference.conv2d(t.x, t.conv_weight, t.conv_bias, padding=1),
        "conv",
        numpy=True,
        agrees="conv",
    ),
)
