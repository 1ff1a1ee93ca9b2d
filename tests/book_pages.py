"""The built book opened in headless Chromium: the browser tests' shared helpers.

The fixtures built on these (``server``, ``browser``, ``loaded``) are in ``conftest.py``,
so that every browser test module shares one server and one browser per test process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the book's server, page list and browser lookup are the ones `make pdf` prints with
sys.path.insert(0, str(ROOT / "scripts"))
import book_pdf

HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"

#: The window sizes the reader checks use: a desktop and a phone.
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The window a page opens in unless a test asks for another.
DEFAULT_VIEWPORT = {"width": 1280, "height": 900}


def _chromium() -> str:
    try:
        return book_pdf.chromium()
    except FileNotFoundError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; CI must run the browser test")
        pytest.skip(str(missing))


def _toc_pages() -> list[str]:
    return book_pdf.toc_pages(ROOT / "_toc.yml")


def _chapter_pages() -> list[str]:
    return [p for p in _toc_pages() if p.count("/") == 2]  # book/<topic>/<topic>.html


@contextmanager
def book_server() -> Iterator[str]:
    """Serve the built book on the loopback interface; yield its URL."""
    if not (HTML / "index.html").exists():
        pytest.fail(
            f"{HTML} has no built book: run `make book` (or `make test`, which builds it)"
            " first"
        )
    with book_pdf.serve(HTML) as url:
        yield url


@contextmanager
def headless_chromium():
    """Launch the Chromium the book is printed with, headless; yield Playwright's browser."""
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=book_pdf.CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


class LoadedPages:
    """Pages of the book opened once per window size, for the checks that only read them.

    Opening a chapter costs seconds of CPU (MathJax, every widget's pre-drawn figures), and
    a dozen checks read each chapter. They share one opening: ``loaded(page_path)`` (or
    ``loaded(page_path, PHONE)``) returns the open page, with ``page.failed_local`` and
    ``page.problems`` as :func:`_open` recorded them. A check that clicks, types or resizes
    opens its own page with :func:`_open`. The tests run page by page (``conftest.py``
    orders them so); the pages of one book page are closed when the next is asked for.
    """

    def __init__(self, browser, server: str) -> None:
        self.browser = browser
        self.server = server
        self.pages: dict[tuple[str, int, int], object] = {}

    def __call__(self, page_path: str, viewport: dict = DEFAULT_VIEWPORT):
        key = (page_path, viewport["width"], viewport["height"])
        if key not in self.pages:
            for other in [k for k in self.pages if k[0] != page_path]:
                self.pages.pop(other).close()
            page, failed_local = _open(
                self.browser, f"{self.server}/{page_path}", viewport
            )
            page.failed_local = failed_local
            self.pages[key] = page
        return self.pages[key]

    def close(self) -> None:
        for page in self.pages.values():
            page.close()
        self.pages.clear()


def _open(browser, url: str, viewport: dict = DEFAULT_VIEWPORT):
    """Open ``url`` with every request that leaves the loopback server blocked; return the page and its problems.

    The problems: requests to the book that failed, requests that tried to leave the machine
    (the book must work offline), and JavaScript errors (uncaught exceptions and console errors).
    """
    page = browser.new_page(viewport=viewport)
    failed_local: list[str] = []
    page.problems = {"outside": [], "javascript": []}

    def route(route) -> None:
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            page.problems["outside"].append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on(
        "response",
        lambda r: (
            failed_local.append(f"{r.status} {r.url}") if r.status >= 400 else None
        ),
    )
    page.on("pageerror", lambda error: page.problems["javascript"].append(str(error)))
    page.on(
        "console",
        lambda m: (
            page.problems["javascript"].append(m.text) if m.type == "error" else None
        ),
    )
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, (
        f"{url} did not load: {response and response.status}"
    )
    return page, failed_local
