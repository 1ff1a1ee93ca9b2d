"""Widgets of the foundations and of the fewer-parameter chapters (1 to 4)."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from .. import viz
from ..arith import conv_output_size
from ..functional import conv2d as torch_conv2d
from ..reference import conv2d, factorize_kernel
from ._predrawn import (
    control,
    grey_image,
    int_values,
    message_figure,
    predrawn,
    with_start,
)

__all__ = [
    "conv_arithmetic_widget",
    "kernel_widget",
    "channel_mix_widget",
    "low_rank_widget",
    "shuffle_widget",
]

#: The channel mixes offered by :func:`channel_mix_widget`: name -> (w_R, w_G, w_B).
CHANNEL_MIXES: dict[str, tuple[float, float, float]] = {
    "brightness": (0.3, 0.6, 0.1),
    "red only": (1.0, 0.0, 0.0),
    "green only": (0.0, 1.0, 0.0),
    "blue only": (0.0, 0.0, 1.0),
    "average": (1 / 3, 1 / 3, 1 / 3),
    "red minus green": (1.0, -1.0, 0.0),
    "blue minus yellow": (-0.5, -0.5, 1.0),
    "negative brightness": (-0.3, -0.6, -0.1),
}


def draw_conv_arithmetic(
    input_size: int, kernel_size: int, stride: int, padding: int, dilation: int
) -> Figure:
    """The last window of one geometry (:func:`convref.viz.plot_conv_arithmetic`), or why none fits.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        The geometry.

    Returns
    -------
    matplotlib.figure.Figure
    """
    try:
        conv_output_size(input_size, kernel_size, stride, padding, dilation)
    except ValueError:
        return message_figure(
            f"input {input_size}, kernel {kernel_size}, stride {stride}, padding"
            f" {padding}, dilation {dilation}:\n"
            + _no_output(input_size, kernel_size, padding, dilation)
        )
    return viz.plot_conv_arithmetic(
        input_size, kernel_size, stride, padding, dilation, step=-1
    )


def _no_output(input_size: int, kernel_size: int, padding: int, dilation: int) -> str:
    span = dilation * (kernel_size - 1) + 1
    return (
        f"no output: the dilated kernel spans {span} positions,"
        f" the padded input only {input_size + 2 * padding}"
    )


def conv_arithmetic_widget(
    input_size: int = 5,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    input_sizes: Sequence[int] = (5, 7, 9),
    kernel_sizes: Sequence[int] = (3, 5),
    strides: Sequence[int] = (1, 2),
    paddings: Sequence[int] = (0, 1),
    dilations: Sequence[int] = (1, 2),
) -> widgets.VBox:
    """Sliders for the geometry of a convolution over :func:`convref.viz.plot_conv_arithmetic`.

    Each geometry shows its last window (where the kernel stops, which sets the output
    size) and a caption with the output size; geometries whose dilated kernel does not
    fit the padded input say so instead.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        The geometry shown first (added to the values offered if missing).
    input_sizes, kernel_sizes, strides, paddings, dilations : sequence of int
        The values each slider offers.

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure and its caption.
    """
    sets = {
        "input_size": (input_sizes, input_size, 1, "input"),
        "kernel_size": (kernel_sizes, kernel_size, 1, "kernel"),
        "stride": (strides, stride, 1, "stride"),
        "padding": (paddings, padding, 0, "padding"),
        "dilation": (dilations, dilation, 1, "dilation"),
    }
    specs = []
    for name, (values, start, minimum, label) in sets.items():
        offered = with_start(name, int_values(f"{name}s", values, minimum), start)
        if start < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {start}")
        specs.append(control(name, label, offered, start))

    def caption(
        input_size: int, kernel_size: int, stride: int, padding: int, dilation: int
    ) -> str:
        head = (
            f"input {input_size}, kernel {kernel_size}, stride {stride}, "
            f"padding {padding}, dilation {dilation}"
        )
        try:
            out = conv_output_size(input_size, kernel_size, stride, padding, dilation)
        except ValueError:
            return f"{head} -> {_no_output(input_size, kernel_size, padding, dilation)}"
        return f"{head} -> output {out} (its last window shown)"

    return predrawn(specs, draw_conv_arithmetic, caption)


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
        The chooser above the figure and its caption.
    """
    image = grey_image("image", image)
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError("kernels must be a non-empty dict {name: (kh, kw) array}")
    arrays = {
        str(name): grey_image(f"kernels[{name!r}]", kernel)
        for name, kernel in kernels.items()
    }

    def response(name: str) -> np.ndarray:
        kernel = arrays[name]
        return conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]

    def draw(kernel: str) -> Figure:
        return viz.plot_images(
            [image, arrays[kernel], response(kernel)],
            ["input", f"kernel: {kernel}", "output"],
            symmetric=[False, True, True],
        )

    def caption(kernel: str) -> str:
        out = response(kernel)
        return f"kernel {kernel} -> output from {out.min():.2f} to {out.max():.2f}"

    names = list(arrays)
    spec = control("kernel", "kernel", names, names[0], kind="dropdown")
    return predrawn([spec], draw, caption)


