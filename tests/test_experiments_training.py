"""convref.experiments.training: the seeding policy, the training loop and train_classifier.

Oracles: a linearly separable toy set (a linear model must reach it), sample counts of the
split worked out by hand, PyTorch's own random streams for the seeding helpers, and the SGD
with momentum update written out by hand for :func:`optimise`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from convref import experiments


# ---------------------------------------------------------------------------
# experiments.train_classifier on a linearly separable toy set
# ---------------------------------------------------------------------------

TRAIN_KEYS = {
    "train_accuracy",
    "test_accuracy",
    "loss",
    "params",
    "seconds",
    "epochs",
    "plateaued",
    "test_samples",
}
FAST = dict(epochs=3, lr=0.05, batch_size=32)


def separable_images(
    n: int = 400, seed: int = 0, margin: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 4x4 images, label 1 where the left half is brighter than the right.

    The classes are pushed ``margin`` apart along that direction, so the linear score
    mean(left) - mean(right) separates them exactly: a linear model can reach 100 %.
    """
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 1.0, (n, 1, 4, 4))
    score = images[:, 0, :, :2].mean(axis=(1, 2)) - images[:, 0, :, 2:].mean(
        axis=(1, 2)
    )
    labels = (score > 0).astype(np.int64)
    images[:, 0, :, :2] += np.where(labels == 1, margin, -margin)[:, None, None]
    score = images[:, 0, :, :2].mean(axis=(1, 2)) - images[:, 0, :, 2:].mean(
        axis=(1, 2)
    )
    assert ((score > margin) == (labels == 1)).all() and (np.abs(score) > margin).all()
    return images.astype(np.float32), labels


