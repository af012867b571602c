"""Measure the pipeline on MNIST's own format: test digits saved as plain PNG files.

MNIST is stored white on black, 28x28, centred; users also draw white on a dark canvas
or hand in dark-on-white scans. Each MNIST test digit is written as a PNG in three
renderings and read back through the same path as ``digits predict``:

- ``28_white_on_black``: the file as MNIST stores it;
- ``280_white_on_black``: scaled up 10x (bicubic), as a large drawing on a dark canvas;
- ``280_dark_on_white``: the same, inverted.

None of the project's generators makes these files, so the figures are held out from
every rule the preprocessing was tuned on.

    python -m digits.eval mnist_format [--limit N]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from tqdm import tqdm

from digits.eval.report import markdown_table, percent
from digits.paths import shown_path
from digits.predict import Predictor
from digits.training.data import load_mnist

NAME = "mnist_format"
SET = None

RENDERINGS = {
    "28_white_on_black": (28, False),
    "280_white_on_black": (280, False),
    "280_dark_on_white": (280, True),
}
CHUNK = 500


def png(digit: np.ndarray, side: int, invert: bool) -> bytes:
    """One MNIST digit (28x28 uint8, white on black) as PNG bytes in a rendering."""
    image = digit if side == 28 else cv2.resize(digit, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", 255 - image if invert else image)[1].tobytes()


def score(predictor: Predictor, x: np.ndarray, y: np.ndarray, side: int, invert: bool) -> dict:
    """Accuracy, not-a-digit and no-digit rates, and wrong zeros, over one rendering."""
    digits, flagged = [], []
    for start in tqdm(range(0, len(x), CHUNK), desc=f"{side}px{' inverted' * invert}"):
        chunk = [png(d, side, invert) for d in x[start : start + CHUNK]]
        for p in predictor.predict_many(chunk):
            digits.append(-1 if p.digit is None else p.digit)
            flagged.append(bool(p.not_a_digit))
    digits, flagged = np.array(digits), np.array(flagged)
    return {
        "n": len(y),
        "accuracy": round(float(np.mean(digits == y)), 4),
        "not_a_digit": round(float(np.mean(flagged)), 4),
        "no_digit_found": int(np.sum(digits == -1)),
        "zeros_wrong": int(np.sum((y == 0) & (digits != 0))),
    }


def run(args: argparse.Namespace, data: None, rows: None) -> dict:
    """Score every rendering of the first ``--limit`` MNIST test digits; return the report."""
    _, (x_test, y_test) = load_mnist()
    x, y = x_test[: args.limit], y_test[: args.limit]
    predictor = Predictor(args.model)
    results = {name: score(predictor, x, y, *how) for name, how in RENDERINGS.items()}
    return {"model": shown_path(predictor.model_path), "results": results}


def table(report: dict) -> str:
    return markdown_table(
        [
            ("rendering", lambda r: r["name"], False),
            ("n", lambda r: r["n"], True),
            ("accuracy", lambda r: percent(r["accuracy"], 2), True),
            ("not a digit", lambda r: percent(r["not_a_digit"], 2), True),
            ("no digit", lambda r: r["no_digit_found"], True),
            ("zeros wrong", lambda r: r["zeros_wrong"], True),
        ],
        [{"name": name, **r} for name, r in report["results"].items()],
    )
