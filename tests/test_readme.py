"""The README stays true: its code runs, and its two commands exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "the README shows how to use convref in Python"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_commands_are_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    commands = re.findall(r"^make (\w+)", README, flags=re.M)
    assert {"book", "test"} <= set(commands)
    for target in commands:
        assert re.search(rf"^{target}:", makefile, flags=re.M), (
            f"README mentions `make {target}`, the Makefile lacks it"
        )


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)


def test_readme_lists_every_chapter():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            path = ROOT / f"{chapter['file']}.ipynb"
            if not path.exists():
                continue
            title = re.search(r'"# (.+?)\\n', path.read_text()).group(1)
            assert title in README, (
                f"chapter {title!r} is missing from the README's chapter list"
            )
