"""The training script of the book's "Using convref in your model" page runs as it says.

``examples/train_with_convref.py`` is run as a user would run it: with mixed precision and
channels_last in one process, and under ``torchrun`` on two processes (DDP over gloo, on
the loopback interface). Each run must exit 0, which the script does only when training
lowered the loss. ``--compile`` is left out here: compiling the model takes minutes on
two cores; the layers' compiled forward and backward are the subject of their own tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_with_convref.py"


@pytest.mark.parametrize(
    "launcher, flags",
    [
        ([sys.executable], ["--amp", "--channels-last"]),
        (
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"],
            ["--amp"],
        ),
    ],
    ids=["one process", "torchrun, two processes"],
)
def test_training_script_lowers_the_loss(launcher, flags):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launcher, str(SCRIPT), "--steps", "30", *flags],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    processes = 2 if "torch.distributed.run" in launcher else 1
    assert f"{processes} process(es)" in result.stdout, result.stdout
