"""Train the Deeper CNN on your own handwritten symbols: a folder with one subfolder of
images per class.

    data/symbols/
        +/      img001.png  img002.jpg ...
        -/      ...
        0/ ... 9/
        x/      ...

As with Keras' ``image_dataset_from_directory``: the class names are the subfolder names
in alphanumeric order, and image files (png, jpg, jpeg, bmp, gif) are found in each
subfolder and its subfolders. Every image goes through the same preprocessing as at
prediction time (`digits.image.to_model_input`); unreadable images and images with
no symbol in them are skipped and counted. A stratified part of each class (20% by
default) is held out for validation; `digits.training.train.fit` trains with augmentation and
keeps the best epoch on it. The model is saved atomically with its sidecar
(``MODEL.json``, `digits.runtime.modelfile.write_info`) holding the class names, so that
`digits.predict.Predictor`, ``digits predict`` and ``digits read`` print them.

    python -m digits train --data DIR [--epochs N] [--out FILE]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "EXTENSIONS",
    "MIN_IMAGES",
    "SymbolsError",
    "SymbolSet",
    "TrainedSymbols",
    "load_folder",
    "split",
    "train",
]

#: Image files of a class folder (as ``image_dataset_from_directory``).
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: Fewest usable images per class.
MIN_IMAGES = 5


class SymbolsError(ValueError):
    """The training folder cannot be used: missing, empty, one class, too few images."""


@dataclass(frozen=True)
class SymbolSet:
    """A folder's images as model inputs: uint8 ``(N, 28, 28)`` (white on black, as MNIST),
    integer labels, the class names, and how many files were skipped (and why)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    skipped: int
    skipped_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainedSymbols:
    """What `train` made: the saved model, its classes and its validation accuracy."""

    model_path: Path
    class_names: tuple[str, ...]
    train_images: int
    validation_images: int
    val_accuracy: float
    skipped: int
    seconds: float


def _class_folders(data: Path) -> list[Path]:
    if not data.exists():
        raise SymbolsError(f"{data}: no such folder.")
    if not data.is_dir():
        raise SymbolsError(f"{data} is a file; --data needs a folder with one subfolder per class.")
    folders = sorted((p for p in data.iterdir() if p.is_dir()), key=lambda p: p.name)
    if not folders:
        raise SymbolsError(
            f"{data} has no class subfolders; put each class's images in a subfolder named "
            f"after the class (e.g. {data}/plus/*.png)."
        )
    if len(folders) == 1:
        raise SymbolsError(
            f"{data} has only one class ({folders[0].name}); a classifier needs at least two."
        )
    return folders


def load_folder(data: str | Path, progress: bool = True) -> SymbolSet:
    """Read every image of a class-per-subfolder folder through `to_model_input`.

    Raises:
        SymbolsError: the folder is missing or empty, has a single class, or a class has
            fewer than `MIN_IMAGES` usable images.
    """
    from digits.image import ImageError, NoDigitFound, to_model_input

    data = Path(data)
    folders = _class_folders(data)
    files = [
        (index, path)
        for index, folder in enumerate(folders)
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in EXTENSIONS and path.is_file()
    ]
    if not files:
        raise SymbolsError(
            f"{data} has no image files ({', '.join(EXTENSIONS)}) in its subfolders."
        )
    images, labels, skipped = [], [], []
    for index, path in _progress(files, progress, "reading images"):
        try:
            field = to_model_input(path).image
        except (ImageError, NoDigitFound) as error:
            skipped.append(f"{path}: {error}")
            continue
        images.append(np.round(field * 255).astype(np.uint8))
        labels.append(index)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(folders))
    short = [f"{f.name} ({c})" for f, c in zip(folders, counts) if c < MIN_IMAGES]
    if short:
        raise SymbolsError(
            f"too few usable images (fewer than {MIN_IMAGES}) in: {', '.join(short)}"
            + (f"; {len(skipped)} files could not be used" if skipped else "")
        )
    return SymbolSet(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(f.name for f in folders),
        skipped=len(skipped),
        skipped_examples=tuple(skipped[:3]),
    )


def _progress(items: list, show: bool, what: str):
    if not show:
        return items
    from tqdm import tqdm

    # disable=None: a bar on a terminal only, not in logs or pipes
    return tqdm(items, desc=what, unit="img", file=sys.stderr, leave=False, disable=None)


def split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split -> (train indices, validation indices): ``fraction`` of each class
    (at least one image) is held out."""
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = max(1, int(round(fraction * len(members))))
        validation.extend(members[:held])
        train.extend(members[held:])
    return np.sort(np.asarray(train)), np.sort(np.asarray(validation))


def train(
    data: str | Path,
    out: str | Path,
    epochs: int = 10,
    batch_size: int = 64,
    validation: float = 0.2,
    seed: int = 0,
    progress: bool = True,
) -> TrainedSymbols:
    """Train the Deeper CNN on a class-per-subfolder folder and save it with its class names.

    Raises:
        SymbolsError: the folder cannot be used (see `load_folder`), or bad settings.
    """
    if epochs < 1:
        raise SymbolsError(f"--epochs must be at least 1, not {epochs}")
    if not 0.0 < validation < 0.9:
        raise SymbolsError(f"the validation fraction must be between 0 and 0.9, not {validation}")
    out = Path(out)
    if out.suffix not in (".h5", ".keras"):
        raise SymbolsError(f"{out}: the model file must end in .h5 or .keras")
    symbols = load_folder(data, progress=progress)
    from digits.training.cnns import build_deeper_cnn
    from digits.training.train import fit

    train_index, val_index = split(symbols.labels, validation, seed)
    model = build_deeper_cnn(num_classes=len(symbols.class_names))
    result = fit(
        model,
        (symbols.images[train_index], symbols.labels[train_index]),
        (symbols.images[val_index], symbols.labels[val_index]),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    _save(model, out, symbols, result.val_accuracy)
    return TrainedSymbols(
        model_path=out,
        class_names=symbols.class_names,
        train_images=len(train_index),
        validation_images=len(val_index),
        val_accuracy=float(result.val_accuracy),
        skipped=symbols.skipped,
        seconds=float(result.seconds),
    )


def _save(model, out: Path, symbols: SymbolSet, val_accuracy: float) -> None:
    """Save atomically, with a new sidecar holding the class names and what it learned from."""
    from digits.runtime.modelfile import save_keras_model, sidecar_path

    sidecar_path(out).unlink(missing_ok=True)  # an older model's keys must not carry over
    save_keras_model(
        model,
        out,
        class_names=list(symbols.class_names),
        temperature=1.0,
        trained_on={
            "images": int(len(symbols.labels)),
            "per_class": {n: int(c) for n, c in zip(symbols.class_names, _counts(symbols))},
            "skipped": symbols.skipped,
            "val_accuracy": round(float(val_accuracy), 4),
        },
    )


def _counts(symbols: SymbolSet) -> np.ndarray:
    return np.bincount(symbols.labels, minlength=len(symbols.class_names))
