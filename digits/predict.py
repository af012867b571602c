"""Predict the digit in images with a trained model: one API for the notebook, the CLI,
the web app and the service.

    >>> from digits.predict import Predictor
    >>> predictor = Predictor()                    # models/digits_float32.tflite (LiteRT)
    >>> p = predictor.predict("digit_examples/3_a.png")
    >>> p.digit, p.confidence, p.low_confidence, p.flags
    (3, 0.998..., False, ())
    >>> p.preprocessed.image                       # the 28x28 the model saw

Every image goes through `digits.image.to_model_input`. The model file is opened
once by `digits.runtime.runners.open_runner`: a ``.tflite`` file runs on the LiteRT runtime
without importing TensorFlow (the default: the committed export of the shipped model);
a ``.h5`` / ``.keras`` file imports TensorFlow and runs through a compiled
``tf.function``. Its sidecar (`digits.runtime.modelfile`) gives the class names and the
calibration temperature.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digits.flags import PREDICTION_FLAGS, checked, prediction_sentence
from digits.image import (
    IMAGE_EXTENSIONS,
    ImageError,
    ImageInput,
    NoDigitFound,
    PreprocessResult,
    to_model_input,
)
from digits.image.pipeline import second_looks
from digits.paths import LITERT_FILENAME, LITERT_PATH, MODEL_FILENAME, MODEL_PATH
from digits.runtime.modelfile import (
    DIGIT_CLASSES,
    ModelError,
    ModelInfo,
    file_sha256,
    read_info,
    travelling_fields,
)
from digits.runtime.ood import DETECTOR_PATH, DIGIT, DOUBT, NOT_A_DIGIT, NondigitDetector
from digits.runtime.runners import Runner, load_model, open_runner

__all__ = [
    "LOW_CONFIDENCE",
    "ModelError",
    "Prediction",
    "Predictor",
    "calibrate",
    "class_value",
    "default_model_path",
    "find_images",
    "load_model",
    "StaleExportWarning",
    "prediction_record",
]

#: A prediction whose confidence (top probability) is below this is flagged
#: ``low_confidence`` (flag ``below_threshold``): probably not a clear single digit.
LOW_CONFIDENCE = 0.6


class StaleExportWarning(UserWarning):
    """The default LiteRT model was exported from another version of the Keras model."""


def default_model_path() -> Path:
    """The model `Predictor` uses when given none: the first file that exists of
    `LITERT_PATH` (the LiteRT export), ``./models/digits_float32.tflite`` (e.g. when
    the package is installed elsewhere), the Keras model `MODEL_PATH` and
    ``./hand_written_digits_prediction.h5``; `LITERT_PATH` if none does."""
    candidates = [
        LITERT_PATH,
        Path.cwd() / "models" / LITERT_FILENAME,
        MODEL_PATH,
        Path.cwd() / MODEL_FILENAME,
    ]
    return next((path for path in candidates if path.is_file()), LITERT_PATH)


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
        low_confidence: the answer may be wrong; exactly when ``flags`` is not empty.
        reason: why no digit was found, else None.
        error: why the image could not be read (only from ``predict_many(...,
            raise_errors=False)``), else None.
        preprocessed: what the model saw (`PreprocessResult`, ``.image`` is 28x28),
            or None when ``digit`` is None.
        not_a_digit: the input looks like a letter, symbol, shape or photo rather than a digit
            (`digits.runtime.ood`); such predictions are also flagged ``low_confidence``.
        several_digits: the image holds several digit-like marks; ``digit`` is the
            largest, most central one (not itself a flag).
        flags: why it is ``low_confidence``: `digits.flags.PREDICTION_FLAGS` codes (when
            none are given, ``no_digit``, ``unreadable`` or ``not_a_digit`` is inferred;
            else a ValueError, as for flags that do not match ``low_confidence``).
        threshold: the ``low_confidence`` threshold it was judged by (None: not known).
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...] | None
    low_confidence: bool
    reason: str | None = None
    error: str | None = None
    preprocessed: PreprocessResult | None = field(default=None, repr=False, compare=False)
    not_a_digit: bool = False
    several_digits: bool = False
    class_names: tuple[str, ...] = field(default=DIGIT_CLASSES, repr=False, compare=False)
    flags: tuple[str, ...] = ()
    threshold: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        inferred = "unreadable" if self.error is not None else "no_digit"
        if self.digit is not None:
            inferred = "not_a_digit" if self.not_a_digit else None
        flags = checked(self.low_confidence, self.flags, inferred, PREDICTION_FLAGS)
        object.__setattr__(self, "flags", flags)

    @property
    def flag_reason(self) -> str | None:
        """One sentence saying why the answer is ``low_confidence`` (None when it is not)."""
        return prediction_sentence(self.flags, self.confidence, self.threshold, self.reason)

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
        low_confidence, flags, several_digits, and flag_reason / reason / error /
        not_a_digit when set. A model
        of own symbols (class names other than the 10 digits) gives ``label`` only."""
        out: dict = {
            "digit": self.digit,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": None
            if self.probabilities is None
            else [round(p, 6) for p in self.probabilities],
            "low_confidence": self.low_confidence,
            "flags": list(self.flags),
            "several_digits": self.several_digits,
        }
        if self.flags:
            out["flag_reason"] = self.flag_reason
        if self.reason is not None:
            out["reason"] = self.reason
        if self.error is not None:
            out["error"] = self.error
        if self.not_a_digit:
            out["not_a_digit"] = True
        if tuple(self.class_names) != DIGIT_CLASSES:
            del out["digit"]  # a model of own symbols answers a label, not a digit
        return out


