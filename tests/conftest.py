"""Shared test setup: a headless matplotlib backend, the ``cuda`` marker's skip, seeded helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


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


def random_conv_inputs(
    rng: np.random.Generator,
    batch: int,
    in_channels: int,
    height: int,
    width: int,
    out_channels: int,
    kernel_size: tuple[int, int],
    groups: int = 1,
    bias: bool = True,
    dtype=np.float64,
):
    """Random ``x``, ``weight`` and ``bias`` (or None) as NumPy arrays of ``dtype``."""
    kh, kw = kernel_size
    x = rng.standard_normal((batch, in_channels, height, width)).astype(dtype)
    weight = rng.standard_normal((out_channels, in_channels // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None
    return x, weight, b
