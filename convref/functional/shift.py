"""PyTorch shift operation: same names, arguments and convention as :mod:`convref.reference.shift`.

An integer shift is a copy: channels that share an offset are moved together (a strided view
when the channels are evenly spaced, as both ShiftNet layouts are), each ``H x W`` plane as one
contiguous block, and only the uncovered border is zeroed -- about the memory traffic of
``x.clone()``. A fractional shift is the bilinear blend of four integer shifts, which makes
the gradient with respect to the offsets the difference of neighbouring shifted maps.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import check_shift_args, check_shift_pattern_args
from ..reference.shift import shift_pattern as _numpy_shift_pattern

#: Above this many distinct offsets, one gather replaces the per-offset slice copies.
MAX_SLICED_OFFSETS = 64


def shift_pattern(
    channels: int, kernel_size: int = 3, dilation: int = 1, layout: str = "grouped", device: Optional[torch.device] = None
) -> torch.Tensor:
    """ShiftNet's per-channel offsets as a ``(C, 2)`` ``torch.long`` tensor; see :func:`convref.reference.shift_pattern`."""
    check_shift_pattern_args(channels, kernel_size, dilation, layout)
    return torch.as_tensor(_numpy_shift_pattern(channels, kernel_size, dilation, layout), device=device)


#: Planes of at most this many pixels are zeroed first and then receive windowed copies.
MAX_SMALL_PLANE = 32 * 32

#: A distinct offset whose channels split into more evenly spaced runs than this is moved by
#: one indexed copy instead of a copy per run.
MAX_RUNS_PER_OFFSET = 4


def _channel_runs(channels: list[int]) -> list[slice]:
    """The (increasing) channel indices as maximal evenly spaced runs, each a slice."""
    runs, start = [], 0
    while start < len(channels):
        end = start + 1
        if end < len(channels):
            step = channels[end] - channels[start]
            while end < len(channels) and channels[end] - channels[end - 1] == step:
                end += 1
        else:
            step = 1
        runs.append(slice(channels[start], channels[end - 1] + 1, step))
        start = end
    return runs


def _span(offset: int, size: int) -> tuple[slice, slice]:
    """Destination and source ranges along one axis for a move by ``offset`` (empty past the edge)."""
    offset = max(-size, min(size, offset))
    if offset >= 0:
        return slice(offset, size), slice(0, size - offset)
    return slice(0, size + offset), slice(-offset, size)


def _move_planes(out: torch.Tensor, x: torch.Tensor, channels: slice, dy: int, dx: int) -> None:
    """Write the channels ``channels`` of ``x``, moved by ``(dy, dx)``, into ``out`` (both contiguous).

    On the flattened ``H W`` plane a move by ``(dy, dx)`` is a move by ``dy W + dx`` elements;
    adjacent channels (step 1) are one flat block per image, so the whole run moves with one
    long contiguous copy. What wraps around from the neighbouring row or plane lands in the
    rows and columns that must be zero anyway, and is cleared after the copy.
    """
    batch, height, width = x.shape[0], x.shape[2], x.shape[3]
    target = out[:, channels]
    if abs(dy) >= height or abs(dx) >= width:  # moved entirely out of the image
        target.zero_()
        return
    source = x[:, channels]
    if channels.step == 1:
        flat_out, flat_x = target.view(batch, -1), source.view(batch, -1)
    else:
        flat_out, flat_x = target.flatten(2), source.flatten(2)
    move, length = dy * width + dx, flat_out.shape[-1]
    if move >= 0:
        flat_out[..., move:] = flat_x[..., : length - move]
    else:
        flat_out[..., :move] = flat_x[..., -move:]
    if dy > 0:
        target[:, :, :dy] = 0
    elif dy < 0:
        target[:, :, height + dy :] = 0
    if dx > 0:
        target[:, :, :, :dx] = 0
    elif dx < 0:
        target[:, :, :, width + dx :] = 0


def _copy_window(out: torch.Tensor, x: torch.Tensor, channels: slice, dy: int, dx: int) -> None:
    """Write the part of ``x``'s channels ``channels`` that stays inside the image after the move into a zeroed ``out``."""
    rows_dst, rows_src = _span(dy, x.shape[2])
    cols_dst, cols_src = _span(dx, x.shape[3])
    out[:, channels, rows_dst, cols_dst] = x[:, channels, rows_src, cols_src]


def _shift_by_slices(x: torch.Tensor, plan: "OffsetPlan") -> torch.Tensor:
    """Integer shift, one copy per evenly spaced run of channels.

    Small planes: zero the output once, then copy each run's window (rows too short for the
    flat copy of :func:`_move_planes` to pay off, whose border clearing then costs as much as
    the copy). Larger planes: the flat copies, clearing only the borders.
    """
    x = x.contiguous()
    height, width = x.shape[2:]
    small = height * width <= MAX_SMALL_PLANE
    out = torch.zeros_like(x) if small else torch.empty_like(x, memory_format=torch.contiguous_format)
    move = _copy_window if small else _move_planes
    for (dy, dx), (channel_list, runs) in plan.items():
        if len(runs) <= MAX_RUNS_PER_OFFSET:
            for channels in runs:
                move(out, x, channels, dy, dx)
            continue
        # scattered channels: build their block, then write it with one indexed copy
        index = torch.tensor(channel_list, device=x.device)
        block = torch.zeros_like(x[:, index])
        rows_dst, rows_src = _span(dy, height)
        cols_dst, cols_src = _span(dx, width)
        block[:, :, rows_dst, cols_dst] = x[:, index][:, :, rows_src, cols_src]
        out[:, index] = block
    return out


