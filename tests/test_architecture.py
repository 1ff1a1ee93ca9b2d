"""The package's layout is its architecture: a one-way import graph, small modules, a true README.

Read from the source files themselves (``ast``), so a lazy import hidden inside a function
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convref"

#: The layers, lowest first: a module may import its own layer or a lower one, never a higher
#: one. ``reference`` <- tests -> ``functional`` -> ``nn`` -> ``bench`` -> ``experiments`` ->
#: ``viz`` -> ``widgets``, as DESIGN.md draws it.
LAYERS: dict[str, int] = {
    "_checks": 0,
    "_optional": 0,
    "_threads": 0,
    "data": 0,
    "reference": 1,
    "arith": 1,
    "functional": 2,
    "zoo": 2,
    "nn": 3,
    "bench": 4,
    "experiments": 5,
    "viz": 6,
    "widgets": 7,
    "__init__": 8,
}

#: A module over this many lines is a sign that it holds more than one concern.
MAX_MODULE_LINES = 800


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
}


@dataclass(frozen=True)
class Import:
    """One ``import`` statement of a convref module that names another convref module."""

    importer: str
    target: str
    line: int
    in_function: bool
    reason: str


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The convref modules that ``from ... import ...`` names (a module, or a package and maybe its submodules)."""
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    if not stem.startswith("convref"):
        return []
    targets = []
    for alias in node.names:
        candidate = f"{stem}.{alias.name}"
        targets.append(candidate if candidate in MODULES else stem)
    return targets


def _comment_near(lines: list[str], line: int) -> str:
    """The comment on the import's line or on the line just above it."""
    for text in (lines[line - 1], lines[line - 2] if line >= 2 else ""):
        if "#" in text:
            return text.split("#", 1)[1].strip()
    return ""


def _imports(module: str, path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    tree, lines = ast.parse(source), source.splitlines()
    function_lines = {
        node.lineno
        for func in ast.walk(tree)
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(func)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            targets = _resolve(module, path.name == "__init__.py", node)
        elif isinstance(node, ast.Import):
            targets = [
                alias.name for alias in node.names if alias.name.startswith("convref")
            ]
        else:
            continue
        in_function = node.lineno in function_lines
        reason = _comment_near(lines, node.lineno) if in_function else ""
        found += [
            Import(module, target, node.lineno, in_function, reason)
            for target in targets
        ]
        if (
            in_function and not targets
        ):  # a third-party import inside a function needs a reason too
            found.append(
                Import(module, "", node.lineno, True, _comment_near(lines, node.lineno))
            )
    return found


IMPORTS = [edge for module, path in MODULES.items() for edge in _imports(module, path)]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One cycle of the directed graph ``edges``, or ``[]``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def _graph(imports: list[Import]) -> dict[str, set[str]]:
    """Module -> the convref modules it imports; a package's ``__init__`` re-exports are left out,
    since importing a name from a package front is importing the submodule that defines it."""
    edges: dict[str, set[str]] = {}
    for edge in imports:
        if (
            edge.target
            and edge.target != edge.importer
            and not edge.target.startswith(edge.importer + ".")
        ):
            edges.setdefault(edge.importer, set()).add(edge.target)
    return edges


def test_the_graph_walker_sees_imports():
    assert len(MODULES) > 40
    assert any(
        edge.importer == "convref.nn.deformable"
        and edge.target.startswith("convref.functional")
        for edge in IMPORTS
    )


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_between_top_level_parts():
    """``viz`` and ``experiments`` once imported each other, dodged with imports inside functions."""
    edges: dict[str, set[str]] = {}
    for edge in IMPORTS:
        source, target = (
            _layer(edge.importer),
            _layer(edge.target) if edge.target else None,
        )
        if target and source != target and source != "__init__":
            edges.setdefault(source, set()).add(target)
    assert _find_cycle(edges) == []


def test_no_import_cycle_between_modules():
    edges = _graph(
        [edge for edge in IMPORTS if not MODULES[edge.importer].name == "__init__.py"]
    )
    assert _find_cycle(edges) == []


def test_imports_go_down_the_layers():
    upward = [
        f"{edge.importer}:{edge.line} imports {edge.target}"
        for edge in IMPORTS
        if edge.target and LAYERS[_layer(edge.target)] > LAYERS[_layer(edge.importer)]
    ]
    assert not upward, "\n".join(upward)


def test_every_layer_is_listed():
    assert {_layer(module) for module in MODULES} <= set(LAYERS)


def test_imports_inside_functions_say_why():
    silent = [
        f"{edge.importer}:{edge.line} ({edge.target or 'third party'})"
        for edge in IMPORTS
        if edge.in_function and not edge.reason
    ]
    assert not silent, (
        "an import inside a function needs a comment saying why:\n" + "\n".join(silent)
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines; split it by concern"


def _all_assignments(path: Path) -> list[ast.stmt]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in getattr(node, "targets", [getattr(node, "target", None)])
        )
    ]


@pytest.mark.parametrize(
    "package",
    sorted(name for name, path in MODULES.items() if path.name == "__init__.py"),
)
def test_package_fronts_have_one_all(package):
    """Each ``__init__`` is one import block and one ``__all__``, not an append-log per chapter."""
    path = MODULES[package]
    assignments = _all_assignments(path)
    assert len(assignments) == 1 and isinstance(assignments[0], ast.Assign), (
        f"{package}: one `__all__ = [...]`"
    )
    tree = ast.parse(path.read_text(encoding="utf-8"))
    seen_other = False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert not seen_other, (
                f"{package}:{node.lineno}: an import after the package's other statements"
            )
        elif not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):  # docstring
            seen_other = True


def test_the_readme_lists_every_module():
    """The README's layout section names every module of the package, each with a line of its own."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1]
    missing = []
    for module, path in MODULES.items():
        relative = path.relative_to(ROOT).as_posix()
        shown = (
            relative[: -len("/__init__.py")] + "/"
            if path.name == "__init__.py"
            else relative
        )
        if not re.search(rf"(^|\s){re.escape(shown)}\s", layout, flags=re.M):
            missing.append(shown)
    assert not missing, f"README's layout section lacks: {missing}"