def tiny_model(seed: int = 0, hidden: int = 0) -> nn.Module:
    """A linear classifier (or one hidden layer), initialised from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if hidden:
            return nn.Sequential(
                nn.Flatten(), nn.Linear(16, hidden), nn.ReLU(), nn.Linear(hidden, 2)
            )
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, np.ndarray]:
    return separable_images()


def test_train_classifier_learns_a_separable_set(toy):
    images, labels = toy
    model = tiny_model()
    result = experiments.train_classifier(model, images, labels, seed=0, **FAST)
    assert set(result) == TRAIN_KEYS
    assert result["test_accuracy"] > 0.9 and result["train_accuracy"] > 0.9
    assert len(result["loss"]) == FAST["epochs"] and all(
        isinstance(v, float) for v in result["loss"]
    )
    assert (
        result["loss"][-1] < result["loss"][0] < math.log(2) + 0.5
    )  # starts near chance, goes down
    assert isinstance(result["seconds"], float) and 0 <= result["seconds"] < 10
    assert result["params"] == sum(p.numel() for p in model.parameters()) == 16 * 2 + 2
    # left in evaluation mode, every submodule too
    assert not any(m.training for m in model.modules())
    # The two accuracies are those of the returned (trained in place) model on its two parts:
    # 25 % of 400 = 100 samples held out, 300 trained on. Weighted, they give the number of
    # samples the model gets right, counted here directly.
    with torch.no_grad():
        correct = int(
            (model(torch.from_numpy(images)).argmax(1).numpy() == labels).sum()
        )
    assert (
        round(result["train_accuracy"] * 300) + round(result["test_accuracy"] * 100)
        == correct
    )
    assert result["train_accuracy"] * 300 == pytest.approx(
        round(result["train_accuracy"] * 300), abs=1e-4
    )
    assert result["test_accuracy"] * 100 == pytest.approx(
        round(result["test_accuracy"] * 100), abs=1e-4
    )


def test_train_classifier_test_fraction_sets_the_split(toy):
    images, labels = toy
    model = tiny_model()
    result = experiments.train_classifier(
        model, images, labels, test_fraction=0.1, **FAST
    )
    with torch.no_grad():
        correct = int(
            (model(torch.from_numpy(images)).argmax(1).numpy() == labels).sum()
        )
    assert (
        round(result["train_accuracy"] * 360) + round(result["test_accuracy"] * 40)
        == correct
    )


def test_train_classifier_deterministic_per_seed(toy):
    images, labels = toy
    model = tiny_model(hidden=8)
    twin = copy.deepcopy(model)
    first = experiments.train_classifier(model, images, labels, seed=5, **FAST)
    second = experiments.train_classifier(twin, images, labels, seed=5, **FAST)
    for key in TRAIN_KEYS - {"seconds"}:
        assert first[key] == second[key], key
    for (name, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items()):
        assert torch.equal(a, b), name
    other = experiments.train_classifier(
        tiny_model(hidden=8), images, labels, seed=6, **FAST
    )
    assert other["loss"] != first["loss"]  # another split and batch order


def test_train_classifier_accepts_tensors(toy):
    images, labels = toy
    from_numpy = experiments.train_classifier(tiny_model(), images, labels, **FAST)
    from_torch = experiments.train_classifier(
        tiny_model(), torch.from_numpy(images), torch.from_numpy(labels), **FAST
    )
    for key in TRAIN_KEYS - {"seconds"}:
        assert from_numpy[key] == from_torch[key], key


def test_train_classifier_leaves_global_rngs_alone(toy):
    images, labels = toy
    model = tiny_model()
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    experiments.train_classifier(model, images, labels, seed=3, **FAST)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert (
        after[0] == numpy_state[0]
        and np.array_equal(after[1], numpy_state[1])
        and after[2:] == numpy_state[2:]
    )


def test_train_classifier_counts_trainable_params_only(toy):
    images, labels = toy
    model = tiny_model(hidden=8)
    model[1].requires_grad_(False)  # freeze the hidden layer
    frozen = {name: p.detach().clone() for name, p in model[1].named_parameters()}
    result = experiments.train_classifier(model, images, labels, epochs=1)
    assert (
        result["params"] == sum(p.numel() for p in model[3].parameters()) == 8 * 2 + 2
    )
    for name, p in model[1].named_parameters():
        assert torch.equal(p, frozen[name]), name


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(test_fraction=0.0), r"^test_fraction must be in \(0, 1\), got 0\.0$"),
        (dict(test_fraction=1.0), r"^test_fraction must be in \(0, 1\), got 1\.0$"),
        (dict(test_fraction=-0.2), r"^test_fraction must be in \(0, 1\), got -0\.2$"),
        (
            dict(test_fraction=float("nan")),
            r"^test_fraction must be in \(0, 1\), got nan$",
        ),
        (dict(epochs=0), r"^epochs\b.*must be >= 1, got 0\b"),
        (dict(epochs=-3), r"^epochs\b.*must be >= 1, got -3\b"),
        (dict(batch_size=0), r"\bbatch_size\b.*must be >= 1, got (.* )?0$"),
    ],
    ids=str,
)
def test_train_classifier_bad_arguments(toy, kwargs, pattern):
    images, labels = toy
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=pattern):
        experiments.train_classifier(model, images, labels, **kwargs)
    for name, value in model.state_dict().items():  # refused before any training step
        assert torch.equal(value, before[name]), name


@pytest.mark.parametrize(
    "kwargs, exception, pattern",
    [
        (dict(epochs=2.5), TypeError, r"^epochs must be an int, got 2\.5$"),
        (dict(epochs=True), TypeError, r"^epochs must be an int, got True$"),
        (dict(batch_size=2.5), TypeError, r"^batch_size must be an int, got 2\.5$"),
        (dict(seed=1.5), TypeError, r"^seed must be an int, got 1\.5$"),
        (
            dict(test_fraction="0.5"),
            TypeError,
            r"^test_fraction must be a number, got '0\.5'$",
        ),
        (
            dict(test_fraction=0.999),
            ValueError,
            r"^test_fraction=0\.999 leaves no training samples out of 400$",
        ),
    ],
    ids=str,
)
def test_train_classifier_bad_argument_types(toy, kwargs, exception, pattern):
    images, labels = toy
    with pytest.raises(exception, match=pattern):
        experiments.train_classifier(tiny_model(), images, labels, **kwargs)


def test_train_classifier_refuses_float_labels(toy):
    images, labels = toy
    with pytest.raises(
        TypeError, match=r"^labels must hold integer class indices, got dtype float64$"
    ):
        experiments.train_classifier(
            tiny_model(), images, np.asarray(labels, dtype=np.float64) + 0.5
        )


def test_train_classifier_length_mismatch(toy):
    images, labels = toy
    with pytest.raises(
        ValueError,
        match=r"^images and labels must have the same length, got 400 and 399$",
    ):
        experiments.train_classifier(tiny_model(), images, labels[:-1])


# ---------------------------------------------------------------------------
# The seeding helpers and the loop
# ---------------------------------------------------------------------------


def test_seeded_draws_the_seeded_stream_and_restores_the_caller_s():
    torch.manual_seed(5)
    expected_inside = torch.rand(4)
    torch.manual_seed(99)
    expected_after = torch.rand(4)
    torch.manual_seed(99)
    with experiments.seeded(5):
        inside = torch.rand(4)
    assert torch.equal(inside, expected_inside)
    assert torch.equal(torch.rand(4), expected_after)


def test_seeded_generator_is_private():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    first = torch.rand(5, generator=experiments.seeded_generator(8))
    second = torch.rand(5, generator=experiments.seeded_generator(8))
    assert torch.equal(first, second) and not torch.equal(
        first, torch.rand(5, generator=experiments.seeded_generator(9))
    )
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("seed", [1.5, True, "0", None])
def test_seeding_helpers_refuse_a_seed_that_is_not_an_int(seed):
    with pytest.raises(
        TypeError, match=rf"^seed must be an int, got {seed!r}$".replace("(", r"\(")
    ):
        experiments.seeded_generator(seed)
    with pytest.raises(TypeError, match=r"^seed must be an int, got "):
        with experiments.seeded(seed):
            pass


def test_optimise_follows_sgd_with_momentum_by_hand():
    """One scalar fitted to batch means: PyTorch's SGD with momentum 0.9 written out step by step.

    Loss ``(p - mean(t[batch]))**2``; gradient ``g = 2 (p - mean)``; buffer ``v = g`` at the
    first step, then ``v = 0.9 v + g``; ``p -= lr v``. Each recorded loss is the one before its step.
    """
    targets = torch.tensor([1.0, 3.0, -2.0, 4.0, 0.5], dtype=torch.float64)
    batches = [
        torch.tensor([0, 1]),
        torch.tensor([2]),
        torch.tensor([3, 4, 0]),
        torch.tensor([1, 2]),
    ]
    p = torch.zeros((), dtype=torch.float64, requires_grad=True)
    losses = experiments.optimise(
        lambda b: (p - targets[b].mean()) ** 2, [p], batches, optimizer="sgd", lr=0.1
    )
    value, velocity, expected = 0.0, None, []
    for batch in batches:
        mean = float(targets[batch].mean())
        expected.append((value - mean) ** 2)
        gradient = 2 * (value - mean)
        velocity = gradient if velocity is None else 0.9 * velocity + gradient
        value -= 0.1 * velocity
    assert losses == pytest.approx(expected, rel=1e-12)
    assert p.item() == pytest.approx(value, rel=1e-12)


def test_optimise_draws_each_batch_after_the_previous_step():
    """The batches are drawn lazily: a shuffling generator stays in step with the training."""
    p = torch.ones((), requires_grad=True)
    seen = []

    def batches():
        for _ in range(3):
            seen.append(p.item())  # the parameter when this batch is drawn
            yield torch.tensor([0])

    experiments.optimise(lambda b: p**2, [p], batches(), optimizer="sgd", lr=0.25)
    # p: 1 -> 1 - 0.25 * 2 = 0.5 -> 0.5 - 0.25 * (0.9 * 2 + 1) = -0.2
    assert seen == pytest.approx([1.0, 0.5, -0.2])


def test_optimise_refuses_an_unknown_optimizer():
    p = torch.ones((), requires_grad=True)
    with pytest.raises(
        ValueError, match=r"^optimizer must be 'adam' or 'sgd', got 'lbfgs'$"
    ):
        experiments.optimise(
            lambda b: p**2, [p], [torch.tensor([0])], optimizer="lbfgs"
        )


def test_train_classifier_refuses_an_unknown_optimizer_before_touching_the_model(toy):
    images, labels = toy
    model = tiny_model().eval()
    with pytest.raises(
        ValueError, match=r"^optimizer must be 'adam' or 'sgd', got 'lbfgs'$"
    ):
        experiments.train_classifier(model, images, labels, optimizer="lbfgs")
    assert not model.training
