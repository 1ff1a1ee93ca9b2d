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
mini-batches drawn with replacement) both run it, on the package's thread policy (one
intra-op thread, see ``convref._threads``).

Stopping and scoring
--------------------
A classifier trains until its training loss reaches a :class:`Plateau` (or for a fixed number of
epochs, whose learning curve then says whether it had plateaued), so that a comparison is
between trained models, not between how fast each starts. It is scored in evaluation mode with
batch-norm statistics recomputed over the training part with the final weights
(:func:`population_statistics`): each test image's prediction then depends on that image alone,
not on the others that happen to share its batch.

Several seeds and a verdict: :mod:`convref.experiments.protocol`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
import torch

from .._checks import _is_int, positive_int
from .._threads import policy_threads

__all__ = [
    "seeded",
    "seeded_generator",
    "optimise",
    "Plateau",
    "train_classifier",
    "population_statistics",
]


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

    Notes
    -----
    The loop runs on the package's thread policy (one intra-op thread, restored afterwards).
    """
    step_rule = _optimizer(optimizer, parameters, lr)
    losses = []
    with policy_threads():
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


def _check_positive_number(name: str, value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Plateau:
    """The stopping rule "the training loss has stopped falling".

    Training stops after the first epoch at which the lowest training loss of the last
    ``patience`` epochs is not lower than the lowest loss before them by more than
    ``tolerance`` of it (a relative improvement), or after ``max_epochs``.

    Attributes
    ----------
    patience : int
        Epochs without enough improvement before stopping.
    tolerance : float
        The relative improvement that counts, e.g. 0.02 for 2%.
    max_epochs : int
        The budget; a run that reaches it has not plateaued.
    min_epochs : int
        Epochs always run before the rule is applied (at least ``patience + 1``).
    """

    patience: int = 3
    tolerance: float = 0.02
    max_epochs: int = 60
    min_epochs: int = 5

    def __post_init__(self) -> None:
        positive_int("patience", self.patience)
        _check_positive_number("tolerance", self.tolerance)
        positive_int("max_epochs", self.max_epochs)
        positive_int("min_epochs", self.min_epochs)
        if self.min_epochs <= self.patience:
            raise ValueError(
                f"min_epochs must be > patience = {self.patience}, "
                f"got {self.min_epochs}"
            )

    def reached(self, losses: Sequence[float]) -> bool:
        """Whether the learning curve ``losses`` (one mean training loss per epoch) has plateaued."""
        if len(losses) < self.min_epochs:
            return False
        before = min(losses[: -self.patience])
        recent = min(losses[-self.patience :])
        return recent > before * (1 - self.tolerance)


def _batch_norms(model: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]


def population_statistics(
    model: torch.nn.Module, batches: Iterable[torch.Tensor]
) -> torch.nn.Module:
    """Give every batch norm of ``model`` the exact mean and variance of its inputs over ``batches``.

    Two reasons to call it after training. Running averages kept during training trail the
    weights, which in short runs still move fast (an adder layer's outputs, in the hundreds,
    drift by more than their spread). And a batch norm without running averages
    (:func:`use_batch_statistics`) normalises each evaluation batch with that batch's own
    statistics, so that one test image's prediction depends on the others in its batch. After
    this call every batch norm holds running statistics equal to the average over ``batches``
    (its cumulative mode, ``momentum=None``, computed with the final weights), and in evaluation
    mode it is a fixed affine map.

    Parameters
    ----------
    model : torch.nn.Module
        Changed in place; left in evaluation mode.
    batches : iterable of torch.Tensor
        Inputs ``(B, ...)``, typically the training images in the mini-batch size of the
        training, so that the averaged batch variances match what the model trained with.

    Returns
    -------
    torch.nn.Module
        ``model``.
    """
    norms = _batch_norms(model)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        if (
            not norm.track_running_stats
        ):  # give it the buffers use_batch_statistics removed
            parameter = norm.weight if norm.weight is not None else None
            kwargs = {"device": parameter.device} if parameter is not None else {}
            norm.running_mean = torch.zeros(norm.num_features, **kwargs)
            norm.running_var = torch.ones(norm.num_features, **kwargs)
            norm.num_batches_tracked = torch.tensor(0, dtype=torch.long, **kwargs)
            norm.track_running_stats = True
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return model.eval()


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
    until: Optional[Plateau] = None,
    test: Optional[tuple] = None,
) -> dict:
    """Train a classifier with Adam (or SGD) and cross-entropy; report its train and test accuracy.

    The data are split once, with ``seed``, into a training part and a held-out test part
    (``test_fraction`` of the samples), unless a separate test set is given; the model is
    trained on the training part and scored on both. Everything random here (the split and the
    order of the mini-batches) follows ``seed`` through a private generator; the model's initial
    weights are the caller's (build it inside :func:`seeded`). Training runs on the package's
    thread policy. Before scoring, the batch norms get the statistics of the training part
    (:func:`population_statistics`); the model is left in evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a float batch ``(B, ...)`` to logits ``(B, num_classes)``. Trained in place.
    images : numpy.ndarray or torch.Tensor
        Inputs, shape ``(N, ...)`` (e.g. ``(N, 1, H, W)`` from :func:`convref.data.shapes`).
    labels : numpy.ndarray or torch.Tensor
        Integer class labels, shape ``(N,)``.
    epochs : int
        Passes over the training part (ignored when ``until`` is given).
    seed : int
        Seed of the split and of the mini-batch order.
    test_fraction : float
        Share of the samples held out for testing, in (0, 1) (unused when ``test`` is given).
    batch_size : int
        Samples per optimisation step.
    lr : float
        The optimiser's learning rate.
    optimizer : {"adam", "sgd"}
        As in :func:`optimise`.
    until : Plateau, optional
        Train until the training loss plateaus (at most ``until.max_epochs`` epochs) instead of
        for ``epochs`` epochs.
    test : tuple of (images, labels), optional
        A separate test set (generated with another seed): all of ``images`` then trains, and
        the test accuracy is measured on these, with less sampling noise than a split leaves.

    Returns
    -------
    dict
        ``train_accuracy`` and ``test_accuracy`` (fractions in [0, 1], after the last epoch),
        ``loss`` (mean training loss of each epoch, a list), ``test_samples`` (the size of
        the test part), ``epochs`` (how many ran),
        ``plateaued`` (whether the learning curve had flattened by the end, by ``until`` or by
        the default :class:`Plateau` rule), ``params`` (trainable parameters) and ``seconds``
        (wall time of the training).
    """
    if until is not None and not isinstance(until, Plateau):
        raise TypeError(f"until must be a Plateau or None, got {until!r}")
    rule = until if until is not None else Plateau()
    epochs = until.max_epochs if until is not None else positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    generator = seeded_generator(seed)
    x, y = _as_dataset(images, labels)
    order = torch.randperm(len(x), generator=generator)
    if test is None:
        test_fraction = _check_fraction(test_fraction)
        n_test = max(1, int(round(test_fraction * len(x))))
        if n_test >= len(x):
            raise ValueError(
                f"test_fraction={test_fraction} leaves no training samples "
                f"out of {len(x)}"
            )
        test_x, test_y, train = x, y, order[n_test:]
        test_index = order[:n_test]
    else:
        if not isinstance(test, tuple) or len(test) != 2:
            raise TypeError(
                f"test must be a pair (images, labels), got {type(test).__name__}"
            )
        test_x, test_y = _as_dataset(*test)
        train, test_index = order, torch.arange(len(test_x))
    optimizer = _check_optimizer(optimizer)  # refused before the model is touched
    step_losses: list[float] = []
    sizes = [len(batch) for batch in train.split(batch_size)]  # the same every epoch
    losses: list[float] = []

    def shuffled_epochs() -> Iterator[torch.Tensor]:
        for _ in range(epochs):  # a new order per epoch, drawn when the epoch starts
            yield from train[torch.randperm(len(train), generator=generator)].split(
                batch_size
            )
            # the epoch's steps have all run: record its mean loss; stop on a plateau
            epoch_losses = step_losses[-len(sizes) :]
            losses.append(sum(v * n for v, n in zip(epoch_losses, sizes)) / len(train))
            if until is not None and until.reached(losses):
                return

    def cross_entropy(batch: torch.Tensor) -> torch.Tensor:
        value = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        step_losses.append(value.item())
        return value

    model.train()
    start = time.perf_counter()
    with policy_threads():
        optimise(cross_entropy, model.parameters(), shuffled_epochs(), optimizer, lr)
        seconds = time.perf_counter() - start
        population_statistics(model, (x[batch] for batch in train.split(batch_size)))
        scores = {
            "train_accuracy": _accuracy(model, x, y, train),
            "test_accuracy": _accuracy(model, test_x, test_y, test_index),
        }
    return {
        **scores,
        "loss": losses,
        "test_samples": len(test_index),
        "epochs": len(losses),
        "plateaued": rule.reached(losses),
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
