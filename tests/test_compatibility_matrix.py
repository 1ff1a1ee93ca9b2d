"""The API page's compatibility matrix: how outcomes become marks, and the committed file.

``tests/compatibility_matrix.py`` writes the matrix from a run's outcomes; these tests
check its rendering on made-up outcomes (a failure shows, an unrun cell blocks the
write) and that the file the book includes has a row for every layer and no failure.
"""

from __future__ import annotations

from pathlib import Path

from compatibility_matrix import COLUMNS, NOT_APPLICABLE, missing_cells, render
from layer_cases import LAYERS

MATRIX = (
    Path(__file__).resolve().parents[1] / "book" / "_generated" / "compatibility.md"
)


def _all_passed() -> dict:
    return {
        (layer, column): [True]
        for layer in LAYERS
        for column in COLUMNS
        if (layer, column) not in NOT_APPLICABLE
    }


def _row(text: str, layer: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {layer} |")]
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_a_failed_test_marks_its_cell_and_no_other():
    outcomes = _all_passed()
    outcomes["Adder2d", "ONNX"] = [True, False]
    text = render(outcomes)
    row = _row(text, "Adder2d")
    assert row[list(COLUMNS).index("ONNX")] == "✗"
    assert row.count("✗") == 1
    assert all("✗" not in _row(text, layer) for layer in LAYERS if layer != "Adder2d")


def test_cells_without_a_test_say_why():
    text = render(_all_passed())
    for (layer, column), reason in NOT_APPLICABLE.items():
        assert _row(text, layer)[list(COLUMNS).index(column)].startswith("n/a[^compat-")
        assert reason in text


def test_a_run_that_missed_a_cell_is_partial():
    outcomes = _all_passed()
    assert missing_cells(outcomes) == []
    del outcomes["Conv2d", "compile"]
    assert missing_cells(outcomes) == [("Conv2d", "compile")]


def test_the_committed_matrix_has_every_layer_and_no_failure():
    """The file the API page includes was written by a run of the current layer table."""
    text = MATRIX.read_text(encoding="utf-8")
    for layer in LAYERS:
        assert len(_row(text, layer)) == len(COLUMNS), layer
    assert "| ✗" not in text and "✗ |" not in text
