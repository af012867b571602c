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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits.modelfile import DIGIT_CLASSES, ModelError, ModelInfo, read_info
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
    "class_value",
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
    for image files in sorted order. ``error`` is set for a folder without images."""
    found: list[tuple[str, str | None]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
            )
            if not files:
                found.append(
                    (
                        str(path),
                        f"{path} is a folder without image files ({', '.join(IMAGE_EXTENSIONS)}).",
                    )
                )
            found.extend((str(p), None) for p in files)
        else:
            found.append(
                (str(path), None)
            )  # a missing or unreadable file is reported by preprocessing
    return found


def class_value(class_names: Sequence[str], index: int) -> int | str:
    """What a model's output ``index`` stands for: the digit (int) for a digit model (class
    names "0"-"9" in order), the class name (str) for a model trained on other classes."""
    return int(index) if tuple(class_names) == DIGIT_CLASSES else class_names[index]


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image.

    Attributes:
        digit: the predicted digit (int), or None when no digit was found (see ``reason``)
            or the image could not be read (see ``error``). For a model trained on other
            classes (``digits train --data``) it is the class name (str), as ``label``.
        confidence: probability of ``digit`` (0.0 when ``digit`` is None).
        probabilities: the class probabilities (10 for digits), or None when ``digit`` is
            None.
        low_confidence: ``confidence < threshold`` (`LOW_CONFIDENCE` by default).
        reason: why no digit was found, else None.
        error: why the image could not be read (only from ``predict_many(...,
            raise_errors=False)``), else None.
        preprocessed: what the model saw (`PreprocessResult`, ``.image`` is 28x28),
            or None when ``digit`` is None.
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...] | None
    low_confidence: bool
    reason: str | None = None
    error: str | None = None
    preprocessed: PreprocessResult | None = field(default=None, repr=False, compare=False)
    class_names: tuple[str, ...] = field(default=DIGIT_CLASSES, repr=False, compare=False)

    @property
    def label(self) -> str | None:
        """The predicted class name ("3" for the digit 3), or None when ``digit`` is None."""
        return None if self.digit is None else str(self.digit)

    def top_k(self, k: int = 3) -> list[tuple[int | str, float]]:
        """The ``k`` most probable classes as ``(digit, probability)``, best first (class
        names instead of digits for models trained on other classes)."""
        if self.probabilities is None:
            return []
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(class_value(self.class_names, d), float(self.probabilities[d])) for d in order]

    def to_dict(self) -> dict:
        """JSON-ready dict: digit, label (the class name), confidence, probabilities,
        low_confidence, and reason / error when set."""
        out: dict = {
            "digit": self.digit,
            "label": self.label,
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
        return out


class Predictor:
    """Load a Keras model once and predict digits in images.

    Args:
        model_path: a Keras model file (``.h5`` or ``.keras``) taking ``(N, 28, 28, 1)``
            float32 in [0, 1] and returning ``(N, C)`` softmax probabilities, C = 10 or the
            number of class names in its sidecar. Default: `default_model_path()`.
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
        self.batch_size = int(batch_size)
        if not self.model_path.is_file():
            load_model(self.model_path)  # raises the missing-file ModelError with its hint
        self.info: ModelInfo = read_info(self.model_path)  # checksum verified before loading
        self.class_names: tuple[str, ...] = tuple(self.info.class_names)
        self.model = load_model(self.model_path, num_classes=len(self.class_names))
        self._forward = _compile_forward(self.model)
        probabilities = self.predict_inputs(np.zeros((1, 28, 28, 1), dtype=np.float32))  # warm-up
        if not (
            np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
        ):
            raise ModelError(
                f"{self.model_path}: the model's outputs are not probabilities (the last layer "
                f"must be a {len(self.class_names)}-way softmax)."
            )

    def predict_inputs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, C)`` for already preprocessed inputs ``(N, 28, 28, 1)``."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        chunks = [
            self._forward(x[i : i + self.batch_size]).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        empty = np.zeros((0, len(self.class_names)), dtype=np.float32)
        raw = np.concatenate(chunks) if chunks else empty
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
                ``digit=None`` and ``error`` set instead of raising `ImageError`.
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
                results.append(Prediction(None, 0.0, None, True, error=str(error)))
        ready = [r for r in results if isinstance(r, PreprocessResult)]
        if not ready:
            return list(results)  # type: ignore[arg-type]
        probabilities = iter(self.predict_inputs(np.stack([r.image for r in ready])))
        return [
            self._prediction(r, next(probabilities)) if isinstance(r, PreprocessResult) else r
            for r in results
        ]

    def _prediction(self, preprocessed: PreprocessResult, probabilities: np.ndarray) -> Prediction:
        index = int(np.argmax(probabilities))
        confidence = float(probabilities[index])
        return Prediction(
            digit=class_value(self.class_names, index),
            confidence=confidence,
            probabilities=tuple(float(p) for p in probabilities),
            low_confidence=confidence < self.low_confidence,
            preprocessed=preprocessed,
            class_names=self.class_names,
        )

    def __repr__(self) -> str:
        return (
            f"Predictor(model_path={str(self.model_path)!r}, low_confidence={self.low_confidence})"
        )


def calibrate(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities: ``softmax(log(p) / temperature)`` row by row."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def load_model(path: str | Path, num_classes: int = len(DIGIT_CLASSES)):
    """Load a digits model file (.h5 or .keras) and check its shapes.

    The model must map (N, 28, 28, 1) in to (N, ``num_classes``) out.

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
    if input_shape != (None, 28, 28, 1) or output_shape != (None, num_classes):
        raise ModelError(
            f"{path}: the model maps {input_shape} -> {output_shape}; expected "
            f"(None, 28, 28, 1) -> (None, {num_classes}) (28x28 grayscale in, "
            f"{num_classes} class probabilities out, one per class name in its sidecar)."
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
