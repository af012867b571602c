"""Figures for the notebook and the README: each function draws one figure and returns it.

`save_figure` is the only function here that writes a file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from digits.runtime.modelfile import atomic_write_bytes

__all__ = [
    "sample_grid",
    "label_distribution",
    "training_curves",
    "confusion_matrices",
    "per_class_comparison",
    "pair_examples",
    "misclassified_gallery",
    "prediction_gallery",
    "save_figure",
]


def _image_axes(n: int, columns: int, size: float = 1.1, extra_height: float = 0.35):
    rows = max(1, int(np.ceil(n / columns)))
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * size, rows * (size + extra_height)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def sample_grid(
    images: np.ndarray,
    labels: np.ndarray,
    n: int = 40,
    columns: int = 10,
    seed: int = 0,
    shuffle: bool = True,
) -> Figure:
    """A grid of ``n`` digits (random, or the first ``n`` if not ``shuffle``) with their labels."""
    if shuffle:
        index = np.random.default_rng(seed).choice(
            len(images), size=min(n, len(images)), replace=False
        )
    else:
        index = np.arange(min(n, len(images)))
    fig, axes = _image_axes(len(index), columns)
    for ax, i in zip(axes, index):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(str(labels[i]), fontsize=10)
    fig.suptitle("Random training digits and their labels")
    fig.tight_layout()
    return fig


def label_distribution(y_train: np.ndarray, y_test: np.ndarray) -> Figure:
    """Share of each digit in the training and the test set, side by side."""
    frame = pd.DataFrame(
        {
            "digit": np.concatenate([y_train, y_test]),
            "split": ["train"] * len(y_train) + ["test"] * len(y_test),
        }
    )
    shares = (
        frame.groupby("split")["digit"].value_counts(normalize=True).rename("share").reset_index()
    )
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.barplot(data=shares, x="digit", y="share", hue="split", hue_order=["train", "test"], ax=ax)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.set_ylabel("share of images")
    ax.set_title("Label distribution: train vs test (dotted line = perfectly balanced)")
    fig.tight_layout()
    return fig


def training_curves(histories: dict[str, dict[str, list[float]]]) -> Figure:
    """Loss and accuracy per epoch, training (solid) vs validation (dashed), for each model."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
    for color, (name, history) in zip(sns.color_palette(), histories.items()):
        epochs = np.arange(1, len(history["loss"]) + 1)
        for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            ax.plot(epochs, history[key], color=color, label=f"{name} train")
            ax.plot(epochs, history[f"val_{key}"], color=color, ls="--", label=f"{name} validation")
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="categorical cross-entropy", yscale="log")
    ax_loss.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_loss.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax_loss.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    ax_acc.set_ylim(max(0.9, ax_acc.get_ylim()[0]), 1.0)
    ax_acc.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=1))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict[str, np.ndarray]) -> Figure:
    """Confusion matrices side by side: correct counts on a green diagonal, errors in shades
    of red (zeros left blank) so that they stand out."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(6 * len(matrices), 5), squeeze=False)
    diagonal = np.eye(10, dtype=bool)
    for ax, (name, matrix) in zip(axes.flat, matrices.items()):
        labels = np.where(matrix > 0, matrix.astype(str), "")
        style = dict(annot=labels, fmt="", cbar=False, ax=ax, square=True, linewidths=0.5)
        sns.heatmap(matrix, mask=diagonal, cmap="Reds", vmin=0, annot_kws={"size": 9}, **style)
        sns.heatmap(
            matrix,
            mask=~diagonal,
            cmap=ListedColormap(["#d9f0d3"]),
            annot_kws={"size": 9, "weight": "bold", "color": "#1b5e20"},
            **style,
        )
        ax.set(
            title=f"{name}: {matrix.trace() / matrix.sum():.2%} correct",
            xlabel="predicted digit",
            ylabel="true digit",
        )
    fig.tight_layout()
    return fig


def per_class_comparison(error_rates: dict[str, pd.Series]) -> Figure:
    """Error rate per digit for each model (lower is better)."""
    frame = (
        pd.DataFrame(error_rates)
        .rename_axis("digit")
        .reset_index()
        .melt(id_vars="digit", var_name="model", value_name="error rate")
    )
    fig, ax = plt.subplots(figsize=(9, 3.5))
    sns.barplot(data=frame, x="digit", y="error rate", hue="model", ax=ax)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=1))
    ax.set_title("Test error rate per digit")
    fig.tight_layout()
    return fig


def pair_examples(
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    per_pair: int = 8,
) -> Figure:
    """For each pair (a, b): test images of a read as b, and of b read as a (directions with
    no such mistake are left out)."""
    rows = [(a, b) for pair in pairs for a, b in (pair, pair[::-1])]
    rows = [(a, b) for a, b in rows if np.any((labels == a) & (predicted == b))]
    if not rows:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "No test digit of these pairs was read as its look-alike.", ha="center")
        return fig
    fig, axes = plt.subplots(
        len(rows), per_pair, figsize=(per_pair * 1.0, len(rows) * 1.2), squeeze=False
    )
    for row, (a, b) in zip(axes, rows):
        index = np.flatnonzero((labels == a) & (predicted == b))[:per_pair]
        for ax in row:
            ax.axis("off")
        row[0].text(
            -0.6,
            0.5,
            f"{a} read as {b}\n({np.sum((labels == a) & (predicted == b))}×)",
            transform=row[0].transAxes,
            ha="right",
            va="center",
            fontsize=9,
        )
        for ax, i in zip(row, index):
            ax.imshow(images[i], cmap="gray_r")
    fig.suptitle("The hard pairs: test digits read as their look-alike")
    fig.tight_layout()
    return fig


def misclassified_gallery(
    images: np.ndarray, table: pd.DataFrame, n: int = 30, columns: int = 10
) -> Figure:
    """The first ``n`` rows of an `evaluate.misclassified` table: image, truth -> prediction."""
    rows = table.head(n)
    fig, axes = _image_axes(len(rows), columns, size=1.2, extra_height=0.45)
    for ax, row in zip(axes, rows.itertuples()):
        ax.imshow(images[row.index], cmap="gray_r")
        ax.set_title(
            f"{row.true}→{row.predicted}\n{row.confidence:.0%}", fontsize=8, color="tab:red"
        )
    fig.suptitle("Misclassified test digits (true→predicted, confidence), most confident first")
    fig.tight_layout()
    return fig


def prediction_gallery(images: Sequence, predictions: Sequence, columns: int = 4) -> Figure:
    """Each original image (path, bytes, array or PIL image) beside the 28x28 the model saw,
    titled with the predicted digit and its confidence (`digits.predict.Prediction` objects)."""
    from digits.image import load_image

    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(
        rows, 2 * columns, figsize=(2 * columns * 1.4, rows * 1.9), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for k, (image, prediction) in enumerate(zip(images, predictions)):
        ax_original, ax_seen = (
            axes[k // columns, 2 * (k % columns)],
            axes[k // columns, 2 * (k % columns) + 1],
        )
        name = _short(Path(image).name) if isinstance(image, (str, Path)) else f"#{k}"
        try:
            original = load_image(image)
            ax_original.imshow(original, cmap="gray" if original.ndim == 2 else None)
        except ValueError:
            pass  # unreadable: the title says why
        if prediction.digit is None:
            ax_original.set_title(f"{name}\nno digit", fontsize=8, loc="left", color="tab:red")
        else:
            color = "tab:orange" if prediction.low_confidence else "black"
            ax_original.set_title(
                f"{name}\n→ {prediction.digit} ({prediction.confidence:.0%})",
                fontsize=8,
                loc="left",
                color=color,
            )
            ax_seen.imshow(prediction.preprocessed.image, cmap="gray", vmin=0, vmax=1)
            ax_seen.set_title("model input", fontsize=7, color="gray")
    fig.tight_layout()
    return fig


def _short(name: str, width: int = 14) -> str:
    """``name`` cut to ``width`` characters (keeping its end) so that titles do not overlap."""
    return name if len(name) <= width else name[: width - 7] + "…" + name[-6:]


def save_figure(fig: Figure, path: str | Path, dpi: int = 110, **options) -> Path:
    """Save ``fig`` as PNG (atomically, creating the folder) and return the path.

    ``options`` go to ``fig.savefig`` (``bbox_inches="tight"`` unless given)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, **{"bbox_inches": "tight", **options})
    return atomic_write_bytes(path, buffer.getvalue())
