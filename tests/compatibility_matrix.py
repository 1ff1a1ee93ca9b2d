"""The compatibility matrix of the API page, written from the outcomes of the tests that check it.

A test is a cell of the matrix when it carries ``@pytest.mark.compat(column)``; its row is
the layer in its ``name`` parameter (or the mark's ``layer=``). A cell shows ✓ when every
test of it passed and ✗ when one failed. With ``--compatibility-matrix PATH`` (as
``make unit`` runs), a session that ran every cell writes the table to ``PATH``, a MyST
file that ``book/api.md`` includes; a partial run (``-k``, one file) writes nothing.

The hooks run in the pytest-xdist controller too: the workers' reports reach it with the
cell in their ``user_properties``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from layer_cases import (
    COMPILE_TOLERANCE,
    EXPORT_TOLERANCE,
    HALF_TOLERANCE,
    LAYERS,
    TOLERANCE,
)


def _e(value: float) -> str:
    """A tolerance as the page writes it: ``1e-2``, ``4e-2``, ``1e-10``."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


#: The columns, in order, with what their tests check (the tests' own tolerances).
COLUMNS = {
    "float16": f"the layer and input in `float16`: output within {_e(HALF_TOLERANCE[torch.float16])} of float32, finite gradients",
    "bfloat16": f"the same in `bfloat16`, within {_e(HALF_TOLERANCE[torch.bfloat16])}",
    "autocast": f'under `torch.autocast("cpu", dtype=torch.bfloat16)`: within {_e(TOLERANCE["bfloat16 autocast"])}, and a training step with finite gradients',
    "channels_last": f"model and input in `torch.channels_last`: within {_e(TOLERANCE['channels_last'])}",
    "compile": f"`torch.compile(fullgraph=True)` (one graph, Inductor): float64 output and every gradient within {_e(COMPILE_TOLERANCE)} of eager",
    "ONNX": f"`torch.onnx.export` with a dynamic batch size; onnxruntime on another batch size within {_e(EXPORT_TOLERANCE)}",
    "DDP": "`DistributedDataParallel`, 2 processes (gloo): gradients equal on both and to the one-process step",
    "deterministic": "`torch.use_deterministic_algorithms(True)`: two training steps bitwise equal",
}

#: Why a 1-D layer (input ``(N, C, L)``) has no channels_last cell.
ONE_D = "a 1-D layer: channels_last is a 4-D format"

#: Cells that have nothing to test, with the reason the page gives.
NOT_APPLICABLE = {
    ("CausalConv1d", "channels_last"): ONE_D,
    ("LightweightConv1d", "channels_last"): ONE_D,
    ("DynamicLightweightConv1d", "channels_last"): ONE_D,
    ("ChannelShuffle", "DDP"): "no parameters: nothing to all-reduce",
    ("Shift2d", "DDP"): "no parameters: nothing to all-reduce",
}

#: Footnotes on cells that pass with a condition the page must state.
NOTES = {
    ("Adder2d", "DDP"): (
        'equal to the one-process step with `scale_when="on_call"` and '
        "`nn.scale_adder_gradients_` after `backward()`; the default in-backward "
        "scaling takes each process's own gradient norm (7e-4 relative in the test)"
    ),
}


def add_option(parser) -> None:
    """The ``--compatibility-matrix PATH`` option (from ``conftest.pytest_addoption``)."""
    parser.addoption(
        "--compatibility-matrix",
        metavar="PATH",
        help="write the layer compatibility matrix (MyST) to PATH after a run of every cell",
    )


def register(config) -> None:
    """The ``compat`` mark and the collecting plugin (from ``conftest.pytest_configure``)."""
    config.addinivalue_line(
        "markers",
        "compat(column, layer=None): a cell of the API page's compatibility matrix",
    )
    config.pluginmanager.register(
        CompatibilityMatrix(config.getoption("--compatibility-matrix")),
        "compatibility-matrix",
    )


