"""Thin ipywidgets front ends over :mod:`convref.viz` for live use in the notebooks."""

from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import viz
from .arith import affine_tap_offsets
from .data import test_image, varied_shapes
from .experiments import smooth_image
from .nn import DynamicConv2d
from .reference import conv2d
from .viz.non_local import (
    _as_picture,
)  # the attention figure's own reading of grey / RGB layouts

__all__ = [
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
]


def _redraw(output: widgets.Output, draw: Callable[[], object]) -> None:
    with output:
        output.clear_output(wait=True)
        draw()
        plt.show()


def conv_arithmetic_widget(
    input_size: int = 5,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> widgets.VBox:
    """Sliders for the geometry of a convolution over :func:`convref.viz.plot_conv_arithmetic`.

    Geometries whose dilated kernel does not fit the padded input show a message instead.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        The sliders' initial geometry (square, the same on both axes).

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    sliders = {
        "input_size": widgets.IntSlider(input_size, 1, 9, description="input"),
        "kernel_size": widgets.IntSlider(kernel_size, 1, 5, description="kernel"),
        "stride": widgets.IntSlider(stride, 1, 3, description="stride"),
        "padding": widgets.IntSlider(padding, 0, 3, description="padding"),
        "dilation": widgets.IntSlider(dilation, 1, 3, description="dilation"),
        "step": widgets.IntSlider(0, 0, 80, description="output #"),
    }
    output = widgets.Output()

    def draw() -> None:
        values = {name: slider.value for name, slider in sliders.items()}
        try:
            viz.plot_conv_arithmetic(**values)
        except ValueError as error:
            print(f"no output: {error}")

    for slider in sliders.values():
        slider.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox(
        [
            widgets.HBox(
                [
                    widgets.VBox(list(sliders.values())[:3]),
                    widgets.VBox(list(sliders.values())[3:]),
                ]
            ),
            output,
        ]
    )


def kernel_widget(image: np.ndarray, kernels: dict[str, np.ndarray]) -> widgets.VBox:
    """Pick a kernel by name and see ``image`` filtered by it (with :func:`convref.reference.conv2d`).

    Parameters
    ----------
    image : numpy.ndarray
        The grey picture ``(H, W)`` to filter (``"same"`` zero padding).
    kernels : dict of str to numpy.ndarray
        ``{name: kernel}``, each kernel ``(kh, kw)``; the names fill the chooser.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    choice = widgets.Dropdown(options=list(kernels), description="kernel")
    output = widgets.Output()

    def draw() -> None:
        kernel = np.asarray(kernels[choice.value], dtype=image.dtype)
        response = conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
        viz.plot_images(
            [image, kernel, response],
            ["input", f"kernel: {choice.value}", "output"],
            symmetric=[False, True, True],
        )

    choice.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([choice, output])


def dilation_widget(
    rates: tuple[int, int, int] = (1, 2, 5), kernel_size: int = 3
) -> widgets.VBox:
    """Sliders for the rates of a three-layer dilated stack over :func:`convref.viz.plot_coverage`.

    Shows which input positions reach one output (holes in white), how many, and whether the
    rates pass the HDC rule: try equal rates, rates with a common factor, and ``(1, 2, 5)``.

    Parameters
    ----------
    rates : (int, int, int)
        The initial rates of the three layers, input side first.
    kernel_size : int
        The initial kernel size of every layer.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    sliders = [
        widgets.IntSlider(rate, 1, 9, description=f"rate {index + 1}")
        for index, rate in enumerate(rates)
    ]
    kernel = widgets.IntSlider(kernel_size, 2, 5, description="kernel")
    output = widgets.Output()

    def draw() -> None:
        viz.plot_coverage([tuple(slider.value for slider in sliders)], kernel.value)

    for slider in [*sliders, kernel]:
        slider.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox(
        [widgets.HBox([widgets.VBox(sliders), widgets.VBox([kernel])]), output]
    )


def overlap_widget(
    image: "np.ndarray | None" = None, kernel_size: int = 3, stride: int = 2
) -> widgets.VBox:
    """Kernel-size and stride sliders over :func:`convref.viz.plot_overlap`.

    Shows the overlap count map of a transposed convolution with that geometry and
    ``image`` (by default :func:`convref.experiments.smooth_image`) upsampled by it with
    equal taps: the count pattern, when the overlap is uneven, reappears as a checkerboard.

    Parameters
    ----------
    image : numpy.ndarray, optional
        The grey picture ``(H, W)`` to upsample.
    kernel_size, stride : int
        The initial geometry of the transposed convolution.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    if image is None:
        image = smooth_image(24)
    sliders = {
        "kernel_size": widgets.IntSlider(kernel_size, 1, 7, description="kernel"),
        "stride": widgets.IntSlider(stride, 1, 4, description="stride"),
    }
    output = widgets.Output()

    def draw() -> None:
        viz.plot_overlap(
            [(sliders["kernel_size"].value, sliders["stride"].value)],
            input_size=6,
            image=image,
        )

    for slider in sliders.values():
        slider.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox(list(sliders.values())), output])


