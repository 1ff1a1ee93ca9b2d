"""The built book as a reader uses it, on a phone (390 px wide) and a desktop (1400 px).

The menu buttons in the article header open the chapter list and the page's contents
on a phone and hide the sidebar on a desktop; no page scrolls sideways on a phone, and
wide figures keep a legible size there; full-page screenshots of three chapters at both
widths go to ``test-artifacts/screens/`` for a person to look at. Run after
``jupyter-book build`` (``test_browser``'s fixtures serve ``_build/html``).
"""

from __future__ import annotations

import struct
from pathlib import PurePosixPath

import pytest
from book_pages import ARTIFACTS, DESKTOP, PHONE, _chapter_pages, _open, _toc_pages

pytestmark = pytest.mark.browser


#: Figures are drawn for the desktop column, 784 px wide. On a phone a figure at least
#: this wide keeps at least this width (it scrolls in its own box); shrunk to the
#: phone's column, about 360 px, its text would be about 4 px high.
LEGIBLE_FIGURE_WIDTH = 784

SCREENSHOT_CHAPTERS = ["conv_basics", "dilated_conv", "deformable"]

#: Elements that reach past the right edge of the window and are not inside a box that
#: scrolls or clips: what makes the page scroll sideways (for the failure message).
_OVERFLOWING = """() => {
  const width = window.innerWidth;
  const found = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5) continue;
    let parent = element.parentElement;
    let contained = false;
    while (parent && parent !== document.body) {
      if (getComputedStyle(parent).overflowX !== "visible") { contained = true; break; }
      parent = parent.parentElement;
    }
    if (!contained) {
      const text = (element.textContent || "").trim().replace(/\\s+/g, " ");
      found.push(`${element.tagName.toLowerCase()}.${element.classList[0] || ""}`
        + ` (right edge ${Math.round(box.right)} px): ${text.slice(0, 60)}`);
    }
  }
  return found.slice(0, 8);
}"""


def _settle(page) -> None:
    """Wait until MathJax has typeset, the widgets are drawn and the images have loaded.

    Each of these changes the width of what is on the page.
    """
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    views = page.locator(
        "main script[type='application/vnd.jupyter.widget-view+json']"
    ).count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('main .jupyter-widgets').length >= n",
            arg=views,
        )
    page.wait_for_function(
        "() => Array.from(document.images).every(image => image.complete)"
    )
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)  # layout after the last of them


def _resize(page, viewport: dict) -> None:
    """Give the page the window size ``viewport``; wait for the sidebar's transition."""
    page.set_viewport_size(viewport)
    page.wait_for_timeout(600)


def _visible(page, selector: str):
    return page.locator(selector).filter(visible=True)


