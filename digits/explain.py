"""Explain one prediction to a person: which pixels drove the answer, and what to say.

`occlusion_saliency` blanks small patches of the 28x28 input and measures how much the
probability of the predicted digit drops; it needs only `Predictor.predict_inputs`, so
it works the same on every model backend (Keras or LiteRT). `explain` bundles what
the web app shows for one input: the prediction, its inference time, the saliency map
and a plain-language note ("no digit", "low confidence", unreadable file).

    >>> from digits.explain import explain
    >>> result = explain(predictor, "digit_examples/3_a.png")
    >>> result.prediction.digit, result.note.kind, result.saliency.shape
    (3, 'ok', (28, 28))
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from digits.predict import Prediction, Predictor
from digits.preprocess import ImageError, ImageInput

__all__ = ["Explanation", "Note", "enlarge", "explain", "occlusion_saliency", "saliency_overlay"]

_SIDE = 28


def occlusion_saliency(
    predictor: Predictor,
    image: np.ndarray,
    digit: int | None = None,
    patch: int = 4,
    stride: int = 2,
    fill: float = 0.0,
) -> np.ndarray:
    """How much each pixel supports the answer, by occlusion.

    Every ``patch`` x ``patch`` square (moved by ``stride``) of the 28x28 ``image`` is set
    to ``fill`` (black: no ink) in turn; all occluded copies go through one batched
    `Predictor.predict_inputs` call. A pixel's score is the mean drop in the probability
    of ``digit`` (default: the predicted one) over the patches covering it: positive where
    ink supports the answer, negative where removing it would raise the probability.

    Returns:
        float32 array (28, 28).
    """
    image = np.asarray(image, dtype=np.float32).reshape(_SIDE, _SIDE)
    if not (1 <= patch <= _SIDE and 1 <= stride <= patch):
        raise ValueError(f"need 1 <= stride <= patch <= 28, got patch={patch}, stride={stride}")
    starts = list(range(0, _SIDE - patch + 1, stride))
    if starts[-1] != _SIDE - patch:
        starts.append(_SIDE - patch)  # cover the last rows and columns too
    corners = [(r, c) for r in starts for c in starts]
    batch = np.repeat(image[None], len(corners) + 1, axis=0)
    for i, (r, c) in enumerate(corners, start=1):
        batch[i, r : r + patch, c : c + patch] = fill
    probabilities = predictor.predict_inputs(batch[..., None])
    target = int(np.argmax(probabilities[0])) if digit is None else int(digit)
    drops = probabilities[0, target] - probabilities[1:, target]
    total = np.zeros((_SIDE, _SIDE), dtype=np.float64)
    count = np.zeros((_SIDE, _SIDE), dtype=np.float64)
    for drop, (r, c) in zip(drops, corners):
        total[r : r + patch, c : c + patch] += drop
        count[r : r + patch, c : c + patch] += 1
    return (total / count).astype(np.float32)


def saliency_overlay(image: np.ndarray, saliency: np.ndarray, scale: int = 10) -> np.ndarray:
    """The 28x28 input in gray with the positive saliency in red, enlarged ``scale`` times
    (nearest neighbour, so pixels stay square). Returns uint8 RGB ``(28*scale, 28*scale, 3)``."""
    gray = np.clip(np.asarray(image, dtype=np.float32).reshape(_SIDE, _SIDE), 0, 1) * 0.6
    heat = np.clip(np.asarray(saliency, dtype=np.float32), 0, None)
    heat = heat / heat.max() if heat.max() > 0 else heat
    rgb = np.stack([np.maximum(gray, heat), gray * (1 - heat), gray * (1 - heat)], axis=-1)
    return enlarge(rgb, scale)


def enlarge(image: np.ndarray, scale: int = 10) -> np.ndarray:
    """A [0, 1] float or uint8 image as uint8, enlarged ``scale`` times with square pixels
    (browsers blur small images when they scale them up)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image.astype(np.float32), 0, 1) * 255).astype(np.uint8)
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


@dataclass(frozen=True)
class Note:
    """What to tell the person. ``kind``: ``ok``, ``low_confidence``, ``no_digit`` or
    ``unreadable``; ``text``: the sentence to show."""

    kind: str
    text: str


@dataclass(frozen=True)
class Explanation:
    """One input explained: ``prediction`` (digit None when there is none), inference
    ``seconds`` (read, preprocess and predict), ``saliency`` (28x28, or None without a
    digit) and the ``note`` to show."""

    prediction: Prediction
    seconds: float
    saliency: np.ndarray | None
    note: Note


def explain(predictor: Predictor, image: ImageInput, saliency: bool = True) -> Explanation:
    """Predict one image and explain the answer; never raises for a bad image."""
    started = time.perf_counter()
    try:
        prediction = predictor.predict(image)
    except ImageError as error:
        prediction = Prediction(None, 0.0, None, True, error=str(error))
    except Exception as error:  # noqa: BLE001 - a person gets a message, not a traceback
        message = f"The image could not be read ({type(error).__name__}: {error})."
        prediction = Prediction(None, 0.0, None, True, error=message)
    seconds = time.perf_counter() - started
    heat = None
    if saliency and prediction.preprocessed is not None and prediction.digit is not None:
        heat = occlusion_saliency(predictor, prediction.preprocessed.image, prediction.digit)
    return Explanation(prediction, seconds, heat, _note(prediction, predictor.low_confidence))


def _note(prediction: Prediction, threshold: float) -> Note:
    if prediction.error is not None:
        return Note("unreadable", f"This file could not be read: {prediction.error}")
    if prediction.digit is None:
        return Note("no_digit", f"No digit found: {prediction.reason}")
    if prediction.low_confidence:
        return Note(
            "low_confidence",
            f"Low confidence ({prediction.confidence:.0%}, below {threshold:.0%}): this may not "
            "be a clear single digit. Check the top 3.",
        )
    return Note("ok", f"{prediction.confidence:.1%} confident.")
