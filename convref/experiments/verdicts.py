"""Verdicts that survive their own noise: means over seeds, confidence intervals, and comparisons.

An experiment run from several seeds gives one number per seed (a test accuracy, say). This
module turns those numbers into a statement that can be asserted:

* :func:`estimate` gives their mean and a Student-t confidence interval for the mean;
* :func:`compare` puts two such samples side by side (Welch's interval for the difference of
  the means) and says "A beats B", "B beats A", or "A and B cannot be told apart at this
  budget" when the interval contains zero;
* :func:`compare_to_level` compares one sample with a fixed number, such as a proven ceiling or
  chance;
* :func:`replication_chance` says how often a rerun would reach the same verdict, and a
  verdict that a rerun would miss more than one time in ten is marked fragile.

The interval treats the seeds as independent draws of the whole training run (initial weights,
data split, mini-batch order), so it measures how much the conclusion depends on the seed, not
how good the model class could be with more data or a longer budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Optional

import numpy as np

__all__ = [
    "Estimate",
    "Verdict",
    "student_t_quantile",
    "estimate",
    "compare",
    "compare_paired",
    "compare_to_level",
    "replication_chance",
]


def _check_confidence(confidence: object) -> float:
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool):
        raise TypeError(f"confidence must be a number, got {confidence!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(confidence)


def _check_sample(name: str, values: object) -> np.ndarray:
    try:
        sample = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a sequence of numbers, got {values!r}"
        ) from None
    if sample.ndim != 1 or len(sample) < 2:
        raise ValueError(
            f"{name} must hold at least two numbers (one per seed), got {values!r}"
        )
    if not np.isfinite(sample).all():
        raise ValueError(f"{name} must hold finite numbers, got {values!r}")
    return sample


def _t_angle_mass(angle: float, df: float) -> float:
    """P(0 <= T <= sqrt(df) tan(angle)) for Student's t with ``df`` degrees of freedom.

    The substitution t = sqrt(df) tan(phi) turns the density into a multiple of
    cos(phi)^(df - 1) on [0, pi/2): bounded and smooth, so Simpson's rule on 2,001 points is
    accurate to about 1e-12 even where t's own tails are heavy.
    """
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(math.pi)
    phi = np.linspace(0.0, angle, 2001)
    density = np.exp(log_norm + (df - 1) * np.log(np.cos(phi)))
    weights = np.ones_like(phi)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return float((weights * density).sum() * (angle / 2000) / 3)


def student_t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile of Student's t distribution with ``df`` degrees of freedom.

    ``df`` may be fractional (Welch's interval needs it). Newton's method on the angle
    ``phi = atan(t / sqrt(df))``, whose distribution function is concave, so the iterates rise
    monotonically to the root; accurate to about 1e-10.

    Parameters
    ----------
    probability : float
        In (0, 1).
    df : float
        Degrees of freedom, at least 1.

    Returns
    -------
    float
        ``t`` such that ``P(T <= t) = probability``.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability!r}")
    if not df >= 1:
        raise ValueError(f"df must be >= 1, got {df!r}")
    if probability < 0.5:
        return -student_t_quantile(1 - probability, df)
    target = probability - 0.5
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(math.pi)
    angle = 0.0
    for _ in range(200):
        slope = math.exp(log_norm + (df - 1) * math.log(math.cos(angle)))
        step = (target - _t_angle_mass(angle, df)) / slope
        angle = min(angle + step, (angle + math.pi / 2) / 2)  # never past pi/2
        if abs(step) < 1e-14:
            break
    return math.sqrt(df) * math.tan(angle)


@dataclass(frozen=True)
class Estimate:
    """The mean of a quantity over seeds, with a confidence interval for it.

    Attributes
    ----------
    mean, low, high : float
        The sample mean and the interval's ends.
    confidence : float
        The interval's confidence level, e.g. 0.95.
    count : int
        Number of values (seeds) behind it.
    """

    mean: float
    low: float
    high: float
    confidence: float
    count: int

    def format(self, spec: str = ".3f") -> str:
        """``"mean [low, high]"`` with each number formatted by ``spec`` (e.g. ``".1%"``)."""
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return f"{self.format()} ({self.confidence:.0%} interval, {self.count} seeds)"


def _mean_quantile(confidence: float, count: int) -> float:
    """Student's t quantile of a two-sided ``confidence`` interval for the mean of ``count`` values."""
    return student_t_quantile((1 + confidence) / 2, count - 1)


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """The mean of ``values`` and its Student-t confidence interval.

    Parameters
    ----------
    values : sequence of float
        One number per seed, at least two.
    confidence : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    Estimate
        ``mean ± t * s / sqrt(n)``, with ``s`` the sample standard deviation and ``t`` the
        quantile of Student's t with ``n - 1`` degrees of freedom.
    """
    confidence = _check_confidence(confidence)
    sample = _check_sample("values", values)
    count = len(sample)
    half_width = _mean_quantile(confidence, count) * (
        sample.std(ddof=1) / math.sqrt(count)
    )
    mean = float(sample.mean())
    return Estimate(mean, mean - half_width, mean + half_width, confidence, count)


