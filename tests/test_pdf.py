"""The whole book as one PDF (``make pdf``, ``scripts/book_pdf.py``), read with pypdf.

The script prints the built book (``_build/html``) in Chromium, so these tests run in
the browser phase, after the build. What they compare with comes from the built HTML,
read here with the standard library's parser: the pages' titles, where formulas and
figures are, the longest line of code. A second, small run prints a built chapter with a
few things added that the book may not hold yet (a line of code far wider than the page,
a wide equation, an exercise solution in a dropdown, code hidden with ``hide-input``).
"""

from __future__ import annotations

import concurrent.futures
import html
import os
import re
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

pypdf = pytest.importorskip("pypdf", reason="pypdf is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_pdf  # (after the path: scripts/ is not a package)

# One worker prints the book once for the whole module (make browser runs two workers).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pdf")]

HTML = ROOT / "_build" / "html"
#: A4 is 595.92 pt wide; the column ends at the right margin (15 mm = 42.52 pt).
MM = 72 / 25.4
#: DejaVu Sans Mono's advance, in ems: where a code character after a run's start is.
MONO_ADVANCE = 0.602


def _require_browser() -> None:
    try:
        book_pdf.chromium()
    except FileNotFoundError as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}; CI must run the browser tests")
        pytest.skip(str(error))


def _in_own_thread(function, *args, **kwargs):
    """Call ``function`` (which runs its own asyncio loop) in a thread of its own.

    The other browser tests' Playwright browser (a session fixture, when it shares this
    process) keeps an asyncio loop running on the main thread, where ``asyncio.run``
    refuses to start a second one.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def _require_book() -> None:
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML} has no built book: run `make book` first")


class _Page(HTMLParser):
    """What the tests need from a built page: its title, code, math and figures.

    ``code`` holds the printed code blocks only: a cell tagged ``hide-input`` or
    ``hide-cell`` keeps its code collapsed on paper too.
    """

    HIDDEN_CELLS = frozenset({"tag_hide-input", "tag_hide-cell"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.title_parts: list[str] | None = None
        self.title = ""
        self.code: list[str] = []
        self.math = False
        self.figures = 0

    def _inside(self, tag: str, cls: str | None = None) -> bool:
        return any(t == tag and (cls is None or cls in c) for t, c in self.stack)

    def _in_printed_code(self) -> bool:
        return (
            self._inside("pre")
            and self._inside("div", "cell_input")
            and not any(t == "div" and c & self.HIDDEN_CELLS for t, c in self.stack)
        )

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag in {"img", "br", "meta", "link", "input", "hr"}:
            if tag == "img" and self._inside("div", "cell_output"):
                self.figures += 1
            return
        self.stack.append((tag, classes))
        if tag == "h1" and not self.title and self._inside("article"):
            self.title_parts = []
        if tag == "pre" and self._in_printed_code():
            self.code.append("")
        if "math" in classes or tag == "math":
            self.math = True

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break
        if tag == "h1" and self.title_parts is not None:
            self.title = " ".join("".join(self.title_parts).split())
            self.title_parts = None

    def handle_data(self, data):
        if self.title_parts is not None and not self._inside("a", "headerlink"):
            self.title_parts.append(data)
        if self._in_printed_code() and self.code:
            self.code[-1] += data


def _read(path: Path) -> _Page:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _squeeze(text: str) -> str:
    """``text`` without white space (wrapped lines compare equal), NFKC-normalised."""
    return "".join(unicodedata.normalize("NFKC", text).split())


class _Layout:
    """A PDF's printed text: per page, its characters and each one's left edge (pt)."""

    def __init__(self, reader) -> None:
        self.reader = reader
        self.width = float(reader.pages[0].mediabox.width)
        self.texts: list[str] = []
        self.xs: list[list[float]] = []
        self.fonts: list[set[str]] = []
        for page in reader.pages:
            chars: list[str] = []
            xs: list[float] = []

            def visit(text, cm, tm, font, size, chars=chars, xs=xs):
                x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
                # Chromium writes a run of text at its start; within a run of code the
                # characters follow at the monospace advance. (Other runs are words.)
                mono = font is not None and "Mono" in str(font.get("/BaseFont", ""))
                step = cm[0] * MONO_ADVANCE * (size or 0) if mono else 0.0
                for i, char in enumerate(text):
                    for part in unicodedata.normalize("NFKC", char):  # ligatures
                        if not part.isspace():
                            chars.append(part)
                            xs.append(x + i * step)

            page.extract_text(visitor_text=visit)
            self.texts.append("".join(chars))
            self.xs.append(xs)
            self.fonts.append(_font_names(page))

    def range_text(self, start: int, stop: int) -> str:
        return "".join(self.texts[start:stop])


def _font_names(page) -> set[str]:
    names = set()
    fonts = page.get("/Resources", {}).get("/Font", {})
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor")
        names.add(str(font.get("/BaseFont", "")))
        if descriptor is not None:
            descriptor = descriptor.get_object()
            names.add(str(descriptor.get("/FontFamily", "")))
            names.add(str(descriptor.get("/FontName", "")))
    return names


def _image_widths(page) -> list[int]:
    """Widths in pixels of the images a page draws (directly or inside its forms)."""
    widths = []

    def walk(resources, depth=0):
        for ref in resources.get("/XObject", {}).values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                widths.append(int(xobject.get("/Width", 0)))
            elif xobject.get("/Subtype") == "/Form" and depth < 4:
                walk(xobject.get("/Resources", {}), depth + 1)

    walk(page.get("/Resources", {}))
    return widths


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book printed by the script's ``main`` into a temporary file; its HTML."""
    _require_book()
    _require_browser()
    output = tmp_path_factory.mktemp("pdf") / "convref.pdf"
    assert _in_own_thread(book_pdf.main, ["--output", str(output)]) == 0
    reader = pypdf.PdfReader(output)
    pages = book_pdf.toc_pages()
    outline = [item for item in reader.outline if not isinstance(item, list)]
    starts = [reader.get_destination_page_number(item) for item in outline]
    return {
        "reader": reader,
        "layout": _Layout(reader),
        "pages": pages,
        "html": [_read(HTML / page) for page in pages],
        "outline": [item.title for item in outline],
        "starts": starts,
    }


