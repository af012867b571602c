"""Numbers with their marks: decimals, amounts, signs, dates, times and phone numbers.

Each kind of `digits.synth.punctuation.KINDS` (``12.50``, ``12,50``, ``1,250.00``,
``-3.5``, ``06/12/2026``, ``21:45``, ``555-0199``) is written twice, generated in memory with
a fixed seed and read from a photo by `digits.read.read_number` with default settings:

- **separated**: marks and digits apart;
- **touching**: every mark touching the digit before it, and the digit after it.

What is held out from the reader's training (`lab/recipes/reader_marks.json`):

- the digits: MNIST *test* digits (training drew from the training split);
- the marks' shapes: `punctuation.STYLES` ``held_out`` (wobbly polylines: looped dots,
  S-curved commas, wavering dashes, bowed slashes), never drawn in training;
- the pen: mark strokes thinner and thicker than any in training;
- the page: each number photographed on paper (`digits.synth.numbers.render`) at 3x.

A last kind, **specks**, is bare numbers with dirt on the page (tiny faint blots): what
counts is that no mark is read. Each kind counts whole text right, flagged, wrong and not
flagged, and "no number found".

    python -m digits.eval marks                 # 100 numbers per kind
    python -m digits.eval marks --limit 20      # a quick look
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from digits.eval.pages import measure, table  # noqa: F401  (the same table)

NAME = "marks"
SET = None  # generated in memory
PER_KIND = 100
SEED = 2028
#: How much larger than MNIST's 28 px the numbers are drawn before the photo.
SCALE = 3.0
SPACINGS = ("separated", "touching")


def _spec(spacing: str):
    from digits.synth.lines import LineSpec

    touching = spacing == "touching"
    return LineSpec(
        gap=(0.1, 0.6),
        pen=0.0,
        blur=0.0,
        mark_style="held_out",
        mark_gap=(0.0, 0.0) if touching else (0.1, 0.35),
        mark_contact=1.0 if touching else 0.0,
    )


def _photo(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from digits.synth.numbers import render

    big = cv2.resize(alpha, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    return render(np.clip(big, 0.0, 1.0), rng, "photo")


def marked_numbers(count: int, seed: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(kind, text, photo)`` of ``count`` numbers per kind and spacing, then specks."""
    from digits.synth import lines, punctuation
    from digits.training.data import load_mnist

    _, (x, y) = load_mnist()
    for s, spacing in enumerate(SPACINGS):
        spec = _spec(spacing)
        for k, kind in enumerate(punctuation.KINDS):
            rng = np.random.default_rng([seed, s, k])
            for _ in range(count):
                text = punctuation.number_text(rng, kind)
                alpha = lines._marked(x, y, rng, spec, text, spec.gap)
                yield f"{kind} {spacing}", text, _photo(alpha, rng)
    rng = np.random.default_rng([seed, 99])
    spec = _spec("separated")
    for _ in range(count):
        chosen = rng.integers(0, len(x), size=int(rng.integers(2, 9)))
        alpha = lines._specked(lines.compose([x[i] for i in chosen], rng, spec, spec.gap), rng)
        yield "specks", "".join(str(int(y[i])) for i in chosen), _photo(alpha, rng)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reader",
        default=None,
        help="marks: the sequence reader to measure (default: the shipped one)",
    )


def run(args: argparse.Namespace, data, rows) -> dict:
    from digits.machine import reference
    from digits.paths import shown_path
    from digits.predict import Predictor
    from digits.runtime.sequence import READER_PATH, SequenceReader

    machine = reference(quick=True)
    predictor = Predictor(args.model)
    path = Path(args.reader) if args.reader else READER_PATH
    reader = SequenceReader(path)
    scores = measure(marked_numbers(args.limit or PER_KIND, SEED), predictor, reader)
    return {
        "model": shown_path(predictor.model_path),
        "reader": shown_path(path),
        "seed": SEED,
        "settings": scores,
        "other_writers": {},
        "held_out": (
            "MNIST test digits, the held_out mark shapes and pens of digits.synth.punctuation, "
            "photos at 3x: none in the reader's training lines"
        ),
        "machine": machine,
    }
