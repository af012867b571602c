"""Measure the number reader on the number benchmark (`make_number_set.py`).

For each set (separated digits, touching digits) and style (photo JPEG, canvas PNG):

- whole-number accuracy: the text read equals the number written (the measure that
  counts);
- per-digit accuracy: 1 - (edit distance between read and true text) / (true digits),
  over the whole set (a missed, extra or wrong digit each costs one);
- count accuracy: the number of digits found is right;
- how often the reading is flagged low-confidence, and the whole-number accuracy of the
  readings that are not.

Each image is read from its file with `digits.read.read_number`, the code behind
``python -m digits read``. Writes ``reports/numbers.json``, prints a Markdown table and
draws examples with their boxes to ``reports/figures/numbers.png``.

    python scripts/evaluate_numbers.py [--model FILE] [--data DIR] [--count 1000] [--seed 16]

Without ``--data`` the set is generated (``--count`` numbers per set, ``--seed``) in a
temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


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
        "confident_whole_number_accuracy": round(
            float(np.mean([r["read"] == r["text"] for r in confident])) if confident else 0.0, 4
        ),
    }


def figure(data: Path, rows: list[dict], predictor, out: Path) -> None:
    """Examples of both sets with the boxes and digits read (green: whole number right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from digits.preprocess import load_image
    from digits.read import read_number
    from digits.training.plots import save_figure

    picks = []
    for name in ("separated", "touching"):
        of_set = [r for r in rows if r["set"] == name]
        picks += of_set[:4] + [r for r in of_set[4:] if r["read"] != r["text"]][:1]
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


def evaluate(data: Path, predictor) -> tuple[list[dict], list[float]]:
    """Read every image of the set; returns its rows with ``read`` and the times in ms."""
    from digits.read import read_number

    with open(data / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    times = []
    for row in rows:
        start = time.perf_counter()
        reading = read_number(data / row["file"], predictor)
        times.append(1000 * (time.perf_counter() - start))
        row["read"] = reading.text
        row["low_confidence"] = reading.low_confidence
    return rows, times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None, help="a set made by make_number_set")
    parser.add_argument("--count", type=int, default=1000, help="numbers per set (generated)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "numbers.json")
    parser.add_argument("--figure", type=Path, default=ROOT / "reports" / "figures" / "numbers.png")
    args = parser.parse_args(argv)

    from digits.predict import Predictor
    from digits.runtime.modelfile import atomic_write_json

    predictor = Predictor(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from digits.synth.numbers import make_set
            from digits.training.data import load_mnist

            _, (x_test, y_test) = load_mnist()
            data = Path(tmp)
            make_set(data, x_test, y_test, args.count, args.seed)
        rows, times = evaluate(data, predictor)
        figure(data, rows, predictor, args.figure)
    report: dict = {
        "command": "python scripts/evaluate_numbers.py"
        + ("" if args.data else f" --count {args.count} --seed {args.seed}"),
        "model": predictor.model_path.name,
        "set": "generated" if args.data is None else str(args.data),
        "median_read_ms": round(float(np.median(times)), 2),
        "sets": {},
    }
    print("| set | style | numbers | whole-number | per-digit | digit count | low-conf. |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in ("separated", "touching"):
        of_set = [r for r in rows if r["set"] == name]
        entry = score(of_set)
        entry["by_style"] = {
            style: score([r for r in of_set if r["style"] == style])
            for style in ("photo", "canvas")
        }
        report["sets"][name] = entry
        for style, s in [("all", entry), *entry["by_style"].items()]:
            print(
                f"| {name} | {style} | {s['numbers']} | {s['whole_number_accuracy']:.2%} "
                f"| {s['digit_accuracy']:.2%} | {s['count_accuracy']:.2%} "
                f"| {s['low_confidence_rate']:.2%} |"
            )
    atomic_write_json(args.out, report)
    print(f"median read time {report['median_read_ms']} ms per image (noisy, 2 shared cores)")
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
