"""The pre-drawn widgets: one figure per combination of values, linked to the controls.

Each widget is checked against fresh drawings made here with the :mod:`convref.viz`
function it wraps (the PNG bytes must be equal), so a panel filed under the wrong value,
a link to the wrong Stack or a caption that does not follow its figure fails.
"""

from __future__ import annotations

import itertools

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from ipywidgets.embed import embed_data

from convref import data, experiments, functional, viz, widgets
from convref.arith import affine_tap_offsets, conv_output_size
from convref.nn import DynamicConv2d
from convref.reference import conv2d
from convref.widgets._predrawn import Predrawn, control, figure_png, predrawn

matplotlib.use("Agg")

#: The public names that the chapters call (kept from the first version of the module).
PUBLIC = [
    "conv_arithmetic_widget",
    "kernel_widget",
    "dilation_widget",
    "overlap_widget",
    "attention_widget",
    "shift_widget",
    "shuffle_widget",
    "deform_widget",
    "template_widget",
    "dynamic_widget",
    "choice_widget",
    "channel_mix_widget",
    "low_rank_widget",
]


def _text_figure(**values: object) -> plt.Figure:
    """A figure whose pixels depend on ``values``: different values, different PNGs."""
    figure = plt.figure(figsize=(2, 1))
    figure.text(0.1, 0.5, repr(sorted(values.items())))
    return figure


def _combinations(widget: Predrawn):
    names = [spec.name for spec in widget.specs]
    for values in itertools.product(*(spec.values for spec in widget.specs)):
        yield dict(zip(names, values))


def _stacks_by_level(widget: Predrawn) -> list[list[ipywidgets.Stack]]:
    levels, current = [], [widget.stack]
    for _ in widget.specs:
        levels.append(current)
        current = [child for stack in current for child in stack.children]
    return levels


def _check_panels(widget: Predrawn, draw) -> None:
    """Every panel's image is ``draw(**values)``; images differ; captions name the values."""
    images = []
    for values in _combinations(widget):
        shown = widget.image(**values)
        assert shown == figure_png(draw(**values)), f"panel {values} is not its drawing"
        images.append(shown)
        caption = widget.caption(**values)
        for spec in widget.specs:
            label = spec.labels[spec.values.index(values[spec.name])]
            assert label in caption, f"caption {caption!r} does not name {label!r}"
        assert "->" in caption, f"caption {caption!r} states no result"
    assert len(set(images)) == len(images), "two values show the same image"


# The core: structure, links, state


@pytest.fixture(scope="module")
def toy() -> Predrawn:
    specs = [
        control("a", "first", (1, 2, 3), 2),
        control("b", "second", ("x", "y"), "y", kind="dropdown"),
    ]
    return predrawn(specs, _text_figure, lambda a, b: f"a {a}, b {b} -> {a}{b}")


def test_the_stacks_hold_one_panel_per_combination(toy):
    assert len(toy.stack.children) == 3
    assert all(len(inner.children) == 2 for inner in toy.stack.children)
    panels = [panel for inner in toy.stack.children for panel in inner.children]
    assert len(panels) == 6
    for panel in panels:
        image, caption = panel.children
        assert isinstance(image, ipywidgets.Image) and image.format == "png"
        assert isinstance(caption, ipywidgets.HTML)
    assert toy.caption(a=3, b="x") == "a 3, b x -> 3x"
    assert toy.stack.children[2].children[0] is toy.panel(a=3, b="x")


def test_each_control_is_linked_to_every_stack_of_its_level(toy):
    levels = _stacks_by_level(toy)
    assert len(toy.links) == sum(len(level) for level in levels) == 1 + 3
    for spec, level in zip(toy.specs, levels):
        linked = [
            link.target[0]
            for link in toy.links
            if link.source == (toy.controls[spec.name], "index")
        ]
        assert linked == level, f"control {spec.name} drives the wrong Stacks"
    for link in toy.links:
        assert isinstance(link, ipywidgets.widgets.widget_link.DirectionalLink)
        assert link.target[1] == "selected_index"


