"""Custom training, measured: make the symbols set, train with ``digits train``, score the
held-out part.

1. `make_symbol_set.py` draws ``--per-class`` training and ``--test-per-class`` test
   images of each of 15 classes (``+ - = / x`` and 0-9) into a temporary folder;
2. ``python -m digits train --data TMP/train --epochs N --out MODEL`` trains the Deeper CNN
   exactly as a user would (20% of the training part held out for validation);
3. ``python -m digits predict --json --model MODEL TMP/test`` predicts the test part, which
   training never saw; the class names it prints are compared with the folder names.

Writes ``reports/symbols.json`` (accuracy overall and per class, the commands, time) and
prints a table.

    python scripts/evaluate_symbols.py [--epochs 8] [--per-class 200] [--test-per-class 60]
                                       [--seed 5] [--keep-model FILE]
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _cli(*arguments: str) -> subprocess.CompletedProcess:
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
    if completed.returncode != 0:
        raise SystemExit(
            f"digits {arguments[0]} failed ({completed.returncode}):\n{completed.stderr}"
        )
    return completed


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--test-per-class", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep-model", type=Path, default=None, help="copy the model here")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "symbols.json")
    return parser.parse_args(argv)


def _train_and_predict(args: argparse.Namespace) -> tuple:
    """Make the set, train on it and predict its test images, in a temporary folder."""
    from make_symbol_set import make

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make(tmp, args.per_class, args.test_per_class, args.seed)
        model = tmp / "symbols.h5"
        start = time.perf_counter()
        trained = _cli("train", "--data", str(tmp / "train"), "--epochs", str(args.epochs),
                       "--out", str(model))  # fmt: skip
        seconds = time.perf_counter() - start
        predicted = _cli("predict", "--json", "--model", str(model), str(tmp / "test"))
        records = [json.loads(line) for line in predicted.stdout.splitlines()]
        if args.keep_model:
            args.keep_model.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(model, args.keep_model)
            shutil.copy(model.with_suffix(".json"), args.keep_model.with_suffix(".json"))
        info = json.loads(model.with_suffix(".json").read_text())
    return trained, seconds, records, info


def _print_table(right: Counter, total: Counter, records: list, accuracy: float) -> None:
    print("| class | test images | accuracy |")
    print("|---|---:|---:|")
    for name in sorted(total):
        print(f"| `{name}` | {total[name]} | {right[name] / total[name]:.1%} |")
    print(f"| **all** | {len(records)} | **{accuracy:.2%}** |")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)

    from digits.runtime.modelfile import atomic_write_json

    trained, seconds, records, info = _train_and_predict(args)
    truth = [Path(r["path"]).parent.name for r in records]
    right = Counter(t for t, r in zip(truth, records) if r["label"] == t)
    total = Counter(truth)
    accuracy = sum(right.values()) / len(records)
    report = {
        "command": "python scripts/evaluate_symbols.py"
        f" --epochs {args.epochs} --per-class {args.per_class}"
        f" --test-per-class {args.test_per_class} --seed {args.seed}",
        "train_command": f"python -m digits train --data TMP/train --epochs {args.epochs} "
        "--out TMP/symbols.h5",
        "class_names": info["class_names"],
        "train_images": info["trained_on"]["images"],
        "skipped": info["trained_on"]["skipped"],
        "val_accuracy": info["trained_on"]["val_accuracy"],
        "test_images": len(records),
        "test_accuracy": round(accuracy, 4),
        "per_class_accuracy": {c: round(right[c] / total[c], 4) for c in sorted(total)},
        "labels_printed": sorted({str(r["label"]) for r in records}),
        "no_symbol_found": sum(r["label"] is None for r in records),
        "train_seconds": round(seconds, 1),
        "cpu_count": os.cpu_count(),
        "train_output": trained.stdout.strip().splitlines()[-2:],
    }
    atomic_write_json(args.out, report)
    _print_table(right, total, records, accuracy)
    print(
        f"trained in {seconds:.0f} s (wall clock, {os.cpu_count()} shared cores); wrote {args.out}"
    )


if __name__ == "__main__":
    main()
