"""The experiment protocol: Student-t quantiles, intervals, verdicts, stopping, seeds, BN scoring.

Each check compares with something outside the code: closed forms of the t distribution
(df = 1 is Cauchy, df = 2 has an explicit quantile), published table values, the coverage of
the intervals on simulated samples, a hand-made learning curve, and per-image evaluation.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import torch
from torch import nn

from convref import data, experiments
from convref.experiments import (
    Plateau,
    compare,
    compare_to_level,
    estimate,
    population_statistics,
    student_t_quantile,
    train_classifier,
    train_seeds,
    verdict,
)


@pytest.mark.parametrize("probability", [0.6, 0.9, 0.975, 0.9995])
def test_t_quantile_with_one_degree_of_freedom_is_cauchy(probability):
    expected = math.tan(math.pi * (probability - 0.5))
    assert student_t_quantile(probability, 1) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("probability", [0.55, 0.95, 0.995])
def test_t_quantile_with_two_degrees_of_freedom_has_a_closed_form(probability):
    p = probability
    expected = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    assert student_t_quantile(p, 2) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "df, expected",  # two-sided 95% values of the printed tables
    [(3, 3.182446305), (4, 2.776445105), (9, 2.262157163), (30, 2.042272456)],
)
def test_t_quantile_matches_the_tables(df, expected):
    assert student_t_quantile(0.975, df) == pytest.approx(expected, abs=1e-8)
    assert student_t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-8)


def test_t_quantile_tends_to_the_normal_one():
    z = NormalDist().inv_cdf(0.975)
    # Cornish-Fisher: t_p = z + (z^3 + z) / (4 df) + O(1 / df^2)
    df = 1e5
    assert student_t_quantile(0.975, df) == pytest.approx(
        z + (z**3 + z) / (4 * df), abs=1e-9
    )


def test_interval_covers_the_true_mean_as_often_as_it_says():
    # 1,500 samples of 4 normal draws: a 90% interval covers 0 in 90% of them (binomial
    # standard error 0.8 points: the band below is five of them)
    rng = np.random.default_rng(0)
    covered = 0
    for sample in rng.normal(0.0, 1.0, size=(1500, 4)):
        interval = estimate(sample, confidence=0.9)
        covered += interval.low <= 0 <= interval.high
    assert abs(covered / 1500 - 0.9) < 0.04


def test_welch_verdicts_have_the_level_they_claim():
    # Two equal designs: a 95% comparison names a winner in about 5% of the cases.
    # Clearly different ones: it names the right winner nearly always.
    rng = np.random.default_rng(1)
    false_verdicts = sum(
        compare(rng.normal(0.7, 0.02, 5), rng.normal(0.7, 0.05, 4)).winner is not None
        for _ in range(1000)
    )
    assert false_verdicts / 1000 < 0.08
    found = [
        compare(rng.normal(0.8, 0.02, 5), rng.normal(0.7, 0.02, 5), ("A", "B")).winner
        for _ in range(200)
    ]
    assert found.count("A") == 200


def test_verdict_sentences():
    assert compare([0.9, 0.91, 0.92], [0.5, 0.52, 0.51], ("A", "B")).text == "A beats B"
    assert compare([0.5, 0.52, 0.51], [0.9, 0.91, 0.92], ("A", "B")).text == "B beats A"
    tie = compare([0.5, 0.6, 0.7], [0.55, 0.65, 0.6], ("A", "B"))
    assert tie.winner is None
    assert tie.text == "A and B cannot be told apart at this budget"
    above = compare_to_level([0.8, 0.82, 0.81], 0.75, ("model", "the ceiling"))
    assert above.text == "model beats the ceiling"
    below = compare_to_level([0.6, 0.62, 0.61], 0.75, ("model", "the ceiling"))
    assert below.winner == "the ceiling"


def test_a_printed_verdict_gives_the_winners_lead():
    """The sentence names the winner first; the printed difference is its lead (+0.4)."""
    second_wins = compare([0.5, 0.52, 0.51], [0.9, 0.91, 0.92], ("A", "B"))
    assert second_wins.difference.mean == pytest.approx(-0.4)  # stored: A - B
    assert str(second_wins).startswith("B beats A (difference +0.400 [+0.")
    first_wins = compare([0.9, 0.91, 0.92], [0.5, 0.52, 0.51], ("A", "B"))
    assert str(first_wins).startswith("A beats B (difference +0.400 [+0.")
    tie = compare([0.5, 0.6, 0.7], [0.55, 0.65, 0.6], ("A", "B"))
    assert str(tie).startswith("A and B cannot be told apart at this budget (difference")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: estimate([0.5]), ValueError, "values must hold at least two numbers"),
        (lambda: estimate([0.5, float("nan")]), ValueError, "values must hold finite"),
        (
            lambda: estimate(["a", "b"]),
            TypeError,
            "values must be a sequence of numbers",
        ),
        (
            lambda: estimate([1, 2], confidence=1.5),
            ValueError,
            r"confidence must be in \(0, 1\)",
        ),
        (
            lambda: estimate([1, 2], confidence="95%"),
            TypeError,
            "confidence must be a number",
        ),
        (lambda: compare([1, 2], [3]), ValueError, "second must hold at least two"),
        (lambda: student_t_quantile(0.5, 0.5), ValueError, "df must be >= 1"),
        (
            lambda: student_t_quantile(1.0, 3),
            ValueError,
            r"probability must be in \(0, 1\)",
        ),
        (lambda: Plateau(patience=0), ValueError, "patience must be"),
        (lambda: Plateau(tolerance=0), ValueError, "tolerance must be > 0"),
        (
            lambda: Plateau(patience=3, min_epochs=3),
            ValueError,
            "min_epochs must be > patience",
        ),
    ],
)
def test_bad_arguments_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_plateau_rule_on_hand_made_curves():
    rule = Plateau(patience=2, tolerance=0.05, min_epochs=4)
    assert not rule.reached([1.0, 0.8, 0.7])  # too early
    assert not rule.reached(
        [1.0, 0.8, 0.7, 0.6]
    )  # 0.6 is 14% below 0.7... still falling
    assert rule.reached([1.0, 0.8, 0.7, 0.69, 0.68])  # 0.68 is 1.4% below 0.7: flat
    assert not rule.reached([1.0, 0.8, 0.7, 0.69, 0.6])


def _small_classifier():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4, track_running_stats=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 4),
    )


def test_training_stops_on_a_plateau_and_says_so():
    images, labels = data.shapes(256, size=12, seed=0)
    with experiments.seeded(0):
        model = _small_classifier()
    rule = Plateau(patience=2, tolerance=0.05, max_epochs=40, min_epochs=3)
    result = train_classifier(model, images, labels, seed=0, until=rule, lr=1e-2)
    assert result["plateaued"] and result["epochs"] < 40
    assert rule.reached(result["loss"]) and not rule.reached(result["loss"][:-1])
    short = train_classifier(_small_classifier(), images, labels, epochs=2, seed=0)
    assert short["epochs"] == 2 and not short["plateaued"]


def test_scores_do_not_depend_on_the_other_images_in_a_batch():
    # A batch norm without running averages normalises each evaluation batch with its own
    # statistics; after train_classifier it holds the training part's, so an image's
    # logits are the same alone as in a crowd.
    images, labels = data.shapes(200, size=12, seed=1)
    with experiments.seeded(0):
        model = _small_classifier()
    train_classifier(model, images, labels, epochs=2, seed=0)
    x = torch.from_numpy(images[:20])
    with torch.no_grad():
        crowd = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(20)])
    torch.testing.assert_close(alone, crowd, rtol=1e-5, atol=1e-5)


def test_population_statistics_are_the_training_averages():
    norm = nn.BatchNorm1d(3, track_running_stats=False)
    batches = [torch.randn(8, 3) * 2 + 1 for _ in range(5)]
    population_statistics(norm, batches)
    stacked = torch.stack(batches)
    torch.testing.assert_close(norm.running_mean, stacked.mean(dim=1).mean(0))
    torch.testing.assert_close(norm.running_var, stacked.var(dim=1).mean(0))
    assert not norm.training


def test_train_seeds_gives_each_seed_its_own_run():
    images, labels = data.shapes(160, size=12, seed=2)
    runs = train_seeds(
        "small", _small_classifier, images, labels, seeds=(0, 1, 2), epochs=2
    )
    assert runs.seeds == (0, 1, 2) and len(runs.models) == 3
    # seed 1 alone gives the same run as inside train_seeds
    with experiments.seeded(1):
        model = _small_classifier()
    alone = train_classifier(model, images, labels, epochs=2, seed=1)
    assert alone["loss"] == runs.results[1]["loss"]
    assert runs.results[0]["loss"] != runs.results[1]["loss"]
    interval = runs.estimate()
    assert interval.low <= np.mean(runs.values()) <= interval.high
    against_chance = verdict(runs, ("chance", 0.25))
    assert against_chance.first == "small" and against_chance.second == "chance"
    with pytest.raises(ValueError, match="seeds must hold at least two"):
        train_seeds("small", _small_classifier, images, labels, seeds=(0,))
    with pytest.raises(ValueError, match="key must be one of"):
        runs.values("accuracy")


def test_training_runs_on_the_thread_policy_and_restores_the_callers():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.linear(x.flatten(1))

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_classifier(
            Probe(), torch.randn(40, 4), torch.randint(0, 2, (40,)), epochs=1, seed=0
        )
        assert set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_shared_test_set_widens_the_comparison_with_a_level():
    # Two seeds that agree closely, both scored on one test set of 2,000 images: the seeds'
    # interval alone would put 76.6% above 75%, but the test set's own binomial error
    # (about 0.95 points, 1.86 at 95%) is shared by both and makes them indistinguishable.
    values = [0.767, 0.7665]
    assert compare_to_level(values, 0.75).winner == "A"
    widened = compare_to_level(values, 0.75, test_samples=2000)
    assert widened.winner is None
    half = (widened.difference.high - widened.difference.low) / 2
    seeds_only = compare_to_level(values, 0.75).difference
    seeds_half = (seeds_only.high - seeds_only.low) / 2
    sampling = 1.959964 * math.sqrt(0.76675 * 0.23325 / 2000)
    assert half == pytest.approx(math.hypot(seeds_half, sampling), rel=1e-6)


def test_paired_comparison_removes_what_the_pairs_share():
    # Five seeds that differ a lot, and an intervention that costs each exactly 0.02 give or
    # take 0.001: unpaired, the seeds' spread hides it; paired, it is found.
    seeds = np.array([0.55, 0.70, 0.62, 0.80, 0.66])
    after = seeds - 0.02 + np.array([0.001, -0.001, 0.0, 0.001, -0.001])
    assert compare(seeds, after).winner is None
    paired = experiments.compare_paired(seeds, after, ("before", "after"))
    assert paired.text == "before beats after"
    assert paired.difference.mean == pytest.approx(0.02)
    # the paired interval is the one-sample t interval of the differences (t_0.975,4)
    half = 2.776445105 * np.std(seeds - after, ddof=1) / np.sqrt(5)
    assert paired.difference.high - paired.difference.mean == pytest.approx(half)
    with pytest.raises(ValueError, match="must pair up"):
        experiments.compare_paired([1, 2, 3], [1, 2])


@pytest.mark.parametrize("true_difference", [0.0, 0.9, 2.3, 3.4, -2.8])
def test_replication_chance_is_how_often_a_rerun_agrees(true_difference):
    """Simulated reruns of an experiment whose difference has a known spread agree with the chance.

    When the observed difference is the true one and its standard error is known, the
    chance is exact: each rerun draws a new difference, builds its own interval with the
    normal quantile, and reaches a verdict, which the simulation counts.
    """
    z, error = NormalDist().inv_cdf(0.975), 1.0
    observed = experiments.Estimate(
        true_difference,
        true_difference - z * error,
        true_difference + z * error,
        0.95,
        8,
    )
    predicted = experiments.replication_chance(observed, z)
    reruns = np.random.default_rng(0).normal(true_difference, error, 200_000)
    # +1 a win, -1 a loss, 0 a tie: the interval excludes zero when |D| > z * error
    rerun_verdicts = np.sign(reruns) * (abs(reruns) > z * error)
    first_verdict = np.sign(true_difference) * (abs(true_difference) > z * error)
    assert np.mean(rerun_verdicts == first_verdict) == pytest.approx(predicted, abs=0.004)


def test_replication_chance_at_its_landmarks():
    """A win whose interval touches zero repeats half the time; a centred tie, at the confidence level."""
    z = NormalDist().inv_cdf(0.975)
    touching = experiments.Estimate(z, 1e-12, 2 * z, 0.95, 8)
    assert experiments.replication_chance(touching, z) == pytest.approx(0.5)
    centred = experiments.Estimate(0.0, -z, z, 0.95, 8)
    assert experiments.replication_chance(centred, z) == pytest.approx(0.95)
    exact = experiments.Estimate(0.3, 0.3, 0.3, 0.95, 8)
    assert experiments.replication_chance(exact, z) == 1.0


def test_fragile_verdicts_are_flagged_when_printed():
    """A win by a hair is fragile and says so; a wide win and a wide tie are not."""
    seeds = np.linspace(-1, 1, 6)
    by_a_hair = compare(0.60 + 0.02 * seeds, 0.575 + 0.02 * seeds, ("A", "B"))
    assert by_a_hair.winner == "A" and by_a_hair.fragile
    assert "fragile" in str(by_a_hair)
    assert 0.5 < by_a_hair.replication < 0.9
    clear = compare(0.9 + 0.02 * seeds, 0.5 + 0.02 * seeds, ("A", "B"))
    assert not clear.fragile and "fragile" not in str(clear)
    assert clear.replication > 0.999
    tie = compare(0.6 + 0.05 * seeds, 0.6 - 0.05 * seeds, ("A", "B"))
    assert tie.winner is None and not tie.fragile
