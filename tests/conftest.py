"""Shared test setup: a headless matplotlib backend, the ``cuda`` marker's skip, closing figures, shared oracles, the compatibility matrix."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from compatibility_matrix import add_option, register

HAS_CUDA = torch.cuda.is_available()


def pytest_addoption(parser):
    add_option(parser)


def pytest_configure(config):
    register(config)  # the compatibility matrix of the API page
    # PyTorch's own performance note when the oracle F.conv2d pads an even kernel for "same".
    config.addinivalue_line(
        "filterwarnings", "ignore:Using padding='same' with even kernel:UserWarning"
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``cuda`` without a CUDA device; run the browser tests page by page.

    The browser checks of one book page share one opening of it (the ``loaded``
    fixture below), so they run together: ordered by page, and in one pytest-xdist
    worker (a group per page) when the tests run in several.
    """
    if not HAS_CUDA:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)

    def book_page(item) -> str:
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("page_path", "") if callspec else ""

    def browser_page(item) -> str:
        return book_page(item) if "browser" in item.keywords else ""

    for item in items:
        if browser_page(item):
            item.add_marker(pytest.mark.xdist_group(browser_page(item)))
    # a stable sort: within one page the tests keep the order they were collected in
    items.sort(key=lambda item: ("browser" in item.keywords, browser_page(item)))


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


# ---- The built book in headless Chromium: one server and one browser per test process ----


@pytest.fixture(scope="session")
def server():
    """The built book served on the loopback interface: its URL."""
    from book_pages import book_server

    with book_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Playwright's headless Chromium (the one ``make pdf`` prints with)."""
    from book_pages import headless_chromium

    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def loaded(browser, server):
    """A book page opened once per window size for read-only checks (``LoadedPages``)."""
    from book_pages import LoadedPages

    pages = LoadedPages(browser, server)
    yield pages
    pages.close()