def test_the_first_figure_is_the_start_values_and_the_controls_agree(toy):
    assert toy.controls["a"].index == 1 and toy.controls["b"].index == 1
    assert toy.stack.selected_index == 1
    assert all(inner.selected_index == 1 for inner in toy.stack.children)
    assert isinstance(toy.controls["a"], ipywidgets.SelectionSlider)
    assert isinstance(toy.controls["b"], ipywidgets.Dropdown)
    assert toy.controls["a"]._options_labels == ("1", "2", "3")
    assert toy.controls["a"].label == "2" and toy.controls["b"].label == "y"


def test_controls_wrap_and_their_labels_are_whole(toy):
    bar = toy.children[0]
    assert bar.layout.flex_flow == "row wrap" and bar.layout.width == "100%"
    for widget in toy.controls.values():
        assert widget.style.description_width == "initial"
        assert widget.layout.max_width and widget.layout.min_width == "0"


def test_the_links_are_saved_with_the_widget_state(toy):
    """A static page gets only what the notebook's widget state holds: the links must be in it."""
    state = embed_data(views=[toy])["manager_state"]["state"]
    links = [m for m in state.values() if m["model_name"] == "DirectionalLinkModel"]
    ids = {f"IPY_MODEL_{toy.controls[name].model_id}" for name in toy.controls}
    ours = [m for m in links if m["state"]["source"][0] in ids]
    assert len(ours) == len(toy.links)
    assert {m["state"]["source"][1] for m in ours} == {"index"}


def test_figure_png_is_deterministic_and_closes_the_figure():
    first = _text_figure(a=1)
    assert figure_png(first) == figure_png(_text_figure(a=1))
    assert not plt.fignum_exists(first.number)
    assert figure_png(_text_figure(a=1)) != figure_png(_text_figure(a=2))
    assert figure_png(_text_figure(a=1)).startswith(b"\x89PNG")


def test_too_many_combinations_are_refused():
    specs = [control("a", "a", range(7), 0), control("b", "b", range(7), 0)]
    with pytest.raises(ValueError, match="49 combinations"):
        predrawn(specs, _text_figure, str)


@pytest.mark.parametrize(
    "arguments, error, words",
    [
        (("a", "a", (), 0), ValueError, "a: the control must offer"),
        (("a", "a", (1, 2), 3), ValueError, "a must be one of"),
        (
            ("a", "a", (1, 2), 1, ("x", "x")),
            ValueError,
            "a: the labels must be distinct",
        ),
        (("a", "a", (1, 2), 1, ("x",)), ValueError, "a: 1 labels for 2 values"),
        (("a", "a", (1, 2), 1, None, "knob"), ValueError, "kind must be one of"),
    ],
)
def test_bad_controls_are_refused_by_name(arguments, error, words):
    with pytest.raises(error, match=words):
        control(*arguments)


def test_a_panel_needs_every_value_and_a_known_one(toy):
    with pytest.raises(TypeError, match="'b'"):
        toy.panel(a=1)
    with pytest.raises(ValueError, match="a must be one of"):
        toy.panel(a=4, b="x")


def test_the_front_keeps_the_public_names():
    assert sorted(widgets.__all__) == sorted(PUBLIC)
    assert all(callable(getattr(widgets, name)) for name in PUBLIC)


# Each widget against its figure


def test_conv_arithmetic_widget_shows_the_last_window_of_each_geometry():
    widget = widgets.conv_arithmetic_widget(
        5,
        3,
        input_sizes=(5, 9),
        kernel_sizes=(3,),
        strides=(1, 2),
        paddings=(0,),
        dilations=(1, 3),
    )
    assert [len(spec.values) for spec in widget.specs] == [2, 1, 2, 1, 2]

    def draw(input_size, kernel_size, stride, padding, dilation):
        try:
            conv_output_size(input_size, kernel_size, stride, padding, dilation)
        except ValueError:
            return widgets.basics.message_figure(
                f"input {input_size}, kernel {kernel_size}, stride {stride}, padding"
                f" {padding}, dilation {dilation}:\n"
                + widgets.basics._no_output(input_size, kernel_size, padding, dilation)
            )
        return viz.plot_conv_arithmetic(
            input_size, kernel_size, stride, padding, dilation, step=-1
        )

    _check_panels(widget, draw)
    assert widget.caption(
        input_size=9, kernel_size=3, stride=1, padding=0, dilation=1
    ).endswith("-> output 7 (its last window shown)")
    assert "no output" in widget.caption(
        input_size=5, kernel_size=3, stride=1, padding=0, dilation=3
    )


