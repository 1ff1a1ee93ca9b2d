"""Every figure of ``convref.viz`` is legible in the book's content column.

The book shows a figure as the PNG that the inline backend saves (``figure.dpi``,
``bbox_inches="tight"``) in a column :data:`COLUMN_PX` pixels wide; a wider image is
shrunk to fit. So a text of ``size`` points in a figure ``width`` pixels wide appears
``size * dpi / 72 * min(1, COLUMN_PX / width)`` pixels tall, and every text a figure
draws (titles, labels, tick labels, legends, annotations, texts in diagram cells) must
come out at :data:`SMALLEST_PX` or more. The cases use the arguments of the book's
widest figures.

The oracles are independent of the code under test: the width is read from the saved
PNG's header, and the texts are those the renderer actually draws (recorded as they are
drawn).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from convref import arith, data, experiments, reference, viz
from convref.viz.figure_style import TEXT_SIZES

#: Width of the book's content column on a desktop page, in CSS pixels.
COLUMN_PX = 784
#: The smallest text height, in pixels as displayed, that a figure may show.
SMALLEST_PX = 9.0


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _taps_81(seed: int) -> np.ndarray:
    """81 points spread around a centre, as the deformable chapter's two layers read."""
    grid = np.stack(np.meshgrid(np.arange(-4, 5), np.arange(-4, 5)), -1).reshape(-1, 2)
    return 12 + 1.3 * grid + _rng(seed).normal(0, 0.6, size=(81, 2))


def _choice_rows() -> list[dict]:
    """Rows like :func:`convref.experiments.compare_operators`' (the book's values)."""
    table = [  # params, mult-adds (M), CPU x baseline, peak MiB, train, test accuracy
        (6012, 0.87, 1.00, 6.8, 0.59, 0.51),
        (1916, 0.28, 0.72, 6.8, 0.45, 0.42),
        (1980, 0.29, 1.00, 7.9, 0.49, 0.45),
        (14204, 2.05, 0.95, 6.8, 0.65, 0.57),
        (4476, 0.65, 0.88, 7.9, 0.54, 0.45),
        (2556, 0.37, 1.03, 6.8, 0.53, 0.46),
        (2204, 0.32, 1.98, 20.9, 0.52, 0.44),
        (6012, 0.87, 1.02, 6.8, 0.60, 0.50),
        (14268, 0.67, 2.14, 9.8, 0.65, 0.55),
        (11232, 1.78, 4.26, 22.1, 0.71, 0.65),
        (7180, 1.13, 2.86, 12.7, 0.70, 0.63),
        (2492, 0.35, 1.41, 10.1, 0.47, 0.41),
        (6012, 0.87, 5.56, 23.8, 0.44, 0.34),
        (19972, 0.89, 0.99, 8.4, 0.54, 0.48),
        (20012, 0.89, 1.37, 8.4, 0.57, 0.49),
        (11612, 1.54, 1.42, 14.1, 0.75, 0.67),
    ]
    return [
        dict(
            name=name,
            label=choice.label,
            chapter=choice.chapter,
            params=params,
            mult_adds=mult_adds * 1e6,
            cpu_ratio=cpu,
            peak_mib=peak,
            gpu_ratio=None,
            train_accuracy=train,
            test_accuracy=test,
        )
        for (name, choice), (params, mult_adds, cpu, peak, train, test) in zip(
            experiments.CHOICES.items(), table
        )
    ]


def _images(count: int, size: int = 24) -> list[np.ndarray]:
    return list(data.varied_shapes(count, size=size, seed=0)[0][:, 0])


def _attention(rows: int, kernels: int = 4, seed: int = 0) -> np.ndarray:
    logits = _rng(seed).normal(size=(rows, kernels))
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def _branch_weights(sizes: np.ndarray, seed: int) -> list[np.ndarray]:
    layers = []
    for layer in range(3):
        large = np.clip(
            sizes / 10 + _rng(seed + layer).normal(0, 0.05, sizes.shape), 0, 1
        )
        weights = np.stack([1 - large, large], 1)[:, :, None]
        layers.append(np.repeat(weights, 8, axis=2))
    return layers


