"""The chapters as a reader meets them in the built book: ideas and figures first.

Each chapter's exercises have hidden solutions; its figures are numbered, captioned and
referred to from the prose; its code fits the code box; the set-up code is collapsed; and
the source articles are cited by title, not by file number. Run after the book is built,
like the other browser tests.
"""

from __future__ import annotations

import re

import pytest
from book_pages import DESKTOP, _chapter_pages

pytestmark = pytest.mark.browser

#: The widest code line the book's code boxes show without scrolling.
CODE_WIDTH = 88
#: Every chapter's exercises: at least this many (the chapters have five or six).
MIN_EXERCISES = 5


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_every_exercise_has_a_hidden_solution(loaded, page_path):
    page = loaded(page_path)
    found = page.evaluate(
        """() => {
            const section = document.querySelector('main section#exercises');
            if (!section) return null;
            const exercises = Array.from(section.querySelectorAll('p > strong'))
                .filter(s => /^Exercise \\d+\\.$/.test(s.textContent.trim()));
            return exercises.map(strong => {
                const paragraph = strong.parentElement;
                let next = paragraph.nextElementSibling;
                // the exercise may run over several paragraphs or lists
                while (next && !next.matches('details.sd-dropdown')
                       && !(next.querySelector && next.querySelector('p > strong')
                            && /^Exercise/.test(next.textContent.trim()))) {
                    next = next.nextElementSibling;
                }
                const title = next && next.matches('details.sd-dropdown')
                    ? next.querySelector('summary').textContent.trim() : null;
                const body = title ? next.querySelector('.sd-summary-content')
                    .textContent.trim() : '';
                return {exercise: strong.textContent.trim(), title, body};
            });
        }"""
    )
    assert found is not None, f"{page_path}: no Exercises section"
    assert len(found) >= MIN_EXERCISES, (
        f"{page_path}: {len(found)} exercises marked **Exercise N.**"
    )
    numbers = [int(re.search(r"\d+", e["exercise"])[0]) for e in found]
    assert numbers == list(range(1, len(found) + 1)), numbers
    missing = [e["exercise"] for e in found if e["title"] != "Solution"]
    assert not missing, f"{page_path}: exercises without a Solution dropdown: {missing}"
    empty = [e["exercise"] for e in found if len(e["body"]) < 40]
    assert not empty, f"{page_path}: solutions with (almost) no text: {empty}"
    closed = page.evaluate(
        "() => Array.from(document.querySelectorAll('main details.sd-dropdown'))"
        ".filter(d => d.open).length"
    )
    assert closed == 0, f"{page_path}: {closed} solutions are open on arrival"


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_figures_are_numbered_captioned_and_referred_to(loaded, page_path):
    page = loaded(page_path)
    figures = page.evaluate(
        """() => Array.from(document.querySelectorAll('main .cell_output img'))
            .filter(img => !img.closest('.jupyter-widgets, .widget-subarea')
                           && !img.closest('.tag_hide-cell'))
            .map(img => {
                const figure = img.closest('figure');
                const number = figure && figure.querySelector(
                    'figcaption .caption-number');
                const text = figure && figure.querySelector('figcaption .caption-text');
                const id = figure ? figure.id : null;
                const referred = id ? Array.from(
                    document.querySelectorAll(`main a[href$="#${id}"]`))
                    .filter(a => !a.closest('figure')).length : 0;
                return {
                    src: img.getAttribute('src').slice(-24),
                    number: number ? number.textContent.trim() : null,
                    caption: text ? text.textContent.trim() : '',
                    id, referred,
                };
            })"""
    )
    assert figures, f"{page_path}: no figures"
    unnumbered = [f["src"] for f in figures if not f["number"]]
    assert not unnumbered, (
        f"{page_path}: figures without a numbered caption: {unnumbered}"
    )
    chapter = {re.match(r"Fig\. (\d+)\.\d+", f["number"])[1] for f in figures}
    assert len(chapter) == 1, f"{page_path}: figure numbers {chapter} mix chapters"
    short = [f["number"] for f in figures if len(f["caption"]) < 20]
    assert not short, f"{page_path}: captions too short to say anything: {short}"
    orphans = [f["number"] for f in figures if not f["referred"]]
    assert not orphans, f"{page_path}: figures the prose never refers to: {orphans}"


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_code_lines_fit_the_code_box(loaded, page_path):
    """Cell sources and the package sources the chapter prints: no sideways scrolling."""
    page = loaded(page_path)
    blocks = page.evaluate(
        """() => Array.from(document.querySelectorAll(
                'main .cell_input pre, main .cell_output div.highlight-python pre'))
            .map(pre => pre.textContent)"""
    )
    long = [
        line
        for block in blocks
        for line in block.splitlines()
        if len(line) > CODE_WIDTH
    ]
    assert blocks, f"{page_path}: no code"
    assert not long, (
        f"{page_path}: {len(long)} code lines over {CODE_WIDTH} characters, "
        f"e.g. {long[0]!r}"
    )


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_setup_code_is_collapsed(loaded, page_path):
    """The imports cell executes but sits behind "Show code cell source".

    A widget cell, which imports the widgets it shows, is the lesson and stays open.
    """
    page = loaded(page_path)
    visible_imports = page.evaluate(
        """() => Array.from(document.querySelectorAll('main .cell'))
            .filter(cell => /^\\s*(import|from) \\S+/m.test(
                (cell.querySelector('.cell_input pre') || {}).textContent || '')
                && /import convref|from convref/.test(cell.textContent))
            .filter(cell => !cell.querySelector('.cell_output .jupyter-widgets, '
                + '.cell_output script[type="application/vnd.jupyter.widget-view+json"]'))
            .filter(cell => !cell.closest('.tag_hide-input, .tag_hide-cell'))
            .filter(cell => !cell.matches('.tag_hide-input, .tag_hide-cell'))
            .length"""
    )
    assert visible_imports == 0, (
        f"{page_path}: {visible_imports} import cells are shown open"
    )


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_source_articles_are_cited_by_title_not_number(loaded, page_path):
    page = loaded(page_path)
    bare = page.evaluate(
        """() => Array.from(document.querySelectorAll('main code'))
            .filter(code => !code.closest('.cell'))
            .map(code => code.textContent.trim())
            .filter(text => /^00[0-3]$/.test(text))"""
    )
    assert not bare, f"{page_path}: source articles cited by file number: {bare}"


