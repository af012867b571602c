"""`make train-full`: train the Deeper CNN from a recipe file with several seeds; save one model.

    python -m lab.train_full lab/recipes/swa.json [--set KEY=VALUE ...]

A recipe (`Recipe`, a JSON file under lab/recipes/) names the training settings, the seeds, where
the model and the report go, and optionally teachers to distil from (`lab.distill`) and a model
to fine-tune (``init``). Each seed is trained with `digits.training.train.fit` and scored on the
validation split and, for the report only, on the test set. Then one model is chosen: the seed
with the best validation accuracy, or with ``soup`` the mean of the seeds' weights
(`lab.soup`). It is saved by `digits.training.metrics.save_best_model`: with
``replace: "if_better"`` only if it beats the model already there on validation. ``--set``
overrides a recipe field
(VALUE is JSON, e.g. ``--set epochs=2 --set seeds=[1]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.predict import ModelError, load_model
from digits.runtime.backend import keras
from digits.training import cnns, data, metrics, train
from lab import distill, soup
from lab import recipe as recipe_file


@dataclasses.dataclass
class Recipe:
    """One `make train-full` stage: every field can be set in the recipe file."""

    model_path: str
    report: str
    epochs: int = 30
    seeds: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3])
    batch_size: int = 128
    learning_rate: float = 3e-3
    filters: list[int] = dataclasses.field(default_factory=lambda: [32, 64])
    augment: bool = True
    keep: str = "average"
    average_last: int = 8
    average_floor: float = 0.1
    teachers: list[str] = dataclasses.field(default_factory=list)
    teacher_views: int = 10
    teacher_weight: float = 0.5
    init: str | None = None
    soup: bool = False
    replace: str = "if_better"
    subset: int | None = None
    note: str = ""


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """The recipe in the JSON file ``path``, with ``KEY=VALUE`` overrides applied."""
    recipe = recipe_file.load(path, Recipe, overrides)
    if recipe.soup and not recipe.init:
        raise SystemExit(f"{path}: soup needs init (only models fine-tuned from one start)")
    return recipe


def resolve(path: str) -> Path:
    """A recipe path: relative ones are relative to the repository root."""
    return ROOT / path


def load_checked(path: str, role: str):
    """Load a model through the prediction path's checks; a bad file is a usage error."""
    try:
        return load_model(resolve(path))
    except ModelError as error:
        raise SystemExit(f"{role}: {error}") from None


def score(model, splits: dict) -> dict:
    """Accuracy and loss of ``model`` on each split, as ``{"val_accuracy": ..., ...}``."""
    out = {}
    for name, (x, y) in splits.items():
        scores = metrics.evaluate_model(model, x, y)
        out[f"{name}_accuracy"], out[f"{name}_loss"] = scores["accuracy"], scores["loss"]
    return out


def train_seed(recipe: Recipe, seed: int, train_split, splits: dict, views):
    """Train one seed; returns the model and its line of the report."""
    print(f"\n=== Deeper CNN, seed {seed}, {recipe.epochs} epochs ===", flush=True)
    if recipe.init:  # fine-tune a trained model
        model = load_checked(recipe.init, "init")
    else:
        model = cnns.build_deeper_cnn(filters=tuple(recipe.filters))
    images, labels = train_split
    if views is not None:
        keras.utils.set_random_seed(seed)  # the views picked each epoch depend on the seed
        labels = distill.view_dataset(*views, batch_size=recipe.batch_size, seed=seed)
    result = train.fit(
        model,
        (images, labels),
        splits["val"],
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        augment=recipe.augment,
        keep=recipe.keep,
        average_last=recipe.average_last,
        average_floor=recipe.average_floor,
        seed=seed,
    )
    run = {"seed": seed, "epoch": result.kept_epoch, **score(model, splits)}
    run.update(best_epoch=result.best_epoch, train_seconds=round(result.seconds, 1))
    print(json.dumps(run), flush=True)
    return model, run


def make_views(recipe: Recipe, train_split, splits: dict):
    """The teachers' distillation targets, and the teachers' scores for the report."""
    if not recipe.teachers:
        return None, []
    teachers = [load_checked(path, "teacher") for path in recipe.teachers]
    scores = [{"path": p, **score(t, splits)} for p, t in zip(recipe.teachers, teachers)]
    views = distill.make_teacher_views(
        teachers, *train_split, views=recipe.teacher_views, teacher_weight=recipe.teacher_weight
    )
    return views, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path, help="a recipe file, e.g. lab/recipes/swa.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe, args.set)
    started = time.perf_counter()
    (x_full, y_full), test = data.load_mnist()
    train_split, validation = data.split_validation(x_full, y_full)
    if recipe.subset:
        train_split = (train_split[0][: recipe.subset], train_split[1][: recipe.subset])
    splits = {"val": validation, "test": test}
    init = recipe.init and {"path": recipe.init, **score(load_checked(recipe.init, "init"), splits)}
    views, teachers = make_views(recipe, train_split, splits)
    trained = [train_seed(recipe, seed, train_split, splits, views) for seed in recipe.seeds]
    runs = [run for _, run in trained]
    if recipe.soup:
        chosen = soup.average_models([model for model, _ in trained], train_split[0])
        shipped = {"seed": "soup", **score(chosen, splits)}
    else:
        best = int(np.argmax([run["val_accuracy"] for run in runs]))  # validation, never test
        chosen, shipped = trained[best][0], runs[best]
    saved = metrics.save_best_model(
        chosen, resolve(recipe.model_path), *validation, replace=recipe.replace
    )
    test_accuracy = np.array([run["test_accuracy"] for run in runs])
    report = {
        "command": f"python -m lab.train_full {' '.join([str(args.recipe), *args.set])}",
        "recipe": dataclasses.asdict(recipe),
        "init": init,
        "teachers": teachers,
        "runs": runs,
        "test_accuracy_mean": float(test_accuracy.mean()),
        "test_accuracy_std": float(test_accuracy.std(ddof=1)) if len(runs) > 1 else 0.0,
        "shipped": shipped,
        "saved": saved,
        "total_seconds": round(time.perf_counter() - started, 1),
        "environment": metrics.environment(),
    }
    metrics.save_metrics(report, resolve(recipe.report))
    verdict = "saved to" if saved["saved"] else "NOT saved (not better on validation) to"
    print(
        f"\nseed {shipped['seed']}: test {shipped['test_accuracy']:.2%}, {verdict} {saved['path']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
