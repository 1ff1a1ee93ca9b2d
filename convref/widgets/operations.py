"""Widgets of the changing-the-operation chapters: shift, adder, dynamic, choosing."""

from __future__ import annotations

from typing import Optional, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from .. import viz
from ..data import test_image
from ..experiments import template_responses
from ..nn import DynamicConv2d
from ._predrawn import control, grey_image, int_values, predrawn, with_start

__all__ = ["shift_widget", "template_widget", "dynamic_widget", "choice_widget"]

#: The shifts (pixels) offered by :func:`shift_widget` on each axis: integers move
#: pixels exactly, halves blur most, a quarter blurs less.
SHIFTS: tuple[float, ...] = (-2.5, -1.0, -0.5, 0.0, 0.25, 1.5)


def shift_widget(
    image: Optional[np.ndarray] = None,
    dy: float = 1.5,
    dx: float = -2.5,
    *,
    shifts: Sequence[float] = SHIFTS,
) -> widgets.VBox:
    """Sliders for one channel's shift ``(dy, dx)``, fractional included, over :func:`convref.viz.plot_shifted_channels`.

    Shows the unshifted image next to the shifted one. Integer values move the pixels
    exactly; values in between blend the four nearest pixels (the bilinear shift of the
    active shift layer), which blurs the picture most at half-pixel shifts.

    Parameters
    ----------
    image : numpy.ndarray, optional
        The grey picture ``(H, W)`` to shift; by default :func:`convref.data.test_image`
        of side 24.
    dy, dx : float
        The shift shown first, in pixels (down and right are positive).
    shifts : sequence of float
        The shifts each slider offers.

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure and its caption.
    """
    picture = test_image(24) if image is None else grey_image("image", image)
    for name, value in (("dy", dy), ("dx", dx)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    offered = sorted({float(s) for s in shifts} | {float(dy), float(dx)})

    def draw(dy: float, dx: float) -> Figure:
        return viz.plot_shifted_channels(
            picture, np.array([[0.0, 0.0], [dy, dx]]), ncols=2, size=2.6
        )

    def caption(dy: float, dx: float) -> str:
        fy, fx = dy - np.floor(dy), dx - np.floor(dx)
        if fy == 0 and fx == 0:
            result = "whole pixels: the picture moves unchanged"
        else:
            weights = np.outer([1 - fy, fy], [1 - fx, fx])
            blend = int((weights > 0).sum())
            result = (
                f"fractional: each pixel blends {blend} neighbours,"
                f" the largest weight {weights.max():.2f}"
            )
        return f"dy {dy:+.2f} (down), dx {dx:+.2f} (right) -> {result}"

    labels = [f"{s:+.2f}" for s in offered]
    specs = [
        control("dy", "dy (down)", offered, float(dy), labels=labels),
        control("dx", "dx (right)", offered, float(dx), labels=labels),
    ]
    return predrawn(specs, draw, caption)


def template_widget(
    image: Optional[np.ndarray] = None,
    corner: Optional[tuple[int, int]] = None,
    size: int = 7,
    *,
    rows: Optional[Sequence[int]] = None,
    columns: Optional[Sequence[int]] = None,
    sizes: Optional[Sequence[int]] = None,
) -> widgets.VBox:
    """Move a template over an image and compare where correlation and negative L1 distance find it.

    Sliders choose the template's top-left pixel and its size; the figure is
    :func:`convref.viz.plot_template_matching`. The negative L1 distance always finds
    the template's own window (distance zero); correlation finds the window that is
    brightest where the template is bright, which is often somewhere else.

    Parameters
    ----------
    image : numpy.ndarray, optional
        ``(H, W)`` grey image in [0, 1]; by default :func:`convref.data.test_image` of
        side 48.
    corner : (int, int), optional
        The first top-left pixel of the template (by default at the upper edge of the
        disk).
    size : int
        The first template side.
    rows, columns : sequence of int, optional
        The top-left rows and columns offered (by default three of each, with
        ``corner``'s).
    sizes : sequence of int, optional
        The template sides offered (by default ``size - 2``, ``size``, ``size + 4``).

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure and its caption.
    """
    image = test_image(48) if image is None else grey_image("image", image)
    height, width = image.shape
    row0, col0 = corner if corner is not None else (height // 2 - 2, width // 4 - 2)
    sizes = int_values(
        "sizes", (max(1, size - 2), size, size + 4) if sizes is None else sizes, 1
    )
    sizes = with_start("size", sizes, size)
    largest = sizes[-1]
    if largest > min(height, width):
        raise ValueError(f"sizes must fit the {height}x{width} image, got {sizes}")
    if not (0 <= row0 <= height - largest and 0 <= col0 <= width - largest):
        raise ValueError(
            f"corner must leave room for a {largest}x{largest} template in the"
            f" {height}x{width} image, got {corner}"
        )

    def spread(limit: int, keep: int) -> tuple[int, ...]:
        ends = {0, keep, limit}
        return tuple(sorted(ends if len(ends) == 3 else ends | {limit // 2}))

    rows = (
        spread(height - largest, row0) if rows is None else int_values("rows", rows, 0)
    )
    columns = (
        spread(width - largest, col0)
        if columns is None
        else int_values("columns", columns, 0)
    )
    rows, columns = (
        with_start("corner", rows, row0),
        with_start("corner", columns, col0),
    )
    if rows[-1] > height - largest or columns[-1] > width - largest:
        raise ValueError(
            f"rows and columns must leave room for a {largest}x{largest} template,"
            f" got {rows} and {columns}"
        )

    def draw(size: int, row: int, column: int) -> Figure:
        return viz.plot_template_matching(image, (row, column), size)

    def caption(size: int, row: int, column: int) -> str:
        template = image[row : row + size, column : column + size]
        found = {
            name: tuple(int(v) for v in np.unravel_index(score.argmax(), score.shape))
            for name, score in template_responses(image, template).items()
        }
        return f"template {size} x {size} at ({row}, {column}) -> " + "; ".join(
            f"{name} finds {place}" for name, place in found.items()
        )

    specs = [
        control("size", "template size", sizes, size),
        control("row", "top row", rows, row0),
        control("column", "left column", columns, col0),
    ]
    return predrawn(specs, draw, caption)


def dynamic_widget(
    model: "torch.nn.Module",
    images: np.ndarray,
    names: Optional[list[str]] = None,
    layer: int = 0,
    choices: Optional[list[int]] = None,
    *,
    temperatures: Sequence[float] = (0.1, 1.0, 10.0),
    out_channel: int = 0,
    in_channel: int = 0,
) -> widgets.VBox:
    """Pick an input and a temperature, and see a dynamic layer's attention and the kernel it mixes.

    ``layer`` picks a :class:`convref.nn.DynamicConv2d` of ``model`` (by order of
    appearance). The layer's inputs are recorded once, with all ``images`` in one batch;
    the figure is then :func:`convref.viz.plot_kernel_mixture` for the chosen input, at
    the chosen temperature, for one output channel and one input channel of the kernels.
    Lower the temperature to see the mixture collapse onto one kernel; raise it to see
    it become the plain average of the ``K`` kernels, whatever the input.

    Parameters
    ----------
    model : torch.nn.Module
        A network with :class:`convref.nn.DynamicConv2d` layers (e.g. a trained
        :func:`convref.experiments.dynamic_classifier`).
    images : numpy.ndarray
        ``(N, 1, H, W)`` inputs to choose from.
    names : list of str, optional
        One name per image for the chooser.
    layer : int
        Which dynamic layer.
    choices : list of int, optional
        The indices of the images offered by the chooser (all by default). The layer
        still sees all ``images`` as one batch, as a network whose BatchNorms use the
        batch's statistics must.
    temperatures : sequence of float
        The temperatures offered (the layer's own is added when missing).
    out_channel, in_channel : int
        The slice of the kernels drawn.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure and its caption.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = [m for m in model.modules() if isinstance(m, DynamicConv2d)]
    if not 0 <= layer < len(layers):
        raise ValueError(
            f"layer must index one of the model's {len(layers)} DynamicConv2d layers,"
            f" got {layer}"
        )
    chosen = layers[layer]
    names = names or [f"input {i}" for i in range(len(images))]
    if len(names) != len(images):
        raise ValueError(
            f"names must hold one name per image ({len(images)}), got {len(names)}"
        )
    choices = list(range(len(images))) if choices is None else [int(i) for i in choices]
    if not choices or not all(0 <= i < len(images) for i in choices):
        raise ValueError(
            f"choices must be indices of images (0 to {len(images) - 1}), got {choices}"
        )
    kernels = chosen.weight.detach().numpy()  # (K, C_out, C_in / groups, kh, kw)
    if not (0 <= out_channel < kernels.shape[1] and 0 <= in_channel < kernels.shape[2]):
        raise ValueError(
            f"out_channel and in_channel must index the kernels' {kernels.shape[1]} x"
            f" {kernels.shape[2]} channels, got {out_channel} and {in_channel}"
        )
    if not all(isinstance(t, (int, float)) and t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive numbers, got {temperatures!r}")
    offered = sorted({float(t) for t in temperatures} | {float(chosen.temperature)})
    recorded = {}
    hook = chosen.register_forward_pre_hook(
        lambda m, args: recorded.__setitem__("x", args[0].detach())
    )
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.as_tensor(images, dtype=chosen.weight.dtype))
    finally:
        hook.remove()
        model.train(was_training)

    def attention(index: int, temperature: float) -> np.ndarray:
        saved = chosen.temperature
        try:
            chosen.temperature = temperature
            with torch.no_grad():
                return chosen.attention(recorded["x"][index : index + 1])[0].numpy()
        finally:
            chosen.temperature = saved

    def draw(image: int, temperature: float) -> Figure:
        name = names[image]
        return viz.plot_kernel_mixture(
            kernels[:, out_channel, in_channel],
            {name: attention(image, temperature)},
            {name: np.asarray(images[image, 0])},
            title=f"dynamic layer {layer + 1}, temperature {temperature:.3g}",
        )

    def caption(image: int, temperature: float) -> str:
        weights = attention(image, temperature)
        top = int(np.argmax(weights))
        return (
            f"{names[image]}, temperature {temperature:.3g} -> attention "
            f"{' '.join(f'{w:.2f}' for w in weights)} (largest: kernel {top + 1})"
        )

    specs = [
        control(
            "image",
            "input",
            choices,
            choices[0],
            labels=[names[i] for i in choices],
            kind="dropdown",
        ),
        control(
            "temperature",
            "temperature",
            offered,
            float(chosen.temperature),
            labels=[f"{t:.3g}" for t in offered],
        ),
    ]
    return predrawn(specs, draw, caption)


def choice_widget(rows: list[dict], noise: Optional[float] = None) -> widgets.VBox:
    """Pick the cost and the accuracy to compare in :func:`convref.viz.plot_operator_choices`.

    The rows are those of :func:`convref.experiments.compare_operators`; the caption
    names the most accurate operator and the cheapest one for the chosen pair.

    Parameters
    ----------
    rows : list of dict
        The comparison's rows, the baseline first.
    noise : float, optional
        Half-width of the grey band around the baseline's accuracy.

    Returns
    -------
    ipywidgets.VBox
        Two drop-downs above the figure and its caption.
    """
    if not isinstance(rows, (list, tuple)) or not rows:
        raise TypeError("rows must be a non-empty list of dicts (compare_operators)")
    measured = [
        key for key in viz.CHOICE_COSTS if all(row.get(key) is not None for row in rows)
    ]
    accuracies = {"test_accuracy": "test accuracy", "train_accuracy": "train accuracy"}

    def draw(cost: str, accuracy: str) -> Figure:
        return viz.plot_operator_choices(
            rows, costs=(cost,), accuracy=accuracy, noise=noise
        )

    def caption(cost: str, accuracy: str) -> str:
        best = max(rows, key=lambda row: row[accuracy])
        cheapest = min(rows, key=lambda row: row[cost])
        return (
            f"{viz.CHOICE_COSTS[cost]} against {accuracies[accuracy]} -> most accurate:"
            f" {best['label']} ({best[accuracy]:.3f}); cheapest: {cheapest['label']}"
        )

    specs = [
        control(
            "cost",
            "cost",
            measured,
            "mult_adds" if "mult_adds" in measured else measured[0],
            labels=[viz.CHOICE_COSTS[key] for key in measured],
            kind="dropdown",
        ),
        control(
            "accuracy",
            "accuracy",
            list(accuracies),
            "test_accuracy",
            labels=list(accuracies.values()),
            kind="dropdown",
        ),
    ]
    return predrawn(specs, draw, caption)
