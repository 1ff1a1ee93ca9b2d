"""convref.viz.basics and its widgets: the convolution-arithmetic, image and channel-group figures.

Oracles: PyTorch's own output sizes and (through autograd) the input pixels each output reads,
the channel pairs a grouped ``torch.nn.Conv2d`` connects, and the data the figures were given.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from convref import data, reference, viz, zoo


def _rectangles(ax, color=None):
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    if color is None:
        return rects
    return [r for r in rects if np.allclose(r.get_facecolor()[:3], to_rgb(color))]


@pytest.mark.parametrize(
    "i, k, s, p, d, o",
    [
        (4, 3, 1, 0, 1, 2),
        (5, 4, 1, 2, 1, 6),
        (5, 3, 2, 1, 1, 3),
        (6, 3, 2, 1, 1, 3),
        (7, 3, 1, 0, 2, 3),
    ],
)
def test_plot_conv_arithmetic(i, k, s, p, d, o):
    """The drawn grids have the guide's sizes (Dumoulin & Visin 2016) and k * k taps."""
    fig = viz.plot_conv_arithmetic(i, k, stride=s, padding=p, dilation=d, step=1)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    padded = i + 2 * p
    assert len(_rectangles(ax)) == padded * padded + o * o
    assert len(_rectangles(ax, viz.TAP_COLOR)) == k * k
    assert f"-> output {o}" in ax.get_title()


def test_plot_conv_arithmetic_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_conv_arithmetic(5, 3, ax=ax) is fig


def test_plot_conv_arithmetic_invalid_geometry():
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_arithmetic(3, 5)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_arithmetic(4, 3, dilation=2)


def test_plot_conv_steps():
    fig = viz.plot_conv_steps(5, 3, stride=2, padding=1, steps=(0, 1, 2, 8))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert (
        viz.plot_conv_steps(4, 3, steps=(0,)).axes[0].get_title() == "output position 0"
    )


def test_plot_images():
    image = data.test_image(32)
    kernel = np.array([[1.0, 0.0, -1.0]] * 3)
    fig = viz.plot_images(
        [image, kernel, image - 0.5],
        ["image", "kernel", "centred"],
        symmetric=[False, True, True],
        ncols=2,
    )
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # 2 x 2 grid, the last panel left empty
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "kernel", "centred"]
    signed = fig.axes[1].images[0]
    assert signed.get_clim() == (-1.0, 1.0)  # centred on zero
    assert isinstance(
        viz.plot_images([np.zeros((3, 3))]), Figure
    )  # all-zero symmetric-safe


def test_plot_matrix():
    columns = reference.im2col(np.arange(25.0).reshape(1, 1, 5, 5), 3)[0]
    fig = viz.plot_matrix(columns, title="im2col", xlabel="position", ylabel="tap")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "im2col (9, 9)"


def test_plot_curves():
    fig = viz.plot_curves(
        {"a": [1.0, 0.5, 0.25], "b": [1.0, 1.0, 1.0]},
        "layer",
        "std",
        title="t",
        logy=True,
    )
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 2


def test_plot_cost_shares():
    kinds = zoo.cost_by_kind(zoo.mobilenet_v1())
    total_params = sum(c.params for c in kinds.values())
    total_mult_adds = sum(c.mult_adds for c in kinds.values())
    shares = {
        k: (100 * c.params / total_params, 100 * c.mult_adds / total_mult_adds)
        for k, c in kinds.items()
    }
    fig = viz.plot_cost_shares(shares, title="MobileNet v1")
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 2 * len(shares)


# ---------------------------------------------------------------------------
# widgets (constructed and redrawn outside a kernel: errors propagate)
# ---------------------------------------------------------------------------


def _sliders(widget):
    columns = widget.children[0].children
    return {s.description: s for column in columns for s in column.children}


# viz.plot_conv_cases and viz.plot_channel_groups
# ---------------------------------------------------------------------------

CONV_CASES = {
    "no padding": dict(input_size=5, kernel_size=3),
    "padding, stride": dict(input_size=6, kernel_size=3, stride=2, padding=1),
    "dilated": dict(input_size=7, kernel_size=3, dilation=2),
    "even kernel": dict(input_size=5, kernel_size=4, padding=2),
}


def torch_taps(geometry: dict, step: int) -> tuple[int, set[tuple[int, int]]]:
    """PyTorch's output size, and the padded-input pixels its output ``step`` (row-major) reads.

    Found by autograd: with an all-ones kernel, output ``step``'s gradient is nonzero exactly at the taps.
    """
    i, k = geometry["input_size"], geometry["kernel_size"]
    s, p, d = (
        geometry.get("stride", 1),
        geometry.get("padding", 0),
        geometry.get("dilation", 1),
    )
    padded = torch.ones(
        1, 1, i + 2 * p, i + 2 * p, dtype=torch.float64, requires_grad=True
    )
    y = F.conv2d(
        padded, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, dilation=d
    )
    out = y.shape[-1]
    row, col = divmod(step % (out * out), out)
    (grad,) = torch.autograd.grad(y[0, 0, row, col], padded)
    return out, {tuple(map(int, ij)) for ij in torch.nonzero(grad[0, 0])}


