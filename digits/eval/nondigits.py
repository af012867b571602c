"""Measure the non-digit rule on kinds it trained on and on kinds held out from it.

Runs `digits.predict.Predictor` (the shipped model and its rule) on:

- ``nondigits``: the generated non-digit set (`python -m digits.synth nondigits`);
- the outlier kinds of `digits.synth.outliers`, drawn fresh here (seed ``--seed``, not the
  detector's training seed): its training kinds (`TRAIN_KINDS`) and its held-out kinds
  (`HELD_OUT_KINDS`: natural photos, faces and objects, script letters, printed text,
  scikit-image's photographs),
  which neither the detector's training nor its threshold ever saw;
- real digits: MNIST test (arrays), the photo set, the robustness set, MNIST test as 28x28
  PNG files (white on black, as MNIST stores them)
  and as 280x280 white-on-black drawings, and `digit_examples/`.

A non-digit is caught when the answer is null ("no digit found") or flagged
``not_a_digit``; it is a *confident digit* when a digit is answered, not flagged and not
``low_confidence``. A digit is wrongly rejected when the answer is null or flagged
``not_a_digit``. AUROC: the detector's score (1 for a null answer) against MNIST test
digits, and the same for 1 - max softmax. Writes ``reports/nondigits.json``.

    python -m digits.eval nondigits [--per-kind 200] [--seed 2026] [--model FILE]
        [--detector FILE]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from digits.eval.report import markdown_table, percent
from digits.paths import LITERT_PATH, ROOT, shown_path
from digits.predict import Predictor
from digits.runtime.ood import DETECTOR_PATH, NondigitDetector
from digits.synth import outliers
from digits.synth.sets import ensure
from digits.training.data import load_mnist

NAME = "nondigits"
SET = None

CHUNK = 500


def _files(folder: Path) -> list[str]:
    with open(folder / "labels.csv") as handle:
        return [str(folder / r["path"]) for r in csv.DictReader(handle)]


def _labelled(folder: Path) -> list[tuple[str, int]]:
    with open(folder / "labels.csv") as handle:
        return [(str(folder / r["path"]), int(r["label"])) for r in csv.DictReader(handle)]


def _run(
    predictor: Predictor, inputs: list, detector: NondigitDetector, desc: str = "", labels=None
) -> dict:
    """Per-input arrays: null?, not_a_digit?, low_confidence?, detector score (1 when
    null), max softmax (0 when null), and, given ``labels``, right (the digit answered,
    flagged or not, is the label)?"""
    null, flagged, low, score, softmax, answer = [], [], [], [], [], []
    for start in tqdm(range(0, len(inputs), CHUNK), desc=desc, disable=len(inputs) <= CHUNK):
        for p in predictor.predict_many(inputs[start : start + CHUNK], raise_errors=False):
            null.append(p.digit is None)
            flagged.append(bool(p.not_a_digit))
            low.append(bool(p.low_confidence))
            seen = p.preprocessed
            score.append(1.0 if seen is None else float(detector.scores(seen.image)[0]))
            softmax.append(p.confidence)
            answer.append(-1 if p.digit is None else int(p.digit))
    arrays = dict(null=null, flagged=flagged, low=low, score=score, softmax=softmax)
    if labels is not None:
        arrays["right"] = np.array(answer) == np.asarray(labels)
    return {k: np.array(v) for k, v in arrays.items()}


def auroc(negative: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a non-digit > score of a digit), ties counting half (Mann-Whitney)."""
    ranks = np.concatenate([positive, negative]).argsort(kind="stable").argsort() + 1.0
    values = np.concatenate([positive, negative])
    for v in np.unique(values):  # average ranks of ties
        tied = values == v
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    top = ranks[len(positive) :].sum() - len(negative) * (len(negative) + 1) / 2
    return float(top / (len(negative) * len(positive)))


