"""The widgets of the built book work without a kernel: every control changes the figure.

For every widget on every chapter page (served from ``_build/html``, the network
blocked), each control is moved (an arrow key on a slider's handle, another option of a
drop-down) and the visible figure must change to the one drawn for the new value: its
caption names that value, the ``<img>`` is new, and its bytes are those of the image
that the page's widget state files under that caption. Readouts and descriptions must be
whole, and at 390 px the controls must fit the page with a usable slider track.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json

import pytest
from book_pages import DESKTOP, PHONE, _chapter_pages, _open

pytestmark = pytest.mark.browser

#: JavaScript: the visible figure and caption of one widget output (``el``).
VISIBLE = """async el => {
  const shown = [...el.querySelectorAll('.widget-image')].filter(i => i.offsetParent);
  const captions = [...el.querySelectorAll('.widget-html')].filter(c => c.offsetParent);
  if (shown.length !== 1 || captions.length !== 1) return {count: shown.length};
  const img = shown[0];
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const hex = [...new Uint8Array(digest)]
    .map(b => b.toString(16).padStart(2, '0')).join('');
  return {count: 1, src: img.src, sha: hex, caption: captions[0].innerText.trim()};
}"""

#: JavaScript: readouts and descriptions whose text does not fit their box.
CUT = """el => [...el.querySelectorAll('.widget-readout, .widget-label, select')]
  .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.innerText || e.value || '').trim()
    + ` (${e.scrollWidth} > ${e.clientWidth})`)"""


def _panels(page) -> dict[str, str]:
    """``{caption: sha256 of its PNG}`` for every pre-drawn panel in the page's widget state."""
    script = page.locator("script[type='application/vnd.jupyter.widget-state+json']")
    assert script.count() == 1, "the page embeds no widget state"
    state = json.loads(script.first.inner_text())["state"]

    def model(reference: str) -> dict:
        return state.get(reference.removeprefix("IPY_MODEL_"), {})

    panels = {}
    for entry in state.values():
        children = entry["state"].get("children", [])
        if entry["model_name"] != "VBoxModel" or len(children) != 2:
            continue
        image, caption = model(children[0]), model(children[1])
        if (
            image.get("model_name") != "ImageModel"
            or caption.get("model_name") != "HTMLModel"
        ):
            continue
        buffers = {tuple(b["path"]): b["data"] for b in image.get("buffers", [])}
        data = buffers.get(("value",), image["state"].get("value", ""))
        text = html.unescape(caption["state"]["value"]).strip()
        panels[text] = hashlib.sha256(base64.b64decode(data)).hexdigest()
    return panels


def _widget_outputs(page):
    views = page.locator(
        "main script[type='application/vnd.jupyter.widget-view+json']"
    ).count()
    assert views >= 1, "a chapter page without widgets"
    page.wait_for_function(
        "n => document.querySelectorAll('main .cell_output .jupyter-widgets img')"
        ".length >= n",
        arg=views,
        timeout=30_000,
    )
    outputs = page.locator("main .cell_output").filter(
        has=page.locator(".widget-image")
    )
    assert outputs.count() == views, (
        f"{views} widgets, {outputs.count()} with pre-drawn figures (ipywidgets.Image)"
    )
    return [outputs.nth(i) for i in range(outputs.count())]


def _move(page, output, control, index: int) -> str:
    """Move control ``index`` of ``output`` to another value; return the new value's label."""
    if control == "slider":
        handle = output.locator(".noUi-handle").nth(index)
        now = float(handle.get_attribute("aria-valuenow"))
        last = float(handle.get_attribute("aria-valuemax"))
        handle.focus()
        page.keyboard.press("ArrowLeft" if now >= last else "ArrowRight")
        slider = output.locator(".widget-slider").nth(index)
        page.wait_for_timeout(100)
        return slider.locator(".widget-readout").inner_text().strip()
    select = output.locator("select").nth(index)
    options = select.locator("option").all_inner_texts()
    current = select.evaluate("s => s.selectedIndex")
    label = options[(current + 1) % len(options)]
    select.select_option(label=label)
    return label.replace(
        "\xa0", " "
    ).strip()  # the manager shows spaces as no-break spaces


@pytest.mark.parametrize("page_path", _chapter_pages())
def test_every_control_changes_the_figure(browser, server, page_path):
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        panels = _panels(page)
        for number, output in enumerate(_widget_outputs(page)):
            where = f"{page_path}, widget {number + 1}"
            output.scroll_into_view_if_needed()
            controls = [
                ("slider", i) for i in range(output.locator(".noUi-handle").count())
            ]
            controls += [
                ("dropdown", i) for i in range(output.locator("select").count())
            ]
            assert controls, f"{where}: no control"
            for kind, index in controls:
                before = output.evaluate(VISIBLE)
                assert before["count"] == 1, (
                    f"{where}: {before['count']} figures visible"
                )
                label = _move(page, output, kind, index)
                page.wait_for_function(
                    "([el, old]) => [...el.querySelectorAll('.widget-html')]"
                    ".some(c => c.offsetParent && c.innerText.trim() !== old)",
                    arg=[output.element_handle(), before["caption"]],
                    timeout=5_000,
                )
                after = output.evaluate(VISIBLE)
                assert after["count"] == 1, f"{where}: {after['count']} figures visible"
                what = f"{where}, {kind} {index + 1} moved to {label!r}"
                assert label in after["caption"], (
                    f"{what}: the caption does not name it: {after['caption']!r}"
                )
                assert after["src"] != before["src"], (
                    f"{what}: the image did not change"
                )
                assert after["caption"] in panels, f"{what}: caption not in the state"
                assert after["sha"] == panels[after["caption"]], (
                    f"{what}: the image shown is not the one drawn for"
                    f" {after['caption']!r}"
                )
                assert after["sha"] != before["sha"], f"{what}: the same picture"
        assert not page.problems["javascript"], page.problems["javascript"]
    finally:
        page.close()


@pytest.mark.parametrize("page_path", _chapter_pages())
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1400", "390"])
def test_widget_controls_are_whole_and_fit(
    loaded,
    page_path,
    viewport,
):
    page = loaded(page_path, viewport)
    width = viewport["width"]
    for number, output in enumerate(_widget_outputs(page)):
        where = f"{page_path} at {width} px, widget {number + 1}"
        output.scroll_into_view_if_needed()
        cut = output.evaluate(CUT)
        assert not cut, f"{where}: cut readouts or descriptions: {cut}"
        boxes = output.locator(".widget-slider, .widget-dropdown").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"
        )
        assert max(boxes) <= width, f"{where}: a control leaves the page"
        tracks = output.locator(".slider-container").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert all(track >= 80 for track in tracks), (
            f"{where}: slider tracks shrunk to stubs: {tracks}"
        )
