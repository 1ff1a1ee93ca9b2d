"""``python -m convref.bench``: the tables it prints, its ``--json``, its options and its errors."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch

from convref import bench

MAIN_ARGS = [
    "--repeat",
    "1",
    "--size",
    "8",
    "--channels",
    "4",
    "--batch",
    "1",
    "--device",
    "cpu",
]
ALL_CASES = [
    "conv2d",
    "grouped",
    "depthwise",
    "separable",
    "dilated",
    "transposed",
    "layers",
    "non_local",
    "shift",
    "deformable",
    "deformable_depthwise",
    "adder",
    "dynamic",
    "lightweight",
]


def _tables(out: str) -> list[list[str]]:
    return [block.splitlines() for block in out.strip().split("\n\n")]


def test_main_prints_a_table(capsys):
    bench.main(["conv2d", *MAIN_ARGS])
    (lines,) = _tables(capsys.readouterr().out)
    assert lines[0].startswith("conv2d: N=1, C=4, 8x8, on cpu (torch ")
    assert lines[0].endswith("baseline = first row")
    assert lines[1].split() == [
        "implementation",
        "median",
        "ms",
        "x",
        "baseline",
        "mult-adds",
        "x",
    ]
    assert len(lines) == 5  # title, header, three implementations
    assert lines[2].startswith("torch conv2d (groups=1)")
    assert lines[2].split()[-2:] == [
        "1.00",
        "1.00",
    ]  # the baseline row: x baseline, mult-adds x


def test_a_sequence_case_names_its_length_not_an_image_size(capsys):
    bench.main(["lightweight", *MAIN_ARGS])
    (lines,) = _tables(capsys.readouterr().out)
    assert lines[0].startswith("lightweight: N=1, C=4, T=8, on cpu (torch ")


def test_main_runs_every_case_by_default(capsys):
    bench.main(MAIN_ARGS)
    tables = _tables(capsys.readouterr().out)
    assert [lines[0].split(":")[0] for lines in tables] == ALL_CASES
    for lines in tables:
        assert (
            "median ms" in lines[1]
            and "x baseline" in lines[1]
            and "mult-adds x" in lines[1]
        )
        columns = (
            4 if "peak MiB" in lines[1] else 2
        )  # the memory columns follow when measured
        baseline = (
            ["1.00", "0.00"] if lines[0].startswith("shift") else ["1.00", "1.00"]
        )  # a copy: no arithmetic
        assert lines[2].split()[-columns:][:2] == baseline
    # the last column, from the formulas: the full conv does groups (4) and channels (4) times the
    # work of the grouped and depthwise ones; 7x1 + 1x7 does 2/7 = 0.29 of the 7x7's
    assert (
        tables[1][-1].startswith("torch conv2d (groups=1, full)")
        and tables[1][-1].split()[-1] == "4.00"
    )
    assert (
        tables[2][-1].startswith("torch conv2d (groups=1, full)")
        and tables[2][-1].split()[-1] == "4.00"
    )
    assert [row.split()[-1] for row in tables[3][3:]] == ["0.29"] * 3


def test_main_runs_the_named_cases_in_order(capsys):
    bench.main(["separable", "grouped", *MAIN_ARGS])
    tables = _tables(capsys.readouterr().out)
    assert [lines[0].split(":")[0] for lines in tables] == ["separable", "grouped"]


def test_main_default_device(capsys):
    bench.main(
        ["conv2d", "--repeat", "1", "--size", "8", "--channels", "4", "--batch", "1"]
    )
    out = capsys.readouterr().out
    assert "torch conv2d (groups=1)" in out
    assert f"on {'cuda' if torch.cuda.is_available() else 'cpu'} " in out


def test_main_json_has_the_rows_of_each_case(capsys):
    bench.main(["shift", "grouped", *MAIN_ARGS, "--groups", "2", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert (
        document["torch"] == torch.__version__
        and document["device"] == "cpu"
        and document["threads"] == torch.get_num_threads() >= 1
    )
    # what the ratios were measured on, from sources other than the harness
    assert document["numpy"] == np.__version__
    assert document["python"] == platform.python_version()
    assert document["convref"] == importlib.metadata.version("convref")
    assert document["cpu_count"] == os.cpu_count()
    assert document["device_name"] and document["platform"] == platform.platform()
    assert [case["case"] for case in document["cases"]] == ["shift", "grouped"]
    shift, grouped = document["cases"]
    assert shift["params"] == dict(batch=1, channels=4, size=8)
    assert grouped["params"] == dict(
        batch=1, channels=4, size=8, kernel_size=3, groups=2
    )
    assert shift["title"].startswith("shift: N=1, C=4, 8x8, on cpu")
    for case in (shift, grouped):
        expected = bench.run_case(
            case["case"], repeat=1, device="cpu", **case["params"]
        )
        assert [row["name"] for row in case["rows"]] == [t.name for t in expected]
        assert [row["mult_adds"] for row in case["rows"]] == [
            t.mult_adds for t in expected
        ]
        assert case["rows"][0]["ratio"] == 1.0
        assert set(case["rows"][0]) == {
            "name",
            "seconds",
            "ratio",
            "mult_adds",
            "mult_adds_ratio",
            "peak_bytes",
            "memory_ratio",
        }


def test_main_rejects_an_unknown_case(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["conv2d", "deform_conv2d"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: deform_conv2d (choose from {', '.join(ALL_CASES)})" in err
    assert capsys.readouterr().out == ""  # nothing ran


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["grouped", "--channels", "6"],
            "--groups must divide --channels, got 4 and 6",
        ),
        (["conv2d", "--repeat", "0"], "--repeat must be >= 1, got 0"),
        (["conv2d", "--size", "-1"], "--size must be >= 1, got -1"),
        (["conv2d", "--threads", "0"], "--threads must be >= 1, got 0"),
    ],
)
def test_main_rejects_bad_options(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_main_threads_option_sets_and_reports_the_thread_count(capsys):
    before = torch.get_num_threads()
    try:
        bench.main(["conv2d", *MAIN_ARGS, "--threads", "1"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert ", 1 CPU threads); baseline = first row" in capsys.readouterr().out


def test_main_grouped_uses_the_groups_option(capsys):
    bench.main(
        [
            "grouped",
            "--repeat",
            "1",
            "--size",
            "6",
            "--channels",
            "6",
            "--batch",
            "1",
            "--groups",
            "3",
            "--device",
            "cpu",
        ]
    )
    assert "torch conv2d (groups=3)" in capsys.readouterr().out


def test_help_documents_every_option_and_case():
    parser = bench.cli.build_parser()
    text = parser.format_help()
    for action in parser._actions:
        assert action.help, action.dest
    for option in (
        "--device",
        "--threads",
        "--json",
        "--repeat",
        "--batch",
        "--channels",
        "--size",
        "--groups",
    ):
        assert option in text
    for name, case in bench.CASES.items():
        assert f"  {name}" in text and case.summary in text


def test_python_dash_m_runs_the_package():
    """``python -m convref.bench`` runs through ``__main__``, here as ``--json`` for one tiny case."""
    result = subprocess.run(
        [sys.executable, "-m", "convref.bench", "conv2d", *MAIN_ARGS, "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (case,) = json.loads(result.stdout)["cases"]
    assert [row["name"] for row in case["rows"]][0] == "torch conv2d (groups=1)"
