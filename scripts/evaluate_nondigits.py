"""Measure the non-digit rule: generated non-digits caught against real digits wrongly flagged.

Runs `digits.predict.Predictor` (the shipped model and its rule) on the non-digit set
(`data/nondigits`, from scripts/make_nondigit_set.py), the MNIST test set and the robustness
set (`data/robustness`). A non-digit counts as caught when the answer is null ("no digit
found") or flagged ``not_a_digit`` (the detector's score, `digits.runtime.ood`, above its
threshold); the table also shows other thresholds of that score and of the max softmax
(``low_confidence`` is max softmax < 0.6). Writes ``reports/nondigits.json`` and prints a
Markdown table.

    python scripts/evaluate_nondigits.py [--model FILE] [--out reports/nondigits.json]
        [--detector FILE] [--items triangle,square,...]   # a detector trained without them
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from digits.paths import LITERT_PATH, ROOT, shown_path
from digits.predict import Predictor
from digits.runtime.modelfile import atomic_write_json
from digits.runtime.ood import DETECTOR_PATH, NondigitDetector
from digits.training.data import load_mnist

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SOFTMAX_THRESHOLDS = (0.6, 0.9, 0.99, 0.999)


def _files(folder: Path, items: set[str] | None = None) -> list[str]:
    with open(folder / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [str(folder / r["path"]) for r in rows if items is None or r["item"] in items]


def run(predictor: Predictor, inputs: list, detector: NondigitDetector) -> dict:
    """Per-input arrays: null?, flagged?, detector score (1 when null), max softmax."""
    predictions = predictor.predict_many(inputs, raise_errors=False)
    null = np.array([p.digit is None for p in predictions])
    score = np.array(
        [1.0 if p.digit is None else detector.scores(p.preprocessed.image)[0] for p in predictions]
    )
    return dict(
        null=null,
        flagged=score > detector.threshold,
        score=score,
        softmax=np.array([p.confidence for p in predictions]),
    )


def rates(sets: dict[str, dict], caught) -> dict[str, float]:
    """``caught(r)`` -> boolean per input; fraction per set."""
    return {name: round(float(np.mean(caught(r))), 4) for name, r in sets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LITERT_PATH)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "nondigits.json")
    parser.add_argument("--detector", type=Path, default=DETECTOR_PATH)
    parser.add_argument(
        "--items", default="", help="comma-separated items: only these non-digits are scored"
    )
    args = parser.parse_args()
    predictor = Predictor(args.model)
    detector = NondigitDetector.load(args.detector)
    items = set(args.items.split(",")) if args.items else None
    (_, _), (x_test, _) = load_mnist()
    start = time.perf_counter()
    sets = {
        "nondigits": run(predictor, _files(ROOT / "data" / "nondigits", items), detector),
        "mnist_test": run(predictor, list(x_test), detector),
        "robustness": run(predictor, _files(ROOT / "data" / "robustness"), detector),
    }
    rule = rates(sets, lambda r: r["null"] | r["flagged"])
    table = [{"rule": f"null or detector score > {detector.threshold:.3f} (shipped)", **rule}]
    for t in THRESHOLDS:
        table.append(
            {"rule": f"null or detector score > {t}", **rates(sets, lambda r, t=t: r["score"] > t)}
        )
    for t in SOFTMAX_THRESHOLDS:
        table.append(
            {"rule": f"max softmax < {t} (or null)", **rates(sets, lambda r, t=t: r["softmax"] < t)}
        )
    report = {
        "model": shown_path(args.model),
        "command": " ".join(["python", "scripts/evaluate_nondigits.py", *sys.argv[1:]]),
        "detector": shown_path(args.detector),
        "items": sorted(items) if items else "all",
        "sizes": {name: int(len(r["null"])) for name, r in sets.items()},
        "detector_threshold": NondigitDetector.load().threshold,
        "caught_nondigits": rule["nondigits"],
        "flagged_mnist_test": rule["mnist_test"],
        "flagged_robustness": rule["robustness"],
        "table": table,
        "seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_json(args.out, report)
    print("| rule | non-digits caught | MNIST test flagged | robustness flagged |")
    print("|---|---:|---:|---:|")
    for row in table:
        print(
            f"| {row['rule']} | {row['nondigits']:.1%} | {row['mnist_test']:.2%} "
            f"| {row['robustness']:.2%} |"
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