def test_conv_arithmetic_widget_offers_its_start_values():
    widget = widgets.conv_arithmetic_widget(
        6,
        input_sizes=(5,),
        kernel_sizes=(3,),
        strides=(1,),
        paddings=(0,),
        dilations=(1,),
    )
    assert widget.specs[0].values == (5, 6) and widget.controls["input_size"].index == 1


def test_kernel_widget_filters_with_the_chosen_kernel():
    image = data.test_image(16)
    kernels = {"box": np.full((3, 3), 1 / 9), "edge": np.array([[1.0, -1.0]])}
    widget = widgets.kernel_widget(image, kernels)

    def draw(kernel):
        response = conv2d(
            image[None, None], kernels[kernel][None, None], padding="same"
        )[0, 0]
        return viz.plot_images(
            [image, kernels[kernel], response],
            ["input", f"kernel: {kernel}", "output"],
            symmetric=[False, True, True],
        )

    _check_panels(widget, draw)
    assert isinstance(widget.controls["kernel"], ipywidgets.Dropdown)


def test_channel_mix_widget_offers_named_weight_triples():
    rgb = np.random.default_rng(0).random((3, 12, 12)).astype(np.float32)
    mixes = {"red": (1.0, 0.0, 0.0), "red minus green": (1.0, -1.0, 0.0)}
    widget = widgets.channel_mix_widget(rgb, mixes, start="red")

    def draw(mix):
        kernel = torch.tensor(mixes[mix], dtype=torch.float32).view(1, 3, 1, 1)
        out = functional.conv2d(torch.from_numpy(rgb)[None], kernel)[0, 0].numpy()
        w_r, w_g, w_b = mixes[mix]
        return viz.plot_images(
            [rgb.transpose(1, 2, 0), out],
            ["input", f"{w_r:+.2f} R {w_g:+.2f} G {w_b:+.2f} B"],
            symmetric=[False, True],
        )

    _check_panels(widget, draw)


def test_low_rank_widget_draws_each_kernel_at_each_rank():
    image = data.test_image(16)
    rng = np.random.default_rng(1)
    kernels = {"a": rng.random((3, 3)), "b": rng.random((3, 3))}
    widget = widgets.low_rank_widget(image, kernels, ranks=(1, 3))
    _check_panels(
        widget,
        lambda kernel, rank: viz.plot_low_rank_filtering(
            image, kernels[kernel], rank, kernel
        ),
    )
    assert "kernel error 0.0%" in widget.caption(kernel="a", rank=3)


def test_dilation_widget_offers_rate_triples():
    stacks = [(1, 1, 1), (1, 2, 5)]
    widget = widgets.dilation_widget(stacks=stacks, kernel_sizes=(3,))
    _check_panels(widget, lambda rates, kernel_size: viz.plot_coverage([rates], 3))
    assert widget.caption(rates=(1, 2, 5), kernel_size=3).endswith("HDC rule met")
    assert widget.caption(rates=(1, 1, 1), kernel_size=3).startswith("rates 1, 1, 1")


def test_overlap_widget_draws_each_kernel_and_stride():
    image = experiments.smooth_image(8)
    widget = widgets.overlap_widget(image, 3, 2, kernel_sizes=(2, 3), strides=(2,))
    _check_panels(
        widget,
        lambda kernel_size, stride: viz.plot_overlap(
            [(kernel_size, stride)], input_size=4, image=image
        ),
    )
    assert "uneven overlap" in widget.caption(kernel_size=3, stride=2)
    assert "-> even overlap" in widget.caption(kernel_size=2, stride=2)


def test_attention_widget_shows_the_row_of_the_query():
    image = data.test_image(16)[::2, ::2].copy()
    rng = np.random.default_rng(2)
    matrices = {"a": rng.random((64, 64)), "b": rng.random((64, 16))}
    widget = widgets.attention_widget(
        image, matrices, (1, 2), rows=(1, 6), columns=(2,)
    )

    def draw(row, column):
        weights = {name: m[row * 8 + column] for name, m in matrices.items()}
        return viz.plot_attention_map(image, weights, (row, column))

    _check_panels(widget, draw)
    peak = np.unravel_index(matrices["a"][6 * 8 + 2].argmax(), (8, 8))
    assert f"a at ({peak[0]}, {peak[1]})" in widget.caption(row=6, column=2)


