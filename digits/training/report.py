"""The notebook's bookkeeping: its trained models saved with their training record, one row
of results per model, and the `reports/metrics.json` document.

A notebook model is saved as ``NAME.h5`` with a sidecar ``NAME.json`` (`digits.runtime.modelfile`)
whose ``training`` key holds `training_record`: the per-epoch history, the time and the
settings. Loading the model gives back that record, so a notebook run without training
still shows the curves and the times of the run that made the models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from digits.runtime.backend import keras
from digits.runtime.modelfile import ModelError, read_info, save_keras_model

if TYPE_CHECKING:
    from digits.training.train import TrainingResult

__all__ = [
    "training_record",
    "save_model",
    "load_model",
    "summarise",
    "build_metrics",
]


def training_record(run: TrainingResult) -> dict:
    """What to keep of a `digits.training.train.fit` result: JSON-ready numbers, history
    and settings."""
    return {
        "history": run.history,
        "seconds": round(run.seconds, 1),
        "epochs": run.epochs_run,
        "best_epoch": run.best_epoch,
        "best_val_accuracy": run.best_val_accuracy,
        "best_val_loss": run.best_val_loss,
        "kept_epoch": run.kept_epoch,
        "val_accuracy": run.val_accuracy,
        "val_loss": run.val_loss,
        "images_per_second": round(run.images_per_second),
        "config": run.config,
    }


def save_model(model: keras.Model, path: str | Path, record: dict) -> Path:
    """Save ``model`` as a Keras ``.h5`` file at ``path`` (atomically, without optimizer state)
    and its sidecar with ``record`` (a `training_record`) under ``training``."""
    return save_keras_model(model, path, include_optimizer=False, training=record)


def load_model(path: str | Path) -> tuple[keras.Model, dict]:
    """A model saved by `save_model` and its training record (checksum verified).

    Raises:
        ModelError: the file or its sidecar is missing, damaged or has no training record.
    """
    from digits.predict import load_model as load_checked

    path = Path(path)
    if not path.with_suffix(".json").is_file():
        raise ModelError(
            f"No model sidecar {path.with_suffix('.json')}: run the notebook with TRAIN = True "
            "to train and save the notebook's models."
        )
    info = read_info(path)
    record = info.extra.get("training")
    if not isinstance(record, dict) or "history" not in record:
        raise ModelError(f"{path.with_suffix('.json')} holds no training record.")
    return load_checked(path), record


def summarise(record: dict, result: dict, params: int) -> dict:
    """One model's row: test scores (``result`` from `digits.training.metrics.evaluate_model`), its
    validation scores and training time (``record`` from `training_record`) and its size."""
    return {
        "test_accuracy": result["accuracy"],
        "test_loss": result["loss"],
        "test_errors": int(result["errors"]),
        "val_accuracy": record["val_accuracy"],  # of the weights kept (best epoch, or average)
        "val_loss": record["val_loss"],
        "best_val_accuracy": record["best_val_accuracy"],  # of the best single epoch
        "best_val_loss": record["best_val_loss"],
        "params": int(params),
        "epochs": int(record["epochs"]),
        "best_epoch": int(record["best_epoch"]),
        "train_seconds": record["seconds"],
        "train_images_per_second": record["images_per_second"],
    }


def build_metrics(
    summary: dict[str, dict],
    best_model: str,
    shipped: dict,
    sizes: dict[str, int],
    parameters: dict,
    notebook_seconds: float,
    environment: dict,
) -> dict:
    """The `reports/metrics.json` document of a notebook run.

    Args:
        summary: `summarise` rows by model name.
        best_model: the name of the model with the best validation accuracy.
        shipped: the shipped model's file name, whether this run saved it and its scores.
        sizes: the number of training, validation and test images.
        parameters: the notebook's parameters.
        notebook_seconds: the wall time of the whole run.
        environment: `digits.training.metrics.environment()`.
    """
    if best_model not in summary:
        raise ValueError(f"best_model {best_model!r} is not one of {sorted(summary)}")
    return {
        "models": summary,
        "best_model": best_model,
        "saved_model": shipped,
        "train_size": sizes["train"],
        "validation_size": sizes["validation"],
        "test_size": sizes["test"],
        "parameters": parameters,
        "command": "make results  (papermill Handwritten-Digits-Recognition.ipynb, parameters "
        "above; make run: the same into build/notebook/)",
        "notebook_seconds": round(notebook_seconds, 1),
        # the machine's load (1, 5, 15 min) at the end of the run: timings on a shared machine
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "environment": environment,
    }
