"""Print the whole built book into one PDF: ``make pdf`` (after ``make book``).

Every page of ``_toc.yml`` is served from ``_build/html`` on the loopback interface
(every other request is blocked: the book prints offline), opened in the headless
Chromium the browser tests use (a few pages at a time), left to finish (MathJax
typesetting, the widgets' first figures, the images and fonts), printed to A4 with the
book's print stylesheet (``book/_offline/print.css``) and merged in the table of
contents' order with pypdf into ``_build/pdf/convref.pdf``, with a bookmark per page
and, beneath it, one per section.

Before printing, the script opens the dropdowns that hold exercise solutions
(``details.sd-dropdown``) and shrinks a displayed equation wider than the printed column
until it fits; code hidden by the ``hide-input`` tag stays hidden.

Usage: ``python scripts/book_pdf.py [--html DIR] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import io
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
OUTPUT = ROOT / "_build" / "pdf" / "convref.pdf"
TOC = ROOT / "_toc.yml"
PRINT_CSS = ROOT / "book" / "_offline" / "print.css"

#: Paper and margins of every printed page.
PAPER = "A4"
MARGINS = {"top": "16mm", "bottom": "16mm", "left": "15mm", "right": "15mm"}
#: The printed column's width in CSS pixels (A4 is 210 mm wide; 96 px to 25.4 mm).
COLUMN_PX = int((210 - 15 - 15) / 25.4 * 96)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long one page may take to load, in milliseconds.
TIMEOUT_MS = 60_000
#: How many pages are printed at once (each waits mostly on its scripts and fonts).
WORKERS = max(1, min(3, os.cpu_count() or 1))


class BookNotBuiltError(FileNotFoundError):
    """The HTML book (or one of its pages) is missing: run ``make book`` first."""


@dataclass
class PrintedPage:
    """One page of the table of contents, printed: title, headings and PDF."""

    path: str
    title: str
    pdf: bytes
    headings: list[str] = field(default_factory=list)


def toc_pages(toc: Path = TOC) -> list[str]:
    """Return the HTML paths of the table of contents' pages, in reading order.

    Parameters
    ----------
    toc : Path
        The book's ``_toc.yml`` (root, then the chapters of every part).

    Returns
    -------
    list of str
        Paths relative to the built book, such as ``"book/conv1x1/conv1x1.html"``.
    """
    # Imported here: PyYAML comes with the book's tools; importing this module (for its
    # constants) must not need it.
    import yaml

    data = yaml.safe_load(Path(toc).read_text(encoding="utf-8"))
    files = [data["root"]]
    for part in data.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    files += [chapter["file"] for chapter in data.get("chapters", [])]
    return [f"{name}.html" for name in files]


def chromium() -> str:
    """Return the path of the Chromium to print with (``$CHROMIUM``, else ``chromium``).

    Raises
    ------
    FileNotFoundError
        If no Chromium is installed.
    """
    path = (
        os.environ.get("CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        raise FileNotFoundError(
            "no Chromium found: install Debian's chromium package,"
            " or set CHROMIUM to its path"
        )
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # the script reports its own progress
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in the block; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def check_built(html: Path, pages: Sequence[str]) -> None:
    """Raise :class:`BookNotBuiltError` unless ``html`` holds all of ``pages``."""
    if not (html / "index.html").is_file():
        raise BookNotBuiltError(
            f"{html} has no built book (no index.html): run `make book` first"
        )
    missing = [page for page in pages if not (html / page).is_file()]
    if missing:
        raise BookNotBuiltError(
            f"the built book in {html} lacks {', '.join(missing)}:"
            " run `make book` first"
        )


# Run in the page once it has loaded: everything it draws after the load event is drawn.
_SETTLE = """async () => {
  const mathjax = window.MathJax;
  if (mathjax && mathjax.startup && mathjax.startup.promise) {
    await mathjax.startup.promise;
  }
  const views = document.querySelectorAll(
    "main script[type='application/vnd.jupyter.widget-view+json']").length;
  const deadline = Date.now() + 30000;
  let drawn = 0;
  while (views && Date.now() < deadline) {
    drawn = document.querySelectorAll("main .jupyter-widgets").length;
    const figures = document.querySelectorAll("main .jupyter-widgets img").length;
    if (drawn >= views && figures >= 1) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (mathjax && mathjax.typesetPromise) await mathjax.typesetPromise();
  for (const img of document.images) img.loading = "eager";
  await Promise.all(Array.from(document.images).map((img) => img.complete ? null :
    new Promise((resolve) => { img.onload = img.onerror = resolve; })));
  await document.fonts.ready;
  return { views: views, drawn: drawn };
}"""

# Run with the print stylesheet applied at the printed column's width.
_PREPARE = """() => {
  // Exercise solutions are printed: open every sphinx-design dropdown.
  document.querySelectorAll("details.sd-dropdown").forEach((d) => { d.open = true; });
  // A displayed equation wider than the column is shrunk until it fits.
  let shrunk = 0;
  document.querySelectorAll('main mjx-container[display="true"]').forEach((box) => {
    const math = box.firstElementChild;
    const room = box.clientWidth;
    const need = math ? math.getBoundingClientRect().width : 0;
    if (room > 0 && need > room) {
      box.style.fontSize = Math.floor(1000 * room / need) / 10 + "%";
      shrunk += 1;
    }
  });
  // The page's title and visible headings, in order (Chromium's outline lists these).
  const text = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((a) => a.remove());
    return copy.textContent.replace(/\\s+/g, " ").trim();
  };
  const selector = ["h1", "h2", "h3", "h4", "h5", "h6", "[role='heading']"]
    .map((tag) => "main article " + tag).join(", ");
  const headings = Array.from(document.querySelectorAll(selector))
    .filter((h) => h.getClientRects().length > 0);
  return {
    title: headings.length ? text(headings[0]) : document.title,
    headings: headings.map(text),
    shrunk: shrunk,
  };
}"""


async def _print_page(context, base: str, path: str, css: str | None) -> PrintedPage:
    page = await context.new_page()
    outside: list[str] = []

    async def route(route) -> None:
        if route.request.url.startswith(base + "/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    try:
        await page.route("**/*", route)
        url = f"{base}/{path}"
        response = await page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        if response is None or not response.ok:
            raise RuntimeError(
                f"{path} did not load: {response.status if response else 'no response'}"
            )
        widgets = await page.evaluate(_SETTLE)
        if css is not None:
            await page.add_style_tag(content=css)
        await page.emulate_media(media="print")
        info = await page.evaluate(_PREPARE)
        pdf = await page.pdf(
            format=PAPER,
            margin=MARGINS,
            print_background=True,
            prefer_css_page_size=False,
            outline=True,  # Chromium's outline of the headings (needs a tagged PDF)
            tagged=True,
        )
    finally:
        await page.close()
    if outside:
        print(f"  {path}: blocked {len(outside)} outside request(s)", file=sys.stderr)
    if widgets["drawn"] < widgets["views"]:
        print(
            f"  {path}: {widgets['drawn']} of {widgets['views']} widgets drawn in time",
            file=sys.stderr,
        )
    if info["shrunk"]:
        print(f"  {path}: {info['shrunk']} wide equation(s) shrunk", file=sys.stderr)
    return PrintedPage(path, info["title"], pdf, info["headings"])


async def _print_all(
    base: str, pages: Sequence[str], css: str | None, workers: int
) -> list[PrintedPage]:
    # Imported here: only printing needs playwright; ``--help`` works without it.
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": COLUMN_PX, "height": 1100}
            )
            slots = asyncio.Semaphore(workers)
            done = 0

            async def one(path: str) -> PrintedPage:
                nonlocal done
                async with slots:
                    printed = await _print_page(context, base, path, css)
                done += 1
                print(f"  [{done}/{len(pages)}] {path}", file=sys.stderr)
                return printed

            return list(await asyncio.gather(*(one(path) for path in pages)))
        finally:
            await browser.close()


def print_pages(
    html: Path, pages: Sequence[str], workers: int = WORKERS
) -> list[PrintedPage]:
    """Print every page in ``pages`` (paths inside ``html``) to its own PDF.

    Parameters
    ----------
    html : Path
        The built book (``_build/html``).
    pages : sequence of str
        Paths of the pages inside ``html``.
    workers : int
        How many pages are open in the browser at once.

    Returns
    -------
    list of PrintedPage
        One per page, in the order of ``pages``.

    Raises
    ------
    ValueError
        If ``workers`` is not a positive integer.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    check_built(html, pages)
    probe = (html / pages[0]).read_text(encoding="utf-8")
    # A book built before the print stylesheet existed gets it from the source folder.
    css = None if "print.css" in probe else PRINT_CSS.read_text(encoding="utf-8")
    with serve(html) as base:
        return asyncio.run(_print_all(base, pages, css, workers))


