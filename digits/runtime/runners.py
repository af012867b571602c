"""Run a digits model file: one small interface over Keras and LiteRT models.

    >>> runner = open_runner("models/digits_float32.tflite")   # or a .h5 / .keras file
    >>> runner.probabilities(x)        # x: (N, 28, 28, 1) float32 in [0, 1] -> (N, C)

- `LiteRTRunner` runs a ``.tflite`` file with the LiteRT runtime (``ai-edge-litert``):
  no TensorFlow import, a few milliseconds to load, well under a millisecond per image.
- `KerasRunner` runs a ``.h5`` / ``.keras`` file through a compiled ``tf.function`` (not
  ``model.predict``, which costs about 100 ms per call); it imports TensorFlow.

Both check the model contract when they open a file: one input ``(N, 28, 28, 1)``, one
output ``(N, C)``; a missing, damaged or misshapen file raises `ModelError`. Whether the
outputs are probabilities is checked by `digits.predict.Predictor`. This module imports
neither TensorFlow nor the LiteRT runtime until a runner is opened.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from digits.runtime.modelfile import ModelError
from digits.runtime.quiet import held_stderr

__all__ = [
    "KERAS_EXTENSIONS",
    "LITERT_EXTENSIONS",
    "KerasRunner",
    "LiteRTRunner",
    "Runner",
    "load_model",
    "open_runner",
]

KERAS_EXTENSIONS = (".h5", ".keras")
LITERT_EXTENSIONS = (".tflite",)
INPUT_SHAPE = (28, 28, 1)


class Runner(Protocol):
    """A loaded model: ``probabilities((N, 28, 28, 1) float32) -> (N, C) float32``."""

    path: Path
    kind: str  # "keras" or "litert"
    num_classes: int
    model: object  # the Keras model or the LiteRT interpreter

    def probabilities(self, x: np.ndarray) -> np.ndarray: ...


def open_runner(
    path: str | Path, num_classes: int = 10, batch_size: int = 256, num_threads: int | None = None
) -> Runner:
    """Open a model file, choosing the runner by its extension (.h5/.keras or .tflite).

    ``num_threads`` applies to LiteRT models (None: the runtime's default).

    Raises:
        ModelError: the file is missing, of an unknown kind, damaged, or misshapen.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"No model file at {path}.")
    suffix = path.suffix.lower()
    if suffix in LITERT_EXTENSIONS:
        return LiteRTRunner(path, num_classes, batch_size, num_threads)
    if suffix in KERAS_EXTENSIONS:
        return KerasRunner(path, num_classes, batch_size)
    known = ", ".join(KERAS_EXTENSIONS + LITERT_EXTENSIONS)
    raise ModelError(f"{path}: unknown model file type {suffix or '(none)'!r}; expected {known}.")


def _as_input(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1, *INPUT_SHAPE)


def _contract_error(path: Path, got_in, got_out, num_classes: int) -> ModelError:
    return ModelError(
        f"{path}: the model maps {got_in} -> {got_out}; expected (None, 28, 28, 1) -> "
        f"(None, {num_classes}) (28x28 grayscale in, {num_classes} class probabilities out)."
    )