def channel_mix_widget(
    rgb: np.ndarray,
    mixes: Optional[dict[str, Sequence[float]]] = None,
    start: str = "brightness",
) -> widgets.VBox:
    """Choose the weights ``(w_R, w_G, w_B)`` of one 1x1-convolution output channel.

    The figure shows the input picture and the single output channel
    ``w_R R + w_G G + w_B B``, computed by :func:`convref.functional.conv2d` with a
    ``(1, 3, 1, 1)`` kernel; the caption gives the weights and the output's range.

    Parameters
    ----------
    rgb : numpy.ndarray
        The picture, ``(3, H, W)``, values in [0, 1].
    mixes : dict of str to (float, float, float), optional
        ``{name: weights}`` offered by the chooser; by default a few named mixes
        (brightness, each channel alone, the average, opponent colours, a negative).
    start : str
        The mix shown first.

    Returns
    -------
    ipywidgets.VBox
        The chooser above the figure and its caption.
    """
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"rgb must be a numpy.ndarray, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"rgb must have shape (3, H, W), got {rgb.shape}")
    mixes = dict(CHANNEL_MIXES if mixes is None else mixes)
    for name, weights in mixes.items():
        if np.shape(weights) != (3,):
            raise ValueError(
                f"mixes[{name!r}] must be three weights (w_R, w_G, w_B),"
                f" got {weights!r}"
            )
    picture = torch.from_numpy(np.asarray(rgb, dtype=np.float32))[None]

    def output(mix: str) -> np.ndarray:
        kernel = torch.tensor(mixes[mix], dtype=torch.float32).view(1, 3, 1, 1)
        return torch_conv2d(picture, kernel)[0, 0].numpy()

    def weights_text(mix: str) -> str:
        w_r, w_g, w_b = mixes[mix]
        return f"{w_r:+.2f} R {w_g:+.2f} G {w_b:+.2f} B"

    def draw(mix: str) -> Figure:
        return viz.plot_images(
            [rgb.transpose(1, 2, 0), output(mix)],
            ["input", weights_text(mix)],
            symmetric=[False, True],
        )

    def caption(mix: str) -> str:
        out = output(mix)
        return (
            f"{mix}: y = {weights_text(mix)} -> output from {out.min():.2f}"
            f" to {out.max():.2f}"
        )

    spec = control("mix", "weights", list(mixes), start, kind="dropdown")
    return predrawn([spec], draw, caption)


