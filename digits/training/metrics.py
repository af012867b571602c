"""Measure trained models on the test set and compare them.

Plain functions over arrays: accuracy and loss, the confusion matrix, per-class
reports, the most confused pairs of digits and the misclassified images. Saving the
results (`save_metrics`) and the best model (`save_best_model`) are the only functions
here that write files.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from digits.runtime.backend import keras
from digits.runtime.modelfile import DIGIT_CLASSES, atomic_write_json, save_keras_model
from digits.training.data import scale

__all__ = [
    "predict_probabilities",
    "evaluate_model",
    "confusion",
    "classification_table",
    "per_class_accuracy",
    "most_confused_pairs",
    "misclassified",
    "comparison_table",
    "environment",
    "save_metrics",
    "save_best_model",
]


def predict_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 1024
) -> np.ndarray:
    """Softmax probabilities (N, 10) for uint8 images (N, 28, 28).

    Every model (and batch shape) needs its own traced ``predict`` graph; TensorFlow counts
    those traces across models and warns about "retracing" after five, which is expected when
    several models are scored in turn, so that warning is silenced during the call."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        return model.predict(scale(images), batch_size=batch_size, verbose=0)
    finally:
        tf_logger.setLevel(level)


def evaluate_model(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss, predicted labels and probabilities on uint8 images."""
    probabilities = predict_probabilities(model, images)
    labels = np.asarray(labels, dtype=int)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    predicted = probabilities.argmax(axis=1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "loss": float(-np.mean(np.log(picked))),
        "errors": int(np.sum(predicted != labels)),
        "predicted": predicted,
        "probabilities": probabilities,
    }


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10x10 confusion matrix: rows are true digits, columns predicted digits."""
    return confusion_matrix(labels, predicted, labels=list(range(10)))


def classification_table(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """scikit-learn's classification report (precision, recall, F1, support) as a DataFrame:
    one row per digit, then the macro and weighted averages (the accuracy is the weighted
    average's recall)."""
    report = classification_report(
        labels, predicted, labels=list(range(10)), digits=4, output_dict=True, zero_division=0
    )
    report.pop("accuracy", None)  # a single number, not a row of four
    table = pd.DataFrame(report).T
    table["support"] = table["support"].astype(int)
    return table


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray) -> pd.Series:
    """Share of each digit's test images that were classified correctly (its recall)."""
    matrix = confusion(labels, predicted)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.diag(matrix) / matrix.sum(axis=1)
    return pd.Series(values, index=pd.Index(range(10), name="digit"), name="accuracy")


def most_confused_pairs(matrix: np.ndarray, k: int = 5) -> pd.DataFrame:
    """The ``k`` unordered digit pairs {a, b} most often mistaken for each other.

    Columns: ``pair`` ("a/b"), ``a_as_b``, ``b_as_a`` and ``total`` errors.
    """
    rows = []
    for a in range(10):
        for b in range(a + 1, 10):
            rows.append(
                {
                    "pair": f"{a}/{b}",
                    "a": a,
                    "b": b,
                    "a_as_b": int(matrix[a, b]),
                    "b_as_a": int(matrix[b, a]),
                }
            )
    table = pd.DataFrame(rows)
    table["total"] = table["a_as_b"] + table["b_as_a"]
    return (
        table.sort_values(["total", "pair"], ascending=[False, True]).head(k).reset_index(drop=True)
    )


def misclassified(
    labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray
) -> pd.DataFrame:
    """Every wrongly classified image: its index, true and predicted digit and the confidence,
    most confident mistakes first."""
    labels = np.asarray(labels, dtype=int)
    index = np.flatnonzero(predicted != labels)
    table = pd.DataFrame(
        {
            "index": index,
            "true": labels[index],
            "predicted": predicted[index],
            "confidence": probabilities[index, predicted[index]],
        }
    )
    return table.sort_values("confidence", ascending=False).reset_index(drop=True)


def comparison_table(results: dict[str, dict]) -> pd.DataFrame:
    """One row per model from ``{name: metrics}`` dicts (as stored in metrics.json);
    ``val_accuracy`` is that of the weights the model kept."""
    columns = [
        "test_accuracy",
        "test_loss",
        "test_errors",
        "val_accuracy",
        "params",
        "epochs",
        "train_seconds",
    ]
    table = pd.DataFrame.from_dict(
        {name: {c: m.get(c) for c in columns} for name, m in results.items()}, orient="index"
    )
    counts = ["test_errors", "params", "epochs"]
    return table.astype({c: "Int64" for c in counts})  # whole numbers, shown without ".0"


def environment() -> dict:
    """Library versions and machine facts to store beside the numbers."""
    import sklearn

    from digits.runtime.backend import tf

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def save_metrics(metrics: dict, path: str | Path) -> Path:
    """Write ``metrics`` as indented JSON, atomically (creating the folder); returns the path."""
    return atomic_write_json(path, metrics)


def save_best_model(
    model: keras.Model,
    path: str | Path,
    x_val: np.ndarray,
    y_val: np.ndarray,
    replace: str = "if_better",
) -> dict:
    """Save ``model`` to ``path`` (Keras .h5) and its sidecar unless the model there is as good.

    Both are scored on the same validation images (uint8 ``x_val``, integer ``y_val``), never
    on the test set. With ``replace="if_better"`` (default) the new model replaces the existing
    one only if it is better on **both** measures: a lower validation loss and at least the
    same validation accuracy (on 5,000 images accuracy moves 0.02% at a time, and the loss
    favours some recipes over others, so neither alone is a fair judge). ``replace="always"``
    overwrites. The file is written to a temporary file beside ``path`` and renamed into place,
    then its sidecar (`digits.runtime.modelfile.write_info`: checksum, digit classes,
    temperature 1).

    Returns a dict: ``saved`` (bool), ``path``, ``val_loss`` and ``val_accuracy`` of the new
    model, ``existing_val_loss`` and ``existing_val_accuracy`` (None when there was no
    readable model at ``path``).
    """
    if replace not in ("if_better", "always"):
        raise ValueError(f"replace must be 'if_better' or 'always', not {replace!r}")
    path = Path(path)
    new = evaluate_model(model, x_val, y_val)
    existing = None
    if path.exists() and replace == "if_better":
        try:
            existing = evaluate_model(keras.models.load_model(path, compile=False), x_val, y_val)
        except Exception:  # unreadable or not a digits model: it will be replaced
            existing = None
    saved = existing is None or (
        new["loss"] < existing["loss"] and new["accuracy"] >= existing["accuracy"]
    )
    if saved:
        save_keras_model(model, path, class_names=list(DIGIT_CLASSES), temperature=1.0)
    return {
        "saved": saved,
        "path": str(path),
        "val_loss": new["loss"],
        "val_accuracy": new["accuracy"],
        "existing_val_loss": None if existing is None else existing["loss"],
        "existing_val_accuracy": None if existing is None else existing["accuracy"],
    }