def _ranges(book) -> list[tuple[int, int]]:
    """The PDF pages of each book page: from its bookmark to the next one."""
    starts = book["starts"]
    return list(zip(starts, starts[1:] + [len(book["reader"].pages)]))


def _chapters(book):
    for index, page in enumerate(book["pages"]):
        if page.count("/") == 2:  # book/<topic>/<topic>.html
            yield index, page


def test_every_page_title_is_printed_in_order_with_a_bookmark(book):
    titles = [page.title for page in book["html"]]
    assert all(titles), f"built pages without a title: {titles}"
    assert book["outline"] == titles, "the bookmarks are not the pages' titles in order"
    starts = book["starts"]
    assert starts == sorted(set(starts)), f"bookmarks not on increasing pages: {starts}"
    texts = book["layout"].texts
    for title, start in zip(titles, starts):
        assert _squeeze(title) in texts[start], (
            f"{title!r} is not printed on page {start}"
        )


def test_page_count_is_plausible(book):
    assert len(book["reader"].pages) >= len(book["pages"])
    # A chapter's text, code and figures take more than one A4 page.
    ranges = _ranges(book)
    for index, page in _chapters(book):
        start, stop = ranges[index]
        assert stop - start >= 2, f"{page} printed on {stop - start} page(s)"


def test_chapters_print_their_figures(book):
    reader = book["reader"]
    for index, page in _chapters(book):
        assert book["html"][index].figures >= 1, f"{page}: the built page has no figure"
        start, stop = _ranges(book)[index]
        widths = [w for n in range(start, stop) for w in _image_widths(reader.pages[n])]
        assert any(w > 100 for w in widths), f"{page}: no figure in its PDF pages"


def test_math_is_typeset(book):
    """Formulas are printed in MathJax's fonts; no TeX source is left in the text."""
    layout = book["layout"]
    checked = 0
    for index, page in enumerate(book["pages"]):
        start, stop = _ranges(book)[index]
        text = layout.range_text(start, stop)
        for delimiter in ("\\(", "\\)", "\\[", "\\]", "$$"):
            assert delimiter not in text, f"{page}: raw TeX {delimiter!r} in the PDF"
        if book["html"][index].math:
            fonts = set().union(*layout.fonts[start:stop])
            assert any("MathJax" in name for name in fonts), (
                f"{page} has formulas, but its PDF pages use no MathJax font: {fonts}"
            )
            checked += 1
    assert checked >= len(list(_chapters(book))), "chapters without formulas?"


def _placed_inside(layout, needle: str, start: int, stop: int) -> list[float]:
    """Per place ``needle`` is printed in the range: its right-most left edge (pt)."""
    found = []
    for number in range(start, stop):
        at = layout.texts[number].find(needle)
        while at >= 0:
            found.append(max(layout.xs[number][at : at + len(needle)]))
            at = layout.texts[number].find(needle, at + 1)
    return found


def test_the_longest_code_line_is_printed_whole(book):
    """The book's longest line of code is printed to its end, inside the column."""
    layout = book["layout"]
    lines = [
        (len(line.rstrip()), index, line.rstrip())
        for index, page in _chapters(book)
        for block in book["html"][index].code
        for line in block.splitlines()
    ]
    assert lines, "no code in the chapters"
    _, index, line = max(lines)
    start, stop = _ranges(book)[index]
    whole = _squeeze(line)
    assert whole in layout.range_text(start, stop), (
        f"{book['pages'][index]}: this line is not printed whole: {line!r}"
    )
    edge = layout.width - 15 * MM
    tail = whole[-12:]
    places = _placed_inside(layout, tail, start, stop)
    assert places, f"the end of {line!r} is not in the PDF"
    assert min(places) <= edge, (
        f"the end of {line!r} is printed at {min(places):.0f} pt, past the column"
        f" ({edge:.0f} pt): it is cut off"
    )


