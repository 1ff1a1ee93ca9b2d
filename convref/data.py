"""Small synthetic data, generated in code from a seed (nothing is downloaded)."""

from __future__ import annotations

import numpy as np

__all__ = ["ramp", "test_image", "shapes", "SHAPE_CLASSES"]

#: Class names of :func:`shapes`, in label order.
SHAPE_CLASSES = ("square", "disk", "cross", "triangle")


def ramp(
    height: int, width: int, slope_y: float = 1.0, slope_x: float = 0.0
) -> np.ndarray:
    """A linear ramp ``slope_y * row + slope_x * col`` of shape ``(height, width)``, float64.

    Linear images make many operators exactly predictable (a sum of a linear function
    is linear; bilinear sampling of it is exact), so tests and chapters use them.

    Parameters
    ----------
    height, width : int
        Size of the image.
    slope_y, slope_x : float
        Increase per row and per column.

    Returns
    -------
    numpy.ndarray
        ``(height, width)``, float64.
    """
    rows, cols = np.mgrid[0:height, 0:width]
    return slope_y * rows + slope_x * cols


def _disk(
    rows: np.ndarray, cols: np.ndarray, cy: float, cx: float, radius: float
) -> np.ndarray:
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2


def test_image(size: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """A grey-level test picture with edges in every direction, shape ``(size, size)``, float64 in [0, 1].

    A bright square, a disk, a diagonal bar and a smooth gradient on a dark background,
    plus a little Gaussian noise: enough structure to see what a kernel does.

    Parameters
    ----------
    size : int
        Side of the square image, at least 16.
    seed : int
        Seed of the noise; the same seed gives the same picture.
    noise : float
        Standard deviation of the added Gaussian noise (before clipping to ``[0, 1]``).

    Returns
    -------
    numpy.ndarray
        ``(size, size)``, float64 in ``[0, 1]``.
    """
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] / size
    image = 0.15 + 0.25 * cols  # background gradient
    image = np.where(
        (rows > 0.12) & (rows < 0.42) & (cols > 0.1) & (cols < 0.4), 0.9, image
    )
    image = np.where(_disk(rows, cols, 0.7, 0.3, 0.18), 0.65, image)
    bar = np.abs((rows - 0.1) - (cols - 0.55)) < 0.05
    image = np.where(bar & (cols > 0.5) & (rows < 0.6), 1.0, image)
    image = image + noise * rng.standard_normal(image.shape)
    return np.clip(image, 0.0, 1.0)


def shapes(
    n: int,
    size: int = 24,
    seed: int = 0,
    noise: float = 0.1,
    classes: tuple[str, ...] = SHAPE_CLASSES,
) -> tuple[np.ndarray, np.ndarray]:
    """A labelled data set of single shapes at random positions and scales.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each square image.
    seed : int
        Seed of the generator; the same seed gives the same data.
    noise : float
        Standard deviation of the added Gaussian noise.
    classes : tuple of str
        Which shapes to draw (a subset of :data:`SHAPE_CLASSES`); the label is the index in it.

    Returns
    -------
    images : numpy.ndarray
        Shape ``(n, 1, size, size)``, float32.
    labels : numpy.ndarray
        Shape ``(n,)``, int64.
    """
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown:
        raise ValueError(f"classes must be taken from {SHAPE_CLASSES}, got {unknown}")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    labels = rng.integers(0, len(classes), size=n)
    for i, label in enumerate(labels):
        half = rng.uniform(0.18, 0.3) * size
        cy, cx = rng.uniform(half + 1, size - half - 1, size=2)
        dy, dx = rows - cy, cols - cx
        shape = classes[label]
        if shape == "square":
            mask = (np.abs(dy) <= half) & (np.abs(dx) <= half)
        elif shape == "disk":
            mask = dy**2 + dx**2 <= half**2
        elif shape == "cross":
            arm = half / 3
            mask = ((np.abs(dy) <= arm) & (np.abs(dx) <= half)) | (
                (np.abs(dx) <= arm) & (np.abs(dy) <= half)
            )
        else:  # triangle pointing up
            mask = (dy <= half) & (dy >= -half) & (np.abs(dx) <= (dy + half) / 2)
        images[i, 0] = mask + noise * rng.standard_normal((size, size))
    return images, labels.astype(np.int64)


