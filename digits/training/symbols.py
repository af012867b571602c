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
default) is held out for validation. Batch size and epochs are chosen from the folder's
size unless given, and augmentation suits small sets (`digits.training.small_sets`). A
model no better than chance on validation is refused (`NotLearnt`: nothing written);
otherwise it is saved atomically with its sidecar (``MODEL.json``,
`digits.runtime.modelfile.write_info`) holding the class names, so that
`digits.predict.Predictor`, ``digits predict`` and ``digits read`` print them, and its own
``low_confidence`` threshold chosen on the validation split.

    python -m digits train --data DIR [--epochs N] [--batch-size B] [--out FILE]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits.training.small_sets import (
    FLAG_RIGHT,
    SIGNIFICANCE,
    ChanceTest,
    Plan,
    augmented_dataset,
    chance_test,
    epoch_bar,
    passes_per_round,
    plan_for,
    symbol_threshold,
)

__all__ = [
    "EXTENSIONS",
    "MIN_IMAGES",
    "NotLearnt",
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
    plan: Plan | None = None
    chance: float = 0.0
    low_confidence: float = 0.5


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


class NotLearnt(SymbolsError):
    """Training ran, but the model is no better than chance on validation: not saved."""


def train(
    data: str | Path,
    out: str | Path,
    epochs: int | None = None,
    batch_size: int | None = None,
    validation: float = 0.2,
    seed: int = 0,
    progress: bool = True,
    log=None,
) -> TrainedSymbols:
    """Train the Deeper CNN on a class-per-subfolder folder and save it with its class names
    and its confidence threshold, if its validation accuracy beats chance.

    ``epochs`` and ``batch_size`` default to settings chosen from the folder's size
    (`digits.training.small_sets.plan_for`); ``log`` (e.g. ``print``) is told what was chosen.

    Raises:
        NotLearnt: the model is no better than chance on validation; nothing is written and
            an existing ``out`` is left as it was.
        SymbolsError: the folder cannot be used (see `load_folder`), or bad settings.
    """
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise SymbolsError(f"{name} must be at least 1, not {value}")
    if not 0.0 < validation < 0.9:
        raise SymbolsError(f"the validation fraction must be between 0 and 0.9, not {validation}")
    out = Path(out)
    if out.suffix not in (".h5", ".keras"):
        raise SymbolsError(f"{out}: the model file must end in .h5 or .keras")
    symbols = load_folder(data, progress=progress)
    train_index, val_index = split(symbols.labels, validation, seed)
    plan = plan_for(len(train_index), epochs, batch_size)
    if log is not None:
        log(plan.describe(len(train_index)))
    model, seconds = _fit(symbols, train_index, val_index, plan, seed, progress)
    val_labels = symbols.labels[val_index]
    probabilities = model.predict(symbols.images[val_index][..., None] / 255.0, verbose=0)
    test = chance_test(probabilities.argmax(axis=1), val_labels)
    if not test.passed:
        raise NotLearnt(_refusal(test, out))
    threshold = symbol_threshold(probabilities, val_labels)
    _save(model, out, symbols, test, threshold, plan)
    return TrainedSymbols(
        model_path=out,
        class_names=symbols.class_names,
        train_images=len(train_index),
        validation_images=len(val_index),
        val_accuracy=test.accuracy,
        skipped=symbols.skipped,
        seconds=seconds,
        plan=plan,
        chance=test.chance,
        low_confidence=threshold,
    )


def _fit(symbols: SymbolSet, train_index, val_index, plan: Plan, seed: int, progress: bool):
    """Train with small-set augmentation; keep the last epoch's weights (the learning rate
    decays to zero) with batch-norm statistics recomputed on the training images.

    A small folder's epochs are run in rounds of several passes (`passes_per_round`), so
    that Keras' fixed cost per epoch (validation, callbacks) does not dominate."""
    from digits.training.cnns import build_deeper_cnn
    from digits.training.train import fit, recompute_batch_norm

    classes = len(symbols.class_names)
    images, labels = symbols.images[train_index], symbols.labels[train_index]
    passes = passes_per_round(plan)
    dataset = augmented_dataset(images, labels, plan.batch_size, classes, seed).repeat(passes)
    model = build_deeper_cnn(num_classes=classes)
    result = fit(
        model,
        (np.concatenate([images] * passes), dataset),  # its length sets the lr schedule's steps
        (symbols.images[val_index], symbols.labels[val_index]),
        epochs=plan.epochs // passes,
        batch_size=plan.batch_size,
        keep="last",
        seed=seed,
        steps_per_execution=min(8, plan.steps // plan.epochs * passes),
        verbose=0,
        callbacks=[epoch_bar(plan.epochs // passes, progress)],
    )
    recompute_batch_norm(model, images)
    return model, float(result.seconds)


def _refusal(test: ChanceTest, out: Path) -> str:
    kept = f"{out} was left as it was" if out.exists() else "nothing was written"
    if test.chance**test.total >= SIGNIFICANCE:  # even all right would not tell
        return (
            f"not saved: the validation split ({test.total} images) is too small to show "
            f"that the model beats chance ({test.chance:.1%}), even if all were right; "
            f"{kept}. Add images: at least 20 per class helps."
        )
    return (
        f"not saved: validation accuracy {test.accuracy:.1%} ({test.right} of {test.total}) "
        f"is no better than chance ({test.chance:.1%}, always answering the commonest class; "
        f"p = {test.p_value:.2g}), so the model has not learned the classes apart; {kept}. "
        "Check that each subfolder holds one kind of symbol and that the classes differ, "
        "and add images (at least 20 per class helps)."
    )


def _save(model, out: Path, symbols: SymbolSet, test: ChanceTest, threshold: float,
          plan: Plan) -> None:  # fmt: skip
    """Save atomically, with a new sidecar holding the class names and what it learned from."""
    from digits.runtime.modelfile import save_keras_model, sidecar_path

    sidecar_path(out).unlink(missing_ok=True)  # an older model's keys must not carry over
    save_keras_model(
        model,
        out,
        class_names=list(symbols.class_names),
        temperature=1.0,
        low_confidence=threshold,
        low_confidence_rule=f"highest threshold flagging at most {FLAG_RIGHT:.0%} of the "
        "right validation answers (at least 0.5); the digit model's not-a-digit detector is "
        "not used with this model",
        trained_on={
            "images": int(len(symbols.labels)),
            "per_class": {n: int(c) for n, c in zip(symbols.class_names, _counts(symbols))},
            "skipped": symbols.skipped,
            "val_accuracy": round(test.accuracy, 4),
            "val_images": test.total,
            "val_chance": round(test.chance, 4),
            "val_p_value": float(f"{test.p_value:.3g}"),
            "batch_size": plan.batch_size,
            "epochs": plan.epochs,
            "chosen": plan.chosen,
        },
    )


def _counts(symbols: SymbolSet) -> np.ndarray:
    return np.bincount(symbols.labels, minlength=len(symbols.class_names))
