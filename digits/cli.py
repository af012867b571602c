"""Command line interface: predict the digits in image files.

    python -m digits predict PATH... [--model FILE] [--json] [--top-k K] [--threshold P]
                             [--save-inputs DIR]

PATHs are image files or folders; folders are walked recursively for image files
(by extension: png, jpg, jpeg, bmp, gif, webp, tif, tiff), in sorted order. The default
output is a table; ``--json`` prints one JSON object per input per line (JSON Lines):

    {"path": ..., "digit": 3, "confidence": 0.99, "probabilities": [10 floats],
     "low_confidence": false, "several_digits": false}

with ``"top_k": [{"digit": d, "probability": p}, ...]`` when ``--top-k`` is given.
``low_confidence`` is true when the confidence is below ``--threshold`` (default: the
model sidecar's, chosen on the validation split); ``several_digits`` is true when the
image holds several digit-like marks (the answer is the largest, most central one).
``--save-inputs DIR`` writes, for each input, the 28x28 the model saw and the original
with the digit's box drawn on it (see `digits.inputs`).
When no digit is found, ``digit`` is null, ``confidence`` 0.0, ``probabilities`` null
and ``reason`` says why; when an input cannot be read, ``error`` says why instead.

Exit status: 0 when every input was read (a "no digit found" answer is a result, not a
failure), 1 when any input could not be read, 2 for usage errors and for a missing or
invalid model file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digits.predict import find_images  # light: TensorFlow is imported only when a model loads

__all__ = ["main", "find_images"]

_CHUNK = 64  # images per batch; results are printed after each batch


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value}")
    return value


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
    predict.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        metavar="P",
        help="flag answers whose confidence is below P (0-1) as low confidence "
        "(default: the model's, chosen on the validation split)",
    )
    predict.add_argument(
        "--save-inputs",
        type=Path,
        default=None,
        metavar="DIR",
        help="save each input's 28x28 and the original with the digit's box into DIR "
        "(never replaces a file: a suffix is added)",
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
    notes = [
        "low confidence" if record["low_confidence"] else "",
        "several digits: answered the largest, most central one"
        if record.get("several_digits")
        else "",
    ]
    return [
        record["path"],
        str(record["digit"]),
        f"{record['confidence']:.3f}",
        "  ".join(f"{t['digit']}:{t['probability']:.3f}" for t in shown),
        "; ".join(note for note in notes if note),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    return args.run(args)


def _save_inputs(path: str, prediction, folder: Path, record: dict) -> bool:
    """Save what the model saw for one input; returns True when that failed."""
    from digits.inputs import save_inputs

    try:
        saved = save_inputs(path, prediction, folder, Path(path).stem)
    except (OSError, ValueError) as error:
        print(f"digits: cannot save the inputs of {path}: {error}", file=sys.stderr)
        return True
    record["saved_inputs"] = [str(p) for p in saved]
    return False


def _run_predict(args: argparse.Namespace) -> int:
    from digits.backend import held_stderr  # imports TensorFlow, quietly
    from digits.predict import ModelError, Predictor

    try:
        with held_stderr(expected=(ModelError,)):  # cuInit and friends log at first use
            predictor = Predictor(args.model, low_confidence=args.threshold)
    except ModelError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2

    if args.save_inputs is not None and args.save_inputs.exists() and not args.save_inputs.is_dir():
        print(
            f"digits: error: --save-inputs {args.save_inputs} is a file, not a folder.",
            file=sys.stderr,
        )
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
                prediction = next(predictions)
                record = _record(path, prediction, top_k)
                if args.save_inputs is not None:
                    failed = _save_inputs(path, prediction, args.save_inputs, record) or failed
            else:
                record = {
                    "path": path,
                    "digit": None,
                    "confidence": 0.0,
                    "probabilities": None,
                    "low_confidence": True,
                    "several_digits": False,
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


#: Each adds one subcommand (its parser, with ``set_defaults(run=handler)``).
_COMMANDS = [_add_predict]
