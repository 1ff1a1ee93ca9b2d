"""PyTorch versions of the dilated-convolution constructions of :mod:`convref.reference.dilated`.

Same names and arguments; differentiable, any device and floating dtype. The fast way to
run a dilated convolution is :func:`convref.functional.conv2d` with ``dilation=d`` (the
unfold reads the spaced taps directly); the two constructions here exist to compare with
it, in the tests and in ``python -m convref.bench dilated``.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import (
    IntPair,
    Padding,
    check_batch_to_space_args,
    check_block_args,
    check_causal_conv1d_args,
    check_conv2d_args,
    check_dilate_kernel_args,
)
from ._precision import follows_autocast
from .conv import conv2d


def dilate_kernel(weight: torch.Tensor, dilation: IntPair) -> torch.Tensor:
    """Insert ``dilation - 1`` zeros between neighbouring taps of every kernel.

    PyTorch version of :func:`convref.reference.dilate_kernel` (differentiable).

    Parameters
    ----------
    weight : torch.Tensor
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``.
    dilation : int or (int, int)
        The rate ``d``.

    Returns
    -------
    torch.Tensor
        Shape ``(C_out, C_in / groups, d_h (kh - 1) + 1, d_w (kw - 1) + 1)``.
    """
    dh, dw = check_dilate_kernel_args(weight, dilation, array_type=torch.Tensor)
    kh, kw = weight.shape[2:]
    dilated = weight.new_zeros(*weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    dilated[:, :, ::dh, ::dw] = (
        weight  # an indexed copy: autograd routes the gradient back to weight
    )
    return dilated


@follows_autocast
def conv2d_dilated_kernel(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Dilated convolution as an ordinary convolution with a zero-filled kernel.

    PyTorch version of :func:`convref.reference.conv2d_dilated_kernel`.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Kernels ``(C_out, C_in / groups, kh, kw)``.
    bias : torch.Tensor, optional
        Bias ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`convref.functional.conv2d`.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=torch.Tensor
    )
    top, bottom, left, right = args.padding
    x = F.pad(x, (left, right, top, bottom))
    return conv2d(
        x, dilate_kernel(weight, args.dilation), bias, args.stride, 0, 1, args.groups
    )


def space_to_batch(x: torch.Tensor, block: IntPair) -> torch.Tensor:
    """Split an image into ``bh * bw`` interleaved sub-images, stacked along the batch.

    PyTorch version of :func:`convref.reference.space_to_batch`: one reshape and permute.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C, H, W)``, with ``H`` divisible by ``bh`` and ``W`` by ``bw``.
    block : int or (int, int)
        ``(bh, bw)``.

    Returns
    -------
    torch.Tensor
        Shape ``(bh * bw * N, C, H / bh, W / bw)``; batch index ``(a * bw + b) * N + n``.
    """
    bh, bw = check_block_args(x, block, array_type=torch.Tensor)
    n, c, h, w = x.shape
    # Row r = i * bh + a: split it into (i, a) and move the phase a in front of the
    # batch.
    x = x.reshape(n, c, h // bh, bh, w // bw, bw).permute(3, 5, 0, 1, 2, 4)
    return x.reshape(bh * bw * n, c, h // bh, w // bw)


def batch_to_space(y: torch.Tensor, block: IntPair) -> torch.Tensor:
    """Interleave the sub-images of :func:`space_to_batch` back into one image (its inverse).

    Parameters
    ----------
    y : torch.Tensor
        Shape ``(bh * bw * N, C, h, w)``.
    block : int or (int, int)
        ``(bh, bw)``.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C, bh * h, bw * w)``.
    """
    bh, bw = check_batch_to_space_args(y, block, array_type=torch.Tensor)
    total, c, h, w = y.shape
    n = total // (bh * bw)
    y = y.reshape(bh, bw, n, c, h, w).permute(2, 3, 4, 0, 5, 1)
    return y.reshape(n, c, h * bh, w * bw)


@follows_autocast
def conv2d_space_to_batch(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Dilated convolution as an undilated convolution of interleaved sub-images.

    PyTorch version of :func:`convref.reference.conv2d_space_to_batch`; a stride is
    applied after the stride-1 result, as there.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Kernels ``(C_out, C_in / groups, kh, kw)``.
    bias : torch.Tensor, optional
        Bias ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`convref.functional.conv2d`.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=torch.Tensor
    )
    (dh, dw), (kh, kw) = args.dilation, args.kernel_size
    top, bottom, left, right = args.padding
    height, width = x.shape[2] + top + bottom, x.shape[3] + left + right
    dense_h, dense_w = height - dh * (kh - 1), width - dw * (kw - 1)
    # One pad: the convolution's own zeros, plus zeros at the end so the block divides
    # the image.
    x = F.pad(x, (left, right + (-width % dw), top, bottom + (-height % dh)))
    sub_outputs = conv2d(
        space_to_batch(x, (dh, dw)), weight, None, 1, 0, 1, args.groups
    )
    y = batch_to_space(sub_outputs, (dh, dw))[:, :, :dense_h, :dense_w]
    y = y[:, :, :: args.stride[0], :: args.stride[1]]
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


@follows_autocast
def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    dilation: int = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Causal dilated 1-D convolution: output ``t`` sees only inputs ``t, t - d, t - 2d, ...``.

    PyTorch version of :func:`convref.reference.causal_conv1d`.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C_in, L)``.
    weight : torch.Tensor
        Shape ``(C_out, C_in / groups, k)``; tap ``k - 1`` multiplies the current sample.
    bias : torch.Tensor, optional
        Shape ``(C_out,)``.
    dilation, groups : int
        Spacing between taps; number of groups.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, L)``.
    """
    args = check_causal_conv1d_args(
        x, weight, bias, dilation, groups, array_type=torch.Tensor
    )
    x = F.pad(
        x, (args.dilation * (args.kernel_size - 1), 0)
    )  # the past only: zeros on the left
    y = conv2d(
        x.unsqueeze(2), weight.unsqueeze(2), bias, 1, 0, (1, args.dilation), args.groups
    )
    return y.squeeze(2)
