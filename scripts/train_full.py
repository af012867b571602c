"""`make train-full`: train the Deeper CNN longer, with several seeds, and ship the best (or their model soup).

Usage: python scripts/train_full.py [--epochs 30] [--seeds 1 2 3] [--monitor val_accuracy|val_loss]
                                   [--keep average|best|last] [--average-epochs 8] [--average-floor 0.1]
                                   [--filters 32 64] [--batch-size 128]
                                   [--learning-rate 3e-3] [--replace if_better|always]
                                   [--teachers A.h5 B.h5 ... [--teacher-views 10] [--teacher-weight 0.5]]
                                   [--save-models DIR] [--init MODEL.h5 [--soup]]

Same code path as the notebook (digits.data / models / train / evaluate), same validation
split. Each seed's model is scored on the validation split and, for the report only, on
the test set; the seed with the highest *validation* accuracy (or the lowest validation
loss with `--monitor val_loss`, which then also picks each seed's best epoch) is saved as
hand_written_digits_prediction.h5 (unless the model already there is not beaten on both
validation loss and accuracy, see `digits.evaluate.save_best_model`; `--replace always`
ships it anyway).
Writes reports/train_full.json: per-seed results, mean ± std test accuracy, the shipped
seed, and the test accuracy of the seeds' ensemble (average of probabilities), reported
separately.

With `--teachers`, each seed is distilled from those trained models (their probabilities
averaged) instead of learning from the labels alone: see `digits.train.make_teacher_views`.
The teachers' own validation and test accuracy are reported next to the students'.

With `--init`, each seed starts from that trained model's weights (fine-tuning) instead of
a random start. `--soup` then averages the seeds' weights into one model (a "model soup",
`digits.train.average_models`) and ships the soup instead of picking a seed: no choice at
all is made between the seeds. The seeds are still scored and reported. The soup replaces
the file at --model-path only if its validation accuracy is above the --init model's
(`--replace always`: in any case); validation loss is not the yardstick here, because a
distilled model learns softer targets and its loss is not comparable with its start's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from digits import data, evaluate, models, train  # noqa: E402
from digits.backend import keras  # noqa: E402  (quiet TensorFlow import)
from digits.predict import ModelError, load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ensemble_accuracy(probabilities: list[np.ndarray], labels: np.ndarray) -> float:
    """Accuracy of several models' averaged probabilities (an ensemble)."""
    return float(np.mean(np.mean(probabilities, axis=0).argmax(axis=1) == labels))


def distillation_targets(args, x_train, y_train, validation, test):
    """Load the --teachers, score them, and make the augmented views and targets every seed learns from."""
    teachers, files, probabilities = [], [], {"val": [], "test": []}
    for path in args.teachers:
        teachers.append(load_checked(path, "Teacher model"))
        report, scores = describe_model(path, teachers[-1], validation, test)
        files.append(report)
        for name in probabilities:
            probabilities[name].append(scores[name])
    ensemble = {
        f"ensemble_{name}_accuracy": ensemble_accuracy(probabilities[name], y)
        for name, (_, y) in (("val", validation), ("test", test))
    }
    print(
        f"{len(teachers)} teachers, ensemble validation accuracy {ensemble['ensemble_val_accuracy']:.2%}; "
        f"making {args.teacher_views} views of each training image...",
        flush=True,
    )
    start = time.perf_counter()
    views = train.make_teacher_views(
        teachers, x_train, y_train, views=args.teacher_views, teacher_weight=args.teacher_weight
    )
    seconds = round(time.perf_counter() - start, 1)
    print(f"Views made in {seconds} s", flush=True)
    return views, {"models": files, **ensemble, "views_seconds": seconds}


def describe_model(path: Path, model, validation, test) -> tuple[dict, dict]:
    """Path, SHA-256 and validation/test accuracy of a model file, for the report, and its
    probabilities on both splits ({"val": ..., "test": ...})."""
    report = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    probabilities = {}
    for name, (x, y) in (("val", validation), ("test", test)):
        scores = evaluate.evaluate_model(model, x, y)
        report[f"{name}_accuracy"], probabilities[name] = (
            scores["accuracy"],
            scores["probabilities"],
        )
    return report, probabilities


