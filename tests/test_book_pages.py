"""The book's reference pages: the glossary, the execution status page and the links between the chapters and the API page (their sources; the browser test opens them built)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
GLOSSARY = (BOOK / "glossary.md").read_text(encoding="utf-8")

#: The Chinese terms the glossary must carry (the source articles' words for the book's topics).
REQUIRED_TERMS = [
    "可变形卷积",
    "空洞卷积",
    "转置卷积",
    "深度可分离卷积",
    "分组卷积",
    "非局部卷积",
    "移位网络",
    "加法网络",
    "动态卷积",
    "感受野",
    "棋盘效应",
]


def _toc_entries() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"]
    ]


def _glossary_entries() -> dict[str, str]:
    """``{term: definition}`` from the ``{glossary}`` block: a term at the margin, its text indented under it."""
    block = re.search(r"```\{glossary\}\n(.*?)```", GLOSSARY, flags=re.S)
    assert block, "glossary.md has a {glossary} directive"
    entries: dict[str, str] = {}
    term = None
    for line in block.group(1).splitlines():
        if line and not line.startswith(" "):
            term = line.strip()
            entries[term] = ""
        elif term is not None:
            entries[term] += line.strip() + " "
    return entries


def test_glossary_and_status_pages_are_in_the_table_of_contents():
    assert "book/glossary" in _toc_entries() and "book/status" in _toc_entries()


def test_glossary_carries_the_required_chinese_terms():
    text = " ".join(_glossary_entries().values())
    missing = [term for term in REQUIRED_TERMS if term not in text]
    assert not missing, f"glossary lacks {missing}"


def test_every_entry_links_to_an_existing_chapter_and_every_chapter_is_linked():
    entries = _glossary_entries()
    assert list(entries) == sorted(entries, key=str.lower), (
        "entries are in alphabetical order"
    )
    chapters = {
        entry.removeprefix("book/") for entry in _toc_entries() if entry.count("/") == 2
    }
    linked = set()
    for term, text in entries.items():
        targets = re.findall(r"\{doc\}`([^`]+)`", text)
        assert targets, f"{term} links to no chapter"
        for target in targets:
            assert (BOOK / f"{target}.ipynb").exists() or (
                BOOK / f"{target}.md"
            ).exists(), f"{term}: {target}"
            linked.add(target)
    assert chapters <= linked, (
        f"chapters without a glossary entry: {sorted(chapters - linked)}"
    )


def test_status_page_uses_the_build_execution_table():
    assert "```{nb-exec-table}\n```" in (BOOK / "status.md").read_text(encoding="utf-8")


# --- chapters <-> API page -------------------------------------------------------------------

API_PAGE = (BOOK / "api.md").read_text(encoding="utf-8")
#: A MyST role that names a Python object: {func}`convref.x.y`, {class}`~convref.nn.Conv2d`, {mod}`text <convref.arith>`.
PY_ROLE = re.compile(
    r"\{(?:py:)?(?:func|class|mod|meth|data|attr|obj)\}`(?:[^`<]*<)?~?([\w.]+)>?`"
)


def _chapters() -> list[str]:
    """The chapter notebooks of the table of contents, as ``<topic>/<topic>`` relative to book/."""
    return [
        entry.removeprefix("book/") for entry in _toc_entries() if entry.count("/") == 2
    ]


def _documented_modules() -> list[str]:
    return re.findall(r"^\.\. automodule:: (\S+)", API_PAGE, flags=re.M)


def _on_api_page(target: str) -> bool:
    """Whether ``target`` is a module that the API page documents, or a member in such a module's ``__all__``."""
    modules = _documented_modules()
    if target in modules:
        return True
    module_name, _, name = target.rpartition(".")
    if module_name not in modules:
        return False
    module = importlib.import_module(module_name)
    return name in getattr(module, "__all__", ()) and hasattr(module, name)


def _markdown(chapter: str) -> str:
    cells = json.loads((BOOK / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join(
        "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
    )


@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_links_its_operators_on_the_api_page(chapter):
    """A markdown cell names the chapter's operators with roles that resolve to API entries (the build checks them too)."""
    targets = [
        t for t in PY_ROLE.findall(_markdown(chapter)) if t.startswith("convref.")
    ]
    assert targets, (
        f"{chapter} links to no convref API entry (add an 'In convref' line with {{func}}/{{class}} roles)"
    )
    missing = sorted({t for t in targets if not _on_api_page(t)})
    assert not missing, (
        f"{chapter} links to what the API page does not document: {missing}"
    )


def test_api_page_links_every_chapter():
    """The API page says where each operator family is explained: a {doc} link to every chapter."""
    linked = {
        target for target in re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", API_PAGE)
    }
    for target in linked:
        assert (BOOK / f"{target}.ipynb").exists() or (
            BOOK / f"{target}.md"
        ).exists(), f"api.md links to {target}"
    missing = [chapter for chapter in _chapters() if chapter not in linked]
    assert not missing, f"api.md does not link these chapters: {missing}"


def test_api_page_role_links_resolve():
    targets = [t for t in PY_ROLE.findall(API_PAGE) if t.startswith("convref.")]
    assert targets
    missing = sorted({t for t in targets if not _on_api_page(t)})
    assert not missing, f"api.md links to what it does not document: {missing}"
