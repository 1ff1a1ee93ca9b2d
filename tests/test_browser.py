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
import re

import pytest
from book_pages import ARTIFACTS, HTML, PHONE, ROOT, _chapter_pages, _open, _toc_pages
from test_api_docs import PUBLIC_MODULES  # the API page's modules, listed in one place

pytestmark = pytest.mark.browser

#: The repr of an object with no readable one, such as ``<torch._C.Generator object at 0x7f...>``:
#: a cell that ends in a call returning it, printed by accident.
OBJECT_ADDRESS = re.compile(r"<[\w.]+(?: object)? at 0x[0-9a-fA-F]+>")


@pytest.mark.parametrize("page_path", _toc_pages())
def test_page_loads_with_its_figures_and_no_tracebacks(loaded, page_path):
    page = loaded(page_path)
    failed_local = page.failed_local
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
    page.evaluate("() => window.scrollTo(0, 0)")  # another check may have scrolled
    page.screenshot(
        path=str(ARTIFACTS / (page_path.replace("/", "__") + ".png")),
        full_page=False,
    )


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_chapter_has_rendered_figures(loaded, page_path):
    page = loaded(page_path)
    figures = page.evaluate(
        "() => Array.from(document.querySelectorAll('main .cell_output img'))"
        ".filter(img => img.complete && img.naturalWidth > 100).length"
    )
    assert figures >= 1, f"{page_path}: no figure rendered in the cell outputs"


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_chapter_figures_have_alt_text(loaded, page_path):
    """Every image in a chapter's cell outputs, widget figures included, says what it shows (``alt``).

    myst-nb writes the cell's ``mystnb.image.alt`` into the static images; the widget manager
    draws its figures later, and ``widgets-config.js`` gives them the alt text of their cell.
    """
    page = loaded(page_path)
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
def test_printed_output_is_one_box_per_cell(loaded, page_path):
    """A cell's printed lines stay together (``nb_merge_streams``), not split where the stream flushed."""
    page = loaded(page_path)
    split = page.evaluate(
        "() => Array.from(document.querySelectorAll('main .cell_output'))"
        ".filter(out => out.querySelectorAll(':scope > .output.stream').length > 1).length"
    )
    assert split == 0, (
        f"{page_path}: {split} cell(s) print their output in several boxes"
    )


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_wide_equations_scroll_instead_of_being_cut(loaded, page_path):
    """At 390 px, a displayed equation wider than the column can be scrolled (its box scrolls, the page does not)."""
    page = loaded(page_path, PHONE)
    page.wait_for_function(
        "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
    )
    page.evaluate("() => window.MathJax.startup.promise")
    cut = page.evaluate(
        """() => Array.from(document.querySelectorAll('main mjx-container[display="true"]'))
            .filter(box => box.scrollWidth > box.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
            .map(box => box.textContent.slice(0, 60))"""
    )
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
def test_math_renders_offline(loaded, page_path):
    """MathJax, served by the book, typesets every formula: no TeX delimiters are left in the text."""
    page = loaded(page_path)
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
def test_widgets_render_offline_with_their_initial_figure(loaded, page_path):
    """The widget manager, served by the book, draws every embedded widget's controls and its first figure."""
    page = loaded(page_path)
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
