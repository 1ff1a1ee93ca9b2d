"""The table of benchmark cases: for each operator, its inputs, its multiply-adds and its rows.

Each :class:`~convref.bench.harness.Case` names its family, its parameters with their
defaults, a ``setup`` that makes the inputs, a ``costs`` function that counts the
multiply-adds of each row's formulation, and its rows, the baseline first: PyTorch's own
op, the authors' formulation (:mod:`convref.bench.baselines`) or the memory floor. Adding
an operator means adding a case to :data:`CASES`, not writing a new benchmark function.
Multiply-adds of a forward + backward row count three times the forward's.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from .. import arith, functional, reference
from .._checks import positive_int
from .baselines import broadcast_adder2d, explicit_non_local_response, per_sample_dynamic_conv2d
from .harness import Case, Row, Timing, measure, with_backward

__all__ = ["CASES", "get_case", "run_case", "torchvision_deform_conv2d"]

# the input shape of the convolution cases, the same as the command line's defaults
_SHAPE = dict(batch=8, channels=32, size=32)


def _tensors(*shapes: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> list[torch.Tensor]:
    """Standard normal tensors of the given shapes, from one generator seeded with 0 (drawn in float32)."""
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(*shape, generator=generator).to(device, dtype) for shape in shapes]


# --- conv2d, grouped, depthwise: PyTorch's conv2d with the same groups is the baseline -------


def _conv_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype, groups: int, full: bool = False) -> dict[str, Any]:
    """The input and weight, and with ``full`` the weight of the full (groups=1) convolution too."""
    shape, k = (p.batch, p.channels, p.size, p.size), p.kernel_size
    x, weight = _tensors(shape, (p.channels, p.channels // groups, k, k), device=device, dtype=dtype)
    made = dict(x=x, weight=weight, groups=groups, pad=k // 2)
    if full:
        made["full_weight"] = _tensors(shape, (p.channels, p.channels, k, k), device=device, dtype=dtype)[1]
    return made


def _conv_costs(t: SimpleNamespace) -> dict[str, int]:
    out = arith.conv_output_size(t.size, t.kernel_size, padding=t.pad)  # size + 1 for an even kernel
    return dict(
        conv=t.batch * arith.conv_cost(t.channels, t.channels, t.kernel_size, out, groups=t.groups).mult_adds,
        full=t.batch * arith.conv_cost(t.channels, t.channels, t.kernel_size, out).mult_adds,
    )


_CONV_ROWS = (
    Row(
        "torch conv2d (groups={groups})",
        lambda t: F.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups), "conv", agrees="conv",
    ),
    Row(
        "convref.functional.conv2d (groups={groups})",
        lambda t: functional.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups), "conv", agrees="conv",
    ),
    Row(
        "convref.reference.conv2d (groups={groups}, NumPy)",
        lambda t: reference.conv2d(t.x, t.weight, None, 1, t.pad, 1, t.groups), "conv", numpy=True, agrees="conv",
    ),
)
# the full convolution of the same shape: groups (or channels) times the multiply-adds
_FULL_ROW = Row("torch conv2d (groups=1, full)", lambda t: F.conv2d(t.x, t.full_weight, padding=t.pad), "full")


# --- separable: a rank-1 k x k kernel against its k x 1 and 1 x k factors ----------------------


def _separable_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    k = p.kernel_size
    x, column, row = _tensors(
        (p.batch, p.channels, p.size, p.size), (p.channels, 1, k, 1), (p.channels, 1, 1, k), device=device, dtype=dtype
    )
    return dict(x=x, column=column, row=row, full=column * row, pad=k // 2)  # full: each channel's rank-1 kernel


def _separable_costs(t: SimpleNamespace) -> dict[str, int]:
    k, c = t.kernel_size, t.channels
    out = arith.conv_output_size(t.size, k, padding=t.pad)  # size + 1 for an even kernel
    # the column stage keeps the input's width, the row stage then gives the full output
    two_pass = arith.conv_cost(c, c, (k, 1), (out, t.size), groups=c) + arith.conv_cost(c, c, (1, k), out, groups=c)
    return dict(full=t.batch * arith.conv_cost(c, c, k, out, groups=c).mult_adds, separable=t.batch * two_pass.mult_adds)


def _torch_two_pass(t: SimpleNamespace) -> torch.Tensor:
    columns = F.conv2d(t.x, t.column, padding=(t.pad, 0), groups=t.channels)
    return F.conv2d(columns, t.row, padding=(0, t.pad), groups=t.channels)


_SEPARABLE_ROWS = (
    Row(
        "torch conv2d {kernel_size}x{kernel_size} depthwise",
        lambda t: F.conv2d(t.x, t.full, padding=t.pad, groups=t.channels), "full", agrees="separable",
    ),
    Row("torch conv2d {kernel_size}x1 then 1x{kernel_size}", _torch_two_pass, "separable", agrees="separable"),
    Row(
        "convref.functional.separable_conv2d",
        lambda t: functional.separable_conv2d(t.x, t.column, t.row, padding=t.pad, groups=t.channels),
        "separable", agrees="separable",
    ),
    Row(
        "convref.reference.separable_conv2d (NumPy)",
        lambda t: reference.separable_conv2d(t.x, t.column, t.row, padding=t.pad, groups=t.channels),
        "separable", numpy=True, agrees="separable",
    ),
)


# --- dilated: three ways to a k x k kernel at rate d ------------------------------------------


def _dilated_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    k = p.kernel_size
    x, weight = _tensors((p.batch, p.channels, p.size, p.size), (p.channels, p.channels, k, k), device=device, dtype=dtype)
    return dict(x=x, weight=weight, pad=p.dilation * (k - 1) // 2)


def _dilated_costs(t: SimpleNamespace) -> dict[str, int]:
    c, k, d = t.channels, t.kernel_size, t.dilation
    out = arith.conv_output_size(t.size, k, padding=t.pad, dilation=d)
    span = d * (k - 1) + 1
    # space-to-batch: the padded image is rounded up to a multiple of d, then d*d sub-images of side m
    side = -(-(t.size + 2 * t.pad) // d)
    return dict(
        conv=t.batch * arith.conv_cost(c, c, k, out).mult_adds,
        zero_filled=t.batch * arith.conv_cost(c, c, span, out).mult_adds,
        space_to_batch=t.batch * d**2 * arith.conv_cost(c, c, k, side - k + 1).mult_adds,
    )


_DILATED_ROWS = (
    Row(
        "torch conv2d {kernel_size}x{kernel_size} rate {dilation}",
        lambda t: F.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation), "conv", agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d {kernel_size}x{kernel_size} rate {dilation}",
        lambda t: functional.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation), "conv", agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d_dilated_kernel",
        lambda t: functional.conv2d_dilated_kernel(t.x, t.weight, None, 1, t.pad, t.dilation), "zero_filled", agrees="dilated",
    ),
    Row(
        "convref.functional.conv2d_space_to_batch",
        lambda t: functional.conv2d_space_to_batch(t.x, t.weight, None, 1, t.pad, t.dilation), "space_to_batch", agrees="dilated",
    ),
    Row(
        "convref.reference.conv2d {kernel_size}x{kernel_size} rate {dilation} (NumPy)",
        lambda t: reference.conv2d(t.x, t.weight, None, 1, t.pad, t.dilation), "conv", numpy=True, agrees="dilated",
    ),
)


# --- transposed: every input pixel stamps the kernel, or a convolution over a stuffed image ---


def _transposed_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    k = p.kernel_size
    x, weight = _tensors((p.batch, p.channels, p.size, p.size), (p.channels, p.channels, k, k), device=device, dtype=dtype)
    return dict(x=x, weight=weight, pad=(k - p.stride + 1) // 2)  # k = 2s gives exactly stride * size


def _transposed_costs(t: SimpleNamespace) -> dict[str, int]:
    c, k = t.channels, t.kernel_size
    out = (t.size - 1) * t.stride - 2 * t.pad + k
    # a transposed convolution does, per input pixel, what a convolution does per output pixel
    return dict(
        stamp=t.batch * arith.conv_cost(c, c, k, t.size).mult_adds,
        stuffed=t.batch * arith.conv_cost(c, c, k, out).mult_adds,
    )


_TRANSPOSED_ROWS = (
    Row(
        "torch conv_transpose2d k={kernel_size} s={stride}",
        lambda t: F.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad), "stamp", agrees="transposed",
    ),
    Row(
        "convref.functional.conv_transpose2d",
        lambda t: functional.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad), "stamp", agrees="transposed",
    ),
    Row(
        "convref.functional.conv_transpose2d_as_conv",
        lambda t: functional.conv_transpose2d_as_conv(t.x, t.weight, None, t.stride, t.pad), "stuffed", agrees="transposed",
    ),
    Row(
        "convref.reference.conv_transpose2d (NumPy)",
        lambda t: reference.conv_transpose2d(t.x, t.weight, None, t.stride, t.pad), "stamp", numpy=True, agrees="transposed",
    ),
)


# --- non_local: the stored affinity matrix against a response that never forms it -------------


def _non_local_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    if p.mode not in ("embedded_gaussian", "dot_product"):
        raise ValueError(f"mode must be 'embedded_gaussian' or 'dot_product', got {p.mode!r}")
    inter = max(1, p.channels // 2)  # as in the paper's ResNet-50 blocks, no sub-sampling
    x, theta, phi, g = _tensors(
        (p.batch, p.channels, p.size, p.size), (inter, p.channels), (inter, p.channels), (inter, p.channels),
        device=device, dtype=dtype,
    )
    return dict(x=x, theta=theta, phi=phi, g=g, inter=inter)


def _non_local_mult_adds(t: SimpleNamespace, implicit_mode: Optional[str]) -> int:
    """Multiply-adds of one embedded-Gaussian or dot-product response (``None``: the explicit ``A g``)."""
    positions = t.size * t.size
    projections = t.channels * t.inter * 3 * positions  # theta, phi, g (no sub-sampling)
    if implicit_mode == "dot_product":  # phi g^T (C_i x C_i), then theta^T of that
        pairwise = 2 * positions * t.inter * t.inter
    else:  # theta^T phi and A g: H W x H W x C_i each, whether A is stored or streamed
        pairwise = 2 * positions * positions * t.inter
    return t.batch * (projections + pairwise)


_NON_LOCAL_INPUTS = ("x", "theta", "phi", "g")
# the forward rows use tensors without grad, so they build no graph
_NON_LOCAL_ROWS = (
    *with_backward(
        Row(
            "explicit affinity A g",
            lambda t: explicit_non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
            "explicit", grad_inputs=_NON_LOCAL_INPUTS, agrees="response",
        ),
        Row(
            "convref.functional.non_local_response",
            lambda t: functional.non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
            "implicit", grad_inputs=_NON_LOCAL_INPUTS, agrees="response",
        ),
    ),
    Row(
        "convref.reference.non_local_response (NumPy, forward)",
        lambda t: reference.non_local_response(t.x, t.theta, t.phi, t.g, t.mode),
        "explicit", numpy=True, agrees="response",
    ),
)


# --- shift: against x.clone(), the floor for any op that writes a new tensor of the same size --


def _shift_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    (x,) = _tensors((p.batch, p.channels, p.size, p.size), device=device, dtype=dtype)
    (weight,) = _tensors((p.channels, 1, 3, 3), device=device, dtype=dtype)
    grouped = functional.shift_pattern(p.channels, 3, layout="grouped", device=device)
    return dict(x=x, weight=weight, grouped=grouped, fractional=grouped.to(x.dtype) + 0.5)


def _shift_costs(t: SimpleNamespace) -> dict[str, int]:
    return dict(
        none=0,  # a shift only moves values
        fractional=4 * t.x.numel(),  # four bilinear weights per value
        depthwise=t.batch * arith.conv_cost(t.channels, t.channels, 3, t.size, groups=t.channels).mult_adds,
    )


_SHIFT_ROWS = (
    Row("x.clone() (memory floor)", lambda t: t.x.clone(), "none"),
    # ShiftNet's pattern from its parameters: one strided copy (what nn.Shift2d runs)
    Row(
        "convref.functional.pattern_shift2d (grouped)",
        lambda t: functional.pattern_shift2d(t.x, 3, 1, "grouped"), "none", agrees="grouped",
    ),
    Row("convref.functional.pattern_shift2d (interleaved)", lambda t: functional.pattern_shift2d(t.x, 3, 1, "interleaved"), "none"),
    # the general path, one gather, given the same grouped pattern as a table so that it must agree
    Row("convref.functional.shift2d (any table)", lambda t: functional.shift2d(t.x, t.grouped), "none", agrees="grouped"),
    Row("convref.functional.shift2d (fractional)", lambda t: functional.shift2d(t.x, t.fractional), "fractional"),
    Row("torch conv2d 3x3 depthwise", lambda t: F.conv2d(t.x, t.weight, padding=1, groups=t.channels), "depthwise"),
    Row("convref.reference.shift2d (NumPy)", lambda t: reference.shift2d(t.x, t.grouped), "none", numpy=True, agrees="grouped"),
)


# --- deformable: a modulated 3x3 layer (offsets given) against conv2d of the same shape -------


def torchvision_deform_conv2d() -> Optional[Callable[..., torch.Tensor]]:
    """``torchvision.ops.deform_conv2d`` when torchvision (with its compiled ops) can be imported, else None.

    Returns
    -------
    callable or None
        ``deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask)``, which
        maps ``(N, C_in, H, W)`` to ``(N, C_out, H_out, W_out)``.
    """
    try:
        from torchvision.ops import deform_conv2d  # inside: torchvision is optional (the GPU image has it)
    except (ImportError, OSError, RuntimeError):  # not installed, or built for another torch
        return None
    return deform_conv2d


def _deformable_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    taps, generator = 9, torch.Generator().manual_seed(0)
    x, weight, bias = _tensors(
        (p.batch, p.channels, p.size, p.size), (p.channels, p.channels, 3, 3), (p.channels,), device=device, dtype=dtype
    )
    offset = (torch.rand(p.batch, 2 * taps, p.size, p.size, generator=generator) * 4 - 2).to(device, dtype)  # within 2 pixels
    mask = torch.rand(p.batch, taps, p.size, p.size, generator=generator).to(device, dtype)
    return dict(x=x, weight=weight / (9 * p.channels) ** 0.5, bias=bias, offset=offset, mask=mask)


def _deformable_costs(t: SimpleNamespace) -> dict[str, int]:
    cost = arith.deform_conv_cost(t.channels, t.channels, 3, t.size, modulated=True)
    return dict(conv=t.batch * cost["conv"].mult_adds, deform=t.batch * (cost["conv"].mult_adds + cost["sampling"].mult_adds))


_DEFORM_INPUTS = ("x", "offset", "weight", "bias", "mask")


def _deformable_rows(p: SimpleNamespace) -> tuple[Row, ...]:
    """The rows, with torchvision's op among them where torchvision can be imported."""
    implementations = [
        Row("torch conv2d 3x3", lambda t: F.conv2d(t.x, t.weight, t.bias, padding=1), "conv", grad_inputs=("x", "weight", "bias"))
    ]
    torchvision_op = torchvision_deform_conv2d()
    if torchvision_op is not None:
        implementations.append(
            Row(
                "torchvision.ops.deform_conv2d",
                lambda t: torchvision_op(t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask),
                "deform", grad_inputs=_DEFORM_INPUTS, agrees="deform",
            )
        )
    implementations.append(
        Row(
            "convref.functional.deform_conv2d",
            lambda t: functional.deform_conv2d(t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask),
            "deform", grad_inputs=_DEFORM_INPUTS, agrees="deform",
        )
    )
    reference_row = Row(
        "convref.reference.deform_conv2d (NumPy, forward)",
        lambda t: reference.deform_conv2d(t.x, t.offset, t.weight, t.bias, 1, 1, 1, t.mask),
        "deform", numpy=True, agrees="deform",
    )
    return (*with_backward(*implementations), reference_row)