def test_no_text_is_printed_past_the_column(book):
    layout = book["layout"]
    edge = layout.width - 15 * MM + 1
    for number, xs in enumerate(layout.xs):
        outside = [i for i, x in enumerate(xs) if x > edge]
        assert not outside, (
            f"PDF page {number + 1}: text past the column's edge:"
            f" {''.join(layout.texts[number][i] for i in outside[:40])!r}"
        )


# A chapter with what the book may not hold yet, printed and checked the same way.
LONG_LINE = (
    "values = [" + ", ".join(f"weight_{i:03d}" for i in range(24)) + "]  # END_LINE"
)
HIDDEN_CODE = "hidden_marker_cell = 12345"
SOLUTION = "SOLUTIONMARKER: the answer is printed."
WIDE_MATH = " + ".join(f"w_{{{i}}} x_{{{i}}}" for i in range(60))
EXTRA = f"""
<div class="cell docutils container"><div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight">
<pre>{html.escape(LONG_LINE)}
</pre></div></div></div></div>
<div class="cell tag_hide-input docutils container">
<details class="admonition hide above-input">
<summary aria-label="Toggle hidden content">
<p class="collapsed admonition-title">Show code cell source</p>
<p class="expanded admonition-title">Hide code cell source</p></summary>
<div class="cell_input docutils container"><div class="highlight-ipython3 notranslate">
<div class="highlight"><pre>{HIDDEN_CODE}
</pre></div></div></div></details>
<div class="cell_output docutils container">
<div class="output stream highlight-myst-ansi notranslate"><div class="highlight">
<pre>VISIBLEOUTPUT
</pre></div></div></div></div>
<details class="sd-sphinx-override sd-dropdown sd-card sd-mb-3">
<summary class="sd-summary-title sd-card-header">
<span class="sd-summary-text">Solution</span></summary>
<div class="sd-summary-content sd-card-body docutils">
<p class="sd-card-text">{SOLUTION}</p></div></details>
<div class="math notranslate nohighlight">\\[y = {WIDE_MATH}\\]</div>
"""


@pytest.fixture(scope="module")
def extra(tmp_path_factory):
    """A copy of the first chapter with ``EXTRA`` after its title, printed."""
    _require_book()
    _require_browser()
    chapter = next(p for p in book_pdf.toc_pages() if p.count("/") == 2)
    site = tmp_path_factory.mktemp("site")
    for entry in HTML.iterdir():
        if entry.name != "book":
            (site / entry.name).symlink_to(entry)
    target = site / chapter
    target.parent.mkdir(parents=True)
    page = (HTML / chapter).read_text(encoding="utf-8")
    page, count = re.subn(
        r"(<article.*?</h1>)", lambda m: m[1] + EXTRA, page, 1, re.DOTALL
    )
    assert count == 1, f"{chapter}: no title in the article"
    target.write_text(page, encoding="utf-8")
    output = site / "extra.pdf"
    _in_own_thread(book_pdf.build_pdf, site, output, pages=[chapter])
    return _Layout(pypdf.PdfReader(output))


def test_a_line_wider_than_the_page_wraps(extra):
    whole = _squeeze(LONG_LINE)
    pages = len(extra.texts)
    assert whole in extra.range_text(0, pages), "the long line is not printed whole"
    places = _placed_inside(extra, "END_LINE", 0, pages)
    assert places and max(places) <= extra.width - 15 * MM, (
        f"the long line's end is printed past the column (at {places} pt)"
    )


def test_solutions_print_open_and_hidden_code_stays_hidden(extra):
    text = extra.range_text(0, len(extra.texts))
    assert _squeeze(SOLUTION) in text, "the dropdown's solution is not printed"
    assert "VISIBLEOUTPUT" in text, "the hidden cell's output is not printed"
    assert _squeeze(HIDDEN_CODE) not in text, "code hidden with hide-input is printed"
    assert "Showcodecellsource" not in text, "the toggle's label is printed"


def test_a_wide_equation_fits_the_column(extra):
    edge = extra.width - 15 * MM + 1
    past = [x for xs in extra.xs for x in xs if x > edge]
    assert not past, (
        f"{len(past)} characters printed past the column (a wide equation?)"
    )
    # The last term is printed: w_59 x_59, as MathJax lays it out (w 59 x 59).
    assert "w59x59" in extra.range_text(0, len(extra.texts))


def test_an_unbuilt_book_is_a_clear_error(tmp_path, capsys):
    status = book_pdf.main(
        ["--html", str(tmp_path), "--output", str(tmp_path / "x.pdf")]
    )
    assert status == 2
    assert "run `make book` first" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()
