"""Predict the digit in images with a trained model: one API for the notebook, the CLI
and the web app.

    >>> from digits.predict import Predictor
    >>> predictor = Predictor()                    # loads hand_written_digits_prediction.h5
    >>> p = predictor.predict("digit_examples/3_a.png")
    >>> p.digit, p.confidence, p.low_confidence
    (3, 0.998..., False)
    >>> p.preprocessed.image                       # the 28x28 the model saw

Every image goes through `digits.preprocess.to_model_input`. The model is loaded once
and called through a `tf.function` with a fixed input signature (no `model.predict`,
which costs about 100 ms per call), so a single image takes a few milliseconds.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits.modelfile import ModelError, ModelInfo, read_info
from digits.ood import NondigitDetector
from digits.preprocess import (
    IMAGE_EXTENSIONS,
    ImageError,
    ImageInput,
    NoDigitFound,
    PreprocessResult,
    to_model_input,
)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "LOW_CONFIDENCE",
    "ModelError",
    "Prediction",
    "Predictor",
    "calibrate",
    "default_model_path",
    "find_images",
    "load_model",
]

MODEL_FILENAME = "hand_written_digits_prediction.h5"
#: The shipped model: at the repository root, next to the `digits` package.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / MODEL_FILENAME
#: A prediction whose confidence (top probability) is below this is flagged
#: ``low_confidence``: the image is probably not a clear single digit.
LOW_CONFIDENCE = 0.6


def default_model_path() -> Path:
    """`DEFAULT_MODEL_PATH` if it exists, else ``./hand_written_digits_prediction.h5`` if
    that exists (e.g. when the package is installed elsewhere), else `DEFAULT_MODEL_PATH`."""
    if DEFAULT_MODEL_PATH.is_file():
        return DEFAULT_MODEL_PATH
    local = Path.cwd() / MODEL_FILENAME
    return local if local.is_file() else DEFAULT_MODEL_PATH


def find_images(paths: Sequence[str | Path]) -> list[tuple[str, str | None]]:
    """Expand files and folders into ``(path, error)`` pairs, folders walked recursively
    for image files in sorted order. ``error`` is set for a folder without images.

    The walk is iterative (no recursion limit on nesting depth), follows no symbolic link
    to a folder (so link loops cannot trap it) and skips folders it cannot list.
    """
    found: list[tuple[str, str | None]] = []
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
        except (OSError, ValueError):  # ValueError: a NUL byte; reported by preprocessing
            is_dir = False
        if not is_dir:
            found.append((str(path), None))  # a missing or unreadable file is reported later
            continue
        files = sorted(_walk_images(path))
        if not files:
            extensions = ", ".join(IMAGE_EXTENSIONS)
            found.append((str(path), f"{path} is a folder without image files ({extensions})."))
        found.extend((str(p), None) for p in files)
    return found


def _walk_images(top: Path) -> list[Path]:
    """Image files under ``top``, by extension, without recursion or following links."""
    out: list[Path] = []
    pending = [str(top)]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS and entry.is_file():
                    out.append(Path(entry.path))
            except OSError:
                continue
    return out


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image.

    Attributes:
        digit: the predicted digit, or None when no digit was found (see ``reason``)
            or the image could not be read (see ``error``).
        confidence: probability of ``digit`` (0.0 when ``digit`` is None).
        probabilities: the 10 class probabilities, or None when ``digit`` is None.
        low_confidence: ``confidence < threshold`` (`LOW_CONFIDENCE` by default).
        reason: why no digit was found, else None.
        error: why the image could not be read (only from ``predict_many(...,
            raise_errors=False)``), else None.
        preprocessed: what the model saw (`PreprocessResult`, ``.image`` is 28x28),
            or None when ``digit`` is None.
        not_a_digit: the input looks like a shape, letter or symbol rather than a digit
            (`digits.ood`); such predictions are also flagged ``low_confidence``.
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...] | None
    low_confidence: bool
    reason: str | None = None
    error: str | None = None
    preprocessed: PreprocessResult | None = field(default=None, repr=False, compare=False)
    not_a_digit: bool = False

    def top_k(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most probable digits as ``(digit, probability)``, best first."""
        if self.probabilities is None:
            return []
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def to_dict(self) -> dict:
        """JSON-ready dict: digit, confidence, probabilities, low_confidence, and reason /
        error when set."""
        out: dict = {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": None
            if self.probabilities is None
            else [round(p, 6) for p in self.probabilities],
            "low_confidence": self.low_confidence,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.error is not None:
            out["error"] = self.error
        if self.not_a_digit:
            out["not_a_digit"] = True
        return out


class Predictor:
    """Load a Keras model once and predict digits in images.

    Args:
        model_path: a Keras model file (``.h5`` or ``.keras``) taking ``(N, 28, 28, 1)``
            float32 in [0, 1] and returning ``(N, 10)`` softmax probabilities. Default:
            `default_model_path()`.
        low_confidence: threshold below which a prediction is flagged ``low_confidence``.
        batch_size: images per model call in `predict_many`.

    Raises:
        ModelError: the file is missing, not a Keras model, or has the wrong shapes.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        low_confidence: float = LOW_CONFIDENCE,
        batch_size: int = 256,
    ):
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.low_confidence = float(low_confidence)
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not self.model_path.is_file():
            load_model(self.model_path)  # raises the missing-file ModelError with its hint
        self.info: ModelInfo = read_info(self.model_path)  # checksum verified before loading
        self.model = load_model(self.model_path)
        self._forward = _compile_forward(self.model)
        probabilities = self.predict_inputs(np.zeros((1, 28, 28, 1), dtype=np.float32))  # warm-up
        if not (
            np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
        ):
            raise ModelError(
                f"{self.model_path}: the model's outputs are not probabilities (the last layer "
                "must be a 10-way softmax)."
            )

    def predict_inputs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, 10)`` for already preprocessed inputs ``(N, 28, 28, 1)``."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        chunks = [
            self._forward(x[i : i + self.batch_size]).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        raw = np.concatenate(chunks) if chunks else np.zeros((0, 10), dtype=np.float32)
        return calibrate(raw, self.info.temperature)

    def predict(self, image: ImageInput) -> Prediction:
        """Predict the digit in one image (path, bytes, numpy array or PIL image).

        A blank image or one without a digit gives ``digit=None`` and a ``reason``.

        Raises:
            ImageError: the image is missing, empty, not an image, damaged or too large.
        """
        return self.predict_many([image])[0]

    def predict_many(
        self, images: Iterable[ImageInput], raise_errors: bool = True
    ) -> list[Prediction]:
        """Predict the digits in many images, one batched model call per `batch_size`.

        Args:
            images: paths, bytes, numpy arrays or PIL images.
            raise_errors: if False, an unreadable image gives a `Prediction` with
                ``digit=None`` and ``error`` set instead of raising `ImageError`; so does
                any other failure on one input, so every input gets an answer.
        """
        results: list[Prediction | PreprocessResult] = []
        for image in images:
            try:
                results.append(to_model_input(image))
            except NoDigitFound as missing:
                results.append(Prediction(None, 0.0, None, True, reason=missing.reason))
            except ImageError as error:
                if raise_errors:
                    raise
                results.append(_failed(str(error)))
            except Exception as error:  # noqa: BLE001 - one input must not sink the batch
                if raise_errors:
                    raise ImageError(_unexpected(error)) from error
                results.append(_failed(_unexpected(error)))
        ready = [r for r in results if isinstance(r, PreprocessResult)]
        if not ready:
            return list(results)  # type: ignore[arg-type]
        images = np.stack([r.image for r in ready])
        answers = iter(zip(self.predict_inputs(images), _nondigit_flags(images)))
        return [
            self._prediction(r, *next(answers)) if isinstance(r, PreprocessResult) else r
            for r in results
        ]

    def _prediction(
        self, preprocessed: PreprocessResult, probabilities: np.ndarray, not_a_digit: bool = False
    ) -> Prediction:
        digit = int(np.argmax(probabilities))
        confidence = float(probabilities[digit])
        return Prediction(
            digit=digit,
            confidence=confidence,
            probabilities=tuple(float(p) for p in probabilities),
            low_confidence=confidence < self.low_confidence or bool(not_a_digit),
            preprocessed=preprocessed,
            not_a_digit=bool(not_a_digit),
        )

    def __repr__(self) -> str:
        return (
            f"Predictor(model_path={str(self.model_path)!r}, low_confidence={self.low_confidence})"
        )


def _nondigit_flags(images: np.ndarray) -> np.ndarray:
    """`digits.ood` flags; all False (with a warning) if the detector file cannot be read."""
    try:
        return NondigitDetector.load().flags(images)
    except (OSError, KeyError, ValueError) as error:
        warnings.warn(
            f"the non-digit detector could not be loaded ({error}): inputs are not checked",
            RuntimeWarning,
            stacklevel=3,
        )
        return np.zeros(len(images), dtype=bool)


def _positive_int(value, name: str) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {number}")
    return number


def _failed(error: str) -> Prediction:
    return Prediction(None, 0.0, None, True, error=error)


def _unexpected(error: BaseException) -> str:
    return f"the image could not be processed ({type(error).__name__}: {error})"


def calibrate(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities: ``softmax(log(p) / temperature)`` row by row."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def load_model(path: str | Path):
    """Load a digits model file (.h5 or .keras) and check its shapes.

    The model must map (N, 28, 28, 1) in to (N, 10) out.

    Raises:
        ModelError: the file is missing, not a Keras model, or has the wrong shapes.
    """
    path = Path(path)
    if not path.is_file():
        hint = (
            " Train one first (see the README) or pass another file."
            if path.name == MODEL_FILENAME
            else ""
        )
        raise ModelError(f"No model file at {path}.{hint}")
    from digits.backend import keras  # imported here so that `digits.predict` imports quickly

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # h5py, zipfile, JSON and Keras raise many kinds
        message = (str(error).splitlines() or [type(error).__name__])[0].split(". ")[0].rstrip(".")
        raise ModelError(
            f"{path} is not a Keras model file (.h5 or .keras) that can be loaded: {message}"
        ) from None
    input_shape = _shape(getattr(model, "input_shape", None))
    output_shape = _shape(getattr(model, "output_shape", None))
    if input_shape != (None, 28, 28, 1) or output_shape != (None, 10):
        raise ModelError(
            f"{path}: the model maps {input_shape} -> {output_shape}; expected "
            "(None, 28, 28, 1) -> (None, 10) (28x28 grayscale in, 10 digit probabilities out)."
        )
    return model


def _shape(shape) -> tuple | None:
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    return tuple(shape) if isinstance(shape, (tuple, list)) else None


def _compile_forward(model):
    from digits.backend import tf

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, 28, 28, 1), dtype=tf.float32)])
    def forward(x):
        return model(x, training=False)

    return forward