# --- adder: AdderNet's layer against the authors' unfold-broadcast-sum --------------------------


def _adder_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    x, weight = _tensors((p.batch, p.channels, p.size, p.size), (p.channels, p.channels, 3, 3), device=device, dtype=dtype)
    return dict(x=x, weight=weight)


def _adder_costs(t: SimpleNamespace) -> dict[str, int]:
    # subtract-and-accumulate pairs, as many as the convolution's multiply-adds
    return dict(layer=t.batch * arith.conv_cost(t.channels, t.channels, 3, t.size).mult_adds)


_ADDER_ROWS = (
    *with_backward(
        Row(
            "unfold-broadcast-sum (authors' code)",
            lambda t: broadcast_adder2d(t.x, t.weight, padding=1), "layer", grad_inputs=("x", "weight"), agrees="adder",
        ),
        Row(
            "convref.functional.adder2d",
            lambda t: functional.adder2d(t.x, t.weight, padding=1), "layer", grad_inputs=("x", "weight"), agrees="adder",
        ),
    ),
    Row("torch conv2d 3x3 (forward)", lambda t: F.conv2d(t.x, t.weight, padding=1), "layer"),
    Row(
        "convref.reference.adder2d (NumPy, forward)",
        lambda t: reference.adder2d(t.x, t.weight, padding=1), "layer", numpy=True, agrees="adder",
    ),
)


