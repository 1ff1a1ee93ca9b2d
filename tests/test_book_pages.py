"""The book's reference pages: the glossary and the execution status page (their sources; the browser test opens them built)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
GLOSSARY = (BOOK / "glossary.md").read_text(encoding="utf-8")

#: The Chinese terms the glossary must carry (the source articles' words for the book's topics).
REQUIRED_TERMS = ["可变形卷积", "空洞卷积", "转置卷积", "深度可分离卷积", "分组卷积", "非局部卷积", "移位网络", "加法网络", "动态卷积", "感受野", "棋盘效应"]


def _toc_entries() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


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
    assert list(entries) == sorted(entries, key=str.lower), "entries are in alphabetical order"
    chapters = {entry.removeprefix("book/") for entry in _toc_entries() if entry.count("/") == 2}
    linked = set()
    for term, text in entries.items():
        targets = re.findall(r"\{doc\}`([^`]+)`", text)
        assert targets, f"{term} links to no chapter"
        for target in targets:
            assert (BOOK / f"{target}.ipynb").exists() or (BOOK / f"{target}.md").exists(), f"{term}: {target}"
            linked.add(target)
    assert chapters <= linked, f"chapters without a glossary entry: {sorted(chapters - linked)}"


def test_status_page_uses_the_build_execution_table():
    assert "```{nb-exec-table}\n```" in (BOOK / "status.md").read_text(encoding="utf-8")
