"""Numbers where people write them, and numbers by writers the reader never saw.

Two benchmarks of `digits.read.read_number` with default settings, generated in memory
with fixed seeds (nothing here is drawn from other people's images):

- **settings** (`digits.synth.pages`): numbers of 2-8 MNIST *test* digits, apart, in a form
  box, a table cell cut loosely, on ruled and on squared paper, underlined, and in thin pen
  in a 3000x4000 phone photo of grey paper. The reader was trained on none of these
  settings (its lines have no boxes, rules or photos this large).
- **other writers**: numbers of 2-8 digits from scikit-learn's 8x8 digits (UCI optdigits:
  43 writers, scanned at 32x32 and averaged down to 8x8), upscaled to MNIST's size and
  laid out as the number benchmark does, dark on light and light on dark. The digit model
  and the reader trained on MNIST only, so these writers and this coarse scan are held out.

Each kind counts: whole number right, flagged (``low_confidence``), wrong and not flagged
(the answer that misleads), "no number found", and the median time of a reading.

    python -m digits.eval pages                  # 200 numbers per setting, 500 per polarity
    python -m digits.eval pages --limit 20       # a quick look
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import numpy as np

from digits.eval.report import markdown_table, percent

NAME = "pages"
SET = None  # generated in memory

#: Numbers per setting of `digits.synth.pages.SETTINGS`, and per polarity of other writers.
PER_SETTING, PER_POLARITY = 200, 500
#: Fewer thin-pen photos: each is 12 megapixels.
PHOTOS = 100
SEED = 2027


def _mnist_test() -> tuple[np.ndarray, np.ndarray]:
    from digits.training.data import load_mnist

    _, (x, y) = load_mnist()
    return x, y


def optdigits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as 28x28 MNIST-style images (uint8, white on black): each
    upscaled to 20x20 (bicubic) in a 4-px border, as a user would blow one up; and their
    labels."""
    import cv2
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.zeros((len(data.images), 28, 28), np.uint8)
    for image, out in zip(data.images, images):
        big = cv2.resize((image / 16.0).astype(np.float32), (20, 20), interpolation=cv2.INTER_CUBIC)
        out[4:24, 4:24] = np.round(np.clip(big, 0, 1) * 255)
    return images, data.target


def setting_numbers(count: int, seed: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(setting, text, image)``: ``count`` numbers per setting (`PHOTOS` at most for the
    thin-pen photos), MNIST test digits, apart."""
    from digits.synth import numbers, pages

    x, y = _mnist_test()
    for index, setting in enumerate(pages.SETTINGS):
        rng = np.random.default_rng([seed, index])
        many = min(count, PHOTOS) if setting == "thin_pen_photo" else count
        for _ in range(many):
            chosen = rng.integers(0, len(x), int(rng.integers(2, 9)))
            alpha = numbers.compose([x[i] for i in chosen], rng, spacing="separated")
            yield setting, "".join(str(int(y[i])) for i in chosen), pages.page(alpha, rng, setting)


def writer_numbers(count: int, seed: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(kind, text, image)``: ``count`` numbers of optdigits digits per polarity, apart or
    touching as the number benchmark lays them out, rendered as its photos."""
    from digits.synth.numbers import compose, render

    x, y = optdigits_as_mnist()
    for index, kind in enumerate(("optdigits_dark_on_light", "optdigits_light_on_dark")):
        rng = np.random.default_rng([seed, 100 + index])
        for number in range(count):
            chosen = rng.integers(0, len(x), int(rng.integers(2, 9)))
            spacing = "separated" if number % 2 == 0 else "touching"
            image = render(compose([x[i] for i in chosen], rng, spacing=spacing), rng, "photo")
            if kind.endswith("light_on_dark"):
                image = 255 - image
            yield kind, "".join(str(int(y[i])) for i in chosen), image


def _score(rows: list[dict]) -> dict:
    n = len(rows)
    right = sum(r["right"] for r in rows)
    wrong = sum(not r["right"] and not r["flagged"] for r in rows)
    return {
        "numbers": n,
        "whole_number_accuracy": round(right / n, 4),
        "flagged": round(sum(r["flagged"] for r in rows) / n, 4),
        "wrong_not_flagged": round(wrong / n, 4),
        "no_number_found": sum(not r["answer"] for r in rows),
        "median_read_ms": round(float(np.median([r["ms"] for r in rows])), 1),
        "failures": [
            {key: r[key] for key in ("text", "answer", "flagged", "flags")}
            for r in rows
            if not r["right"]
        ][:20],
    }


def measure(items, predictor, reader=None) -> dict:
    """Read each ``(kind, text, image)`` (with ``reader``, default the shipped one); the
    scores per kind."""
    from tqdm import tqdm

    from digits.read import read_number

    rows: dict[str, list[dict]] = {}
    for kind, text, image in tqdm(list(items), desc="pages", unit="number", leave=False):
        start = time.perf_counter()
        reading = read_number(image, predictor, reader=reader)
        ms = 1000 * (time.perf_counter() - start)
        rows.setdefault(kind, []).append(
            {
                "text": text,
                "answer": reading.text,
                "right": reading.text == text,
                "flagged": reading.low_confidence,
                "flags": list(reading.flags),
                "ms": ms,
            }
        )
    return {kind: _score(group) for kind, group in rows.items()}


def run(args: argparse.Namespace, data, rows) -> dict:
    from digits.machine import reference
    from digits.paths import shown_path
    from digits.predict import Predictor

    machine = reference(quick=True)
    predictor = Predictor(args.model)
    per_setting = args.limit or PER_SETTING
    per_polarity = args.limit or PER_POLARITY
    return {
        "model": shown_path(predictor.model_path),
        "seed": SEED,
        "settings": measure(setting_numbers(per_setting, SEED), predictor),
        "other_writers": measure(writer_numbers(per_polarity, SEED), predictor),
        "held_out": "every kind: no setting or writer here is in the reader's training lines",
        "machine": machine,
    }


def table(report: dict) -> str:
    rows = [
        {"kind": kind, **scores}
        for part in ("settings", "other_writers")
        for kind, scores in report[part].items()
    ]
    return markdown_table(
        [
            ("kind", lambda r: r["kind"], False),
            ("numbers", lambda r: r["numbers"], True),
            ("whole-number", lambda r: percent(r["whole_number_accuracy"]), True),
            ("flagged", lambda r: percent(r["flagged"]), True),
            ("wrong, not flagged", lambda r: percent(r["wrong_not_flagged"]), True),
            ("no number", lambda r: r["no_number_found"], True),
            ("median ms", lambda r: f"{r['median_read_ms']:.0f}", True),
        ],
        rows,
    )
