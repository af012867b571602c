"""The sequence reader against the segmenter on the project's own number benchmark.

    python -m lab.reader_numbers build/reader/reader_float32.tflite [--count 100] [--seed 16]

Makes the `digits.synth.numbers` sets (separated, touching; photos and canvases of MNIST
*test* digits, a generator the reader was not trained on) in a temporary folder and reads
each file twice: with `digits.read.read_number` (the segmenter) and with the reader on the
line that the same ink steps find (`line_ink`: the ink of every mark `segment` keeps, cropped
like a digit). Writes whole-number accuracy, confidently wrong and median latency per set
and method to ``--report``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json


def line_ink(image, max_side: int = 1024) -> tuple[np.ndarray, tuple[int, int, float]]:
    """The soft ink of the marks `digits.image.marks.segment` keeps, cropped to them -> ``(ink,
    (x0, y0, scale))``: ink pixel (x, y) is original pixel ((x + x0) / scale, (y + y0) / scale).

    Raises:
        NoDigitFound: as `segment`; ImageError: as `ink_image`.
    """
    from digits.image import crop_ink, ink_image, ink_mask
    from digits.image.marks import segment

    ink = ink_image(image, max_side=max_side)
    found = ink_mask(ink.ink, sigma=max(0.5, min(ink.ink.shape) / 300))
    marks, labels, _ = segment(found)
    x0, y0 = min(m.x0 for m in marks), min(m.y0 for m in marks)
    x1, y1 = max(m.x1 for m in marks), max(m.y1 for m in marks)
    kept = [label for m in marks for label in m.labels]
    selected = np.isin(labels[y0:y1, x0:x1], kept).astype(np.uint8)
    return crop_ink(found, selected, (x0, y0, x1, y1)), (x0, y0, ink.scale)


def read_with_reader(reader, path: Path) -> tuple[str, bool]:
    """``(text, low_confidence)`` of the reader on the file's line ('' when no ink)."""
    from digits.image import NoDigitFound

    try:
        crop, _ = line_ink(path)
    except NoDigitFound:
        return "", True
    reading = reader.read(crop)
    return reading.text, reading.low_confidence


def score(rows: list[dict], read) -> dict:
    """Whole-number accuracy, confidently wrong and median latency of ``read(path)``."""
    right, sure_wrong, times = [], [], []
    for row in rows:
        started = time.perf_counter()
        text, low = read(row["path"])
        times.append(time.perf_counter() - started)
        right.append(text == row["text"])
        sure_wrong.append(text != row["text"] and not low)
    return {
        "numbers": len(rows),
        "whole": round(float(np.mean(right)), 4),
        "confidently_wrong": round(float(np.mean(sure_wrong)), 4),
        "median_ms": round(1000 * float(np.median(times)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a reader .tflite file")
    parser.add_argument("--count", type=int, default=100, help="numbers per set")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--report", type=Path, default=Path("build/reader/numbers.json"))
    args = parser.parse_args(argv)
    from digits.predict import Predictor
    from digits.read import read_number
    from digits.runtime.sequence import SequenceReader
    from digits.synth.numbers import make_set
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    reader, predictor = SequenceReader(args.model, num_threads=1), Predictor()

    def segmenter(path):
        reading = read_number(path, predictor)
        return reading.text, reading.low_confidence

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        rows = make_set(Path(folder), x_test, y_test, args.count, args.seed)
        for row in rows:
            row["path"] = Path(folder) / row["file"]
        for name in sorted({row["set"] for row in rows}):
            chosen = [row for row in rows if row["set"] == name]
            results[name] = {
                "segment": score(chosen, segmenter),
                "sequence": score(chosen, lambda path: read_with_reader(reader, path)),
            }
    report = {
        "command": f"python -m lab.reader_numbers {args.model} --count {args.count} "
        f"--seed {args.seed} --report {args.report}",
        "model": str(args.model),
        "sets": results,
    }
    atomic_write_json(ROOT / args.report, report)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
