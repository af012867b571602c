"""Command line interface: predict digits, read numbers, train, export, serve.

    python -m digits predict PATH... [--model FILE] [--json] [--top-k K] [--threshold P]
                             [--save-inputs DIR]
    python -m digits read PATH... [--model FILE] [--json]
    python -m digits train --data DIR [--epochs N] [--out FILE]
    python -m digits export [--model FILE] [--quantize none|float16|dynamic|int8] [--out FILE]
    python -m digits serve [--host 127.0.0.1] [--port 8000] [--model FILE]

``predict`` and ``read`` use the committed LiteRT model (models/digits_float32.tflite) unless
``--model`` names another (.tflite, .h5 or .keras); only a Keras model imports TensorFlow.

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

The table shows confidences as percentages with one decimal (``99.7%``, ``>99.9%``).

Exit status: 0 when every input was read (a "no digit found" answer is a result, not a
failure), 1 when any input could not be read, 2 for usage errors and for a missing or
invalid model file, 141 when the reader of the output went away early (as ``| head``).

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
import os
import sys
from pathlib import Path

from digits.predict import find_images  # light: TensorFlow is imported only when a model loads

__all__ = ["main", "find_images"]

_CHUNK = 64  # images per batch; results are printed after each batch


def _number(convert, accept, expected: str):
    """An argparse ``type=`` that converts with ``convert`` and keeps what ``accept`` likes,
    else says what was ``expected`` in one uniform message."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


_probability = _number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
_top_k = _number(int, lambda k: 1 <= k <= 10, "a whole number from 1 to 10")
_positive_int = _number(int, lambda v: v >= 1, "a positive whole number")
_positive_float = _number(float, lambda v: v > 0, "a positive number")

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


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    """The arguments ``predict`` and ``read`` share: PATHs, ``--model`` and ``--json``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="model file: .tflite (LiteRT) or .h5/.keras (Keras, imports TensorFlow); "
        "default: models/digits_float32.tflite",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON Lines (one object per input)"
    )


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
    _add_inputs(predict)
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


def percent(probability: float) -> str:
    """A probability as a percentage with one decimal; never rounded to a false 100.0% or 0.0%."""
    if probability >= 0.9995 and probability < 1.0:
        return ">99.9%"
    if 0.0 < probability < 0.0005:
        return "<0.1%"
    return f"{probability:.1%}"


def _table_row(record: dict, top_k: int) -> list[str]:
    if "error" in record:
        return [_printable(record["path"]), "-", "-", "", "error: " + record["error"]]
    if record["digit"] is None:
        return [_printable(record["path"]), "-", "-", "", record.get("reason", "")]
    shown = record.get("top_k", [])[:top_k]
    notes = [
        "not a digit?"
        if record.get("not_a_digit")
        else "low confidence"
        if record["low_confidence"]
        else "",
        "several digits: answered the largest, most central one"
        if record.get("several_digits")
        else "",
    ]
    return [
        _printable(record["path"]),
        str(record["digit"]),
        percent(record["confidence"]),
        "  ".join(f"{t['digit']}:{percent(t['probability'])}" for t in shown),
        "; ".join(note for note in notes if note),
    ]


def _printable(text: str) -> str:
    """``text`` as stdout can print it: bytes of file names that are not UTF-8 (held as
    surrogates by Python) and characters the output encoding lacks become backslash escapes."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


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


def _load_predictor(model: Path | None, **options):
    """The `Predictor` of ``model``, loaded quietly (TensorFlow and LiteRT log as they load);
    on a `ModelError`, prints it as ``digits: error: ...`` and returns None (exit status 2)."""
    from digits.predict import ModelError, Predictor
    from digits.quiet import held_stderr

    try:
        with held_stderr(expected=(ModelError,)):
            return Predictor(model, **options)
    except ModelError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return None


def _run_predict(args: argparse.Namespace) -> int:
    from digits.predict import Prediction, prediction_record

    predictor = _load_predictor(args.model, low_confidence=args.threshold)
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
    width = max([len("path")] + [len(_printable(p)) for p, _ in inputs])
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
            else:
                prediction = Prediction(None, 0.0, None, True, error=error)
            record = prediction_record(path, prediction, top_k)
            if error is None and args.save_inputs is not None:
                failed = _save_inputs(path, prediction, args.save_inputs, record) or failed
            failed = failed or "error" in record
            if args.json:
                print(json.dumps(record))
            else:
                row = _table_row(record, top_k)
                line = f"{row[0].ljust(width)}  {row[1]:>5}  {row[2]:>10}  {row[3]:<26}  {row[4]}"
                print(_printable(line.rstrip()))
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
    _add_inputs(read)
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
            percent(lowest),
            "low confidence" if record["low_confidence"] else "",
        ]
    path = _printable(record["path"]).ljust(width)
    return f"{path}  {cells[0]:<12}  {cells[1]:>14}  {cells[2]}".rstrip()