def attention_widget(
    image: np.ndarray,
    affinities: "dict[str, np.ndarray] | np.ndarray",
    query: "tuple[int, int] | None" = None,
) -> widgets.VBox:
    """Row and column sliders that pick the query pixel of :func:`convref.viz.plot_attention_map`.

    Each affinity matrix (for one image, e.g. ``non_local_affinity(x)[0]``) has one row per
    query position, in row-major order; moving the sliders shows row ``r * W + c`` of every
    matrix over ``image``: where that pixel looks.

    Parameters
    ----------
    image : numpy.ndarray
        Grey ``(H, W)`` or RGB ``(3, H, W)`` / ``(H, W, 3)`` in [0, 1].
    affinities : dict or numpy.ndarray
        ``{name: (H W, M) matrix}``, ``M`` being ``H W`` or ``(H/2)(W/2)``; a single matrix is
        shown as ``"attention"``.
    query : (int, int), optional
        The first query pixel (the image's centre by default).

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    matrices = affinities if isinstance(affinities, dict) else {"attention": affinities}
    height, width = _as_picture(image)[0].shape[
        :2
    ]  # the same reading of grey / RGB layouts as the figure
    for name, matrix in matrices.items():
        if np.ndim(matrix) != 2 or np.shape(matrix)[0] != height * width:
            raise ValueError(
                f"affinity {name!r} must have H*W = {height * width} rows, got shape {np.shape(matrix)}"
            )
    row0, col0 = query if query is not None else (height // 2, width // 2)
    sliders = {
        "row": widgets.IntSlider(row0, 0, height - 1, description="row"),
        "column": widgets.IntSlider(col0, 0, width - 1, description="column"),
    }
    output = widgets.Output()

    def draw() -> None:
        r, c = sliders["row"].value, sliders["column"].value
        viz.plot_attention_map(
            image,
            {name: np.asarray(m)[r * width + c] for name, m in matrices.items()},
            (r, c),
        )

    for slider in sliders.values():
        slider.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox(list(sliders.values())), output])


def shift_widget(
    image: "np.ndarray | None" = None, dy: float = 1.5, dx: float = -2.5
) -> widgets.VBox:
    """Sliders for one channel's shift ``(dy, dx)``, fractional included, over :func:`convref.viz.plot_shifted_channels`.

    Shows the unshifted image next to the shifted one. Integer values move the pixels
    exactly; values in between blend the four nearest pixels (the bilinear shift of the
    active shift layer), which blurs the picture most at half-pixel shifts.

    Parameters
    ----------
    image : numpy.ndarray, optional
        The grey picture ``(H, W)`` to shift; by default :func:`convref.data.test_image` of side 24.
    dy, dx : float
        The initial shift in pixels (down and right are positive).

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    picture = test_image(24) if image is None else np.asarray(image, dtype=np.float64)
    sliders = [
        widgets.FloatSlider(dy, min=-6.0, max=6.0, step=0.25, description="dy (down)"),
        widgets.FloatSlider(dx, min=-6.0, max=6.0, step=0.25, description="dx (right)"),
    ]
    output = widgets.Output()

    def draw() -> None:
        shifts = np.array([[0.0, 0.0], [sliders[0].value, sliders[1].value]])
        viz.plot_shifted_channels(picture, shifts, ncols=2, size=2.6)

    for slider in sliders:
        slider.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox(sliders), output])


