"""The training script of the book's "Using convref in your model" page runs as it says.

``examples/train_with_convref.py`` is run as a user would run it: in one process with
mixed precision, channels_last, ``torch.compile`` and an ONNX export, and under
``torchrun`` on two processes (DDP over gloo, on the loopback interface). Each run must
exit 0, which the script does only when training lowered the loss (and, with ``--onnx``,
when onnxruntime's outputs match the model's); the trained model must classify new
images better than chance in eval mode; and the exported model must run in onnxruntime
on a batch size of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_with_convref.py"


@pytest.mark.parametrize(
    "launcher, flags",
    [
        (
            [sys.executable],
            ["--amp", "--channels-last", "--compile", "--onnx", "{folder}/model.onnx"],
        ),
        (
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"],
            ["--amp"],
        ),
    ],
    ids=["one process", "torchrun, two processes"],
)
def test_training_script_lowers_the_loss(launcher, flags, tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    flags = [flag.format(folder=tmp_path) for flag in flags]
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
    accuracy, chance = map(
        float,
        re.search(
            r"eval accuracy ([\d.]+) .* \(chance ([\d.]+)\)", result.stdout
        ).groups(),
    )
    # 256 images: chance's standard error is 0.03, so 0.1 above it is no accident
    assert accuracy > chance + 0.1, result.stdout
    if "--onnx" in flags:
        assert "onnxruntime's outputs within" in result.stdout, result.stdout
        _run_exported_model(tmp_path / "model.onnx")


def _run_exported_model(path: Path) -> None:
    """The exported model runs in onnxruntime on 5 images: 5 rows of class scores."""
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    (name,) = [node.name for node in session.get_inputs()]
    images = np.random.default_rng(0).random((5, 1, 24, 24), dtype=np.float32)
    (scores,) = session.run(None, {name: images})
    assert scores.shape[0] == 5 and np.isfinite(scores).all()
