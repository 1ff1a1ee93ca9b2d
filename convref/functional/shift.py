"""PyTorch shift operation: same names, arguments and convention as :mod:`convref.reference.shift`.

Two ways to move the channels, both without reading the offsets back to Python (no device
sync, nothing for ``torch.compile`` to break the graph on):

* any ``(C, 2)`` table (:func:`shift2d`): zero-pad by one pixel, then one ``gather`` whose
  index sends every read from outside the image to the zero border;
* ShiftNet's pattern, known from Python ints (:func:`pattern_shift2d`, used by
  :class:`convref.nn.Shift2d`): one strided copy of all shifted planes and a few border
  fills -- about the memory traffic of ``x.clone()``.

The backward pass of an integer shift is the opposite shift. A fractional shift is the
bilinear blend of four integer shifts -- one gather into a map one pixel larger, then a
``2 x 2`` depthwise convolution with the bilinear weights -- which makes the gradient with
respect to the offsets the difference of neighbouring shifted maps.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .._checks import check_array, check_shift_args, check_shift_pattern_args
from ..reference.shift import shift_pattern as _numpy_shift_pattern
from ._precision import float32_under_autocast
from ._tracing import compiling


def shift_pattern(
    channels: int,
    kernel_size: int = 3,
    dilation: int = 1,
    layout: str = "grouped",
    device: Optional[torch.device] = None,
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
    return torch.as_tensor(
        _numpy_shift_pattern(channels, kernel_size, dilation, layout), device=device
    )


# ---------------------------------------------------------------------------
# Any table: one gather
# ---------------------------------------------------------------------------


def _gather_shift(
    x: torch.Tensor, shifts: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """Integer shift by any ``(C, 2)`` int64 table into an ``(N, C, height, width)`` output: pad, then one gather.

    Output pixel ``(h, w)`` reads ``x[h - dy, w - dx]``; a read from outside ``x`` is sent to
    the one-pixel border of zeros padded all round, so no mask and no per-offset work is
    needed. The output may be larger than ``x`` (the fractional shift reads an extra row and
    column); the adjoint of a shift into ``(height, width)`` is the opposite shift back into
    ``x``'s size.
    """
    batch, channels, in_height, in_width = x.shape
    # moves past the image are all alike; clamping first also keeps the index arithmetic
    # from overflowing
    dy, dx = (
        shifts[:, 0].clamp(-in_height, height),
        shifts[:, 1].clamp(-in_width, width),
    )
    rows = (torch.arange(height, device=x.device) - dy[:, None]).clamp(
        -1, in_height
    ) + 1  # (C, height) in the padded plane
    cols = (torch.arange(width, device=x.device) - dx[:, None]).clamp(
        -1, in_width
    ) + 1  # (C, width)
    index = (rows[:, :, None] * (in_width + 2) + cols[:, None, :]).view(
        1, channels, height * width
    )
    padded = F.pad(x, (1, 1, 1, 1)).flatten(2)  # (N, C, (H + 2)(W + 2))
    return padded.gather(2, index.expand(batch, -1, -1)).view(
        batch, channels, height, width
    )


class _TableShift(torch.autograd.Function):
    """Integer shift by a table; its backward is the opposite shift (the adjoint), not a scatter-add."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, shifts: torch.Tensor, height: int, width: int
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(shifts)
        ctx.input_size = (x.shape[2], x.shape[3])
        return _gather_shift(x, shifts, height, width)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (shifts,) = ctx.saved_tensors
        # itself differentiable: double backward works
        return _TableShift.apply(grad, -shifts, *ctx.input_size), None, None, None


# ---------------------------------------------------------------------------
# ShiftNet's pattern: one strided copy
# ---------------------------------------------------------------------------


class _Lattice(NamedTuple):
    """How to move ShiftNet's pattern (times ``sign``) for one input shape; see :func:`_lattice_plan`."""

    shifted: int  # the first k**2 g channels move; the rest (fewer than k**2) stay
    grid: tuple[int, int, int]  # the shifted channels as three axes, in memory order
    source_strides: tuple[
        int, ...
    ]  # strides of the (N, *grid, H W) view of x that the output planes read
    first: int  # where, relative to its image, the source view of an image starts
    bulk: tuple[int, int]  # images [start, stop) whose source view stays inside x
    edges: tuple[
        tuple[int, int, int], ...
    ]  # the other images, each with the zeros to pad before and after it
    fills: tuple[
        tuple[tuple[int, ...], tuple[int, ...], int], ...
    ]  # bands of rows or columns to clear: sizes, strides, offset in out


