"""The machine reference (`digits.machine`) and its benchmark (`benchmarks/machine.py`)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from digits import machine

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "benchmarks" / "machine.py"


def test_flops_of_the_simple_cnn_are_counted_by_hand():
    from digits.training.cnns import build_simple_cnn

    conv1 = 2 * 26 * 26 * 3 * 3 * 1 * 32
    conv2 = 2 * 11 * 11 * 3 * 3 * 32 * 64
    dense = 2 * 1600 * 128 + 2 * 128 * 10
    assert machine.model_flops(build_simple_cnn()) == conv1 + conv2 + dense


def test_agreement_is_the_range_over_the_mean():
    def run(gflops):
        return {
            "matmul": {"gflops": gflops},
            "keras_train_step": {"images_per_second": 100.0, "gflops": 1.0},
            "litert": {"images_per_second": 50.0},
        }

    agree = machine.agreement([run(90.0), run(110.0)])
    assert agree["matmul GFLOP/s"] == pytest.approx(0.2)
    assert agree["LiteRT images/s"] == 0.0


def test_a_quick_reference_is_written_with_its_command(tmp_path):
    out = tmp_path / "machine.json"
    command = [sys.executable, str(BENCHMARK), "--runs", "1", "--quick", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "| matmul GFLOP/s |" in done.stdout
    report = json.loads(out.read_text())
    assert report["command"].startswith("python benchmarks/machine.py")
    (run,) = report["runs"]
    for part in ("matmul", "keras_train_step", "litert"):
        assert run[part]["spread"] >= 0 and run[part]["repeats"] == 3
    assert run["matmul"]["gflops"] > 0 and run["keras_train_step"]["images_per_second"] > 0
    assert run["usable_cpus"] >= 1 and run["quick"] is True
    assert "GFLOP/s" in machine.summary(run)
