"""Make cover-image.png: real MNIST test digits read by the shipped model, and its score.

Usage: python scripts/make_cover_image.py [--model FILE] [--metrics FILE] [--out FILE]
The score comes from reports/metrics.json (written by the notebook), the digits from the
MNIST test set, the predictions from the model file: nothing is drawn by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from digits.paths import MODEL_PATH, REPORTS_DIR, ROOT  # noqa: E402
from digits.predict import Predictor  # noqa: E402
from digits.training import data  # noqa: E402
from digits.training.plots import save_figure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL_PATH, type=Path)
    parser.add_argument("--metrics", default=REPORTS_DIR / "metrics.json", type=Path)
    parser.add_argument("--out", default=ROOT / "cover-image.png", type=Path)
    parser.add_argument("--seed", default=7, type=int)
    args = parser.parse_args()

    metrics = json.loads(args.metrics.read_text())
    shipped = metrics["saved_model"]
    best = metrics["best_model"] if shipped["from_this_run"] else "Deeper CNN (make train-full)"
    accuracy = shipped["test_accuracy"]
    _, (x_test, y_test) = data.load_mnist()
    rows, columns = 5, 16
    index = np.random.default_rng(args.seed).choice(len(x_test), size=rows * columns, replace=False)
    probabilities = Predictor(args.model).predict_inputs(data.scale(x_test[index]))
    predicted = probabilities.argmax(axis=1)

    fig = plt.figure(figsize=(12, 4.6), facecolor="#0d1117")
    fig.text(
        0.5,
        0.93,
        "Handwritten Digit Recognition with CNNs",
        ha="center",
        color="white",
        fontsize=22,
        weight="bold",
    )
    fig.text(
        0.5,
        0.855,
        f"{best}: {accuracy:.2%} on the 10,000 MNIST test digits  ·  TensorFlow / Keras",
        ha="center",
        color="#8b949e",
        fontsize=12,
    )
    grid = fig.add_gridspec(
        rows, columns, left=0.03, right=0.97, bottom=0.03, top=0.8, wspace=0.12, hspace=0.35
    )
    for k, i in enumerate(index):
        ax = fig.add_subplot(grid[k // columns, k % columns])
        ax.imshow(x_test[i], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        ok = predicted[k] == y_test[i]
        ax.set_title(str(predicted[k]), color="#3fb950" if ok else "#f85149", fontsize=10, pad=2)
        for spine in ax.spines.values():
            spine.set_color("#30363d")
    save_figure(fig, args.out, dpi=100, bbox_inches=None, facecolor=fig.get_facecolor())
    right = int((predicted == y_test[index]).sum())
    print(f"wrote {args.out} ({best}, {accuracy:.2%}; {right}/{len(index)} shown digits right)")


if __name__ == "__main__":
    main()