def cell_of(item) -> tuple[str, str] | None:
    """The ``(layer, column)`` that a test item checks, or None."""
    mark = item.get_closest_marker("compat")
    if mark is None:
        return None
    callspec = getattr(item, "callspec", None)
    layer = mark.kwargs.get("layer") or (callspec.params["name"] if callspec else None)
    column = mark.args[0]
    if layer not in LAYERS or column not in COLUMNS:
        raise pytest.UsageError(
            f"{item.nodeid}: no matrix cell ({layer!r}, {column!r})"
        )
    return layer, column


class CompatibilityMatrix:
    """Collects each cell's outcomes during a session and writes the table at its end."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self.outcomes: dict[tuple[str, str], list[bool]] = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            cell = cell_of(item)
            if cell is not None:
                item.user_properties.append(("compat", cell))

    def pytest_runtest_logreport(self, report):
        cell = dict(report.user_properties).get("compat")
        if cell is None or report.skipped:
            return
        if report.when == "call" or report.failed:  # a failed setup counts as a failure
            self.outcomes.setdefault(tuple(cell), []).append(report.passed)

    def pytest_sessionfinish(self, session):
        if self.path is None or hasattr(session.config, "workerinput"):
            return  # not asked for, or a pytest-xdist worker: the controller writes
        missing = missing_cells(self.outcomes)
        if missing:  # a partial run, or a cell that no test checks
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"compatibility matrix not written: {len(missing)} cells not run,"
                    f" such as {missing[0]}"
                )
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(self.outcomes), encoding="utf-8")


def missing_cells(outcomes: dict) -> list[tuple[str, str]]:
    """The cells with a test to run that this session did not run."""
    return [
        (layer, column)
        for layer in LAYERS
        for column in COLUMNS
        if (layer, column) not in NOT_APPLICABLE and (layer, column) not in outcomes
    ]


def _footnote(text: str, footnotes: list[str]) -> str:
    """A reference to the footnote ``text``, numbered in order of first use."""
    if text not in footnotes:
        footnotes.append(text)
    return f"[^compat-{footnotes.index(text) + 1}]"


def _mark(layer: str, column: str, outcomes: dict, footnotes: list[str]) -> str:
    if (layer, column) in NOT_APPLICABLE:
        return "n/a" + _footnote(NOT_APPLICABLE[layer, column], footnotes)
    mark = "✓" if all(outcomes[layer, column]) else "✗"
    if (layer, column) in NOTES:
        mark += _footnote(NOTES[layer, column], footnotes)
    return mark


def _heading(column: str) -> str:
    """A column's name as the table heads it: words that can wrap in a narrow column."""
    return column.replace("_", " ").replace("deterministic", "deter&shy;ministic")


def render(outcomes: dict) -> str:
    """The matrix as MyST: a table, the columns' tests, the footnotes."""
    footnotes: list[str] = []
    tests = sum(len(results) for results in outcomes.values())
    lines = [
        "<!-- Written by the test run (tests/compatibility_matrix.py); do not edit. -->",
        "",
        f"Written by the test run that checked it: {tests} tests, with torch "
        f"{torch.__version__.split('+')[0]} on the CPU. ✓: every test of the cell passed; "
        "✗: one failed.",
        "",
        ":::{div} compat-matrix",  # compact and centred: convref.css
        "| layer | " + " | ".join(_heading(column) for column in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for layer in LAYERS:
        marks = [_mark(layer, column, outcomes, footnotes) for column in COLUMNS]
        lines.append(f"| {layer} | " + " | ".join(marks) + " |")
    lines += [":::", "", "What each column's tests check:", ""]
    lines += [f"- **{column}**: {what}." for column, what in COLUMNS.items()]
    lines.append("")
    lines += [f"[^compat-{i}]: {text}." for i, text in enumerate(footnotes, start=1)]
    return "\n".join(lines) + "\n"
