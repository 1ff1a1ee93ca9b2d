"""Widgets of the context-and-resolution chapters: dilated, transposed, deformable, non-local."""

from __future__ import annotations

import re
from typing import Optional, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .. import viz
from ..arith import (
    affine_tap_offsets,
    has_uneven_overlap,
    receptive_field_coverage,
    satisfies_hdc,
)
from ..data import varied_shapes
from ..experiments import checkerboard_energy, smooth_image
from ..reference import deform_conv2d
from ..viz.non_local import (  # the attention figure's reading of grey / RGB layouts
    _as_picture,
)
from ..viz.transposed import (  # the figure's own upsampling, so the caption matches it
    _constant_kernel_upsampling,
)
from ._predrawn import control, grey_image, int_values, predrawn, with_start

__all__ = ["dilation_widget", "overlap_widget", "attention_widget", "deform_widget"]

#: The rate triples offered by :func:`dilation_widget`: equal rates (gridding), rates
#: with a common factor, and hybrid rates that pass the HDC rule.
RATE_TRIPLES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 1),
    (2, 2, 2),
    (3, 3, 3),
    (2, 4, 8),
    (1, 2, 3),
    (1, 2, 4),
    (1, 2, 5),
    (1, 3, 9),
)


def dilation_widget(
    rates: tuple[int, int, int] = (1, 2, 5),
    kernel_size: int = 3,
    *,
    stacks: Sequence[tuple[int, ...]] = RATE_TRIPLES,
    kernel_sizes: Sequence[int] = (2, 3, 5),
) -> widgets.VBox:
    """A chooser of rate triples and a kernel-size slider over :func:`convref.viz.plot_coverage`.

    Shows which input positions reach one output of the stack (holes in white), how
    many, and whether the rates pass the HDC rule: compare equal rates, rates with a
    common factor and hybrid rates such as ``(1, 2, 5)``.

    Parameters
    ----------
    rates : tuple of int
        The rates shown first, input side first (added to ``stacks`` if missing).
    kernel_size : int
        The kernel size shown first.
    stacks : sequence of tuple of int
        The rate triples offered.
    kernel_sizes : sequence of int
        The kernel sizes offered.

    Returns
    -------
    ipywidgets.VBox
        The controls above the figure and its caption.
    """
    offered = [tuple(int_values("stacks", [r], 1)[0] for r in s) for s in stacks]
    start = tuple(int_values("rates", [r], 1)[0] for r in rates)
    if start not in offered:
        offered.append(start)
    kernels = with_start(
        "kernel_size", int_values("kernel_sizes", kernel_sizes, 2), kernel_size
    )

    def draw(rates: tuple[int, ...], kernel_size: int) -> Figure:
        return viz.plot_coverage([rates], kernel_size)

    def caption(rates: tuple[int, ...], kernel_size: int) -> str:
        counts = receptive_field_coverage([kernel_size] * len(rates), rates)
        reached, side = int((counts > 0).sum()), counts.shape[0]
        text = (
            f"rates {', '.join(map(str, rates))}, kernel {kernel_size} -> field"
            f" {side} x {side}, {reached} of {counts.size} positions reached"
        )
        if kernel_size >= 3:
            met = satisfies_hdc(rates, kernel_size)
            text += f", HDC rule {'met' if met else 'not met'}"
        return text

    specs = [
        control(
            "rates",
            "rates (input side first)",
            offered,
            start,
            labels=[", ".join(map(str, r)) for r in offered],
            kind="dropdown",
        ),
        control("kernel_size", "kernel", kernels, kernel_size),
    ]
    return predrawn(specs, draw, caption)


def overlap_widget(
    image: Optional[np.ndarray] = None,
    kernel_size: int = 3,
    stride: int = 2,
    *,
    kernel_sizes: Sequence[int] = (1, 2, 3, 4, 5, 6),
    strides: Sequence[int] = (1, 2, 3),
) -> widgets.VBox:
    """Kernel-size and stride sliders over :func:`convref.viz.plot_overlap`.

    Shows the overlap count map of a transposed convolution with that geometry and
    ``image`` (by default :func:`convref.experiments.smooth_image`) upsampled by it with
    equal taps: the count pattern, when the overlap is uneven, reappears as a
    checkerboard.

    Parameters
    ----------
    image : numpy.ndarray, optional
        The grey picture ``(H, W)`` to upsample.
    kernel_size, stride : int
        The geometry shown first.
    kernel_sizes, strides : sequence of int
        The values each slider offers.

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure and its caption.
    """
    image = smooth_image(24) if image is None else grey_image("image", image)
    kernels = with_start(
        "kernel_size", int_values("kernel_sizes", kernel_sizes, 1), kernel_size
    )
    steps = with_start("stride", int_values("strides", strides, 1), stride)

    def draw(kernel_size: int, stride: int) -> Figure:
        return viz.plot_overlap([(kernel_size, stride)], input_size=4, image=image)

    def caption(kernel_size: int, stride: int) -> str:
        upsampled = _constant_kernel_upsampling(image, kernel_size, stride)
        upsampled = upsampled[
            : upsampled.shape[0] // 2 * 2, : upsampled.shape[1] // 2 * 2
        ]
        kind = "uneven" if has_uneven_overlap(kernel_size, stride) else "even"
        return (
            f"kernel {kernel_size}, stride {stride} -> {kind} overlap"
            f" ({kernel_size} mod {stride} = {kernel_size % stride}), checkerboard"
            f" energy {checkerboard_energy(upsampled):.3f}"
        )

    specs = [
        control("kernel_size", "kernel", kernels, kernel_size),
        control("stride", "stride", steps, stride),
    ]
    return predrawn(specs, draw, caption)


