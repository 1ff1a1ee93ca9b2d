"""Smoke test of the built book in headless Chromium (run after ``jupyter-book build``).

Every page of the table of contents is served from ``_build/html`` on the loopback
interface and opened with all other network traffic blocked. The test checks that the
page loads, that its figures load, and that no cell output shows a traceback or
anything written to stderr (warnings). Screenshots go to ``test-artifacts/``.

Without Chromium the test skips with a message, except under CI (``CI`` set),
where a missing browser is a failure.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
from pathlib import Path
from typing import Iterator

import pytest
from test_api_docs import PUBLIC_MODULES  # the API page's modules, listed in one place

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
# the book's server, page list and browser lookup are the ones `make pdf` prints with
sys.path.insert(0, str(ROOT / "scripts"))
import book_pdf  # noqa: E402 (after the path: scripts/ is not a package)

HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"


#: The repr of an object with no readable one, such as ``<torch._C.Generator object at 0x7f...>``:
#: a cell that ends in a call returning it, printed by accident.
OBJECT_ADDRESS = re.compile(r"<[\w.]+(?: object)? at 0x[0-9a-fA-F]+>")


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


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not (HTML / "index.html").exists():
        pytest.fail(
            f"{HTML} has no built book: run `make book` (or `make test`, which builds it) first"
        )
    with book_pdf.serve(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=book_pdf.CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def _open(browser, url: str):
    """Open ``url`` with every request that leaves the loopback server blocked; return the page and its problems.

    The problems: requests to the book that failed, requests that tried to leave the machine
    (the book must work offline), and JavaScript errors (uncaught exceptions and console errors).
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
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


@pytest.mark.parametrize("page_path", _toc_pages())
def test_page_loads_with_its_figures_and_no_tracebacks(browser, server, page_path):
    page, failed_local = _open(browser, f"{server}/{page_path}")
    try:
        assert page.locator("main h1").count() >= 1, f"{page_path} has no title"
        broken = page.evaluate(
            "() => Array.from(document.querySelectorAll('main img'))"
            ".filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"
        )
        assert not broken, f"{page_path}: images that did not load: {broken}"
        assert not failed_local, (
            f"{page_path}: requests to the book that failed: {failed_local}"
        )
        page.wait_for_timeout(
            500
        )  # scripts that run after the load event (MathJax, widgets)
        assert not page.problems["outside"], (
            f"{page_path}: requests that left the machine: {page.problems['outside']}"
        )
        assert not page.problems["javascript"], (
            f"{page_path}: JavaScript errors: {page.problems['javascript']}"
        )
        outputs = page.locator("main .cell_output").all_inner_texts()
        tracebacks = [
            o
            for o in outputs
            if "Traceback (most recent call last)" in o or "Error:" in o.split("\n")[0]
        ]
        assert not tracebacks, (
            f"{page_path}: a cell output shows an error:\n{tracebacks[0][:2000]}"
        )
        addresses = [o for o in outputs if OBJECT_ADDRESS.search(o)]
        assert not addresses, (
            f"{page_path}: a cell output shows an object's address: {OBJECT_ADDRESS.search(addresses[0])[0]}"
        )
        stderr = page.locator("main .cell_output .stderr").all_inner_texts()
        assert not stderr, (
            f"{page_path}: a cell wrote to stderr (a warning?):\n{stderr[0][:2000]}"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / (page_path.replace("/", "__") + ".png")),
            full_page=False,
        )
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_chapter_has_rendered_figures(browser, server, page_path):
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        figures = page.evaluate(
            "() => Array.from(document.querySelectorAll('main .cell_output img'))"
            ".filter(img => img.complete && img.naturalWidth > 100).length"
        )
        assert figures >= 1, f"{page_path}: no figure rendered in the cell outputs"
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_chapter_figures_have_alt_text(browser, server, page_path):
    """Every image in a chapter's cell outputs, widget figures included, says what it shows (``alt``).

    myst-nb writes the cell's ``mystnb.image.alt`` into the static images; the widget manager
    draws its figures later, and ``widgets-config.js`` gives them the alt text of their cell.
    """
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        views = page.locator(
            "main script[type='application/vnd.jupyter.widget-view+json']"
        ).count()
        if views:  # wait until every widget is drawn with its figure
            page.wait_for_function(
                "n => document.querySelectorAll('main .jupyter-widgets').length >= n"
                " && document.querySelectorAll('main .jupyter-widgets img').length >= 1",
                arg=views,
            )
            page.wait_for_timeout(300)
        images = page.evaluate(
            "() => Array.from(document.querySelectorAll('main .cell_output img'))"
            ".map(img => ({src: img.src.slice(-60), alt: (img.getAttribute('alt') || '').trim(),"
            " widget: !!img.closest('.jupyter-widgets')}))"
        )
        assert images, f"{page_path}: no images in the cell outputs"
        missing = [image for image in images if not image["alt"]]
        assert not missing, f"{page_path}: images without alt text: {missing}"
        generic = [
            image
            for image in images
            if len(image["alt"].split()) < 6
            or image["alt"].lower() in ("image", "figure", "png")
        ]
        assert not generic, (
            f"{page_path}: alt text that does not describe the figure: {generic}"
        )
        if views:
            assert any(image["widget"] for image in images), (
                f"{page_path}: no widget figure was checked"
            )
    finally:
        page.close()


