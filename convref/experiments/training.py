"""The protocol every experiment follows: one seeding policy and one training loop.

Seeding policy
--------------
Every experiment draws all its randomness from its ``seed`` argument and leaves the caller's
random state as it was, so that running one experiment never changes the numbers of the next:

* draws that accept a generator (a split, a mini-batch order, random kernels and inputs) use a
  private :class:`torch.Generator` from :func:`seeded_generator`;
* draws that only PyTorch's global generator can make (building layers with their default
  initialisation) run inside :func:`seeded`, which saves the global state, seeds it, and
  restores it on exit.

The one exception is :func:`train_classifier`'s model: its initial weights are the caller's,
drawn before the call (inside :func:`seeded`, or after ``torch.manual_seed`` in a chapter).

Training loop
-------------
:func:`optimise` is the loop: one optimiser step per mini-batch of sample indices, the loss of
each step recorded. :func:`train_classifier` (cross-entropy, epochs of shuffled mini-batches,
a held-out test part) and :func:`convref.experiments.train_upsampler` (mean squared error,
mini-batches drawn with replacement) both run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Callable, Union

import numpy as np
import torch

from .._checks import _is_int, positive_int

__all__ = ["seeded", "seeded_generator", "optimise", "train_classifier"]


def check_seed(seed: object) -> int:
    """``seed`` if it is an int (not a bool), else a ``TypeError`` naming it."""
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return int(seed)


def seeded_generator(seed: int) -> torch.Generator:
    """A private CPU random generator seeded with ``seed``; PyTorch's global generator is not touched.

    Parameters
    ----------
    seed : int
        The seed.

    Returns
    -------
    torch.Generator
        Pass it as ``generator=`` to ``torch.randn``, ``torch.randperm``, ``torch.randint``, ...
    """
    return torch.Generator().manual_seed(check_seed(seed))


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with PyTorch's global CPU generator seeded with ``seed``, then restore its state.

    For draws that cannot take a private generator, such as the default initialisation of a
    new layer: ``with seeded(0): model = build()`` gives the same weights as
    ``torch.manual_seed(0); model = build()``, and the caller's random stream continues
    afterwards as if the block had not run.

    Parameters
    ----------
    seed : int
        The seed.

    Yields
    ------
    None
        Inside the block the global generator starts from ``seed``.
    """
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the experiments draw on the CPU only
        torch.manual_seed(seed)
        yield


def _check_optimizer(name: object) -> str:
    if name not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")
    return name


def _optimizer(
    name: str, parameters: Iterable[torch.Tensor], lr: float
) -> torch.optim.Optimizer:
    if _check_optimizer(name) == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    return torch.optim.SGD(parameters, lr=lr, momentum=0.9)


def optimise(
    loss: Callable[[torch.Tensor], torch.Tensor],
    parameters: Iterable[torch.Tensor],
    batches: Iterable[torch.Tensor],
    optimizer: str = "adam",
    lr: float = 3e-3,
) -> list[float]:
    """The training loop: for each mini-batch, evaluate ``loss(batch)`` and take one optimiser step.

    Parameters
    ----------
    loss : callable
        Maps a mini-batch of sample indices, shape ``(B,)``, to a scalar (0-dim) loss tensor
        that depends on ``parameters``.
    parameters : iterable of torch.Tensor
        The tensors to fit (``requires_grad=True``, any shape), updated in place.
    batches : iterable of torch.Tensor
        Index tensors ``(B,)``, one per step; drawn lazily, so a generator that shuffles with a
        private random generator keeps its random stream in step with the training.
    optimizer : {"adam", "sgd"}
        Adam, or SGD with momentum 0.9 (the optimiser whose step follows the gradient's scale,
        which AdderNet's adaptive learning rate is designed for).
    lr : float
        The optimiser's learning rate.

    Returns
    -------
    list of float
        The loss of every step, before that step's update.
    """
    step_rule = _optimizer(optimizer, parameters, lr)
    losses = []
    for batch in batches:
        value = loss(batch)
        step_rule.zero_grad()
        value.backward()
        step_rule.step()
        losses.append(value.item())
    return losses


