"""NumPy reference of the channel shuffle of ShuffleNet (Zhang et al. 2018)."""

from __future__ import annotations

import numpy as np

from .._checks import check_channel_shuffle_args


def channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """Interleave the channels of ``groups`` groups, so the next grouped layer sees all of them.

    Channel ``g * (C / groups) + i`` (the ``i``-th channel of group ``g``) moves to position
    ``i * groups + g``: the channels are written as a ``(groups, C / groups)`` matrix,
    transposed and read out again. After the shuffle, every group of a following grouped
    convolution receives channels from every group of the previous one.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, H, W)``.
    groups : int
        Number of groups; must divide ``C``.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``x``, channels permuted.
    """
    groups = check_channel_shuffle_args(x, groups, array_type=np.ndarray)
    n, c, h, w = x.shape
    return (
        x.reshape(n, groups, c // groups, h, w)
        .transpose(0, 2, 1, 3, 4)
        .reshape(n, c, h, w)
    )