#: The desktop width at which figure text is measured.
#: The smallest text a reader should have to read, in CSS pixels.
SMALLEST_PX = 9


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_figure_text_is_at_least_9_px_on_the_desktop(loaded, page_path):
    """The smallest text a figure can hold (the style's smallest size at the figure's dpi),
    times the factor by which the page shrinks the image, is at least 9 px."""
    from convref.viz.figure_style import STYLE, TEXT_SIZES

    smallest_natural = min(TEXT_SIZES.values()) * float(STYLE["figure.dpi"]) / 72
    page = loaded(page_path, DESKTOP)
    page.wait_for_timeout(300)
    images = page.evaluate(
        """() => Array.from(document.querySelectorAll('main .cell_output img'))
            .filter(img => img.complete && img.naturalWidth > 0 && img.clientWidth > 0
                           && !img.closest('.tag_hide-cell'))
            .map(img => ({src: (img.getAttribute('src') || '').slice(-20),
                          natural: img.naturalWidth, shown: img.clientWidth}))"""
    )
    assert images, f"{page_path}: no figures shown"
    small = [
        (i["src"], i["natural"], i["shown"])
        for i in images
        if smallest_natural * min(1.0, i["shown"] / i["natural"]) < SMALLEST_PX
    ]
    assert not small, (
        f"{page_path}: figures shrunk until their smallest text is under "
        f"{SMALLEST_PX} px (src, natural px, shown px): {small}"
    )
