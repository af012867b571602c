"""The phone-photo set: 7 kinds of photos of a sheet, our pipeline vs the spec's snippet.

The pipeline is `digits.predict.Predictor` (the one path behind the CLI, the notebook and
the app) with the shipped model and its sidecar (temperature, ``low_confidence``
threshold). A "no digit found" answer counts as wrong (but flagged). "Wrong and not
flagged" counts answers that name a wrong digit without ``low_confidence``: the ones that
mislead a user.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from digits.eval import naive
from digits.eval.report import kind_rows, markdown_table, percent
from digits.paths import shown_path

NAME = "photos"
SET = "photos"


def _count(c: dict, label: int, prediction, naive_digit: int) -> None:
    right = prediction.digit == label
    c["n"] += 1
    c["pipeline"] += right
    c["naive"] += naive_digit == label
    c["no_digit"] += prediction.digit is None
    c["flagged"] += prediction.low_confidence
    c["wrong_not_flagged"] += not right and not prediction.low_confidence
    c["right_but_flagged"] += right and prediction.low_confidence
    c["several_digits"] += bool(getattr(prediction, "several_digits", False))


def _wrong(row: dict, prediction) -> dict:
    return {
        "path": row["path"],
        "label": int(row["label"]),
        "digit": prediction.digit,
        "confidence": round(prediction.confidence, 4),
        "low_confidence": prediction.low_confidence,
        "reason": prediction.reason or prediction.error,
    }


def _tally(rows: list[dict], predictions, naive_digits) -> tuple[dict, list[dict]]:
    """Counts per kind (and overall) and the pipeline's wrong answers."""
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    wrong = []
    for row, prediction, naive_digit in zip(rows, predictions, naive_digits):
        for key in (row["kind"], "overall"):
            _count(counts[key], int(row["label"]), prediction, int(naive_digit))
        if prediction.digit != int(row["label"]):
            wrong.append(_wrong(row, prediction))
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


def run(args: argparse.Namespace, data: Path, rows: list[dict]) -> dict:
    """Run the pipeline and the spec's snippet on the set; return the report."""
    from digits.predict import Predictor

    predictor = Predictor(args.model)
    paths = [data / row["path"] for row in rows]
    predictions = predictor.predict_many(paths, raise_errors=False)
    naive_digits = predictor.predict_inputs(naive.naive_inputs(paths)).argmax(axis=1)
    counts, wrong = _tally(rows, predictions, naive_digits)
    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    return {
        "model": shown_path(predictor.model_path),
        "low_confidence_threshold": predictor.low_confidence,
        "temperature": predictor.info.temperature,
        "naive_baseline": naive.DESCRIPTION,
        "kinds": {kind: _summary(counts[kind]) for kind in kinds},
        "overall": _summary(counts["overall"]),
        "wrong_answers": wrong,
    }


def table(report: dict) -> str:
    return markdown_table(
        [
            ("kind", lambda r: r["kind"], False),
            ("n", lambda r: r["n"], True),
            ("pipeline", lambda r: percent(r["accuracy_pipeline"]), True),
            ("naive snippet", lambda r: percent(r["accuracy_naive"]), True),
            ("no digit", lambda r: r["no_digit_found"], True),
            ("wrong, not flagged", lambda r: percent(r["wrong_not_flagged_rate"]), True),
        ],
        kind_rows(report),
    )
