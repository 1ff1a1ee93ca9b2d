"""The dilated-convolution figures and widget, checked against independent computations.

Oracles, none of them the code under test: dilated kernels and phase sub-images built with
explicit loops or slicing; convolutions from ``torch.nn.functional``; path counts and
receptive fields found by autograd through PyTorch layers whose weights are all 1; the
radius of an effective receptive field by a brute-force search over centred squares; and
the HDC verdicts of Wang et al. (2018) for their own examples.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convref import viz

# ---------------------------------------------------------------------------
# oracles
# ---------------------------------------------------------------------------


def dilated_by_loops(kernel: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The zero-inserted kernel and its hole mask, one tap at a time."""
    kh, kw = kernel.shape
    out = np.zeros((d * (kh - 1) + 1, d * (kw - 1) + 1))
    holes = np.ones(out.shape, dtype=bool)
    for u in range(kh):
        for v in range(kw):
            out[d * u, d * v] = kernel[u, v]
            holes[d * u, d * v] = False
    return out, holes


def ones_stack_gradient(rates, kernel_size: int) -> np.ndarray:
    """Path counts of a stride-1 stack: the gradient of its single output through all-ones torch layers."""
    size = 1 + sum(d * (kernel_size - 1) for d in rates)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for d in rates:
        y = F.conv2d(
            y,
            torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64),
            dilation=d,
        )
    y.sum().backward()
    return x.grad[0, 0].numpy()


def causal_support(rates, kernel_size: int, length: int, output: int) -> list[int]:
    """Input steps with a nonzero gradient of one output of a causal stack (left-padded torch conv1d)."""
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for d in rates:
        y = F.conv1d(
            F.pad(y, (d * (kernel_size - 1), 0)),
            torch.ones(1, 1, kernel_size, dtype=torch.float64),
            dilation=d,
        )
    y[0, 0, output].backward()
    return torch.nonzero(x.grad[0, 0]).flatten().tolist()


def brute_force_side(erf: np.ndarray, mass: float) -> int:
    """Side of the smallest centred square holding ``mass`` of ``erf``'s total."""
    c = erf.shape[0] // 2
    for r in range(c + 1):
        if erf[c - r : c + r + 1, c - r : c + r + 1].sum() >= mass * erf.sum() * (
            1 - 1e-12
        ):
            return 2 * r + 1
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# plot_dilated_kernel
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (1, 4)])
def test_plot_dilated_kernel_shows_the_zero_inserted_kernel(shape, rng):
    kernel = rng.standard_normal(shape)
    dilations = (1, 2, 4)
    fig = viz.plot_dilated_kernel(kernel, dilations)
    assert isinstance(fig, Figure) and len(fig.axes) == len(dilations)
    for ax, d in zip(fig.axes, dilations):
        expected, holes = dilated_by_loops(kernel, d)
        shown = ax.images[0].get_array()
        assert np.array_equal(np.ma.getmaskarray(shown), holes)
        np.testing.assert_array_equal(shown.filled(0.0), expected)
        title = ax.get_title()
        assert f"span {expected.shape[0]}x{expected.shape[1]}" in title
        assert f"{kernel.size} weights, {holes.sum()} zeros" in title


def test_plot_dilated_kernel_source_example():
    """The source's example: a 3x3 kernel at rate 2 covers 5x5 with 16 zeros."""
    fig = viz.plot_dilated_kernel(np.ones((3, 3)), (2,))
    assert (
        "3x3 taps span 5x5" in fig.axes[0].get_title()
        and "16 zeros" in fig.axes[0].get_title()
    )


def test_plot_dilated_kernel_rejects_a_vector():
    with pytest.raises(ValueError, match="kernel must be a 2-D array"):
        viz.plot_dilated_kernel(np.ones(3))


