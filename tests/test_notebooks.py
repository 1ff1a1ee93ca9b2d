"""The book's notebooks: stored without outputs, all listed in the table of contents, tagged widgets."""

from __future__ import annotations

import json
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


NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


# What a cell that shows a widget contains: a convref.widgets front end or ipywidgets.interact.
WIDGET_MARKERS = ("_widget(", "interact(")


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    dirty = [i for i, cell in enumerate(_code_cells(path)) if cell.get("outputs") or cell.get("execution_count")]
    assert not dirty, f"{path.relative_to(ROOT)}: code cells {dirty} have stored outputs or execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_widget_cells_are_tagged_and_follow_a_static_figure(path):
    """A widget needs a live kernel: the static book must show a figure before it, in the same section."""
    cells = json.loads(path.read_text())["cells"]
    section_start = 0
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and any(line.startswith("## ") for line in source.splitlines()):
            section_start = index
        if cell["cell_type"] != "code" or not any(marker in source for marker in WIDGET_MARKERS):
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        assert "nbval-ignore-output" in tags, f"{path.name}: widget cell {index} lacks the nbval-ignore-output tag"
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
    assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), f"{entry} listed in _toc.yml does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_chapter_recipe(path):
    """Each chapter checks its claims in code, shows package code, and ends with summary and exercises."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "assert " in code, "a chapter asserts its key claims"
    assert "show_source(" in code, "a chapter shows the package's own code"
    assert "{cite}" in markdown, "a chapter cites its sources"
    for heading in ("## Summary", "## Exercises"):
        assert heading in markdown, f"missing section {heading!r}"
