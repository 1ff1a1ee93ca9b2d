"""PyTorch shift operation: same names, arguments and convention as :mod:`convref.reference.shift`.

An integer shift is a copy: channels that share an offset are moved together with one slice
assignment (a strided view when the channels are evenly spaced, as both ShiftNet layouts are)
into a zeroed output -- one pass more than ``x.clone()`` (the zeroing), and nothing else. A fractional shift is the bilinear blend of four integer shifts, which makes
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


def _channel_index(channels: torch.Tensor):
    """A slice when the (sorted) channel indices are evenly spaced, else the index tensor."""
    first = int(channels[0])
    if len(channels) == 1:
        return slice(first, first + 1)
    steps = channels[1:] - channels[:-1]
    step = int(steps[0])
    if bool((steps == step).all()):
        return slice(first, int(channels[-1]) + 1, step)
    return channels


def _span(offset: int, size: int) -> tuple[slice, slice]:
    """Destination and source ranges along one axis for a move by ``offset`` (empty past the edge)."""
    offset = max(-size, min(size, offset))
    if offset >= 0:
        return slice(offset, size), slice(0, size - offset)
    return slice(0, size + offset), slice(-offset, size)


def _shift_by_slices(x: torch.Tensor, offsets: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Integer shift, one slice copy per distinct offset into a zeroed output.

    Zeroing the whole output first is cheaper than zeroing each group's uncovered border:
    a border column touches every row of the tensor, so it costs a full pass by itself.
    """
    out = torch.zeros_like(x)
    height, width = x.shape[2:]
    for index, (dy, dx) in enumerate(offsets.tolist()):
        channels = _channel_index(torch.nonzero(groups == index).flatten())
        rows_dst, rows_src = _span(dy, height)
        cols_dst, cols_src = _span(dx, width)
        if isinstance(channels, slice):  # a view of out: one strided copy
            out[:, channels, rows_dst, cols_dst] = x[:, channels, rows_src, cols_src]
        else:  # unevenly spaced channels: build the block, then scatter it
            block = torch.zeros_like(x[:, channels])
            block[:, :, rows_dst, cols_dst] = x[:, channels][:, :, rows_src, cols_src]
            out[:, channels] = block
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


def _integer_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    offsets, groups = torch.unique(shifts, dim=0, return_inverse=True)
    if len(offsets) <= MAX_SLICED_OFFSETS:
        return _shift_by_slices(x, offsets, groups)
    return _shift_by_gather(x, shifts)


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