@functools.lru_cache(
    maxsize=64
)  # a few (shape, pattern) pairs per model; a plan is a few hundred bytes
def _lattice_plan(
    shape: tuple[int, int, int, int],
    kernel_size: int,
    dilation: int,
    layout: str,
    sign: int,
) -> _Lattice:
    """The one strided copy that moves all shifted planes of an input of ``shape``.

    The first ``k**2 g`` channels are indexed by ``(a, b, j)``: direction row ``a``, direction
    column ``b``, member ``j`` of the direction's ``g`` channels (in that order when grouped,
    as ``(j, a, b)`` when interleaved). On the flattened ``H W`` plane a move by
    ``(dy, dx) = sign d (a - r, b - r)`` reads ``dy W + dx`` elements earlier, which is affine in
    ``(a, b)``: the source of every output plane is one strided view of ``x`` (stride of ``a``
    lowered by ``sign d W``, of ``b`` by ``sign d``). What that flat copy brings in from the
    neighbouring row or plane lands only in the rows and columns a shift must zero, which the
    ``fills`` clear. Computing this in Python costs some 30 us, a tenth of the copy itself at
    ``(32, 256, 14, 14)``, hence the cache; keyed on ints only, so a model with several shift
    layers keeps every plan.
    """
    batch, channels, height, width = shape
    plane, image = height * width, channels * height * width
    per_direction, radius, step = (
        channels // kernel_size**2,
        kernel_size // 2,
        sign * dilation,
    )
    grid = (
        (kernel_size, kernel_size, per_direction)
        if layout == "grouped"
        else (per_direction, kernel_size, kernel_size)
    )
    axis_a, axis_b = (0, 1) if layout == "grouped" else (1, 2)
    out_strides = (
        image,
        grid[1] * grid[2] * plane,
        grid[2] * plane,
        plane,
        width,
        1,
    )  # of the (N, *grid, H, W) output
    strides = list(out_strides[1:4])
    strides[axis_a] -= step * width
    strides[axis_b] -= step
    first = (
        step * radius * (width + 1)
    )  # direction (0, 0) moves by -step r (1, 1): it reads that much later
    lowest = first + sum(min(0, s * (n - 1)) for s, n in zip(strides, grid))
    highest = (
        first + sum(max(0, s * (n - 1)) for s, n in zip(strides, grid)) + plane - 1
    )
    # every move is smaller than a plane, so only the first and the last image can read
    # outside x
    start, stop = (0 if lowest >= 0 else 1), (batch if highest < image else batch - 1)
    outside = sorted({0, batch - 1} - set(range(start, stop)))
    edges = tuple((n, max(0, -lowest), max(0, highest - image + 1)) for n in outside)
    # direction row (column) `index`, moved by `move`, clears its first (last) |move|
    # rows (columns)
    fills = []
    for index in range(kernel_size):
        move = step * (index - radius)
        for axis, spatial in (
            (axis_a + 1, 4),
            (axis_b + 1, 5),
        ):  # dimensions of the (N, *grid, H, W) output
            if move:
                sizes = [batch, *grid, height, width]
                first_line = 0 if move > 0 else sizes[spatial] + move
                sizes[axis], sizes[spatial] = 1, abs(move)
                fills.append(
                    (
                        tuple(sizes),
                        out_strides,
                        index * out_strides[axis] + first_line * out_strides[spatial],
                    )
                )
    shifted = kernel_size**2 * per_direction
    return _Lattice(
        shifted,
        grid,
        (image, *strides, 1),
        first,
        (start, max(start, stop)),
        edges,
        tuple(fills),
    )


def _lattice_shift(
    x: torch.Tensor, kernel_size: int, dilation: int, layout: str, sign: int
) -> torch.Tensor:
    """Shift ``x`` by ``sign`` times ShiftNet's pattern: one strided copy, then clear the borders.

    An image whose source view would reach outside ``x`` (the first and the last, for the
    negated pattern of the backward pass) reads from a copy of itself padded with zeros.
    """
    x = x.contiguous()
    batch, channels, height, width = x.shape
    plan = _lattice_plan(tuple(x.shape), kernel_size, dilation, layout, sign)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    target = out.narrow(1, 0, plan.shifted).view(batch, *plan.grid, height * width)
    image = target.shape[1:]
    start, stop = plan.bulk
    # as_strided keeps the storage offset of the tensor it views: slice to the first
    # read, then view
    if start < stop:
        source = x.view(-1)[start * plan.source_strides[0] + plan.first :]
        target[start:stop] = source.as_strided(
            (stop - start, *image), plan.source_strides
        )
    for n, before, after in plan.edges:
        source = F.pad(x[n].reshape(-1), (before, after))[before + plan.first :]
        target[n : n + 1] = source.as_strided((1, *image), plan.source_strides)
    for sizes, strides, offset in plan.fills:  # out is new, so its storage offset is 0
        out.as_strided(sizes, strides, offset).zero_()
    if plan.shifted < channels:  # the leftover channels are not shifted
        rest = channels - plan.shifted
        out.narrow(1, plan.shifted, rest).copy_(x.narrow(1, plan.shifted, rest))
    return out


