"""The number set: numbers of 2-8 MNIST test digits, separated or touching, read whole.

For each set (separated digits, touching digits) and style (photo JPEG, canvas PNG):

- whole-number accuracy: the text read equals the number written (the measure that
  counts);
- per-digit accuracy: 1 - (edit distance between read and true text) / (true digits),
  over the whole set (a missed, extra or wrong digit each costs one);
- count accuracy: the number of digits found is right;
- how often the reading is flagged low-confidence, and the whole-number accuracy of the
  readings that are not;
- the same apart for the numbers where one digit has at least half its ink under its
  neighbours' (`HALF_HIDDEN`; the set's ``hidden`` column), which nobody can read for
  sure, and for the others.

Each image is read from its file with `digits.read.read_number`, the code behind
``python -m digits read``. Writes ``reports/numbers.json`` and draws examples with their
boxes to ``reports/figures/numbers.png``.

    python -m digits.eval numbers [--model FILE] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from digits.eval.report import markdown_table, percent
from digits.paths import FIGURES_DIR, shown_path

NAME = "numbers"
SET = "numbers"
#: Both ways `digits.read.read_number` can read a line, side by side.
METHODS = ("sequence", "segment")
#: A digit with at least this share of its ink under its neighbours' is half hidden: the
#: scores of the numbers with one (and of the others) are reported apart too.
HALF_HIDDEN = 0.5


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(rows: list[dict]) -> dict:
    """Accuracy figures of a list of {text, read, low_confidence} rows."""
    digits = sum(len(r["text"]) for r in rows)
    errors = sum(edit_distance(r["read"], r["text"]) for r in rows)
    confident = [r for r in rows if not r["low_confidence"]]
    return {
        "numbers": len(rows),
        "digits": digits,
        "whole_number_accuracy": round(np.mean([r["read"] == r["text"] for r in rows]), 4),
        "digit_accuracy": round(max(0.0, 1 - errors / digits), 4),
        "count_accuracy": round(np.mean([len(r["read"]) == len(r["text"]) for r in rows]), 4),
        "low_confidence_rate": round(1 - len(confident) / len(rows), 4),
        "confidently_wrong_rate": round(
            float(np.mean([r["read"] != r["text"] and not r["low_confidence"] for r in rows])), 4
        ),
        "confident_whole_number_accuracy": round(
            float(np.mean([r["read"] == r["text"] for r in confident])) if confident else 0.0, 4
        ),
    }


def figure(data: Path, rows: list[dict], predictor, out: Path) -> None:
    """Examples of every set with the boxes and digits read (green: whole number right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from digits.image import load_image
    from digits.read import read_number
    from digits.training.plots import save_figure

    picks = []
    for name in dict.fromkeys(r["set"] for r in rows):
        of_set = [r for r in rows if r["set"] == name]
        wrong = [r for r in of_set[3:] if r["read"] != r["text"]]
        picks += of_set[:3] + (wrong[:1] or of_set[3:4])
    fig, axes = plt.subplots(len(picks) // 2, 2, figsize=(12, 1.5 * len(picks) // 2))
    for ax, row in zip(axes.T.ravel(), picks):
        image = load_image(data / row["file"])
        if image.ndim == 3 and image.shape[2] == 4:  # show a transparent canvas as ink on white
            image = 255 - image[:, :, 3]
        reading = read_number(data / row["file"], predictor)
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ok = reading.text == row["text"]
        for digit in reading.digits:
            x, y, w, h = digit.box
            colour = "tab:green" if ok else "tab:red"
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, linewidth=1.2))
            ax.text(x, y - 2, digit.label, color=colour, fontsize=8, va="bottom")
        ax.set_title(
            f"{row['set']} ({row['style']}): {row['text']} read as {reading.text or '(none)'}",
            fontsize=9,
        )
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, out, dpi=110, bbox_inches=None)
    plt.close(fig)


def evaluate(data: Path, rows: list[dict], predictor, method: str) -> list[dict]:
    """Read every image of the set with ``method``; its rows with ``read``,
    ``low_confidence`` and ``ms`` added."""
    return [{**row, **timed_read(data / row["file"], predictor, method)} for row in rows]


def timed_read(image, predictor, method: str) -> dict:
    """`read_number` of one image: ``read`` (the text), ``low_confidence`` and ``ms``."""
    from digits.read import read_number

    start = time.perf_counter()
    reading = read_number(image, predictor, method=method)
    ms = 1000 * (time.perf_counter() - start)
    return {"read": reading.text, "low_confidence": reading.low_confidence, "ms": ms}


def _by_set(rows: list[dict]) -> dict:
    report = {}
    for name in dict.fromkeys(r["set"] for r in rows):
        of_set = [r for r in rows if r["set"] == name]
        entry = score(of_set)
        entry["by_style"] = {
            style: score([r for r in of_set if r["style"] == style])
            for style in ("photo", "canvas")
        }
        entry["median_read_ms"] = round(float(np.median([r["ms"] for r in of_set])), 2)
        entry.update(_by_hidden(of_set))
        report[name] = entry
    return report


def _by_hidden(rows: list[dict]) -> dict:
    """Scores of the numbers whose digits can all be seen and of those where one digit has
    at least `HALF_HIDDEN` of its ink under its neighbours' (the set's ``hidden`` column)."""
    if "hidden" not in rows[0]:
        return {}
    hidden = [float(r["hidden"]) >= HALF_HIDDEN for r in rows]
    parts = {
        "visible": [r for r, h in zip(rows, hidden) if not h],
        "half_hidden": [r for r, h in zip(rows, hidden) if h],
    }
    return {"by_hidden": {name: score(part) for name, part in parts.items() if part}}


