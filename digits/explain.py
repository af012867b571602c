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

from digits.image import ImageError, ImageInput
from digits.predict import Prediction, Predictor

__all__ = [
    "Explanation",
    "Note",
    "no_digit_text",
    "boxes_overlay",
    "enlarge",
    "explain",
    "occlusion_saliency",
    "saliency_overlay",
]

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


def boxes_overlay(
    image: np.ndarray, boxes: list[tuple[int, int, int, int]], labels: list[str]
) -> np.ndarray:
    """An RGB copy of ``image`` (uint8 gray, RGB or RGBA, as `digits.image.load_image`
    gives it) with each ``(x, y, width, height)`` box drawn in red and its label above it,
    in a white band added on top (so the result is taller than ``image``)."""
    import cv2

    rgb = np.asarray(image, dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    elif rgb.shape[2] == 4:  # composite on white, as a viewer shows a transparent drawing
        alpha = rgb[..., 3:].astype(np.float32) / 255
        rgb = np.round(rgb[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb[..., :3])
    thickness = max(1, round(max(rgb.shape[:2]) / 250))
    scale = max(0.5, float(np.median([h for *_, h in boxes])) / 60) if boxes else 1.0
    font = cv2.FONT_HERSHEY_SIMPLEX
    (_, text_height), _ = cv2.getTextSize("0", font, scale, thickness)
    pad = text_height + 3 * thickness + 4  # a white band on top for the labels
    out = np.full((rgb.shape[0] + pad, rgb.shape[1], 3), 255, dtype=np.uint8)
    out[pad:] = rgb
    for (x, y, w, h), label in zip(boxes, labels):
        cv2.rectangle(out, (x, y + pad), (x + w - 1, y + pad + h - 1), (255, 0, 0), thickness)
        baseline = max(text_height + 2, y + pad - 2 * thickness - 2)
        cv2.putText(out, label, (x, baseline), font, scale, (255, 0, 0), thickness, cv2.LINE_AA)
    return out


@dataclass(frozen=True)
class Note:
    """What to tell the person. ``kind``: ``ok``, ``low_confidence``, ``several_digits``,
    ``not_a_digit``, ``no_digit`` or ``unreadable``; ``text``: the sentence to show."""

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
    return Explanation(prediction, seconds, heat, _note(prediction))


def _note(prediction: Prediction) -> Note:
    """The note for ``prediction``; a low-confidence one says why (``flag_reason``), and
    never that a confidence above the threshold is below it."""
    if prediction.error is not None:
        return Note("unreadable", f"This file could not be read: {prediction.error}")
    if prediction.digit is None:
        return Note("no_digit", no_digit_text(prediction.reason))
    if prediction.not_a_digit:
        return Note(
            "not_a_digit",
            f"Not a digit: this looks like a letter, symbol, shape or photo rather than a "
            f"digit (the closest digit is {prediction.digit}, at {prediction.confidence:.0%}).",
        )
    if prediction.several_digits:
        why = f" {prediction.flag_reason}" if prediction.low_confidence else ""
        return Note(
            "several_digits",
            f"This looks like several digits; {prediction.digit} is the largest. Use Number "
            f"mode (or `digits read`) to read them all.{why}",
        )
    if prediction.low_confidence:
        return Note("low_confidence", f"{prediction.flag_reason} Check the top 3.")
    return Note("ok", f"{prediction.confidence:.1%} confident.")


def no_digit_text(reason: str | None, what: str = "digit") -> str:
    """``No digit found: <why>.`` from a `NoDigitFound` reason, which starts with
    ``no digit found:`` itself (``what``: ``number`` for a reading)."""
    why = (reason or "").removeprefix("no digit found").lstrip(": ")
    return f"No {what} found: {why}" if why else f"No {what} found."