def test_index_redirects_to_the_first_page(browser, server):
    page, _ = _open(browser, f"{server}/index.html")
    try:
        page.wait_for_url(f"{server}/{_toc_pages()[0]}")
    finally:
        page.close()


def test_chapters_are_in_the_navigation(browser, server):
    page, _ = _open(browser, f"{server}/{_toc_pages()[0]}")
    try:
        links = page.locator("nav.bd-links a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        for chapter in _chapter_pages():
            assert any(
                link and link.endswith(chapter.split("/", 1)[1]) for link in links
            ), f"{chapter} is missing from the navigation: {links}"
    finally:
        page.close()


def test_chapters_are_numbered_in_order_and_the_appendix_is_not(browser, server):
    """The navigation numbers the chapters 1, 2, ... across the parts; each chapter's title carries its number."""
    page, _ = _open(browser, f"{server}/{_toc_pages()[0]}")
    try:
        texts = page.locator("nav.bd-links a").evaluate_all(
            "links => links.map(a => [a.getAttribute('href'), a.textContent.trim()])"
        )
    finally:
        page.close()
    chapters = [p.split("/", 1)[1] for p in _chapter_pages()]
    titles = [
        next(
            (text for href, text in texts if href and href.split("#")[0].endswith(c)),
            "",
        )
        for c in chapters
    ]
    numbers = [re.match(r"(\d+)\.\s", title) for title in titles]
    assert all(numbers), (
        f"unnumbered chapters in the navigation: {[t for t, n in zip(titles, numbers) if not n]}"
    )
    assert [int(n.group(1)) for n in numbers] == list(range(1, len(chapters) + 1))
    appendix = [
        text
        for href, text in texts
        if href
        and any(name in href for name in ("glossary", "api", "bibliography", "status"))
    ]
    assert appendix and not any(re.match(r"\d+\.", text) for text in appendix), appendix
    page, _ = _open(browser, f"{server}/{_chapter_pages()[0]}")
    try:
        title = page.locator(
            "main section h1"
        ).first.inner_text()  # (the first h1 is the print-only header)
        assert re.match(r"1\.\s", title), (
            f"the first chapter's title has no number: {title!r}"
        )
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_printed_output_is_one_box_per_cell(browser, server, page_path):
    """A cell's printed lines stay together (``nb_merge_streams``), not split where the stream flushed."""
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        split = page.evaluate(
            "() => Array.from(document.querySelectorAll('main .cell_output'))"
            ".filter(out => out.querySelectorAll(':scope > .output.stream').length > 1).length"
        )
    finally:
        page.close()
    assert split == 0, (
        f"{page_path}: {split} cell(s) print their output in several boxes"
    )


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_wide_equations_scroll_instead_of_being_cut(browser, server, page_path):
    """At 390 px, a displayed equation wider than the column can be scrolled (its box scrolls, the page does not)."""
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        page.set_viewport_size({"width": 390, "height": 900})
        page.wait_for_function(
            "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
        )
        page.evaluate("() => window.MathJax.startup.promise")
        cut = page.evaluate(
            """() => Array.from(document.querySelectorAll('main mjx-container[display="true"]'))
                .filter(box => box.scrollWidth > box.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
                .map(box => box.textContent.slice(0, 60))"""
        )
    finally:
        page.close()
    assert not cut, f"{page_path}: equations cut off at 390 px: {cut}"


def test_status_page_lists_every_chapter_as_run(browser, server):
    """The build's execution table has a row per chapter notebook, each with a run time and a success mark."""
    page, _ = _open(browser, f"{server}/book/status.html")
    try:
        rows = page.locator("main table tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))"
        )
        by_document = {row[0]: row for row in rows}
        for chapter in _chapter_pages():
            document = chapter.removesuffix(".html")
            assert document in by_document, (
                f"{document} is missing from the status table: {sorted(by_document)}"
            )
            row = by_document[document]
            assert "✅" in row[-1], f"{document} did not run cleanly: {row}"
            assert float(row[-2]) > 0, f"{document} has no run time: {row}"
    finally:
        page.close()


def test_glossary_terms_link_to_chapters_that_load(browser, server):
    page, _ = _open(browser, f"{server}/book/glossary.html")
    try:
        assert page.locator("main dl.glossary dt").count() >= 20
        links = page.locator("main dl.glossary dd a.internal").evaluate_all(
            "links => links.map(a => a.href)"
        )
        chapters = {link.split("#")[0] for link in links}
        assert len(chapters) >= len(_chapter_pages())
        for url in sorted(chapters):
            assert page.request.get(url).ok, f"glossary link {url} does not load"
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_math_renders_offline(browser, server, page_path):
    """MathJax, served by the book, typesets every formula: no TeX delimiters are left in the text."""
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        page.wait_for_function(
            "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
        )
        page.evaluate("() => window.MathJax.startup.promise")
        assert page.locator("main mjx-container").count() >= 1, (
            f"{page_path}: no typeset formula"
        )
        text = page.locator("main").inner_text()
        assert "\\(" not in text and "\\[" not in text, (
            f"{page_path}: raw TeX left on the page"
        )
    finally:
        page.close()


def _widget_pages() -> list[str]:
    """Chapters with a widget cell: a code cell tagged ``nbval-ignore-output`` that calls ``widgets.``."""
    pages = []
    for page in _chapter_pages():
        notebook = json.loads((ROOT / page.replace(".html", ".ipynb")).read_text())
        if any(
            cell["cell_type"] == "code"
            and "nbval-ignore-output" in cell.get("metadata", {}).get("tags", [])
            and "widgets." in "".join(cell["source"])
            for cell in notebook["cells"]
        ):
            pages.append(page)
    return pages


def test_some_chapters_have_widgets():
    assert len(_widget_pages()) >= 5


@pytest.mark.parametrize("page_path", _widget_pages())
def test_widgets_render_offline_with_their_initial_figure(browser, server, page_path):
    """The widget manager, served by the book, draws every embedded widget's controls and its first figure."""
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        views = page.locator(
            "main script[type='application/vnd.jupyter.widget-view+json']"
        ).count()
        assert views >= 1, f"{page_path}: the build embedded no widget state"
        page.wait_for_function(
            "n => document.querySelectorAll('main .jupyter-widgets').length >= n",
            arg=views,
        )
        controls = page.locator(
            "main .widget-slider, main .widget-dropdown, main .widget-toggle-buttons, main .widget-checkbox"
        )
        assert controls.count() >= 1, f"{page_path}: no widget control rendered"
        figures = page.evaluate(
            "() => Array.from(document.querySelectorAll('main .jupyter-widgets img'))"
            ".filter(img => img.complete && img.naturalWidth > 100).length"
        )
        assert figures >= 1, f"{page_path}: the widget shows no figure"
        assert not page.problems["javascript"], (
            f"{page_path}: JavaScript errors: {page.problems['javascript']}"
        )
    finally:
        page.close()


@pytest.mark.parametrize(
    "word, chapter",
    [
        ("HardTanh", "book/adder/adder.html"),
        ("checkerboard", "book/transposed_conv/transposed_conv.html"),
    ],
)
def test_search_finds_a_chapter_by_a_word_in_its_text(browser, server, word, chapter):
    """The book's own search (its index is built with the pages) lists the chapter, offline."""
    page, _ = _open(browser, f"{server}/search.html?q={word}")
    try:
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=15_000)
        hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert any(
            href.split("?")[0].split("#")[0].endswith(chapter) for href in hrefs
        ), f"{word}: {hrefs}"
        assert not page.problems["javascript"], (
            f"search: JavaScript errors: {page.problems['javascript']}"
        )
    finally:
        page.close()


def _public_constants() -> list[str]:
    """``module.NAME`` for every constant in the ``__all__`` of the API page's modules."""
    found = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if not (
                inspect.isfunction(value)
                or inspect.isclass(value)
                or inspect.ismodule(value)
                or name.startswith("__")
            ):
                found.append(f"{module_name}.{name}")
    return found


def test_api_page_has_an_entry_for_every_public_constant():
    """Re-exported constants (``viz.STYLE``, ``arith.ENERGY_45NM_PJ``, ``bench.CASES``) keep their entries.

    Autodoc drops a constant silently when the package front it documents has no ``#:``
    comment for it; ``book/_ext/reexported_constants.py`` lends the submodule's comment.
    """
    page = (HTML / "book" / "api.html").read_text(encoding="utf-8")
    constants = _public_constants()
    assert len(constants) > 10
    missing = [name for name in constants if f'id="{name}"' not in page]
    assert not missing, f"the built API page has no entry for {missing}"
