"""Training that survives being killed: resumable epochs and an all-or-nothing final save.

`resumable_callbacks(backup_dir)` gives the Keras callbacks to pass to
``digits.training.train.fit(..., callbacks=...)``: after every finished epoch the weights, optimiser
state and epoch number are saved in ``backup_dir`` (two copies, so a kill during the save
leaves the previous one), and a rerun with the same ``backup_dir`` continues from the last
finished epoch instead of starting again. `save_if_better` then replaces the model file
only when the new model is complete and better, by writing a temporary file beside it and
renaming it into place (with its sidecar, `digits.runtime.modelfile.write_info`); the backup is
removed only after that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from digits.runtime.backend import keras
from digits.training.metrics import save_best_model

__all__ = ["EpochLog", "resumable_callbacks", "save_if_better"]


class EpochLog(keras.callbacks.Callback):
    """Prints ``epoch N/TOTAL done val_accuracy=...`` (1-based) after each finished epoch,
    flushed at once, so a log shows where training stopped and where a rerun resumed."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total

    def on_epoch_end(self, epoch, logs=None):
        accuracy = (logs or {}).get("val_accuracy", float("nan"))
        print(f"epoch {epoch + 1}/{self.total} done val_accuracy={accuracy:.4f}", flush=True)


def resumable_callbacks(backup_dir: str | Path, epochs: int | None = None) -> list:
    """`keras.callbacks.BackupAndRestore` on ``backup_dir`` (kept after training: remove it
    with `save_if_better` or by hand once the model is saved), plus an `EpochLog`."""
    backup = keras.callbacks.BackupAndRestore(
        str(backup_dir), save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
    )
    return [backup] + ([EpochLog(epochs)] if epochs else [])


def save_if_better(
    model: keras.Model,
    path: str | Path,
    x_val: np.ndarray,
    y_val: np.ndarray,
    backup_dir: str | Path | None = None,
) -> dict:
    """Replace ``path`` with ``model`` only if it is better on the validation images (lower
    loss and at least the same accuracy, as `digits.training.metrics.save_best_model`) or if there
    is no readable model there; atomically. Then remove ``backup_dir``.

    Returns ``saved``, ``val_loss``, ``val_accuracy``, ``existing_val_loss``,
    ``existing_val_accuracy`` (None without a readable existing model).
    """
    result = save_best_model(model, path, x_val, y_val)
    if backup_dir is not None:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return result
