"""What the chapters print that is not a figure: the package's own source, and tables.

:func:`show_source` shows a function or class as the tests run it, without its docstring
(the chapter's prose already states the equation) and linked to its entry on the API page;
:func:`show_table` shows rows of numbers as a table rather than as aligned text. Both
return objects that render as Markdown in the book and as HTML in a live notebook.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Sequence

from IPython.display import Code

__all__ = ["SourceListing", "Table", "show_source", "show_table", "strip_docstrings"]


def strip_docstrings(source: str) -> str:
    """``source`` without the docstrings of its module, classes and functions.

    Parameters
    ----------
    source : str
        Python source that parses once dedented (a module, a class, a function or a method).

    Returns
    -------
    str
        The same source, dedented, with every docstring's lines removed. A body that held
        only a docstring keeps ``...`` so that the result still parses.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    code = textwrap.dedent(source)
    tree = ast.parse(code)
    lines = code.splitlines()
    removed: set[int] = set()
    placeholders: dict[int, str] = {}
    for node in ast.walk(tree):
        if not isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            continue
        body = node.body
        first = body[0] if body else None
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        span = range(first.lineno - 1, first.end_lineno)
        removed.update(span)
        if len(body) == 1:  # keep the body valid: `...` where the docstring stood
            indent = lines[first.lineno - 1][: first.col_offset]
            placeholders[first.lineno - 1] = f"{indent}..."
    kept = [
        placeholders.get(index, line)
        for index, line in enumerate(lines)
        if index not in removed or index in placeholders
    ]
    return "\n".join(kept).strip("\n") + "\n"


def _public_name(obj: object) -> "tuple[str, str] | None":
    """The documented name of ``obj`` (``convref.reference.conv2d``) and its role, if public.

    Functions and classes are documented under the package front that re-exports them;
    a method is linked through its class. Private helpers (a ``_`` anywhere in the path)
    have no entry and get no link.
    """
    target = obj
    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
    if "." in qualname:  # a method: link its class
        owner = qualname.split(".")[0]
        target = getattr(inspect.getmodule(obj), owner, None)
        qualname = owner
    module = getattr(target, "__module__", "") or ""
    if not module.startswith("convref") or any(
        part.startswith("_") for part in (*module.split("."), qualname)
    ):
        return None
    parts = module.split(".")
    for depth in range(2, len(parts) + 1):  # the shallowest package front that exports it
        front = importlib.import_module(".".join(parts[:depth]))
        exported = getattr(front, "__all__", ())
        if hasattr(front, "__path__") and qualname in exported:
            role = "class" if inspect.isclass(target) else "func"
            return f"{front.__name__}.{qualname}", role
    return None


@dataclass(frozen=True)
class SourceListing:
    """A piece of the package's source, ready to display (see :func:`show_source`).

    Attributes
    ----------
    title : str
        What is shown: ``"reference.conv2d"`` or ``"ASPP.forward"``.
    code : str
        The source without docstrings.
    link : (str, str) or None
        The documented name and its role (``"func"`` or ``"class"``) on the API page.
    """

    title: str
    code: str
    link: "tuple[str, str] | None"

    def _heading_markdown(self) -> str:
        if self.link is None:
            return f"Source of `{self.title}` (internal: not on the API page)"
        name, role = self.link
        return f"Source of `{self.title}`; documented at {{py:{role}}}`{name}`"

    def _repr_markdown_(self) -> str:
        return f"{self._heading_markdown()}\n\n```python\n{self.code}```\n"

    def _repr_html_(self) -> str:
        heading = f"<p>Source of <code>{self.title}</code></p>"
        return heading + Code(self.code, language="python")._repr_html_()

    def __repr__(self) -> str:
        return self.code


def show_source(obj: object) -> SourceListing:
    """The package's own source of ``obj``, without docstrings, linked to its API entry.

    Chapters show code this way (never a copy pasted into a cell), so what the reader
    sees is exactly what the tests run.

    Parameters
    ----------
    obj : module, class, function or method
        Anything :func:`inspect.getsource` accepts.

    Returns
    -------
    SourceListing
        Renders as a highlighted code block under a line that links the documented name
        (in the book), or as highlighted HTML (in a live notebook).
    """
    if not (
        inspect.ismodule(obj)
        or inspect.isclass(obj)
        or inspect.isfunction(obj)
        or inspect.ismethod(obj)
    ):
        raise TypeError(
            "obj must be a module, class, function or method, "
            f"got {type(obj).__name__}"
        )
    title = getattr(obj, "__qualname__", obj.__name__)
    module = getattr(obj, "__module__", None) or obj.__name__
    short_module = module.removeprefix("convref.")
    if "." not in title and not inspect.ismodule(obj):
        title = f"{short_module.split('.')[0]}.{title}"
    return SourceListing(
        title=title,
        code=strip_docstrings(inspect.getsource(obj)),
        link=_public_name(obj),
    )


@dataclass(frozen=True)
class Table:
    """Rows of values with a header, rendered as a table (see :func:`show_table`).

    Attributes
    ----------
    header : tuple of str
        The column titles.
    rows : tuple of tuple of str
        The cells, already formatted.
    caption : str
        A line above the table; empty for none.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def _repr_markdown_(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        align = ["---" if i == 0 else "--:" for i in range(len(self.header))]
        body = [line(self.header), "|" + "|".join(align) + "|"]
        body += [line(row) for row in self.rows]
        caption = f"{self.caption}\n\n" if self.caption else ""
        return caption + "\n".join(body) + "\n"

    def _repr_html_(self) -> str:
        def cells(tag: str, values: Sequence[str]) -> str:
            return "".join(f"<{tag}>{value}</{tag}>" for value in values)

        rows = "".join(f"<tr>{cells('td', row)}</tr>" for row in self.rows)
        caption = f"<caption>{self.caption}</caption>" if self.caption else ""
        return (
            f"<table>{caption}<thead><tr>{cells('th', self.header)}</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    def __repr__(self) -> str:
        widths = [
            max(len(str(c)) for c in column)
            for column in zip(self.header, *self.rows)
        ]
        lines = [self.caption] if self.caption else []
        for row in (self.header, *self.rows):
            lines.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
        return "\n".join(lines)


def show_table(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    *,
    caption: str = "",
    formats: "Sequence[str] | None" = None,
) -> Table:
    """Rows of values as a table: a real table in the book and in a notebook.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of values per row, as many as ``header`` has titles.
    header : sequence of str
        The column titles.
    caption : str
        A line shown above the table.
    formats : sequence of str, optional
        One format spec per column (``",d"``, ``".3f"``, ``""`` for ``str``); by default
        every value is shown with ``str``.

    Returns
    -------
    Table
        Renders as a Markdown table in the book and as HTML in a live notebook.
    """
    header = tuple(str(title) for title in header)
    if not header:
        raise ValueError("header must name at least one column, got none")
    if formats is not None and len(formats) != len(header):
        raise ValueError(
            f"formats must give one spec per column ({len(header)}), got {len(formats)}"
        )
    specs = tuple(formats) if formats is not None else ("",) * len(header)
    table = []
    for index, row in enumerate(rows):
        values = tuple(row)
        if len(values) != len(header):
            raise ValueError(
                f"rows[{index}] must have {len(header)} values (one per column), "
                f"got {len(values)}"
            )
        table.append(tuple(format(v, s) for v, s in zip(values, specs)))
    return Table(header=header, rows=tuple(table), caption=caption)