def _erfs() -> tuple[dict, dict]:
    names = ("3x3 x 8", "rates (1,2,5)", "rates (2,2,2)", "3x3 x 16", "rates (1,2,5)x2")
    sides = (17, 17, 13, 33, 33)
    u = np.arange(37) - 18
    erfs = {
        name: np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (side / 2) ** 2)
        for name, side in zip(names, sides)
    }
    return erfs, dict(zip(names, sides))


def _sampling_panels() -> dict:
    return {
        "regular (no offsets)": None,
        "random offsets": _rng(0).normal(0, 1.2, size=(9, 2)),
        "scale 2.5": arith.affine_tap_offsets(3, scale=2.5),
        "the object's shape": arith.affine_tap_offsets(
            3, scale=4.0, aspect=2.5, angle=0.6
        ),
    }


#: ``{function name: {case: zero-argument call}}``: the book's widest uses of each.
CASES: dict[str, dict[str, Callable[[], Figure]]] = {
    "plot_conv_arithmetic": {
        "padded, dilated": lambda: viz.plot_conv_arithmetic(7, 3, 2, 1, 2, step=1),
    },
    "plot_conv_steps": {
        "three steps": lambda: viz.plot_conv_steps(5, 3, 2, 1, 1, steps=(0, 1, 2)),
    },
    "plot_conv_cases": {
        "conv_basics": lambda: viz.plot_conv_cases(
            {
                "no padding": dict(input_size=4, kernel_size=3),
                "same padding": dict(input_size=5, kernel_size=3, padding=1),
                "stride 2": dict(input_size=5, kernel_size=3, stride=2, padding=1),
                "dilation 2": dict(input_size=7, kernel_size=3, dilation=2),
            }
        ),
        "dilated_conv": lambda: viz.plot_conv_cases(
            {
                "ordinary, rate 1": dict(input_size=7, kernel_size=3),
                "dilated, rate 2": dict(input_size=7, kernel_size=3, dilation=2),
            }
        ),
    },
    "plot_channel_groups": {
        "four groupings": lambda: viz.plot_channel_groups(8, 8, groups=(1, 2, 4, 8)),
    },
    "plot_images": {
        "ten filters, five per row": lambda: viz.plot_images(
            [np.eye(64)] * 10,
            ["input", "kernel: Sobel x (d/dx)", "edge strength (Sobel x, y)"] * 3
            + ["output: Laplacian"],
            symmetric=[False, True] * 5,
            ncols=5,
        ),
        "eight samples in a row": lambda: viz.plot_images(
            _images(8),
            ["triangle, s=10.5"] * 8,
            ncols=8,
            size=1.5,
        ),
        "five in a row": lambda: viz.plot_images(
            _images(5, 32),
            ["image 32x32", "conv, stride 2: 16x16", "transposed conv"] * 2,
            limits=(0, 1),
        ),
        "colour bars": lambda: viz.plot_images(
            _images(6, 16),
            ["circular, 4 layers: corner/centre 0.0039"] * 6,
            cmap="viridis",
            ncols=3,
            size=3.3,
            limits=(0, 1),
            colorbar=True,
        ),
        "three with colour bars": lambda: viz.plot_images(
            _images(3, 31),
            ["3x3 conv\nlog10 influence", "non-local block\nlog10 influence"] * 2,
            cmap="magma",
            limits=(-9.0, 0.0),
            colorbar=True,
            size=3.0,
        ),
    },
    "plot_matrix": {
        "annotated": lambda: viz.plot_matrix(
            np.arange(32.0).reshape(2, 16),
            "im2col",
            "output position (i * W_out + j)",
            "row",
            annotate=True,
            fmt=".0f",
        ),
        "heat map": lambda: viz.plot_matrix(_rng().normal(size=(3, 64)), "X", "pixel"),
    },
    "plot_curves": {
        "log scale": lambda: viz.plot_curves(
            {
                f"{s} (std 0.0589)": np.geomspace(1, 10.0**k, 21)
                for k, s in enumerate("ab")
            },
            "layer",
            "standard deviation of the activations",
            "20 layers of 3x3 conv + ReLU, 32 channels",
            logy=True,
        ),
    },
    "plot_cost_shares": {
        "MobileNet": lambda: viz.plot_cost_shares(
            {
                "first 3x3 conv": (0.02, 1.9),
                "depthwise 3x3": (1.1, 3.1),
                "pointwise 1x1": (74.6, 94.9),
                "fully connected": (24.3, 0.2),
            },
            "MobileNet v1 (1.0, 224): share of each layer type",
        ),
    },
    "plot_shuffle_connectivity": {
        "book": lambda: viz.plot_shuffle_connectivity(12, 3, highlight=0),
    },
    "plot_roofline": {
        "book": lambda: viz.plot_roofline(
            {
                "dense 3x3": (60.0, 80.0),
                "grouped 3x3 (g=8)": (9.0, 20.0),
                "depthwise 3x3": (1.2, 2.0),
                "pointwise 1x1": (20.0, 50.0),
            },
            peak=120.0,
            bandwidth=10.0,
            title="Measured layers against this CPU's roofline (float32)",
        ),
    },
    "plot_low_rank_kernels": {
        "book": lambda: viz.plot_low_rank_kernels(
            {
                name: _rng(i).normal(size=(7, 7))
                for i, name in enumerate(("Gaussian", "LoG", "disk", "random"))
            },
            ranks=(1, 2, 3),
            image=data.test_image(64),
        ),
    },
    "plot_low_rank_filtering": {
        "book": lambda: viz.plot_low_rank_filtering(
            data.test_image(64), _rng().normal(size=(7, 7)), rank=1, name="disk"
        ),
    },
    "plot_dilated_kernel": {
        "book": lambda: viz.plot_dilated_kernel(
            np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16,
            dilations=(1, 2, 3),
        ),
    },
    "plot_space_to_batch": {
        "book": lambda: viz.plot_space_to_batch(
            data.test_image(16),
            2,
            kernel=np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ),
    },
    "plot_coverage": {
        "three stacks": lambda: viz.plot_coverage([(2, 2, 2), (1, 2, 5), (1, 2, 9)]),
        "three rates": lambda: viz.plot_coverage([(6,), (12,), (18,)]),
    },
    "plot_causal_stack": {
        "book": lambda: viz.plot_causal_stack((1, 2, 4, 8), kernel_size=2),
    },
    "plot_effective_receptive_fields": {
        "five stacks": lambda: viz.plot_effective_receptive_fields(*_erfs(), mass=0.95),
    },
    "plot_transpose_scatter": {
        "book": lambda: viz.plot_transpose_scatter(
            3, 3, 2, 1, pixels=((0, 0), (0, 1), (1, 1))
        ),
    },
    "plot_zero_stuffed": {
        "book": lambda: viz.plot_zero_stuffed(3, 3, 2, 1, step=4),
    },
    "plot_overlap": {
        "four cases": lambda: viz.plot_overlap(
            [(3, 2), (4, 2), (5, 2), (3, 3)],
            input_size=6,
            image=experiments.smooth_image(32),
        ),
    },
    "plot_upsampling_comparison": {
        "four upsamplers": lambda: viz.plot_upsampling_comparison(
            {
                name: _rng(i).normal(size=(64, 64))
                for i, name in enumerate(
                    (
                        "transposed 4x4, equal taps",
                        "transposed 3x3, equal taps",
                        "resize-convolution, equal taps",
                        "transposed 4x4, random kernel",
                    )
                )
            },
            crop=16,
            corner=(14, 14),
        ),
    },
    "plot_attention_map": {
        "three maps": lambda: viz.plot_attention_map(
            data.test_image(16),
            {
                name: _rng(i).random(256)
                for i, name in enumerate(
                    ("embedded Gaussian", "dot product", "concatenation")
                )
            },
            (8, 3),
            title="where a pixel on the edge looks (one row of each affinity matrix)",
        ),
    },
    "plot_scaling": {
        "book": lambda: viz.plot_scaling(
            [64, 256, 1024, 4096],
            {
                "non-local block": [1e6, 1.6e7, 2.6e8, 4e9],
                "3x3 conv": [1e5, 4e5, 1.6e6, 6.4e6],
            },
            "positions HW",
            "multiply-adds",
            "cost (formula)",
        ),
    },
    "plot_shifted_channels": {
        "nine channels": lambda: viz.plot_shifted_channels(
            data.test_image(24),
            reference.shift_pattern(9, 3, dilation=3),
            title="ShiftNet's 3x3 pattern (dilation 3) on 9 copies of one picture",
        ),
    },
    "plot_sampling_grid": {
        "four panels": lambda: viz.plot_sampling_grid(
            _images(1, 32)[0],
            _sampling_panels(),
            [(16, 15)],
            padding=1,
            crop=11,
            title="the 3x3 taps of the output pixel at the centre of a triangle",
        ),
    },
    "plot_deformed_sampling": {
        "book": lambda: viz.plot_deformed_sampling(
            _images(1, 32)[0],
            np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4,
            (16, 15),
            arith.affine_tap_offsets(3, scale=4.0, aspect=2.5, angle=0.6),
        ),
    },
    "plot_learned_taps": {
        "81-point strip": lambda: viz.plot_learned_taps(
            _images(5),
            [_taps_81(seed) for seed in range(5)],
            [(12, 12)] * 5,
            ["regular: 81 reads, 25 points"] + ["triangle, s=10.5"] * 4,
            title="the 81 input points read by the centre pixel, through both layers",
        ),
    },
    "plot_tap_spread": {
        "book": lambda: viz.plot_tap_spread(
            np.linspace(2, 9, 300),
            {
                "both layers": np.linspace(3, 7, 300),
                "first layer": np.linspace(2, 3, 300),
            },
            title="learned sampling spread against object size (300 new images)",
        ),
    },
    "plot_template_matching": {
        "book": lambda: viz.plot_template_matching(
            data.test_image(48),
            (22, 10),
            7,
            title="the same template, found by correlation and by negative L1 distance",
        ),
    },
    "plot_value_histograms": {
        "three layers": lambda: viz.plot_value_histograms(
            {
                name: _rng(i).normal(size=2000)
                for i, name in enumerate(
                    (
                        "3x3 convolution, 8 -> 16",
                        "adder layer, 8 -> 16",
                        "adder layer, then BatchNorm",
                    )
                )
            },
            xlabel="output value",
            title="outputs of one layer on the same input (256 images)",
        ),
    },
    "plot_weight_distributions": {
        "four layers": lambda: viz.plot_weight_distributions(
            {
                f"{net}: layer {n} ({kind})": _rng(n).laplace(size=(16, 8, 3, 3))
                for net, kind in (("CNN", "conv"), ("AdderNet", "adder"))
                for n in (2, 3)
            },
            title="trained filters, standardised (log scale)",
            ncols=2,
        ),
    },
    "plot_attention_by_group": {
        "three layers": lambda: viz.plot_attention_by_group(
            [_attention(60, seed=layer) for layer in range(3)],
            {
                name: np.arange(60) % 6 == k
                for k, name in enumerate(
                    (
                        "disk",
                        "square",
                        "triangle",
                        "cross",
                        "small (s < 4 px)",
                        "large (s > 6 px)",
                    )
                )
            },
            [f"dynamic layer {i + 1}" for i in range(3)],
            title="mean attention per kind of input "
            "(colour: minus the mean over all inputs)",
        ),
    },
    "plot_kernel_mixture": {
        "two inputs": lambda: viz.plot_kernel_mixture(
            _rng().normal(size=(4, 3, 3)),
            {"small disk": _attention(1)[0], "large cross": _attention(1, seed=1)[0]},
            {"small disk": _images(1)[0], "large cross": _images(2)[1]},
            title="dynamic layer 2: kernels of output channel 3, input channel 5",
        ),
    },
    "plot_temperature_sweep": {
        "two inputs": lambda: viz.plot_temperature_sweep(
            {
                "small disk": np.array([0.5, -0.2, 0.1, -0.4]),
                "large cross": np.array([-0.3, 0.6, 0.0, -0.3]),
            },
            title="dynamic layer 2: attention against temperature",
        ),
    },
    "plot_branch_attention": {
        "three networks, three layers": lambda: viz.plot_branch_attention(
            np.linspace(2, 9, 120),
            {
                name: _branch_weights(np.linspace(2, 9, 120), seed)
                for seed, name in enumerate(
                    ("untrained, seed 0", "trained, seed 0", "trained, seed 3")
                )
            },
            layer_names=[f"SK layer {i + 1}" for i in range(3)],
            title="weight of the dilated (5x5) branch, averaged over channels, "
            "against object size",
        ),
    },
    "plot_operator_choices": {
        "the book's rows": lambda: viz.plot_operator_choices(
            _choice_rows(), noise=0.055
        ),
        "three costs": lambda: viz.plot_operator_choices(
            _choice_rows(), costs=("mult_adds", "cpu_ratio", "peak_mib"), noise=0.055
        ),
    },
}