# --- dynamic: K kernels mixed per sample, batched into one grouped conv or looped ------------


def _dynamic_setup(p: SimpleNamespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    c = p.channels
    x, weight, bias = _tensors((p.batch, c, p.size, p.size), (c, c, 3, 3), (c,), device=device, dtype=dtype)
    made = dict(x=x, weight=weight / (9 * c) ** 0.5, bias=bias)
    # the attention is given (random rows of a softmax): only the mixing and the convolution are timed
    generator = torch.Generator().manual_seed(1)
    for k in p.num_kernels:
        k = positive_int("num_kernels", k)
        made[f"weights_{k}"] = (torch.randn(k, c, c, 3, 3, generator=generator) / (9 * c) ** 0.5).to(device, dtype)
        made[f"biases_{k}"] = torch.randn(k, c, generator=generator).to(device, dtype)
        made[f"attention_{k}"] = torch.softmax(torch.randn(p.batch, k, generator=generator), dim=1).to(device, dtype)
    return made


def _dynamic_costs(t: SimpleNamespace) -> dict[str, int]:
    counts = dict(static=t.batch * arith.conv_cost(t.channels, t.channels, 3, t.size).mult_adds)
    for k in t.num_kernels:
        cost = arith.dynamic_conv_cost(t.channels, t.channels, 3, t.size, k)
        counts[f"K={k}"] = t.batch * (cost["conv"].mult_adds + cost["aggregation"].mult_adds)  # the mixing too
    return counts


def _mixture(t: SimpleNamespace, k: int) -> tuple[Any, Any, Any]:
    """The ``K = k`` kernels, attention and biases, in the order ``dynamic_conv2d`` takes them."""
    return getattr(t, f"weights_{k}"), getattr(t, f"attention_{k}"), getattr(t, f"biases_{k}")


def _dynamic_rows(p: SimpleNamespace) -> tuple[Row, ...]:
    """The static convolution, then for each ``K`` the batched and the looped dynamic convolution."""
    rows = [
        Row(
            "torch conv2d 3x3, static",
            lambda t: F.conv2d(t.x, t.weight, t.bias, padding=1), "static", grad_inputs=("x", "weight", "bias"),
        )
    ]
    for k in p.num_kernels:
        mixture = ("x", f"weights_{k}", f"attention_{k}", f"biases_{k}")
        rows += [
            Row(
                f"convref.functional.dynamic_conv2d, K={k}",
                lambda t, k=k: functional.dynamic_conv2d(t.x, *_mixture(t, k), padding=1),
                f"K={k}", grad_inputs=mixture, agrees=f"K={k}",
            ),
            Row(
                f"per-sample conv2d loop, K={k}",
                lambda t, k=k: per_sample_dynamic_conv2d(t.x, *_mixture(t, k), padding=1),
                f"K={k}", grad_inputs=mixture, agrees=f"K={k}",
            ),
        ]
    first = p.num_kernels[0]
    reference_row = Row(
        f"convref.reference.dynamic_conv2d, K={first} (NumPy, forward)",
        lambda t: reference.dynamic_conv2d(t.x, *_mixture(t, first), padding=1),
        f"K={first}", numpy=True, agrees=f"K={first}",
    )
    return (*with_backward(*rows), reference_row)


#: The benchmarks that ``python -m convref.bench`` knows, by name, in the order it runs them.
CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            name="conv2d",
            family="conv",
            summary="conv2d: PyTorch's (baseline), convref.functional's and the NumPy reference",
            params=dict(_SHAPE, kernel_size=3),
            setup=lambda p, device, dtype: _conv_setup(p, device, dtype, groups=1),
            costs=_conv_costs,
            rows=_CONV_ROWS,
        ),
        Case(
            name="grouped",
            family="grouped",
            summary="a grouped conv2d against PyTorch's with the same groups; the full conv last",
            params=dict(_SHAPE, kernel_size=3, groups=4),
            setup=lambda p, device, dtype: _conv_setup(p, device, dtype, groups=p.groups, full=True),
            costs=_conv_costs,
            rows=(*_CONV_ROWS, _FULL_ROW),
        ),
        Case(
            name="depthwise",
            family="grouped",
            summary="a depthwise conv2d (groups = channels) against PyTorch's; the full conv last",
            params=dict(_SHAPE, kernel_size=3),
            setup=lambda p, device, dtype: _conv_setup(p, device, dtype, groups=p.channels, full=True),
            costs=_conv_costs,
            rows=(*_CONV_ROWS, _FULL_ROW),
        ),
        Case(
            name="separable",
            family="separable",
            summary="k x 1 then 1 x k depthwise against PyTorch's k x k depthwise with the rank-1 kernels",
            params=dict(_SHAPE, kernel_size=7),
            setup=_separable_setup,
            costs=_separable_costs,
            rows=_SEPARABLE_ROWS,
        ),
        Case(
            name="dilated",
            family="dilated",
            summary="a dilated k x k conv: PyTorch's, a zero-filled kernel, space-to-batch",
            params=dict(_SHAPE, kernel_size=3, dilation=2),
            setup=_dilated_setup,
            costs=_dilated_costs,
            rows=_DILATED_ROWS,
        ),
        Case(
            name="transposed",
            family="transposed",
            summary="conv_transpose2d upsampling by the stride: PyTorch's, matmul + fold, a stuffed conv",
            params=dict(_SHAPE, kernel_size=4, stride=2),
            setup=_transposed_setup,
            costs=_transposed_costs,
            rows=_TRANSPOSED_ROWS,
        ),
        Case(
            name="non_local",
            family="non_local",
            summary="a non-local response against the stored H W x H W affinity A g, with memory",
            params=dict(batch=8, channels=256, size=28, mode="embedded_gaussian"),
            setup=_non_local_setup,
            costs=lambda t: dict(explicit=_non_local_mult_adds(t, None), implicit=_non_local_mult_adds(t, t.mode)),
            rows=_NON_LOCAL_ROWS,
            memory=True,
        ),
        Case(
            name="shift",
            family="shift",
            summary="ShiftNet's shift against x.clone() (the memory floor) and a depthwise 3x3 conv",
            params=dict(batch=32, channels=256, size=56),
            setup=_shift_setup,
            costs=_shift_costs,
            rows=_SHIFT_ROWS,
        ),
        Case(
            name="deformable",
            family="deformable",
            summary="a modulated 3x3 deformable conv (DCN v2, offsets given) against conv2d, with memory",
            params=dict(batch=8, channels=256, size=14),
            setup=_deformable_setup,
            costs=_deformable_costs,
            rows=_deformable_rows,
            memory=True,
        ),
        Case(
            name="adder",
            family="adder",
            summary="AdderNet's 3x3 layer against the authors' unfold-broadcast-sum, with memory",
            params=dict(batch=32, channels=16, size=32),
            setup=_adder_setup,
            costs=_adder_costs,
            rows=_ADDER_ROWS,
            memory=True,
        ),
        Case(
            name="dynamic",
            family="dynamic",
            summary="dynamic conv (K kernels mixed per sample), batched and looped, against a static conv",
            params=dict(batch=32, channels=256, size=14, num_kernels=(4, 8)),
            setup=_dynamic_setup,
            costs=_dynamic_costs,
            rows=_dynamic_rows,
        ),
    )
}