def _check_fraction(test_fraction: object) -> float:
    if not isinstance(test_fraction, (int, float)) or isinstance(test_fraction, bool):
        raise TypeError(f"test_fraction must be a number, got {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    return test_fraction


def _as_dataset(
    images: Union[np.ndarray, torch.Tensor], labels: Union[np.ndarray, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(
            f"labels must hold integer class indices, got dtype {str(y.dtype).removeprefix('torch.')}"
        )
    if len(x) != len(y):
        raise ValueError(
            f"images and labels must have the same length, got {len(x)} and {len(y)}"
        )
    return x, y.to(torch.int64)


def _accuracy(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor
) -> float:
    """Share of ``index``'s samples that ``model`` (put in evaluation mode) classifies right, 512 at a time."""
    model.eval()
    with torch.no_grad():
        predictions = torch.cat(
            [model(x[index[i : i + 512]]).argmax(1) for i in range(0, len(index), 512)]
        )
    return (predictions == y[index]).float().mean().item()


def train_classifier(
    model: torch.nn.Module,
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    epochs: int = 10,
    seed: int = 0,
    test_fraction: float = 0.25,
    batch_size: int = 64,
    lr: float = 3e-3,
    optimizer: str = "adam",
) -> dict:
    """Train a classifier with Adam (or SGD) and cross-entropy; report its train and test accuracy.

    The data are split once, with ``seed``, into a training part and a held-out test part
    (``test_fraction`` of the samples); the model is trained on the first and scored on both.
    Everything random here (the split and the order of the mini-batches) follows ``seed``
    through a private generator; the model's initial weights are the caller's (build it
    inside :func:`seeded`). The model is left in evaluation mode.

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
        The optimiser's learning rate.
    optimizer : {"adam", "sgd"}
        As in :func:`optimise`.

    Returns
    -------
    dict
        ``train_accuracy`` and ``test_accuracy`` (fractions in [0, 1], after the last epoch),
        ``loss`` (mean training loss of each epoch, a list), ``params`` (trainable parameters)
        and ``seconds`` (wall time of the training).
    """
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    generator = seeded_generator(seed)
    test_fraction = _check_fraction(test_fraction)
    x, y = _as_dataset(images, labels)
    order = torch.randperm(len(x), generator=generator)
    n_test = max(1, int(round(test_fraction * len(x))))
    if n_test >= len(x):
        raise ValueError(
            f"test_fraction={test_fraction} leaves no training samples out of {len(x)}"
        )
    test, train = order[:n_test], order[n_test:]
    optimizer = _check_optimizer(optimizer)  # refused before the model is touched

    def shuffled_epochs() -> Iterator[torch.Tensor]:
        for _ in range(epochs):  # a new order per epoch, drawn when the epoch starts
            yield from train[torch.randperm(len(train), generator=generator)].split(
                batch_size
            )

    def cross_entropy(batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(x[batch]), y[batch])

    model.train()
    start = time.perf_counter()
    steps = optimise(
        cross_entropy, model.parameters(), shuffled_epochs(), optimizer, lr
    )
    seconds = time.perf_counter() - start
    sizes = [
        len(batch) for batch in train.split(batch_size)
    ]  # every epoch: the same batch sizes, in order
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for loss, size in zip(
            steps[epoch * len(sizes) : (epoch + 1) * len(sizes)], sizes
        ):
            total += loss * size
        losses.append(total / len(train))
    return {
        "train_accuracy": _accuracy(model, x, y, train),
        "test_accuracy": _accuracy(model, x, y, test),
        "loss": losses,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "seconds": seconds,
    }


def use_batch_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Make every BatchNorm of ``model`` normalise with the current batch's statistics, in evaluation too.

    PyTorch's BatchNorm does so when it holds no running averages; this removes them
    (equivalent to building it with ``track_running_stats=False``). The chapters' networks
    train for seconds, while their weights still move fast: running averages would lag behind.

    Parameters
    ----------
    model : torch.nn.Module
        Changed in place.

    Returns
    -------
    torch.nn.Module
        ``model``.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return model


def run_hooked(
    model: torch.nn.Module, hooks: list, x: Union[np.ndarray, torch.Tensor, tuple]
) -> None:
    """Run ``model`` once in evaluation mode without gradients, then remove ``hooks`` and restore its mode.

    Parameters
    ----------
    model : torch.nn.Module
        The network whose forward hooks record what the caller needs.
    hooks : list of torch.utils.hooks.RemovableHandle
        Removed after the pass, whether it succeeds or not.
    x : numpy.ndarray, torch.Tensor or tuple of int
        A batch ``(N, ...)``, or the shape of one input without the batch axis: then two zero
        inputs run (a BatchNorm that normalises with the batch's statistics needs more than one
        value). The input takes the dtype of the model's parameters.
    """
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    batch = (
        torch.zeros(2, *x, dtype=dtype)
        if isinstance(x, tuple)
        else torch.as_tensor(x, dtype=dtype)
    )
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(batch)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
