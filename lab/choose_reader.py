"""Choose between two sequence readers by a rule fixed beforehand, never on the benchmark.

    python -m lab.choose_reader build/reader/reader_contact3_float32.tflite \
        [--current models/reader_float32.tflite] [--seed 7] [--count 500]

Makes another draw of the number benchmark's generator (`digits.synth.numbers.make_set`,
MNIST *test* digits, seed 7 rather than the benchmark's 16) in a temporary folder and reads
every number through `digits.read.read_number` (``method="sequence"``: the reader and the
segmenter together, as `digits read` does) with each reader. The candidate wins only if its
whole-number accuracy is no worse than the current reader's in every kind. Writes each
reader's whole-number accuracy, confidently wrong and flagged rates per kind, and the
verdict, to ``--report``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from digits.eval.numbers import score
from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json
from digits.synth.sets import SETS

#: The number benchmark's own draw: never chosen on.
BENCHMARK_SEED = SETS["numbers"].seed


@contextmanager
def other_draw(seed: int, count: int) -> Iterator[tuple[Path, list[dict]]]:
    """A draw of the number benchmark's generator (``count`` numbers per kind) in a
    temporary folder -> ``(folder, rows of labels.csv)``."""
    from digits.synth.numbers import make_set
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder), make_set(Path(folder), x_test, y_test, count, seed)


def refuse_the_benchmark(parser: argparse.ArgumentParser, seeds: list[int]) -> None:
    """A usage error (exit 2) when ``seeds`` holds the benchmark's own."""
    if BENCHMARK_SEED in seeds:
        parser.error(f"seed {BENCHMARK_SEED} is the benchmark's draw: choose on others")


def by_kind(rows: list[dict]) -> dict:
    """`digits.eval.numbers.score` of each kind's rows (``set``, ``text``, ``read``,
    ``low_confidence``), in the draw's order."""
    kinds = dict.fromkeys(row["set"] for row in rows)
    return {kind: score([row for row in rows if row["set"] == kind]) for kind in kinds}


def read_all(rows: list[dict], folder: Path, read) -> list[dict]:
    """``rows`` with ``read`` (the text), ``low_confidence`` and the digits' ``confidences``
    of ``read(path)``."""
    readings = ((row, read(folder / row["file"])) for row in rows)
    return [
        {**row, "read": r.text, "low_confidence": r.low_confidence,
         "confidences": [d.confidence for d in r.digits]}
        for row, r in readings
    ]  # fmt: skip


def verdict(candidate: dict, current: dict) -> bool:
    """The rule: no kind reads worse (whole numbers) with the candidate."""
    whole = "whole_number_accuracy"
    return all(candidate[name][whole] >= current[name][whole] for name in current)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path, help="a reader .tflite file (with its sidecar)")
    parser.add_argument("--current", type=Path, default=Path("models/reader_float32.tflite"))
    parser.add_argument("--seed", type=int, default=7, help="not the benchmark's")
    parser.add_argument("--count", type=int, default=500, help="numbers per kind")
    parser.add_argument("--report", type=Path, default=Path("build/reader/choose_reader.json"))
    args = parser.parse_args(argv)
    refuse_the_benchmark(parser, [args.seed])
    from digits.predict import Predictor
    from digits.read import read_number
    from digits.runtime.sequence import SequenceReader

    predictor, scores = Predictor(), {}
    with other_draw(args.seed, args.count) as (folder, rows):
        for role, path in (("current", args.current), ("candidate", args.candidate)):
            reader = SequenceReader(path)
            read = partial(read_number, predictor=predictor, method="sequence", reader=reader)
            scores[role] = by_kind(read_all(rows, folder, read))
    report = {
        "command": f"python -m lab.choose_reader {args.candidate} --current {args.current} "
        f"--seed {args.seed} --count {args.count} --report {args.report}",
        "rule": "the candidate wins if no kind's whole-number accuracy is lower",
        "current": str(args.current),
        "candidate": str(args.candidate),
        "scores": scores,
        "candidate_wins": verdict(scores["candidate"], scores["current"]),
    }
    atomic_write_json(ROOT / args.report, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
