"""Choose `digits.read.NUMBER_CONFIDENCE` on other draws of the number benchmark's generator.

    python -m lab.number_confidence [--seeds 7 8 9] [--count 500]

Makes each draw (`digits.synth.numbers.make_set`, MNIST *test* digits; never the benchmark's
seed 16) in a temporary folder and reads it through `digits.read.read_number` with the rule
off (``NUMBER_CONFIDENCE = 0``), keeping every reading's digit confidences. Then, for each
candidate, a reading counts as flagged when it was, or when the product of its digits'
confidences is under the candidate. The choice is the lowest candidate at which no kind of
any draw has more than ``--most`` of its numbers wrong and not flagged. Writes the rates
before and with each candidate, and the choice, to ``--report``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json

CANDIDATES = (0.9, 0.95, 0.97, 0.98)


def readings(seed: int, count: int, predictor) -> list[dict]:
    """Each number of one draw: kind, truth, text read, flag and digit confidences."""
    from digits import read
    from digits.synth.numbers import make_set
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    kept, read.NUMBER_CONFIDENCE = read.NUMBER_CONFIDENCE, 0.0  # the rule off
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = make_set(Path(folder), x_test, y_test, count, seed)
            found = [read.read_number(Path(folder) / row["file"], predictor) for row in rows]
    finally:
        read.NUMBER_CONFIDENCE = kept
    return [
        {"kind": row["set"], "right": r.text == row["text"], "low": r.low_confidence,
         "together": float(np.prod([d.confidence for d in r.digits]))}
        for row, r in zip(rows, found)
    ]  # fmt: skip


def rates(rows: list[dict], threshold: float) -> dict:
    """Per kind: wrong and not flagged, and flagged, with the rule at ``threshold``."""
    out = {}
    for kind in dict.fromkeys(row["kind"] for row in rows):
        chosen = [row for row in rows if row["kind"] == kind]
        low = [row["low"] or (row["together"] < threshold) for row in chosen]
        wrong = [not row["right"] and not flag for row, flag in zip(chosen, low)]
        out[kind] = {"confidently_wrong": round(float(np.mean(wrong)), 4),
                     "flagged": round(float(np.mean(low)), 4)}  # fmt: skip
    return out


def choose(table: dict, most: float) -> float | None:
    """The lowest candidate whose every draw and kind is wrong and unflagged at most ``most``."""
    for candidate in CANDIDATES:
        worst = max(
            k["confidently_wrong"] for d in table.values() for k in d[str(candidate)].values()
        )
        if worst <= most:
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--count", type=int, default=500, help="numbers per kind")
    parser.add_argument("--most", type=float, default=0.01)
    parser.add_argument("--report", type=Path, default=Path("lab/reports/number_confidence.json"))
    args = parser.parse_args(argv)
    if 16 in args.seeds:
        parser.error("seed 16 is the benchmark's draw: choose on others")
    from digits.predict import Predictor

    predictor = Predictor()
    table = {}
    for seed in args.seeds:
        rows = readings(seed, args.count, predictor)
        table[str(seed)] = {"off": rates(rows, 0.0)}
        table[str(seed)].update({str(c): rates(rows, c) for c in CANDIDATES})
    seeds = " ".join(map(str, args.seeds))
    report = {
        "command": f"python -m lab.number_confidence --seeds {seeds} --count {args.count} "
        f"--most {args.most} --report {args.report}",
        "rule": "a line is low_confidence when the product of its digits' confidences is under",
        "draws": table,
        "chosen": choose(table, args.most),
    }
    atomic_write_json(ROOT / args.report, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
