"""Export a Keras digits model to a LiteRT (``.tflite``) file that predicts without TensorFlow.

    python -m digits export [--model FILE] [--quantize none|float16|dynamic|int8] [--out FILE]

    >>> export_litert("hand_written_digits_prediction.h5", "models/digits_int8.tflite", "int8")

Quantization (post-training, by the TensorFlow Lite converter):

- ``none``: float32 weights and activations; the same answers as Keras.
- ``float16``: float16 weights (half the size), computed in float32 on CPUs.
- ``dynamic``: int8 weights, float activations (about 4x smaller).
- ``int8``: int8 weights and activations, calibrated on `CALIBRATION_IMAGES` MNIST training
  images; float32 input and output, so it is a drop-in replacement (about 4x smaller).

The conversion uses ``tf.lite.TFLiteConverter.from_keras_model`` with the built-in operator
set only, so the file runs on the plain LiteRT runtime (no Flex/TensorFlow ops), and gives
the bytes in memory, so that the file is written atomically. The sidecar ``OUT.json``
copies the source model's sidecar (class names, calibration temperature, any other key) and
records the source's name and SHA-256 and the quantization. Imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

from digits.paths import LITERT_PATH, MODEL_PATH
from digits.runtime.modelfile import (
    atomic_write_bytes,
    file_sha256,
    read_info,
    sidecar_path,
    travelling_fields,
    write_info,
)

__all__ = [
    "CALIBRATION_IMAGES",
    "QUANTIZE_CHOICES",
    "default_export_path",
    "export_litert",
]

QUANTIZE_CHOICES = ("none", "float16", "dynamic", "int8")
#: Training images used to calibrate int8 activations (a fixed random sample).
CALIBRATION_IMAGES = 300
_SUFFIX = {"none": "float32", "float16": "float16", "dynamic": "dynamic", "int8": "int8"}


def default_export_path(model_path: str | Path, quantize: str = "none") -> Path:
    """``models/digits_<kind>.tflite`` for the shipped model, else ``<model>_<kind>.tflite``
    beside the model (``<kind>`` is float32, float16, dynamic or int8)."""

    model_path = Path(model_path)
    kind = _SUFFIX[_checked(quantize)]
    if model_path.resolve() == MODEL_PATH.resolve():
        return LITERT_PATH.with_name(f"digits_{kind}.tflite")
    return model_path.with_name(f"{model_path.stem}_{kind}.tflite")


def export_litert(
    model_path: str | Path | None = None,
    out: str | Path | None = None,
    quantize: str = "none",
    calibration: np.ndarray | None = None,
) -> Path:
    """Convert a Keras model file (.h5 / .keras) to LiteRT and write ``out`` + its sidecar.

    Args:
        model_path: the Keras model (default: the shipped ``hand_written_digits_prediction.h5``).
        out: the ``.tflite`` file to write (default: `default_export_path`).
        quantize: one of `QUANTIZE_CHOICES`.
        calibration: int8 only: inputs ``(N, 28, 28, 1)`` float32 in [0, 1] to calibrate the
            activations on (default: `CALIBRATION_IMAGES` random MNIST training images).

    Returns:
        The path written.

    Raises:
        ValueError: unknown ``quantize``, or an ``out`` that does not end in ``.tflite`` or
            whose sidecar would be the source's (``m.h5`` -> ``m.tflite``: both ``m.json``).
        ModelError: the source model is missing, damaged or misshapen.
    """
    from digits.runtime.runners import load_model

    quantize = _checked(quantize)
    source = Path(model_path) if model_path is not None else MODEL_PATH
    out = Path(out) if out is not None else default_export_path(source, quantize)
    if out.suffix != ".tflite":
        raise ValueError(f"the exported file must end in .tflite, not {out.name!r}")
    if sidecar_path(out).resolve() == sidecar_path(source).resolve():
        raise ValueError(
            f"{out.name} would share its sidecar {sidecar_path(out).name} with {source.name}; "
            "choose another name (the default adds _float32, _int8, ...)"
        )
    info = read_info(source)  # verifies the checksum; warns when there is no sidecar
    model = load_model(source, num_classes=len(info.class_names))
    if quantize == "int8" and calibration is None:
        calibration = calibration_images()
    data = _convert(model, quantize, calibration)
    atomic_write_bytes(out, data)
    write_info(
        out,
        **travelling_fields(info),
        source=source.name,
        source_sha256=file_sha256(source),
        quantize=quantize,
        format="litert",
    )
    return out


def calibration_images(count: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """``count`` random MNIST training images as model inputs ``(count, 28, 28, 1)``."""
    from digits.training.data import load_mnist, scale

    (x_train, _), _ = load_mnist()
    index = np.random.default_rng(seed).choice(len(x_train), size=count, replace=False)
    return scale(x_train[np.sort(index)])


def _checked(quantize: str) -> str:
    if quantize not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_CHOICES)}, not {quantize!r}")
    return quantize


def _convert(model, quantize: str, calibration: np.ndarray | None) -> bytes:
    from digits.runtime.backend import tf
    from digits.runtime.quiet import held_stderr

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        samples = np.asarray(calibration, dtype=np.float32).reshape(-1, 28, 28, 1)
        converter.representative_dataset = lambda: ([x[None]] for x in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # The converter prints the SavedModel it writes on the way, logs from C++, and warns
    # that float inputs have no statistics (they are not quantized: the model takes floats).
    with held_stderr(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()