def get_case(name: str) -> Case:
    """The case called ``name`` in :data:`CASES`.

    Parameters
    ----------
    name : str
        One of ``CASES``' keys (``"conv2d"``, ``"shift"``, ...).

    Returns
    -------
    Case
        The case.

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.
    """
    if name not in CASES:
        raise ValueError(f"unknown benchmark case {name!r} (choose from {', '.join(CASES)})")
    return CASES[name]


def run_case(
    name: str,
    *,
    repeat: int = 10,
    device: Optional[str] = None,
    include_reference: bool = True,
    **params: Any,
) -> list[Timing]:
    """Time one case of :data:`CASES`: every row against the baseline, measured in the same run.

    ``run_case("shift", batch=8, channels=64, size=28, repeat=20, include_reference=False)``
    times ShiftNet's shift against ``x.clone()`` on an input ``(8, 64, 28, 28)``.

    Parameters
    ----------
    name : str
        The case: ``conv2d``, ``grouped``, ``depthwise``, ``separable``, ``dilated``,
        ``transposed``, ``non_local``, ``shift``, ``deformable``, ``adder`` or ``dynamic``.
    repeat : int
        Timed runs per row; the median is reported.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; by default CUDA when it is available, else the CPU.
    include_reference : bool
        Whether to time the NumPy reference too (slow at large sizes).
    **params
        The case's parameters to change from their defaults (``CASES[name].params``): every
        case takes ``batch``, ``channels`` and ``size`` (the input is
        ``(batch, channels, size, size)``); some take ``kernel_size``, ``groups``, ``dilation``,
        ``stride``, ``mode`` or ``num_kernels``.

    Returns
    -------
    list of Timing
        One row per implementation, the baseline first; ratios are relative to it.
    """
    return measure(get_case(name), repeat=repeat, device=device, include_reference=include_reference, **params)