def test_shift_widget_draws_each_shift():
    picture = data.test_image(16)
    widget = widgets.shift_widget(picture, 1.0, -0.5, shifts=(0.0,))
    assert widget.specs[0].values == (-0.5, 0.0, 1.0)

    def draw(dy, dx):
        shifts = np.array([[0.0, 0.0], [dy, dx]])
        return viz.plot_shifted_channels(picture, shifts, ncols=2, size=2.6)

    _check_panels(widget, draw)
    assert "whole pixels" in widget.caption(dy=1.0, dx=0.0)
    assert "largest weight 0.50" in widget.caption(dy=1.0, dx=-0.5)


def test_shuffle_widget_traces_each_output_with_each_group_count():
    def two_layers(groups: int, shuffle: bool) -> torch.nn.Module:
        torch.manual_seed(0)
        layers = [torch.nn.Conv2d(6, 6, 1, groups=groups)]
        if shuffle:
            layers.append(torch.nn.ChannelShuffle(groups))
        return torch.nn.Sequential(*layers, torch.nn.Conv2d(6, 6, 1, groups=groups))

    maps = {
        g: {
            s: experiments.channel_connectivity(two_layers(g, s), 6)
            for s in (False, True)
        }
        for g in (2, 3)
    }
    widget = widgets.shuffle_widget(
        lambda g: maps[g], 6, groups=(2, 3), group_count=3, outputs=(0, 5)
    )
    _check_panels(
        widget,
        lambda groups, output: viz.plot_shuffle_connectivity(
            6, groups, maps[groups], highlight=output
        ),
    )
    assert "reads 2 of 6 input channels without the shuffle, 4 with it" in (
        widget.caption(groups=3, output=0)
    )


def test_deform_widget_draws_each_deformation_at_each_pixel():
    image = data.test_image(16)[:12, :12].copy()
    kernel = np.arange(9.0).reshape(3, 3) - 4
    shapes = {"regular": np.zeros((9, 2)), "scale 2": affine_tap_offsets(3, 2.0)}
    widget = widgets.deform_widget(
        image, kernel, (6, 6), deformations=shapes, pixels=[(6, 6), (2, 9)]
    )
    _check_panels(
        widget,
        lambda deformation, pixel: viz.plot_deformed_sampling(
            image, kernel, pixel, shapes[deformation]
        ),
    )
    regular = conv2d(image[None, None], kernel[None, None], padding=1)[0, 0, 2, 9]
    assert f"-> output {regular:+.3f}" in widget.caption(
        deformation="regular", pixel=(2, 9)
    )


def test_template_widget_draws_each_size_and_corner():
    image = data.test_image(16)
    widget = widgets.template_widget(
        image, (3, 4), 3, rows=(3,), columns=(0, 4), sizes=(3, 5)
    )
    _check_panels(
        widget,
        lambda size, row, column: viz.plot_template_matching(
            image, (row, column), size
        ),
    )
    assert "negative L1 finds (3, 4)" in widget.caption(size=3, row=3, column=4)


def test_dynamic_widget_mixes_the_kernels_at_each_temperature():
    torch.manual_seed(0)
    layer = DynamicConv2d(1, 2, 3, padding=1, num_kernels=3, temperature=1.0).double()
    model = torch.nn.Sequential(layer)
    images = np.random.default_rng(3).random((3, 1, 8, 8))
    widget = widgets.dynamic_widget(
        model, images, ["p", "q", "r"], choices=[0, 2], temperatures=(0.5, 5.0)
    )
    kernels = layer.weight.detach().numpy()[:, 0, 0]

    def draw(image, temperature):
        layer.temperature = temperature
        with torch.no_grad():
            weights = layer.attention(torch.from_numpy(images[image : image + 1]))
        layer.temperature = 1.0
        name = "pqr"[image]
        return viz.plot_kernel_mixture(
            kernels,
            {name: weights[0].numpy()},
            {name: images[image, 0]},
            title=f"dynamic layer 1, temperature {temperature:.3g}",
        )

    assert widget.specs[1].values == (
        0.5,
        1.0,
        5.0,
    )  # the layer's own temperature added
    _check_panels(widget, draw)
    assert layer.temperature == 1.0


