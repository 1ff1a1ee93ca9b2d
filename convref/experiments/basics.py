"""Chapter "Convolution basics" (and the grouped-convolution chapter): what a stack of layers does to its input.

:func:`activation_stds` follows the activations' scale through a deep stack under each
initialisation scheme; :func:`input_influence` counts how often a box-filter stack reads each
input pixel under each padding; :func:`channel_connectivity` reads off real gradients which
input channels each output channel depends on (grouped convolutions, channel shuffles).
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import positive_int
from ..functional import conv2d
from ..nn import Conv2d
from .training import seeded, seeded_generator

__all__ = ["activation_stds", "input_influence", "channel_connectivity"]


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
        Seed for the input and the weights (the caller's random state is left alone).

    Returns
    -------
    list of float
        ``depth + 1`` values: the input's standard deviation, then one per layer.
    """
    # the layers draw their weights from PyTorch's global generator, one after another
    with seeded(seed), torch.no_grad():
        x = torch.randn(batch, channels, size, size)
        stds = [x.std().item()]
        for _ in range(depth):
            layer = Conv2d(
                channels, channels, 3, padding="same", bias=False, init=scheme
            )
            x = torch.relu(layer(x))
            stds.append(x.std().item())
    return stds


def input_influence(
    size: int, depth: int, padding_mode: str = "zeros", kernel_size: int = 3
) -> np.ndarray:
    """How strongly each input pixel reaches the output of a stack of box filters.

    The stack is ``depth`` single-channel convolutions with an all-ones ``kernel_size``
    kernel (stride 1). The result is the gradient of the sum of the final output with
    respect to the input: for these kernels, entry ``(i, j)`` is the number of paths from
    input pixel ``(i, j)`` to the outputs, i.e. how many times the network reads that pixel.
    Comparing border and centre shows how much of the edges a padding scheme keeps.

    Parameters
    ----------
    size : int
        Side of the square input.
    depth : int
        Number of convolutions in the stack.
    padding_mode : {"valid", "zeros", "circular"}
        ``"valid"``: no padding (the map shrinks by ``kernel_size - 1`` per layer);
        ``"zeros"``: ``"same"`` zero padding; ``"circular"``: ``"same"`` size, the input
        wrapped around like a torus.
    kernel_size : int
        Odd side of the box kernel.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64: the path counts.
    """
    if padding_mode not in ("valid", "zeros", "circular"):
        raise ValueError(
            f"padding_mode must be 'valid', 'zeros' or 'circular', got {padding_mode!r}"
        )
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
    pad = (kernel_size - 1) // 2
    weight = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        if (
            padding_mode == "circular"
        ):  # wrap around: every pixel has a full neighbourhood
            y = conv2d(torch.nn.functional.pad(y, (pad,) * 4, mode="circular"), weight)
        else:
            y = conv2d(
                y, weight, padding="valid" if padding_mode == "valid" else "same"
            )
    y.sum().backward()  # d(sum of outputs)/dx counts the paths, since every weight is 1
    return x.grad[0, 0].numpy()


def channel_connectivity(
    model: torch.nn.Module, in_channels: int, size: int = 5, seed: int = 0
) -> np.ndarray:
    """Which input channels each output channel of ``model`` depends on, read off real gradients.

    A random input ``(1, in_channels, size, size)`` goes through ``model``; for every output
    channel ``o`` the gradient of ``y[0, o].sum()`` with respect to the input is taken, and
    input channel ``c`` counts as connected when any entry of that gradient in channel ``c``
    is nonzero. For a stack of convolutions (grouped or not, with or without channel
    shuffles) this is the product of the layers' block-diagonal channel masks and
    permutations: a weight that no path uses gets no gradient. With random weights an
    exact cancellation to zero has probability zero, so structural zeros are the only zeros.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(1, in_channels, size, size)`` to ``(1, C_out, H_out, W_out)``.
    in_channels : int
        Channels of the input.
    size : int
        Side of the random input (large enough for the model's kernels).
    seed : int
        Seed of the random input.

    Returns
    -------
    numpy.ndarray
        Boolean, shape ``(C_out, in_channels)``: entry ``[o, c]`` is True when output channel
        ``o`` depends on input channel ``c``.
    """
    in_channels = positive_int("in_channels", in_channels)
    size = positive_int("size", size)
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float64
    generator = seeded_generator(seed)
    x = torch.randn(
        1, in_channels, size, size, generator=generator, dtype=dtype
    ).requires_grad_(True)
    y = model(x)
    rows = []
    for o in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        rows.append(
            (grad[0] != 0).flatten(1).any(1)
        )  # any pixel of input channel c reached output o
    return torch.stack(rows).numpy()