def outlier_row(r: dict, digits: dict) -> dict:
    """One kind of non-digit: caught, confident digits, AUROC of detector and softmax, and
    (held-out kinds) how often `digits read` is sure of a number in it."""
    return {
        "n": int(len(r["null"])),
        "caught": round(float(np.mean(r["null"] | r["flagged"])), 4),
        "confident_digit": round(float(np.mean(~r["null"] & ~r["flagged"] & ~r["low"])), 4),
        "auroc_detector": round(auroc(r["score"], digits["score"]), 4),
        "auroc_softmax": round(auroc(1 - r["softmax"], 1 - digits["softmax"]), 4),
        **(
            {"confident_number": round(float(np.mean(r["read_confident"])), 4)}
            if "read_confident" in r
            else {}
        ),
    }


def digit_row(r: dict) -> dict:
    """One set of real digits: wrongly rejected (null or flagged), right answers lost (null,
    or flagged although the digit answered was right), flagged, no digit, and answered but
    flagged low-confidence (by the digit model or the detector's doubt)."""
    return {
        "n": int(len(r["null"])),
        "low_confidence": round(float(np.mean(r["low"] & ~r["null"] & ~r["flagged"])), 4),
        "rejected": round(float(np.mean(r["null"] | r["flagged"])), 4),
        "right_answers_lost": round(float(np.mean(r["null"] | (r["flagged"] & r["right"]))), 4),
        "not_a_digit": round(float(np.mean(r["flagged"])), 4),
        "no_digit_found": int(np.sum(r["null"])),
    }