def test_choice_widget_draws_each_cost_and_accuracy():
    rows = [
        {"label": "conv", "chapter": "conv_basics", "params": 10, "mult_adds": 5e6},
        {"label": "shift", "chapter": "shift", "params": 4, "mult_adds": 1e6},
    ]
    for row, cpu, test, train in zip(rows, (1.0, 1.3), (0.8, 0.85), (0.9, 0.88)):
        row.update(cpu_ratio=cpu, test_accuracy=test, train_accuracy=train)
    widget = widgets.choice_widget(rows, noise=0.01)
    assert widget.specs[0].values == ("mult_adds", "params", "cpu_ratio")
    _check_panels(
        widget,
        lambda cost, accuracy: viz.plot_operator_choices(
            rows, costs=(cost,), accuracy=accuracy, noise=0.01
        ),
    )
    assert widget.caption(cost="mult_adds", accuracy="train_accuracy").endswith(
        "most accurate: conv (0.900); cheapest: shift"
    )


# Bad arguments

_IMAGE = np.zeros((8, 8))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: widgets.conv_arithmetic_widget(strides=(0,)), ValueError, "strides"),
        (lambda: widgets.conv_arithmetic_widget(padding=-1), ValueError, "padding"),
        (lambda: widgets.conv_arithmetic_widget(stride=1.5), TypeError, "stride"),
        (
            lambda: widgets.conv_arithmetic_widget(input_sizes="579"),
            TypeError,
            "input_sizes",
        ),
        (lambda: widgets.kernel_widget([[0.0]], {"a": _IMAGE}), TypeError, "image"),
        (lambda: widgets.kernel_widget(_IMAGE, {}), TypeError, "kernels"),
        (lambda: widgets.channel_mix_widget(_IMAGE), ValueError, "rgb"),
        (
            lambda: widgets.channel_mix_widget(np.zeros((3, 4, 4)), {"a": (1, 2)}),
            ValueError,
            "mixes",
        ),
        (
            lambda: widgets.low_rank_widget(_IMAGE, {"a": np.eye(3)}, ranks=(4,)),
            ValueError,
            "ranks",
        ),
        (lambda: widgets.dilation_widget(stacks=[(0, 1, 2)]), ValueError, "stacks"),
        (
            lambda: widgets.overlap_widget(_IMAGE, kernel_sizes=(0,)),
            ValueError,
            "kernel_sizes",
        ),
        (
            lambda: widgets.attention_widget(_IMAGE, np.zeros((10, 64))),
            ValueError,
            "affinity",
        ),
        (
            lambda: widgets.attention_widget(_IMAGE, np.zeros((64, 64)), (9, 0)),
            ValueError,
            "query",
        ),
        (
            lambda: widgets.attention_widget(_IMAGE, np.zeros((64, 64)), rows=(8,)),
            ValueError,
            "rows",
        ),
        (lambda: widgets.shift_widget(_IMAGE, dy="1"), TypeError, "dy"),
        (lambda: widgets.shuffle_widget(None, 12), TypeError, "connectivity"),
        (lambda: widgets.shuffle_widget(dict, 12, groups=(5,)), ValueError, "groups"),
        (
            lambda: widgets.shuffle_widget(dict, 12, outputs=(12,)),
            ValueError,
            "outputs",
        ),
        (lambda: widgets.deform_widget(_IMAGE, np.eye(2)), ValueError, "weight"),
        (lambda: widgets.deform_widget(_IMAGE, pixels=[(8, 0)]), ValueError, "pixels"),
        (
            lambda: widgets.deform_widget(_IMAGE, deformations={"a": np.zeros(9)}),
            ValueError,
            "deformations",
        ),
        (
            lambda: widgets.template_widget(_IMAGE, (0, 0), 3, sizes=(9,)),
            ValueError,
            "sizes",
        ),
        (lambda: widgets.template_widget(_IMAGE, (7, 0), 3), ValueError, "corner"),
        (lambda: widgets.dynamic_widget("model", _IMAGE), TypeError, "model"),
        (
            lambda: widgets.dynamic_widget(torch.nn.Identity(), _IMAGE),
            ValueError,
            "layer",
        ),
        (lambda: widgets.choice_widget([]), TypeError, "rows"),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()