# ---------------------------------------------------------------------------
# plot_space_to_batch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3])
def test_plot_space_to_batch_without_kernel(d, rng):
    image = rng.random((6 * d, 4 * d))
    fig = viz.plot_space_to_batch(image, d)
    assert isinstance(fig, Figure) and len(fig.axes) == 1 + d * d
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), image)
    for a in range(d):
        for b in range(d):
            ax = fig.axes[1 + a * d + b]
            np.testing.assert_array_equal(ax.images[0].get_array(), image[a::d, b::d])
            assert ax.get_title() == f"x[{a}::{d}, {b}::{d}]"
            assert to_rgba(ax.spines["top"].get_edgecolor()) == to_rgba(
                plt.get_cmap("tab10")(a * d + b)
            )


def test_plot_space_to_batch_phase_dots(rng):
    d = 2
    image = rng.random((8, 8))
    fig = viz.plot_space_to_batch(image, d)
    dots = fig.axes[0].collections[0]
    colors = dots.get_facecolors()
    for (col, row), color in zip(dots.get_offsets(), colors):
        phase = (int(row) % d) * d + int(col) % d
        np.testing.assert_allclose(color, plt.get_cmap("tab10")(phase))
    assert len(colors) == image.size


def test_plot_space_to_batch_with_kernel_matches_torch(rng):
    d, image, kernel = 2, rng.random((12, 10)), rng.standard_normal((3, 3))
    fig = viz.plot_space_to_batch(image, d, kernel=kernel)
    assert len(fig.axes) == 2 * (1 + d * d)
    x, w = torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None]
    dilated = F.conv2d(x, w, dilation=d)[0, 0].numpy()
    bottom = fig.axes[1 + d * d :]
    np.testing.assert_allclose(
        bottom[0].images[0].get_array(), dilated, rtol=1e-12, atol=1e-12
    )
    for a in range(d):
        for b in range(d):
            sub = F.conv2d(x[..., a::d, b::d], w)[0, 0].numpy()
            shown = bottom[1 + a * d + b].images[0].get_array()
            np.testing.assert_allclose(shown, sub, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(
                dilated[a::d, b::d], shown, rtol=1e-12, atol=1e-12
            )  # the interleaving


def test_plot_space_to_batch_rejects_an_indivisible_image():
    with pytest.raises(ValueError):
        viz.plot_space_to_batch(np.zeros((5, 6)), 2)


# ---------------------------------------------------------------------------
# plot_coverage
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel_size", [2, 3, 5])
def test_plot_coverage_counts_equal_autograd(kernel_size):
    stacks = [(2, 2, 2), (1, 2, 5), (1, 3)]
    fig = viz.plot_coverage(stacks, kernel_size)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(panels) == len(stacks)
    halves = []
    for ax, rates in zip(panels, stacks):
        counts = ones_stack_gradient(rates, kernel_size)
        shown = ax.images[0].get_array()
        np.testing.assert_array_equal(shown.filled(0), counts)
        assert np.array_equal(np.ma.getmaskarray(shown), counts == 0)
        reached = int((counts > 0).sum())
        assert f"{reached} of {counts.size} reached" in ax.get_title()
        assert ("HDC rule" in ax.get_title()) == (kernel_size >= 3)
        halves.append(counts.shape[0] // 2)
    for ax in panels:  # one shared scale, centred on the output
        assert ax.get_xlim() == pytest.approx((-max(halves) - 0.5, max(halves) + 0.5))


def test_plot_coverage_gridding_and_hdc_verdicts():
    """Wang et al. (2018): (2, 2, 2) reaches a quarter of its field; (1, 2, 5) passes HDC, (1, 2, 9) does not."""
    fig = viz.plot_coverage([(2, 2, 2), (1, 2, 5), (1, 2, 9)])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("rates 2, 2, 2: 49 of 169 reached") and titles[
        0
    ].endswith("HDC rule not met")
    assert titles[1].startswith("rates 1, 2, 5: 289 of 289 reached") and titles[
        1
    ].endswith("HDC rule met")
    assert titles[2].endswith("HDC rule not met")


# ---------------------------------------------------------------------------
# plot_causal_stack
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rates, kernel_size, length, highlight",
    [
        ((1, 2, 4, 8), 2, None, None),
        ((1, 2, 4), 3, 30, 20),
        ((1, 1, 1), 2, 10, 1),
        ((2, 4), 2, 12, 11),
    ],
)
def test_plot_causal_stack_receptive_field_matches_autograd(
    rates, kernel_size, length, highlight
):
    fig = viz.plot_causal_stack(rates, kernel_size, length, highlight)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    field = 1 + (kernel_size - 1) * sum(rates)
    length = field + 3 if length is None else length
    highlight = length - 1 if highlight is None else highlight
    inside = [c for c in ax.collections if c.get_gid() == "receptive-field"]
    assert len(inside) == 1
    steps = sorted(int(round(t)) for t, _ in inside[0].get_offsets())
    assert steps == causal_support(rates, kernel_size, length, highlight)
    assert max(steps) == highlight  # never the future
    assert f"(receptive field {field})" in ax.get_title()
    # one edge per (layer, step, tap) whose source lies inside the sequence
    edges = sum(
        1
        for d in rates
        for t in range(length)
        for j in range(kernel_size)
        if t - d * j >= 0
    )
    assert len(ax.lines) == edges


def test_plot_causal_stack_wavenet_figure():
    """WaveNet's figure 3: kernel 2, rates 1, 2, 4, 8: the last output sees 16 samples."""
    ax = viz.plot_causal_stack((1, 2, 4, 8)).axes[0]
    inside = [c for c in ax.collections if c.get_gid() == "receptive-field"][0]
    assert len(inside.get_offsets()) == 16
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "input",
        "hidden, rate 1",
        "hidden, rate 2",
        "hidden, rate 4",
        "output, rate 8",
    ]