def _run_read(args: argparse.Namespace) -> int:
    from digits.preprocess import ImageError
    from digits.read import read_number

    predictor = _load_predictor(args.model)
    if predictor is None:
        return 2
    inputs = find_images(args.paths)
    width = max([len("path")] + [len(_printable(p)) for p, _ in inputs])
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


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train the Deeper CNN on your own symbols (one subfolder of images per class)",
        description="Train the Deeper CNN on a folder with one subfolder of images per class "
        "(class names = subfolder names, in alphanumeric order; png/jpg/jpeg/bmp/gif). The "
        "model is saved with a sidecar FILE.json holding its class names, which predict and "
        "read then print.",
        epilog="example:\n"
        "  digits train --data my_symbols/ --epochs 10 --out symbols.h5\n"
        "  digits predict --model symbols.h5 my_symbol.png\n\n"
        "Exit status: 0 trained and saved, 2 usage error or unusable folder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--data", type=Path, required=True, metavar="DIR", help="the folder")
    train.add_argument("--epochs", type=_positive_int, default=10, metavar="N", help="default 10")
    train.add_argument(
        "--out",
        type=Path,
        default=Path("symbols_model.h5"),
        metavar="FILE",
        help="model file to write (.h5 or .keras; default symbols_model.h5)",
    )
    train.add_argument("--batch-size", type=_positive_int, default=64, metavar="B")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from digits.quiet import held_stderr
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


def _add_export(commands) -> None:
    from digits.export import QUANTIZE_CHOICES  # light: export imports TensorFlow lazily

    export = commands.add_parser(
        "export",
        help="export a Keras model to LiteRT (.tflite)",
        description="Convert a Keras model to a LiteRT .tflite file (plus its .json sidecar) "
        "that predicts without TensorFlow.",
        epilog="examples:\n"
        "  digits export                    # models/digits_float32.tflite\n"
        "  digits export --quantize int8    # models/digits_int8.tflite\n"
        "  digits export --model mine.h5 --out mine.tflite\n\n"
        "Exit status: 0 written, 1 could not write, 2 usage error or bad model file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="Keras model (.h5/.keras; default: hand_written_digits_prediction.h5)",
    )
    export.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default="none",
        help="none (float32), float16, dynamic (int8 weights) or int8 (calibrated on MNIST "
        "training images); default: none",
    )
    export.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the .tflite file to write (default: models/digits_<kind>.tflite for the shipped "
        "model, else <model>_<kind>.tflite beside it)",
    )
    export.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from digits.export import export_litert
    from digits.modelfile import ModelError

    try:
        out = export_litert(args.model, args.out, args.quantize)
    except (ModelError, ValueError) as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"digits: error: cannot write the model: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({out.stat().st_size:,} bytes, quantize={args.quantize}) and its sidecar")
    return 0


def _add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the JSON web service (POST /predict, GET /health, /docs)",
        description="Run the JSON web service with uvicorn: POST /predict takes images "
        "(multipart field 'files', or a raw image body) and answers the same JSON objects "
        "as 'predict --json'; GET /health; OpenAPI page at /docs.",
        epilog="example:\n"
        "  digits serve --port 8000\n"
        "  curl -F files=@digit_examples/3_a.png http://127.0.0.1:8000/predict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=_positive_int, default=8000, help="port (8000)")
    serve.add_argument(
        "--model", type=Path, default=None, metavar="FILE", help="model file (default model)"
    )
    serve.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=10_000_000,
        metavar="N",
        help="largest request body in bytes; larger ones get 413 (10000000)",
    )
    serve.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds a request may wait for and spend in prediction (10)",
    )
    serve.add_argument(
        "--client-timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds a client may take to send its headers, or pause in its body (10)",
    )
    serve.add_argument(
        "--workers", type=_positive_int, default=1, help="worker processes, one model each (1)"
    )
    serve.add_argument(
        "--threads", type=_positive_int, default=1, help="prediction threads per worker (1)"
    )
    serve.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from digits.modelfile import ModelError

    try:
        from digits.service import serve
    except ImportError as error:
        print(f"digits: error: the service needs fastapi and uvicorn ({error}).", file=sys.stderr)
        return 2
    predictor = None
    if args.workers == 1:
        predictor = _load_predictor(args.model)
        if predictor is None:
            return 2
    else:  # each worker loads its own; check the file and its checksum here
        try:
            _check_model_file(args.model)
        except ModelError as error:
            print(f"digits: error: {error}", file=sys.stderr)
            return 2
    serve(
        host=args.host,
        port=args.port,
        model_path=args.model,
        max_bytes=args.max_bytes,
        timeout_s=args.timeout,
        workers=args.workers,
        threads=args.threads,
        predictor=predictor,
        client_timeout_s=args.client_timeout,
    )
    return 0


def _check_model_file(model: Path | None) -> None:
    """Raise `ModelError` unless the model file exists and matches its sidecar."""
    from digits.modelfile import ModelError, read_info
    from digits.predict import default_model_path

    path = model if model is not None else default_model_path()
    if not path.is_file():
        raise ModelError(f"No model file at {path}.")
    read_info(path)


def _add_batch(commands) -> None:
    from digits.apps import batch

    batch.add_parser(commands)


#: Each adds one subcommand (its parser, with ``set_defaults(run=handler)``).
_COMMANDS = [_add_predict, _add_read, _add_batch, _add_train, _add_export, _add_serve]
