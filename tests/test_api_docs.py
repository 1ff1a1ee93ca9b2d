"""The public API is documented: every public function and class renders on the book's API page.

The API page (``book/api.md``) runs Sphinx autodoc with ``:members:`` over a list of modules.
Autodoc shows a module's members named in its ``__all__`` and silently drops any member
without a docstring, so "documented" here means: the module is on the page, the object is
in its ``__all__``, and its NumPy-style docstring has the sections a reader needs --
``Parameters`` (naming every argument; ``Attributes`` for a dataclass's fields), ``Returns`` or ``Yields`` (when it returns
something), and the shapes of array and tensor arguments and results. Layers
(``torch.nn.Module``) state their input and output shapes in a ``Shape`` section.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import torch
from sphinx.pycode import ModuleAnalyzer

import convref

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "book" / "api.md"

#: The modules whose members make up the public API, each documented on the API page.
PUBLIC_MODULES = [
    "convref.reference",
    "convref.functional",
    "convref.nn",
    "convref.nn.init",
    "convref.arith",
    "convref.zoo",
    "convref.data",
    "convref.viz",
    "convref.widgets",
    "convref.experiments",
    "convref.bench",
]

#: Gaps in files that another change is editing right now, each expected to fail until it is
#: fixed there (strict: once fixed, the entry must go, or the test fails as "XPASS").
KNOWN_GAPS: dict[str, str] = {}

#: An annotation that names an array or a tensor (alone or inside a container).
ARRAY_ANNOTATION = re.compile(r"\bndarray\b|\bTensor\b")
#: How a docstring states a shape: a tuple of dimensions such as ``(N, C, H, W)`` or ``(C, 2)``,
#: or the word "shape" ("any shape", "the same shape as x").
SHAPE = re.compile(r"\([^()\n]*,[^()\n]*\)|\bshape|\b0-dim", re.I)
SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}\n", re.M)


def _public_members(module_name: str) -> dict[str, object]:
    module = importlib.import_module(module_name)
    return {
        name: getattr(module, name)
        for name in getattr(module, "__all__", [])
        if not name.startswith("__")
    }


def _api_objects() -> list[tuple[str, object]]:
    """``(qualified name, object)`` for every public function and class, in page order."""
    objects = []
    for module_name in PUBLIC_MODULES:
        for name, obj in _public_members(module_name).items():
            if inspect.isfunction(obj) or inspect.isclass(obj):
                objects.append((f"{module_name}.{name}", obj))
    return objects


API_OBJECTS = _api_objects()


def _sections(doc: str) -> dict[str, str]:
    """A NumPy-style docstring's sections, ``{title: body}``; the summary and extended text are under ``""``."""
    parts = SECTION.split(doc)
    sections = {"": parts[0]}
    for title, body in zip(parts[1::2], parts[2::2]):
        sections[title.strip()] = body
    return sections


def _entries(body: str) -> dict[str, str]:
    """The entries of a Parameters-like section: ``{name: "type and description"}``.

    An entry starts at the margin (``name : type``, or ``a, b : type`` for several names) and
    its description is indented under it.
    """
    entries: dict[str, str] = {}
    current: list[str] = []
    for line in body.splitlines():
        if line and not line[0].isspace():
            names, _, kind = line.partition(" : ")
            current = [n.strip().lstrip("*") for n in names.split(",")]
            for name in current:
                entries[name] = kind + "\n"
        elif current:
            for name in current:
                entries[name] += line + "\n"
    return entries


def _arguments(obj) -> list[inspect.Parameter]:
    parameters = list(inspect.signature(obj).parameters.values())
    return [p for p in parameters if p.name not in ("self", "cls")]


def _returns_something(obj) -> bool:
    annotation = inspect.signature(obj).return_annotation
    return annotation not in (None, "None", inspect.Signature.empty)


def _is_layer(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, torch.nn.Module)


def _problems(obj) -> list[str]:
    """What is missing from one object's docstring (an empty list when nothing is)."""
    doc = inspect.getdoc(obj) if obj.__doc__ else None
    if not doc or not doc.strip():
        return ["no docstring (autodoc leaves it off the API page)"]
    sections = _sections(doc)
    problems = []
    arguments = _arguments(obj)
    if arguments:
        # A dataclass's arguments are its fields, which NumPy style lists under Attributes.
        titles = (
            ("Parameters", "Attributes")
            if dataclasses.is_dataclass(obj)
            else ("Parameters",)
        )
        body = next((sections[title] for title in titles if title in sections), None)
        if body is None:
            return ["no Parameters section"]
        entries = _entries(body)
        for argument in arguments:
            if argument.name not in entries:
                problems.append(
                    f"argument {argument.name!r} is not in the Parameters section"
                )
            elif ARRAY_ANNOTATION.search(str(argument.annotation)) and not SHAPE.search(
                entries[argument.name]
            ):
                problems.append(
                    f"argument {argument.name!r} is an array or tensor but its entry states no shape"
                )
    if inspect.isfunction(obj) and _returns_something(obj):
        returns = sections.get("Returns", sections.get("Yields"))
        if returns is None:
            problems.append("no Returns section")
        elif ARRAY_ANNOTATION.search(
            str(inspect.signature(obj).return_annotation)
        ) and not SHAPE.search(returns):
            problems.append(
                "returns an array or tensor but the Returns section states no shape"
            )
    if _is_layer(obj):
        shape = sections.get("Shape", "")
        if not (
            re.search(r"\binput\b", shape, re.I)
            and re.search(r"\boutput\b", shape, re.I)
            and SHAPE.search(shape)
        ):
            problems.append(
                "a layer needs a Shape section giving its input and output shapes"
            )
    return problems


