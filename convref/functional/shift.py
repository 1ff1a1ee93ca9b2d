"""PyTorch shift operation: same names, arguments and convention as :mod:`convref.reference.shift`.

An integer shift is a copy: channels that share an offset are moved together (a strided view
when the channels are evenly spaced, as both ShiftNet layouts are), each ``H x W`` plane as one
contiguous block, and only the uncovered border is zeroed -- about the memory traffic of
``x.clone()``. A fractional shift is the bilinear blend of four integer shifts, which makes
the gradient with respect to the offsets the difference of neighbouring shifted maps.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """ShiftNet's per-channel offsets as a ``(C, 2)`` ``torch.long`` tensor; see :func:`convref.reference.shift_pattern`.

    Parameters
    ----------
    channels : int
        Number of channels ``C``.
    kernel_size : int
        Odd ``k``: the ``k * k`` directions of a ``k x k`` kernel.
    dilation : int
        Step between directions.
    layout : {"grouped", "interleaved"}
        Directions in contiguous channel groups, or channel ``c`` takes direction ``c mod k**2``.
    device : torch.device, optional
        Where the table is created.

    Returns
    -------
    torch.Tensor
        ``(C, 2)`` int64: ``(dy, dx)`` per channel; the ``C - k**2 (C // k**2)`` leftover channels are ``(0, 0)``.
    """
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


@dataclass(frozen=True)
class ShiftNetLattice:
    """A ShiftNet table (:func:`shift_pattern`, or its negation for the backward pass) as a grid.

    The first ``k**2 g`` channels are indexed by ``(a, b, j)``: direction row ``a``, direction
    column ``b`` and member ``j`` of the direction's ``g`` channels. Both the channel and the
    offset ``sign * ((a - r) d, (b - r) d)`` are affine in ``(a, b, j)``, so the source of
    every shifted plane is one strided view of ``x`` and all of them move in a single copy.
    The remaining channels are not shifted.
    """

    kernel_size: int
    dilation: int
    layout: str
    sign: int
    per_direction: int

    @property
    def shifted_channels(self) -> int:
        return self.kernel_size**2 * self.per_direction

    def axes(self) -> tuple[int, int]:
        """Positions of ``a`` and ``b`` in the ``(N, ., ., ., H, W)`` view of the shifted channels."""
        return (1, 2) if self.layout == "grouped" else (2, 3)

    def grid(self) -> tuple[int, int, int]:
        """Sizes of the three channel axes, in memory order."""
        k, g = self.kernel_size, self.per_direction
        return (k, k, g) if self.layout == "grouped" else (g, k, k)

    def grid_strides(self, plane: int) -> list[int]:
        """Strides of the three channel axes in a contiguous tensor whose planes hold ``plane`` elements."""
        _, middle, last = self.grid()
        return [middle * last * plane, last * plane, plane]

    def offset(self, index: int) -> int:
        """Offset, along one axis, of direction row (or column) ``index``."""
        return self.sign * (index - self.kernel_size // 2) * self.dilation


def _find_lattice(shifts: torch.Tensor) -> Optional[ShiftNetLattice]:
    """The ShiftNet pattern that ``shifts`` (an integer ``(C, 2)`` table) is, if it is one."""
    largest = int(shifts.abs().max()) if shifts.numel() else 0
    if largest == 0:
        return None
    dilation = int(shifts[shifts != 0].abs().min())
    if largest % dilation:
        return None
    kernel_size, channels = 2 * (largest // dilation) + 1, shifts.shape[0]
    if channels < kernel_size**2:
        return None
    for layout in ("grouped", "interleaved"):
        pattern = torch.as_tensor(_numpy_shift_pattern(channels, kernel_size, dilation, layout), device=shifts.device)
        for sign in (1, -1):
            if torch.equal(shifts, sign * pattern):
                return ShiftNetLattice(kernel_size, dilation, layout, sign, channels // kernel_size**2)
    return None


@dataclass(frozen=True)
class ShiftPlan:
    """How to move one offset table: channels grouped by offset, and the lattice if it is ShiftNet's."""

    offsets: OffsetPlan
    lattice: Optional[ShiftNetLattice]


#: The plans of the last few offset tables (a layer's forward and backward tables, mostly).
_recent_plans: list[tuple[torch.Tensor, ShiftPlan]] = []
RECENT_PLANS = 8


def _offset_plan(shifts: torch.Tensor) -> ShiftPlan:
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
    offsets = {offset: (members, _channel_runs(members)) for offset, members in channels.items()}
    plan = ShiftPlan(offsets, _find_lattice(shifts))
    _recent_plans.insert(0, (shifts.clone(), plan))
    del _recent_plans[RECENT_PLANS:]
    return plan


def _lattice_strides(lattice: ShiftNetLattice, height: int, width: int) -> tuple[list[int], list[int], int]:
    """Strides of the shifted channels' ``(grid..., H W)`` view in the output and in the input, and the input's extra offset.

    A plane moved by ``(dy, dx)`` reads, on the flattened ``H W`` plane, ``dy W + dx`` elements
    earlier; ``a`` adds ``sign d`` rows to that and ``b`` adds ``sign d`` columns.
    """
    out_strides = [*lattice.grid_strides(height * width), 1]
    axis_a, axis_b = (axis - 1 for axis in lattice.axes())
    step = lattice.sign * lattice.dilation
    in_strides = list(out_strides)
    in_strides[axis_a] -= step * width
    in_strides[axis_b] -= step
    first = -(lattice.offset(0) * width + lattice.offset(0))  # the read offset of direction (0, 0)
    return out_strides, in_strides, first


def _border_regions(lattice: ShiftNetLattice, shape: torch.Size) -> list[tuple[tuple[int, ...], tuple[int, ...], int]]:
    """The rows and columns to clear after the lattice copy, as ``(sizes, strides, offset)`` views of the output.

    Direction rows ``i`` and ``k - 1 - i`` move by the same amount in opposite directions, so
    the first ``m`` rows of one and the last ``m`` rows of the other have the same shape: one
    view with a two-element axis covers both, and one fill clears them (likewise columns).
    Four fills instead of ``2 (k - 1)`` matter at 14 x 14, where each op costs as much as
    moving a sixth of the data.
    """
    batch, channels, height, width = shape
    sizes = [batch, *lattice.grid(), height, width]
    strides = [channels * height * width, *lattice.grid_strides(height * width), width, 1]
    regions = []
    for axis, spatial in zip(lattice.axes(), (4, 5)):
        extent = sizes[spatial]
        for index in range(lattice.kernel_size // 2):
            move = abs(lattice.offset(index))
            if move == 0:
                continue
            # the index moving forward clears its first `move` lines, the other its last
            forward, backward = (index, lattice.kernel_size - 1 - index)[:: 1 if lattice.offset(index) > 0 else -1]
            first = forward * strides[axis]
            second = backward * strides[axis] + (extent - move) * strides[spatial]
            region_sizes, region_strides = list(sizes), list(strides)
            region_sizes[axis], region_strides[axis] = 2, abs(second - first)
            region_sizes[spatial] = move
            regions.append((tuple(region_sizes), tuple(region_strides), min(first, second)))
    return regions


def _shift_by_lattice(x: torch.Tensor, plan: ShiftPlan) -> Optional[torch.Tensor]:
    """Integer shift of a ShiftNet table: one strided copy of all shifted planes, then clear the borders.

    The copy moves whole flattened planes, so what it brings in from the neighbouring row,
    plane or image lands only in rows and columns that must be zero, which a few strided
    fills clear afterwards. An image whose planes would read outside ``x`` (the first or
    last, for some tables) goes through the per-offset copies instead. Returns ``None`` when
    the lattice does not apply (offsets as large as the image).
    """
    lattice = plan.lattice
    batch, channels, height, width = x.shape
    if lattice.kernel_size // 2 * lattice.dilation >= min(height, width) or batch == 0:
        return None
    x = x.contiguous()
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    image, plane, shifted = channels * height * width, height * width, lattice.shifted_channels
    out_strides, in_strides, first = _lattice_strides(lattice, height, width)
    reach = sum(stride * (size - 1) for stride, size in zip(in_strides, (*lattice.grid(), plane)))
    inside = [0 <= n * image + first and n * image + first + reach < batch * image for n in (0, batch - 1)]
    start, stop = (0 if inside[0] else 1), (batch if inside[1] else batch - 1)
    if start < stop:
        sizes = (stop - start, *lattice.grid(), plane)
        target = out.as_strided(sizes, (image, *out_strides), out.storage_offset() + start * image)
        source = x.as_strided(sizes, (image, *in_strides), x.storage_offset() + start * image + first)
        target.copy_(source)
    for sizes, strides, offset in _border_regions(lattice, x.shape):
        out.as_strided(sizes, strides, out.storage_offset() + offset).zero_()
    if shifted < channels:
        out[:, shifted:] = x[:, shifted:]
    for n in {0, batch - 1} - set(range(start, stop)):
        out[n : n + 1] = _shift_by_slices(x[n : n + 1], plan.offsets)
    return out


def _integer_shift_forward(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    plan = _offset_plan(shifts)
    if plan.lattice is not None:
        out = _shift_by_lattice(x, plan)
        if out is not None:
            return out
    if len(plan.offsets) <= MAX_SLICED_OFFSETS:
        return _shift_by_slices(x, plan.offsets)
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
