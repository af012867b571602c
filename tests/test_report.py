import json
import os

import numpy as np
import pytest

from digits.runtime.modelfile import ModelError
from digits.training import cnns, report
from digits.training.train import TrainingResult


def _run(epochs: int = 3) -> TrainingResult:
    history = {
        "loss": [0.5, 0.2, 0.1][:epochs],
        "accuracy": [0.8, 0.9, 0.95][:epochs],
        "val_loss": [0.3, 0.1, 0.12][:epochs],
        "val_accuracy": [0.9, 0.97, 0.96][:epochs],
    }
    return TrainingResult(
        history=history,
        seconds=12.345,
        epochs_run=epochs,
        best_epoch=2,
        best_val_accuracy=0.97,
        best_val_loss=0.1,
        kept_epoch=3,
        val_accuracy=0.975,
        val_loss=0.09,
        images_per_second=1234.6,
        config={"epochs": epochs, "keep": "average"},
    )


def test_training_record_is_json_ready():
    record = report.training_record(_run())
    assert json.loads(json.dumps(record)) == record
    assert record["seconds"] == 12.3 and record["images_per_second"] == 1235
    assert record["epochs"] == 3 and record["history"]["val_accuracy"][1] == 0.97


def test_saved_model_loads_back_with_its_record(tmp_path):
    model = cnns.build_simple_cnn()
    record = report.training_record(_run())
    path = report.save_model(model, tmp_path / "models" / "simple_cnn.h5", record)
    assert sorted(p.name for p in path.parent.iterdir()) == ["simple_cnn.h5", "simple_cnn.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not a private temporary file's 0600
    loaded, loaded_record = report.load_model(path)
    assert loaded_record == record
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)


def test_load_model_refuses_a_changed_or_unrecorded_model(tmp_path):
    path = report.save_model(cnns.build_simple_cnn(), tmp_path / "m.h5", {"history": {}})
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ModelError, match="SHA-256"):
        report.load_model(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="TRAIN = True"):
        report.load_model(path)
    other = report.save_model(cnns.build_simple_cnn(), tmp_path / "o.h5", {"history": {}})
    sidecar = json.loads(other.with_suffix(".json").read_text())
    other.with_suffix(".json").write_text(json.dumps({"sha256": sidecar["sha256"]}))
    with pytest.raises(ModelError, match="no training record"):
        report.load_model(other)


def _summary() -> dict:
    record = report.training_record(_run())
    result = {"accuracy": 0.99, "loss": 0.03, "errors": np.int64(100)}
    return {
        "Simple CNN": report.summarise(record, result, np.int64(225_034)),
        "Deeper CNN": report.summarise(record, {**result, "errors": 42}, 331_306),
    }


def test_summary_keeps_counts_as_integers():
    row = _summary()["Simple CNN"]
    assert type(row["test_errors"]) is int and type(row["params"]) is int
    assert row["test_errors"] == 100 and row["params"] == 225_034 and row["epochs"] == 3
    assert row["val_accuracy"] == 0.975 and row["best_val_accuracy"] == 0.97
    assert row["train_seconds"] == 12.3


def test_build_metrics_records_the_run():
    summary = _summary()
    shipped = {"file": "m.h5", "from_this_run": False, "test_accuracy": 0.997}
    sizes = {"train": 55000, "validation": 5000, "test": 10000}
    metrics = report.build_metrics(
        summary, "Deeper CNN", shipped, sizes, {"TRAIN": True}, 321.06, {"python": "3"}
    )
    assert metrics["notebook_seconds"] == 321.1 and metrics["best_model"] == "Deeper CNN"
    assert len(metrics["load_average"]) == 3
    assert metrics["train_size"] == 55000 and metrics["saved_model"] == shipped
    assert json.loads(json.dumps(metrics)) == metrics
    with pytest.raises(ValueError, match="best_model"):
        report.build_metrics(summary, "Other", shipped, sizes, {}, 1.0, {})
