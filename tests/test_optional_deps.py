"""A practitioner's install: convref's operators and layers need only NumPy and PyTorch.

Each check runs a fresh interpreter in which matplotlib and ipywidgets cannot be
imported (``sys.modules[name] = None`` makes ``import name`` raise, as in an environment
without them), so that nothing this test process imported can hide a dependency.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("matplotlib", "ipywidgets")


def _run_without(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter where the modules ``blocked`` cannot be imported."""
    prologue = "import sys\n" + "".join(
        f"sys.modules[{name!r}] = None\n" for name in blocked
    )
    return subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_the_package_declares_only_numpy_and_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("=")[0].split("<")[0].strip()
        for requirement in project["dependencies"]
    }
    assert names == {"numpy", "torch"}
    viz = " ".join(project["optional-dependencies"]["viz"])
    assert all(name in viz for name in OPTIONAL), viz


def test_every_module_but_the_figures_imports_without_matplotlib_and_ipywidgets():
    result = _run_without(
        OPTIONAL,
        """
        import importlib, pkgutil
        import convref
        skipped = ("convref.viz", "convref.widgets")
        names = [
            info.name
            for info in pkgutil.walk_packages(convref.__path__, "convref.")
            if not info.name.startswith(skipped)
        ]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 30  # the walk found the package's modules


def test_layers_train_without_matplotlib_and_ipywidgets():
    result = _run_without(
        OPTIONAL,
        """
        import torch
        from convref import nn
        torch.manual_seed(0)
        layers = torch.nn.Sequential(
            nn.DepthwiseSeparableConv2d(3, 8, 3, padding=1),
            nn.DCN2d(8, 8, 3, padding=1, modulated=True),
            nn.Adder2d(8, 4, 3, padding=1),
        )
        x = torch.randn(2, 3, 8, 8)
        layers(x).square().mean().backward()
        grads = [p.grad for p in layers.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        print("ok")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "module, missing",
    [
        ("convref.viz", "matplotlib"),
        ("convref.widgets", "matplotlib"),
        ("convref.widgets", "ipywidgets"),
    ],
)
def test_the_figures_say_which_install_brings_what_they_need(module, missing):
    result = _run_without(
        (missing,),
        f"""
        try:
            import {module}
        except ModuleNotFoundError as error:
            print(error.name)
            print(error)
        else:
            print("imported")
        """,
    )
    assert result.returncode == 0, result.stderr
    name, message = result.stdout.split("\n", 1)
    assert name == missing
    assert module in message and missing in message
    assert 'pip install "convref[viz]"' in message
