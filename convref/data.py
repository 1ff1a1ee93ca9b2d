"""Small synthetic data, generated in code from a seed (nothing is downloaded)."""

from __future__ import annotations

import numpy as np

__all__ = ["ramp", "test_image", "shapes", "SHAPE_CLASSES"]

#: Class names of :func:`shapes`, in label order.
SHAPE_CLASSES = ("square", "disk", "cross", "triangle")


def ramp(height: int, width: int, slope_y: float = 1.0, slope_x: float = 0.0) -> np.ndarray:
    """A linear ramp ``slope_y * row + slope_x * col`` of shape ``(height, width)``, float64.

    Linear images make many operators exactly predictable (a sum of a linear function
    is linear; bilinear sampling of it is exact), so tests and chapters use them.
    """
    rows, cols = np.mgrid[0:height, 0:width]
    return slope_y * rows + slope_x * cols


def _disk(rows: np.ndarray, cols: np.ndarray, cy: float, cx: float, radius: float) -> np.ndarray:
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2


def test_image(size: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """A grey-level test picture with edges in every direction, shape ``(size, size)``, float64 in [0, 1].

    A bright square, a disk, a diagonal bar and a smooth gradient on a dark background,
    plus a little Gaussian noise: enough structure to see what a kernel does.
    """
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] / size
    image = 0.15 + 0.25 * cols  # background gradient
    image = np.where((rows > 0.12) & (rows < 0.42) & (cols > 0.1) & (cols < 0.4), 0.9, image)
    image = np.where(_disk(rows, cols, 0.7, 0.3, 0.18), 0.65, image)
    bar = np.abs((rows - 0.1) - (cols - 0.55)) < 0.05
    image = np.where(bar & (cols > 0.5) & (rows < 0.6), 1.0, image)
    image = image + noise * rng.standard_normal(image.shape)
    return np.clip(image, 0.0, 1.0)


def shapes(
    n: int, size: int = 24, seed: int = 0, noise: float = 0.1, classes: tuple[str, ...] = SHAPE_CLASSES
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
            mask = ((np.abs(dy) <= arm) & (np.abs(dx) <= half)) | ((np.abs(dx) <= arm) & (np.abs(dy) <= half))
        else:  # triangle pointing up
            mask = (dy <= half) & (dy >= -half) & (np.abs(dx) <= (dy + half) / 2)
        images[i, 0] = mask + noise * rng.standard_normal((size, size))
    return images, labels.astype(np.int64)