FRAGILE_BELOW = 0.9
"""A verdict that a rerun reproduces less often than this is flagged as fragile."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing two things measured over seeds.

    Attributes
    ----------
    first, second : str
        The names of the two things compared (``second`` may be a fixed level, like
        ``"the additive ceiling (75%)"``).
    difference : Estimate
        ``first`` minus ``second``: the difference of the means and its interval.
    winner : str or None
        The name whose mean is higher when the interval excludes zero; ``None`` when it
        does not (the two cannot be told apart at this budget).
    replication : float
        The chance that the same experiment, run again with fresh seeds, reaches the same
        verdict (see :func:`replication_chance`); ``nan`` when unknown.
    """

    first: str
    second: str
    difference: Estimate
    winner: Optional[str]
    replication: float = math.nan

    @property
    def fragile(self) -> bool:
        """True when a rerun would reach another verdict more than one time in ten.

        Such a verdict is not one to assert either way: another CPU's rounding, which sends
        a training down another path much as a new seed does, can flip it. Assert the side
        that holds (``winner != loser``), or spend more seeds.
        """
        return self.replication < FRAGILE_BELOW

    @property
    def text(self) -> str:
        """The verdict as a sentence: "A beats B", or "A and B cannot be told apart at this budget"."""
        if self.winner is None:
            return f"{self.first} and {self.second} cannot be told apart at this budget"
        loser = self.second if self.winner == self.first else self.first
        return f"{self.winner} beats {loser}"

    def __str__(self) -> str:
        # the difference as the sentence reads it: the winner's lead, else first - second
        shown = self.difference
        if self.winner is not None and self.winner != self.first:
            shown = Estimate(
                -shown.mean, -shown.high, -shown.low, shown.confidence, shown.count
            )
        rerun = (
            f"; a rerun agrees {self.replication:.0%} of the time: fragile"
            if self.fragile
            else ""
        )
        return (
            f"{self.text} (difference {shown.format('+.3f')}, "
            f"{shown.confidence:.0%} interval{rerun})"
        )


def replication_chance(difference: Estimate, quantile: float) -> float:
    """How often a rerun with fresh seeds would reach the verdict ``difference`` gives.

    The observed difference ``D`` has standard error ``s = half-width / quantile``. If the
    true difference is ``D`` and the spread is ``s``, a rerun draws ``D' ~ Normal(D, s)`` and
    repeats the verdict when ``D'`` falls on the same side of ``+-quantile * s``: above
    ``quantile * s`` for a win, below ``-quantile * s`` for a loss, between them for a tie. A
    win whose interval just touches zero repeats half the time; one whose near end lies
    ``1.28 s`` (about a quarter of the interval's width) clear of zero, nine times in ten;
    a tie centred on zero, as often as the confidence level. With few seeds ``s`` is itself
    uncertain, so this is an indicator of fragility, not a guarantee of robustness.

    Parameters
    ----------
    difference : Estimate
        The difference of the two means with its interval.
    quantile : float
        The quantile the interval's half-width was built with (Student's t, or the normal).

    Returns
    -------
    float
        A probability; 1.0 when the difference is known exactly (zero width).
    """
    half_width = (difference.high - difference.low) / 2
    if half_width == 0 or not math.isfinite(half_width):
        return 1.0
    rerun = NormalDist(difference.mean, half_width / quantile)
    below_top, below_bottom = rerun.cdf(half_width), rerun.cdf(-half_width)
    if difference.low > 0:
        return 1 - below_top
    if difference.high < 0:
        return below_bottom
    return below_top - below_bottom


def _verdict(
    first: str, second: str, difference: Estimate, quantile: float
) -> Verdict:
    if difference.low > 0:
        winner: Optional[str] = first
    elif difference.high < 0:
        winner = second
    else:
        winner = None
    return Verdict(
        first, second, difference, winner, replication_chance(difference, quantile)
    )


