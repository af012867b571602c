"""MNIST-style normalisation of a digit crop: stroke width, 20x20 box, centre of mass.

MNIST digits are white on black, size-normalised so the digit fits a 20x20 box (aspect
ratio kept, anti-aliased) and placed in a 28x28 field so that their centre of mass is at
the centre. `normalise_digit` does the same to a crop of ink, after bringing its stroke
width into MNIST's range.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["normalise_digit"]

_BOX = 20  # MNIST: the digit fits a 20x20 box ...


_FIELD = 28  # ... inside a 28x28 field ...


_CENTRE = 14.0  # ... with its centre of mass at pixel (14, 14) (row, column indices).


_STROKE_SIDE = 80  # resolution (longer side) at which the stroke width is normalised


# Stroke width / digit's longer side in MNIST (binarised at 0.5): 5th-95th percentile
# about 0.08-0.18, median 0.12. Outside [_STROKE_MIN, _STROKE_MAX] it is brought back
# to _STROKE_TARGETS: thin pens to the median (thin, blurred strokes break apart below it),
# thick markers to 0.17.
_STROKE_MIN, _STROKE_MAX = 0.085, 0.19


_STROKE_TARGETS = (0.12, 0.17)


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask in pixels: 2 * area / perimeter."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(mask.sum()) / perimeter if perimeter > 0 else 0.0


def _normalise_digit(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """Cropped ink (float, bright on black) -> 28x28 MNIST-style image, stroke ratio."""
    h, w = crop.shape
    scale = _STROKE_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(crop, size, interpolation=interp)
    mask = (big > 0.5).astype(np.uint8)
    ratio = _stroke_width(mask) / _STROKE_SIDE
    if ratio and not _STROKE_MIN <= ratio <= _STROKE_MAX:
        target = _STROKE_TARGETS[0] if ratio < _STROKE_MIN else _STROKE_TARGETS[1]
        radius = int(round(abs(target - ratio) * _STROKE_SIDE / 2))
        if radius:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            if ratio < _STROKE_MIN:
                big = cv2.copyMakeBorder(
                    big, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0
                )
                big = cv2.dilate(big, kernel)
            else:
                eroded = cv2.erode(big, kernel)
                if eroded.max() > 0.5:  # never erase the digit
                    big = eroded
            rows = np.flatnonzero(big.max(axis=1) > 0.05)
            cols = np.flatnonzero(big.max(axis=0) > 0.05)
            big = big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = big.shape
    scale = _BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    box = cv2.resize(big, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    box = np.clip(box, 0.0, 1.0)
    # Place in 28x28 so the centre of mass lands on (14, 14), whole-pixel shift as MNIST.
    total = float(box.sum())
    bh, bw = box.shape
    if total > 0:
        com_y = float((box.sum(axis=1) * np.arange(bh)).sum()) / total
        com_x = float((box.sum(axis=0) * np.arange(bw)).sum()) / total
    else:
        com_y, com_x = (bh - 1) / 2, (bw - 1) / 2
    top = int(min(max(round(_CENTRE - com_y), 0), _FIELD - bh))
    left = int(min(max(round(_CENTRE - com_x), 0), _FIELD - bw))
    field = np.zeros((_FIELD, _FIELD), dtype=np.float32)
    field[top : top + bh, left : left + bw] = box
    return field, ratio


def normalise_digit(crop: np.ndarray) -> np.ndarray:
    """A digit's cropped ink (float, bright on black) -> the 28x28 MNIST-style float32 image
    `to_model_input` makes of it (stroke width normalised, 20 px box, centre of mass)."""
    return _normalise_digit(crop)[0]