def _becomes(locator, visible: bool, timeout_ms: int = 3_000) -> bool:
    """Whether ``locator`` is (``visible``) or is not shown within ``timeout_ms``."""
    for _ in range(timeout_ms // 100):
        if locator.is_visible() == visible:
            return True
        locator.page.wait_for_timeout(100)
    return locator.is_visible() == visible


def _link_to(page, scope: str, target: str):
    """The link in ``scope`` to the page ``target`` (such as ``book/x/x.html``)."""
    name = PurePosixPath(target).name
    return page.locator(f"{scope} a[href$='{name}']").first


def test_phone_menu_opens_the_chapter_list(browser, server):
    """At 390 px, tapping ☰ shows the chapter list; a chapter link in it works."""
    start, target = _chapter_pages()[0], _chapter_pages()[-1]
    page, _ = _open(browser, f"{server}/{start}")
    try:
        _resize(page, PHONE)
        link = _link_to(page, "nav.bd-links", target)
        assert not link.is_visible(), "the chapter list shows before ☰ is tapped"
        buttons = _visible(page, ".primary-toggle")
        assert buttons.count() == 1, f"{buttons.count()} visible ☰ buttons at 390 px"
        buttons.click()
        assert _becomes(link, visible=True), (
            "tapping ☰ at 390 px shows no chapter list"
        )
        box = link.bounding_box()
        assert (
            box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
        ), f"the chapter link is not on the screen: {box}"
        link.click()
        page.wait_for_url(f"{server}/{target}**", timeout=10_000)
        assert page.locator("main h1").count() >= 1
    finally:
        page.close()


def test_phone_contents_button_lists_the_page_sections(browser, server):
    """At 390 px, the contents button shows the page's sections; a link in it works."""
    page, _ = _open(browser, f"{server}/{_chapter_pages()[0]}")
    try:
        _resize(page, PHONE)
        section = page.locator("nav.page-toc a").first
        assert section.count() == 1, "the chapter has no table of its sections"
        assert not section.is_visible(), "the sections show before the button is tapped"
        buttons = _visible(page, ".secondary-toggle")
        assert buttons.count() == 1, f"{buttons.count()} visible contents buttons"
        buttons.click()
        assert _becomes(section, visible=True), "the contents button shows no sections"
        anchor = section.get_attribute("href")
        section.click()
        page.wait_for_url(lambda url: url.endswith(anchor), timeout=5_000)
    finally:
        page.close()


def test_desktop_menu_hides_and_shows_the_sidebar(browser, server):
    """At 1400 px, ☰ hides the chapter list and shows it again; one search box, no bar.

    (The theme's empty navbar was a 64 px bar above the article with a second search.)
    """
    page, _ = _open(browser, f"{server}/{_chapter_pages()[0]}")
    try:
        _resize(page, DESKTOP)
        link = _link_to(page, "nav.bd-links", _chapter_pages()[-1])
        link.wait_for(state="visible")
        searches = _visible(
            page, ".search-button, .search-button-field, form.bd-search input"
        )
        assert searches.count() == 1, (
            f"{searches.count()} visible search boxes or buttons at 1400 px"
        )
        top = page.evaluate(
            "() => document.querySelector('.bd-header-article')"
            ".getBoundingClientRect().top"
        )
        assert top < 1, f"an empty bar of {top:.0f} px sits above the article header"
        buttons = _visible(page, ".primary-toggle")
        assert buttons.count() == 1, f"{buttons.count()} visible ☰ buttons at 1400 px"
        article = page.locator("main .bd-article")
        width = article.bounding_box()["width"]
        buttons.click()
        assert _becomes(link, visible=False), "☰ at 1400 px does not hide the sidebar"
        assert not page.locator("dialog[open]").count(), "☰ opened a dialog"
        page.wait_for_timeout(500)  # the sidebar slides away
        assert article.bounding_box()["width"] > width + 100, (
            "the article did not take the sidebar's room"
        )
        buttons.click()
        assert _becomes(link, visible=True), (
            "a second ☰ does not show the sidebar again"
        )
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _toc_pages())
def test_page_fits_a_phone_screen(loaded, page_path):
    """At 390 px the page is no wider than the window; wide figures stay legible.

    Long inline code wraps; tables, code blocks, equations and figures wider than the
    column scroll inside their own box.
    """
    page = loaded(page_path, PHONE)
    _settle(page)
    scroll_width, window_width = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= window_width, (
        f"{page_path} is {scroll_width} px wide in a {window_width} px window; "
        f"what reaches past the edge: {page.evaluate(_OVERFLOWING)}"
    )
    figures = page.evaluate(
        """() => Array.from(document.querySelectorAll('main .cell_output img'))
          .filter(image => image.naturalWidth > 0)
          .map(image => {
            let box = image.parentElement;
            while (box && getComputedStyle(box).overflowX === 'visible')
              box = box.parentElement;
            return {natural: image.naturalWidth,
                    shown: image.getBoundingClientRect().width,
                    scrolls: !!box && ['auto', 'scroll']
                      .includes(getComputedStyle(box).overflowX),
                    alt: (image.alt || '').slice(0, 50)};
          })"""
    )
    shrunk = [
        f"{figure['alt']!r}: {figure['natural']} px shown at {figure['shown']:.0f} px"
        for figure in figures
        if figure["shown"] < min(figure["natural"], LEGIBLE_FIGURE_WIDTH) - 1
    ]
    assert not shrunk, f"{page_path}: figures shrunk below a legible width: {shrunk}"
    unscrollable = [
        figure["alt"]
        for figure in figures
        if figure["shown"] > PHONE["width"] and not figure["scrolls"]
    ]
    assert not unscrollable, (
        f"{page_path}: wide figures with no box to scroll in: {unscrollable}"
    )


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("width", [DESKTOP["width"], PHONE["width"]])
@pytest.mark.parametrize("chapter", SCREENSHOT_CHAPTERS)
def test_full_page_screenshots(browser, server, chapter, width):
    """Screenshots of whole chapters at both widths, for a person to look at.

    Saved as ``test-artifacts/screens/<chapter>-<width>.png``; the image is as wide as
    the window (a page that scrolled sideways would give a wider one).
    """
    page_path = f"book/{chapter}/{chapter}.html"
    assert page_path in _chapter_pages(), f"{chapter} is not a chapter of the book"
    folder = ARTIFACTS / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}-{width}.png"
    path.unlink(missing_ok=True)
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        page.set_viewport_size({"width": width, "height": 900})
        _settle(page)
        height = page.evaluate("() => document.scrollingElement.scrollHeight")
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
    assert path.exists() and path.stat().st_size > 0, f"no screenshot at {path}"
    shot_width, shot_height = _png_size(path)
    assert shot_width == width, f"{path.name} is {shot_width} px wide, not {width}"
    assert shot_height >= min(height, 900), (
        f"{path.name} is {shot_height} px high; the page is {height} px"
    )
