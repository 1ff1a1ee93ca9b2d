"""PyTorch 2-D convolution as unfold + matrix multiply (the im2col lowering).

Same names and arguments as :mod:`convref.reference.conv`; differentiable through
PyTorch's autograd, runs on any device and floating dtype.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import (
    Conv2dArgs,
    IntPair,
    Padding,
    check_array,
    check_conv2d_args,
    check_window_args,
)
from ._precision import follows_autocast
from ._tracing import batch_slices

#: Largest number of elements the column matrix of one batch chunk may hold
#: (64 Mi elements = 256 MB in float32). Larger batches are processed in chunks.
MAX_COLUMN_ELEMENTS = 64 * 2**20


def _columns(x: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """``(N, C * kh * kw, H_out * W_out)`` receptive fields of ``x`` on validated arguments."""
    if args.kernel_size == (1, 1) and not any(args.padding):
        # A 1x1 window is the pixel itself: its columns are the (strided) input, no
        # unfold copy.
        sh, sw = args.stride
        return x[:, :, ::sh, ::sw].flatten(2)
    x, padding = symmetric_padding(x, args.padding)
    return F.unfold(
        x, args.kernel_size, dilation=args.dilation, padding=padding, stride=args.stride
    )


def symmetric_padding(
    x: torch.Tensor, padding: tuple[int, int, int, int]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Split ``(top, bottom, left, right)`` into what PyTorch's ops can do and what they cannot.

    ``unfold`` and ``conv2d`` pad both sides of an axis alike. An even kernel's ``"same"``
    padding does not, so then ``x`` is padded here and the op gets no padding; otherwise ``x``
    is returned as it is with the op's ``(top, left)``.
    """
    top, bottom, left, right = padding
    if top != bottom or left != right:
        return F.pad(x, (left, right, top, bottom)), (0, 0)
    return x, (top, left)


def im2col(
    x: torch.Tensor,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Lower ``x`` to the matrix of its receptive fields.

    PyTorch version of :func:`convref.reference.im2col`; same layout as
    :func:`torch.nn.functional.unfold`, which it calls, plus ``"valid"``/``"same"`` padding.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C, H, W)``.
    kernel_size, stride, padding, dilation
        As in :func:`conv2d`.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C * kh * kw, H_out * W_out)``.
    """
    check_array("x", x, torch.Tensor, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    kernel, stride_hw, pads, dilation_hw, out_size = check_window_args(
        "im2col", (h, w), kernel_size, stride, padding, dilation
    )
    return _columns(
        x,
        Conv2dArgs(n, c, c, (h, w), kernel, stride_hw, pads, dilation_hw, 1, out_size),
    )


@follows_autocast
def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    r"""2-D cross-correlation lowered to a matrix product: ``W @ im2col(x)`` per group.

    Computes the same function as :func:`torch.nn.functional.conv2d` (and
    :func:`convref.reference.conv2d`):

    .. math::

        y[n, o] = b[o] + W_o \cdot \mathrm{im2col}(x)[n, \text{group}(o)]

    The column matrix holds ``kh * kw`` copies of the input, so the batch is processed
    in chunks whose columns stay under :data:`MAX_COLUMN_ELEMENTS`.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Kernels of shape ``(C_out, C_in / groups, kh, kw)``, same dtype and device as ``x``.
    bias : torch.Tensor, optional
        Shape ``(C_out,)``.
    stride, dilation : int or (int, int)
        Step between output positions; spacing between kernel taps (1 is ordinary).
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Zeros added on each side; ``"same"`` keeps the size (stride 1 only).
    groups : int
        Number of groups; each sees ``C_in / groups`` input channels.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, groups, array_type=torch.Tensor
    )
    groups = args.groups
    kernels = weight.reshape(
        groups, args.out_channels // groups, -1
    )  # (G, O/G, C/G * kh * kw)
    columns_per_sample = (
        kernels.shape[-1] * groups * args.out_size[0] * args.out_size[1]
    )
    chunk = max(1, MAX_COLUMN_ELEMENTS // max(1, columns_per_sample))
    outputs = []
    # an empty batch still makes one (empty) chunk
    for part in batch_slices(args.batch, chunk) or [slice(None)]:
        columns = _columns(x[part], args)
        n, rows, positions = columns.shape
        columns = columns.reshape(n, groups, rows // groups, positions)
        outputs.append(torch.matmul(kernels, columns))  # (N, G, O/G, L)
    y = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    y = y.reshape(args.batch, args.out_channels, *args.out_size)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y