PLOTS = sorted(name for name in viz.__all__ if name.startswith("plot_"))


def displayed_text_sizes(
    fig: Figure, off_scale: Optional[list] = None
) -> tuple[int, list[tuple[str, float]]]:
    """Save ``fig`` as the inline backend does; its width (px), its texts' heights.

    Every text the renderer draws is recorded while the figure is saved (tick labels off
    the axis, hidden axes and empty strings are not drawn, so they do not count). The
    texts whose size is not one of the type scale's are added to ``off_scale``.
    """
    off_scale = [] if off_scale is None else off_scale
    drawn: dict[int, Text] = {}
    original = Text.draw

    def recording_draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = self
        return original(self, renderer)

    Text.draw = recording_draw
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    finally:
        Text.draw = original
    header = buffer.getvalue()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width = struct.unpack(">I", header[16:20])[0]
    shrink = min(1.0, COLUMN_PX / width)
    sizes = [
        (text.get_text(), text.get_fontsize() * fig.dpi / 72 * shrink)
        for text in drawn.values()
    ]
    off_scale.extend(
        (text.get_text(), text.get_fontsize())
        for text in drawn.values()
        if text.get_fontsize() not in TEXT_SIZES.values()
    )
    return width, sizes


def test_every_plot_function_has_a_case():
    missing = [name for name in PLOTS if not CASES.get(name)]
    assert not missing, f"plot functions without a legibility case: {missing}"
    assert len(PLOTS) > 30