def _spread(count: int, size: int, keep: int) -> tuple[int, ...]:
    """About ``count`` positions spread over ``range(size)``, ``keep`` among them."""
    grid = np.linspace(0, size - 1, count).round().astype(int)
    return tuple(sorted({*map(int, grid), int(keep)}))


def attention_widget(
    image: np.ndarray,
    affinities: "dict[str, np.ndarray] | np.ndarray",
    query: Optional[tuple[int, int]] = None,
    *,
    rows: Optional[Sequence[int]] = None,
    columns: Optional[Sequence[int]] = None,
) -> widgets.VBox:
    """Row and column sliders that pick the query pixel of :func:`convref.viz.plot_attention_map`.

    Each affinity matrix (for one image, e.g. ``non_local_affinity(x)[0]``) has one row
    per query position, in row-major order; the sliders show row ``r * W + c`` of every
    matrix over ``image``: where that pixel looks.

    Parameters
    ----------
    image : numpy.ndarray
        Grey ``(H, W)`` or RGB ``(3, H, W)`` / ``(H, W, 3)`` in [0, 1].
    affinities : dict or numpy.ndarray
        ``{name: (H W, M) matrix}``, ``M`` being ``H W`` or ``(H/2)(W/2)``; a single
        matrix is shown as ``"attention"``.
    query : (int, int), optional
        The first query pixel (the image's centre by default).
    rows, columns : sequence of int, optional
        The query rows and columns offered (by default four of each, spread over the
        image, and the first query's).

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure and its caption.
    """
    matrices = affinities if isinstance(affinities, dict) else {"attention": affinities}
    # the same reading of grey / RGB layouts as the figure
    height, width = _as_picture(image)[0].shape[:2]
    for name, matrix in matrices.items():
        if np.ndim(matrix) != 2 or np.shape(matrix)[0] != height * width:
            raise ValueError(
                f"affinity {name!r} must have H*W = {height * width} rows,"
                f" got shape {np.shape(matrix)}"
            )
    row0, col0 = query if query is not None else (height // 2, width // 2)
    if not (0 <= row0 < height and 0 <= col0 < width):
        raise ValueError(
            f"query must lie inside the {height}x{width} image, got {query}"
        )
    rows = _spread(4, height, row0) if rows is None else int_values("rows", rows, 0)
    columns = (
        _spread(4, width, col0)
        if columns is None
        else int_values("columns", columns, 0)
    )
    rows, columns = with_start("query", rows, row0), with_start("query", columns, col0)
    if rows[-1] >= height or columns[-1] >= width:
        raise ValueError(
            f"rows and columns must lie inside the {height}x{width} image,"
            f" got {rows} and {columns}"
        )

    def weights(row: int, column: int) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(m)[row * width + column] for name, m in matrices.items()
        }

    def draw(row: int, column: int) -> Figure:
        return viz.plot_attention_map(image, weights(row, column), (row, column))

    def caption(row: int, column: int) -> str:
        peaks = []
        for name, weight in weights(row, column).items():
            keys = weight.size
            side = width if keys == height * width else width // 2
            r, c = divmod(int(np.argmax(weight)), side)
            scale = 1 if keys == height * width else 2
            plain = re.sub(r"\s*\$[^$]*\$", "", name)  # a caption is text, not TeX
            peaks.append(f"{plain} at ({r * scale}, {c * scale})")
        return f"query (row {row}, column {column}) -> strongest weight: " + "; ".join(
            peaks
        )

    specs = [
        control("row", "query row", rows, row0),
        control("column", "query column", columns, col0),
    ]
    return predrawn(specs, draw, caption)