def test_plot_causal_stack_rejects_a_bad_highlight():
    with pytest.raises(ValueError, match="highlight must be in"):
        viz.plot_causal_stack((1, 2), length=5, highlight=5)


# ---------------------------------------------------------------------------
# plot_effective_receptive_fields
# ---------------------------------------------------------------------------


def test_plot_effective_receptive_fields_squares_and_profiles(rng):
    size = 21
    rows, cols = np.indices((size, size)) - size // 2
    erfs = {
        "gaussian": np.exp(-(rows**2 + cols**2) / (2 * 2.0**2)),
        "uniform 9": ((np.abs(rows) <= 4) & (np.abs(cols) <= 4)).astype(float),
        "noisy": rng.random((size, size))
        * (np.maximum(np.abs(rows), np.abs(cols)) <= 6),
    }
    erfs = {name: erf / erf.sum() for name, erf in erfs.items()}
    theoretical = {"gaussian": 21, "uniform 9": 9, "noisy": 13}
    for mass in (0.5, 0.95):
        fig = viz.plot_effective_receptive_fields(erfs, theoretical, mass=mass)
        assert isinstance(fig, Figure) and len(fig.axes) == len(erfs) + 1
        for ax, (name, erf) in zip(fig.axes, erfs.items()):
            np.testing.assert_array_equal(ax.images[0].get_array(), erf)
            squares = {p.get_gid(): p for p in ax.patches if isinstance(p, Rectangle)}
            assert squares["theoretical"].get_width() == theoretical[name]
            side = brute_force_side(erf, mass)
            assert (
                squares["effective"].get_width()
                == squares["effective"].get_height()
                == side
            )
            # centred on the centre pixel
            assert squares["effective"].get_x() + side / 2 == pytest.approx(size // 2)
            assert (
                f"theoretical {theoretical[name]}, {mass:.0%} in {side}"
                in ax.get_title()
            )
        profiles = fig.axes[-1].get_lines()
        assert len(profiles) == len(erfs)
        for line, erf in zip(profiles, erfs.values()):
            column_sums = erf.sum(axis=0)
            np.testing.assert_allclose(
                line.get_ydata(), column_sums / column_sums.max()
            )
    assert brute_force_side(erfs["uniform 9"], 1.0) == 9


# ---------------------------------------------------------------------------
# dilation_widget (constructed and redrawn outside a kernel: errors propagate)
# ---------------------------------------------------------------------------


def _sliders(widget):
    columns = widget.children[0].children
    return {s.description: s for column in columns for s in column.children}