@pytest.mark.parametrize("name", PLOTS)
def test_every_text_is_legible_in_the_column(name):
    """Every drawn text: at least SMALLEST_PX as shown, and at a size of the type scale."""
    for case, draw in CASES.get(name, {}).items():
        fig = draw()
        off_scale: list = []
        width, sizes = displayed_text_sizes(fig, off_scale)
        assert sizes, f"{name} ({case}) drew no text"
        assert not off_scale, (
            f"{name} ({case}): sizes outside viz.figure_style.TEXT_SIZES: {off_scale[:5]}"
        )
        small = [(text, round(px, 2)) for text, px in sizes if px < SMALLEST_PX]
        assert not small, (
            f"{name} ({case}): {width} px wide, texts under {SMALLEST_PX} px as "
            f"displayed: {small[:5]}"
        )
        plt.close(fig)


def test_the_measure_sees_a_shrunk_figure():
    """The measure itself: a figure twice the column's width shows its texts halved."""
    fig, ax = plt.subplots(figsize=(15.48, 2), dpi=100)
    ax.set_position((0.02, 0.15, 0.96, 0.7))
    ax.text(0.0, 0.0, "left", fontsize=7.2)
    ax.text(1.0, 1.0, "right", fontsize=14.4, ha="right", va="top")
    hidden = ax.text(0.5, 0.5, "hidden", fontsize=1)
    hidden.set_visible(False)
    width, sizes = displayed_text_sizes(fig)
    assert 1548 <= width <= 1588  # the figure, the tight box's 0.1-inch pads at most
    texts = dict(sizes)
    assert "hidden" not in texts and "" not in texts
    assert texts["left"] == pytest.approx(10.0 * COLUMN_PX / width)
    assert texts["right"] == pytest.approx(20.0 * COLUMN_PX / width)
    assert min(texts["left"], texts["right"]) < SMALLEST_PX  # 5 px: the test would fail