class _PatternShift(torch.autograd.Function):
    """Shift by ``sign`` times ShiftNet's pattern; its backward is the shift by the negated pattern."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, kernel_size: int, dilation: int, layout: str, sign: int
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.pattern = (kernel_size, dilation, layout, -sign)
        return _lattice_shift(x, kernel_size, dilation, layout, sign)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return _PatternShift.apply(grad, *ctx.pattern), None, None, None, None


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


@float32_under_autocast
def shift2d(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    r"""Shift every channel by its own offset: :math:`y[n, c, h, w] = x[n, c, h - \Delta y_c, w - \Delta x_c]`.

    PyTorch version of :func:`convref.reference.shift2d`. Integer ``shifts`` move memory with
    one gather from a zero-padded copy (no ``torch.roll``, which would wrap around; no loop
    over channels or offsets); the backward pass is the opposite shift. Floating ``shifts``
    interpolate bilinearly,

    .. math::

        y = \sum_{i, j \in \{0, 1\}} w_i(a_y)\, w_j(a_x)\; S_{\lfloor \Delta \rfloor + (i, j)}(x),
        \qquad w_0(a) = 1 - a,\; w_1(a) = a

    with :math:`a` the fractional part of the offset and :math:`S` the integer shift, so the
    result is differentiable with respect to the offsets (the active shift layer). It is
    computed as one integer shift by :math:`\lfloor \Delta \rfloor + (1, 1)` into an
    ``(H + 1) x (W + 1)`` map, whose ``2 x 2`` windows hold the four corners, followed by a
    ``2 x 2`` depthwise convolution with the weights as taps. For ShiftNet's pattern,
    :func:`convref.functional.pattern_shift2d` gives the integer result about as fast as a copy.

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
    height, width = x.shape[2], x.shape[3]
    if not shifts.is_floating_point():
        return _TableShift.apply(x, shifts.to(x.device, torch.long), height, width)
    if (
        height == 0 or width == 0
    ):  # nothing to blend, and conv2d refuses a map smaller than its kernel
        return x.clone()
    shifts = shifts.to(x.device)
    floor = shifts.detach().floor()
    fraction = (
        shifts - floor
    )  # (C, 2); carries the gradient with respect to the offsets
    # past the image every corner reads zeros; clamping keeps the float-to-int
    # conversion defined
    limit = max(height, width) + 2
    # corner (i, j) of pixel (h, w) is pixel (h + 1 - i, w + 1 - j) of one integer shift
    # by floor + 1 ...
    corners = _TableShift.apply(
        x, floor.clamp(-limit, limit).long() + 1, height + 1, width + 1
    )
    # ... so the blend is a 2 x 2 depthwise convolution whose tap (1 - i, 1 - j) is
    # w_i(a_y) w_j(a_x)
    w_y = torch.stack(
        [fraction[:, 0], 1 - fraction[:, 0]], dim=1
    )  # (C, 2): w_1(a_y), w_0(a_y)
    w_x = torch.stack([fraction[:, 1], 1 - fraction[:, 1]], dim=1)
    taps = (w_y[:, :, None] * w_x[:, None, :])[:, None]  # (C, 1, 2, 2)
    return F.conv2d(corners, taps, groups=x.shape[1])


def pattern_shift2d(
    x: torch.Tensor, kernel_size: int = 3, dilation: int = 1, layout: str = "grouped"
) -> torch.Tensor:
    """Shift ``x`` by ShiftNet's pattern: ``shift2d(x, shift_pattern(C, kernel_size, dilation, layout))``, as one copy.

    The pattern is given by its parameters, not a table, so the fast path is chosen from
    Python ints: all shifted planes move with one strided copy and ``2 (k - 1)`` border fills,
    about the memory traffic of ``x.clone()``, forward and backward (the negated pattern).
    A pattern whose largest move is as large as the image, and any call that
    ``torch.compile`` or an exporter traces, goes through :func:`shift2d`.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    kernel_size : int
        Odd ``k``: the ``k * k`` directions, as in :func:`shift_pattern`.
    dilation : int
        Step between directions.
    layout : {"grouped", "interleaved"}
        How the directions are assigned to channels.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``, contiguous.
    """
    check_array("x", x, torch.Tensor, 4, "(N, C, H, W)")
    channels, kernel_size, dilation = check_shift_pattern_args(
        int(x.shape[1]), kernel_size, dilation, layout
    )
    if (
        channels < kernel_size**2
        or (kernel_size // 2) * dilation >= min(x.shape[2], x.shape[3])
        or x.numel() == 0
        or compiling()
    ):
        # nothing to move as a lattice, or a move the lattice's border fills cannot
        # clear; or a trace, whose graph would be fixed to the lattice's batch size (and
        # exporters have no rule for its strided copies): the gather fuses as well
        return shift2d(
            x, shift_pattern(channels, kernel_size, dilation, layout, device=x.device)
        )
    return _PatternShift.apply(x, kernel_size, dilation, layout, 1)