def _png(digit: np.ndarray, side: int) -> bytes:
    image = digit if side == 28 else cv2.resize(digit, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", image)[1].tobytes()


def digit_sets(predictor: Predictor, detector: NondigitDetector) -> dict[str, dict]:
    """The real digits, run through the predictor: MNIST test (arrays, 28x28 PNG files,
    280x280 white-on-black drawings), the photo and robustness sets, digit_examples."""
    _, (x_test, y_test) = load_mnist()
    examples = sorted(str(p) for p in (ROOT / "digit_examples").glob("*.*"))
    photos, robustness = _labelled(ensure("photos")), _labelled(ensure("robustness"))
    inputs = {
        "mnist_test": (list(x_test), y_test),
        "photos": ([p for p, _ in photos], [y for _, y in photos]),
        "robustness": ([p for p, _ in robustness], [y for _, y in robustness]),
        "mnist_png_28_white_on_black": ([_png(d, 28) for d in x_test], y_test),
        "drawings_280_white_on_black": ([_png(d, 280) for d in x_test], y_test),
        "digit_examples": (examples, [int(Path(p).name[0]) for p in examples]),
    }
    out = {
        name: _run(predictor, items, detector, name, labels)
        for name, (items, labels) in inputs.items()
    }
    out["digit_examples"]["paths"] = examples
    return out


def outlier_sets(
    predictor: Predictor, detector: NondigitDetector, per_kind: int, seed: int
) -> dict[str, dict]:
    """Each outlier kind (training and held out), drawn fresh, run through the predictor."""
    out = {"nondigits": _run(predictor, _files(ensure("nondigits")), detector)}
    for kind in tqdm(outliers.KINDS, desc="outlier kinds"):
        pictures = outliers.pictures(kind, per_kind, seed)
        out[kind] = _run(predictor, pictures, detector)
        if kind in outliers.HELD_OUT_KINDS:
            out[kind]["read_confident"] = _confident_numbers(predictor, pictures)
    return out


def _confident_numbers(predictor: Predictor, pictures: list) -> np.ndarray:
    """Per picture: does `digits read` (`read_number`) find a number it is sure of?"""
    from digits.read import read_number

    readings = [read_number(picture, predictor) for picture in pictures]
    return np.array([bool(r.text) and not r.low_confidence for r in readings])


def threshold_table(sets: dict[str, dict], kinds: list[str], digit_names: list[str]) -> list:
    """Other thresholds of the detector's score: caught per held-out kind against digits
    rejected, to show the trade-off (the shipped threshold is chosen on training digits)."""
    table = []
    for t in THRESHOLDS:
        row: dict = {"threshold": t}
        for name in kinds:
            row[name] = round(float(np.mean(sets[name]["score"] > t)), 4)
        for name in digit_names:
            row[name] = round(float(np.mean(sets[name]["score"] > t)), 4)
        table.append(row)
    return table


THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def report(sets: dict[str, dict], detector: NondigitDetector, args: argparse.Namespace) -> dict:
    """The JSON report: training kinds, held-out kinds, digits, threshold trade-off."""
    digit_names = [n for n in sets if n in DIGIT_SETS]
    held = {k: outlier_row(sets[k], sets["mnist_test"]) for k in outliers.HELD_OUT_KINDS}
    examples = sets["digit_examples"]
    return {
        "model": shown_path(args.model or LITERT_PATH),
        "detector": shown_path(args.detector),
        "detector_threshold": round(detector.threshold, 6),
        "detector_doubt": None if detector.doubt is None else round(detector.doubt, 6),
        "seed": args.seed,
        "per_kind": args.per_kind,
        "training_kinds": {
            k: outlier_row(sets[k], sets["mnist_test"])
            for k in ("nondigits", *outliers.TRAIN_KINDS)
        },
        "held_out_kinds": held,
        "held_out_worst": {
            "auroc_detector": min(r["auroc_detector"] for r in held.values()),
            "confident_digit": max(r["confident_digit"] for r in held.values()),
            "photos_confident_digit": max(
                held[k]["confident_digit"] for k in outliers.HELD_OUT_PHOTOS
            ),
        },
        "digits": {n: digit_row(sets[n]) for n in digit_names},
        "digit_examples_flagged": [
            shown_path(Path(p)) for p, f in zip(examples["paths"], examples["flagged"]) if f
        ],
        "threshold_table": threshold_table(sets, list(outliers.HELD_OUT_KINDS), digit_names),
    }


DIGIT_SETS = (
    "mnist_test",
    "photos",
    "robustness",
    "mnist_png_28_white_on_black",
    "drawings_280_white_on_black",
    "digit_examples",
)


def table(r: dict) -> str:
    kinds = [
        {"kind": kind, "held": held, **row}
        for held, rows in (("no", r["training_kinds"]), ("**yes**", r["held_out_kinds"]))
        for kind, row in rows.items()
    ]
    outliers_table = markdown_table(
        [
            ("kind", lambda k: k["kind"], False),
            ("held out", lambda k: k["held"], False),
            ("n", lambda k: k["n"], True),
            ("caught", lambda k: percent(k["caught"]), True),
            ("confident digit", lambda k: percent(k["confident_digit"]), True),
            ("AUROC detector", lambda k: f"{k['auroc_detector']:.4f}", True),
            ("AUROC softmax", lambda k: f"{k['auroc_softmax']:.4f}", True),
            (
                "confident number (`digits read`)",
                lambda k: percent(k["confident_number"]) if "confident_number" in k else "",
                True,
            ),
        ],
        kinds,
    )
    digits_table = markdown_table(
        [
            ("digits", lambda d: d["name"], False),
            ("n", lambda d: d["n"], True),
            ("rejected", lambda d: percent(d["rejected"], 2), True),
            ("not a digit", lambda d: percent(d["not_a_digit"], 2), True),
            ("no digit found", lambda d: d["no_digit_found"], True),
        ],
        [{"name": name, **row} for name, row in r["digits"].items()],
    )
    return outliers_table + "\n\n" + digits_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", type=Path, default=DETECTOR_PATH, help="nondigits")
    parser.add_argument(
        "--per-kind", type=int, default=200, help="nondigits: pictures per outlier kind"
    )
    parser.add_argument("--seed", type=int, default=2026, help="nondigits: not the detector's")


def run(args: argparse.Namespace, data: None, rows: None) -> dict:
    """Every outlier kind and every set of real digits through the predictor; the report."""
    start = time.perf_counter()
    predictor = Predictor(args.model or LITERT_PATH, detector=args.detector)
    detector = NondigitDetector.load(args.detector)
    sets = digit_sets(predictor, detector)
    sets.update(outlier_sets(predictor, detector, args.per_kind, args.seed))
    result = report(sets, detector, args)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result
