"""The robustness set: scans and drawings in 11 renderings, our pipeline vs the spec's snippet.

The pipeline's answers come from the command line tool, exactly as a user gets them
(``python -m digits predict --json --model MODEL SET``); the baseline is the spec's snippet
(`digits.eval.naive`) on the same Keras model. A "no digit found" answer counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from digits.eval import naive
from digits.eval.report import kind_rows, markdown_table, percent
from digits.paths import MODEL_PATH, ROOT, shown_path

NAME = "robustness"
SET = "robustness"


def run_cli(model: Path, data: Path) -> dict[str, dict]:
    """Run ``digits predict --json`` on the set; {path relative to data: JSON record}."""
    arguments = ["-m", "digits", "predict", "--json", "--model", str(model), str(data)]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    completed = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if completed.returncode not in (0, 1):
        raise SystemExit(f"the CLI failed (exit {completed.returncode}):\n{completed.stderr}")
    records = {}
    for line in completed.stdout.splitlines():
        record = json.loads(line)
        path = (ROOT / record["path"]).resolve().relative_to(data.resolve()).as_posix()
        records[path] = record
    return records


def naive_predictions(model_path: Path, paths: list[Path]) -> np.ndarray:
    """The spec's snippet end to end: `naive.naive_inputs`, the Keras model, argmax."""
    from digits.runtime.backend import keras

    model = keras.models.load_model(model_path, compile=False)
    return model.predict(naive.naive_inputs(paths), batch_size=256, verbose=0).argmax(axis=1)


def _tally(rows: list[dict], records: dict, naive_digits: np.ndarray) -> dict:
    counts = defaultdict(lambda: {"n": 0, "pipeline": 0, "naive": 0, "no_digit": 0, "errors": 0})
    for row, naive_digit in zip(rows, naive_digits):
        label = int(row["label"])
        record = records.get(row["path"], {"digit": None, "error": "missing from the CLI output"})
        for key in (row["kind"], "overall"):
            stats = counts[key]
            stats["n"] += 1
            stats["pipeline"] += record["digit"] == label
            stats["naive"] += int(naive_digit) == label
            stats["no_digit"] += record["digit"] is None and "error" not in record
            stats["errors"] += "error" in record
    return counts


def _summary(stats: dict) -> dict:
    return {
        "n": stats["n"],
        "accuracy_pipeline": round(stats["pipeline"] / stats["n"], 4),
        "accuracy_naive": round(stats["naive"] / stats["n"], 4),
        "no_digit_found": stats["no_digit"],
        "errors": stats["errors"],
    }


def run(args: argparse.Namespace, data: Path, rows: list[dict]) -> dict:
    """Score the pipeline and the spec's snippet on the set; return the report."""
    model = args.model or MODEL_PATH
    records = run_cli(model, data)
    counts = _tally(rows, records, naive_predictions(model, [data / r["path"] for r in rows]))
    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    return {
        "model": shown_path(model),
        "naive_baseline": naive.DESCRIPTION,
        "kinds": {kind: _summary(counts[kind]) for kind in kinds},
        "overall": _summary(counts["overall"]),
    }


def table(report: dict) -> str:
    return markdown_table(
        [
            ("kind", lambda r: r["kind"], False),
            ("n", lambda r: r["n"], True),
            ("pipeline", lambda r: percent(r["accuracy_pipeline"]), True),
            ("naive snippet", lambda r: percent(r["accuracy_naive"]), True),
        ],
        kind_rows(report),
    )
