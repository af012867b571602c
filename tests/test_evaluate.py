"""Metrics and comparison helpers."""

import json

import numpy as np
import pytest

from digits.training import metrics


def test_confusion_and_pairs():
    labels = np.array([3, 3, 5, 5, 4, 9, 9, 1])
    predicted = np.array([5, 3, 3, 5, 9, 4, 4, 1])
    matrix = metrics.confusion(labels, predicted)
    assert (
        matrix.shape == (10, 10) and matrix[3, 5] == 1 and matrix[5, 3] == 1 and matrix[9, 4] == 2
    )
    pairs = metrics.most_confused_pairs(matrix, k=2)
    assert pairs["pair"].tolist() == ["4/9", "3/5"]
    assert (
        pairs.loc[0, "a_as_b"] == 1 and pairs.loc[0, "b_as_a"] == 2 and pairs.loc[0, "total"] == 3
    )
    accuracy = metrics.per_class_accuracy(labels, predicted)
    assert accuracy[3] == 0.5 and accuracy[9] == 0.0 and accuracy[1] == 1.0


def test_classification_table_and_misclassified():
    labels = np.array([0, 1, 1, 2])
    predicted = np.array([0, 1, 2, 2])
    probabilities = np.eye(10)[predicted] * 0.9 + 0.01
    table = metrics.classification_table(labels, predicted)
    assert table.loc["1", "recall"] == pytest.approx(0.5) and table.loc[
        "2", "precision"
    ] == pytest.approx(0.5)
    assert "accuracy" not in table.index  # no row of one number repeated, support 0
    wrong = metrics.misclassified(labels, predicted, probabilities)
    assert wrong.to_dict("records") == [
        {"index": 2, "true": 1, "predicted": 2, "confidence": pytest.approx(0.91)}
    ]


class Constant:
    """Stands in for a Keras model: always the same probabilities."""

    def __init__(self, row):
        self.row = np.asarray(row, dtype=np.float32)

    def predict(self, x, batch_size=None, verbose=0):
        assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32 and x.max() <= 1.0
        return np.tile(self.row, (len(x), 1))


def test_evaluate_model_accuracy_and_loss():
    images = np.full((4, 28, 28), 255, dtype=np.uint8)
    row = np.full(10, 0.05)
    row[7] = 0.55
    result = metrics.evaluate_model(Constant(row), images, np.array([7, 7, 7, 1]))
    assert result["accuracy"] == 0.75 and result["errors"] == 1
    assert result["loss"] == pytest.approx(-(3 * np.log(0.55) + np.log(0.05)) / 4, rel=1e-5)


def test_save_metrics_round_trip(tmp_path):
    path = metrics.save_metrics(
        {"a": 1, "env": metrics.environment()}, tmp_path / "reports" / "metrics.json"
    )
    loaded = json.loads(path.read_text())
    assert loaded["a"] == 1 and loaded["env"]["tensorflow"].startswith("2.")


def test_save_best_model_keeps_a_better_existing_model(tmp_path):
    from digits.training import cnns

    rng = np.random.default_rng(0)
    x_val = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    good = cnns.build_simple_cnn()
    kernel, bias = good.layers[-1].get_weights()
    good.layers[-1].set_weights(
        [kernel * 1000.0, bias]
    )  # confident: a loss near 0, not near log(10)
    y_val = good.predict(x_val[..., None] / 255.0, verbose=0).argmax(
        1
    )  # 'good' is right on every image
    bad = cnns.build_simple_cnn()
    path = tmp_path / "model.h5"

    first = metrics.save_best_model(good, path, x_val, y_val)
    assert (
        first["saved"] and first["existing_val_accuracy"] is None and first["val_accuracy"] == 1.0
    )
    stamp = path.read_bytes()
    second = metrics.save_best_model(bad, path, x_val, y_val)
    assert not second["saved"] and second["existing_val_accuracy"] == 1.0
    assert (
        second["existing_val_loss"] == pytest.approx(first["val_loss"])
        and second["val_accuracy"] < 1.0
    )
    assert path.read_bytes() == stamp  # the better model was not overwritten
    assert second["val_loss"] > second["existing_val_loss"]
    third = metrics.save_best_model(bad, path, x_val, y_val, replace="always")
    assert third["saved"] and path.read_bytes() != stamp
    with pytest.raises(ValueError, match="replace"):
        metrics.save_best_model(bad, path, x_val, y_val, replace="sometimes")


def test_save_best_model_replaces_only_a_model_worse_on_loss_and_accuracy(tmp_path):
    from digits.training import cnns

    x_val = np.random.default_rng(1).integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    sharp, soft = cnns.build_simple_cnn(), cnns.build_simple_cnn()
    # 'sharp' (logits scaled up) is very confident: right on all but the 8 relabelled
    # images, where its loss is huge; 'soft' always answers a uniform 10%: lower accuracy,
    # lower loss.
    kernel, bias = sharp.layers[-1].get_weights()
    sharp.layers[-1].set_weights([kernel * 1000.0, bias])
    y_val = sharp.predict(x_val[..., None] / 255.0, verbose=0).argmax(1)
    y_val[:8] = (y_val[:8] + 1) % 10
    soft.layers[-1].set_weights([kernel * 0.0, bias * 0.0])
    scores = {
        name: metrics.evaluate_model(m, x_val, y_val)
        for name, m in (("sharp", sharp), ("soft", soft))
    }
    assert (
        scores["sharp"]["accuracy"] > scores["soft"]["accuracy"]
        and scores["sharp"]["loss"] > scores["soft"]["loss"]
    )
    path = tmp_path / "model.h5"
    metrics.save_best_model(sharp, path, x_val, y_val)
    result = metrics.save_best_model(soft, path, x_val, y_val)  # lower loss, lower accuracy: kept
    assert not result["saved"] and result["existing_val_accuracy"] > result["val_accuracy"]
    assert result["existing_val_loss"] > result["val_loss"]
    metrics.save_best_model(soft, path, x_val, y_val, replace="always")
    result = metrics.save_best_model(
        sharp, path, x_val, y_val
    )  # higher accuracy, higher loss: kept too
    assert not result["saved"] and result["val_accuracy"] > result["existing_val_accuracy"]
    y_val[:8] = sharp.predict(x_val[:8, ..., None] / 255.0, verbose=0).argmax(
        1
    )  # now 'sharp' is right everywhere
    result = metrics.save_best_model(sharp, path, x_val, y_val)  # better on both: replaces
    assert result["saved"] and result["val_loss"] < result["existing_val_loss"]


def test_save_best_model_writes_the_sidecar_and_no_temporary_files(tmp_path):
    from digits.runtime.modelfile import read_info, write_info
    from digits.training import cnns

    x_val = np.zeros((4, 28, 28), np.uint8)
    path = tmp_path / "model.h5"
    path.write_bytes(b"not a model")
    write_info(path, temperature=2.5)  # a stale calibration of the file being replaced
    result = metrics.save_best_model(cnns.build_simple_cnn(), path, x_val, np.arange(4))
    assert result["saved"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.h5",
        "model.json",
    ]
    info = read_info(path)  # verifies the checksum against the new file
    assert info.temperature == 1.0 and info.class_names == tuple("0123456789")


def test_comparison_table_shows_counts_as_whole_numbers():
    results = {"Simple CNN": {"test_accuracy": 0.9935, "test_errors": 65, "params": 225034}}
    table = metrics.comparison_table(results)
    text = table.to_string()
    assert "65.0" not in text and "225034.0" not in text and "225034" in text
    assert table.loc["Simple CNN", "test_accuracy"] == 0.9935
