"""The table of benchmark cases: for each operator, its inputs, its multiply-adds and its rows.

Each :class:`~convref.bench.harness.Case` names its family, its parameters with their
defaults, a ``setup`` that makes the inputs, a ``costs`` function that counts the
multiply-adds of each row's formulation, and its rows, the baseline first: PyTorch's own
op, the authors' formulation (:mod:`convref.bench.baselines`) or the memory floor. Adding
an operator means adding a case to :data:`CASES`, not writing a new benchmark function.
Multiply-adds of a forward + backward row count three times the forward's.
"""

from __future__ import annotations

from typing import Any, Optional


from .conv_rows import (
    CONV_ROWS,
    DILATED_ROWS,
    FULL_ROW,
    LAYER_ROWS,
    SEPARABLE_ROWS,
    TRANSPOSED_ROWS,
    conv_costs,
    conv_setup,
    dilated_costs,
    dilated_setup,
    layer_costs,
    layer_setup,
    separable_costs,
    separable_setup,
    transposed_costs,
    transposed_setup,
)
from .harness import Case, Timing, measure
from .operator_rows import (
    ADDER_ROWS,
    LIGHTWEIGHT_ROWS,
    NON_LOCAL_ROWS,
    SHIFT_ROWS,
    adder_costs,
    adder_setup,
    deformable_costs,
    deformable_rows,
    deformable_setup,
    dynamic_costs,
    dynamic_rows,
    dynamic_setup,
    lightweight_costs,
    lightweight_setup,
    non_local_mult_adds,
    non_local_setup,
    shift_costs,
    shift_setup,
    torchvision_deform_conv2d,
)

__all__ = ["CASES", "get_case", "run_case", "torchvision_deform_conv2d"]


# the input shape of the convolution cases, the same as the command line's defaults
_SHAPE = dict(batch=8, channels=32, size=32)

#: The benchmarks that ``python -m convref.bench`` knows, by name, in the order it runs
#: them.
CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            name="conv2d",
            family="conv",
            summary="conv2d: PyTorch's (baseline), convref.functional's and the NumPy reference",
            params=dict(_SHAPE, kernel_size=3),
            setup=lambda p, device, dtype: conv_setup(p, device, dtype, groups=1),
            costs=conv_costs,
            rows=CONV_ROWS,
        ),
        Case(
            name="grouped",
            family="grouped",
            summary="a grouped conv2d against PyTorch's with the same groups; the full conv last",
            params=dict(_SHAPE, kernel_size=3, groups=4),
            setup=lambda p, device, dtype: conv_setup(
                p, device, dtype, groups=p.groups, full=True
            ),
            costs=conv_costs,
            rows=(*CONV_ROWS, FULL_ROW),
        ),
        Case(
            name="depthwise",
            family="grouped",
            summary="a depthwise conv2d (groups = channels) against PyTorch's; the full conv last",
            params=dict(_SHAPE, kernel_size=3),
            setup=lambda p, device, dtype: conv_setup(
                p, device, dtype, groups=p.channels, full=True
            ),
            costs=conv_costs,
            rows=(*CONV_ROWS, FULL_ROW),
        ),
        Case(
            name="separable",
            family="separable",
            summary="k x 1 then 1 x k depthwise against PyTorch's k x k depthwise with the rank-1 kernels",
            params=dict(_SHAPE, kernel_size=7),
            setup=separable_setup,
            costs=separable_costs,
            rows=SEPARABLE_ROWS,
        ),
        Case(
            name="dilated",
            family="dilated",
            summary="a dilated k x k conv: PyTorch's, a zero-filled kernel, space-to-batch",
            params=dict(_SHAPE, kernel_size=3, dilation=2),
            setup=dilated_setup,
            costs=dilated_costs,
            rows=DILATED_ROWS,
        ),
        Case(
            name="transposed",
            family="transposed",
            summary="conv_transpose2d upsampling by the stride: PyTorch's, matmul + fold, a stuffed conv",
            params=dict(_SHAPE, kernel_size=4, stride=2),
            setup=transposed_setup,
            costs=transposed_costs,
            rows=TRANSPOSED_ROWS,
        ),
        Case(
            name="layers",
            family="conv",
            summary="convref.nn's Conv2d (full, depthwise) and ConvTranspose2d against "
            "torch.nn's, same weights, forward and backward",
            params=dict(_SHAPE),
            setup=layer_setup,
            costs=layer_costs,
            rows=LAYER_ROWS,
        ),
        Case(
            name="non_local",
            family="non_local",
            summary="a non-local response against the stored H W x H W affinity A g, with memory",
            params=dict(batch=8, channels=256, size=28, mode="embedded_gaussian"),
            setup=non_local_setup,
            costs=lambda t: dict(
                explicit=non_local_mult_adds(t, None),
                implicit=non_local_mult_adds(t, t.mode),
            ),
            rows=NON_LOCAL_ROWS,
            memory=True,
        ),
        Case(
            name="shift",
            family="shift",
            summary="ShiftNet's shift against x.clone() (the memory floor) and a depthwise 3x3 conv",
            params=dict(batch=32, channels=256, size=56),
            setup=shift_setup,
            costs=shift_costs,
            rows=SHIFT_ROWS,
        ),
        Case(
            name="deformable",
            family="deformable",
            summary="a modulated 3x3 deformable conv (DCN v2, offsets given) against conv2d, with memory",
            params=dict(batch=8, channels=256, size=14),
            setup=deformable_setup,
            costs=deformable_costs,
            rows=deformable_rows,
            memory=True,
        ),
        Case(
            name="deformable_depthwise",
            family="deformable",
            summary="a depthwise (groups = channels) modulated deformable conv against "
            "depthwise conv2d, with memory",
            params=dict(batch=8, channels=64, size=32),
            setup=lambda p, device, dtype: deformable_setup(
                p, device, dtype, groups=p.channels
            ),
            costs=deformable_costs,
            rows=lambda p: deformable_rows(p, depthwise=True),
            memory=True,
        ),
        Case(
            name="adder",
            family="adder",
            summary="AdderNet's 3x3 layer against the authors' unfold-broadcast-sum, with memory",
            params=dict(batch=32, channels=16, size=32),
            setup=adder_setup,
            costs=adder_costs,
            rows=ADDER_ROWS,
            memory=True,
        ),
        Case(
            name="dynamic",
            family="dynamic",
            summary="dynamic conv (K kernels mixed per sample), batched and looped, against a static conv",
            params=dict(batch=32, channels=256, size=14, num_kernels=(4, 8)),
            setup=dynamic_setup,
            costs=dynamic_costs,
            rows=dynamic_rows,
        ),
        Case(
            name="lightweight",
            family="lightweight",
            summary="LightConv and DynamicConv on (N, C, T = size) against depthwise conv1d, "
            "fairseq's band matrix and self-attention, with memory",
            params=dict(batch=8, channels=512, size=512, kernel_size=31, heads=4),
            setup=lightweight_setup,
            costs=lightweight_costs,
            rows=LIGHTWEIGHT_ROWS,
            memory=True,
            extent="T={size}",
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
        raise ValueError(
            f"unknown benchmark case {name!r} (choose from {', '.join(CASES)})"
        )
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
    return measure(
        get_case(name),
        repeat=repeat,
        device=device,
        include_reference=include_reference,
        **params,
    )
