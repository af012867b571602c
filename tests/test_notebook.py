"""The whole notebook, executed top to bottom by papermill with tiny parameters.

It writes into a temporary folder: the committed notebook, model and reports are
never touched (checked by hashing them before and after).
"""

import hashlib
import json
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "Handwritten-Digits-Recognition.ipynb"
COMMITTED = [
    NOTEBOOK,
    ROOT / "hand_written_digits_prediction.h5",
    ROOT / "reports" / "metrics.json",
]


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.slow
def test_notebook_runs_end_to_end_with_tiny_parameters(tmp_path):
    before = {p: _digest(p) for p in COMMITTED}
    out = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "SIMPLE_EPOCHS": 1,
            "DEEPER_EPOCHS": 3,
            "DEEPER_AVERAGE": 1,
            "TRAIN_SUBSET": 2000,
            "VALIDATION_SIZE": 1000,
            "OUTPUT_DIR": str(tmp_path),
        },
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    assert {p: _digest(p) for p in COMMITTED} == before, (
        "the notebook test overwrote a committed file"
    )

    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert set(metrics["models"]) == {"Simple CNN", "Deeper CNN"}
    assert metrics["train_size"] == 2000 and metrics["test_size"] == 10000
    for name, m in metrics["models"].items():
        assert m["epochs"] == (1 if name == "Simple CNN" else 3) and m["params"] > 100_000
        assert 0.3 < m["test_accuracy"] <= 1.0, (
            name,
            m,
        )  # 1-3 epochs on 2,000 images: far above chance (0.1)
    assert metrics["best_model"] in metrics["models"]
    assert (tmp_path / "hand_written_digits_prediction.h5").stat().st_size > 100_000
    figures = {p.name for p in (tmp_path / "reports" / "figures").glob("*.png")}
    assert {
        "training_curves.png",
        "confusion_matrices.png",
        "digit_examples_predictions.png",
    } <= figures

    executed = json.loads(out.read_text())
    errors = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    text = "".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in executed["cells"]
        for o in c.get("outputs", [])
    )
    assert "Total params" in text or "params" in text  # the model summaries were printed
