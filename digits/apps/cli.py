"""Command line interface: predict digits, read numbers, train, export, serve.

    python -m digits predict PATH... [--model FILE] [--json] [--top-k K] [--threshold P]
                             [--save-inputs DIR]
    python -m digits read PATH... [--model FILE] [--json] [--method auto|sequence|segment]
        [--digits-only] [--expect date|time|decimal|integer|REGEX]
    python -m digits batch INPUT... --out DIR [--task predict|read] [--engine local|ray]
    python -m digits train --data DIR [--epochs N] [--out FILE]
    python -m digits export [--model FILE] [--quantize none|float16|dynamic|int8] [--out FILE]
    python -m digits serve [--host 127.0.0.1] [--port 8000] [--model FILE]

``predict`` and ``read`` use the committed LiteRT model (models/digits_float32.tflite) unless
``--model`` names another (.tflite, .h5 or .keras); only a Keras model imports TensorFlow.

PATHs are image files or folders; folders are walked recursively for image files
(by extension: png, jpg, jpeg, bmp, gif, webp, tif, tiff), in sorted order. The default
output is a table; ``--json`` prints one JSON object per input per line (JSON Lines):

    {"path": ..., "digit": 3, "confidence": 0.99, "probabilities": [10 floats],
     "low_confidence": false, "flags": [], "several_digits": false}

with ``"top_k": [{"digit": d, "probability": p}, ...]`` when ``--top-k`` is given. A model
of own symbols (``digits train``) answers a ``label`` column and JSON key instead of ``digit``
(``top_k`` entries ``{"label": name, "probability": p}``), without the not-a-digit check.
``low_confidence`` is true when the answer may be wrong, and ``flags`` says why (codes of
`digits.flags`: ``below_threshold``, the confidence is below ``--threshold``, default the
model sidecar's, chosen on the validation split; ``not_a_digit``; ``detector_doubt``;
``second_look``; ``no_digit``; ``unreadable``), ``flag_reason`` in a sentence (only when
flagged); the table's note says it briefly. ``several_digits`` is true when the image holds
several digit-like marks (the answer is the largest, most central one).
``--save-inputs DIR`` writes, for each input, the 28x28 the model saw and the original
with the digit's box drawn on it (see `digits.inputs`).
When no digit is found, ``digit`` is null, ``confidence`` 0.0, ``probabilities`` null
and ``reason`` says why; when an input cannot be read, ``error`` says why instead.
A file name that is not UTF-8 is shown (``path``, ``error``, in the table and in JSON)
with each byte that is not UTF-8 as ``\\xNN``: ``b"\\xff\\xfe.png"`` is ``\\xff\\xfe.png``,
as ``digits batch`` writes it (`digits.apps.options.escaped`).

The table shows confidences as percentages with one decimal (``99.7%``, ``>99.9%``).

Exit status: 0 when every input was read (a "no digit found" answer is a result, not a
failure), 1 when any input could not be read, 2 for usage errors and for a missing or
invalid model file, 141 when the reader of the output went away early (as ``| head``).

``read`` reads a handwritten number in each image (`digits.read`); ``--json`` prints

    {"path": ..., "text": "4071", "digits": [{"digit": 4, "label": "4", "confidence": 0.99,
     "box": [x, y, w, h]}, ...], "low_confidence": false, "flags": [], "method": "sequence"}

(``flags`` and ``flag_reason`` as for ``predict``, with the number's codes: see
`digits.flags.NUMBER_FLAGS`), with ``"text": ""`` and a ``reason`` when no number is
found, ``error`` when the input
cannot be read; same exit statuses as ``predict``. ``train`` trains the Deeper CNN on a
folder of your own symbols (`digits.training.symbols`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from digits.apps.batch import add_parser as add_batch
from digits.apps.commands import add_export, add_serve, add_train
from digits.apps.options import (
    EXIT_BROKEN_PIPE,
    add_inputs,
    escaped,
    load_predictor,
    percent,
    printable,
    probability_arg,
    top_k_arg,
)
from digits.predict import find_images  # light: TensorFlow is imported only when a model loads

__all__ = ["EXIT_BROKEN_PIPE", "find_images", "main", "percent"]

_CHUNK = 64  # images per batch; results are printed after each batch


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
    add_inputs(predict)
    predict.add_argument(
        "--top-k",
        type=top_k_arg,
        default=None,
        metavar="K",
        help="also show the K most likely digits",
    )
    predict.add_argument(
        "--threshold",
        type=probability_arg,
        default=None,
        metavar="P",
        help="flag answers whose confidence is below P (0-1) as low confidence, flag "
        "below_threshold (default: the model's, chosen on the validation split); the "
        "not-a-digit detector's flags do not depend on it",
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


def _shown(record: dict) -> dict:
    """``record`` with its texts (``path``, ``error``, ``saved_inputs``) `escaped`: valid
    UTF-8 whatever the file names, for JSON and for the table alike."""
    shown = {}
    for key, value in record.items():
        if isinstance(value, str):
            value = escaped(value)
        elif isinstance(value, list):
            value = [escaped(v) if isinstance(v, str) else v for v in value]
        shown[key] = value
    return shown


def _table_row(record: dict, top_k: int) -> list[str]:
    if "error" in record:
        return [printable(record["path"]), "-", "-", "", "error: " + record["error"]]
    answer = record.get("digit", record["label"])  # own symbols: no "digit" key
    if answer is None:
        return [printable(record["path"]), "-", "-", "", record.get("reason", "")]
    from digits.flags import prediction_note

    shown = record.get("top_k", [])[:top_k]
    key = "digit" if "digit" in record else "label"
    notes = [
        prediction_note(record["flags"]),
        "several digits: answered the largest, most central one"
        if record.get("several_digits")
        else "",
    ]
    return [
        printable(record["path"]),
        str(answer),
        percent(record["confidence"]),
        "  ".join(f"{t[key]}:{percent(t['probability'])}" for t in shown),
        "; ".join(note for note in notes if note),
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
    from digits.predict import Prediction, prediction_record
    from digits.runtime.modelfile import DIGIT_CLASSES

    predictor = load_predictor(args.model, low_confidence=args.threshold)
    if predictor is None:
        return 2

    if args.save_inputs is not None and args.save_inputs.exists() and not args.save_inputs.is_dir():
        print(
            f"digits: error: --save-inputs {args.save_inputs} is a file, not a folder.",
            file=sys.stderr,
        )
        return 2
    inputs = find_images(args.paths)
    top_k = args.top_k if args.json else (args.top_k or 3)
    width = max([len("path")] + [len(printable(p)) for p, _ in inputs])
    answer = "digit" if predictor.class_names == DIGIT_CLASSES else "label"  # own symbols
    columns = ["path".ljust(width), answer, "confidence", f"top-{top_k}".ljust(26), "note"]
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
            else:
                prediction = Prediction(
                    None, 0.0, None, True, error=error, class_names=predictor.class_names
                )
            record = prediction_record(path, prediction, top_k)
            if error is None and args.save_inputs is not None:
                failed = _save_inputs(path, prediction, args.save_inputs, record) or failed
            failed = failed or "error" in record
            record = _shown(record)
            if args.json:
                print(json.dumps(record))
            else:
                row = _table_row(record, top_k)
                line = f"{row[0].ljust(width)}  {row[1]:>5}  {row[2]:>10}  {row[3]:<26}  {row[4]}"
                print(printable(line.rstrip()))
        sys.stdout.flush()
    return 1 if failed else 0


def _add_read(commands) -> None:
    read = commands.add_parser(
        "read",
        help="read the handwritten number in image files",
        description="Read the handwritten number (digits on one line) in each image file "
        "(folders are walked recursively).",
        epilog="examples:\n"
        "  digits read my_number.jpg\n"
        "  digits read --json photos/ | head -3\n\n"
        "Exit status: 0 all inputs read (no-number answers included), 1 some input\n"
        "could not be read, 2 usage error or bad model file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inputs(read)
    read.add_argument(
        "--method",
        choices=["auto", "sequence", "segment"],
        default="auto",
        help="sequence: the CTC line reader (touching digits, lifted strokes); segment: cut "
        "the ink into digits and classify each (models of your own symbols); auto (default): "
        "sequence for digit models",
    )
    read.add_argument(
        "--reader",
        type=Path,
        default=None,
        metavar="FILE",
        help="the sequence reader's .tflite (default: models/reader_float32.tflite; "
        "models/reader_marks_float32.tflite also reads . , - / :)",
    )
    read.add_argument(
        "--digits-only",
        action="store_true",
        help="leave the marks (. , - / :) out of the text, as bare digits; the JSON's "
        "marks_dropped names them (a mark is never read as a digit)",
    )
    read.add_argument(
        "--expect",
        type=_expected_format,
        default=None,
        metavar="FORMAT",
        help="date, time, decimal, integer or a regular expression: read each line as the "
        "likeliest text of that format; a line that cannot be one is flagged",
    )
    read.set_defaults(run=_run_read)


def _expected_format(spec: str) -> str:
    """``--expect``'s value, checked (a usage error, not a traceback, when it is none)."""
    from digits.meaning import expectation

    try:
        expectation(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return spec


def _read_row(record: dict, width: int) -> str:
    from digits.flags import number_note

    if "error" in record:
        cells = ["-", "-", "error: " + record["error"]]
    elif not record["text"]:
        cells = ['""', "-", record.get("reason", "")]
    else:
        lowest = min(d["confidence"] for d in record["digits"])
        dropped = record.get("marks_dropped")
        note = number_note(record["flags"]) + (f" (marks left out: {dropped})" if dropped else "")
        cells = [record["text"], percent(lowest), note.strip()]
    path = printable(record["path"]).ljust(width)
    return printable(f"{path}  {cells[0]:<12}  {cells[1]:>14}  {cells[2]}".rstrip())


def _run_read(args: argparse.Namespace) -> int:
    from digits.flags import unreadable_reading
    from digits.image import ImageError
    from digits.read import read_number

    predictor = load_predictor(args.model)
    reader = _load_reader(args.method, predictor, args.reader) if predictor is not None else False
    if reader is False:
        return 2
    inputs = find_images(args.paths)
    width = max([len("path")] + [len(printable(p)) for p, _ in inputs])
    if not args.json:
        print(f"{'path'.ljust(width)}  {'text':<12}  {'min confidence':>14}  note")
    failed = False
    for path, error in inputs:
        if error is None:
            try:
                reading = read_number(
                    path, predictor, args.method, reader, args.digits_only, args.expect
                )
                record = {"path": path, **reading.to_dict()}
            except ImageError as unreadable:
                error = str(unreadable)
        if error is not None:
            record = unreadable_reading(path, error)
            failed = True
        record = _shown(record)
        print(json.dumps(record) if args.json else _read_row(record, width), flush=True)
    return 1 if failed else 0


def _load_reader(method: str, predictor, path: Path | None = None):
    """The sequence reader for ``method`` (None: the segmenter), from ``path`` when given;
    False after printing why it cannot be used."""
    from digits.read import choose_reader
    from digits.runtime.modelfile import ModelError
    from digits.runtime.sequence import SequenceReader

    try:
        given = SequenceReader(path) if path is not None and method != "segment" else None
        return choose_reader(method, predictor, given)
    except (ValueError, ModelError) as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return False


#: Each adds one subcommand (its parser, with ``set_defaults(run=handler)``).
_COMMANDS = [_add_predict, _add_read, add_batch, add_train, add_export, add_serve]
