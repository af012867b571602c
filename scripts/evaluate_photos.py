"""Measure accuracy on the phone-photo benchmark: our pipeline vs the spec's naive snippet.

The pipeline is `digits.predict.Predictor` (the one path behind the CLI, the notebook and
the app) with the shipped model and its sidecar (temperature, ``low_confidence``
threshold). The naive baseline is the spec's snippet: ``cv2.imread(path,
cv2.IMREAD_GRAYSCALE)``, ``cv2.resize(img, (28, 28))``, ``255 - img``, ``/ 255``, argmax.
A "no digit found" answer counts as wrong (but flagged). "Wrong and not flagged" counts
answers that name a wrong digit without ``low_confidence``: the ones that mislead a user.
Writes ``reports/photos.json`` and prints a Markdown table.

    python scripts/evaluate_photos.py [--model FILE] [--data DIR] [--out reports/photos.json]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from evaluate_robustness import naive_inputs

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json

NAIVE = (
    "cv2.imread(path, cv2.IMREAD_GRAYSCALE); cv2.resize(img, (28, 28)); 255 - img; / 255; argmax"
)


def _shown(path: Path) -> str:
    """A path relative to the repository root when it is inside it."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def naive_predictions(predictor, paths: list[Path]) -> np.ndarray:
    """The spec's snippet (`evaluate_robustness.naive_inputs`), then the model, argmax."""
    return predictor.predict_inputs(naive_inputs(paths)).argmax(axis=1)


def _tally(rows: list[dict], predictions, naive) -> tuple[dict, list[dict]]:
    """Counts per kind (and overall) and the pipeline's wrong answers."""
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    wrong = []
    for row, prediction, naive_digit in zip(rows, predictions, naive):
        label = int(row["label"])
        right = prediction.digit == label
        for key in (row["kind"], "overall"):
            c = counts[key]
            c["n"] += 1
            c["pipeline"] += right
            c["naive"] += int(naive_digit) == label
            c["no_digit"] += prediction.digit is None
            c["flagged"] += prediction.low_confidence
            c["wrong_not_flagged"] += not right and not prediction.low_confidence
            c["right_but_flagged"] += right and prediction.low_confidence
            c["several_digits"] += bool(getattr(prediction, "several_digits", False))
        if not right:
            wrong.append(
                {
                    "path": row["path"],
                    "label": label,
                    "digit": prediction.digit,
                    "confidence": round(prediction.confidence, 4),
                    "low_confidence": prediction.low_confidence,
                    "reason": prediction.reason or prediction.error,
                }
            )
    return counts, wrong


def _summary(c: dict) -> dict:
    """The report entry of one kind from its counts."""
    n = c["n"]
    return {
        "n": n,
        "accuracy_pipeline": round(c["pipeline"] / n, 4),
        "accuracy_naive": round(c["naive"] / n, 4),
        "no_digit_found": c["no_digit"],
        "flagged_low_confidence": c["flagged"],
        "wrong_not_flagged": c["wrong_not_flagged"],
        "wrong_not_flagged_rate": round(c["wrong_not_flagged"] / n, 4),
        "right_but_flagged": c["right_but_flagged"],
        "several_digits": c["several_digits"],
    }


def evaluate(model: Path | None, data: Path) -> dict:
    """Run both on the set described by ``data/labels.csv``; return the report."""
    from digits.predict import Predictor

    with open(data / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    predictor = Predictor(model)
    paths = [data / row["path"] for row in rows]
    predictions = predictor.predict_many(paths, raise_errors=False)
    naive = naive_predictions(predictor, paths)
    counts, wrong = _tally(rows, predictions, naive)
    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    return {
        "model": _shown(predictor.model_path),
        "data": _shown(data),
        "low_confidence_threshold": predictor.low_confidence,
        "temperature": predictor.info.temperature,
        "naive_baseline": NAIVE,
        "kinds": {kind: _summary(counts[kind]) for kind in kinds},
        "overall": _summary(counts["overall"]),
        "wrong_answers": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "photos")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "photos.json")
    args = parser.parse_args()
    if not (args.data / "labels.csv").is_file():
        raise SystemExit(f"No {args.data}/labels.csv; run scripts/make_photo_set.py first.")
    report = evaluate(args.model, args.data)
    report["command"] = "python " + " ".join([_shown(Path(sys.argv[0]))] + sys.argv[1:])
    atomic_write_json(args.out, report)

    print(
        f"Model: {report['model']}  (low_confidence below {report['low_confidence_threshold']})\n"
    )
    print("| kind | n | pipeline | naive snippet | no digit | wrong, not flagged |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in [*report["kinds"].items(), ("**overall**", report["overall"])]:
        print(
            f"| {name} | {s['n']} | {s['accuracy_pipeline']:.1%} | {s['accuracy_naive']:.1%} "
            f"| {s['no_digit_found']} | {s['wrong_not_flagged_rate']:.1%} |"
        )
    print(f"\nwrote {_shown(args.out)}")


if __name__ == "__main__":
    main()