def low_rank_widget(
    image: np.ndarray,
    kernels: dict[str, np.ndarray],
    ranks: Optional[Sequence[int]] = None,
) -> widgets.VBox:
    """A kernel chooser and a rank slider over :func:`convref.viz.plot_low_rank_filtering`.

    Parameters
    ----------
    image : numpy.ndarray
        The grey picture ``(H, W)`` to filter.
    kernels : dict of str to numpy.ndarray
        ``{name: (k, k) kernel}``.
    ranks : sequence of int, optional
        The ranks offered; by default 1 to 5 and the full rank of the largest kernel.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure and its caption.
    """
    image = grey_image("image", image)
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError("kernels must be a non-empty dict {name: (k, k) array}")
    arrays = {
        str(name): grey_image(f"kernels[{name!r}]", kernel)
        for name, kernel in kernels.items()
    }
    full = min(min(kernel.shape) for kernel in arrays.values())
    if ranks is None:
        ranks = sorted({*range(1, min(full, 5) + 1), full})
    ranks = int_values("ranks", ranks, 1)
    if ranks[-1] > full:
        raise ValueError(f"ranks must be at most the kernels' side {full}, got {ranks}")

    def draw(kernel: str, rank: int) -> Figure:
        return viz.plot_low_rank_filtering(image, arrays[kernel], rank, kernel)

    def caption(kernel: str, rank: int) -> str:
        weight = arrays[kernel]
        columns, rows = factorize_kernel(weight, rank)
        approximation = columns.T @ rows
        error = np.linalg.norm(weight - approximation) / np.linalg.norm(weight)
        kh, kw = weight.shape
        return (
            f"kernel {kernel}, rank {rank} -> kernel error {error:.1%},"
            f" {rank * (kh + kw)} weights in 1-D filters against {kh * kw}"
        )

    names = list(arrays)
    specs = [
        control("kernel", "kernel", names, names[0], kind="dropdown"),
        control("rank", "rank", ranks, ranks[0]),
    ]
    return predrawn(specs, draw, caption)


def shuffle_widget(
    connectivity: Callable[[int], dict[bool, np.ndarray]],
    channels: int,
    groups: tuple[int, ...] = (1, 2, 3, 4, 6, 12),
    group_count: int = 3,
    outputs: Optional[Sequence[int]] = None,
) -> widgets.VBox:
    """Choose the number of groups and the traced output of :func:`convref.viz.plot_shuffle_connectivity`.

    Parameters
    ----------
    connectivity : callable
        ``connectivity(groups)`` returns the measured maps ``{False: without shuffle,
        True: with shuffle}``, each ``(channels, channels)`` (output, input), e.g. from
        :func:`convref.experiments.channel_connectivity`.
    channels : int
        Number of channels of the two grouped layers.
    groups : tuple of int
        The choices offered (divisors of ``channels``).
    group_count : int
        The initial choice.
    outputs : sequence of int, optional
        The output channels that can be traced (by default the first, one in the middle
        and the last).

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure and its caption.
    """
    if not callable(connectivity):
        raise TypeError(
            "connectivity must be a callable groups -> {False: map, True: map}"
        )
    channels = int_values("channels", [channels], 1)[0]
    groups = int_values("groups", groups, 1)
    bad = [g for g in groups if channels % g]
    if bad:
        raise ValueError(f"groups must divide channels={channels}, got {bad}")
    outputs = int_values(
        "outputs", (0, channels // 3, channels - 1) if outputs is None else outputs, 0
    )
    if outputs[-1] >= channels:
        raise ValueError(f"outputs must be below channels={channels}, got {outputs}")
    maps = {g: connectivity(g) for g in groups}

    def draw(groups: int, output: int) -> Figure:
        return viz.plot_shuffle_connectivity(
            channels, groups, maps[groups], highlight=output
        )

    def caption(groups: int, output: int) -> str:
        plain, shuffled = (int(np.sum(maps[groups][s][output])) for s in (False, True))
        return (
            f"groups {groups}, output {output} -> reads {plain} of {channels} input"
            f" channels without the shuffle, {shuffled} with it"
        )

    specs = [
        control("groups", "groups", groups, group_count),
        control("output", "traced output", outputs, outputs[0]),
    ]
    return predrawn(specs, draw, caption)
