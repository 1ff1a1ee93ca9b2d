"""PyTorch transposed convolution as a matrix product followed by ``fold`` (col2im).

Same names and arguments as :mod:`convref.reference.transposed`. The scatter of the
reference becomes two bulk operations: one matrix product gives every input pixel's
stamp of the kernel (the columns), and :func:`torch.nn.functional.fold` adds the
overlapping stamps into place. It is the exact mirror of :func:`convref.functional.conv2d`
(``unfold`` then matrix product), which is why the two are adjoint.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import (
    ConvTranspose2dArgs,
    IntPair,
    check_conv_transpose2d_args,
    check_stuff_zeros_args,
)
from ._precision import follows_autocast
from ._tracing import batch_slices
from .conv import MAX_COLUMN_ELEMENTS, conv2d


def _scatter(
    x: torch.Tensor, weight: torch.Tensor, args: ConvTranspose2dArgs
) -> torch.Tensor:
    """Full (uncropped) output of a batch chunk: stamps by matrix product, summed by ``fold``."""
    n, g = x.shape[0], args.groups
    (h, w), (kh, kw) = args.in_size, args.kernel_size
    # (G, C_in/G, C_out/G * kh * kw): row c of group g is input channel c's stamp, per
    # output tap.
    kernels = weight.reshape(g, args.in_channels // g, -1)
    pixels = x.reshape(n, g, args.in_channels // g, h * w)
    columns = torch.matmul(
        kernels.transpose(1, 2), pixels
    )  # (N, G, C_out/G * kh * kw, H * W)
    columns = columns.reshape(n, args.out_channels * kh * kw, h * w)
    return F.fold(
        columns,
        args.full_size,
        args.kernel_size,
        dilation=args.dilation,
        stride=args.stride,
    )


@follows_autocast
def conv_transpose2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> torch.Tensor:
    r"""2-D transposed convolution, computing the same function as :func:`torch.nn.functional.conv_transpose2d`.

    .. math::

        y_{full} = \mathrm{fold}\big(W^\top \, x\big), \qquad
        H_{out} = (H - 1) s - 2p + d (k - 1) + p_{out} + 1

    where :math:`W^\top x` puts a scaled copy of the kernel for every input pixel
    (``C_out * kh * kw`` values per pixel, computed in batch chunks under
    ``MAX_COLUMN_ELEMENTS``, shared with ``conv2d``), ``fold`` adds the overlapping copies, and the
    result is cropped by ``padding`` with ``output_padding`` given back at the bottom/right.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Shape ``(C_in, C_out / groups, kh, kw)``, same dtype and device as ``x``.
    bias : torch.Tensor, optional
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
    torch.Tensor
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
        array_type=torch.Tensor,
    )
    (kh, kw), (h, w) = args.kernel_size, args.in_size
    columns_per_sample = args.out_channels * kh * kw * h * w
    chunk = max(1, MAX_COLUMN_ELEMENTS // max(1, columns_per_sample))
    if (
        args.batch == 0
    ):  # fold refuses an empty batch; the answer is an empty tensor of the right shape
        y = x.new_zeros(0, args.out_channels, *args.full_size)
    else:
        y = torch.cat(
            [
                _scatter(x[part], weight, args)
                for part in batch_slices(args.batch, chunk)
            ]
        )
    (ph, pw), (oph, opw), (out_h, out_w) = (
        args.padding,
        args.output_padding,
        args.out_size,
    )
    if (
        oph or opw
    ):  # output_padding may reach past the full output: those rows are zeros
        y = F.pad(y, (0, opw, 0, oph))
    y = y[:, :, ph : ph + out_h, pw : pw + out_w]
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


def stuff_zeros(x: torch.Tensor, stride: IntPair) -> torch.Tensor:
    """Insert ``stride - 1`` zeros between neighbouring pixels.

    PyTorch version of :func:`convref.reference.stuff_zeros`.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C, H, W)``.
    stride : int or (int, int)
        ``(sh, sw)``.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C, (H - 1) sh + 1, (W - 1) sw + 1)``.
    """
    sh, sw = check_stuff_zeros_args(x, stride, array_type=torch.Tensor)
    n, c, h, w = x.shape
    stuffed = x.new_zeros(n, c, max(0, (h - 1) * sh + 1), max(0, (w - 1) * sw + 1))
    stuffed[:, :, ::sh, ::sw] = x
    return stuffed


def flip_transpose_weight(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """Turn a transposed convolution's weight into the equivalent convolution's weight.

    Channels are swapped within each group and kernels rotated by 180 degrees. PyTorch
    version of :func:`convref.reference.flip_transpose_weight`.

    Parameters
    ----------
    weight : torch.Tensor
        A transposed convolution's kernels ``(C_in, C_out / groups, kh, kw)``.
    groups : int
        Number of groups; ``C_in`` must be divisible by it.

    Returns
    -------
    torch.Tensor
        The convolution's kernels ``(C_out, C_in / groups, kh, kw)``.
    """
    c_in, group_out, kh, kw = weight.shape
    per_group = weight.reshape(groups, c_in // groups, group_out, kh, kw).transpose(
        1, 2
    )
    return per_group.flip(-2, -1).reshape(groups * group_out, c_in // groups, kh, kw)


@follows_autocast
def conv_transpose2d_as_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Transposed convolution as a convolution of the zero-stuffed, padded input with the flipped kernel.

    PyTorch version of :func:`convref.reference.conv_transpose2d_as_conv`; slower than
    :func:`conv_transpose2d` by about ``stride**2`` (it multiplies the inserted zeros).

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Kernels in PyTorch's transposed layout ``(C_in, C_out / groups, kh, kw)``.
    bias : torch.Tensor, optional
        Bias ``(C_out,)``.
    stride, padding, output_padding, groups, dilation
        As in :func:`conv_transpose2d`.

    Returns
    -------
    torch.Tensor
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
        array_type=torch.Tensor,
    )
    stuffed = stuff_zeros(x, args.stride)
    pads = []
    for k, d, p, op in zip(
        args.kernel_size, args.dilation, args.padding, args.output_padding
    ):
        pads.append((d * (k - 1) - p, d * (k - 1) - p + op))
    (top, bottom), (left, right) = pads
    stuffed = F.pad(
        stuffed, (left, right, top, bottom)
    )  # F.pad crops where an amount is negative
    return conv2d(
        stuffed,
        flip_transpose_weight(weight, args.groups),
        bias,
        1,
        0,
        args.dilation,
        args.groups,
    )
