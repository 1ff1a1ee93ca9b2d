"""PyTorch version of the channel shuffle of ShuffleNet."""

from __future__ import annotations

import torch

from .._checks import check_channel_shuffle_args


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet).

    PyTorch version of :func:`convref.reference.channel_shuffle`: one reshape, one
    transpose and one copy; the same permutation as :class:`torch.nn.ChannelShuffle`.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C, H, W)``.
    groups : int
        Number of groups; must divide ``C``.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``, channels permuted.
    """
    groups = check_channel_shuffle_args(x, groups, array_type=torch.Tensor)
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)