def merge(printed: Sequence[PrintedPage], output: Path) -> Path:
    """Merge the printed pages into ``output``, bookmarking every page and heading.

    Parameters
    ----------
    printed : sequence of PrintedPage
        The pages, in reading order.
    output : Path
        The PDF to write (its folder is created).

    Returns
    -------
    Path
        ``output``.
    """
    # Imported here: only merging needs pypdf.
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for item in printed:
        reader = PdfReader(io.BytesIO(item.pdf))
        first = len(writer.pages)
        writer.append(reader, import_outline=False)
        bookmark = writer.add_outline_item(title=item.title, page_number=first)
        _copy_outline(reader, writer, item, first, bookmark)
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": "convref: convolution kernel design"})
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as stream:
        writer.write(stream)
    return output


def _copy_outline(reader, writer, item: PrintedPage, first: int, bookmark) -> None:
    """Put the sections of Chromium's outline of one page under its bookmark.

    Chromium finds where each heading is printed, but spells some titles oddly (the
    text of a code span twice, a line break's space dropped), so the titles come from
    the page itself: the outline lists the visible headings in document order, as
    ``item.headings`` does.
    """
    # Imported here: only merging needs pypdf.
    from pypdf.generic import Fit

    tree = reader.outline
    flat: list[tuple[int, object]] = []

    def walk(entries, depth: int) -> None:
        for entry in entries:
            if isinstance(entry, list):
                walk(entry, depth + 1)
            else:
                flat.append((depth, entry))

    walk(tree, 0)
    if len(flat) != len(item.headings) or not flat:
        if flat:
            print(
                f"  {item.path}: {len(flat)} outline entries for {len(item.headings)}"
                " headings; only the page is bookmarked",
                file=sys.stderr,
            )
        return
    parents = {0: bookmark}
    for (depth, entry), title in list(zip(flat, item.headings))[1:]:
        page = first + reader.get_destination_page_number(entry)
        fit = Fit.xyz(top=entry.top) if entry.top is not None else Fit.fit()
        parent = parents.get(depth - 1, bookmark)
        parents[depth] = writer.add_outline_item(
            title=title, page_number=page, parent=parent, fit=fit
        )


def build_pdf(
    html: Path = HTML, output: Path = OUTPUT, pages: Sequence[str] | None = None
) -> Path:
    """Print the built book's pages in order into one PDF.

    Parameters
    ----------
    html : Path
        The built book (``_build/html``).
    output : Path
        Where to write the PDF.
    pages : sequence of str, optional
        Paths of the pages inside ``html``; the table of contents' pages by default.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    BookNotBuiltError
        If the book has not been built.
    ValueError
        If ``pages`` is empty.
    """
    html = Path(html)
    pages = toc_pages() if pages is None else list(pages)
    if not pages:
        raise ValueError("pages: no page to print")
    check_built(html, pages)
    return merge(print_pages(html, pages), Path(output))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the book, report where the PDF is; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML, help="the built book")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the PDF to write")
    args = parser.parse_args(argv)
    try:
        output = build_pdf(args.html, args.output)
    except FileNotFoundError as error:  # no built book (BookNotBuiltError), no Chromium
        print(f"book_pdf: {error}", file=sys.stderr)
        return 2
    print(f"The book's PDF is {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