def compare(
    first: Sequence[float],
    second: Sequence[float],
    names: tuple[str, str] = ("A", "B"),
    confidence: float = 0.95,
) -> Verdict:
    """Compare two samples of per-seed results with Welch's interval for the difference of means.

    Higher is better (accuracies). The two samples need not have the same size; they are
    treated as independent (Welch's unequal-variance interval, with the Welch–Satterthwaite
    degrees of freedom).

    Parameters
    ----------
    first, second : sequence of float
        One number per seed for each of the two things compared, at least two each.
    names : tuple of str
        Their names, used in the verdict's sentence.
    confidence : float
        Confidence level of the interval. When a chapter makes ``k`` comparisons at once,
        ``1 - 0.05 / k`` keeps the chance of any false verdict under 5% (Bonferroni).

    Returns
    -------
    Verdict
        Whose mean is higher, when the interval for the difference excludes zero.
    """
    confidence = _check_confidence(confidence)
    a, b = _check_sample("first", first), _check_sample("second", second)
    variance_a, variance_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    standard_error = math.sqrt(variance_a + variance_b)
    mean = float(a.mean() - b.mean())
    if standard_error == 0:  # both samples constant: the difference is known exactly
        return _verdict(
            names[0],
            names[1],
            Estimate(mean, mean, mean, confidence, len(a) + len(b)),
            quantile=1.0,
        )
    df = standard_error**4 / (
        variance_a**2 / (len(a) - 1) + variance_b**2 / (len(b) - 1)
    )
    quantile = student_t_quantile((1 + confidence) / 2, max(df, 1.0))
    half_width = quantile * standard_error
    interval = Estimate(
        mean, mean - half_width, mean + half_width, confidence, len(a) + len(b)
    )
    return _verdict(names[0], names[1], interval, quantile)


def compare_paired(
    first: Sequence[float],
    second: Sequence[float],
    names: tuple[str, str] = ("A", "B"),
    confidence: float = 0.95,
) -> Verdict:
    """Compare two measurements taken in pairs, such as one trained model scored two ways.

    When ``first[i]`` and ``second[i]`` come from the same seed (the same trained network,
    with and without an intervention), most of the seed-to-seed variation is common to both
    and cancels in the difference. The interval is then Student's for the mean of the
    differences, with ``n - 1`` degrees of freedom, and is usually much narrower than
    :func:`compare`'s.

    Parameters
    ----------
    first, second : sequence of float
        One number per seed each, in the same order, at least two.
    names : tuple of str
        Their names, used in the verdict's sentence.
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    Verdict
        Whose mean is higher, when the interval for the mean difference excludes zero.
    """
    a, b = _check_sample("first", first), _check_sample("second", second)
    if len(a) != len(b):
        raise ValueError(
            f"first and second must pair up, got {len(a)} and {len(b)} numbers"
        )
    difference = estimate(a - b, confidence)
    return _verdict(
        names[0],
        names[1],
        difference,
        _mean_quantile(difference.confidence, difference.count),
    )


def compare_to_level(
    values: Sequence[float],
    level: float,
    names: tuple[str, str] = ("A", "the level"),
    confidence: float = 0.95,
    test_samples: Optional[int] = None,
) -> Verdict:
    """Compare a sample of per-seed results with a fixed number (a proven ceiling, or chance).

    When every seed is scored on the same test set, that set's own sampling error is shared
    by all of them and the spread over seeds does not show it; pass ``test_samples`` to add
    it: the binomial standard error ``sqrt(m (1 - m) / test_samples)`` of an accuracy ``m``,
    combined with the seeds' interval in quadrature.

    Parameters
    ----------
    values : sequence of float
        One number per seed, at least two.
    level : float
        The fixed number.
    names : tuple of str
        The sample's name and the level's name, for the verdict's sentence.
    confidence : float
        Confidence level of the interval.
    test_samples : int, optional
        The size of the one test set all the values were measured on (accuracies only).

    Returns
    -------
    Verdict
        The sample beats the level when its whole interval lies above it, and the level wins
        when the interval lies below.
    """
    interval = estimate(values, confidence)
    level = float(level)
    half_width = (interval.high - interval.low) / 2
    if test_samples is not None:
        if not isinstance(test_samples, int) or test_samples < 1:
            raise ValueError(
                f"test_samples must be a positive int, got {test_samples!r}"
            )
        mean = min(max(interval.mean, 0.0), 1.0)
        z = NormalDist().inv_cdf((1 + confidence) / 2)
        sampling = z * math.sqrt(mean * (1 - mean) / test_samples)
        half_width = math.hypot(half_width, sampling)
    difference = Estimate(
        interval.mean - level,
        interval.mean - level - half_width,
        interval.mean - level + half_width,
        interval.confidence,
        interval.count,
    )
    # the seeds' t quantile, which the test set's normal one only narrows
    return _verdict(
        names[0],
        names[1],
        difference,
        _mean_quantile(interval.confidence, interval.count),
    )
