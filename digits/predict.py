"""Predict the digit in images with a trained model: one API for the notebook, the CLI,
the web app and the service.

    >>> from digits.predict import Predictor
    >>> predictor = Predictor()                    # models/digits_float32.tflite (LiteRT)
    >>> p = predictor.predict("digit_examples/3_a.png")
    >>> p.digit, p.confidence, p.low_confidence
    (3, 0.998..., False)
    >>> p.preprocessed.image                       # the 28x28 the model saw

Every image goes through `digits.preprocess.to_model_input`. The model file is opened
once by `digits.runtime.open_runner`: a ``.tflite`` file runs on the LiteRT runtime
without importing TensorFlow (the default: the committed export of the shipped model);
a ``.h5`` / ``.keras`` file imports TensorFlow and runs through a compiled
``tf.function``. Its sidecar (`digits.modelfile`) gives the class names and the
calibration temperature.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits.modelfile import ModelError, ModelInfo, file_sha256, read_info
from digits.paths import MODEL_FILENAME, MODEL_PATH, MODELS_DIR
from digits.preprocess import (
    IMAGE_EXTENSIONS,
    ImageError,
    ImageInput,
    NoDigitFound,
    PreprocessResult,
    to_model_input,
)
from digits.runtime import Runner, load_model, open_runner

__all__ = [
    "DEFAULT_LITERT_PATH",
    "DEFAULT_MODEL_PATH",
    "KERAS_MODEL_PATH",
    "LOW_CONFIDENCE",
    "ModelError",
    "Prediction",
    "Predictor",
    "calibrate",
    "default_model_path",
    "find_images",
    "load_model",
    "StaleExportWarning",
    "prediction_record",
]

#: The trained Keras model, at the repository root.
KERAS_MODEL_PATH = MODEL_PATH
#: Its LiteRT export (``python -m digits export``): the model `Predictor` uses by default.
LITERT_FILENAME = "digits_float32.tflite"
DEFAULT_LITERT_PATH = MODELS_DIR / LITERT_FILENAME
DEFAULT_MODEL_PATH = DEFAULT_LITERT_PATH
#: A prediction whose confidence (top probability) is below this is flagged
#: ``low_confidence``: the image is probably not a clear single digit.
LOW_CONFIDENCE = 0.6


class StaleExportWarning(UserWarning):
    """The default LiteRT model was exported from another version of the Keras model."""


def default_model_path() -> Path:
    """The model `Predictor` uses when given none: the first file that exists of
    `DEFAULT_MODEL_PATH` (the LiteRT export), ``./models/digits_float32.tflite`` (e.g. when
    the package is installed elsewhere), the Keras model `KERAS_MODEL_PATH` and
    ``./hand_written_digits_prediction.h5``; `DEFAULT_MODEL_PATH` if none does."""
    candidates = [
        DEFAULT_MODEL_PATH,
        Path.cwd() / "models" / LITERT_FILENAME,
        KERAS_MODEL_PATH,
        Path.cwd() / MODEL_FILENAME,
    ]
    return next((path for path in candidates if path.is_file()), DEFAULT_MODEL_PATH)


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
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...] | None
    low_confidence: bool
    reason: str | None = None
    error: str | None = None
    preprocessed: PreprocessResult | None = field(default=None, repr=False, compare=False)

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
        return out


def prediction_record(path: str | None, prediction: Prediction, top_k: int | None = None) -> dict:
    """The JSON object for one input, as the CLI's ``--json`` and the web service give it:
    ``{"path": path, **prediction.to_dict()}``, plus ``"top_k": [{"digit", "probability"}, ...]``
    when ``top_k`` is given."""
    record = {"path": path, **prediction.to_dict()}
    if top_k:
        record["top_k"] = [
            {"digit": d, "probability": round(p, 6)} for d, p in prediction.top_k(top_k)
        ]
    return record


class Predictor:
    """Open a model file once and predict digits in images.

    Args:
        model_path: a LiteRT (``.tflite``) or Keras (``.h5``, ``.keras``) model taking
            ``(N, 28, 28, 1)`` float32 in [0, 1] and returning ``(N, C)`` softmax
            probabilities, C the number of class names in its sidecar (10 digits by
            default). Default: `default_model_path()`, the committed LiteRT export.
        low_confidence: threshold below which a prediction is flagged ``low_confidence``.
        batch_size: images per model call in `predict_many`.
        num_threads: CPU threads of a LiteRT model (None: the runtime's default).

    Raises:
        ModelError: the file is missing, damaged, not a model, does not match its sidecar,
            has the wrong shapes, or its outputs are not probabilities.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        low_confidence: float = LOW_CONFIDENCE,
        batch_size: int = 256,
        num_threads: int | None = None,
    ):
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.low_confidence = float(low_confidence)
        self.batch_size = int(batch_size)
        if not self.model_path.is_file():
            raise ModelError(f"No model file at {self.model_path}.{_hint(self.model_path)}")
        self.info: ModelInfo = read_info(self.model_path)  # checksum verified before loading
        if model_path is None:
            _warn_if_stale(self.model_path, self.info)
        self.runner: Runner = open_runner(
            self.model_path, len(self.info.class_names), self.batch_size, num_threads
        )
        self.model = self.runner.model  # the Keras model or the LiteRT interpreter
        raw = self.runner.probabilities(np.zeros((1, 28, 28, 1), dtype=np.float32))  # warm-up
        # An int8 model's outputs come in steps of 1/256, so their sum may be ~0.01 off.
        if not (np.all(raw >= 0) and np.allclose(raw.sum(axis=1), 1.0, atol=0.02)):
            raise ModelError(
                f"{self.model_path}: the model's outputs are not probabilities (the last layer "
                f"must be a {len(self.info.class_names)}-way softmax)."
            )

    def predict_inputs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, C)`` for already preprocessed inputs ``(N, 28, 28, 1)``."""
        raw = self.runner.probabilities(x)
        raw /= np.maximum(raw.sum(axis=1, keepdims=True), 1e-12)  # exact sums for int8 models
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
        digit = int(np.argmax(probabilities))
        confidence = float(probabilities[digit])
        return Prediction(
            digit=digit,
            confidence=confidence,
            probabilities=tuple(float(p) for p in probabilities),
            low_confidence=confidence < self.low_confidence,
            preprocessed=preprocessed,
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


def _hint(path: Path) -> str:
    if path.name == LITERT_FILENAME:
        return " Export it from the Keras model with `python -m digits export`."
    if path.name == MODEL_FILENAME:
        return " Train one first (see the README) or pass another file."
    return ""


def _warn_if_stale(path: Path, info: ModelInfo) -> None:
    """Warn when the default LiteRT model was exported from another Keras model than the
    one beside it (e.g. after retraining without re-exporting)."""
    source_sha = info.extra.get("source_sha256")
    if path.suffix != ".tflite" or not source_sha or not KERAS_MODEL_PATH.is_file():
        return
    if file_sha256(KERAS_MODEL_PATH) != source_sha:
        warnings.warn(
            f"{path} was exported from another version of {KERAS_MODEL_PATH.name}; "
            "run `python -m digits export` to refresh it.",
            StaleExportWarning,
            stacklevel=3,
        )
