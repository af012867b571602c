"""Measure accuracy on the robustness set: our pipeline vs the spec's naive snippet.

The pipeline's answers come from the command line tool, exactly as a user gets them::

    python -m digits predict --json --model MODEL data/robustness

The naive baseline is the spec's snippet, deliberately *not* our preprocessing:
``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``, ``cv2.resize(img, (28, 28))``, ``255 - img``,
``/ 255``, reshape ``(1, 28, 28, 1)``, argmax (run batched, which gives the same answers).
A "no digit found" answer counts as wrong. Writes ``reports/robustness.json`` and
prints a Markdown table.

    python scripts/evaluate_robustness.py [--model FILE] [--data data/robustness]
                                          [--out reports/robustness.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from digits.paths import MODEL_PATH, REPORTS_DIR, ROBUSTNESS_DIR, ROOT, shown_path
from digits.runtime.modelfile import atomic_write_json


def run_pipeline(model: Path, data: Path) -> tuple[dict[str, dict], str]:
    """Run the CLI on the set; return {path relative to data: JSON record} and the command."""
    arguments = [
        "-m",
        "digits",
        "predict",
        "--json",
        "--model",
        shown_path(model),
        shown_path(data),
    ]
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
        records[(ROOT / record["path"]).resolve().relative_to(data.resolve()).as_posix()] = record
    return records, " ".join(["python", *arguments])


def naive_inputs(paths: list[Path]) -> np.ndarray:
    """The spec's snippet, batched: imread gray, resize 28x28, invert, /255 -> (N, 28, 28, 1)."""
    import cv2

    batch = []
    for path in paths:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        img = cv2.resize(img, (28, 28))
        img = 255 - img
        img = img / 255.0
        batch.append(img.reshape(1, 28, 28, 1))
    return np.concatenate(batch).astype(np.float32)


def naive_predictions(model_path: Path, paths: list[Path]) -> np.ndarray:
    """The spec's snippet end to end: `naive_inputs`, the Keras model's ``predict``, argmax."""
    import keras

    model = keras.models.load_model(model_path, compile=False)
    return model.predict(naive_inputs(paths), batch_size=256, verbose=0).argmax(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--data", type=Path, default=ROBUSTNESS_DIR)
    parser.add_argument("--out", type=Path, default=REPORTS_DIR / "robustness.json")
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"No model file at {args.model}; pass --model FILE.")
    with open(args.data / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))

    records, command = run_pipeline(args.model, args.data)
    naive = naive_predictions(args.model, [args.data / row["path"] for row in rows])

    correct = defaultdict(lambda: {"n": 0, "pipeline": 0, "naive": 0, "no_digit": 0, "errors": 0})
    for row, naive_digit in zip(rows, naive):
        label = int(row["label"])
        record = records.get(row["path"], {"digit": None, "error": "missing from the CLI output"})
        for key in (row["kind"], "overall"):
            stats = correct[key]
            stats["n"] += 1
            stats["pipeline"] += record["digit"] == label
            stats["naive"] += int(naive_digit) == label
            stats["no_digit"] += record["digit"] is None and "error" not in record
            stats["errors"] += "error" in record

    def summary(stats: dict) -> dict:
        return {
            "n": stats["n"],
            "accuracy_pipeline": round(stats["pipeline"] / stats["n"], 4),
            "accuracy_naive": round(stats["naive"] / stats["n"], 4),
            "no_digit_found": stats["no_digit"],
            "errors": stats["errors"],
        }

    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    report = {
        "model": shown_path(args.model),
        "data": shown_path(args.data),
        "command": command,
        "naive_baseline": (
            "cv2.imread(path, cv2.IMREAD_GRAYSCALE); cv2.resize(img, (28, 28)); 255 - img; "
            "/ 255; argmax"
        ),
        "kinds": {kind: summary(correct[kind]) for kind in kinds},
        "overall": summary(correct["overall"]),
    }
    atomic_write_json(args.out, report)

    print(f"Model: {args.model}\n")
    print("| kind | n | pipeline | naive snippet |")
    print("|---|---:|---:|---:|")
    for name, stats in [*report["kinds"].items(), ("**overall**", report["overall"])]:
        pipeline, naive = stats["accuracy_pipeline"], stats["accuracy_naive"]
        print(f"| {name} | {stats['n']} | {pipeline:.1%} | {naive:.1%} |")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
