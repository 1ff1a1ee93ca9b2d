"""Data, figures, widget and experiment helpers of the deformable-convolution chapter.

Oracles, none of them the code under test: the areas and symmetries of the drawn shapes,
tap positions written out by hand from the definition, bilinear reads done with explicit
loops, linear ramps (where bilinear sampling is exact), and PyTorch's own ``conv2d``
(plain and dilated) for the outputs that integer offsets must reproduce.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convref import data, experiments, viz, widgets
from convref.nn import ActiveConv2d, DeformConv2d

# ---------------------------------------------------------------------------
# data.varied_shapes
# ---------------------------------------------------------------------------


def test_varied_shapes_is_deterministic_and_well_formed():
    images, labels, params = data.varied_shapes(40, size=20, seed=5)
    again = data.varied_shapes(40, size=20, seed=5)
    other = data.varied_shapes(40, size=20, seed=6)
    assert images.shape == (40, 1, 20, 20) and images.dtype == np.float32
    assert labels.shape == (40,) and labels.dtype == np.int64 and set(labels) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(images, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(images, other[0])
    assert params["centre"].shape == (40, 2) and params["half_size"].shape == params["aspect"].shape == (40,)


def test_drawn_area_matches_the_shape_and_size():
    # the area of a shape is SHAPE_AREAS[shape] * s**2 whatever its aspect and angle (large objects: little pixel error)
    images, labels, params = data.varied_shapes(60, size=64, seed=1, noise=0.0, scale=(0.2, 0.3))
    areas = images[:, 0].sum(axis=(1, 2))
    expected = np.array([data.SHAPE_AREAS[data.SHAPE_CLASSES[label]] for label in labels]) * params["half_size"] ** 2
    np.testing.assert_allclose(areas, expected, rtol=0.08)
    # clean images are exactly 0 / 1, and nothing touches the border (the object fits)
    assert set(np.unique(images)) <= {0.0, 1.0}
    assert images[:, 0, [0, -1], :].sum() == 0 and images[:, 0, :, [0, -1]].sum() == 0


def test_centroid_is_the_centre_for_symmetric_shapes_and_a_third_of_the_height_for_triangles():
    images, labels, params = data.varied_shapes(60, size=64, seed=2, noise=0.0, scale=(0.2, 0.3))
    rows, cols = np.mgrid[0:64, 0:64]
    for image, label, centre, half, aspect, angle in zip(
        images[:, 0], labels, params["centre"], params["half_size"], params["aspect"], params["angle"]
    ):
        centroid = np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()
        if data.SHAPE_CLASSES[label] == "triangle":
            # apex at v = -1, base at v = 1: the centroid sits at v = 1/3 of the half-height, along the
            # height axis, which the angle turns counter-clockwise on the screen from straight down
            height = half * np.sqrt(aspect)
            centre = centre + height / 3 * np.array([np.cos(angle), np.sin(angle)])
        np.testing.assert_allclose(centroid, centre, atol=0.35)


def test_labels_match_what_is_drawn():
    # upright, unstretched objects: tell the shapes apart from the pixels alone, by bounding-box fill and symmetry
    images, labels, _ = data.varied_shapes(80, size=48, seed=3, noise=0.0, scale=(0.25, 0.35), max_aspect=1.0, rotate=False)
    for image, label in zip(images[:, 0], labels):
        rows, cols = np.nonzero(image)
        box = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        fill = box.mean()
        asymmetry = np.abs(box - box[::-1]).sum() / box.sum()  # pixels that differ when flipped upside down
        if asymmetry > 0.3:
            guess = "triangle"  # the only shape that is not symmetric top to bottom (about 2/3 differ)
        elif fill > 0.93:
            guess = "square"
        elif fill > 0.68:
            guess = "disk"  # pi / 4 = 0.785
        else:
            guess = "cross"  # 20 / 36 = 0.556
        assert guess == data.SHAPE_CLASSES[label]


def test_scale_aspect_and_angle_follow_the_arguments():
    images, labels, params = data.varied_shapes(
        50, size=64, seed=4, noise=0.0, scale=(0.1, 0.2), max_aspect=3.0, rotate=False, classes=("square",)
    )
    assert np.all(labels == 0) and np.all(params["angle"] == 0)
    assert np.all(params["half_size"] >= 0.1 * 64 - 1e-9) and np.all(params["half_size"] <= 0.2 * 64 + 1e-9)
    assert np.all(params["aspect"] >= 1 / 3) and np.all(params["aspect"] <= 3) and np.ptp(params["aspect"]) > 1
    # an upright rectangle: height / width of the drawn box is the aspect ratio
    for image, half, aspect in zip(images[:, 0], params["half_size"], params["aspect"]):
        rows, cols = np.nonzero(image)
        np.testing.assert_allclose(np.ptp(rows) + 1, 2 * half * np.sqrt(aspect), atol=1.01)
        np.testing.assert_allclose(np.ptp(cols) + 1, 2 * half / np.sqrt(aspect), atol=1.01)


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 0}, {"size": 4}, {"scale": (0.3, 0.2)}, {"scale": (0.1, 0.7)}, {"max_aspect": 0.5}, {"noise": -1.0},
     {"classes": ("hexagon",)}, {"classes": ()}],
)
def test_varied_shapes_rejects_bad_arguments(kwargs):
    arguments = {"n": 4, **kwargs}
    with pytest.raises(ValueError):
        data.varied_shapes(**arguments)


# ---------------------------------------------------------------------------
# viz: tap positions and the figures
# ---------------------------------------------------------------------------


def test_tap_positions_by_hand():
    # stride 2, padding 1, dilation 2: tap (i, j) of output (h, w) reads (2h - 1 + 2i, 2w - 1 + 2j)
    regular = viz.tap_positions(None, [(0, 0), (3, 1)], 3, stride=2, padding=1, dilation=2)
    expected = np.array([[(2 * h - 1 + 2 * i, 2 * w - 1 + 2 * j) for i in range(3) for j in range(3)] for h, w in [(0, 0), (3, 1)]])
    np.testing.assert_array_equal(regular, expected)
    # channel 2k holds dy and 2k + 1 holds dx of tap k = i * kw + j
    field = np.zeros((18, 4, 5))
    field[2 * 5, 1, 2], field[2 * 5 + 1, 1, 2] = 0.5, -1.25  # tap 5 = (1, 2) of pixel (1, 2)
    moved = viz.tap_positions(field, [(1, 2), (0, 0)], 3, padding=1)
    assert moved.shape == (2, 9, 2)
    np.testing.assert_array_equal(moved[0, 5], [1 - 1 + 1 + 0.5, 2 - 1 + 2 - 1.25])
    np.testing.assert_array_equal(np.delete(moved[0], 5, axis=0), np.delete(viz.tap_positions(None, [(1, 2)], 3, padding=1)[0], 5, axis=0))
    # per-tap offsets (kh kw, 2) act like the same field at every pixel
    taps = np.random.default_rng(0).normal(size=(6, 2))
    broadcast = np.broadcast_to(taps.reshape(12, 1, 1), (12, 4, 4))
    np.testing.assert_array_equal(viz.tap_positions(taps, [(2, 3)], (2, 3)), viz.tap_positions(broadcast, [(2, 3)], (2, 3)))
    with pytest.raises(ValueError):
        viz.tap_positions(np.zeros((10, 4, 4)), [(0, 0)], 3)


def test_tap_positions_are_where_deform_conv2d_reads():
    # on a ramp a one-hot kernel reads a * y + b * x at its tap's position, exactly (bilinear is exact on linear images)
    from convref.reference import deform_conv2d

    a, b = 0.3, -0.7
    image = data.ramp(12, 12, slope_y=a, slope_x=b)[None, None]
    field = np.random.default_rng(1).uniform(-1.5, 1.5, size=(1, 18, 10, 10))
    for k in (0, 4, 7):
        one_hot = np.zeros((1, 1, 3, 3))
        one_hot.flat[k] = 1
        out = deform_conv2d(image, field, one_hot, dilation=1)[0, 0]
        for h, w in [(3, 4), (5, 2), (6, 6)]:
            y, x = viz.tap_positions(field[0], [(h, w)], 3)[0, k]
            assert 0 <= y <= 11 and 0 <= x <= 11
            np.testing.assert_allclose(out[h, w], a * y + b * x, atol=1e-12)


def test_affine_tap_offsets():
    grid = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    np.testing.assert_allclose(viz.affine_tap_offsets(3), 0, atol=1e-15)
    np.testing.assert_allclose(grid + viz.affine_tap_offsets(3, scale=2.5), 2.5 * grid)
    np.testing.assert_allclose(grid * 2 + viz.affine_tap_offsets(3, dilation=2, scale=1.5), 3 * grid)
    # a quarter turn counter-clockwise on the screen (y down): right -> up, up -> left
    turned = grid + viz.affine_tap_offsets(3, angle=np.pi / 2)
    np.testing.assert_allclose(turned[5], [-1, 0], atol=1e-12)  # tap (0, +1) was to the right
    np.testing.assert_allclose(turned[1], [0, -1], atol=1e-12)  # tap (-1, 0) was above
    stretched = grid + viz.affine_tap_offsets(3, aspect=4.0)
    np.testing.assert_allclose(stretched, grid * [2.0, 0.5])


def test_affine_taps_turn_the_same_way_as_the_shapes():
    # taps scaled, stretched and turned with a rectangle's own parameters land inside it (and the mirror turn does not)
    images, _, params = data.varied_shapes(20, size=64, seed=5, noise=0.0, scale=(0.25, 0.3), max_aspect=3.0, classes=("square",))
    inside, mirrored = [], []
    for image, centre, half, aspect, angle in zip(images[:, 0], params["centre"], params["half_size"], params["aspect"], params["angle"]):
        grid = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
        for sign, hits in ((1, inside), (-1, mirrored)):
            points = centre + grid + viz.affine_tap_offsets(3, scale=0.8 * half, aspect=aspect, angle=sign * angle)
            rows, cols = np.clip(np.rint(points), 0, 63).astype(int).T
            hits.append(image[rows, cols].all())
    assert all(inside) and not all(mirrored)


def _points(ax, gid):
    return [a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == gid]


def test_sampling_grid_draws_the_computed_positions():
    image = data.test_image(20)
    field = np.random.default_rng(2).normal(0, 1, size=(18, 20, 20))
    taps = viz.affine_tap_offsets(3, scale=2.0)
    mask = np.linspace(0, 1, 9)
    fig = viz.plot_sampling_grid(image, {"regular": None, "free": field, "scaled": taps}, [(5, 6), (12, 14)], padding=1,
                                 masks={"scaled": mask})
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == ["regular", "free", "scaled"]
    for ax, offset in zip(axes, (None, field, taps)):
        regular = _points(ax, "regular")
        assert len(regular) == 2
        for line, (h, w) in zip(regular, [(5, 6), (12, 14)]):
            hand = np.array([(h - 1 + i, w - 1 + j) for i in range(3) for j in range(3)])
            np.testing.assert_array_equal(np.c_[line.get_ydata(), line.get_xdata()], hand)
        deformed = _points(ax, "deformed")
        if offset is None:
            assert not deformed
            continue
        expected = viz.tap_positions(offset, [(5, 6), (12, 14)], 3, padding=1)
        assert len(deformed) == 2
        for collection, positions in zip(deformed, expected):
            np.testing.assert_allclose(collection.get_offsets()[:, ::-1], positions)
    sizes = _points(axes[2], "deformed")[0].get_sizes()
    assert np.all(np.diff(sizes) > 0)  # dot area grows with the modulation
    plt.close(fig)
    zoomed = viz.plot_sampling_grid(image, {"a": None}, [(10, 10)], padding=1, crop=3)
    assert zoomed.axes[0].get_xlim() == (6.5, 13.5)
    plt.close(zoomed)


def _bilinear_by_loops(image, y, x):
    value = 0.0
    for row in range(image.shape[0]):
        for col in range(image.shape[1]):
            value += max(0.0, 1 - abs(row - y)) * max(0.0, 1 - abs(col - x)) * image[row, col]
    return value


def _title_value(fig):
    return float(re.search(r"= (-?[0-9.]+)", fig._suptitle.get_text()).group(1))


def test_deformed_sampling_reads_and_sums_like_the_equation():
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(10, 11))
    weight = rng.normal(size=(3, 3))
    taps = rng.uniform(-2, 2, size=(9, 2))
    mask = rng.uniform(size=9)
    for dilation, m in [(1, None), (2, mask)]:
        fig = viz.plot_deformed_sampling(image, weight, (4, 6), taps, dilation=dilation, mask=m)
        shown = fig.axes[1].images[0].get_array()
        reads = np.array([
            _bilinear_by_loops(image, 4 - dilation + dilation * i + taps[3 * i + j, 0], 6 - dilation + dilation * j + taps[3 * i + j, 1])
            for i in range(3) for j in range(3)
        ])
        if m is not None:
            reads = reads * m
        np.testing.assert_allclose(shown.ravel(), reads, atol=1e-12)
        np.testing.assert_allclose(_title_value(fig), (weight.ravel() * reads).sum(), atol=1e-4)
        plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_deformed_sampling(image, np.ones((2, 2)), (0, 0), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        viz.plot_deformed_sampling(image, weight, (20, 0), taps)


def test_learned_taps_and_spread_figures():
    images = [np.zeros((8, 8)), np.ones((8, 8))]
    taps = [np.array([[1.0, 2.0], [3.5, 4.0]]), np.array([[0.0, 0.0]])]
    fig = viz.plot_learned_taps(images, taps, [(2, 3), (4, 4)], ["a", "b"])
    for ax, points in zip([ax for ax in fig.axes if ax.images], taps):
        np.testing.assert_array_equal(_points(ax, "taps")[0].get_offsets()[:, ::-1], points)
    plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_learned_taps(images, taps[:1], [(0, 0)])
    sizes = np.array([1.0, 2.0, 3.0, 4.0])
    spread = np.array([2.0, 2.5, 2.4, 4.0])
    fig = viz.plot_tap_spread(sizes, {"model": spread})
    label = fig.axes[0].get_legend().get_texts()[0].get_text()
    assert label == f"model (r = {np.corrcoef(sizes, spread)[0, 1]:.2f})"
    plt.close(fig)
    with pytest.raises(ValueError):
        viz.plot_tap_spread(sizes, {"model": spread[:3]})


# ---------------------------------------------------------------------------
# widgets.deform_widget
# ---------------------------------------------------------------------------


def test_deform_widget_outputs_match_conv2d():
    rng = np.random.default_rng(4)
    image = rng.uniform(size=(12, 12))
    weight = rng.normal(size=(3, 3))
    x, w = torch.from_numpy(image)[None, None], torch.from_numpy(weight)[None, None]
    widget = widgets.deform_widget(image, weight, pixel=(5, 6))
    (pixel_box, global_box, tap_box) = widget.children[0].children
    row, column = pixel_box.children
    scale, aspect, angle = global_box.children
    tap, dy, dx = tap_box.children

    def latest():
        return _title_value(plt.figure(plt.get_fignums()[-1]))

    # regular taps: an ordinary 3x3 convolution
    np.testing.assert_allclose(latest(), F.conv2d(x, w, padding=1)[0, 0, 5, 6].item(), atol=1e-4)
    # scale 2 moves every tap to twice its distance: exactly a dilated convolution
    scale.value = 2.0
    dilated = F.conv2d(x, w, padding=2, dilation=2)[0, 0]
    np.testing.assert_allclose(latest(), dilated[5, 6].item(), atol=1e-4)
    row.value, column.value = 7, 3
    np.testing.assert_allclose(latest(), dilated[7, 3].item(), atol=1e-4)
    # one tap moved by a whole pixel reads its new pixel instead
    tap.value = 4
    dy.value = 1.0
    expected = dilated[7, 3].item() + weight[1, 1] * (image[8, 3] - image[7, 3])
    np.testing.assert_allclose(latest(), expected, atol=1e-4)
    # each tap keeps its own offset: another tap starts at zero, and coming back restores (1, 0)
    tap.value = 0
    assert (dy.value, dx.value) == (0.0, 0.0)
    np.testing.assert_allclose(latest(), expected, atol=1e-4)  # switching taps changes nothing
    tap.value = 4
    assert (dy.value, dx.value) == (1.0, 0.0)
    plt.close("all")


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
    assert counts["deformable"] == plain + (9 * 8 * 18 + 18) * 2  # two offset convolutions 8 -> 18
    assert counts["modulated"] == plain + (9 * 8 * 27 + 27) * 2  # 9 more mask channels each
    with pytest.raises(ValueError):
        experiments.shape_classifier("dynamic")


def test_deformable_classifier_starts_as_the_plain_one():
    torch.manual_seed(0)
    plain = experiments.shape_classifier("plain", width=4)
    for kind in ("active", "deformable"):
        other = experiments.shape_classifier(kind, width=4)
        missing, unexpected = other.load_state_dict(plain.state_dict(), strict=False)  # every plain weight, same names
        assert not unexpected and all("offset" in name for name in missing)
        x = torch.randn(3, 1, 24, 24)
        torch.testing.assert_close(other(x), plain(x), atol=1e-5, rtol=1e-5)


def test_layer_offsets_reads_the_offsets_the_layers_use():
    model = experiments.shape_classifier("deformable", width=4)
    deform = [m for m in model.modules() if isinstance(m, DeformConv2d)]
    deform[1].conv_offset.bias.data.fill_(0.75)  # zero weights: the offsets are the bias everywhere
    model.train()
    layers = experiments.layer_offsets(model, np.zeros((2, 1, 24, 24), dtype=np.float32))
    assert model.training  # left as it was
    assert [l["offset"].shape for l in layers] == [(2, 18, 12, 12), (2, 18, 6, 6)]
    assert np.all(layers[0]["offset"] == 0) and np.all(layers[1]["offset"] == 0.75)
    assert layers[1]["stride"] == (2, 2) and layers[1]["padding"] == (1, 1) and layers[0]["mask"] is None
    active = experiments.shape_classifier("active", width=4)
    taps = torch.randn(9, 2)
    [m for m in active.modules() if isinstance(m, ActiveConv2d)][0].tap_offsets.data.copy_(taps)
    offset = experiments.layer_offsets(active, np.zeros((1, 1, 24, 24), dtype=np.float32))[0]["offset"]
    np.testing.assert_allclose(offset[0, :, 3, 5], taps.numpy().reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(offset[0, :, 0, 0], taps.numpy().reshape(-1), rtol=1e-6)
    modulated = experiments.shape_classifier("modulated", width=4)
    masks = experiments.layer_offsets(modulated, np.zeros((1, 1, 24, 24), dtype=np.float32))
    assert all(np.allclose(l["mask"], 0.5) for l in masks)  # sigmoid(0)
    with pytest.raises(ValueError):
        experiments.layer_offsets(experiments.shape_classifier("plain"), np.zeros((1, 1, 24, 24), dtype=np.float32))


def test_stacked_taps_of_the_regular_stack_is_its_receptive_field():
    model = experiments.shape_classifier("deformable", width=4)
    layers = experiments.layer_offsets(model, np.zeros((1, 1, 24, 24), dtype=np.float32))
    p, q = 3, 2
    points = experiments.stacked_taps(layers, 0, (p, q), input_stride=2.0, regular=True)
    # last layer (stride 2, padding 1): taps (2p - 1 + i, 2q - 1 + j); the layer before (stride 1, padding 1): +-1 around each
    hand = sorted(
        (2 * (2 * p - 1 + i - 1 + a), 2 * (2 * q - 1 + j - 1 + b))
        for i in range(3) for j in range(3) for a in range(3) for b in range(3)
    )
    assert points.shape == (81, 2)
    assert sorted(map(tuple, points.tolist())) == hand
    # zero offsets read the regular points; a whole-pixel offset of the last layer shifts everything by it
    np.testing.assert_array_equal(experiments.stacked_taps(layers, 0, (p, q), 2.0), points)
    [m for m in model.modules() if isinstance(m, DeformConv2d)][1].conv_offset.bias.data.copy_(torch.tensor([1.0, -1.0] * 9))
    layers = experiments.layer_offsets(model, np.zeros((1, 1, 24, 24), dtype=np.float32))
    np.testing.assert_array_equal(experiments.stacked_taps(layers, 0, (p, q), 2.0), points + [2.0, -2.0])


def test_deformable_classifier_learns_its_offsets():
    images, labels, _ = data.varied_shapes(96, size=24, seed=0)
    torch.manual_seed(0)
    model = experiments.shape_classifier("deformable", width=4)
    experiments.train_classifier(model, images, labels, epochs=1, seed=0, batch_size=32)
    layers = experiments.layer_offsets(model, images[:4])
    assert all(np.abs(l["offset"]).max() > 0 for l in layers)  # the gradient reached the offset convolutions
