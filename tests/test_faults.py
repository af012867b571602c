"""Fault test: kill a training run mid-epoch, rerun it, and check that it resumes from the
last finished epoch, finishes with a valid model, and never touches the old model file
before the new one is complete and better."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture()
def old_model(tmp_path) -> Path:
    """An untrained Simple CNN with its sidecar: what a finished run must beat."""
    from digits.runtime.modelfile import save_keras_model
    from digits.training.cnns import build_simple_cnn

    return save_keras_model(build_simple_cnn(), tmp_path / "model.h5")


def _command(out: Path, backup: Path) -> list[str]:
    return [sys.executable, "-m", "lab.train_resumable", "--out", str(out)] + [
        "--backup-dir", str(backup), "--epochs", "3", "--subset", "1000",
    ]  # fmt: skip


def test_killed_training_resumes_and_the_old_model_survives(tmp_path, old_model):
    from digits.predict import Predictor

    original = old_model.read_bytes()
    backup = tmp_path / "backup"
    child = subprocess.Popen(
        _command(old_model, backup), stdout=subprocess.PIPE, text=True, env=ENV
    )
    lines = []
    for line in child.stdout:  # wait for the first finished epoch (its backup is written)
        lines.append(line)
        if line.startswith("epoch 1/3 done"):
            break
    child.send_signal(signal.SIGKILL)  # in epoch 2: no clean-up, no chance to save
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, lines
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] >= 1
    assert old_model.read_bytes() == original  # untouched

    rerun = subprocess.run(
        _command(old_model, backup), capture_output=True, text=True, env=ENV, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    epochs = [line for line in rerun.stdout.splitlines() if line.startswith("epoch ")]
    assert "(resuming)" in rerun.stdout
    assert epochs and not epochs[0].startswith("epoch 1/"), rerun.stdout  # not from scratch
    assert epochs[-1].startswith("epoch 3/3 done")
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert result["saved"] and result["val_accuracy"] > 0.7
    assert old_model.read_bytes() != original
    assert Predictor(old_model).info.sha256 is not None  # loads, checksum verified
    assert not backup.exists()


def test_a_worse_model_does_not_replace_a_better_one(tmp_path, small_model_path):
    """The old file is kept when the new run is not better (the 1-epoch fixture model,
    trained on 6,000 images, beats 1 epoch on 200)."""
    import shutil

    target = tmp_path / "model.h5"
    shutil.copyfile(small_model_path, target)
    original = target.read_bytes()
    command = _command(target, tmp_path / "backup")
    command[command.index("--epochs") + 1] = "1"
    command[command.index("--subset") + 1] = "200"
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["saved"] is False
    assert target.read_bytes() == original