def _default_deformations(kernel_size: int) -> dict[str, np.ndarray]:
    taps = kernel_size * kernel_size
    one_tap = np.zeros((taps, 2))
    one_tap[0] = (-2.0, -2.0)
    return {
        "regular (no offsets)": np.zeros((taps, 2)),
        "scale 2": affine_tap_offsets(kernel_size, scale=2.0),
        "scale 0.5": affine_tap_offsets(kernel_size, scale=0.5),
        "wide (aspect 1/3, scale 2)": affine_tap_offsets(kernel_size, 2.0, 1 / 3),
        "rotated 45 degrees, stretched": affine_tap_offsets(
            kernel_size, 2.0, 3.0, np.pi / 4
        ),
        "random offsets": np.random.default_rng(0).normal(0, 1.2, size=(taps, 2)),
        "one tap moved by (-2, -2)": one_tap,
    }


def deform_widget(
    image: Optional[np.ndarray] = None,
    weight: Optional[np.ndarray] = None,
    pixel: Optional[tuple[int, int]] = None,
    *,
    deformations: Optional[dict[str, np.ndarray]] = None,
    pixels: Optional[Sequence[tuple[int, int]]] = None,
) -> widgets.VBox:
    """Choose a deformation of the taps and an output pixel of :func:`convref.viz.plot_deformed_sampling`.

    The figure shows where the taps of that output read the image, the values read there
    by bilinear interpolation, and the output: their dot product with the kernel. The
    caption compares it with the output of the regular taps.

    Parameters
    ----------
    image : numpy.ndarray, optional
        ``(H, W)`` grey image; by default one large shape from
        :func:`convref.data.varied_shapes`.
    weight : numpy.ndarray, optional
        ``(k, k)`` kernel, ``k`` odd; by default a horizontal-gradient (Sobel) kernel,
        whose output changes sign as the taps cross the object's left or right edge.
    pixel : (int, int), optional
        The first output pixel (the image centre by default).
    deformations : dict of str to numpy.ndarray, optional
        ``{name: (k k, 2) offsets (dy, dx) per tap}``; by default the regular grid,
        scaled, stretched and rotated grids (:func:`convref.arith.affine_tap_offsets`),
        random offsets and one moved tap.
    pixels : sequence of (int, int), optional
        The output pixels offered (by default ``pixel`` and three around it).

    Returns
    -------
    ipywidgets.VBox
        The choosers above the figure and its caption.
    """
    if image is None:
        image = varied_shapes(1, size=24, seed=10, noise=0.05, scale=(0.3, 0.3))[0][
            0, 0
        ]
    image = grey_image("image", image)
    kernel = (
        np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
        if weight is None
        else grey_image("weight", weight)
    )
    k = kernel.shape[0]
    if kernel.shape != (k, k) or k % 2 == 0:
        raise ValueError(
            f"weight must be a square kernel of odd side, got {kernel.shape}"
        )
    height, width = image.shape
    start = (
        tuple(int(v) for v in pixel) if pixel is not None else (height // 2, width // 2)
    )
    if pixels is None:
        step = max(1, min(height, width) // 6)
        pixels = [start, (start[0], start[1] - step), (start[0], start[1] + step)]
    pixels = [tuple(int(v) for v in p) for p in pixels]
    if start not in pixels:
        pixels.insert(0, start)
    outside = [p for p in pixels if not (0 <= p[0] < height and 0 <= p[1] < width)]
    if outside:
        raise ValueError(
            f"pixels must lie inside the {height}x{width} image, got {outside}"
        )
    pixels = list(dict.fromkeys(pixels))
    shapes = dict(_default_deformations(k) if deformations is None else deformations)
    for name, offsets in shapes.items():
        if np.shape(offsets) != (k * k, 2):
            raise ValueError(
                f"deformations[{name!r}] must have shape ({k * k}, 2),"
                f" got {np.shape(offsets)}"
            )

    def output(offsets: np.ndarray, pixel: tuple[int, int]) -> float:
        field = np.broadcast_to(
            np.asarray(offsets, dtype=np.float64).reshape(-1)[None, :, None, None],
            (1, 2 * k * k, height, width),
        )
        result = deform_conv2d(
            image[None, None], field, kernel[None, None], padding=k // 2
        )
        return float(result[0, 0, pixel[0], pixel[1]])

    def draw(deformation: str, pixel: tuple[int, int]) -> Figure:
        return viz.plot_deformed_sampling(image, kernel, pixel, shapes[deformation])

    def caption(deformation: str, pixel: tuple[int, int]) -> str:
        moved = output(shapes[deformation], pixel)
        regular = output(np.zeros((k * k, 2)), pixel)
        return (
            f"{deformation}, output pixel {pixel} -> output {moved:+.3f}"
            f" (regular taps: {regular:+.3f})"
        )

    specs = [
        control(
            "deformation", "taps", list(shapes), next(iter(shapes)), kind="dropdown"
        ),
        control(
            "pixel",
            "output pixel",
            pixels,
            start,
            labels=[f"({r}, {c})" for r, c in pixels],
            kind="dropdown",
        ),
    ]
    return predrawn(specs, draw, caption)
