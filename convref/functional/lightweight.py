r"""PyTorch lightweight and dynamic convolution (Wu et al., ICLR 2019).

Same names and arguments as :mod:`convref.reference.lightweight`.

* LightConv is a depthwise convolution whose ``C`` kernels are ``H`` head kernels,
  each repeated for the ``C / H`` channels of its head: the ``(H, K)`` weight is
  expanded (a view, then one small copy) to PyTorch's ``(C, 1, K)`` and
  :func:`torch.nn.functional.conv1d` runs with ``groups=C``. The padding, asymmetric
  for an even ``"same"`` kernel and one-sided for ``"causal"``, is added by
  :func:`torch.nn.functional.pad` first.
* DynamicConv has a kernel per time step, which no convolution op takes. The output is
  accumulated one tap at a time: for tap ``j``, the padded input shifted by ``j`` (a
  view) times that tap's kernels, broadcast over the channels of each head, is added in
  place, ``K`` fused multiply-adds over ``(N, C, T)``. A custom autograd function does the
  same per tap backwards, so no ``(N, C, T, K)`` product is ever stored: memory stays that
  of the input and output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import (
    check_dynamic_lightweight_conv1d_args,
    check_lightweight_conv1d_args,
)
from ._precision import compute_dtype, follows_autocast

__all__ = ["dynamic_lightweight_conv1d", "lightweight_conv1d"]


def _normalised(kernel: torch.Tensor, dim: int, softmax: bool) -> torch.Tensor:
    """``kernel`` with a softmax over ``dim`` (in float32 for half precision)."""
    if not softmax:
        return kernel
    return torch.softmax(kernel.to(compute_dtype(kernel.dtype)), dim).to(kernel.dtype)


@follows_autocast
def lightweight_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    padding: str = "same",
    softmax: bool = True,
) -> torch.Tensor:
    r"""LightConv: a depthwise 1-D convolution whose kernels heads of channels share.

    Computes :func:`convref.reference.lightweight_conv1d`,

    .. math::

        y[n, c, t] = \sum_{j=0}^{K-1} w[h(c), j] \, x[n, c, t + j - \ell],

    as one :func:`torch.nn.functional.conv1d` with ``groups=C``, differentiable with
    respect to ``x`` and ``weight``.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C, T)``.
    weight : torch.Tensor
        One kernel per head, shape ``(H, K)``, same dtype as ``x``; ``H`` divides
        ``C``.
    padding : {"same", "causal"}
        ``"same"`` keeps the window centred (one more tap on the right for an even
        ``K``); ``"causal"`` lets output ``t`` see inputs up to ``t`` only.
    softmax : bool
        Normalise each head's kernel with a softmax over its ``K`` taps.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C, T)``.
    """
    args = check_lightweight_conv1d_args(
        x, weight, padding, softmax, array_type=torch.Tensor
    )
    w = _normalised(weight, 1, softmax)  # (H, K)
    per_head = args.channels // args.heads
    # (H, K) -> (H, C / H, K) -> (C, 1, K): channel c gets its head's kernel
    w_channel = w.unsqueeze(1).expand(args.heads, per_head, args.kernel_size)
    w_channel = w_channel.reshape(args.channels, 1, args.kernel_size)
    padded = F.pad(x, (args.left, args.right))
    return F.conv1d(padded, w_channel, groups=args.channels)


class _PerTapSum(torch.autograd.Function):
    """``y[..., t] = sum_j padded[..., t + j] * taps[..., j, t]``, one tap at a time.

    ``padded`` is ``(N, H, C / H, T + K - 1)``, ``taps`` is ``(N, H, 1, K, T)`` (one kernel
    per head, broadcast over its channels); ``y`` is ``(N, H, C / H, T)``.
    """

    @staticmethod
    def forward(ctx, padded: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        length = taps.shape[-1]
        y = padded[..., :length] * taps[..., 0, :]
        for j in range(1, taps.shape[-2]):
            y.addcmul_(padded[..., j : j + length], taps[..., j, :])
        ctx.save_for_backward(padded, taps)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        padded, taps = ctx.saved_tensors
        length, kernel_size = taps.shape[-1], taps.shape[-2]
        grad_padded = grad_taps = None
        if ctx.needs_input_grad[
            0
        ]:  # each tap sends grad * its kernel back to its shift
            grad_padded = torch.zeros_like(padded)
            for j in range(kernel_size):
                grad_padded[..., j : j + length].addcmul_(grad, taps[..., j, :])
        if ctx.needs_input_grad[
            1
        ]:  # each tap's kernel: grad * its shifted input, per head
            grad_taps = torch.stack(
                [
                    (grad * padded[..., j : j + length]).sum(2, keepdim=True)
                    for j in range(kernel_size)
                ],
                dim=-2,
            )
        return grad_padded, grad_taps


@follows_autocast
def dynamic_lightweight_conv1d(
    x: torch.Tensor,
    kernels: torch.Tensor,
    padding: str = "same",
    softmax: bool = True,
) -> torch.Tensor:
    r"""DynamicConv: LightConv with its own kernel at every sample, head and time step.

    Computes :func:`convref.reference.dynamic_lightweight_conv1d`,

    .. math::

        y[n, c, t] = \sum_{j=0}^{K-1} k[n, h(c), j, t] \, x[n, c, t + j - \ell],

    one tap at a time: ``K`` in-place multiply-adds of the shifted padded input with
    that tap's kernels, and the same per tap in the backward pass (a custom autograd
    function), differentiable with respect to ``x`` and ``kernels``. No Python loop
    runs over the time steps, and nothing of size ``N C T K`` is stored.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C, T)``.
    kernels : torch.Tensor
        The kernels, shape ``(N, H, K, T)``, same dtype as ``x``; ``H`` divides ``C``.
    padding : {"same", "causal"}
        As in :func:`lightweight_conv1d`.
    softmax : bool
        Normalise each kernel with a softmax over its ``K`` taps.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C, T)``.
    """
    args = check_dynamic_lightweight_conv1d_args(
        x, kernels, padding, softmax, array_type=torch.Tensor
    )
    k = _normalised(kernels, 2, softmax)  # (N, H, K, T)
    n, per_head = args.batch, args.channels // args.heads
    padded = F.pad(x, (args.left, args.right))
    padded = padded.reshape(n, args.heads, per_head, padded.shape[-1])
    y = _PerTapSum.apply(padded, k.unsqueeze(2))  # (N, H, C / H, T)
    return y.reshape(n, args.channels, args.length)
