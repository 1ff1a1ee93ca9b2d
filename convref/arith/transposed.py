"""Transposed convolution: output sizes, input sizes a convolution confuses, TensorFlow's "same", overlap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import conv_transpose_length
from ._ints import _int_at_least


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    r"""Output length of a transposed convolution along one axis (PyTorch's ``ConvTranspose``).

    .. math::

        o = (i - 1) s - 2 p + d (k - 1) + a + 1

    with output padding :math:`a`. The transposed convolution spreads each of the
    :math:`i` inputs over a dilated kernel placed every :math:`s` positions (full length
    :math:`(i - 1) s + d (k - 1) + 1`), then crops :math:`p` positions from each end and
    adds :math:`a` at the end only. It is the adjoint of :func:`conv_output_size`'s
    convolution with the same arguments; :math:`a` picks which of the input lengths
    that all map to :math:`i` is meant (see :func:`conv_input_sizes`).

    Parameters
    ----------
    size : int
        Input length :math:`i` (>= 1).
    kernel_size, stride, dilation : int
        :math:`k`, :math:`s` and :math:`d`.
    padding : int
        :math:`p`, cropped from *each* end of the full output.
    output_padding : int
        :math:`a`; PyTorch requires :math:`0 \le a < \max(s, d)`.

    Returns
    -------
    int
        :math:`o`. A length below 1 is an error here (PyTorch's ``conv_transpose1d``
        rejects it too; ``conv_transpose2d`` returns an empty tensor when it is exactly 0).

    Examples
    --------
    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)  # undoes 6 -> 3
    6
    """
    size = _int_at_least("size", size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    padding = _int_at_least("padding", padding, 0)
    output_padding = _int_at_least("output_padding", output_padding, 0)
    dilation = _int_at_least("dilation", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got output_padding={output_padding} "
            f"with stride={stride} and dilation={dilation}"
        )
    out = conv_transpose_length(
        size, kernel_size, stride, padding, output_padding, dilation
    )
    if out < 1:
        raise ValueError(
            f"padding {padding} crops the whole output: the output length would be {out}"
        )
    return out


def conv_input_sizes(
    out_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> list[int]:
    r"""Every input length that a convolution maps to ``out_size``.

    :func:`conv_output_size` rounds down, so the input lengths

    .. math::

        i = (o - 1) s + d (k - 1) + 1 - 2 p + a, \qquad a = 0, 1, \dots, s - 1

    all give :math:`o` outputs (the last :math:`a` inputs are not read). Those that are at
    least 1 are returned: :math:`s` of them, fewer only when the padding is so large that the
    smallest would be below 1, none when :math:`o` cannot be reached at all.

    This is why a transposed convolution, which should map :math:`o` back to :math:`i`,
    needs ``output_padding``: from :math:`o` alone it cannot know which :math:`i` was meant.
    Its output length with :math:`a = 0` is the smallest candidate, and
    ``conv_transpose_output_size(out_size, ..., output_padding=i - sizes[0]) == i`` for each
    candidate ``i`` when all :math:`s` of them exist (``sizes[0]`` is then their minimum).

    Parameters
    ----------
    out_size : int
        Output length :math:`o` (>= 1).
    kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size` (integer padding only).

    Returns
    -------
    list of int
        The input lengths, increasing.

    Examples
    --------
    >>> conv_input_sizes(3, 3, stride=2, padding=1)  # Dumoulin & Visin, figures 2.6 and 2.7
    [5, 6]
    """
    out_size = _int_at_least("out_size", out_size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    padding = _int_at_least("padding", padding, 0)
    dilation = _int_at_least("dilation", dilation, 1)
    smallest = (out_size - 1) * stride + dilation * (kernel_size - 1) + 1 - 2 * padding
    return [size for size in range(smallest, smallest + stride) if size >= 1]


@dataclass(frozen=True)
class TfSameTranspose:
    """TensorFlow's ``padding="same"`` transposed convolution, and how to get it in PyTorch.

    See :func:`tf_same_conv_transpose`. The full transposed output has length
    ``full = (i - 1) s + d (k - 1) + 1``; TensorFlow keeps ``full[crop_before : full - crop_after]``
    (a negative ``crop_after`` appends that many zeros), and PyTorch's
    ``conv_transpose1d(x, w, stride, padding, output_padding, dilation=d)`` followed by
    dropping the last ``trim_end`` positions gives exactly the same values.

    Attributes
    ----------
    output_size : int
        ``i * s``, TensorFlow's output length for ``"same"``.
    crop_before, crop_after : int
        Positions TensorFlow removes from the start and the end of the full output.
    padding, output_padding : int
        The matching ``ConvTranspose`` arguments of PyTorch.
    trim_end : int
        0 or 1: positions to drop from the end of PyTorch's output.
    """

    output_size: int
    crop_before: int
    crop_after: int
    padding: int
    output_padding: int
    trim_end: int


def tf_same_conv_transpose(
    size: int, kernel_size: int, stride: int, dilation: int = 1
) -> TfSameTranspose:
    r"""TensorFlow's ``padding="same"`` for a transposed convolution, in PyTorch's arguments.

    TensorFlow defines ``conv*_transpose(..., padding="SAME")`` as the gradient (adjoint) of
    its forward ``"SAME"`` convolution on an input of length :math:`n = i s`, which has
    :math:`\lceil n / s \rceil = i` outputs. That forward convolution pads

    .. math::

        P = \max\bigl((i - 1) s + k' - n,\; 0\bigr) = \max(k' - s,\; 0), \qquad
        k' = d (k - 1) + 1

    zeros in total, :math:`\lfloor P / 2 \rfloor` before and the rest after (the larger half
    goes at the end). Its adjoint spreads the :math:`i` inputs over the full length
    :math:`(i - 1) s + k'` and crops the same amounts, so the output has :math:`i s`
    positions. When :math:`k' < s` nothing is padded and the forward convolution never reads
    its last :math:`s - k'` inputs: the adjoint ends in that many zeros
    (``crop_after`` is negative).

    PyTorch crops ``padding`` from *both* ends and adds ``output_padding`` at the end only, so
    it cannot crop more at the end than at the start:

    - :math:`P` even: ``padding = P / 2``, ``output_padding = 0``; exact.
    - :math:`P` odd: ``padding =`` :math:`\lfloor P / 2 \rfloor`, ``output_padding = 0``; the
      output is one position too long and its last position must be dropped
      (``trim_end = 1``). Cropping :math:`\lceil P / 2 \rceil` would shift the output by one.
    - :math:`k' < s`: ``padding = 0``, ``output_padding =`` :math:`s - k'`; exact (the
      extra positions are zeros in both).

    Parameters
    ----------
    size : int
        Input length :math:`i` of the transposed convolution.
    kernel_size, stride, dilation : int
        :math:`k`, :math:`s` and :math:`d`.

    Returns
    -------
    TfSameTranspose

    Examples
    --------
    >>> tf_same_conv_transpose(4, 3, 2)  # P = 1: PyTorch gives 9 positions, TensorFlow 8
    TfSameTranspose(output_size=8, crop_before=0, crop_after=1, padding=0, output_padding=0, trim_end=1)
    """
    size = _int_at_least("size", size, 1)
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    dilation = _int_at_least("dilation", dilation, 1)
    span = dilation * (kernel_size - 1) + 1
    if span < stride:
        return TfSameTranspose(
            output_size=size * stride,
            crop_before=0,
            crop_after=span - stride,
            padding=0,
            output_padding=stride - span,
            trim_end=0,
        )
    total = span - stride
    before = total // 2
    return TfSameTranspose(
        output_size=size * stride,
        crop_before=before,
        crop_after=total - before,
        padding=before,
        output_padding=0,
        trim_end=total % 2,
    )


def transpose_overlap(
    input_size: int, kernel_size: int, stride: int, padding: int = 0
) -> np.ndarray:
    r"""How many kernel taps land on each output position of a transposed convolution (1-D).

    Output position :math:`j` (before cropping) receives input :math:`m` through tap
    :math:`t` when :math:`j = m s + t`, so it counts

    .. math::

        n_j = \#\{(m, t) : m s + t = j,\; 0 \le m < i,\; 0 \le t < k\}

    taps; ``padding`` positions are then cropped from each end, as PyTorch does, and the
    length is :func:`conv_transpose_output_size`. Odena, Dumoulin & Olah ("Deconvolution and
    checkerboard artifacts", Distill 2016) show that when :math:`k` is not a multiple of
    :math:`s` these counts alternate in the interior (see :func:`has_uneven_overlap`),
    which is where the checkerboard pattern of generated images comes from. For a 2-D
    transposed convolution with a separable footprint the count map is the outer product
    ``np.outer(transpose_overlap(h, ...), transpose_overlap(w, ...))``.

    Parameters
    ----------
    input_size : int
        :math:`i`.
    kernel_size, stride : int
        :math:`k` and :math:`s`.
    padding : int
        Cropped from each end (PyTorch's ``padding`` of ``ConvTranspose``).

    Returns
    -------
    numpy.ndarray
        int64 counts of shape ``(conv_transpose_output_size(i, k, s, padding),)``, one per
        output position.

    Examples
    --------
    >>> transpose_overlap(4, 3, 2).tolist()
    [1, 1, 2, 1, 2, 1, 2, 1, 1]
    """
    input_size = _int_at_least("input_size", input_size, 1)
    out = conv_transpose_output_size(input_size, kernel_size, stride, padding)
    full = np.zeros((input_size - 1) * stride + kernel_size, dtype=np.int64)
    for tap in range(kernel_size):
        full[tap : tap + (input_size - 1) * stride + 1 : stride] += (
            1  # tap t of every input
        )
    return full[padding : padding + out]


def has_uneven_overlap(kernel_size: int, stride: int) -> bool:
    r"""Whether a transposed convolution's kernel overlaps itself unevenly (checkerboard artifacts).

    Away from the borders an output position of a transposed convolution receives either
    :math:`\lceil k / s \rceil` or :math:`\lfloor k / s \rfloor` kernel taps (see
    :func:`transpose_overlap`); both are the same exactly when

    .. math::

        k \bmod s = 0

    Otherwise the counts alternate with period :math:`s`, and even a constant input gives
    a striped (in 2-D, checkerboard) output unless the learned weights compensate. Odena,
    Dumoulin & Olah (Distill 2016): a 3x3 kernel with stride 2 overlaps unevenly, a 4x4 one
    does not (though even overlap does not by itself prevent artifacts).

    Parameters
    ----------
    kernel_size, stride : int
        :math:`k` and :math:`s`.

    Returns
    -------
    bool
        ``True`` when :math:`k` is not a multiple of :math:`s`.

    Examples
    --------
    >>> has_uneven_overlap(3, 2), has_uneven_overlap(4, 2)
    (True, False)
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    stride = _int_at_least("stride", stride, 1)
    return kernel_size % stride != 0
