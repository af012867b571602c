"""Command line interface: predict the digits in image files.

    python -m digits predict PATH... [--model FILE] [--json] [--top-k K]

PATHs are image files or folders; folders are walked recursively for image files
(by extension: png, jpg, jpeg, bmp, gif, webp, tif, tiff), in sorted order. The default
output is a table; ``--json`` prints one JSON object per input per line (JSON Lines):

    {"path": ..., "digit": 3, "confidence": 0.99, "probabilities": [10 floats],
     "low_confidence": false}

with ``"top_k": [{"digit": d, "probability": p}, ...]`` when ``--top-k`` is given.
When no digit is found, ``digit`` is null, ``confidence`` 0.0, ``probabilities`` null
and ``reason`` says why; when an input cannot be read, ``error`` says why instead.

The table shows confidences as percentages with one decimal (``99.7%``, ``>99.9%``).

Exit status: 0 when every input was read (a "no digit found" answer is a result, not a
failure), 1 when any input could not be read, 2 for usage errors and for a missing or
invalid model file, 141 when the reader of the output went away early (as ``| head``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from digits.paths import MODEL_FILENAME
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


#: Exit status after a broken pipe: 128 + SIGPIPE, what a shell reports for ``cmd | head``.
EXIT_BROKEN_PIPE = 141


def _version() -> str:
    import digits

    return f"digits {digits.__version__}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits",
        description="Handwritten digit recognition (MNIST CNN).",
        epilog="example:\n  digits predict digit_examples/3_a.png\n\n"
        "Run `digits COMMAND --help` for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(commands)
    return parser


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict the digit in image files",
        description="Predict the digit in each image file (folders are walked recursively).",
        epilog="examples:\n"
        "  digits predict digit_examples/3_a.png\n"
        "  digits predict --json --top-k 3 digit_examples/ | head -3\n\n"
        "Exit status: 0 all inputs read (no-digit answers included), 1 some input\n"
        "could not be read, 2 usage error or bad model file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    predict.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"Keras model file (default: {MODEL_FILENAME} at the repository root)",
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


def percent(probability: float) -> str:
    """A probability as a percentage with one decimal; never rounded to a false 100.0% or 0.0%."""
    if probability >= 0.9995 and probability < 1.0:
        return ">99.9%"
    if 0.0 < probability < 0.0005:
        return "<0.1%"
    return f"{probability:.1%}"


def _table_row(record: dict, top_k: int) -> list[str]:
    if "error" in record:
        return [record["path"], "-", "-", "", "error: " + record["error"]]
    if record["digit"] is None:
        return [record["path"], "-", "-", "", record.get("reason", "")]
    shown = record.get("top_k", [])[:top_k]
    return [
        record["path"],
        str(record["digit"]),
        percent(record["confidence"]),
        "  ".join(f"{t['digit']}:{percent(t['probability'])}" for t in shown),
        "low confidence" if record["low_confidence"] else "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exit_:  # argparse: --help, --version (0) or a usage error (2)
            return int(exit_.code or 0)
        return args.run(args)
    except BrokenPipeError:
        return _after_broken_pipe()


def _after_broken_pipe() -> int:
    """The reader of stdout has gone (``digits predict DIR | head -3``): stop quietly.

    As the Python docs advise, point stdout at /dev/null so that the interpreter's final
    flush does not fail a second time.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (e.g. in tests)
        pass
    return EXIT_BROKEN_PIPE


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


#: Each adds one subcommand (its parser, with ``set_defaults(run=handler)``).
_COMMANDS = [_add_predict]
