"""Choose `digits.read.NUMBER_CONFIDENCE` on other draws of the number benchmark's generator.

    python -m lab.number_confidence [--seeds 7 8 9] [--count 500]

Makes each draw (`lab.choose_reader.other_draw`, MNIST *test* digits; never the benchmark's
seed) in a temporary folder and reads it through `digits.read.read_number` with the rule
off (``NUMBER_CONFIDENCE = 0``), keeping every reading's digit confidences. Then, for each
candidate, a reading counts as flagged when it was, or when the product of its digits'
confidences is under the candidate. The choice is the lowest candidate at which no kind of
any draw has more than ``--most`` of its numbers wrong and not flagged. Writes the rates
before and with each candidate, and the choice, to ``--report``.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json
from lab.choose_reader import by_kind, other_draw, read_all, refuse_the_benchmark

CANDIDATES = (0.9, 0.95, 0.97, 0.98)


def readings(seed: int, count: int, predictor) -> list[dict]:
    """Each number of one draw, read with the rule off (`lab.choose_reader.read_all`)."""
    from digits import read

    kept, read.NUMBER_CONFIDENCE = read.NUMBER_CONFIDENCE, 0.0  # the rule off
    try:
        with other_draw(seed, count) as (folder, rows):
            return read_all(rows, folder, partial(read.read_number, predictor=predictor))
    finally:
        read.NUMBER_CONFIDENCE = kept


def rates(rows: list[dict], threshold: float) -> dict:
    """`lab.choose_reader.by_kind` scores with the rule at ``threshold``: a reading is
    flagged when it was, or when its digits' product is under ``threshold``."""
    return by_kind([{**row, "low_confidence": _flagged(row, threshold)} for row in rows])


def _flagged(row: dict, threshold: float) -> bool:
    return row["low_confidence"] or float(np.prod(row["confidences"])) < threshold


def choose(table: dict, most: float) -> float | None:
    """The lowest candidate whose every draw and kind is wrong and unflagged at most ``most``."""
    for candidate in CANDIDATES:
        kinds = [k for draw in table.values() for k in draw[str(candidate)].values()]
        if max(k["confidently_wrong_rate"] for k in kinds) <= most:
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--count", type=int, default=500, help="numbers per kind")
    parser.add_argument("--most", type=float, default=0.01)
    parser.add_argument("--report", type=Path, default=Path("lab/reports/number_confidence.json"))
    args = parser.parse_args(argv)
    refuse_the_benchmark(parser, args.seeds)
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