def test_plot_conv_cases():
    steps = (0, 1, 5)
    fig = viz.plot_conv_cases(CONV_CASES, steps=steps)
    assert isinstance(fig, Figure)
    assert len(fig.subfigs) == len(CONV_CASES)
    for row, (name, geometry) in zip(fig.subfigs, CONV_CASES.items()):
        assert len(row.axes) == len(steps)
        padded = geometry["input_size"] + 2 * geometry.get("padding", 0)
        for ax, step in zip(row.axes, steps):
            out, taps = torch_taps(geometry, step)
            assert len(_rectangles(ax)) == padded * padded + out * out
            # the orange cells are the pixels PyTorch's output `step` reads; the grid's top-left
            # cell is at (0, padded - 1), rows going down
            drawn = {
                (round(padded - 1 - r.get_y()), round(r.get_x()))
                for r in _rectangles(ax, viz.TAP_COLOR)
            }
            assert drawn == taps, (name, step)
        title = row.get_suptitle()
        assert title.startswith(f"{name}:") and title.endswith(f"o={out}")


def test_plot_conv_cases_invalid_geometry():
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        viz.plot_conv_cases({"too small": dict(input_size=3, kernel_size=5)})


def torch_connections(
    in_channels: int, out_channels: int, groups: int
) -> set[tuple[int, int]]:
    """(input, output) channel pairs that a grouped nn.Conv2d connects: where d output / d input != 0."""
    conv = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    jacobian = torch.autograd.functional.jacobian(
        lambda x: conv(x).flatten(), torch.zeros(1, in_channels, 1, 1)
    )
    jacobian = jacobian.reshape(out_channels, in_channels)
    return {(c, o) for o, c in torch.nonzero(jacobian).tolist()}


def drawn_connections(ax) -> tuple[set[tuple[int, int]], int, int, int]:
    """(input, output) index pairs of the drawn lines (channels numbered top to bottom), the
    number of lines, of input boxes and of output boxes; each line's colour must be that of
    both channels' boxes."""
    from matplotlib.colors import to_rgb

    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    inputs = sorted((b for b in boxes if b.get_x() < 0), key=lambda b: -b.get_y())
    outputs = sorted((b for b in boxes if b.get_x() > 0.5), key=lambda b: -b.get_y())
    assert len(inputs) + len(outputs) == len(boxes)

    def index(column, y):
        centres = np.array([b.get_y() + b.get_height() / 2 for b in column])
        nearest = int(np.abs(centres - y).argmin())
        assert abs(centres[nearest] - y) < 1e-9  # the line ends at a box's centre
        return nearest

    pairs = set()
    for line in ax.lines:
        (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
        assert x0 < x1
        c, o = index(inputs, y0), index(outputs, y1)
        assert (
            to_rgb(line.get_color())
            == to_rgb(inputs[c].get_facecolor())
            == to_rgb(outputs[o].get_facecolor())
        )
        pairs.add((c, o))
    return pairs, len(ax.lines), len(inputs), len(outputs)


@pytest.mark.parametrize(
    "in_channels, out_channels, groups",
    [(4, 8, (1, 2, 4)), (6, 3, (1, 3)), (4, 4, (4,)), (8, 4, (2,))],
)
def test_plot_channel_groups_connections_match_torch(in_channels, out_channels, groups):
    fig = viz.plot_channel_groups(in_channels, out_channels, groups)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(groups)
    for ax, g in zip(fig.axes, groups):
        pairs, lines, n_in, n_out = drawn_connections(ax)
        assert (n_in, n_out) == (in_channels, out_channels)
        assert pairs == torch_connections(in_channels, out_channels, g)
        # one line per 2-D kernel slice of the grouped weight
        weight_shape = nn.Conv2d(in_channels, out_channels, 3, groups=g).weight.shape
        assert lines == len(pairs) == weight_shape[0] * weight_shape[1]
        assert (
            f"weight ({weight_shape[0]}, {weight_shape[1]}, kh, kw)" in ax.get_title()
        )
        assert f"groups={g}" in ax.get_title()


@pytest.mark.parametrize("groups", [(1, 3), (0,), (5,)])
def test_plot_channel_groups_rejects_groups_not_dividing(groups):
    bad = [g for g in groups if g < 1 or 6 % g or 4 % g]
    with pytest.raises(ValueError):  # PyTorch refuses such a layer too
        nn.Conv2d(6, 4, 1, groups=bad[0])
    with pytest.raises(
        ValueError,
        match=rf"^groups must divide in_channels and out_channels, got groups={bad[0]} for 6 -> 4",
    ):
        viz.plot_channel_groups(6, 4, groups)
    assert plt.get_fignums() == []  # refused before drawing anything
