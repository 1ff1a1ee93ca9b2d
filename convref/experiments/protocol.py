"""The experiment protocol: train from several seeds to a stated criterion, then give a verdict.

A chapter that compares designs does it in three steps, each one call:

1. :func:`train_seeds` builds and trains one design from each seed (its initial weights, data
   split and mini-batch order all follow the seed), with :func:`train_classifier`, until the
   training loss plateaus or for a fixed budget, and returns a :class:`SeedRuns`;
2. :meth:`SeedRuns.estimate` gives the mean over seeds with a confidence interval;
3. :func:`verdict` compares two designs (or one design with a fixed level, such as a proven
   ceiling) and returns a :class:`~convref.experiments.verdicts.Verdict`, whose sentence the
   chapter prints and whose winner it asserts.

The seeds run one after another. Stacking them into one network (``torch.func.vmap`` over
``functional_call``) was measured on the chapters' networks on two CPU cores: no faster than
the loop (1.0x to 0.75x of its speed), because these networks spend their time in per-step
overheads that batching does not remove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import torch

from .training import check_seed, seeded, train_classifier
from .verdicts import Estimate, Verdict, compare, compare_to_level, estimate

__all__ = ["SeedRuns", "ROW_HEADERS", "train_seeds", "verdict"]


@dataclass(frozen=True)
class SeedRuns:
    """One design trained from several seeds.

    Attributes
    ----------
    name : str
        The design's name, used in tables and verdicts.
    seeds : tuple of int
        The seeds, in order.
    results : tuple of dict
        :func:`train_classifier`'s result for each seed.
    models : tuple of torch.nn.Module
        The trained models, in evaluation mode.
    shared_test : bool
        Whether every seed was scored on the same separate test set (else each on its own
        held-out split, whose sampling error the spread over seeds already contains).
    """

    name: str
    seeds: tuple[int, ...]
    results: tuple[dict, ...]
    models: tuple[torch.nn.Module, ...]
    shared_test: bool = False

    def values(self, key: str = "test_accuracy") -> list[float]:
        """The result ``key`` of every seed, e.g. ``"test_accuracy"`` or ``"train_accuracy"``."""
        if key not in self.results[0]:
            raise ValueError(
                f"key must be one of {sorted(self.results[0])}, got {key!r}"
            )
        return [float(result[key]) for result in self.results]

    def estimate(
        self, key: str = "test_accuracy", confidence: float = 0.95
    ) -> Estimate:
        """The mean of ``key`` over the seeds, with its confidence interval."""
        return estimate(self.values(key), confidence)

    @property
    def plateaued(self) -> bool:
        """Whether every seed's training loss had stopped falling when its training ended."""
        return all(result["plateaued"] for result in self.results)

    @property
    def params(self) -> int:
        """Trainable parameters of the design."""
        return int(self.results[0]["params"])

    @property
    def seconds(self) -> float:
        """Total training time over the seeds."""
        return float(sum(result["seconds"] for result in self.results))

    def row(self, confidence: float = 0.95) -> tuple:
        """A table row: name, parameters, test accuracy with interval, train accuracy, epochs."""
        return (
            self.name,
            self.params,
            self.estimate("test_accuracy", confidence).format(".1%"),
            self.estimate("train_accuracy", confidence).format(".1%"),
            " ".join(str(result["epochs"]) for result in self.results),
        )


#: The column names of ``SeedRuns.row()``, for :func:`convref.viz.show_table`.
ROW_HEADERS = ("design", "params", "test accuracy [95% CI]", "train accuracy", "epochs")


def train_seeds(
    name: str,
    build: Callable[[], torch.nn.Module],
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    **training,
) -> SeedRuns:
    """Build and train one design from each seed.

    For each seed, the model is built inside :func:`seeded` (its initial weights follow the
    seed) and trained with :func:`train_classifier` (split and mini-batch order follow it too).

    Parameters
    ----------
    name : str
        The design's name.
    build : callable
        Returns a new, untrained model; called once per seed.
    images : numpy.ndarray or torch.Tensor
        Training inputs, shape ``(N, ...)``, as for :func:`train_classifier`.
    labels : numpy.ndarray or torch.Tensor
        Integer class labels, shape ``(N,)``.
    seeds : sequence of int
        At least two, so that an interval can be given.
    **training
        Passed to :func:`train_classifier` (``until=Plateau(...)``, ``epochs``, ``lr``,
        ``test=(images, labels)``, ...).

    Returns
    -------
    SeedRuns
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if not callable(build):
        raise TypeError(f"build must be callable, got {build!r}")
    if "seed" in training:
        raise TypeError("train_seeds takes seeds=, not seed=")
    seeds = tuple(check_seed(seed) for seed in seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least two seeds, got {seeds!r}")
    results, models = [], []
    for seed in seeds:
        with seeded(seed):
            model = build()
        results.append(train_classifier(model, images, labels, seed=seed, **training))
        models.append(model)
    return SeedRuns(
        name, seeds, tuple(results), tuple(models), training.get("test") is not None
    )


def verdict(
    first: SeedRuns,
    second: Union[SeedRuns, tuple[str, float]],
    key: str = "test_accuracy",
    confidence: float = 0.95,
) -> Verdict:
    """Compare two designs trained from several seeds, or one design with a fixed level.

    Parameters
    ----------
    first : SeedRuns
        A design.
    second : SeedRuns or tuple of (str, float)
        Another design, or a named level such as ``("the additive ceiling", 0.75)``.
    key : str
        The result compared (higher is better).
    confidence : float
        Confidence level of the interval for the difference.

    Returns
    -------
    Verdict
        "first beats second", "second beats first", or "cannot be told apart at this budget".
        Against a level, when every seed was scored on one separate test set, that set's
        binomial sampling error widens the interval
        (:func:`~convref.experiments.compare_to_level`).
    """
    if isinstance(second, SeedRuns):
        return compare(
            first.values(key), second.values(key), (first.name, second.name), confidence
        )
    level_name, level = second
    # every seed met the same test set when one was given: its sampling error is shared
    test_sizes = {result["test_samples"] for result in first.results}
    shared_test = key == "test_accuracy" and len(test_sizes) == 1 and first.shared_test
    return compare_to_level(
        first.values(key),
        level,
        (first.name, level_name),
        confidence,
        test_samples=test_sizes.pop() if shared_test else None,
    )
