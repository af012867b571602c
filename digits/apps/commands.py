"""The commands that make or serve models: ``digits train``, ``digits export``, ``digits serve``.

Each ``add_*`` adds one subcommand to the command line's parser (`digits.apps.cli`), with
``set_defaults(run=handler)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digits.apps.options import (
    check_model_file,
    load_predictor,
    positive_float_arg,
    positive_int_arg,
)

__all__ = ["add_export", "add_serve", "add_train"]


def add_train(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train the Deeper CNN on your own symbols (one subfolder of images per class)",
        description="Train the Deeper CNN on a folder with one subfolder of images per class "
        "(class names = subfolder names, in alphanumeric order; png/jpg/jpeg/bmp/gif). The "
        "model is saved with a sidecar FILE.json holding its class names, which predict and "
        "read then print, and a confidence threshold chosen on the validation split. Batch "
        "size and epochs are chosen from the folder's size unless given. A model no better "
        "than chance on the validation split is not saved.",
        epilog="example:\n"
        "  digits train --data my_symbols/ --out symbols.h5\n"
        "  digits predict --model symbols.h5 my_symbol.png\n\n"
        "Exit status: 0 trained and saved, 2 usage error or unusable folder, 3 trained but\n"
        "not saved (no better than chance on validation; an existing FILE is left as it was).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--data", type=Path, required=True, metavar="DIR", help="the folder")
    train.add_argument(
        "--epochs",
        type=positive_int_arg,
        default=None,
        metavar="N",
        help="default: chosen from the folder's size (about 500 optimizer steps, 10-80 epochs)",
    )
    train.add_argument(
        "--out",
        type=Path,
        default=Path("symbols_model.h5"),
        metavar="FILE",
        help="model file to write (.h5 or .keras; default symbols_model.h5)",
    )
    train.add_argument(
        "--batch-size",
        type=positive_int_arg,
        default=None,
        metavar="B",
        help="default: chosen from the folder's size (about a tenth of it, 8 to 64)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from digits.runtime.quiet import held_stderr
    from digits.training.symbols import NotLearnt, SymbolsError, train

    try:
        with held_stderr():
            import digits.training.train  # noqa: F401  (TensorFlow's start-up lines held back)
        result = train(
            args.data,
            args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            log=lambda line: print(line, flush=True),
        )
    except NotLearnt as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 3
    except SymbolsError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2
    if result.skipped:
        print(f"skipped {result.skipped} files that could not be used", file=sys.stderr)
    print(
        f"trained on {result.train_images} images ({result.validation_images} held out for "
        f"validation), {len(result.class_names)} classes: {' '.join(result.class_names)}\n"
        f"validation accuracy {result.val_accuracy:.2%} (chance {result.chance:.1%}); "
        f"low-confidence threshold {result.low_confidence:.2f}; saved {result.model_path} and "
        f"{result.model_path.with_suffix('.json')}"
    )
    return 0


def add_export(commands) -> None:
    from digits.training.export import QUANTIZE_CHOICES  # light: export imports TensorFlow lazily

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
    from digits.runtime.modelfile import ModelError
    from digits.training.export import export_litert

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


def add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the JSON web service (POST /predict, POST /read, GET /health, /docs)",
        description="Run the JSON web service with uvicorn: POST /predict takes images "
        "(multipart field 'files', or a raw image body) and answers the same JSON objects "
        "as 'predict --json'; POST /read takes the same and answers those of 'read --json'; "
        "GET /health; OpenAPI page at /docs.",
        epilog="example:\n"
        "  digits serve --port 8000\n"
        "  curl -F files=@digit_examples/3_a.png http://127.0.0.1:8000/predict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=positive_int_arg, default=8000, help="port (8000)")
    serve.add_argument(
        "--model", type=Path, default=None, metavar="FILE", help="model file (default model)"
    )
    serve.add_argument(
        "--max-bytes",
        type=positive_int_arg,
        default=10_000_000,
        metavar="N",
        help="largest request body in bytes; larger ones get 413 (10000000)",
    )
    serve.add_argument(
        "--timeout",
        type=positive_float_arg,
        default=10.0,
        metavar="S",
        help="seconds a request may wait for and spend in prediction (10)",
    )
    serve.add_argument(
        "--client-timeout",
        type=positive_float_arg,
        default=10.0,
        metavar="S",
        help="seconds a client may take to send its headers, or pause in its body (10)",
    )
    serve.add_argument(
        "--workers", type=positive_int_arg, default=1, help="worker processes, one model each (1)"
    )
    serve.add_argument(
        "--threads", type=positive_int_arg, default=1, help="prediction threads per worker (1)"
    )
    serve.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from digits.runtime.modelfile import ModelError

    try:
        from digits.apps.service import serve
    except ImportError as error:
        print(f"digits: error: the service needs fastapi and uvicorn ({error}).", file=sys.stderr)
        return 2
    predictor = None
    if args.workers == 1:
        predictor = load_predictor(args.model)
        if predictor is None:
            return 2
    else:  # each worker loads its own; check the file and its checksum here
        try:
            check_model_file(args.model)
        except ModelError as error:
            print(f"digits: error: {error}", file=sys.stderr)
            return 2
    try:
        return serve(
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
    except OSError as error:  # the port is taken, or the address is not this machine's
        print(f"digits: error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
