"""The per-batch work of ``digits batch``, shared by both engines: paths in, rows out.

    >>> reader = BatchReader("predict")              # loads the model once
    >>> rows = reader.rows(["a.png", "b.png"])      # one dict per path, in order
    >>> table = rows_table(rows, "predict")         # the Parquet schema of `schema`

A row is the record ``digits predict --json`` (`digits.predict.prediction_record`) or
``digits read --json`` prints for the same file, flattened into fixed columns, plus the
model's SHA-256 and the package version. ``flags`` (why the answer is ``low_confidence``,
the codes of `digits.flags`, empty when it is not) is a Parquet list of strings, as in the
JSON (``["detector_doubt", "second_look"]``), so that a filter needs no parsing;
``flag_reason`` is the sentence that explains them (null when not flagged). A file that
cannot be read is a row with ``error`` set (flag ``unreadable``); nothing here raises
for one bad input, nor for a file name that is not UTF-8: Parquet holds UTF-8 only, so
``path`` and ``error`` hold such a name in the escaped form that ``digits predict --json``
prints too (`storable`): each byte that is not UTF-8 becomes ``\\xNN``
(``b"\\xff\\xfe.png"`` is written ``\\xff\\xfe.png``). OpenCV and LiteRT run on one thread
per worker process: the engines parallelise over processes, not inside one image.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import digits

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BatchReader", "Chunks", "TASKS", "read_batch", "rows_table", "schema"]

TASKS = ("predict", "read")

#: What an engine yields: ``(chunk number, its rows in input order)`` as chunks finish.
Chunks = Iterator[tuple[int, list[dict]]]


def schema(task: str) -> pa.Schema:
    """The columns of the output of ``task``: ``path``, the answer (``digit`` and ``label``
    and ``several_digits`` for predict, ``text``, ``value`` and ``kind`` for read: see
    `digits.meaning`), then the common columns
    (``flags``: a list of strings)."""
    import pyarrow as pa  # here, not at import: the command line's parser imports TASKS

    if task == "predict":
        answer = [("digit", pa.int64()), ("label", pa.string()), ("several_digits", pa.bool_())]
    elif task == "read":
        answer = [("text", pa.string()), ("value", pa.float64()), ("kind", pa.string())]
    else:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    common = [("confidence", pa.float64()), ("low_confidence", pa.bool_())]
    common += [("flags", pa.list_(pa.string())), ("flag_reason", pa.string())]
    common += [(name, pa.bool_()) for name in ("not_a_digit",)]
    common += [(name, pa.string()) for name in ("reason", "error", "model_sha256", "version")]
    return pa.schema([("path", pa.string()), *answer, *common])


def rows_table(rows: Sequence[dict], task: str) -> pa.Table:
    """``rows`` as a table of `schema` (``task``)."""
    import pyarrow as pa

    columns = schema(task)
    return pa.Table.from_pylist([{k: row.get(k) for k in columns.names} for row in rows], columns)


def storable(text: str) -> str:
    """``text`` as valid UTF-8 for Parquet: bytes of a non-UTF-8 file name (held by Python
    as surrogates) become ``\\xNN`` (`digits.apps.options.escaped`)."""
    from digits.apps.options import escaped

    return escaped(text)


class BatchReader:
    """A loaded model and the task to run with it; `rows` is the per-batch function.

    Args:
        task: ``"predict"`` (one digit per image) or ``"read"`` (a number per image).
        model: the model file (default: the shipped LiteRT model).
    """

    def __init__(self, task: str, model: str | Path | None = None):
        import cv2

        from digits.predict import Predictor
        from digits.runtime.modelfile import file_sha256
        from digits.runtime.quiet import held_stderr

        schema(task)  # checks the task
        cv2.setNumThreads(1)  # one worker process per core: threads only add contention
        _one_blas_thread()  # OpenBLAS's idle threads spin and take the other worker's core
        with held_stderr():
            self.predictor = Predictor(model, num_threads=1)
        self.task = task
        self.extra = {
            "model_sha256": file_sha256(self.predictor.model_path),
            "version": digits.__version__,
        }

    def rows(self, paths: Sequence[str], errors: Sequence[str | None] | None = None) -> list[dict]:
        """One row per path, in order. ``errors[i]``, when set, is already known to be why
        ``paths[i]`` cannot be read (a folder without images); that path is not opened."""
        errors = list(errors) if errors is not None else [None] * len(paths)
        if self.task == "predict":
            rows = self._predict(list(paths), errors)
        else:
            rows = [self._read(path, error) for path, error in zip(paths, errors)]
        for row in rows:  # paths, and errors that quote them, as valid UTF-8
            row.update({k: storable(v) for k, v in row.items() if isinstance(v, str)})
            row.update(self.extra)
        return rows

    def _predict(self, paths: list[str], errors: list[str | None]) -> list[dict]:
        from digits.predict import Prediction, prediction_record

        readable = [path for path, error in zip(paths, errors) if error is None]
        answers = iter(self.predictor.predict_many(readable, raise_errors=False))
        rows = []
        for path, error in zip(paths, errors):
            if error is None:
                prediction = next(answers)
            else:  # as `digits predict` answers it
                prediction = Prediction(None, 0.0, None, True, error=error)
            record = prediction_record(path, prediction)
            digit = record["digit"]
            record["digit"] = digit if isinstance(digit, int) else None
            record["not_a_digit"] = record.get("not_a_digit", False)
            rows.append(record)
        return rows

    def _read(self, path: str, error: str | None) -> dict:
        from digits.flags import unreadable_reading
        from digits.read import read_number

        if error is None:
            try:
                reading = read_number(path, self.predictor).to_dict()
            except Exception as failure:  # noqa: BLE001 - one input must not sink the batch
                error = str(failure) or type(failure).__name__
        if error is not None:
            return unreadable_reading(path, error)
        found = reading["digits"]
        lowest = min((d["confidence"] for d in found), default=None)
        return {"path": path, **reading, "confidence": lowest}


def _one_blas_thread() -> None:
    """Keep numpy's BLAS (the not-a-digit detector's matrix products) on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it, BLAS keeps its threads
        return
    threadpool_limits(1)


_READERS: dict[tuple[str, str], BatchReader] = {}


def read_batch(
    paths: Sequence[str],
    task: str = "predict",
    model: str | Path | None = None,
    errors: Sequence[str | None] | None = None,
) -> list[dict]:
    """`BatchReader.rows` with a reader kept per process (the model loads once)."""
    key = (task, str(model))
    if key not in _READERS:
        _READERS[key] = BatchReader(task, model)
    return _READERS[key].rows(paths, errors)


def unpack_model(files: dict[str, bytes]) -> Path:
    """Write a model file and its sidecar (``{name: bytes}``, the model first) into a new
    private folder and return the model's path: how a model travels to another machine."""
    folder = Path(tempfile.mkdtemp(prefix="digits-model-"))
    for name, data in files.items():
        (folder / Path(name).name).write_bytes(data)
    return folder / Path(next(iter(files))).name


def pack_model(model: Path) -> dict[str, bytes]:
    """``{name: bytes}`` of ``model`` and its sidecar (when there is one), for `unpack_model`."""
    from digits.runtime.modelfile import sidecar_path

    files = {model.name: model.read_bytes()}
    sidecar = sidecar_path(model)
    if sidecar.is_file():
        files[sidecar.name] = sidecar.read_bytes()
    return files