class LiteRTRunner:
    """A ``.tflite`` model run by the LiteRT interpreter (``ai_edge_litert``).

    The input is resized to each batch's size (one ``invoke`` per batch of at most
    ``batch_size``); quantized (int8/uint8) inputs and outputs are converted using the
    model's scale and zero point. Calls are serialised with a lock: an interpreter is
    not safe to use from two threads at once.
    """

    kind = "litert"

    def __init__(
        self,
        path: str | Path,
        num_classes: int = 10,
        batch_size: int = 256,
        num_threads: int | None = None,
    ):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self._lock = threading.Lock()
        try:
            # Holds "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." and load errors
            # (the ModelError below says what went wrong).
            with held_stderr(expected=(ValueError, RuntimeError)):
                self.model = Interpreter(model_path=str(self.path), num_threads=num_threads)
                self.model.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            message = (str(error).splitlines() or [type(error).__name__])[0].rstrip(".")
            raise ModelError(
                f"{self.path} is not a LiteRT model file (.tflite) that can be loaded: {message}"
            ) from None
        self._check_contract()
        self._batch = 1

    def _check_contract(self) -> None:
        inputs, outputs = self.model.get_input_details(), self.model.get_output_details()
        got_in = [tuple(int(d) for d in i["shape_signature"]) for i in inputs]
        got_out = [tuple(int(d) for d in o["shape_signature"]) for o in outputs]
        if (
            len(inputs) != 1
            or len(outputs) != 1
            or got_in[0][1:] != INPUT_SHAPE
            or got_out[0][1:] != (self.num_classes,)
            or len(got_out[0]) != 2
        ):
            shown_in = got_in[0] if len(got_in) == 1 else got_in
            shown_out = got_out[0] if len(got_out) == 1 else got_out
            raise _contract_error(self.path, shown_in, shown_out, self.num_classes)
        self._input, self._output = inputs[0], outputs[0]
        self._resizable = got_in[0][0] == -1

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Outputs ``(N, C)`` float32 for inputs ``(N, 28, 28, 1)`` float32 in [0, 1]."""
        x = _as_input(x)
        step = self.batch_size if self._resizable else 1
        with self._lock:
            chunks = [self._invoke(x[i : i + step]) for i in range(0, len(x), step)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self.model.resize_tensor_input(self._input["index"], [len(x), *INPUT_SHAPE])
            self.model.allocate_tensors()
            self._batch = len(x)
        self.model.set_tensor(self._input["index"], _quantize(x, self._input))
        self.model.invoke()
        return _dequantize(self.model.get_tensor(self._output["index"]), self._output)

    def __repr__(self) -> str:
        return f"LiteRTRunner({str(self.path)!r})"


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return x
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if y.dtype == np.float32:
        return y.copy()
    scale, zero_point = detail["quantization"]
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


class KerasRunner:
    """A Keras model file (``.h5`` / ``.keras``) run through a compiled ``tf.function``."""

    kind = "keras"

    def __init__(self, path: str | Path, num_classes: int = 10, batch_size: int = 256):
        self.path = Path(path)
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.model = load_model(self.path, num_classes=self.num_classes)
        self._forward = _compile_forward(self.model)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Outputs ``(N, C)`` float32 for inputs ``(N, 28, 28, 1)`` float32 in [0, 1]."""
        x = _as_input(x)
        chunks = [
            self._forward(x[i : i + self.batch_size]).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def __repr__(self) -> str:
        return f"KerasRunner({str(self.path)!r})"


def load_model(path: str | Path, num_classes: int = 10):
    """Load a Keras model file (.h5 or .keras) and check that it maps (N, 28, 28, 1) in to
    (N, ``num_classes``) out. Imports TensorFlow.

    Raises:
        ModelError: the file is missing, not a Keras model, or has the wrong shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"No model file at {path}.")
    from digits.runtime.backend import keras  # imported here so that this module imports quickly

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # h5py, zipfile, JSON and Keras raise many kinds
        message = (str(error).splitlines() or [type(error).__name__])[0].split(". ")[0].rstrip(".")
        raise ModelError(
            f"{path} is not a Keras model file (.h5 or .keras) that can be loaded: {message}"
        ) from None
    input_shape = _shape(getattr(model, "input_shape", None))
    output_shape = _shape(getattr(model, "output_shape", None))
    if input_shape != (None, *INPUT_SHAPE) or output_shape != (None, num_classes):
        raise _contract_error(path, input_shape, output_shape, num_classes)
    return model


def _shape(shape) -> tuple | None:
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    return tuple(shape) if isinstance(shape, (tuple, list)) else None


def _compile_forward(model):
    from digits.runtime.backend import tf

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, 28, 28, 1), dtype=tf.float32)])
    def forward(x):
        return model(x, training=False)

    return forward
