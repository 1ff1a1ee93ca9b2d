"""The book's notebooks: stored without outputs, all listed in the table of contents, tagged widgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


# What a cell that shows a widget contains: a convref.widgets front end or ipywidgets.interact.
WIDGET_MARKERS = ("_widget(", "interact(")
# What a cell that draws a figure contains: a viz plot, matplotlib itself, or a widget (whose first figure the static book shows).
FIGURE_MARKER = re.compile(r"viz\.plot_|plt\.|_widget\(|interact\(")


def _code_cells(path: Path) -> list[dict]:
    return [
        c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
    ]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    dirty = [
        i
        for i, cell in enumerate(_code_cells(path))
        if cell.get("outputs") or cell.get("execution_count")
    ]
    assert not dirty, (
        f"{path.relative_to(ROOT)}: code cells {dirty} have stored outputs or execution counts"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_widget_cells_are_tagged_and_follow_a_static_figure(path):
    """A widget needs a live kernel: the static book must show a figure before it, in the same section."""
    cells = json.loads(path.read_text())["cells"]
    section_start = 0
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and any(
            line.startswith("## ") for line in source.splitlines()
        ):
            section_start = index
        if cell["cell_type"] != "code" or not any(
            marker in source for marker in WIDGET_MARKERS
        ):
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        assert "nbval-ignore-output" in tags, (
            f"{path.name}: widget cell {index} lacks the nbval-ignore-output tag"
        )
        earlier = [c for c in cells[section_start:index] if c["cell_type"] == "code"]
        assert any("plot_" in "".join(c["source"]) for c in earlier), (
            f"{path.name}: widget cell {index} has no static figure drawn before it in its section"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path):
    relative = path.relative_to(ROOT).with_suffix("").as_posix()
    assert relative in _toc_files(), f"{relative} is not listed in _toc.yml"


@pytest.mark.parametrize("entry", _toc_files())
def test_table_of_contents_entries_exist(entry):
    assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), (
        f"{entry} listed in _toc.yml does not exist"
    )


#: The chapters, ``book/<topic>/<topic>.ipynb``; the appendix's notebooks sit in ``book/``.
CHAPTERS = [path for path in NOTEBOOKS if path.parent.name == path.stem]


def test_every_notebook_but_the_appendix_is_a_chapter():
    appendix = {path.name for path in NOTEBOOKS if path not in CHAPTERS}
    assert len(CHAPTERS) >= 12 and appendix == {"performance.ipynb"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_follows_the_chapter_recipe(path):
    """Each chapter checks its claims in code, shows package code, and ends with summary and exercises."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    markdown = "\n".join(
        "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
    )
    assert "assert " in code, "a chapter asserts its key claims"
    assert "show_source(" in code, "a chapter shows the package's own code"
    assert "{cite}" in markdown, "a chapter cites its sources"
    for heading in ("## Summary", "## Exercises"):
        assert heading in markdown, f"missing section {heading!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_drawn_with_matplotlib_directly_use_the_book_style(path):
    """``viz`` styles its own figures; a chapter that also calls ``plt.`` adopts the style first (``viz.use_style()``)."""
    sources = ["".join(cell["source"]) for cell in _code_cells(path)]
    direct = [
        i
        for i, source in enumerate(sources)
        if "plt." in source.replace("plt.show()", "")
    ]
    if not direct:
        return
    styled = [i for i, source in enumerate(sources) if "viz.use_style()" in source]
    assert styled and styled[0] <= direct[0], (
        f"{path.name}: code cell {direct[0]} draws with matplotlib directly before any viz.use_style() call"
    )


def _alt_text(cell: dict) -> str:
    """The alt text myst-nb gives a cell's image outputs: cell metadata ``mystnb: {image: {alt: ...}}``."""
    return cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_cells_carry_alt_text(path):
    """Every cell that draws a figure says in one sentence what the figure shows (the rendered <img alt=...>)."""
    figures = [
        (i, cell)
        for i, cell in enumerate(_code_cells(path))
        if FIGURE_MARKER.search("".join(cell["source"]))
    ]
    missing = [i for i, cell in figures if not _alt_text(cell).strip()]
    assert not missing, (
        f"{path.name}: figure cells (code cell numbers) {missing} have no mystnb.image.alt metadata"
    )
    alts = [_alt_text(cell).strip() for _, cell in figures]
    thin = [alt for alt in alts if len(alt.split()) < 6 or not alt.endswith(".")]
    assert not thin, (
        f"{path.name}: alt text should be a sentence that describes the figure: {thin}"
    )
    repeated = sorted({alt for alt in alts if alts.count(alt) > 1})
    assert not repeated, (
        f"{path.name}: the same alt text on several figures: {repeated}"
    )
    stray = [
        i
        for i, cell in enumerate(_code_cells(path))
        if _alt_text(cell) and (i, cell) not in figures
    ]
    assert not stray, (
        f"{path.name}: alt text on code cells {stray}, which draw no figure"
    )


#: The widest code line the book's code boxes show without scrolling (also ruff's limit).
CODE_WIDTH = 88


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_code_box(path):
    long = [
        f"cell {index}: {len(line)} characters: {line.strip()[:60]}..."
        for index, cell in enumerate(_code_cells(path))
        for line in "".join(cell["source"]).splitlines()
        if len(line) > CODE_WIDTH
    ]
    assert not long, (
        f"{path.name}: code lines over {CODE_WIDTH} characters:\n" + "\n".join(long)
    )


def _install_cell(path: Path) -> dict:
    return _code_cells(path)[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_convref_from_the_book_repository(path):
    """Opened from the Colab button, a notebook must run: its first cell installs convref."""
    cell = _install_cell(path)
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    source = "".join(cell["source"])
    assert f"convref[viz] @ git+{repository}" in source  # with the figures' extra
    assert "remove-cell" in cell["metadata"].get("tags", [])  # not part of the page


def _run_install_cell(path: Path, monkeypatch, installed: bool) -> list:
    import importlib.util
    import subprocess

    calls: list = []
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if installed else None
    )
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    exec(compile("".join(_install_cell(path)["source"]), str(path), "exec"), {})
    return calls


def test_install_cell_does_nothing_where_convref_is_installed(monkeypatch):
    assert _run_install_cell(NOTEBOOKS[0], monkeypatch, installed=True) == []


def test_install_cell_pip_installs_where_convref_is_missing(monkeypatch):
    calls = _run_install_cell(NOTEBOOKS[0], monkeypatch, installed=False)
    assert len(calls) == 1
    (command,), options = calls[0]
    assert command[1:4] == ["-m", "pip", "install"] and options == {"check": True}
    assert command[-1].startswith("convref[viz] @ git+https://")


def test_every_notebook_has_the_same_install_cell():
    sources = {"".join(_install_cell(p)["source"]) for p in NOTEBOOKS}
    assert len(sources) == 1


#: The bibliography keys of the four source articles (book/references.bib).
SOURCE_KEYS = re.compile(r"source00[0-3]\w+")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_source_articles_are_cited_not_numbered(path):
    markdown = "\n".join(
        "".join(c["source"])
        for c in json.loads(path.read_text())["cells"]
        if c["cell_type"] == "markdown"
    )
    assert not re.search(r"`00[0-3]`", markdown), (
        f"{path.name}: a source article named by its file number"
    )
    if re.search(r"\bsource articles?\b|\bthe article\b", markdown):
        assert SOURCE_KEYS.search(markdown), f"{path.name}: a source article not cited"