def load_checked(path: Path, role: str):
    """Load a model file through the prediction path's checks; a bad file is a usage error."""
    try:  # a loadable Keras file, 28x28x1 -> 10 probabilities
        return load_model(path)
    except ModelError as error:
        raise SystemExit(f"{role}: {error}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--filters",
        type=int,
        nargs=2,
        default=[32, 64],
        help="widths of the Deeper CNN's two conv blocks",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=3e-3, help="peak of the warm-up + cosine schedule"
    )
    parser.add_argument(
        "--model-path", type=Path, default=ROOT / "hand_written_digits_prediction.h5"
    )
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "train_full.json")
    parser.add_argument("--replace", choices=["if_better", "always"], default="if_better")
    parser.add_argument(
        "--monitor",
        choices=["val_accuracy", "val_loss"],
        default="val_accuracy",
        help="what picks each seed's best epoch and the seed to ship (validation split only)",
    )
    parser.add_argument(
        "--keep",
        choices=["best", "last", "average"],
        default="average",
        help="weights each seed keeps: its best epoch by --monitor, its last epoch, or the average "
        "of its last --average-epochs epochs (SWA); with last/average the best epoch's test "
        "accuracy is reported next to it for comparison, and with average the last epoch's too",
    )
    parser.add_argument(
        "--average-epochs",
        type=int,
        default=8,
        help="with --keep average: how many final epochs to average",
    )
    parser.add_argument(
        "--average-floor",
        type=float,
        default=0.1,
        help="with --keep average: the constant learning rate of those epochs, as a fraction of the peak",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="train without augmentation (a control run)"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=None,
        help="train on the first N training images only (for a quick try)",
    )
    parser.add_argument(
        "--teachers",
        type=Path,
        nargs="+",
        default=None,
        help="trained .h5 models to distil into each seed (their probabilities averaged)",
    )
    parser.add_argument(
        "--teacher-views",
        type=int,
        default=10,
        help="with --teachers: augmented views made per training image",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="with --teachers: weight of the teachers' probabilities in each target (the rest: the label)",
    )
    parser.add_argument(
        "--save-models",
        type=Path,
        default=None,
        help="also keep every seed's model in this folder as seed<N>.h5 (e.g. as teachers for --teachers)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start every seed from this trained model's weights (fine-tuning) instead of a random start",
    )
    parser.add_argument(
        "--soup",
        action="store_true",
        help="with --init: ship the average of the seeds' weights (a model soup), not a seed picked on validation",
    )
    args = parser.parse_args()
    if args.soup and args.init is None:
        parser.error("--soup needs --init: only models fine-tuned from one start can be averaged")
    if args.teacher_views < 1 or not 0.0 <= args.teacher_weight <= 1.0:
        parser.error("--teacher-views must be at least 1 and --teacher-weight between 0 and 1")
    if args.save_models is not None:
        existing = [args.save_models / f"seed{seed}.h5" for seed in args.seeds]
        existing = [path for path in existing if path.exists()]
        if existing:
            raise SystemExit(
                f"Not overwriting {', '.join(map(str, existing))}: move them away or choose another --save-models folder"
            )

    started = time.perf_counter()
    (x_train_full, y_train_full), (x_test, y_test) = data.load_mnist()
    (x_train, y_train), (x_val, y_val) = data.split_validation(x_train_full, y_train_full)
    if args.subset:
        x_train, y_train = x_train[: args.subset], y_train[: args.subset]
    init_report = None
    if args.init:
        init_report, _ = describe_model(
            args.init,
            load_checked(args.init, "Starting model (--init)"),
            (x_val, y_val),
            (x_test, y_test),
        )
    teacher_views, teachers_report = None, None
    if args.teachers:
        teacher_views, teachers_report = distillation_targets(
            args, x_train, y_train, (x_val, y_val), (x_test, y_test)
        )
    runs, probabilities = [], []
    compare = args.keep in ("last", "average")
    average_last = args.average_epochs if args.keep == "average" else 0
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.save_models or Path(scratch)  # each seed's model, kept with --save-models
        model_dir.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            print(f"\n=== Deeper CNN, seed {seed}, {args.epochs} epochs ===", flush=True)
            model = (
                load_model(args.init)
                if args.init
                else models.build_deeper_cnn(filters=tuple(args.filters))
            )
            # With --keep last or average, the best epoch's weights are also saved, to be scored for
            # comparison (and with average, the last epoch's).
            best_weights = Path(scratch) / f"seed{seed}-best.weights.h5"
            last_weights = Path(scratch) / f"seed{seed}-last.weights.h5"
            checkpoints = [
                keras.callbacks.ModelCheckpoint(
                    best_weights, monitor=args.monitor, save_best_only=True, save_weights_only=True
                )
            ]
            if average_last:  # the last epoch before averaging, also scored for comparison
                checkpoints.append(
                    keras.callbacks.ModelCheckpoint(last_weights, save_weights_only=True)
                )
            result = train.fit(
                model,
                (x_train, y_train),
                (x_val, y_val),
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                augment=not args.no_augment,
                monitor=args.monitor,
                restore_best=not compare,
                seed=seed,
                callbacks=checkpoints if compare else None,
                average_last=average_last,
                average_floor=args.average_floor,
                teacher_views=teacher_views,
            )
            scores = evaluate.evaluate_model(model, x_test, y_test)
            probabilities.append(scores["probabilities"])
            model.save(model_dir / f"seed{seed}.h5")
            run = {
                "seed": seed,
                "epoch": result.kept_epoch,
                "val_accuracy": result.val_accuracy,
                "val_loss": result.val_loss,
                "test_accuracy": scores["accuracy"],
                "test_loss": scores["loss"],
                "best_epoch": result.best_epoch,
                "train_seconds": round(result.seconds, 1),
            }
            if compare:  # for comparison only: the best epoch's weights, scored on test
                model.load_weights(best_weights)
                best_scores = evaluate.evaluate_model(model, x_test, y_test)
                run.update(
                    best_epoch_val_accuracy=result.best_val_accuracy,
                    best_epoch_val_loss=result.best_val_loss,
                    best_epoch_test_accuracy=best_scores["accuracy"],
                    best_epoch_test_loss=best_scores["loss"],
                )
            if average_last:
                model.load_weights(last_weights)
                last_scores = evaluate.evaluate_model(model, x_test, y_test)
                run.update(
                    last_epoch_val_accuracy=result.history["val_accuracy"][-1],
                    last_epoch_val_loss=result.history["val_loss"][-1],
                    last_epoch_test_accuracy=last_scores["accuracy"],
                    last_epoch_test_loss=last_scores["loss"],
                )
            run["history"] = {
                key: [round(v, 5) for v in values] for key, values in result.history.items()
            }
            runs.append(run)
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "history"}), flush=True)
        # Chosen on validation, never on test; or, with --soup, no choice: the seeds' average.
        best = runs[train.best_index([run[args.monitor] for run in runs], args.monitor)]
        soup = None
        if args.soup:
            seeds = [
                keras.models.load_model(model_dir / f"seed{run['seed']}.h5", compile=False)
                for run in runs
            ]
            chosen = train.average_models(seeds, x_train)
            soup = {
                name: evaluate.evaluate_model(chosen, x, y)
                for name, (x, y) in (("val", (x_val, y_val)), ("test", (x_test, y_test)))
            }
            soup = {
                f"{name}_{key}": scores[key]
                for name, scores in soup.items()
                for key in ("accuracy", "loss")
            }
            print(f"Soup of {len(seeds)} seeds: {json.dumps(soup)}", flush=True)
        else:
            chosen = keras.models.load_model(model_dir / f"seed{best['seed']}.h5", compile=False)
        if soup and args.replace == "if_better":
            # A soup is judged against the model it was fine-tuned from, by validation accuracy: distilled
            # models fit softer targets, so their validation loss is not comparable with the start's.
            if soup["val_accuracy"] > init_report["val_accuracy"]:
                saved = evaluate.save_best_model(
                    chosen, args.model_path, x_val, y_val, replace="always"
                )
            else:
                saved = {
                    "saved": False,
                    "path": str(args.model_path),
                    "val_loss": soup["val_loss"],
                    "val_accuracy": soup["val_accuracy"],
                    "reason": "its validation accuracy is not above the --init model's",
                }
        else:
            saved = evaluate.save_best_model(
                chosen, args.model_path, x_val, y_val, replace=args.replace
            )
    test = np.array([run["test_accuracy"] for run in runs])
    report = {
        "command": "make train-full  (python scripts/train_full.py " + " ".join(sys.argv[1:]) + ")",
        "model": "Deeper CNN",
        "filters": args.filters,
        "params": chosen.count_params(),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "augment": not args.no_augment,
        "monitor": args.monitor,
        "keep": args.keep,
        **(
            {"average_epochs": args.average_epochs, "average_floor": args.average_floor}
            if average_last
            else {}
        ),
        "train_size": len(x_train),
        **(
            {
                "teachers": teachers_report,
                "teacher_views": args.teacher_views,
                "teacher_weight": args.teacher_weight,
            }
            if args.teachers
            else {}
        ),
        **({"init": init_report} if args.init else {}),
        "runs": runs,
        "test_accuracy_mean": float(test.mean()),
        "test_accuracy_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0,
        "shipped_seed": "soup" if soup else best["seed"],
        "shipped_test_accuracy": soup["test_accuracy"] if soup else best["test_accuracy"],
        **({"soup": soup} if soup else {}),
        "saved": saved,
        "ensemble_test_accuracy": ensemble_accuracy(probabilities, y_test),
        "total_seconds": round(time.perf_counter() - started, 1),
        "environment": evaluate.environment(),
    }
    evaluate.save_metrics(report, args.report)
    print(
        f"\nDeeper CNN, {args.epochs} epochs, {len(runs)} seeds: test accuracy "
        f"{report['test_accuracy_mean']:.2%} ± {report['test_accuracy_std']:.2%}; "
        + (
            f"the soup of the seeds has {soup['test_accuracy']:.2%} and was "
            if soup
            else f"seed {best['seed']} (best on validation) has {best['test_accuracy']:.2%} and was "
        )
        + (
            f"saved to {args.model_path}; "
            if saved["saved"]
            else f"NOT saved: {saved.get('reason', 'the existing model is not beaten on both validation loss and accuracy')}; "
        )
        + f"ensemble of the seeds {report['ensemble_test_accuracy']:.2%}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
