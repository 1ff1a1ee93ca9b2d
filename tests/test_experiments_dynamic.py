"""convref.experiments.dynamic: the source article's layer, the dynamic classifiers, their attention and cost.

Oracles, none of them the code under test: the source layer written out here with
``torch.softmax`` and PyTorch's ``conv2d`` (and ``nn.Conv2d``'s own initialisation, draw for
draw); BatchNorm's formula by hand; the attention of the layers recomputed from their
sub-modules with ``torch.nn.functional``; the temperature schedule's straight line; parameter
and multiply-add counts added up by hand and by PyTorch's FLOP counter; the frozen kernel as
the attention-weighted mixture computed with ``torch.einsum``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from convref import experiments
from convref.nn import CondConv2d, DynamicConv2d, SelectiveKernel2d

# ---------------------------------------------------------------------------
# experiments.SourceDynamicConv2d
# ---------------------------------------------------------------------------


def test_source_layer_is_a_convolution_with_softmax_scaled_kernels():
    torch.manual_seed(0)
    layer = experiments.SourceDynamicConv2d(
        3, 5, 3, stride=2, padding=1, dilation=2
    ).double()
    with torch.no_grad():
        layer.attention.normal_(0, 1.5)
        layer.bias.normal_()
    alpha = layer.attention.detach().flatten()
    scales = torch.exp(alpha) / torch.exp(alpha).sum()
    x = torch.randn(4, 3, 9, 8, dtype=torch.float64)
    expected = F.conv2d(
        x,
        layer.weight * scales.view(-1, 1, 1, 1),
        layer.bias,
        stride=2,
        padding=1,
        dilation=2,
    )
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.channel_scales(), scales)
    # the same kernels for every sample: one sample at a time gives the batch's rows
    torch.testing.assert_close(
        torch.cat([layer(x[n : n + 1]) for n in range(4)]), layer(x)
    )


def test_source_layer_initialisation():
    torch.manual_seed(3)
    reference = torch.nn.Conv2d(4, 6, 3)
    torch.manual_seed(3)
    layer = experiments.SourceDynamicConv2d(4, 6, 3)
    torch.testing.assert_close(
        layer.weight, reference.weight
    )  # PyTorch's default draw, draw for draw
    assert layer.attention.shape == (1, 6, 1, 1) and not layer.attention.any()
    assert (
        isinstance(layer.bias, torch.nn.Parameter)
        and layer.bias.shape == (6,)
        and not layer.bias.any()
    )
    torch.testing.assert_close(
        layer.channel_scales(), torch.full((6,), 1 / 6)
    )  # every kernel divided by C_out
    names = {name for name, _ in layer.named_parameters()}
    assert names == {"weight", "attention", "bias"}


def test_source_layer_keeps_the_articles_crashes():
    x = torch.randn(1, 4, 5, 5)
    layer = experiments.SourceDynamicConv2d(4, 4, 3, bias=False)
    assert layer.bias is False  # the flag stays where the parameter would be
    with pytest.raises(TypeError):
        layer(x)
    with pytest.raises(RuntimeError):
        experiments.SourceDynamicConv2d(4, 4, 3, groups=2)(x)


def test_batchnorm_turns_the_source_scales_into_an_epsilon():
    torch.manual_seed(1)
    layer = experiments.SourceDynamicConv2d(2, 3, 3, padding=1).double()
    with torch.no_grad():
        layer.attention.copy_(torch.tensor([0.0, 1.0, -2.0]).view(1, 3, 1, 1))
        x = torch.randn(6, 2, 7, 7, dtype=torch.float64)
        z = F.conv2d(x, layer.weight, layer.bias, padding=1)
        s = layer.channel_scales().view(1, -1, 1, 1)
        for eps in (1e-5, 1e-3):
            after = torch.nn.BatchNorm2d(3, eps=eps).double()(
                layer(x)
            )  # training mode: batch statistics
            mean, var = (
                z.mean((0, 2, 3), keepdim=True),
                z.var((0, 2, 3), unbiased=False, keepdim=True),
            )
            torch.testing.assert_close(after, (z - mean) / torch.sqrt(var + eps / s**2))


# ---------------------------------------------------------------------------
# experiments.dynamic_classifier
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, layer_type",
    [
        ("static", torch.nn.Conv2d),
        ("dynamic", DynamicConv2d),
        ("condconv", CondConv2d),
        ("selective", SelectiveKernel2d),
    ],
)
def test_dynamic_classifier_layout(kind, layer_type):
    torch.manual_seed(0)
    model = experiments.dynamic_classifier(kind, width=4, classes=3, num_kernels=3)
    chosen = [m for m in model if isinstance(m, layer_type)]
    assert len(chosen) == (4 if kind == "static" else 3)
    assert (
        isinstance(model[0], torch.nn.Conv2d) and model[0].in_channels == 1
    )  # the first layer is always static
    if kind in ("dynamic", "condconv"):
        assert all(m.num_kernels == 3 and m.bias is None for m in chosen)
        assert [(m.in_channels, m.out_channels, m.stride) for m in chosen] == [
            (4, 8, (2, 2)),
            (8, 8, (1, 1)),
            (8, 16, (2, 2)),
        ]
    if kind == "dynamic":
        assert all(m.temperature == 1.0 for m in chosen)
    if kind == "selective":
        assert all(m.dilations == (1, 2) for m in chosen)
    x = torch.randn(5, 1, 24, 24)
    assert model(x).shape == (5, 3)
    norms = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    assert norms and all(
        m.running_mean is None and not m.track_running_stats for m in norms
    )
    # batch statistics in evaluation too: the same outputs as in training mode
    with torch.no_grad():
        trained_mode = model.train()(x)
        torch.testing.assert_close(model.eval()(x), trained_mode)


def test_dynamic_classifier_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        experiments.dynamic_classifier("deformable")
    with pytest.raises(ValueError):
        experiments.dynamic_classifier("dynamic", width=0)


# ---------------------------------------------------------------------------
# experiments.anneal_temperature
# ---------------------------------------------------------------------------


def test_anneal_temperature_follows_the_straight_line_per_step():
    torch.manual_seed(0)
    model = experiments.dynamic_classifier("dynamic", width=2)
    layers = [m for m in model.modules() if isinstance(m, DynamicConv2d)]
    handle = experiments.anneal_temperature(
        model, steps_per_epoch=4, start=9.0, end=1.0, epochs=2
    )
    assert all(m.temperature == 9.0 for m in layers)
    x = torch.randn(2, 1, 12, 12)
    seen = []
    recorder = layers[0].register_forward_pre_hook(
        lambda m, args: seen.append(m.temperature)
    )
    model.train()
    for _ in range(10):
        model(x)
    assert seen == pytest.approx([9.0 - 8.0 * min(step / 8, 1.0) for step in range(10)])
    assert all(m.temperature == 1.0 for m in layers)
    model.eval()
    with torch.no_grad():
        model(x)  # evaluation counts no step and leaves the temperature alone
    assert seen[-1] == 1.0
    handle.remove()
    layers[0].temperature = 5.0
    model.train()(x)
    assert layers[0].temperature == 5.0  # removed: no more annealing
    recorder.remove()


def test_anneal_temperature_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no DynamicConv2d"):
        experiments.anneal_temperature(experiments.dynamic_classifier("static"), 4)
    model = experiments.dynamic_classifier("dynamic")
    with pytest.raises(ValueError):
        experiments.anneal_temperature(model, 0)
    with pytest.raises(ValueError):
        experiments.anneal_temperature(model, 4, epochs=0)


# ---------------------------------------------------------------------------
# experiments.dynamic_attention
# ---------------------------------------------------------------------------


def test_dynamic_attention_recomputes_each_layers_routing():
    torch.manual_seed(0)
    model = experiments.dynamic_classifier("dynamic", width=4).double()
    for m in model.modules():
        if isinstance(m, DynamicConv2d):
            m.temperature = 0.7
    x = torch.randn(6, 1, 16, 16, dtype=torch.float64)
    model.train()
    attention = experiments.dynamic_attention(model, x.numpy())
    assert model.training  # the mode is restored
    assert len(attention) == 3
    h = x
    index = 0
    with torch.no_grad():
        for module in model:
            if isinstance(module, DynamicConv2d):
                pooled = h.mean((2, 3))
                logits = F.linear(
                    F.relu(
                        F.linear(pooled, module.squeeze.weight, module.squeeze.bias)
                    ),
                    module.excite.weight,
                    module.excite.bias,
                )
                np.testing.assert_allclose(
                    attention[index],
                    torch.softmax(logits / 0.7, 1).numpy(),
                    rtol=1e-12,
                    atol=1e-12,
                )
                index += 1
            h = module(h)
    assert attention[0].dtype == np.float64


def test_dynamic_attention_of_condconv_and_selective_layers():
    torch.manual_seed(1)
    x = torch.randn(5, 1, 16, 16)
    cond = experiments.dynamic_classifier("condconv", width=4)
    attention = experiments.dynamic_attention(cond, x)
    first = cond[3]  # the first CondConv2d follows conv, BN, ReLU
    with torch.no_grad():
        h = cond[2](cond[1](cond[0](x)))
        expected = torch.sigmoid(
            F.linear(h.mean((2, 3)), first.routing.weight, first.routing.bias)
        )
    np.testing.assert_allclose(attention[0], expected.numpy(), rtol=1e-5, atol=1e-6)
    sk = experiments.dynamic_classifier("selective", width=4)
    weights = experiments.dynamic_attention(sk, x)
    assert [w.shape for w in weights] == [(5, 2, 8), (5, 2, 8), (5, 2, 16)]
    for w in weights:
        np.testing.assert_allclose(w.sum(1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="no DynamicConv2d"):
        experiments.dynamic_attention(experiments.dynamic_classifier("static"), x)


# ---------------------------------------------------------------------------
# experiments.model_cost on dynamic networks
# ---------------------------------------------------------------------------


def test_model_cost_of_a_dynamic_network_by_hand():
    torch.manual_seed(0)
    w, k = 8, 4
    model = experiments.dynamic_classifier("dynamic", width=w, classes=4, num_kernels=k)
    cost = experiments.model_cost(model, (1, 24, 24))
    # (C_in, C_out, output side) of the four convolutions; the last three are dynamic
    layers = [(1, w, 24), (w, 2 * w, 12), (2 * w, 2 * w, 12), (2 * w, 4 * w, 6)]
    conv = sum(c_in * c_out * 9 * side**2 for c_in, c_out, side in layers)
    mixing = sum(k * c_in * c_out * 9 for c_in, c_out, _ in layers[1:])
    attention = sum(
        c_in * max(4, c_in // 4) + max(4, c_in // 4) * k for c_in, _, _ in layers[1:]
    )
    classifier = 4 * w * 4
    assert cost["mult_adds"] == conv + mixing + attention + classifier
    assert (
        cost["dynamic_mult_adds"]
        == sum(c_in * c_out * 9 * side**2 for c_in, c_out, side in layers[1:]) + mixing
    )
    assert cost["params"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", ["static", "dynamic", "condconv", "selective"])
def test_model_cost_of_dynamic_networks_matches_the_flop_counter(kind):
    torch.manual_seed(0)
    model = experiments.dynamic_classifier(kind, width=4).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, 1, 16, 16))
    cost = experiments.model_cost(model, (1, 16, 16))
    assert (
        cost["mult_adds"] == counter.get_total_flops() // 4
    )  # 2 flops per multiply-add, 2 inputs
    if kind == "static":
        assert cost["dynamic_mult_adds"] == 0


# ---------------------------------------------------------------------------
# experiments.freeze_attention
# ---------------------------------------------------------------------------


def test_freeze_attention_is_exact_when_the_attention_is_constant():
    torch.manual_seed(0)
    for kind in ("dynamic", "condconv"):
        model = experiments.dynamic_classifier(kind, width=4).double()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, DynamicConv2d):
                    m.excite.weight.zero_()  # the attention becomes softmax(bias): the same for every input
                    m.excite.bias.normal_()
                elif isinstance(m, CondConv2d):
                    m.routing.weight.zero_()
                    m.routing.bias.normal_()
        x = torch.randn(7, 1, 16, 16, dtype=torch.float64)
        frozen = experiments.freeze_attention(model, x)
        assert not any(
            isinstance(m, (DynamicConv2d, CondConv2d)) for m in frozen.modules()
        )
        assert (
            sum(isinstance(m, (DynamicConv2d, CondConv2d)) for m in model.modules())
            == 3
        )  # the original is kept
        with torch.no_grad():
            torch.testing.assert_close(frozen.eval()(x), model.eval()(x))


def test_freeze_attention_uses_the_mean_mixture():
    torch.manual_seed(2)
    layer = CondConv2d(2, 3, 3, stride=2, padding=1, bias=True, num_kernels=3).double()
    model = torch.nn.Sequential(layer)
    x = torch.randn(5, 2, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        mean = torch.sigmoid(
            F.linear(x.mean((2, 3)), layer.routing.weight, layer.routing.bias)
        ).mean(0)
    frozen = experiments.freeze_attention(model, x)[0]
    assert (
        isinstance(frozen, torch.nn.Conv2d)
        and frozen.stride == (2, 2)
        and frozen.padding == (1, 1)
    )
    torch.testing.assert_close(
        frozen.weight.detach(),
        torch.einsum("k,koihw->oihw", mean, layer.weight.detach()),
    )
    torch.testing.assert_close(frozen.bias.detach(), mean @ layer.bias.detach())
    assert frozen.weight.dtype == torch.float64
    with pytest.raises(ValueError, match="no DynamicConv2d"):
        experiments.freeze_attention(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3)), x)


# ---------------------------------------------------------------------------
# experiments.shuffle_attention
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layer_type", [CondConv2d, DynamicConv2d])
def test_shuffle_attention_gives_each_input_another_inputs_kernel(layer_type):
    torch.manual_seed(3)
    layer = layer_type(2, 3, 3, padding=1, bias=True, num_kernels=3).double()
    x = torch.randn(6, 2, 8, 8, dtype=torch.float64)
    shuffled = experiments.shuffle_attention(torch.nn.Sequential(layer), seed=4)
    permutation = torch.randperm(6, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(permutation, torch.arange(6))
    with torch.no_grad():
        attention = layer.attention(x)
        got = shuffled(x)
        for i in range(6):  # input i, convolved with the mixture made for its partner
            mix = attention[permutation[i]]
            weight = torch.einsum("k,koihw->oihw", mix, layer.weight)
            expected = F.conv2d(x[i : i + 1], weight, mix @ layer.bias, padding=1)
            torch.testing.assert_close(got[i : i + 1], expected)
        torch.testing.assert_close(
            layer(x)[0:1],
            F.conv2d(
                x[:1],
                torch.einsum("k,koihw->oihw", attention[0], layer.weight),
                attention[0] @ layer.bias,
                padding=1,
            ),
        )  # the original is unchanged
    with pytest.raises(ValueError, match="no DynamicConv2d"):
        experiments.shuffle_attention(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3)))
    with pytest.raises(TypeError, match="seed must be an int"):
        experiments.shuffle_attention(torch.nn.Sequential(layer), seed=0.5)


# ---------------------------------------------------------------------------
# experiments.pointer_sequences
# ---------------------------------------------------------------------------


def test_pointer_sequences_label_is_the_symbol_pointed_at():
    x, labels, info = experiments.pointer_sequences(
        300, length=14, symbols=3, max_offset=4, seed=5
    )
    assert x.shape == (300, 3 + 8, 14) and x.dtype == np.float32
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert (x.sum(1) == 1).all()  # one token per position
    assert list(info["offsets"]) == [-4, -3, -2, -1, 1, 2, 3, 4]
    tokens = x.argmax(1)
    for n in range(300):  # read each sequence as a list of tokens
        pointers = [t for t in range(14) if tokens[n, t] >= 3]
        assert pointers == [info["position"][n]]  # exactly one pointer
        p = pointers[0]
        k = [-4, -3, -2, -1, 1, 2, 3, 4][tokens[n, p] - 3]
        assert k == info["offset"][n] and 0 <= p + k < 14
        assert labels[n] == tokens[n, p + k] < 3  # a content symbol
    # every offset and every class occurs; positions keep all offsets inside
    assert set(info["offset"]) == {-4, -3, -2, -1, 1, 2, 3, 4}
    assert set(labels) == {0, 1, 2}
    assert info["position"].min() >= 4 and info["position"].max() <= 14 - 5


def test_pointer_sequences_follow_the_seed():
    a = experiments.pointer_sequences(50, seed=1)
    b = experiments.pointer_sequences(50, seed=1)
    c = experiments.pointer_sequences(50, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


# ---------------------------------------------------------------------------
# experiments.negation_sequences
# ---------------------------------------------------------------------------


def test_negation_sequences_label_follows_the_words():
    x, labels, info = experiments.negation_sequences(
        400, min_length=10, max_length=20, max_gap=3, fillers=2, seed=3
    )
    assert x.shape == (400, 2 + 4, 20) and x.dtype == np.float32
    assert labels.shape == (400,) and labels.dtype == np.int64
    assert (x.sum(1) == 1).all()  # one word per position
    names = ["filler0", "filler1", *experiments.NEGATION_TOKENS]
    cases = set()
    for n in range(400):  # read each sentence as words and label it from them
        sentence = [names[t] for t in x[n].argmax(0)]
        length = info["length"][n]
        assert 10 <= length <= 20
        assert all(word == "pad" for word in sentence[length:])
        assert "pad" not in sentence[:length]
        keywords = [t for t, w in enumerate(sentence) if w in ("good", "bad")]
        assert keywords == [info["keyword"][n]]
        k = keywords[0]
        nots = [t for t, w in enumerate(sentence) if w == "not"]
        assert len(nots) <= 1
        negated = any(k - 3 <= t < k for t in nots)  # at most max_gap words before
        positive = (sentence[k] == "good") != negated
        assert labels[n] == int(positive) and info["negated"][n] == int(negated)
        if nots and not negated:  # a distractor: after the keyword, or too far before
            assert 0 < nots[0] - k <= 3 or 3 < k - nots[0] <= 6
            cases.add("after" if nots[0] > k else "far")
        else:
            cases.add("negated" if negated else "none")
    assert cases == {"negated", "after", "far", "none"}
    assert 0.4 < labels.mean() < 0.6


def test_negation_sequences_follow_the_seed():
    a = experiments.negation_sequences(50, seed=1)
    b = experiments.negation_sequences(50, seed=1)
    c = experiments.negation_sequences(50, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_negation_sequences_reject_bad_arguments():
    with pytest.raises(
        ValueError, match="min_length must be >= 3 \\* max_gap \\+ 1 = 16"
    ):
        experiments.negation_sequences(10, min_length=15, max_gap=5)
    with pytest.raises(ValueError, match="max_length must be >= min_length = 20"):
        experiments.negation_sequences(10, min_length=20, max_length=19)
    with pytest.raises(TypeError, match="fillers must be an int"):
        experiments.negation_sequences(10, fillers=2.0)
    with pytest.raises(TypeError, match="seed must be an int"):
        experiments.negation_sequences(10, seed="0")


def test_pointer_sequences_reject_bad_arguments():
    with pytest.raises(ValueError, match="length must be > 2 \\* max_offset = 8"):
        experiments.pointer_sequences(10, length=8, max_offset=4)
    with pytest.raises(ValueError, match="symbols must be >= 2"):
        experiments.pointer_sequences(10, symbols=1)
    with pytest.raises(TypeError, match="n must be an int"):
        experiments.pointer_sequences(1.5)
    with pytest.raises(TypeError, match="seed must be an int"):
        experiments.pointer_sequences(10, seed="0")


# ---------------------------------------------------------------------------
# experiments.SequenceClassifier
# ---------------------------------------------------------------------------


def _classifier_by_hand(model, x):
    """The classifier's forward pass written out with a loop over positions and taps."""
    h = F.conv1d(x, model.embed.weight, model.embed.bias)
    n, c, length = h.shape
    k = model.mix.kernel_size if model.kind != "depthwise" else model.mix.kernel_size[0]
    half = k // 2
    y = torch.zeros_like(h)
    for t in range(length):
        if model.kind == "depthwise":
            w = model.mix.weight[:, 0, :].expand(n, c, k)  # (n, C, K)
        elif model.kind == "lightweight":
            w = torch.softmax(model.mix.weight, 1)  # (H, K)
            w = w.repeat_interleave(c // model.mix.heads, 0).expand(n, c, k)
        else:  # the kernel at t from the input at t alone
            logits = h[:, :, t] @ model.mix.kernel_predictor.weight.T  # (n, H K)
            w = torch.softmax(logits.reshape(n, model.mix.heads, k), -1)
            w = w.repeat_interleave(c // model.mix.heads, 1)  # (n, C, K)
        for j in range(k):
            if 0 <= t + j - half < length:
                y[:, :, t] += w[:, :, j] * h[:, :, t + j - half]
    u = torch.relu(h + F.conv1d(y, model.project.weight, model.project.bias))
    return u.max(-1).values @ model.head.weight.T + model.head.bias


@pytest.mark.parametrize("kind", experiments.SEQUENCE_CLASSIFIER_KINDS)
def test_sequence_classifier_computes_its_formula(kind):
    torch.manual_seed(0)
    model = experiments.SequenceClassifier(
        kind, vocabulary=5, channels=4, kernel_size=5, heads=2, classes=3
    ).double()
    x = torch.randn(3, 5, 9, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _classifier_by_hand(model, x))
    assert model(x).shape == (3, 3)


def test_sequence_classifier_parameters_by_hand():
    c, k, v, classes = 8, 17, 20, 4
    shared = (v * c + c) + (c * c + c) + (c * classes + classes)  # embed, project, head
    counts = {
        kind: sum(
            p.numel()
            for p in experiments.SequenceClassifier(kind, v, c, k, 1).parameters()
        )
        for kind in experiments.SEQUENCE_CLASSIFIER_KINDS
    }
    assert counts == {
        "depthwise": shared + c * k,
        "lightweight": shared + 1 * k,
        "dynamic": shared + c * 1 * k,  # as many weights as the depthwise kernels
    }


def test_sequence_classifier_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        experiments.SequenceClassifier("attention", 5)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        experiments.SequenceClassifier("dynamic", 5, kernel_size=4)
    with pytest.raises(TypeError, match="channels must be an int"):
        experiments.SequenceClassifier("dynamic", 5, channels=2.0)