def prediction_record(path: str | None, prediction: Prediction, top_k: int | None = None) -> dict:
    """The JSON object for one input, as the CLI's ``--json`` and the web service give it:
    ``{"path": path, **prediction.to_dict()}``, plus ``"top_k": [{"digit", "probability"}, ...]``
    when ``top_k`` is given."""
    record = {"path": path, **prediction.to_dict()}
    if top_k:
        key = "label" if "digit" not in record else "digit"  # own symbols: label
        record["top_k"] = [{key: d, "probability": round(p, 6)} for d, p in prediction.top_k(top_k)]
    return record


class Predictor:
    """Open a model file once and predict digits in images.

    Args:
        model_path: a LiteRT (``.tflite``) or Keras (``.h5``, ``.keras``) model taking
            ``(N, 28, 28, 1)`` float32 in [0, 1] and returning ``(N, C)`` softmax
            probabilities, C the number of class names in its sidecar (10 digits by
            default). Default: `default_model_path()`, the committed LiteRT export.
        low_confidence: threshold below which a prediction is flagged ``low_confidence``;
            default: the sidecar's ``low_confidence`` (chosen on the validation split by
            ``lab/calibrate.py``), else `LOW_CONFIDENCE`.
        batch_size: images per model call in `predict_many`.
        num_threads: CPU threads of a LiteRT model (None: the runtime's default).
        detector: the non-digit detector file (`digits.runtime.ood`); default: the shipped one.

    Raises:
        ModelError: the file is missing, damaged, not a model, does not match its sidecar,
            has the wrong shapes, or its outputs are not probabilities.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        low_confidence: float | None = None,
        batch_size: int = 256,
        num_threads: int | None = None,
        detector: str | Path | None = None,
    ):
        self.detector_path = Path(detector) if detector is not None else DETECTOR_PATH
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not self.model_path.is_file():
            raise ModelError(f"No model file at {self.model_path}.{_hint(self.model_path)}")
        self.info: ModelInfo = read_info(self.model_path)  # checksum verified before loading
        if low_confidence is None:
            low_confidence = self.info.extra.get("low_confidence", LOW_CONFIDENCE)
        self.low_confidence = float(low_confidence)
        self.class_names: tuple[str, ...] = tuple(self.info.class_names)
        if model_path is None:
            _warn_if_stale(self.model_path, self.info)
        self.runner: Runner = open_runner(
            self.model_path, len(self.class_names), self.batch_size, num_threads
        )
        self.model = self.runner.model  # the Keras model or the LiteRT interpreter
        raw = self.runner.probabilities(np.zeros((1, 28, 28, 1), dtype=np.float32))  # warm-up
        # An int8 model's outputs come in steps of 1/256, so their sum may be ~0.01 off.
        if not (np.all(raw >= 0) and np.allclose(raw.sum(axis=1), 1.0, atol=0.02)):
            raise ModelError(
                f"{self.model_path}: the model's outputs are not probabilities (the last layer "
                f"must be a {len(self.class_names)}-way softmax)."
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
                ``digit=None`` and ``error`` set instead of raising `ImageError`; so does
                any other failure on one input, so every input gets an answer.
        """
        images = list(images)
        results = [self._preprocess(image, raise_errors) for image in images]
        ready = [i for i, r in enumerate(results) if isinstance(r, PreprocessResult)]
        if not ready:
            return results  # type: ignore[return-value]
        inputs = np.stack([results[i].image for i in ready])
        probabilities = self.predict_inputs(inputs)
        levels = self.levels(inputs, probabilities)
        for i, answer, level in zip(ready, probabilities, levels):
            results[i] = self._prediction(results[i], answer, level)
            if level == NOT_A_DIGIT:
                results[i] = self._second_look(images[i], results[i])
        return results  # type: ignore[return-value]

    def _preprocess(self, image: ImageInput, raise_errors: bool) -> PreprocessResult | Prediction:
        """`to_model_input`, or the answer for an image that has no digit or cannot be read."""
        try:
            return to_model_input(image)
        except NoDigitFound as missing:
            failed = _failed(None, self.class_names, reason=missing.reason)
            if missing.polarity_in_doubt and self._judged:
                return self._second_look(image, failed)
            return failed
        except ImageError as error:
            if raise_errors:
                raise
            return _failed(str(error), self.class_names)
        except Exception as error:  # noqa: BLE001 - one input must not sink the batch
            if raise_errors:
                raise ImageError(_unexpected(error)) from error
            return _failed(_unexpected(error), self.class_names)

    @property
    def _judged(self) -> bool:
        """Does the not-a-digit detector judge this model's answers (digits, not own
        symbols)? Only then can a second look be believed."""
        return self.class_names == DIGIT_CLASSES

    def levels(self, inputs: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """The not-a-digit detector's levels (`DIGIT`, `DOUBT`, `NOT_A_DIGIT`) of model
        inputs ``(N, 28, 28[, 1])`` the model answered with ``probabilities``. It knows
        digits only: a model of own symbols has its own threshold instead (sidecar
        ``low_confidence``, from its validation), and every input is `DIGIT` here."""
        if not self._judged:
            return np.zeros(len(inputs), dtype=np.int8)
        return _nondigit_levels(inputs, probabilities.argmax(axis=1), self.detector_path)

    def _second_look(self, image: ImageInput, first: Prediction) -> Prediction:
        """``first`` found no digit or did not look like one: read the image the other
        ways of `digits.image.pipeline.second_looks` (a shadow's edge or a sheet's corner
        may have been taken for the ink, or a shadow over most of the paper for the
        background). A look that the detector finds plainly a digit (not even in doubt)
        is answered, flagged ``second_look``; else ``first`` stands."""
        try:
            looks = second_looks(image, found=first.digit is not None)
        except Exception:  # noqa: BLE001 - the first reading stands
            return first
        if not looks:
            return first
        inputs = np.stack([look.image for look in looks])
        probabilities = self.predict_inputs(inputs)
        levels = self.levels(inputs, probabilities)
        best = int(np.argmin(levels))
        if levels[best] != DIGIT:
            return first
        return self._prediction(looks[best], probabilities[best], DIGIT, second_look=True)

    def _prediction(
        self,
        preprocessed: PreprocessResult,
        probabilities: np.ndarray,
        level: int = DIGIT,
        second_look: bool = False,
    ) -> Prediction:
        """The answer for one input, flagged by ``level`` (the not-a-digit detector's) and
        ``second_look``."""
        level = int(level)
        index = int(np.argmax(probabilities))
        confidence = float(probabilities[index])
        causes = {"below_threshold": confidence < self.low_confidence, "second_look": second_look}
        causes.update(not_a_digit=level == NOT_A_DIGIT, detector_doubt=level == DOUBT)
        return Prediction(
            digit=class_value(self.class_names, index),
            confidence=confidence,
            probabilities=tuple(float(p) for p in probabilities),
            low_confidence=any(causes.values()),
            preprocessed=preprocessed,
            not_a_digit=causes["not_a_digit"],
            several_digits=preprocessed.several_digits,
            class_names=self.class_names,
            flags=tuple(code for code, cause in causes.items() if cause),
            threshold=self.low_confidence,
        )

    def __repr__(self) -> str:
        return (
            f"Predictor(model_path={str(self.model_path)!r}, low_confidence={self.low_confidence})"
        )


def _nondigit_levels(
    images: np.ndarray, answers: np.ndarray, path: Path = DETECTOR_PATH
) -> np.ndarray:
    """`digits.runtime.ood` levels (digit, in doubt, not a digit) of the inputs the model
    answered ``answers``; all digits (with a warning) if the detector cannot be read."""
    try:
        return NondigitDetector.load(path).levels(images, answers)
    except (OSError, KeyError, ValueError) as error:
        warnings.warn(
            f"the non-digit detector could not be loaded ({error}): inputs are not checked",
            RuntimeWarning,
            stacklevel=3,
        )
        return np.zeros(len(images), dtype=np.int8)


def _positive_int(value, name: str) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {number}")
    return number


def _failed(error: str | None, class_names=DIGIT_CLASSES, reason: str | None = None) -> Prediction:
    return Prediction(None, 0.0, None, True, reason, error, class_names=tuple(class_names))


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


def _hint(path: Path) -> str:
    if path.name == LITERT_FILENAME:
        return " Export it from the Keras model with `python -m digits export`."
    if path.name == MODEL_FILENAME:
        return " Train one first (see the README) or pass another file."
    return ""


def _warn_if_stale(path: Path, info: ModelInfo) -> None:
    """Warn when the default LiteRT model was exported from another Keras model than the
    one beside it, or its sidecar no longer carries what the Keras model's does (e.g. after
    retraining or recalibrating without re-exporting)."""
    if path.suffix != ".tflite" or "source_sha256" not in info.extra:
        return
    if not MODEL_PATH.is_file() or info.extra.get("source") != MODEL_PATH.name:
        return

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = read_info(MODEL_PATH, verify=False)
    except ModelError:
        return  # the Keras model's own problem, reported when it is used
    same_model = file_sha256(MODEL_PATH) == info.extra["source_sha256"]
    if not same_model or travelling_fields(source) != travelling_fields(info):
        warnings.warn(
            f"{path} was exported from another version of {MODEL_PATH.name} or its "
            "sidecar; run `python -m digits export` to refresh it.",
            StaleExportWarning,
            stacklevel=3,
        )