def shuffle_widget(
    connectivity: Callable[[int], dict[bool, np.ndarray]],
    channels: int,
    groups: tuple[int, ...] = (1, 2, 3, 4, 6, 12),
    group_count: int = 3,
) -> widgets.VBox:
    """Choose the number of groups and the highlighted output of :func:`convref.viz.plot_shuffle_connectivity`.

    Parameters
    ----------
    connectivity : callable
        ``connectivity(groups)`` returns the measured maps ``{False: without shuffle, True: with shuffle}``,
        each ``(channels, channels)``, e.g. from :func:`convref.experiments.channel_connectivity`.
    channels : int
        Number of channels of the two grouped layers.
    groups : tuple of int
        The choices offered (divisors of ``channels``).
    group_count : int
        The initial choice.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    choice = widgets.Dropdown(
        options=list(groups), value=group_count, description="groups"
    )
    highlight = widgets.IntSlider(0, 0, channels - 1, description="output")
    output = widgets.Output()

    def draw() -> None:
        viz.plot_shuffle_connectivity(
            channels,
            choice.value,
            connectivity(choice.value),
            highlight=highlight.value,
        )

    for control in (choice, highlight):
        control.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox([choice, highlight]), output])


def deform_widget(
    image: "np.ndarray | None" = None,
    weight: "np.ndarray | None" = None,
    pixel: "tuple[int, int] | None" = None,
) -> widgets.VBox:
    """Move the taps of one deformable-convolution output, over :func:`convref.viz.plot_deformed_sampling`.

    Global sliders deform the whole 3x3 grid (scale, aspect ratio, rotation, through
    :func:`convref.arith.affine_tap_offsets`); a tap chooser and two more sliders add an offset
    of your own to any single tap (each tap keeps its own). Row and column pick the output
    pixel. The figure shows where the taps read, the values read by bilinear interpolation,
    and the output: the dot product with the kernel.

    Parameters
    ----------
    image : numpy.ndarray, optional
        ``(H, W)`` grey image; by default one large shape from :func:`convref.data.varied_shapes`.
    weight : numpy.ndarray, optional
        ``(3, 3)`` kernel; by default a horizontal-gradient (Sobel) kernel, whose output
        changes sign as the taps cross the object's left or right edge.
    pixel : (int, int), optional
        The first output pixel (the image centre by default).

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    if image is None:
        image = varied_shapes(1, size=24, seed=10, noise=0.05, scale=(0.3, 0.3))[0][
            0, 0
        ]
    image = np.asarray(image, dtype=np.float64)
    kernel = (
        np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
        if weight is None
        else np.asarray(weight, dtype=np.float64)
    )
    taps = kernel.shape[0] * kernel.shape[1]
    height, width = image.shape
    row0, col0 = pixel if pixel is not None else (height // 2, width // 2)
    controls = {
        "row": widgets.IntSlider(row0, 0, height - 1, description="row"),
        "column": widgets.IntSlider(col0, 0, width - 1, description="column"),
        "scale": widgets.FloatSlider(
            1.0, min=0.25, max=4.0, step=0.05, description="scale"
        ),
        "aspect": widgets.FloatSlider(
            1.0, min=0.25, max=4.0, step=0.05, description="aspect"
        ),
        "angle": widgets.FloatSlider(
            0.0, min=-90.0, max=90.0, step=5.0, description="angle (deg)"
        ),
        "tap": widgets.Dropdown(options=list(range(taps)), value=0, description="tap"),
        "dy": widgets.FloatSlider(
            0.0, min=-4.0, max=4.0, step=0.1, description="tap dy"
        ),
        "dx": widgets.FloatSlider(
            0.0, min=-4.0, max=4.0, step=0.1, description="tap dx"
        ),
    }
    extra = np.zeros(
        (taps, 2)
    )  # each tap's own offset, on top of the global deformation
    switching = [
        False
    ]  # True while the tap sliders are set to a newly chosen tap's stored values
    output = widgets.Output()

    def offsets() -> np.ndarray:
        grid = affine_tap_offsets(
            kernel.shape[0],
            controls["scale"].value,
            controls["aspect"].value,
            np.deg2rad(controls["angle"].value),
        )
        return grid + extra

    def draw() -> None:
        viz.plot_deformed_sampling(
            image, kernel, (controls["row"].value, controls["column"].value), offsets()
        )

    def on_tap_offset(_: object) -> None:
        if not switching[0]:
            extra[controls["tap"].value] = controls["dy"].value, controls["dx"].value
            _redraw(output, draw)

    def on_tap_choice(_: object) -> None:
        switching[0] = True
        controls["dy"].value, controls["dx"].value = extra[controls["tap"].value]
        switching[0] = False

    for name in ("row", "column", "scale", "aspect", "angle"):
        controls[name].observe(lambda _: _redraw(output, draw), names="value")
    controls["dy"].observe(on_tap_offset, names="value")
    controls["dx"].observe(on_tap_offset, names="value")
    controls["tap"].observe(on_tap_choice, names="value")
    _redraw(output, draw)
    columns = [
        widgets.VBox([controls[n] for n in ("row", "column")]),
        widgets.VBox([controls[n] for n in ("scale", "aspect", "angle")]),
        widgets.VBox([controls[n] for n in ("tap", "dy", "dx")]),
    ]
    return widgets.VBox([widgets.HBox(columns), output])


def template_widget(
    image: "np.ndarray | None" = None,
    corner: "tuple[int, int] | None" = None,
    size: int = 7,
) -> widgets.VBox:
    """Move a template over an image and compare where correlation and negative L1 distance find it.

    Sliders choose the template's top-left pixel and its size; the figure is
    :func:`convref.viz.plot_template_matching`. The negative L1 distance always finds the
    template's own window (distance zero); correlation finds the window that is brightest
    where the template is bright, which is often somewhere else.

    Parameters
    ----------
    image : numpy.ndarray, optional
        ``(H, W)`` grey image in [0, 1]; by default :func:`convref.data.test_image` of side 48.
    corner : (int, int), optional
        The first top-left pixel of the template (by default at the upper edge of the disk).
    size : int
        The first template side.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    image = test_image(48) if image is None else np.asarray(image, dtype=np.float64)
    height, width = image.shape
    row0, col0 = corner if corner is not None else (height // 2 - 2, width // 4 - 2)
    controls = {
        "size": widgets.IntSlider(size, 1, min(height, width, 15), description="size"),
        "row": widgets.IntSlider(
            min(row0, height - size), 0, height - size, description="row"
        ),
        "column": widgets.IntSlider(
            min(col0, width - size), 0, width - size, description="column"
        ),
    }
    output = widgets.Output()

    def draw() -> None:
        viz.plot_template_matching(
            image,
            (controls["row"].value, controls["column"].value),
            controls["size"].value,
        )

    def on_size(_: object) -> None:
        # a larger template has fewer positions: shrink the ranges first (this may move the sliders)
        controls["row"].max = height - controls["size"].value
        controls["column"].max = width - controls["size"].value
        _redraw(output, draw)

    controls["size"].observe(on_size, names="value")
    for name in ("row", "column"):
        controls[name].observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def dynamic_widget(
    model: "torch.nn.Module",
    images: np.ndarray,
    names: "list[str] | None" = None,
    layer: int = 0,
    choices: "list[int] | None" = None,
) -> widgets.VBox:
    """Pick an input and a temperature, and see a dynamic layer's attention and the kernel it mixes.

    ``layer`` picks a :class:`convref.nn.DynamicConv2d` of ``model`` (by order of appearance).
    The layer's inputs are recorded once, with all ``images`` in one batch; the figure is then
    :func:`convref.viz.plot_kernel_mixture` for the chosen input, at the chosen temperature,
    for one output channel and one input channel of the kernels (sliders). Lower the
    temperature to see the mixture collapse onto one kernel; raise it to see it become the
    plain average of the ``K`` kernels, whatever the input.

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
        The indices of the images offered by the chooser (all by default). The layer still
        sees all ``images`` as one batch, as a network whose BatchNorms use the batch's
        statistics must.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure, which redraws when they change.
    """
    layers = [m for m in model.modules() if isinstance(m, DynamicConv2d)]
    if not 0 <= layer < len(layers):
        raise ValueError(
            f"layer must index one of the model's {len(layers)} DynamicConv2d layers, got {layer}"
        )
    chosen = layers[layer]
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
    controls = {
        "input": widgets.Dropdown(
            options=[(names[i], i) for i in choices],
            value=choices[0],
            description="input",
        ),
        "temperature": widgets.FloatLogSlider(
            chosen.temperature,
            base=10,
            min=-1.5,
            max=2,
            step=0.05,
            description="temperature",
        ),
        "out": widgets.IntSlider(0, 0, kernels.shape[1] - 1, description="out channel"),
        "in": widgets.IntSlider(0, 0, kernels.shape[2] - 1, description="in channel"),
    }
    output = widgets.Output()

    def draw() -> None:
        index = controls["input"].value
        saved = chosen.temperature
        try:
            chosen.temperature = controls["temperature"].value
            with torch.no_grad():
                attention = chosen.attention(recorded["x"][index : index + 1])[
                    0
                ].numpy()
        finally:
            chosen.temperature = saved
        name = names[index]
        viz.plot_kernel_mixture(
            kernels[:, controls["out"].value, controls["in"].value],
            {name: attention},
            {name: np.asarray(images[index, 0])},
            title=f"dynamic layer {layer + 1}, temperature {controls['temperature'].value:.3g}",
        )

    for control in controls.values():
        control.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox(
        [
            widgets.HBox(
                [
                    widgets.VBox([controls["input"], controls["temperature"]]),
                    widgets.VBox([controls["out"], controls["in"]]),
                ]
            ),
            output,
        ]
    )


def choice_widget(rows: "list[dict]", noise: "float | None" = None) -> widgets.VBox:
    """Pick the cost and the accuracy to compare in :func:`convref.viz.plot_operator_choices` (rows of :func:`convref.experiments.compare_operators`).

    Parameters
    ----------
    rows : list of dict
        The comparison's rows, the baseline first.
    noise : float, optional
        Half-width of the grey band around the baseline's accuracy.

    Returns
    -------
    ipywidgets.VBox
        Two drop-downs and the figure.
    """
    measured = [
        key for key in viz.CHOICE_COSTS if all(row.get(key) is not None for row in rows)
    ]
    cost = widgets.Dropdown(
        options=[(viz.CHOICE_COSTS[key], key) for key in measured],
        value="mult_adds",
        description="cost",
    )
    accuracy = widgets.Dropdown(
        options=[
            ("test accuracy", "test_accuracy"),
            ("train accuracy", "train_accuracy"),
        ],
        description="accuracy",
    )
    output = widgets.Output()

    def draw() -> None:
        viz.plot_operator_choices(
            rows, costs=(cost.value,), accuracy=accuracy.value, noise=noise
        )

    for control in (cost, accuracy):
        control.observe(lambda _: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox([cost, accuracy]), output])
