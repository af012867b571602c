"""Command line interface: predict the digits in image files, read numbers, train.

    python -m digits predict PATH... [--model FILE] [--json] [--top-k K]
    python -m digits read PATH... [--model FILE] [--json]
    python -m digits train --data DIR [--epochs N] [--out FILE]

PATHs are image files or folders; folders are walked recursively for image files
(by extension: png, jpg, jpeg, bmp, gif, webp, tif, tiff), in sorted order. The default
output is a table; ``--json`` prints one JSON object per input per line (JSON Lines):

    {"path": ..., "digit": 3, "confidence": 0.99, "probabilities": [10 floats],
     "low_confidence": false}

with ``"top_k": [{"digit": d, "probability": p}, ...]`` when ``--top-k`` is given.
When no digit is found, ``digit`` is null, ``confidence`` 0.0, ``probabilities`` null
and ``reason`` says why; when an input cannot be read, ``error`` says why instead.

Exit status: 0 when every input was read (a "no digit found" answer is a result, not a
failure), 1 when any input could not be read, 2 for usage errors and for a missing or
invalid model file.

``read`` reads a handwritten number in each image (`digits.read`); ``--json`` prints

    {"path": ..., "text": "4071", "digits": [{"digit": 4, "label": "4", "confidence": 0.99,
     "box": [x, y, w, h]}, ...], "low_confidence": false}

with ``"text": ""`` and a ``reason`` when no number is found, ``error`` when the input
cannot be read; same exit statuses as ``predict``. ``train`` trains the Deeper CNN on a
folder of your own symbols (`digits.symbols`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digits.predict import find_images  # light: TensorFlow is imported only when a model loads

__all__ = ["main", "find_images"]

_CHUNK = 64  # images per batch; results are printed after each batch


def _top_k(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to 10, got {text!r}"
        ) from None
    if not 1 <= k <= 10:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10, got {k}")
    return k


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits", description="Handwritten digit recognition (MNIST CNN)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(commands)
    return parser


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict the digit in image files",
        description="Predict the digit in each image file (folders are walked recursively).",
        epilog="Exit status: 0 all inputs read (no-digit answers included), 1 some input "
        "could not be read, 2 usage error or bad model file.",
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    predict.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="Keras model file (default: hand_written_digits_prediction.h5 at the repository root)",
    )
    predict.add_argument(
        "--json", action="store_true", help="print JSON Lines (one object per input)"
    )
    predict.add_argument(
        "--top-k", type=_top_k, default=None, metavar="K", help="also show the K most likely digits"
    )
    predict.set_defaults(run=_run_predict)


def _record(path: str, prediction, top_k: int | None) -> dict:
    record = {"path": path, **prediction.to_dict()}
    if top_k:
        record["top_k"] = [
            {"digit": d, "probability": round(p, 6)} for d, p in prediction.top_k(top_k)
        ]
    return record


def _table_row(record: dict, top_k: int) -> list[str]:
    if "error" in record:
        return [record["path"], "-", "-", "", "error: " + record["error"]]
    if record["digit"] is None:
        return [record["path"], "-", "-", "", record.get("reason", "")]
    shown = record.get("top_k", [])[:top_k]
    return [
        record["path"],
        str(record["digit"]),
        f"{record['confidence']:.3f}",
        "  ".join(f"{t['digit']}:{t['probability']:.3f}" for t in shown),
        "low confidence" if record["low_confidence"] else "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    return args.run(args)


def _run_predict(args: argparse.Namespace) -> int:
    from digits.backend import held_stderr  # imports TensorFlow, quietly
    from digits.predict import ModelError, Predictor

    try:
        with held_stderr(expected=(ModelError,)):  # cuInit and friends log at first use
            predictor = Predictor(args.model)
    except ModelError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2

    inputs = find_images(args.paths)
    top_k = args.top_k if args.json else (args.top_k or 3)
    width = max([len("path")] + [len(p) for p, _ in inputs])
    columns = ["path".ljust(width), "digit", "confidence", f"top-{top_k}".ljust(26), "note"]
    if not args.json:
        print("  ".join(columns).rstrip())
    failed = False
    for start in range(0, len(inputs), _CHUNK):
        chunk = inputs[start : start + _CHUNK]
        readable = [p for p, error in chunk if error is None]
        predictions = iter(predictor.predict_many(readable, raise_errors=False))
        for path, error in chunk:
            if error is None:
                record = _record(path, next(predictions), top_k)
            else:
                record = {
                    "path": path,
                    "digit": None,
                    "confidence": 0.0,
                    "probabilities": None,
                    "low_confidence": True,
                    "error": error,
                }
            failed = failed or "error" in record
            if args.json:
                print(json.dumps(record))
            else:
                row = _table_row(record, top_k)
                line = f"{row[0].ljust(width)}  {row[1]:>5}  {row[2]:>10}  {row[3]:<26}  {row[4]}"
                print(line.rstrip())
        sys.stdout.flush()
    return 1 if failed else 0


def _add_read(commands) -> None:
    read = commands.add_parser(
        "read",
        help="read the handwritten number in image files",
        description="Read the handwritten number (digits on one line) in each image file "
        "(folders are walked recursively).",
        epilog="Exit status: 0 all inputs read (no-number answers included), 1 some input "
        "could not be read, 2 usage error or bad model file.",
    )
    read.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    read.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="Keras model file (default: hand_written_digits_prediction.h5 at the repository root)",
    )
    read.add_argument("--json", action="store_true", help="print JSON Lines (one object per input)")
    read.set_defaults(run=_run_read)


def _read_row(record: dict, width: int) -> str:
    if "error" in record:
        cells = ["-", "-", "error: " + record["error"]]
    elif not record["text"]:
        cells = ['""', "-", record.get("reason", "")]
    else:
        lowest = min(d["confidence"] for d in record["digits"])
        cells = [
            record["text"],
            f"{lowest:.3f}",
            "low confidence" if record["low_confidence"] else "",
        ]
    return f"{record['path'].ljust(width)}  {cells[0]:<12}  {cells[1]:>14}  {cells[2]}".rstrip()


def _run_read(args: argparse.Namespace) -> int:
    from digits.backend import held_stderr  # imports TensorFlow, quietly
    from digits.predict import ModelError, Predictor
    from digits.preprocess import ImageError
    from digits.read import read_number

    try:
        with held_stderr(expected=(ModelError,)):
            predictor = Predictor(args.model)
    except ModelError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2
    inputs = find_images(args.paths)
    width = max([len("path")] + [len(p) for p, _ in inputs])
    if not args.json:
        print(f"{'path'.ljust(width)}  {'text':<12}  {'min confidence':>14}  note")
    failed = False
    for path, error in inputs:
        if error is None:
            try:
                record = {"path": path, **read_number(path, predictor).to_dict()}
            except ImageError as unreadable:
                error = str(unreadable)
        if error is not None:
            record = {"path": path, "text": "", "digits": [], "low_confidence": True}
            record["error"] = error
            failed = True
        print(json.dumps(record) if args.json else _read_row(record, width), flush=True)
    return 1 if failed else 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train the Deeper CNN on your own symbols (one subfolder of images per class)",
        description="Train the Deeper CNN on a folder with one subfolder of images per class "
        "(class names = subfolder names, in alphanumeric order; png/jpg/jpeg/bmp/gif). The "
        "model is saved with a sidecar FILE.json holding its class names, which predict and "
        "read then print.",
        epilog="Exit status: 0 trained and saved, 2 usage error or unusable folder.",
    )
    train.add_argument("--data", type=Path, required=True, metavar="DIR", help="the folder")
    train.add_argument("--epochs", type=_positive, default=10, metavar="N", help="default 10")
    train.add_argument(
        "--out",
        type=Path,
        default=Path("symbols_model.h5"),
        metavar="FILE",
        help="model file to write (.h5 or .keras; default symbols_model.h5)",
    )
    train.add_argument("--batch-size", type=_positive, default=64, metavar="B")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from digits.backend import held_stderr
    from digits.symbols import SymbolsError, train

    try:
        with held_stderr():
            import digits.train  # noqa: F401  (TensorFlow's start-up lines held back)
        result = train(
            args.data, args.out, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed
        )
    except SymbolsError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2
    if result.skipped:
        print(f"skipped {result.skipped} files that could not be used", file=sys.stderr)
    print(
        f"trained on {result.train_images} images ({result.validation_images} held out for "
        f"validation), {len(result.class_names)} classes: {' '.join(result.class_names)}\n"
        f"validation accuracy {result.val_accuracy:.2%}; saved {result.model_path} and "
        f"{result.model_path.with_suffix('.json')}"
    )
    return 0


#: Each adds one subcommand (its parser, with ``set_defaults(run=handler)``).
_COMMANDS = [_add_predict, _add_read, _add_train]
