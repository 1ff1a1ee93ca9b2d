"""convref.experiments.adder: template matching, weight statistics, gradients, operation counts and the chapter's network.

Oracles, none of them the code under test: scores written out with explicit loops (the
``scores_by_loops`` fixture of conftest.py), PyTorch's own ``conv2d`` for correlations,
distributions whose kurtosis is known in closed form (two points, Bernoulli, Gaussian, Laplace,
uniform), the analytic gradient of a convolution followed by average pooling and cross-entropy,
operation counts and parameter counts added up by hand for a known network, and chance level
(and the uniform guess's loss, log 4) for the four-class training run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convref import data, experiments
from convref.nn import Adder2d

# ---------------------------------------------------------------------------
# experiments.template_responses
# ---------------------------------------------------------------------------


def test_template_responses_by_loops(scores_by_loops):
    rng = np.random.default_rng(0)
    image, template = rng.uniform(size=(9, 11)), rng.normal(size=(3, 4))
    scores = experiments.template_responses(image, template)
    correlation, distance = scores_by_loops(image, template)
    assert list(scores) == ["correlation", "negative L1"]
    np.testing.assert_allclose(scores["correlation"], correlation, atol=1e-12)
    np.testing.assert_allclose(scores["negative L1"], distance, atol=1e-12)
    torch_corr = F.conv2d(
        torch.from_numpy(image)[None, None], torch.from_numpy(template)[None, None]
    )[0, 0]
    np.testing.assert_allclose(scores["correlation"], torch_corr.numpy(), atol=1e-12)


def test_template_responses_find_a_cut_out_template():
    image = data.test_image(32)
    template = image[10:15, 4:9]
    scores = experiments.template_responses(image, template)
    assert scores["negative L1"][10, 4] == 0 and np.unravel_index(
        scores["negative L1"].argmax(), (28, 28)
    ) == (10, 4)


@pytest.mark.parametrize(
    "image, template",
    [
        (np.zeros((4, 4, 1)), np.zeros((2, 2))),
        (np.zeros((4, 4)), np.zeros(2)),
        (np.zeros((4, 4)), np.zeros((5, 2))),
    ],
)
def test_template_responses_rejects_bad_shapes(image, template):
    with pytest.raises(ValueError):
        experiments.template_responses(image, template)


# ---------------------------------------------------------------------------
# experiments.excess_kurtosis
# ---------------------------------------------------------------------------


def test_excess_kurtosis_closed_forms():
    # two equally likely points: fourth moment = variance squared, so excess kurtosis = 1 - 3
    assert experiments.excess_kurtosis(
        np.array([-1.0, 1.0, -1.0, 1.0])
    ) == pytest.approx(-2.0)
    assert experiments.excess_kurtosis(np.array([3.0, 5.0])) == pytest.approx(
        -2.0
    )  # shift and scale free
    # Bernoulli(p): (1 - 6 p q) / (p q); p = 1/4 gives (1 - 18/16) / (3/16) = -2/3
    assert experiments.excess_kurtosis(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(
        -2 / 3
    )
    rng = np.random.default_rng(0)
    n = 400_000
    assert experiments.excess_kurtosis(rng.normal(size=n)) == pytest.approx(
        0.0, abs=0.05
    )
    assert experiments.excess_kurtosis(rng.laplace(size=n)) == pytest.approx(
        3.0, abs=0.15
    )
    assert experiments.excess_kurtosis(rng.uniform(size=n)) == pytest.approx(
        -1.2, abs=0.02
    )


def test_excess_kurtosis_accepts_tensors_and_rejects_constants():
    values = torch.tensor([[1.0, 2.0], [4.0, 8.0]], requires_grad=True)
    assert experiments.excess_kurtosis(values) == pytest.approx(
        experiments.excess_kurtosis(np.array([1, 2, 4, 8.0]))
    )
    with pytest.raises(ValueError):
        experiments.excess_kurtosis(np.ones(5))
    with pytest.raises(ValueError):
        experiments.excess_kurtosis(np.array([2.0]))


# ---------------------------------------------------------------------------
# experiments.filter_gradients
# ---------------------------------------------------------------------------


def test_filter_gradients_of_conv_and_average_pooling_by_hand():
    # logits_o = mean over positions of (w_o . window) = w_o . (mean window): the gradient is
    # (softmax - one-hot) times the mean window, averaged over the batch
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, bias=False),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )
    model.double().eval()
    rng = np.random.default_rng(1)
    images, labels = rng.normal(size=(5, 1, 6, 7)), np.array([0, 2, 1, 2, 0])
    grads = experiments.filter_gradients(model, images, labels)
    assert list(grads) == ["0.weight"] and not model.training  # the mode is restored
    assert all(p.grad is None for p in model.parameters())
    w = model[0].weight.detach().numpy()[:, 0]  # (3, 3, 3)
    mean_windows = np.stack(
        [
            [
                [images[n, 0, u : u + 4, v : v + 5].mean() for v in range(3)]
                for u in range(3)
            ]
            for n in range(5)
        ]
    )
    logits = np.einsum("ouv,nuv->no", w, mean_windows)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    error = softmax - np.eye(3)[labels]
    expected = np.einsum("no,nuv->ouv", error, mean_windows) / 5
    np.testing.assert_allclose(
        grads["0.weight"][:, 0].numpy(), expected, rtol=1e-10, atol=1e-12
    )


def test_filter_gradients_see_the_adaptive_scale():
    torch.manual_seed(0)
    images, labels = data.shapes(16, size=12, seed=0)
    scaled = experiments.adder_classifier("adder", width=4, eta=0.2)
    plain = experiments.adder_classifier("adder", width=4, eta=None)
    plain.load_state_dict(scaled.state_dict())
    g_scaled = experiments.filter_gradients(scaled, images, labels)
    g_plain = experiments.filter_gradients(plain, images, labels)
    assert list(g_scaled) == [
        "0.weight",
        "3.weight",
        "6.weight",
    ]  # every 4-D weight, in model order
    torch.testing.assert_close(
        g_scaled["0.weight"], g_plain["0.weight"]
    )  # the first layer is a convolution
    for key in ("3.weight", "6.weight"):
        k = g_plain[key].numel()
        assert g_scaled[key].norm().item() == pytest.approx(
            0.2 * math.sqrt(k), rel=1e-5
        )
        cosine = (g_scaled[key] * g_plain[key]).sum() / (
            g_scaled[key].norm() * g_plain[key].norm()
        )
        assert cosine.item() == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------
# experiments.op_counts
# ---------------------------------------------------------------------------


def test_op_counts_of_the_chapter_networks_by_hand():
    first = 8 * 9 * 24 * 24  # conv 1 -> 8, 3x3, 24x24 output
    second = 16 * 8 * 9 * 12 * 12  # 8 -> 16, stride 2: 12x12
    third = 16 * 16 * 9 * 12 * 12
    linear = 16 * 4
    bn = (
        16 * 12 * 12
    )  # one multiplication and one addition per output of an adder layer's BatchNorm
    conv = experiments.op_counts(experiments.adder_classifier("conv"), (1, 24, 24))
    assert (conv.multiplications, conv.additions) == (
        first + second + third + linear,
    ) * 2  # BatchNorm folds
    adder = experiments.op_counts(experiments.adder_classifier("adder"), (1, 24, 24))
    assert adder.multiplications == first + 2 * bn + linear
    assert adder.additions == first + 2 * (second + third) + 2 * bn + linear
    assert (
        adder.params
        == conv.params
        == sum(p.numel() for p in experiments.adder_classifier("adder").parameters())
    )
    no_bn = experiments.op_counts(
        experiments.adder_classifier("adder", batchnorm=False), (1, 24, 24)
    )
    assert no_bn.multiplications == first + linear


def test_op_counts_batchnorm_folds_only_right_after_a_convolution():
    after_relu = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 1), torch.nn.ReLU(), torch.nn.BatchNorm2d(3)
    )
    counts = experiments.op_counts(after_relu, (2, 5, 5))
    assert counts.multiplications == 3 * 2 * 25 + 3 * 25
    after_conv = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    assert experiments.op_counts(after_conv, (2, 5, 5)).multiplications == 3 * 2 * 25
    after_adder = torch.nn.Sequential(Adder2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    counts = experiments.op_counts(after_adder, (2, 5, 5))
    assert (counts.multiplications, counts.additions) == (
        3 * 25,
        2 * 3 * 2 * 25 + 3 * 25,
    )
    after_adder.train()
    experiments.op_counts(after_adder, (2, 5, 5))
    assert after_adder.training  # the mode is restored


# ---------------------------------------------------------------------------
# The chapter's network and training
# ---------------------------------------------------------------------------


def test_adder_classifier_layout_and_matched_cost():
    conv = experiments.adder_classifier("conv", width=4, classes=3)
    adder = experiments.adder_classifier("adder", width=4, classes=3, eta=None)
    assert (
        type(adder[0]) is torch.nn.Conv2d and type(adder[-1]) is torch.nn.Linear
    )  # the ordinary ends
    assert [type(m) for m in adder if type(m) in (Adder2d, torch.nn.Conv2d)] == [
        torch.nn.Conv2d,
        Adder2d,
        Adder2d,
    ]
    assert all(m.eta is None for m in adder if isinstance(m, Adder2d))
    assert sum(p.numel() for p in conv.parameters()) == sum(
        p.numel() for p in adder.parameters()
    )
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in adder) == 3
    bare = experiments.adder_classifier("adder", batchnorm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in bare)
    assert all(
        m.bias is not None for m in bare if isinstance(m, (Adder2d, torch.nn.Conv2d))
    )
    assert adder(torch.zeros(5, 1, 12, 12)).shape == (5, 3)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(kind="shift"),
            ValueError,
            r"^kind must be one of \('conv', 'adder'\), got 'shift'$",
        ),
        (dict(batchnorm=1), TypeError, r"^batchnorm must be a bool, got 1$"),
        (dict(width=0), ValueError, r"^width must be >= 1, got 0$"),
    ],
)
def test_adder_classifier_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        experiments.adder_classifier(**kwargs)


def test_train_classifier_rejects_an_unknown_optimizer():
    with pytest.raises(
        ValueError, match=r"^optimizer must be 'adam' or 'sgd', got 'rmsprop'$"
    ):
        experiments.train_classifier(
            torch.nn.Flatten(),
            np.zeros((4, 1)),
            np.zeros(4, dtype=np.int64),
            optimizer="rmsprop",
        )


def test_an_adder_network_learns_with_batchnorm_and_not_without():
    """A short SGD run with the adaptive rate: clearly above chance with BatchNorm, at chance without it."""
    images, labels = data.shapes(480, size=16, seed=0)
    results = {}
    for batchnorm in (True, False):
        torch.manual_seed(0)
        model = experiments.adder_classifier("adder", width=8, batchnorm=batchnorm)
        results[batchnorm] = experiments.train_classifier(
            model, images, labels, epochs=6, optimizer="sgd", lr=0.05
        )
    with_bn, without_bn = results[True], results[False]
    assert (
        with_bn["train_accuracy"] > 0.45
        and with_bn["loss"][-1] < 0.9 * with_bn["loss"][0]
    )
    assert without_bn["train_accuracy"] < 0.35  # four classes: chance is 0.25
    assert without_bn["loss"][-1] > 0.95 * math.log(
        4
    )  # it never leaves the uniform guess
