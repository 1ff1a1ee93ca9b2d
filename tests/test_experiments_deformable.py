"""convref.experiments.deformable: the shape classifier, the offsets its layers use and the taps they stack to.

Oracles, none of them the code under test: parameter counts added up by hand from the layer
sizes; the plain classifier's own weights and outputs (a deformable network with zero offsets
must compute the same); offsets planted in the layers' biases and tap parameters, read back;
and the regular stack's taps written out by hand from stride and padding, shifted by a planted
whole-pixel offset.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convref import arith, data, experiments
from convref.nn import ActiveConv2d, DCN2d

# ---------------------------------------------------------------------------
# experiments: the classifier, its offsets and its taps
# ---------------------------------------------------------------------------


def test_shape_classifier_layers_and_parameters():
    counts = {}
    for kind in experiments.SHAPE_CLASSIFIER_KINDS:
        model = experiments.shape_classifier(kind, width=4)
        assert model(torch.zeros(2, 1, 24, 24)).shape == (2, 4)
        counts[kind] = sum(p.numel() for p in model.parameters())
    # four bias-free 3x3 convolutions 1-4-8-8-16, four BatchNorms, a linear 16 -> 4
    plain = 9 * (1 * 4 + 4 * 8 + 8 * 8 + 8 * 16) + 2 * (4 + 8 + 8 + 16) + 16 * 4 + 4
    assert counts["plain"] == plain
    assert counts["active"] == plain + 2 * 18  # (dy, dx) per tap, two layers
    assert (
        counts["deformable"] == plain + (9 * 8 * 18 + 18) * 2
    )  # two offset convolutions 8 -> 18
    assert (
        counts["modulated"] == plain + (9 * 8 * 27 + 27) * 2
    )  # 9 more mask channels each
    with pytest.raises(ValueError):
        experiments.shape_classifier("dynamic")


def test_shape_locator_scores_every_cell_and_counts_its_parameters():
    counts = {}
    for kind in ("plain", "deformable"):
        model = experiments.shape_locator(kind, width=4)
        assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 64)  # an 8 x 8 grid
        assert model(torch.zeros(2, 1, 24, 40)).shape == (2, 6 * 10)
        counts[kind] = sum(p.numel() for p in model.parameters())
    # five bias-free 3x3 convolutions 1-4-8-8-8-8, five BatchNorms, a 1x1 8 -> 1 with bias
    plain = 9 * (1 * 4 + 4 * 8 + 3 * 8 * 8) + 2 * (4 + 4 * 8) + 8 + 1
    assert counts["plain"] == plain
    assert counts["deformable"] == plain + (9 * 8 * 18 + 18) * 2  # two offset convs
    with pytest.raises(ValueError, match="kind must be one of"):
        experiments.shape_locator("dynamic")


def test_shape_locator_cell_sees_the_stacks_receptive_field():
    # a cell's logit depends on exactly the 25 x 25 input pixels that the plain stack's
    # receptive field gives (arith), centred on the cell's output position; BatchNorm's
    # batch statistics would reach every pixel, so the test takes them out
    torch.manual_seed(0)
    model = experiments.shape_locator("plain", width=4).double()
    for i, layer in enumerate(model):
        if isinstance(layer, torch.nn.BatchNorm2d):
            model[i] = torch.nn.Identity()
    x = torch.randn(4, 1, 64, 64, dtype=torch.float64, requires_grad=True)
    row, col = 8, 7  # an interior cell of the 16 x 16 map
    model(x)[:, row * 16 + col].sum().backward()
    touched = np.argwhere(x.grad.abs().sum((0, 1)).numpy() > 0)
    spec = [(3, 1, 1), (3, 2, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1)]
    field = arith.receptive_field([arith.ConvSpec(*layer) for layer in spec])
    assert field.size == 25
    assert np.array_equal(touched.min(0), [4 * row - 12, 4 * col - 12])
    assert np.array_equal(touched.max(0), [4 * row + 12, 4 * col + 12])


def test_deformable_classifier_starts_as_the_plain_one():
    torch.manual_seed(0)
    plain = experiments.shape_classifier("plain", width=4)
    for kind in ("active", "deformable"):
        other = experiments.shape_classifier(kind, width=4)
        missing, unexpected = other.load_state_dict(
            plain.state_dict(), strict=False
        )  # every plain weight, same names
        assert not unexpected and all("offset" in name for name in missing)
        x = torch.randn(3, 1, 24, 24)
        torch.testing.assert_close(other(x), plain(x), atol=1e-5, rtol=1e-5)


def test_layer_offsets_reads_the_offsets_the_layers_use():
    model = experiments.shape_classifier("deformable", width=4)
    deform = [m for m in model.modules() if isinstance(m, DCN2d)]
    deform[1].conv_offset.bias.data.fill_(
        0.75
    )  # zero weights: the offsets are the bias everywhere
    model.train()
    layers = experiments.layer_offsets(
        model, np.zeros((2, 1, 24, 24), dtype=np.float32)
    )
    assert model.training  # left as it was
    assert [l["offset"].shape for l in layers] == [(2, 18, 12, 12), (2, 18, 6, 6)]
    assert np.all(layers[0]["offset"] == 0) and np.all(layers[1]["offset"] == 0.75)
    assert (
        layers[1]["stride"] == (2, 2)
        and layers[1]["padding"] == (1, 1)
        and layers[0]["mask"] is None
    )
    active = experiments.shape_classifier("active", width=4)
    taps = torch.randn(9, 2)
    [m for m in active.modules() if isinstance(m, ActiveConv2d)][
        0
    ].tap_offsets.data.copy_(taps)
    offset = experiments.layer_offsets(
        active, np.zeros((1, 1, 24, 24), dtype=np.float32)
    )[0]["offset"]
    np.testing.assert_allclose(offset[0, :, 3, 5], taps.numpy().reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(offset[0, :, 0, 0], taps.numpy().reshape(-1), rtol=1e-6)
    modulated = experiments.shape_classifier("modulated", width=4)
    masks = experiments.layer_offsets(
        modulated, np.zeros((1, 1, 24, 24), dtype=np.float32)
    )
    assert all(np.allclose(l["mask"], 0.5) for l in masks)  # sigmoid(0)
    with pytest.raises(ValueError):
        experiments.layer_offsets(
            experiments.shape_classifier("plain"),
            np.zeros((1, 1, 24, 24), dtype=np.float32),
        )


def test_stacked_taps_of_the_regular_stack_is_its_receptive_field():
    model = experiments.shape_classifier("deformable", width=4)
    layers = experiments.layer_offsets(
        model, np.zeros((1, 1, 24, 24), dtype=np.float32)
    )
    p, q = 3, 2
    points = experiments.stacked_taps(layers, 0, (p, q), input_stride=2.0, regular=True)
    # last layer (stride 2, padding 1): taps (2p - 1 + i, 2q - 1 + j); the layer before (stride 1, padding 1): +-1 around each
    hand = sorted(
        (2 * (2 * p - 1 + i - 1 + a), 2 * (2 * q - 1 + j - 1 + b))
        for i in range(3)
        for j in range(3)
        for a in range(3)
        for b in range(3)
    )
    assert points.shape == (81, 2)
    assert sorted(map(tuple, points.tolist())) == hand
    # zero offsets read the regular points; a whole-pixel offset of the last layer shifts everything by it
    np.testing.assert_array_equal(
        experiments.stacked_taps(layers, 0, (p, q), 2.0), points
    )
    [m for m in model.modules() if isinstance(m, DCN2d)][1].conv_offset.bias.data.copy_(
        torch.tensor([1.0, -1.0] * 9)
    )
    layers = experiments.layer_offsets(
        model, np.zeros((1, 1, 24, 24), dtype=np.float32)
    )
    np.testing.assert_array_equal(
        experiments.stacked_taps(layers, 0, (p, q), 2.0), points + [2.0, -2.0]
    )


def test_deformable_classifier_learns_its_offsets():
    images, labels, _ = data.varied_shapes(96, size=24, seed=0)
    torch.manual_seed(0)
    model = experiments.shape_classifier("deformable", width=4)
    experiments.train_classifier(model, images, labels, epochs=1, seed=0, batch_size=32)
    layers = experiments.layer_offsets(model, images[:4])
    assert all(
        np.abs(l["offset"]).max() > 0 for l in layers
    )  # the gradient reached the offset convolutions
