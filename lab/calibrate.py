"""Calibrate the shipped model: temperature and low-confidence threshold, with the ECE.

1. Fits the temperature on the validation split of the MNIST training set (the same
   split as the notebook, `digits.training.data.split_validation`) by minimising the NLL.
2. Chooses the ``low_confidence`` threshold on the validation split: the highest one
   flagging at most ``--max-right-flagged`` (1%) of the right answers.
3. Reports the ECE (15 bins) before and after on MNIST test, the robustness set and the
   photo set (images the pipeline answered), and the threshold trade-off.
4. Writes both numbers into the model's sidecar (the model file is not touched), the
   report ``reports/calibration.json`` and ``reports/figures/reliability.png``.

    python -m lab.calibrate [--model FILE] [--dry-run]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from digits.paths import ROOT
from digits.predict import Predictor, default_model_path
from digits.runtime.modelfile import atomic_write_json, write_info
from digits.synth.sets import ensure
from digits.training import calibration

THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]


def _shown(path: Path) -> str:
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def raw_probabilities(predictor: Predictor, x: np.ndarray) -> np.ndarray:
    """The model's own probabilities (the Predictor's temperature undone)."""
    return calibration.uncalibrate(predictor.predict_inputs(x), predictor.info.temperature)


def image_set(predictor: Predictor, folder: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw probabilities and labels of the images of a set the pipeline answered, and the
    number of images in the set."""
    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    predictions = predictor.predict_many([folder / r["path"] for r in rows], raise_errors=False)
    answered = [(p, int(r["label"])) for p, r in zip(predictions, rows) if p.digit is not None]
    probabilities = np.array([p.probabilities for p, _ in answered], dtype=np.float32)
    raw = calibration.uncalibrate(probabilities, predictor.info.temperature)
    return raw, np.array([label for _, label in answered]), len(rows)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--max-right-flagged", type=float, default=0.01)
    parser.add_argument("--robustness", type=Path, default=None, help="default: the set's cache")
    parser.add_argument("--photos", type=Path, default=None, help="default: the set's cache")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "calibration.json")
    parser.add_argument(
        "--figure", type=Path, default=ROOT / "reports" / "figures" / "reliability.png"
    )
    parser.add_argument("--dry-run", action="store_true", help="do not write the sidecar")
    args = parser.parse_args()
    args.robustness = args.robustness or ensure("robustness")
    args.photos = args.photos or ensure("photos")
    return args


def _probability_sets(predictor: Predictor, args: argparse.Namespace) -> tuple[dict, np.ndarray]:
    """Raw probabilities, labels and sizes of every set, and the validation labels."""
    from digits.training.data import load_mnist, scale, split_validation

    (x_train, y_train), (x_test, y_test) = load_mnist()
    _, (x_val, y_val) = split_validation(x_train, y_train)
    sets = {
        "mnist_validation": (raw_probabilities(predictor, scale(x_val)), y_val, len(y_val)),
        "mnist_test": (raw_probabilities(predictor, scale(x_test)), y_test, len(y_test)),
        "robustness": image_set(predictor, args.robustness),
        "photos": image_set(predictor, args.photos),
    }
    return sets, y_val


def _set_report(raw: np.ndarray, after: np.ndarray, labels: np.ndarray, total: int, threshold):
    """The report entry of one set."""
    return {
        "images": total,
        "answered": int(len(labels)),
        "accuracy_of_answered": round(float((after.argmax(axis=1) == labels).mean()), 5),
        "ece_before": round(calibration.expected_calibration_error(raw, labels), 5),
        "ece_after": round(calibration.expected_calibration_error(after, labels), 5),
        "nll_before": round(calibration.negative_log_likelihood(raw, labels), 5),
        "nll_after": round(calibration.negative_log_likelihood(after, labels), 5),
        "threshold_tradeoff": calibration.threshold_tradeoff(
            after.max(axis=1),
            after.argmax(axis=1) == labels,
            sorted(set(THRESHOLDS + [threshold])),
        ),
    }


def _build_report(args, model, temperature, threshold, y_val, sets, calibrated) -> dict:
    report = {
        "command": " ".join(["python -m lab.calibrate", *sys.argv[1:]]),
        "model": _shown(Path(model)),
        "temperature": temperature,
        "fitted_on": f"MNIST validation split ({len(y_val)} training images, "
        "digits.training.data.split_validation)",
        "low_confidence": threshold,
        "low_confidence_rule": f"highest threshold flagging at most {args.max_right_flagged:.0%} "
        "of the right answers on the validation split",
        "ece_bins": calibration.BINS,
        "sets": {},
    }
    for name, (raw, labels, total) in sets.items():
        report["sets"][name] = _set_report(raw, calibrated[name], labels, total, threshold)
    return report


def _save_figure(sets: dict, calibrated: dict, figure: Path) -> None:
    calibration.save_reliability_diagram(
        [
            (title, sets[name][0], calibrated[name], sets[name][1])
            for name, title in (
                ("mnist_test", "MNIST test"),
                ("robustness", "Robustness set"),
                ("photos", "Photo set"),
            )
        ],
        figure,
    )


def _print_summary(report: dict, args, temperature, threshold) -> None:
    print(f"Model: {report['model']}   temperature {temperature}   low_confidence {threshold}\n")
    print("| set | answered | ECE before | ECE after | NLL before | NLL after |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in report["sets"].items():
        print(
            f"| {name} | {s['answered']}/{s['images']} | {s['ece_before']:.2%} "
            f"| {s['ece_after']:.2%} | {s['nll_before']:.4f} | {s['nll_after']:.4f} |"
        )
    print("\nThreshold trade-off (after calibration): right answers flagged / wrong flagged")
    print("| threshold | " + " | ".join(report["sets"]) + " |")
    print("|---:|" + "---:|" * len(report["sets"]))
    for i, t in enumerate(sorted(set(THRESHOLDS + [threshold]))):
        cells = []
        for s in report["sets"].values():
            row = s["threshold_tradeoff"][i]
            wrong = "-" if row["wrong_flagged"] is None else f"{row['wrong_flagged']:.0%}"
            cells.append(f"{row['right_flagged']:.1%} / {wrong}")
        mark = " (chosen)" if t == threshold else ""
        print(f"| {t}{mark} | " + " | ".join(cells) + " |")
    print(f"\nwrote {_shown(args.out)} and {_shown(args.figure)}")


def main() -> None:
    args = _parse_args()
    model = args.model or default_model_path()
    predictor = Predictor(model)
    sets, y_val = _probability_sets(predictor, args)
    raw_val, _, _ = sets["mnist_validation"]
    temperature = round(calibration.fit_temperature(raw_val, y_val), 4)
    calibrated = {name: calibration.calibrate(p, temperature) for name, (p, _, _) in sets.items()}

    val = calibrated["mnist_validation"]
    threshold = calibration.choose_threshold(
        val.max(axis=1), val.argmax(axis=1) == y_val, args.max_right_flagged
    )
    report = _build_report(args, model, temperature, threshold, y_val, sets, calibrated)
    _save_figure(sets, calibrated, args.figure)
    report["figure"] = _shown(args.figure)
    if not args.dry_run:
        write_info(model, temperature=temperature, low_confidence=threshold)
        report["sidecar"] = _shown(Path(model).with_suffix(".json"))
    atomic_write_json(args.out, report)
    _print_summary(report, args, temperature, threshold)


if __name__ == "__main__":
    main()