def isolated_ceiling(predictor, numbers: int = 20000, seed: int = 0) -> dict[str, float | int]:
    """Each set's whole-number accuracy if every digit were read as the model reads it
    alone, as MNIST's own 28x28 image: numbers drawn as `digits.synth.numbers.make_set`
    draws them (2-8 distinct test digits; ``detached``: about half of them from its small
    pool of 4s and 5s drawn in pieces). Reading whole lines beats it only by reading
    digits right that the model misreads even alone. Also: that pool's size and how many
    of it the model misreads alone."""
    from digits.synth.numbers import SETS, detached_pool, draw_digits
    from digits.training.data import load_mnist

    _, (x, y) = load_mnist()
    right = predictor.predict_inputs(x[..., None].astype(np.float32) / 255).argmax(1) == y
    pool = detached_pool(x, y)
    out = {}
    for index, name in enumerate(SETS):
        rng = np.random.default_rng([seed, index])
        hits = [right[draw_digits(rng, len(x), name, pool)].all() for _ in range(numbers)]
        out[name] = round(float(np.mean(hits)), 4)
    out["detached_pool_digits"] = len(pool)
    out["detached_pool_read_wrong_alone"] = int((~right[pool]).sum())
    return out


#: Held out from training and tuning: numbers written in the script families of the
#: ``hershey-fonts`` package (`glyphs.HERSHEY_SCRIPT_FONTS`: no model or rule of the project
#: saw them), laid out and rendered by the benchmark's own code.
HELD_OUT_KINDS = ("separated", "touching")


def script_digit(rng: np.random.Generator, digit: int) -> np.ndarray:
    """One digit in a held-out script family, bent as a hand would, as a 28x28 MNIST-style
    image (uint8, white on black)."""
    from digits.synth import glyphs

    family = str(rng.choice(glyphs.HERSHEY_SCRIPT_FONTS))
    canvas = glyphs.hershey_glyph(str(digit), family, rng)
    return glyphs.mnist_style(glyphs.jitter(canvas, rng, rng.uniform(0.5, 3.0)), rng)


def held_out_images(count: int, seed: int):
    """``(kind, style, text, image)`` of ``count`` numbers per `HELD_OUT_KINDS` kind: 2-8
    script digits each, as the benchmark composes and renders them (photos JPEG-encoded)."""
    import cv2

    from digits.synth.numbers import STYLES, compose, render

    for index, kind in enumerate(HELD_OUT_KINDS):
        rng = np.random.default_rng([seed, 77, index])
        for number in range(count):
            text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 9))))
            alpha = compose([script_digit(rng, int(d)) for d in text], rng, spacing=kind)
            style = STYLES[number % 2]
            image = render(alpha, rng, style)
            if style == "photo":
                quality = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 93))]
                image = cv2.imencode(".jpg", image, quality)[1].tobytes()
            yield kind, style, text, image


def held_out(predictor, count: int = 250, seed: int = 2026) -> dict:
    """Both methods' scores on `held_out_images`, per kind (read from memory)."""
    rows: dict[str, list[dict]] = {method: [] for method in METHODS}
    for kind, style, text, image in held_out_images(count, seed):
        for method in METHODS:
            row = {"set": kind, "style": style, "text": text}
            rows[method].append({**row, **timed_read(image, predictor, method)})
    return {
        "writing": "hershey-fonts script families (cursive, scriptc, scripts), never trained on",
        "methods": {method: _by_set(read) for method, read in rows.items()},
    }


def run(args: argparse.Namespace, data: Path, rows: list[dict]) -> dict:
    """Read the set with both methods of `digits.read.read_number`; return the report and
    draw the figure of the default method."""
    from digits.predict import Predictor
    from digits.runtime.sequence import READER_PATH

    predictor = Predictor(args.model)
    methods = {method: evaluate(data, rows, predictor, method) for method in METHODS}
    figure_path = (args.out_dir / "figures" if args.out_dir else FIGURES_DIR) / "numbers.png"
    figure(data, methods["sequence"], predictor, figure_path)
    return {
        "model": shown_path(predictor.model_path),
        "reader": shown_path(READER_PATH),
        "figure": shown_path(figure_path),
        "methods": {method: _by_set(read) for method, read in methods.items()},
        "isolated_digit_ceiling": isolated_ceiling(predictor),
        "held_out_script": held_out(predictor),
    }


def table(report: dict) -> str:
    ceiling = report.get("isolated_digit_ceiling", {})
    rows = [
        {"set": name, "method": method, "ceiling": ceiling.get(name), **s}
        for name in report["methods"]["sequence"]
        for method, sets in report["methods"].items()
        for s in [sets[name]]
    ]
    return markdown_table(
        [
            ("set", lambda r: r["set"], False),
            ("method", lambda r: r["method"], False),
            ("numbers", lambda r: r["numbers"], True),
            ("whole-number", lambda r: percent(r["whole_number_accuracy"], 2), True),
            ("digits alone", lambda r: percent(r["ceiling"], 2) if r["ceiling"] else "", True),
            ("per-digit", lambda r: percent(r["digit_accuracy"], 2), True),
            ("confidently wrong", lambda r: percent(r["confidently_wrong_rate"], 2), True),
            ("low-conf.", lambda r: percent(r["low_confidence_rate"], 2), True),
            ("median ms", lambda r: f"{r['median_read_ms']:.1f}", True),
        ],
        rows,
    )