def _automodules() -> dict[str, list[str]]:
    """``{module: options}`` for every ``.. automodule::`` directive on the API page."""
    text = API_PAGE.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for match in re.finditer(
        r"^\.\. automodule:: (\S+)\n((?:[ \t]+:.*\n)*)", text, flags=re.M
    ):
        found[match.group(1)] = [line.strip() for line in match.group(2).splitlines()]
    return found


def test_the_api_is_not_empty():
    assert len(API_OBJECTS) > 150


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_module_is_on_the_api_page_with_its_members(module_name):
    automodules = _automodules()
    assert module_name in automodules, (
        f"{API_PAGE.name} has no `.. automodule:: {module_name}`"
    )
    assert ":members:" in automodules[module_name], (
        f"{module_name}: the automodule directive lacks :members:"
    )
    module = importlib.import_module(module_name)
    # Without __all__, autodoc shows only what the module defines itself: the re-exports vanish.
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names what the module lacks: {missing}"


def _known_gap(name: str, value=None):
    """``value`` (default ``name``) as a pytest parameter, marked as an expected failure if it is a known gap."""
    value = name if value is None else value
    if name in KNOWN_GAPS:
        return pytest.param(
            *value if isinstance(value, tuple) else (value,),
            id=name,
            marks=pytest.mark.xfail(reason=KNOWN_GAPS[name], strict=True),
        )
    return pytest.param(*value if isinstance(value, tuple) else (value,), id=name)


TOP_LEVEL_MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(convref.__path__, "convref.")
    if not info.name.rpartition(".")[2].startswith("_")
)


@pytest.mark.parametrize(
    "module_name", [_known_gap(name) for name in TOP_LEVEL_MODULES]
)
def test_every_public_module_is_on_the_list(module_name):
    """A module or subpackage added to ``convref`` joins ``PUBLIC_MODULES`` (and the API page) or is private.

    (The operator subpackages' own modules, such as ``convref.reference.conv``, are covered
    through their package's ``__all__``.)
    """
    assert module_name in PUBLIC_MODULES, (
        f"{module_name} is missing from PUBLIC_MODULES and {API_PAGE.name}"
    )


@pytest.mark.parametrize(
    "qualname, obj", [_known_gap(name, (name, obj)) for name, obj in API_OBJECTS]
)
def test_public_object_has_a_complete_numpy_docstring(qualname, obj):
    problems = _problems(obj)
    assert not problems, f"{qualname}: " + "; ".join(problems)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_constants_have_a_doc_comment(module_name):
    """Autodoc shows a module-level constant only with a ``#:`` comment above its definition."""
    undocumented = []
    for name, obj in _public_members(module_name).items():
        if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj):
            continue
        homes = [module_name] + [m for m in _defining_modules(module_name, name)]
        if not any(
            ("", name) in ModuleAnalyzer.for_module(home).find_attr_docs()
            for home in homes
        ):
            undocumented.append(name)
    assert not undocumented, (
        f"{module_name}: constants without a #: doc comment: {undocumented}"
    )


def _defining_modules(package: str, name: str) -> list[str]:
    """The submodules of ``package`` that assign ``name`` (where a re-exported constant is documented)."""
    module = importlib.import_module(package)
    if not hasattr(module, "__path__"):
        return []
    return [
        info.name
        for info in pkgutil.iter_modules(module.__path__, package + ".")
        if name in vars(importlib.import_module(info.name))
    ]


# --- the checker itself catches what it should: docstrings broken on purpose ----------------------


SAMPLE_DOC = """Blur.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(N, C, H, W)``.
    k : int
        Kernel size.

    Returns
    -------
    torch.Tensor
        Output ``(N, C, H, W)``.
    """


def _with_doc(doc):
    def function(x: torch.Tensor, k: int = 3) -> torch.Tensor:
        return x

    function.__doc__ = doc
    return function


@pytest.mark.parametrize(
    "doc, problem",
    [
        (None, "no docstring"),
        ("Blur.", "no Parameters section"),
        (
            SAMPLE_DOC.replace("    k : int\n        Kernel size.\n", ""),
            "argument 'k' is not in the Parameters section",
        ),
        (
            SAMPLE_DOC.replace("Input ``(N, C, H, W)``.", "The input."),
            "argument 'x' is an array or tensor but its entry states no shape",
        ),
        (SAMPLE_DOC.split("    Returns")[0], "no Returns section"),
        (
            SAMPLE_DOC.replace("Output ``(N, C, H, W)``.", "The output."),
            "the Returns section states no shape",
        ),
    ],
    ids=[
        "missing",
        "no-parameters",
        "undocumented-argument",
        "argument-shape",
        "no-returns",
        "return-shape",
    ],
)
def test_the_checker_rejects_a_broken_docstring(doc, problem):
    assert _problems(_with_doc(SAMPLE_DOC)) == []
    found = _problems(_with_doc(doc))
    assert any(problem in p for p in found), found


def test_the_checker_wants_a_shape_section_on_layers():
    class Layer(torch.nn.Module):
        """A layer.

        Parameters
        ----------
        channels : int
            Channels.
        """

        def __init__(self, channels: int):
            super().__init__()

    assert any("Shape section" in p for p in _problems(Layer))
    Layer.__doc__ += "\n        Shape\n        -----\n        input ``(N, C, H, W)``, output ``(N, C, H, W)``.\n"
    assert _problems(Layer) == []
