r"""PyTorch dynamic convolution (CondConv, DY-CNN) with the grouped-convolution batching trick.

Same name and arguments as :func:`convref.reference.dynamic_conv2d`. Each sample needs its own
kernel, and PyTorch's ``conv2d`` takes one kernel per call. Folding the batch into the channel
axis makes it one call: the input ``(N, C_in, H, W)`` becomes ``(1, N C_in, H, W)``, the ``N``
mixed kernels are stacked into ``(N C_out, C_in / G, kh, kw)``, and ``groups = N G`` keeps
sample ``n``'s channels away from every other sample's kernel (the trick of CondConv's and
timm's implementations). While exporting, where ONNX needs the group count before the
batch size is known, each kernel's output is computed and the outputs are mixed instead.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import Conv2dArgs, IntPair, Padding, check_dynamic_conv2d_args
from ._precision import follows_autocast
from ._tracing import exporting
from .conv import symmetric_padding

__all__ = ["dynamic_conv2d"]


@follows_autocast
def dynamic_conv2d(
    x: torch.Tensor,
    weights: torch.Tensor,
    attention: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    r"""Convolve each sample with its attention-weighted mixture of ``K`` kernels, in one grouped convolution.

    Computes :func:`convref.reference.dynamic_conv2d`,

    .. math::

        y[n] = \Bigl(\sum_k a_{nk} W_k\Bigr) * x[n] + \sum_k a_{nk} b_k,

    differentiable with respect to ``x``, ``weights``, ``attention`` and ``bias``. The mixing is
    one matrix product, ``attention @ weights.reshape(K, -1)``, so it costs ``K`` multiply-adds
    per kernel entry per sample; the convolution then costs what a static one does.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weights : torch.Tensor
        The ``K`` kernels, shape ``(K, C_out, C_in / groups, kh, kw)``.
    attention : torch.Tensor
        Mixing weights, shape ``(N, K)``.
    bias : torch.Tensor, optional
        The ``K`` biases, shape ``(K, C_out)``.
    stride, padding, dilation, groups
        As in :func:`torch.nn.functional.conv2d` (``padding`` also ``"valid"``/``"same"``).

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    args, _ = check_dynamic_conv2d_args(  # the kernel count: weights.shape[0]
        x,
        weights,
        attention,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=torch.Tensor,
    )
    n, (h_out, w_out) = args.batch, args.out_size
    if n == 0:
        return x.new_zeros((0, args.out_channels, h_out, w_out))
    combine = _mixed_outputs if exporting() else _folded_convolution
    y = combine(x, weights, attention, args)
    if bias is not None:
        y = y + torch.matmul(attention, bias).reshape(n, args.out_channels, 1, 1)
    return y


def _folded_convolution(
    x: torch.Tensor,
    weights: torch.Tensor,
    attention: torch.Tensor,
    args: Conv2dArgs,
) -> torch.Tensor:
    """The batch folded into the channels: one convolution with ``N G`` groups."""
    n, (h_out, w_out), kernels = args.batch, args.out_size, weights.shape[0]
    mixed = torch.matmul(
        attention, weights.reshape(kernels, -1)
    )  # (N, C_out * C_in/G * kh * kw)
    mixed = mixed.reshape(n * args.out_channels, *weights.shape[2:])
    folded, padding = symmetric_padding(
        x.reshape(1, n * args.in_channels, *args.in_size), args.padding
    )
    y = F.conv2d(
        folded, mixed, None, args.stride, padding, args.dilation, n * args.groups
    )
    return y.reshape(n, args.out_channels, h_out, w_out)


def _mixed_outputs(
    x: torch.Tensor,
    weights: torch.Tensor,
    attention: torch.Tensor,
    args: Conv2dArgs,
) -> torch.Tensor:
    r"""``sum_k a_nk (W_k * x[n])``: the ``K`` kernels' outputs, mixed per sample.

    The same sum as mixing the kernels first (the convolution is linear in its weight), at
    ``K`` times the cost; used while exporting, where ONNX's ``Conv`` needs a ``group``
    count known before the batch size is.
    """
    kernels, groups = weights.shape[0], args.groups
    per_group = args.out_channels // groups
    # (K, C_out, ...) -> (G, K, C_out / G, ...): each group's K kernels side by side
    stacked = weights.reshape(kernels, groups, per_group, *weights.shape[2:])
    stacked = stacked.transpose(0, 1).reshape(-1, *weights.shape[2:])
    padded, padding = symmetric_padding(x, args.padding)
    y = F.conv2d(padded, stacked, None, args.stride, padding, args.dilation, groups)
    y = y.reshape(args.batch, groups, kernels, per_group, *args.out_size)
    y = torch.einsum("nk,ngkchw->ngchw", attention, y)
    return y.reshape(args.batch, args.out_channels, *args.out_size)
