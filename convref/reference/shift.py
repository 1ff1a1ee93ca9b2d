"""NumPy reference of the shift operation (Wu et al., CVPR 2018) and its fractional form (Jeon & Kim, NeurIPS 2018).

A shift moves every channel of a feature map by a fixed offset, filling with zeros. It has no
parameters and no multiplications; followed by a 1x1 convolution it mixes information from
neighbouring pixels, which is why a stack of shift + 1x1 layers can replace k x k convolutions.

Convention, used everywhere in convref: channel ``c`` with offset ``(dy, dx)`` gives
``out[n, c, h, w] = x[n, c, h - dy, w - dx]`` -- its content moves ``dy`` pixels down and ``dx``
pixels right. A fractional offset reads between pixels by bilinear interpolation (the active
shift layer); an integer offset is an exact move.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_shift_args, check_shift_pattern_args
from .deformable import bilinear_sample


def shift_pattern(
    channels: int, kernel_size: int = 3, dilation: int = 1, layout: str = "grouped"
) -> np.ndarray:
    """The shift of every channel in ShiftNet: the ``k * k`` directions of a ``k x k`` kernel, spread over the channels.

    The directions are ``(dy, dx)`` for ``dy, dx`` in ``-r .. r`` (``r = (k - 1) / 2``), times
    ``dilation``, in row-major order (``(-r, -r)`` first, ``(0, 0)`` in the middle). With
    ``g = channels // k**2`` channels per direction:

    * ``"grouped"``: channels ``[d g, (d + 1) g)`` take direction ``d`` (Wu et al.'s description);
    * ``"interleaved"``: channel ``c`` takes direction ``c mod k**2`` (the authors' CUDA kernel).

    The ``channels - g k**2`` leftover channels are not shifted.

    Parameters
    ----------
    channels : int
        Number of channels ``C``.
    kernel_size : int
        Odd ``k``.
    dilation : int
        Step between directions (2 gives offsets -2, 0, 2 for k = 3).
    layout : {"grouped", "interleaved"}
        How the directions are assigned to channels.

    Returns
    -------
    numpy.ndarray
        ``(C, 2)`` int64: ``(dy, dx)`` per channel.
    """
    channels, kernel_size, dilation = check_shift_pattern_args(
        channels, kernel_size, dilation, layout
    )
    radius = (kernel_size - 1) // 2
    offsets = np.arange(-radius, radius + 1) * dilation
    directions = np.stack(
        np.meshgrid(offsets, offsets, indexing="ij"), axis=-1
    ).reshape(-1, 2)
    per_direction = channels // len(directions)
    shifts = np.zeros((channels, 2), dtype=np.int64)
    assigned = np.arange(per_direction * len(directions))
    index = (
        assigned // per_direction if layout == "grouped" else assigned % len(directions)
    )
    shifts[assigned] = directions[index] if per_direction else shifts[assigned]
    return shifts


def shift2d(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    r"""Shift every channel by its own offset: :math:`y[n, c, h, w] = x[n, c, h - \Delta y_c, w - \Delta x_c]`.

    Zero outside the image. For a fractional offset the value is read by bilinear
    interpolation between the four nearest pixels (the active shift layer of Jeon & Kim,
    2018); for an integer offset this is an exact move.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)``.
    shifts : numpy.ndarray
        ``(C, 2)``: ``(dy, dx)`` per channel, integer or floating (then with ``x``'s dtype).

    Returns
    -------
    numpy.ndarray
        ``(N, C, H, W)``, same dtype as ``x``.
    """
    check_shift_args(x, shifts, array_type=np.ndarray)
    batch, _, height, width = x.shape
    out = np.zeros(x.shape, dtype=np.float64)
    for c, (dy, dx) in enumerate(shifts.astype(np.float64)):
        # where each output pixel reads: the same point in every image
        rows = np.broadcast_to(
            (np.arange(height) - dy)[:, None], (batch, height, width)
        )
        cols = np.broadcast_to((np.arange(width) - dx)[None, :], (batch, height, width))
        out[:, c] = bilinear_sample(x[:, c : c + 1], rows, cols)[:, 0]
    return out.astype(x.dtype, copy=False)


def pattern_shift2d(
    x: np.ndarray, kernel_size: int = 3, dilation: int = 1, layout: str = "grouped"
) -> np.ndarray:
    r"""Shift ``x`` by ShiftNet's pattern: ``shift2d(x, shift_pattern(C, kernel_size, dilation, layout))``.

    Channel ``c`` takes the offset :math:`(\Delta y_c, \Delta x_c)` that
    :func:`shift_pattern` gives it, and

    .. math::

        y[n, c, h, w] = x[n, c, h - \Delta y_c, w - \Delta x_c] \quad (0 \text{ outside the image}).

    The pattern is named by its parameters rather than by a table, which lets the PyTorch
    version (:func:`convref.functional.pattern_shift2d`) move every shifted plane with one
    strided copy; here it is simply the table and :func:`shift2d`.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)``.
    kernel_size : int
        Odd ``k``: the ``k * k`` directions, as in :func:`shift_pattern`.
    dilation : int
        Step between directions.
    layout : {"grouped", "interleaved"}
        How the directions are assigned to channels.

    Returns
    -------
    numpy.ndarray
        ``(N, C, H, W)``, same dtype as ``x``.
    """
    # the same checks, in the same order, as the PyTorch version, so both refuse a bad
    # call alike
    check_array("x", x, np.ndarray, 4, "(N, C, H, W)")
    channels, kernel_size, dilation = check_shift_pattern_args(
        int(x.shape[1]), kernel_size, dilation, layout
    )
    return shift2d(x, shift_pattern(channels, kernel_size, dilation, layout))
