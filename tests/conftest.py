"""Shared test setup: a headless matplotlib backend, the ``cuda`` marker's skip, closing figures, shared oracles."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


def pytest_configure(config):
    # PyTorch's own performance note when the oracle F.conv2d pads an even kernel for "same".
    config.addinivalue_line(
        "filterwarnings", "ignore:Using padding='same' with even kernel:UserWarning"
    )


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``cuda`` when no CUDA device is present."""
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_figures():
    """Every figure a test opens is closed after it, so matplotlib never warns about too many."""
    yield
    plt.close("all")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _scores_by_loops(
    image: np.ndarray, template: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    kh, kw = template.shape
    rows, cols = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    correlation, distance = np.zeros((rows, cols)), np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for u in range(kh):
                for v in range(kw):
                    correlation[i, j] += image[i + u, j + v] * template[u, v]
                    distance[i, j] -= abs(image[i + u, j + v] - template[u, v])
    return correlation, distance


@pytest.fixture
def scores_by_loops() -> Callable[
    [np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """The AdderNet oracle: ``(image, template) -> (correlation, negative L1)`` over the valid windows, by explicit loops.

    Shared by test_experiments_adder.py (``template_responses``) and test_viz_adder.py (its figure).
    """
    return _scores_by_loops