#: The colours of :func:`far_pairs`, as RGB triples in [0, 1]: the three primaries, then
#: the three secondaries.
PAIR_COLOURS = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=np.float64
)


def far_pairs(
    n: int,
    size: int = 20,
    patch: int = 3,
    colours: int = 6,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images with two small coloured squares far apart; the label says whether their colours match.

    A task for long-range context: one square lies in the left third of the image and one in
    the right third, so that they are at least ``size - 2 * (size // 3) + 1`` columns apart,
    more than a small stack of convolutions can see at once. Each square alone says nothing
    about the label (every colour is as likely in either class); only the pair does. The
    left colour is uniform over the first ``colours`` of :data:`PAIR_COLOURS`; the right one is
    the same for label 1 and uniform over the others for label 0. The background is Gaussian
    noise, which is also added to the squares.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each image; at least ``3 * (patch + 1)``, so that a square fits in a third.
    patch : int
        Side of each square.
    colours : int
        Number of colours used, 2 to 6.
    noise : float
        Standard deviation of the Gaussian noise (0 for clean images).
    seed : int
        Seed of the generator; the same seed gives the same data.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 3, size, size)`` RGB, float32.
    labels : numpy.ndarray
        ``(n,)`` int64: 1 if the two squares have the same colour, else 0.
    corners : numpy.ndarray
        ``(n, 2, 2)`` int64: ``corners[i, k] = (row, column)`` of the top-left pixel of the left
        (``k = 0``) and the right (``k = 1``) square.
    """
    if not isinstance(patch, int) or patch < 1:
        raise ValueError(f"patch must be a positive int, got {patch!r}")
    if not isinstance(size, int) or size < 3 * (patch + 1):
        raise ValueError(
            f"size must be an int >= 3 * (patch + 1) = {3 * (patch + 1)}, got {size!r}"
        )
    if not isinstance(colours, int) or not 2 <= colours <= len(PAIR_COLOURS):
        raise ValueError(
            f"colours must be an int from 2 to {len(PAIR_COLOURS)}, got {colours!r}"
        )
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    images = noise * rng.standard_normal((n, 3, size, size))
    labels = rng.integers(0, 2, size=n)
    corners = np.empty((n, 2, 2), dtype=np.int64)
    third = size // 3
    for i in range(n):
        left = rng.integers(colours)
        # A different colour is the left one plus a nonzero shift: uniform over the
        # other colours.
        right = left if labels[i] else (left + rng.integers(1, colours)) % colours
        rows = rng.integers(
            1, size - patch, size=2
        )  # a one-pixel margin at the top and bottom
        cols = (
            rng.integers(1, third - patch + 1),
            rng.integers(size - third, size - patch),
        )
        for k, colour in enumerate((left, right)):
            r, c = rows[k], cols[k]
            images[i, :, r : r + patch, c : c + patch] += PAIR_COLOURS[colour][
                :, None, None
            ]
            corners[i, k] = r, c
    return images.astype(np.float32), labels.astype(np.int64), corners


__all__ += ["far_pairs", "PAIR_COLOURS"]


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The pixels inside ``shape`` in normalised object coordinates: ``u`` across, ``v`` down, both in [-1, 1]."""
    if shape == "square":
        return (np.abs(u) <= 1) & (np.abs(v) <= 1)
    if shape == "disk":
        return u**2 + v**2 <= 1
    if shape == "cross":
        arm = 1 / 3
        return ((np.abs(v) <= arm) & (np.abs(u) <= 1)) | (
            (np.abs(u) <= arm) & (np.abs(v) <= 1)
        )
    return (v >= -1) & (v <= 1) & (np.abs(u) <= (v + 1) / 2)  # triangle, apex at v = -1


#: Area of each shape of :func:`varied_shapes` in units of ``half_height * half_width``
#: (a unit square is 2 x 2; the cross is two 2 x 2/3 bars minus their overlap).
SHAPE_AREAS = {"square": 4.0, "disk": float(np.pi), "cross": 20 / 9, "triangle": 2.0}


def varied_shapes(
    n: int,
    size: int = 24,
    seed: int = 0,
    noise: float = 0.1,
    scale: tuple[float, float] = (0.1, 0.3),
    max_aspect: float = 2.0,
    rotate: bool = True,
    classes: tuple[str, ...] = SHAPE_CLASSES,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A labelled data set of shapes that vary in scale, aspect ratio, rotation and position.

    The class is the shape; everything else is a nuisance drawn at random per image, so that
    a classifier has to recognise a square, a disk, a cross or a triangle whatever its size
    and however it is stretched and turned -- the setting in which a kernel whose shape
    follows the input is claimed to help. Each object has a half-size ``s`` (log-uniform in
    ``scale * size``, so small and large objects are equally common), an aspect ratio ``a``
    (log-uniform in ``[1 / max_aspect, max_aspect]``): half-height ``s sqrt(a)``, half-width
    ``s / sqrt(a)``, the area staying that of scale ``s``), an angle (uniform, or 0 when
    ``rotate`` is False) and a centre drawn so that the whole object lies inside the image.
    An object too large to fit is shrunk until it does.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each square image (at least 8).
    seed : int
        Seed of the generator; the same seed gives the same data.
    noise : float
        Standard deviation of the added Gaussian noise (0 for clean 0/1 images).
    scale : (float, float)
        Range of the half-size ``s`` as a fraction of ``size``.
    max_aspect : float
        Largest ratio of half-height to half-width (and its inverse), at least 1.
    rotate : bool
        Whether objects are turned by a uniform random angle.
    classes : tuple of str
        Which shapes to draw (a subset of :data:`SHAPE_CLASSES`); the label is the index in it.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 1, size, size)``, float32.
    labels : numpy.ndarray
        ``(n,)``, int64.
    params : dict of numpy.ndarray
        What was drawn: ``"centre"`` ``(n, 2)`` (row, column), ``"half_size"`` ``(n,)`` (``s``
        in pixels, after any shrinking), ``"aspect"`` ``(n,)`` and ``"angle"`` ``(n,)`` (radians,
        counter-clockwise on the screen: the object's height axis points along ``(y, x) = (cos, sin)``).
        The object's area is ``SHAPE_AREAS[shape] * s**2`` pixels.
    """
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or not classes:
        raise ValueError(
            f"classes must be a non-empty subset of {SHAPE_CLASSES}, got {classes}"
        )
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    if not 0 < scale[0] <= scale[1] <= 0.5:
        raise ValueError(
            f"scale must be a range (low, high) with 0 < low <= high <= 0.5, got {scale}"
        )
    if max_aspect < 1:
        raise ValueError(f"max_aspect must be >= 1, got {max_aspect!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    labels = rng.integers(0, len(classes), size=n)
    params = {
        "centre": np.empty((n, 2)),
        "half_size": np.empty(n),
        "aspect": np.empty(n),
        "angle": np.empty(n),
    }
    for i, label in enumerate(labels):
        half = size * np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1])))
        aspect = np.exp(rng.uniform(-np.log(max_aspect), np.log(max_aspect)))
        angle = rng.uniform(0, 2 * np.pi) if rotate else 0.0
        cos, sin = np.cos(angle), np.sin(angle)
        # Half-extent of the rotated bounding box per unit of s; shrink s so that it
        # fits with a 1-pixel margin.
        unit_y = abs(sin) / np.sqrt(aspect) + abs(cos) * np.sqrt(aspect)
        unit_x = abs(cos) / np.sqrt(aspect) + abs(sin) * np.sqrt(aspect)
        half = min(half, (size / 2 - 1.5) / max(unit_y, unit_x))
        extent = np.array([unit_y, unit_x]) * half
        centre = rng.uniform(extent + 0.5, size - 1.5 - extent)
        dy, dx = rows - centre[0], cols - centre[1]
        # Object coordinates: the height axis v points along (y, x) = (cos, sin), the
        # width axis u along (-sin, cos) (counter-clockwise on the screen, as
        # viz.affine_tap_offsets turns taps).
        u = (cos * dx - sin * dy) / (half / np.sqrt(aspect))
        v = (sin * dx + cos * dy) / (half * np.sqrt(aspect))
        images[i, 0] = _shape_mask(classes[label], u, v) + noise * rng.standard_normal(
            (size, size)
        )
        (
            params["centre"][i],
            params["half_size"][i],
            params["aspect"][i],
            params["angle"][i],
        ) = centre, half, aspect, angle
    return images, labels.astype(np.int64), params


__all__ += ["varied_shapes", "SHAPE_AREAS"]


def dots_and_frames(
    n: int,
    size: int = 20,
    frame_sides: tuple[int, int] = (9, 11),
    dots: int = 3,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A segmentation task with objects of two scales: small filled dots and large hollow frames.

    Each image holds one square frame, drawn as a one-pixel outline of side
    ``frame_sides[0]`` to ``frame_sides[1]``, whose *whole inside* is labelled object, and
    up to ``dots`` filled 2x2 dots away from the frame and from each other (a dot is
    dropped when twenty random places are all taken). Labelling the inside of a frame
    needs a receptive field about as wide as the frame; labelling a dot needs an output
    at full resolution, since the dot is narrower than one pixel of a map downsampled by
    four. Gaussian noise covers the whole image.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each image; at least ``frame_sides[1] + 4``.
    frame_sides : (int, int)
        Smallest and largest side of the frames, at least 3.
    dots : int
        Dots tried per image.
    noise : float
        Standard deviation of the noise (0 for clean images).
    seed : int
        Seed of the generator; the same seed gives the same data.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 1, size, size)``, float32.
    labels : numpy.ndarray
        ``(n, size, size)`` int64: 1 on object pixels (dots, frames with their insides).
    kinds : numpy.ndarray
        ``(n, size, size)`` int64: 0 background, 1 dot, 2 frame or its inside.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    low, high = frame_sides
    if not (isinstance(low, int) and isinstance(high, int) and 3 <= low <= high):
        raise ValueError(
            f"frame_sides must be two ints with 3 <= low <= high, got {frame_sides!r}"
        )
    if not isinstance(size, int) or size < high + 4:
        raise ValueError(
            f"size must be an int >= frame_sides[1] + 4 = {high + 4}, got {size!r}"
        )
    if not isinstance(dots, int) or dots < 0:
        raise ValueError(f"dots must be an int >= 0, got {dots!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    images = noise * rng.standard_normal((n, 1, size, size))
    kinds = np.zeros((n, size, size), dtype=np.int64)
    for image, kind in zip(images[:, 0], kinds):
        side = int(rng.integers(low, high + 1))
        top, left = rng.integers(0, size - side + 1, 2)
        bottom, right = top + side - 1, left + side - 1
        for row in (top, bottom):
            image[row, left : right + 1] += 1.0
        for col in (left, right):
            image[top : bottom + 1, col] += 1.0
        kind[top : bottom + 1, left : right + 1] = 2
        for _ in range(dots):
            for _ in range(20):  # a free place: no object within one pixel of the dot
                row, col = rng.integers(0, size - 1, 2)
                if kind[max(row - 1, 0) : row + 3, max(col - 1, 0) : col + 3].any():
                    continue
                image[row : row + 2, col : col + 2] += 1.0
                kind[row : row + 2, col : col + 2] = 1
                break
    labels = (kinds > 0).astype(np.int64)
    return images.astype(np.float32), labels, kinds


__all__ += ["dots_and_frames"]


def shape_scenes(
    n: int,
    size: int = 32,
    cell: int = 4,
    target: str = "cross",
    distractors: int = 2,
    scale: tuple[float, float] = (0.06, 0.25),
    noise: float = 0.15,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Scenes of several upright shapes of many sizes; the label is where the ``target`` is.

    Each image holds one ``target`` shape and ``distractors`` shapes of the other classes of
    :data:`SHAPE_CLASSES` (drawn at random, repeats allowed), each with its own half-size
    ``s``, log-uniform in ``scale * size``, and none overlapping another (their bounding
    boxes keep one pixel apart). Finding the target means telling shapes apart at every size,
    then saying where: the label is the cell of a ``size / cell`` by ``size / cell`` grid
    that holds the target's centre, numbered row by row, as in a detector's output map.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each square image, a multiple of ``cell``, at least 16.
    cell : int
        Side of a grid cell in pixels.
    target : str
        The shape to find, one of :data:`SHAPE_CLASSES`.
    distractors : int
        Other shapes per image (0 or more).
    scale : (float, float)
        Range of the half-size ``s`` as a fraction of ``size``, ``0 < low <= high <= 0.25``.
    noise : float
        Standard deviation of the added Gaussian noise.
    seed : int
        Seed of the generator; the same seed gives the same data.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 1, size, size)``, float32.
    labels : numpy.ndarray
        ``(n,)``, int64: the target's cell, ``row * (size // cell) + column``.
    params : dict of numpy.ndarray
        ``"centre"`` ``(n, 2)`` (the target's row and column, in pixels) and
        ``"half_size"`` ``(n,)`` (the target's ``s``).
    """
    if target not in SHAPE_CLASSES:
        raise ValueError(f"target must be one of {SHAPE_CLASSES}, got {target!r}")
    for name, value in (("n", n), ("cell", cell), ("size", size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if size < 16 or size % cell:
        raise ValueError(
            f"size must be a multiple of cell = {cell} and >= 16, got {size!r}"
        )
    if not isinstance(distractors, (int, np.integer)) or distractors < 0:
        raise ValueError(f"distractors must be an int >= 0, got {distractors!r}")
    if not 0 < scale[0] <= scale[1] <= 0.25:
        raise ValueError(
            f"scale must be a range (low, high) with 0 < low <= high <= 0.25, got {scale}"
        )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    others = [shape for shape in SHAPE_CLASSES if shape != target]
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    centres, halves = np.empty((n, 2)), np.empty(n)
    for i in range(n):
        shapes = [target] + [others[k] for k in rng.integers(0, 3, distractors)]
        placed = _place_without_overlap(rng, len(shapes), size, scale)
        canvas = np.zeros((size, size), dtype=bool)
        for shape, (centre, half) in zip(shapes, placed):
            u, v = (cols - centre[1]) / half, (rows - centre[0]) / half
            canvas |= _shape_mask(shape, u, v)
        images[i, 0] = canvas + noise * rng.standard_normal((size, size))
        centres[i], halves[i] = placed[0]
    grid = size // cell
    cell_of = np.floor(centres / cell).astype(np.int64)
    labels = cell_of[:, 0] * grid + cell_of[:, 1]
    return images, labels, {"centre": centres, "half_size": halves}


def _place_without_overlap(
    rng: np.random.Generator, count: int, size: int, scale: tuple[float, float]
) -> list[tuple[np.ndarray, float]]:
    """Centres and half-sizes of ``count`` squares' boxes inside the image, one pixel apart.

    Sizes are drawn first, then centres by rejection; after 200 failed tries the sizes are
    drawn again (crowded draws of large objects are rare at ``scale <= 0.25``).
    """
    while True:
        halves = size * np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]), count))
        placed: list[tuple[np.ndarray, float]] = []
        for _ in range(200):
            half = halves[len(placed)]
            centre = rng.uniform(half + 0.5, size - 1.5 - half, 2)
            if all(
                np.abs(centre - other).max() > half + other_half + 1
                for other, other_half in placed
            ):
                placed.append((centre, half))
                if len(placed) == count:
                    return placed
        # too crowded: draw new sizes


__all__ += ["shape_scenes"]
