"""What the commands of the command line share: argument types, the input arguments,
loading a model, and how answers are printed (percentages, file names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["EXIT_BROKEN_PIPE", "add_inputs", "escaped", "load_predictor", "percent", "printable"]


def number(convert, accept, expected: str):
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


probability_arg = number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")


top_k_arg = number(int, lambda k: 1 <= k <= 10, "a whole number from 1 to 10")


positive_int_arg = number(int, lambda v: v >= 1, "a positive whole number")


positive_float_arg = number(float, lambda v: v > 0, "a positive number")


#: Exit status after a broken pipe: 128 + SIGPIPE, what a shell reports for ``cmd | head``.
EXIT_BROKEN_PIPE = 141


def add_inputs(parser: argparse.ArgumentParser) -> None:
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


def percent(probability: float) -> str:
    """A probability as a percentage with one decimal; never rounded to a false 100.0% or 0.0%."""
    if probability >= 0.9995 and probability < 1.0:
        return ">99.9%"
    if 0.0 < probability < 0.0005:
        return "<0.1%"
    return f"{probability:.1%}"


def escaped(text: str) -> str:
    """``text`` as valid UTF-8, the form ``path`` and ``error`` take in every output
    (``--json``, the table, ``digits batch``'s Parquet): each byte of a file name that is
    not UTF-8 (held by Python as a surrogate, ``os.fsdecode``) becomes ``\\xNN``, so
    ``b"\\xff\\xfe.png"`` is shown as ``\\xff\\xfe.png``; any other lone surrogate becomes
    ``\\udNNN``. Valid text is returned as it is (a name that spells ``\\xff`` in ASCII
    reads the same as the byte)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """``text`` as stdout can print it: `escaped`, and characters the output encoding
    lacks become backslash escapes."""
    text = escaped(text)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


def load_predictor(model: Path | None, **options):
    """The `Predictor` of ``model``, loaded quietly (TensorFlow and LiteRT log as they load);
    on a `ModelError`, prints it as ``digits: error: ...`` and returns None (exit status 2)."""
    from digits.predict import ModelError, Predictor
    from digits.runtime.quiet import held_stderr

    try:
        with held_stderr(expected=(ModelError,)):
            return Predictor(model, **options)
    except ModelError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return None


def check_model_file(model: Path | None) -> None:
    """Raise `ModelError` unless the model file exists and matches its sidecar."""
    from digits.predict import default_model_path
    from digits.runtime.modelfile import ModelError, read_info

    path = model if model is not None else default_model_path()
    if not path.is_file():
        raise ModelError(f"No model file at {path}.")
    read_info(path)
