"""Own symbols, measured: train on the symbol set with ``digits train``, score its test part.

1. the symbol set (`digits.synth.symbols`) holds 200 training and 60 test images of each of
   15 classes (``+ - = / x`` and 0-9);
2. ``python -m digits train --data SET/train --out MODEL`` trains the Deeper CNN exactly as a
   user would, with default settings unless ``--epochs`` is given (20% of the training
   part held out for validation);
3. ``python -m digits predict --json --model MODEL SET/test`` predicts the test part, which
   training never saw; the class names it prints are compared with the folder names;
4. the small-folder case (`digits.eval.small_folder`): 3 classes x 60 drawings trained with
   default settings, scored on new drawings, two held-out pen styles and handwritten
   digits (none of its classes: flagging them is right), and two unlearnable folders that
   must be refused.

    python -m digits.eval symbols [--epochs N] [--keep-model FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from digits.eval.report import markdown_table, percent
from digits.paths import ROOT

NAME = "symbols"
SET = "symbols"


def _cli(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    completed = subprocess.run(
        [sys.executable, "-m", "digits", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if check and completed.returncode != 0:
        raise SystemExit(
            f"digits {arguments[0]} failed ({completed.returncode}):\n{completed.stderr}"
        )
    return completed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epochs", type=int, default=None, help="symbols: training epochs (default: chosen)"
    )
    parser.add_argument("--keep-model", type=Path, default=None, help="symbols: keep the model")


def _train_and_predict(args: argparse.Namespace, data: Path) -> tuple:
    """Train on the set and predict its test images; the model lives in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "symbols.h5"
        start = time.perf_counter()
        epochs = [] if args.epochs is None else ["--epochs", str(args.epochs)]
        trained = _cli("train", "--data", str(data / "train"), *epochs, "--out", str(model))
        seconds = time.perf_counter() - start
        predicted = _cli("predict", "--json", "--model", str(model), str(data / "test"))
        records = [json.loads(line) for line in predicted.stdout.splitlines()]
        if args.keep_model:
            args.keep_model.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(model, args.keep_model)
            shutil.copy(model.with_suffix(".json"), args.keep_model.with_suffix(".json"))
        info = json.loads(model.with_suffix(".json").read_text())
    return trained, seconds, records, info


def small_folder_table(small: dict) -> str:
    """The small-folder case: accuracy and flag rate per kind over the runs, the refusals."""

    def spread(kind: dict, key: str) -> str:
        if key not in kind:
            return "-"
        v = kind[key]
        return f"{percent(v['mean'])} ({percent(v['min'])}-{percent(v['max'])})"

    kinds = markdown_table(
        [
            ("3 classes x 60 drawings, default settings", lambda k: k["what"], False),
            ("images", lambda k: k["images"], True),
            ("accuracy: mean (min-max)", lambda k: spread(k, "accuracy"), True),
            ("flagged low confidence", lambda k: spread(k, "flagged"), True),
        ],
        list(small["kinds"].values()),
    )
    refused = [
        f"- {name}: exit {r['exit_status']}, model written: {r['model_written']}"
        for name, r in small["refusals"].items()
    ]
    runs = f"{len(small['runs'])} runs; {small['runs'][0]['settings_chosen']}"
    return "\n".join([runs, "", kinds, "", *refused])


def table(report: dict) -> str:
    rows = [
        {"name": f"`{c}`", "n": report["per_class_test_images"][c], "accuracy": percent(a)}
        for c, a in report["per_class_accuracy"].items()
    ]
    rows.append(
        {
            "name": "**all**",
            "n": report["test_images"],
            "accuracy": f"**{percent(report['test_accuracy'], 2)}**",
        }
    )
    return markdown_table(
        [
            ("class", lambda r: r["name"], False),
            ("test images", lambda r: r["n"], True),
            ("accuracy", lambda r: r["accuracy"], True),
        ],
        rows,
    ) + ("\n\n" + small_folder_table(report["small_folder"]) if "small_folder" in report else "")


def run(args: argparse.Namespace, data: Path, rows: None) -> dict:
    """Train on the set's training part as a user would, score its test part."""
    trained, seconds, records, info = _train_and_predict(args, data)
    truth = [Path(r["path"]).parent.name for r in records]
    right = Counter(t for t, r in zip(truth, records) if r["label"] == t)
    total = Counter(truth)
    return {
        "train_command": "python -m digits train --data SET/train "
        + ("" if args.epochs is None else f"--epochs {args.epochs} ")
        + "--out TMP/symbols.h5",
        "class_names": info["class_names"],
        "train_images": info["trained_on"]["images"],
        "skipped": info["trained_on"]["skipped"],
        "val_accuracy": info["trained_on"]["val_accuracy"],
        "test_images": len(records),
        "test_accuracy": round(sum(right.values()) / len(records), 4),
        "per_class_accuracy": {c: round(right[c] / total[c], 4) for c in sorted(total)},
        "per_class_test_images": {c: total[c] for c in sorted(total)},
        "labels_printed": sorted({str(r["label"]) for r in records}),
        "no_symbol_found": sum(r["label"] is None for r in records),
        "train_seconds": round(seconds, 1),
        "cpu_count": os.cpu_count(),
        "settings_chosen": trained.stdout.strip().splitlines()[0],
        "train_output": trained.stdout.strip().splitlines()[-2:],
        "small_folder": _small_folder(),
    }


def _small_folder() -> dict:
    """The 3 classes x 60 drawings case (`digits.eval.small_folder`), in a temporary folder."""
    from digits.eval.small_folder import run_small_folder

    with tempfile.TemporaryDirectory() as tmp:
        return run_small_folder(_cli, Path(tmp))
