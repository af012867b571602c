"""Size, MNIST test accuracy, agreement with Keras and latency of the LiteRT exports.

Evaluates the Keras model and every ``models/*.tflite`` export of it on the 10,000 MNIST
test images (`digits.runtime.runners` runners, the ones `Predictor` uses), and, with
``--extra``, the quantizations that are not committed (exported to a temporary folder by
`digits.training.export.export_litert`).

    python -m digits.eval litert [--model KERAS_FILE] [--extra float16 dynamic]

- agreement: share of test images where the export's digit equals the Keras model's;
- single-image latency: model only (``runner.probabilities`` of one preprocessed image),
  median of ``--repeats`` calls; LiteRT on one thread, Keras through its compiled
  ``tf.function`` with TensorFlow's default threads.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from digits.eval.report import markdown_table, percent
from digits.paths import MODEL_PATH, MODELS_DIR, shown_path
from digits.runtime.modelfile import read_info
from digits.runtime.runners import open_runner
from digits.training.data import load_mnist, scale

NAME = "litert"
SET = None

#: What the issue asks of the exports.
MIN_FLOAT_AGREEMENT = 0.9995
MAX_INT8_ACCURACY_DROP = 0.001
MIN_INT8_SIZE_RATIO = 3.5


def single_image_ms(runner, x: np.ndarray, repeats: int) -> float:
    """Median milliseconds of ``runner.probabilities`` on one image, after a warm-up."""
    one = x[:1]
    for _ in range(20):
        runner.probabilities(one)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner.probabilities(one)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1000, 4)


def evaluate(path: Path, x: np.ndarray, y: np.ndarray, reference, repeats: int) -> dict:
    """One row of the report for a model file (``reference``: the Keras digits)."""
    runner = open_runner(path, num_threads=1, batch_size=1000)
    start = time.perf_counter()
    probabilities = runner.probabilities(x)
    seconds = time.perf_counter() - start
    digits = probabilities.argmax(axis=1)
    row = {
        "file": shown_path(path),
        "runtime": runner.kind,
        "quantize": read_info(path).extra.get("quantize"),
        "bytes": path.stat().st_size,
        "test_accuracy": round(float(np.mean(digits == y)), 6),
        "single_image_ms": single_image_ms(runner, x, repeats),
        "test_set_seconds": round(seconds, 3),
    }
    if reference is not None:
        row["agreement_with_keras"] = round(float(np.mean(digits == reference[0])), 6)
        row["disagreements"] = int(np.sum(digits != reference[0]))
        row["max_abs_probability_difference"] = round(
            float(np.abs(probabilities - reference[1]).max()), 6
        )
    return row


def checks(keras_row: dict, rows: list[dict]) -> dict:
    """The issue's 'must show' for the float32 and int8 exports (None when absent)."""
    by_kind = {row["quantize"]: row for row in rows}
    out: dict = {"float_agreement_at_least": MIN_FLOAT_AGREEMENT}
    if "none" in by_kind:
        out["float_agreement_ok"] = by_kind["none"]["agreement_with_keras"] >= MIN_FLOAT_AGREEMENT
    if "int8" in by_kind:
        int8 = by_kind["int8"]
        drop = keras_row["test_accuracy"] - int8["test_accuracy"]
        out["int8_accuracy_drop_points"] = round(drop * 100, 3)
        out["int8_accuracy_ok"] = drop <= MAX_INT8_ACCURACY_DROP
        out["int8_smaller_than_keras_x"] = round(keras_row["bytes"] / int8["bytes"], 2)
        if "none" in by_kind:
            out["int8_smaller_than_float32_x"] = round(by_kind["none"]["bytes"] / int8["bytes"], 2)
        out["int8_size_ok"] = (
            min(out["int8_smaller_than_keras_x"], out.get("int8_smaller_than_float32_x", np.inf))
            >= MIN_INT8_SIZE_RATIO
        )
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        choices=["float16", "dynamic"],
        help="litert: also export and measure these quantizations (not committed)",
    )
    parser.add_argument("--repeats", type=int, default=1000, help="litert: latency calls")


def _extra_rows(keras_path: Path, extra: list[str], x, y, reference, repeats: int) -> list[dict]:
    """Rows of the quantizations that are not committed, exported to a temporary folder."""
    from digits.training.export import export_litert

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for quantize in extra:
            path = export_litert(keras_path, Path(folder) / f"digits_{quantize}.tflite", quantize)
            row = evaluate(path, x, y, reference, repeats)
            rows.append({**row, "file": f"(not committed) {row['file']}", "committed": False})
    return rows


def run(args: argparse.Namespace, data: None, rows: None) -> dict:
    """Measure the Keras model and every LiteRT export of it; return the report."""
    keras_path = args.model or MODEL_PATH
    _, (x_test, y_test) = load_mnist()
    x, y = scale(x_test)[: args.limit], y_test[: args.limit]
    keras = open_runner(keras_path, batch_size=1000)
    keras_probabilities = keras.probabilities(x)
    keras_row = evaluate(keras_path, x, y, None, args.repeats // 4)
    reference = (keras_probabilities.argmax(axis=1), keras_probabilities)
    rows = [
        {**evaluate(path, x, y, reference, args.repeats), "committed": True}
        for path in sorted(MODELS_DIR.glob("digits_*.tflite"))
    ]
    rows += _extra_rows(keras_path, args.extra, x, y, reference, args.repeats)
    from digits.runtime.backend import tf

    return {
        "test_images": len(y),
        "keras": keras_row,
        "litert": rows,
        "checks": checks(keras_row, rows),
        "versions": {"ai_edge_litert": _version("ai-edge-litert"), "tensorflow": tf.__version__},
        "cpu_count": os.cpu_count(),
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _format(row: dict) -> dict:
    kind = {"none": "float32"}.get(row["quantize"], row["quantize"])
    agreement = row.get("agreement_with_keras")
    return {
        **row,
        "name": "Keras (.h5)" if row["runtime"] == "keras" else f"LiteRT {kind}",
        "agreement": "-"
        if agreement is None
        else f"{percent(agreement, 2)} ({row['disagreements']} differ)",
    }


def table(report: dict) -> str:
    rows = [_format(row) for row in [report["keras"], *report["litert"]]]
    text = markdown_table(
        [
            ("format", lambda r: r["name"], False),
            ("file", lambda r: r["file"], False),
            ("bytes", lambda r: f"{r['bytes']:,}", True),
            ("test accuracy", lambda r: percent(r["test_accuracy"], 2), True),
            ("agreement with Keras", lambda r: r["agreement"], True),
            ("one image", lambda r: f"{r['single_image_ms']:.3f} ms", True),
        ],
        rows,
    )
    checked = ", ".join(f"{k}={v}" for k, v in report["checks"].items())
    return f"{text}\n\nchecks: {checked}"
