"""NumPy reference of transposed convolution, written the two ways that explain it.

A convolution is a linear map ``x -> y = C x``; the transposed convolution is the map
``y -> C^T y`` with the same kernel. It is the adjoint of the convolution (and its
gradient with respect to the input), *not* its inverse. Two equivalent readings:

* :func:`conv_transpose2d` -- scatter: every input pixel stamps a copy of the kernel,
  scaled by its value, onto the output at ``stride`` times its position, and overlapping
  stamps add up (one input to many outputs);
* :func:`conv_transpose2d_as_conv` -- gather: insert ``stride - 1`` zeros between the input
  pixels (:func:`stuff_zeros`), pad, and run an ordinary convolution with the kernel
  flipped and its channel axes swapped.

Both follow :func:`torch.nn.functional.conv_transpose2d`'s arguments and weight layout
``(C_in, C_out / groups, kh, kw)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import IntPair, check_conv_transpose2d_args, check_stuff_zeros_args
from .conv import conv2d


def conv_transpose2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> np.ndarray:
    r"""2-D transposed convolution by scattering, as :func:`torch.nn.functional.conv_transpose2d`.

    Each input pixel :math:`x[n, c, i, j]` adds :math:`x[n, c, i, j]\, w[c, o, u, v]` to
    the full output at :math:`(s_h i + d_h u,\; s_w j + d_w v)`:

    .. math::

        y_{full}[n, o, s_h i + d_h u, s_w j + d_w v] \mathrel{+}= \sum_{c \in g(o)} x[n, c, i, j]\, w[c, o, u, v]

    The full output has :math:`(H - 1) s + d (k - 1) + 1` rows; the result drops
    ``padding`` rows at the top and bottom, then ``output_padding`` rows are given back at
    the bottom (zeros if they lie past the full output), so

    .. math::

        H_{out} = (H - 1) s - 2p + d (k - 1) + p_{out} + 1

    The loop runs over the ``kh * kw`` kernel taps: tap ``(u, v)`` sends the whole input,
    mixed by ``w[:, :, u, v]``, to a strided grid of the output.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Shape ``(C_in, C_out / groups, kh, kw)``: the weight of the convolution ``C_out -> C_in``
        that this operator transposes.
    bias : numpy.ndarray, optional
        Shape ``(C_out,)``.
    stride, dilation : int or (int, int)
        Spacing of the stamps in the output; spacing between kernel taps.
    padding : int or (int, int)
        Rows/columns cropped from each side of the full output.
    output_padding : int or (int, int)
        Rows/columns added back at the bottom/right; smaller than the stride or the dilation.
    groups : int
        Number of groups.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``, same dtype as ``x``.
    """
    args = check_conv_transpose2d_args(
        x,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        array_type=np.ndarray,
    )
    (sh, sw), (dh, dw), (kh, kw), g = (
        args.stride,
        args.dilation,
        args.kernel_size,
        args.groups,
    )
    n, (h, w) = args.batch, args.in_size
    # Room for the full output plus output_padding zeros past its end.
    full_h, full_w = args.full_size
    y = np.zeros(
        (
            n,
            args.out_channels,
            full_h + args.output_padding[0],
            full_w + args.output_padding[1],
        )
    )
    x_groups = x.reshape(n, g, args.in_channels // g, h, w)
    w_groups = weight.reshape(g, args.in_channels // g, args.out_channels // g, kh, kw)
    for u in range(kh):
        for v in range(kw):
            stamp = np.einsum("ngchw,gco->ngohw", x_groups, w_groups[..., u, v])
            rows = slice(dh * u, dh * u + sh * (h - 1) + 1, sh)
            cols = slice(dw * v, dw * v + sw * (w - 1) + 1, sw)
            y[:, :, rows, cols] += stamp.reshape(n, args.out_channels, h, w)
    (ph, pw), (out_h, out_w) = args.padding, args.out_size
    y = y[:, :, ph : ph + out_h, pw : pw + out_w]
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y.astype(x.dtype, copy=False)


def stuff_zeros(x: np.ndarray, stride: IntPair) -> np.ndarray:
    """Insert ``stride - 1`` zeros between neighbouring pixels (the "fractionally strided" input).

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(N, C, H, W)``.
    stride : int or (int, int)
        ``(sh, sw)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C, (H - 1) sh + 1, (W - 1) sw + 1)`` with ``out[..., sh i, sw j] = x[..., i, j]``.
    """
    sh, sw = check_stuff_zeros_args(x, stride, array_type=np.ndarray)
    n, c, h, w = x.shape
    stuffed = np.zeros(
        (n, c, max(0, (h - 1) * sh + 1), max(0, (w - 1) * sw + 1)), dtype=x.dtype
    )
    stuffed[:, :, ::sh, ::sw] = x
    return stuffed


def flip_transpose_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """Turn a transposed convolution's weight into the equivalent convolution's weight.

    ``(C_in, C_out / groups, kh, kw)`` becomes ``(C_out, C_in / groups, kh, kw)``: within each
    group the two channel axes swap, and every kernel is rotated by 180 degrees.

    Parameters
    ----------
    weight : numpy.ndarray
        A transposed convolution's kernels ``(C_in, C_out / groups, kh, kw)``.
    groups : int
        Number of groups; ``C_in`` must be divisible by it.

    Returns
    -------
    numpy.ndarray
        The convolution's kernels ``(C_out, C_in / groups, kh, kw)``.
    """
    c_in, group_out, kh, kw = weight.shape
    per_group = weight.reshape(groups, c_in // groups, group_out, kh, kw)
    swapped = per_group.transpose(0, 2, 1, 3, 4)  # (G, C_out/G, C_in/G, kh, kw)
    return swapped[..., ::-1, ::-1].reshape(groups * group_out, c_in // groups, kh, kw)


def conv_transpose2d_as_conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> np.ndarray:
    r"""Transposed convolution as an ordinary convolution of a zero-stuffed, padded input.

    1. :func:`stuff_zeros` puts ``s - 1`` zeros between the input pixels;
    2. pad each side with :math:`d (k - 1) - p` zeros (plus ``output_padding`` at the
       bottom/right; a negative amount crops instead);
    3. convolve with stride 1 and dilation ``d``, using the kernel rotated by 180 degrees
       with its input and output channels swapped (:func:`flip_transpose_weight`).

    This is the picture of Dumoulin & Visin (2016): a transposed convolution is a
    convolution with fractional stride :math:`1/s`. It computes the same function as
    :func:`conv_transpose2d` but multiplies by all the inserted zeros.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C_in, H, W)``.
    weight : numpy.ndarray
        Kernels in PyTorch's transposed layout ``(C_in, C_out / groups, kh, kw)``.
    bias : numpy.ndarray, optional
        Bias ``(C_out,)``.
    stride, padding, output_padding, groups, dilation
        As in :func:`conv_transpose2d`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_conv_transpose2d_args(
        x,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        array_type=np.ndarray,
    )
    stuffed = stuff_zeros(x, args.stride)
    pads = []
    for k, d, p, op in zip(
        args.kernel_size, args.dilation, args.padding, args.output_padding
    ):
        border = d * (k - 1) - p
        pads.append((border, border + op))
    stuffed = _pad_or_crop(stuffed, pads)
    return conv2d(
        stuffed,
        flip_transpose_weight(weight, args.groups),
        bias,
        1,
        0,
        args.dilation,
        args.groups,
    )


def _pad_or_crop(x: np.ndarray, amounts: list[tuple[int, int]]) -> np.ndarray:
    """Pad the last two axes by ``(before, after)`` each; a negative amount crops that many."""
    x = np.pad(x, ((0, 0), (0, 0)) + tuple((max(b, 0), max(a, 0)) for b, a in amounts))
    (top, bottom), (left, right) = ((max(-b, 0), max(-a, 0)) for b, a in amounts)
    return x[:, :, top : x.shape[2] - bottom, left : x.shape[3] - right]
