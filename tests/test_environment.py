"""environment.yml (conda / Binder) must list the same requirements as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# pyproject.toml's extras that the conda environment mirrors (everything but "dev").
MIRRORED_EXTRAS = ("viz", "test", "book")


def _normalise(requirement: str) -> tuple[str, str]:
    """``"Jupyter_Book >= 1.0.4, <2"`` -> ``("jupyter-book", ">=1.0.4,<2")``."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, f"unparsable requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def _pyproject_requirements() -> set[tuple[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in MIRRORED_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    # "convref[viz]" inside an extra names other extras, listed here already
    return {_normalise(r) for r in requirements if not r.startswith("convref[")}


def _environment_requirements() -> set[tuple[str, str]]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    requirements = []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            requirements += [r for r in entry["pip"] if not r.startswith("-e")]
        elif not entry.startswith(("python", "pip")) or entry.startswith("pip:"):
            requirements.append(entry)
    return {_normalise(r) for r in requirements}


def test_environment_yml_matches_pyproject():
    in_pyproject, in_environment = (
        _pyproject_requirements(),
        _environment_requirements(),
    )
    assert in_pyproject - in_environment == set(), (
        "in pyproject.toml but not in environment.yml"
    )
    assert in_environment - in_pyproject == set(), (
        "in environment.yml but not in pyproject.toml"
    )


def test_environment_installs_the_package_itself():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(
        entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)
    )
    assert "-e ." in pip_section


def test_environment_python_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pythons = [
        e
        for e in environment["dependencies"]
        if isinstance(e, str) and re.match(r"python\b", e)
    ]
    assert pythons == ["python" + project["requires-python"]]


def test_xdist_groups_run_in_one_worker(tmp_path):
    """``--dist loadgroup`` keeps a group's tests in one process, as make browser needs.

    The browser tests of one page share one opening of it, and the PDF tests one
    printing of the book, only when their group runs in one worker; a pytest that drops
    pytest-xdist's group suffix (9.2) scatters them without any error.
    """
    import subprocess
    import sys

    (tmp_path / "test_group.py").write_text(
        "import os\n"
        "import pytest\n"
        "pytestmark = pytest.mark.xdist_group('together')\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_worker(n):\n"
        "    with open(f'worker{n}.txt', 'w') as f:\n"
        "        f.write(os.environ['PYTEST_XDIST_WORKER'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q"]
        + ["-p", "no:cacheprovider", "test_group.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers = {(tmp_path / f"worker{n}.txt").read_text() for n in range(6)}
    assert len(workers) == 1, f"one group ran in {sorted(workers)}"