def _shift_by_gather(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Integer shift for many distinct offsets: pad once, then one indexed gather."""
    height, width = x.shape[2:]
    pad_y, pad_x = (min(int(shifts[:, axis].abs().max()), size) for axis, size in ((0, height), (1, width)))
    padded = F.pad(x, (pad_x, pad_x, pad_y, pad_y))
    dy, dx = shifts[:, 0].clamp(-pad_y, pad_y), shifts[:, 1].clamp(-pad_x, pad_x)
    rows = torch.arange(height, device=x.device)[None, :] - dy[:, None] + pad_y  # (C, H)
    cols = torch.arange(width, device=x.device)[None, :] - dx[:, None] + pad_x  # (C, W)
    channels = torch.arange(x.shape[1], device=x.device)[:, None, None]
    return padded[:, channels, rows[:, :, None], cols[:, None, :]]


#: Per distinct offset ``(dy, dx)``: its channels, and the same as evenly spaced runs.
OffsetPlan = dict[tuple[int, int], tuple[list[int], list[slice]]]

#: The plans of the last few offset tables (a layer's forward and backward tables, mostly).
_recent_plans: list[tuple[torch.Tensor, OffsetPlan]] = []
RECENT_PLANS = 8


def _offset_plan(shifts: torch.Tensor) -> OffsetPlan:
    """Group the channels by offset, reusing the plan of an identical table seen recently.

    The grouping runs in plain Python, cheaper than tensor ops for a ``(C, 2)`` table, but at
    14 x 14 it still costs a fifth of a copy of the input; looking a table up by content
    (``torch.equal`` on ``C x 2`` integers) costs microseconds and cannot go stale.
    """
    for table, plan in _recent_plans:
        if table.shape == shifts.shape and table.device == shifts.device and torch.equal(table, shifts):
            return plan
    channels: dict[tuple[int, int], list[int]] = {}
    for channel, (dy, dx) in enumerate(shifts.tolist()):
        channels.setdefault((dy, dx), []).append(channel)
    plan = {offset: (members, _channel_runs(members)) for offset, members in channels.items()}
    _recent_plans.insert(0, (shifts.clone(), plan))
    del _recent_plans[RECENT_PLANS:]
    return plan


def _integer_shift_forward(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    plan = _offset_plan(shifts)
    if len(plan) <= MAX_SLICED_OFFSETS:
        return _shift_by_slices(x, plan)
    return _shift_by_gather(x, shifts)


class _IntegerShift(torch.autograd.Function):
    """An integer shift whose backward is the opposite shift (its adjoint), not autograd's slice bookkeeping."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(shifts)
        return _integer_shift_forward(x, shifts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (shifts,) = ctx.saved_tensors
        return _IntegerShift.apply(grad, -shifts), None  # itself differentiable: double backward works


def _integer_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    return _IntegerShift.apply(x, shifts)


def shift2d(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    r"""Shift every channel by its own offset: :math:`y[n, c, h, w] = x[n, c, h - \Delta y_c, w - \Delta x_c]`.

    PyTorch version of :func:`convref.reference.shift2d`. Integer ``shifts`` move memory once
    (no ``torch.roll``, which would wrap around; no loop over channels, only over distinct
    offsets); the backward pass is the opposite shift. Floating ``shifts`` interpolate
    bilinearly,

    .. math::

        y = \sum_{i, j \in \{0, 1\}} w_i(a_y)\, w_j(a_x)\; S_{\lfloor \Delta \rfloor + (i, j)}(x),
        \qquad w_0(a) = 1 - a,\; w_1(a) = a

    with :math:`a` the fractional part of the offset and :math:`S` the integer shift, so the
    result is differentiable with respect to the offsets (the active shift layer).

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    shifts : torch.Tensor
        ``(C, 2)``: ``(dy, dx)`` per channel; integer, or floating with ``x``'s dtype.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    check_shift_args(x, shifts, array_type=torch.Tensor)
    shifts = shifts.to(x.device)
    if not shifts.is_floating_point():
        return _integer_shift(x, shifts.long())
    floor = shifts.detach().floor()
    fraction = shifts - floor  # carries the gradient with respect to the offsets
    base = floor.long()
    a_y = fraction[:, 0].view(1, -1, 1, 1)
    a_x = fraction[:, 1].view(1, -1, 1, 1)
    out = 0
    for step_y, weight_y in ((0, 1 - a_y), (1, a_y)):
        for step_x, weight_x in ((0, 1 - a_x), (1, a_x)):
            corner = base + torch.tensor([step_y, step_x], device=x.device)
            out = out + weight_y * weight_x * _integer_shift(x, corner)
    return out
