"""Small, seeded experiments that the chapters run to test the sources' claims."""

from __future__ import annotations

import torch

from .nn import Conv2d

__all__ = ["activation_stds"]


def activation_stds(
    scheme: str,
    depth: int = 20,
    channels: int = 32,
    size: int = 16,
    batch: int = 8,
    seed: int = 0,
) -> list[float]:
    """Standard deviation of the activations after each layer of a deep conv + ReLU stack.

    The input is unit Gaussian noise; every layer is a 3x3 :class:`convref.nn.Conv2d`
    (``padding="same"``, no bias) initialised with ``scheme`` and followed by a ReLU.

    Parameters
    ----------
    scheme : {"random", "xavier", "he"}
        Initialisation of :mod:`convref.nn.init`.
    depth, channels, size, batch : int
        Layers, channels per layer, feature-map side and batch size.
    seed : int
        Seed for the input and the weights.

    Returns
    -------
    list of float
        ``depth + 1`` values: the input's standard deviation, then one per layer.
    """
    torch.manual_seed(seed)
    x = torch.randn(batch, channels, size, size)
    stds = [x.std().item()]
    with torch.no_grad():
        for _ in range(depth):
            layer = Conv2d(channels, channels, 3, padding="same", bias=False, init=scheme)
            x = torch.relu(layer(x))
            stds.append(x.std().item())
    return stds
