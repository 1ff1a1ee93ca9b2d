"""Small, seeded experiments that the chapters run to test the sources' claims."""

from __future__ import annotations

import time
from typing import Union

import numpy as np
import torch

from ._checks import _is_int, positive_int
from .nn import Conv2d

__all__ = ["activation_stds", "train_classifier"]


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


def train_classifier(
    model: torch.nn.Module,
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    epochs: int = 10,
    seed: int = 0,
    test_fraction: float = 0.25,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> dict:
    """Train a classifier with Adam and cross-entropy; report its train and test accuracy.

    The data are split once, with ``seed``, into a training part and a held-out test part
    (``test_fraction`` of the samples); the model is trained on the first and scored on both.
    Everything random here (the split and the order of the mini-batches) follows ``seed``;
    the model's initial weights are the caller's (seed before building it). The model is
    left in evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a float batch ``(B, ...)`` to logits ``(B, num_classes)``. Trained in place.
    images : numpy.ndarray or torch.Tensor
        Inputs, shape ``(N, ...)`` (e.g. ``(N, 1, H, W)`` from :func:`convref.data.shapes`).
    labels : numpy.ndarray or torch.Tensor
        Integer class labels, shape ``(N,)``.
    epochs : int
        Passes over the training part.
    seed : int
        Seed of the split and of the mini-batch order.
    test_fraction : float
        Share of the samples held out for testing, in (0, 1).
    batch_size : int
        Samples per optimisation step.
    lr : float
        Adam's learning rate.

    Returns
    -------
    dict
        ``train_accuracy`` and ``test_accuracy`` (fractions in [0, 1], after the last epoch),
        ``loss`` (mean training loss of each epoch, a list), ``params`` (trainable parameters)
        and ``seconds`` (wall time of the training).
    """
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not isinstance(test_fraction, (int, float)) or isinstance(test_fraction, bool):
        raise TypeError(f"test_fraction must be a number, got {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices, got dtype {str(y.dtype).removeprefix('torch.')}")
    y = y.to(torch.int64)
    if len(x) != len(y):
        raise ValueError(f"images and labels must have the same length, got {len(x)} and {len(y)}")
    generator = torch.Generator().manual_seed(seed)  # private: leaves the global RNG alone
    order = torch.randperm(len(x), generator=generator)
    n_test = max(1, int(round(test_fraction * len(x))))
    if n_test >= len(x):
        raise ValueError(
            f"test_fraction={test_fraction} leaves no training samples out of {len(x)}"
        )
    test, train = order[:n_test], order[n_test:]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def accuracy(index: torch.Tensor) -> float:
        model.eval()
        with torch.no_grad():
            predictions = torch.cat([model(x[index[i : i + 512]]).argmax(1) for i in range(0, len(index), 512)])
        return (predictions == y[index]).float().mean().item()

    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in train[torch.randperm(len(train), generator=generator)].split(batch_size):
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(train))
    seconds = time.perf_counter() - start
    return {
        "train_accuracy": accuracy(train),
        "test_accuracy": accuracy(test),
        "loss": losses,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "seconds": seconds,
    }


def input_influence(size: int, depth: int, padding_mode: str = "zeros", kernel_size: int = 3) -> np.ndarray:
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
        raise ValueError(f"padding_mode must be 'valid', 'zeros' or 'circular', got {padding_mode!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
    from .functional import conv2d

    pad = (kernel_size - 1) // 2
    weight = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        if padding_mode == "circular":  # wrap around: every pixel has a full neighbourhood
            y = conv2d(torch.nn.functional.pad(y, (pad,) * 4, mode="circular"), weight)
        else:
            y = conv2d(y, weight, padding="valid" if padding_mode == "valid" else "same")
    y.sum().backward()  # d(sum of outputs)/dx counts the paths, since every weight is 1
    return x.grad[0, 0].numpy()


__all__ += ["input_influence"]


def channel_connectivity(model: torch.nn.Module, in_channels: int, size: int = 5, seed: int = 0) -> np.ndarray:
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
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, in_channels, size, size, generator=generator, dtype=dtype).requires_grad_(True)
    y = model(x)
    rows = []
    for o in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        rows.append((grad[0] != 0).flatten(1).any(1))  # any pixel of input channel c reached output o
    return torch.stack(rows).numpy()


__all__ += ["channel_connectivity"]


def model_cost(model: torch.nn.Module, input_shape: tuple[int, ...]) -> dict:
    """Parameters, multiply-adds and convolution outputs of a model on one input, measured by running it.

    One forward pass on zeros of shape ``(1, *input_shape)``, with a hook on every
    convolution (:class:`torch.nn.Conv2d` or :class:`convref.nn.Conv2d`) and every
    :class:`torch.nn.Linear`: each adds its :func:`convref.arith.conv_cost` (at the output
    size it actually produced) or :func:`convref.arith.linear_cost`. The model is run in
    evaluation mode without gradients (so batch-norm statistics are not touched) and left in
    the mode it was in.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 20, 20)``.

    Returns
    -------
    dict
        ``params``: trainable parameters of the whole model; ``mult_adds``: multiply-adds of
        its convolution and linear layers for one input (weights only, as the papers count);
        ``conv_outputs``: elements of all the feature maps the convolutions produce for one
        input -- what training keeps in memory for the backward pass, per layer at least.
    """
    from .arith import Cost, conv_cost, linear_cost

    costs: list[Cost] = []
    outputs: list[int] = []

    def on_conv(module: torch.nn.Module, _: tuple, y: torch.Tensor) -> None:
        costs.append(
            conv_cost(module.in_channels, module.out_channels, module.kernel_size, tuple(y.shape[-2:]), module.groups)
        )
        outputs.append(y[0].numel())

    def on_linear(module: torch.nn.Linear, _: tuple, y: torch.Tensor) -> None:
        costs.append(linear_cost(module.in_features, module.out_features, bias=False))

    hooks = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, Conv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_hook(on_linear))
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, dtype=dtype))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return {
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "mult_adds": sum(costs, Cost()).mult_adds,
        "conv_outputs": sum(outputs),
    }


__all__ += ["model_cost"]
