r"""PyTorch lightweight and dynamic convolution (Wu et al., ICLR 2019).

Same names and arguments as :mod:`convref.reference.lightweight`.

* LightConv is a depthwise convolution whose ``C`` kernels are ``H`` head kernels,
  each repeated for the ``C / H`` channels of its head: the ``(H, K)`` weight is
  expanded (a view, then one small copy) to PyTorch's ``(C, 1, K)`` and
  :func:`torch.nn.functional.conv1d` runs with ``groups=C``. The padding, asymmetric
  for an even ``"same"`` kernel and one-sided for ``"causal"``, is added by
  :func:`torch.nn.functional.pad` first.
* DynamicConv has a kernel per time step, which no convolution op takes. The padded
  input's windows are a strided view ``(N, C, T, K)`` (:meth:`torch.Tensor.unfold`,
  nothing copied), multiplied by the kernels broadcast over the channels of each
  head, and summed over the taps. The product holds ``K`` values per output, so the
  batch is processed in chunks of at most :data:`MAX_WINDOW_ELEMENTS` (a single
  chunk while tracing for export, where the graph cannot branch on the batch size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import (
    LightweightArgs,
    check_dynamic_lightweight_conv1d_args,
    check_lightweight_conv1d_args,
)
from ._precision import compute_dtype, follows_autocast
from ._tracing import batch_slices

__all__ = ["dynamic_lightweight_conv1d", "lightweight_conv1d"]

#: Largest number of window-times-kernel products that
#: :func:`dynamic_lightweight_conv1d` forms at once (4 Mi elements, 16 MB in float32);
#: larger batches are processed in chunks of samples.
MAX_WINDOW_ELEMENTS = 2**22


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


def _weighted_windows(
    x: torch.Tensor, kernels: torch.Tensor, args: LightweightArgs
) -> torch.Tensor:
    """``sum_j windows[..., j] * kernels[..., j]`` for a chunk: ``(n, C, T)``."""
    n = x.shape[0]
    per_head = args.channels // args.heads
    padded = F.pad(x, (args.left, args.right))
    windows = padded.unfold(2, args.kernel_size, 1)  # (n, C, T, K), a view
    windows = windows.reshape(n, args.heads, per_head, args.length, args.kernel_size)
    # (n, H, K, T) -> (n, H, 1, T, K): the same kernel for every channel of a head
    taps = kernels.transpose(2, 3).unsqueeze(2)
    y = (windows * taps).sum(-1)  # (n, H, C / H, T)
    return y.reshape(n, args.channels, args.length)


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

    from a strided view of the padded input's windows, multiplied by the kernels and
    summed over the taps, differentiable with respect to ``x`` and ``kernels``. No
    Python loop runs over the time steps; the batch is cut into chunks of at most
    :data:`MAX_WINDOW_ELEMENTS` products.

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
    per_sample = args.channels * args.length * args.kernel_size
    chunk = max(1, MAX_WINDOW_ELEMENTS // per_sample)
    outputs = [
        _weighted_windows(x[part], k[part], args)
        for part in batch_slices(args.batch, chunk)
    ]
    if not outputs:  # an empty batch
        return x.new_zeros((0, args.channels, args.length))
    return torch.cat(outputs) if len(outputs) > 1 else outputs[0]
