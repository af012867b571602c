"""Read a handwritten number (several digits on one line) from an image.

    >>> from digits.read import read_number
    >>> reading = read_number("meter.jpg")
    >>> reading.text, reading.low_confidence
    ('407215', False)
    >>> reading.digits[0].digit, reading.digits[0].box     # box: (x, y, width, height)
    (4, (31, 22, 64, 101))

The image goes through the same reading, polarity detection, lighting correction and
thresholding as a single digit (`digits.image.ink_image`, `ink_mask`). Then:

1. the ink's connected components are found; specks (much smaller than the digits, on
   no digit) are dropped;
2. the pieces of one digit are merged: components that share most of their x-range
   (the two strokes of an open 4, the lifted bar of a 5) and short pieces beside a
   digit with no room for a digit of their own;
3. marks wider than a digit may be touching digits: they get candidate cuts where the ink
   narrows (minima of the ink per column);
4. every piece between two cuts (and every whole mark) is cropped and normalised like a
   single digit (`digits.image.crop_ink`, `normalise_digit`), and all are classified
   in one batched model call (`Predictor.predict_inputs`); per mark, the cutting whose
   pieces the model is surest of wins (summed log confidence; a cut costs `SPLIT_PENALTY`
   unless the mark is surely several digits, over-wide pieces are penalised);
5. the digits are ordered left to right. The number is ``low_confidence`` when a digit is,
   or when digits had to be cut apart.

A page with no number gives ``text == ""`` and a ``reason``. With a model trained on other
symbols (``digits train``) the text is made of its class names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from digits.image import (
    ImageInput,
    InkMask,
    NoDigitFound,
    crop_ink,
    ink_image,
    ink_mask,
    normalise_digit,
)

__all__ = ["DigitReading", "NumberReading", "read_number", "segment", "READ_SIDE", "MAX_DIGITS"]

#: Larger images are downscaled to this longer side before the digits are looked for.
READ_SIDE = 1024
#: More marks than this is not a number (text, a texture, noise).
MAX_DIGITS = 24
#: Marks wider than this (times the digits' height) may be several touching digits.
CUT_WIDTH = 0.8
#: At most this many candidate cuts per mark.
MAX_CUTS = 12
#: Width limits of a piece between cuts (times the digits' height).
MIN_PIECE, MAX_PIECE = 0.12, 1.5
#: Pieces wider than this (times the digits' height) are penalised as unlikely digits:
#: ``WIDE_PENALTY`` per digit height of extra width, in log-probability units.
WIDE_PIECE, WIDE_PENALTY = 1.1, 4.0
#: Cost of each cut, in log-probability units (the model is often sure of half a digit).
SPLIT_PENALTY = 1.0
#: ... except in marks wider than this (times the digits' height): surely several digits.
SURE_WIDTH = 1.4
#: Merged pieces stay within this width (times the digits' height); pieces sharing most
#: of their x-range (a 5's lifted bar) may make a wider digit.
MERGE_WIDTH, OVERLAP_WIDTH = 1.05, 1.35
#: Components sharing this fraction of the narrower one's x-range are one digit.
OVERLAP_MERGE = 0.5
#: Components shorter than this fraction of the digits' height are pieces, not digits.
PIECE_HEIGHT = 0.55
#: Marks smaller than this fraction of the digits' height (both ways) are specks.
SPECK_SIZE = 0.22
#: ... or with less ink than this fraction of the median mark's.
SPECK_AREA = 0.12


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: what it is, how sure the model is, where it is.

    ``digit`` is an int for digit models, the class name (str) for other models;
    ``box`` is ``(x, y, width, height)`` in the original image's pixels.
    """

    digit: int | str
    confidence: float
    box: tuple[int, int, int, int]
    low_confidence: bool
    probabilities: tuple[float, ...] = field(repr=False, compare=False, default=())
    image: np.ndarray | None = field(repr=False, compare=False, default=None)

    @property
    def label(self) -> str:
        """The class name ("3" for the digit 3)."""
        return str(self.digit)

    def to_dict(self) -> dict:
        """JSON-ready: digit, label, confidence, box."""
        return {
            "digit": self.digit,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "box": list(self.box),
        }


@dataclass(frozen=True)
class NumberReading:
    """What `read_number` found in an image.

    Attributes:
        text: the digits (class names) left to right, ``""`` when none were found.
        digits: one `DigitReading` per character of ``text``.
        low_confidence: True when any digit is low-confidence, when touching digits had to
            be cut apart (or a mark too wide for one digit was left whole), or when no
            number was found.
        reason: why no number was found, else None.
        image_size: ``(width, height)`` of the image.
    """

    text: str
    digits: tuple[DigitReading, ...]
    low_confidence: bool
    reason: str | None = None
    image_size: tuple[int, int] | None = None

    def to_dict(self) -> dict:
        """JSON-ready: text, digits (each {digit, label, confidence, box}), low_confidence,
        and reason when set."""
        out: dict = {
            "text": self.text,
            "digits": [d.to_dict() for d in self.digits],
            "low_confidence": self.low_confidence,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class _Mark:
    """Ink of one digit candidate at the working resolution: box (x0, y0, x1, y1) and the
    component labels that make it up (or a column range of one component when split)."""

    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int = 0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def merge(self, other: _Mark) -> None:
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.labels += other.labels
        self.area += other.area


@functools.lru_cache(maxsize=1)
def _default_predictor():
    from digits.predict import Predictor

    return Predictor()


def read_number(image: ImageInput, predictor=None) -> NumberReading:
    """Read the handwritten number in an image (path, bytes, numpy array or PIL image).

    Args:
        image: as for `digits.image.to_model_input`; dark on light or light on dark,
            a photo or a (transparent) canvas.
        predictor: a `digits.predict.Predictor` (default: the shipped model, loaded once).

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
    """
    ink = ink_image(image, max_side=READ_SIDE)
    try:
        # blur relative to the line's height, not its length: neighbours stay apart
        found = ink_mask(ink.ink, sigma=max(0.5, min(ink.ink.shape) / 300))
        marks, labels, height = segment(found)
    except NoDigitFound as missing:
        return NumberReading("", (), True, reason=missing.reason, image_size=ink.image_size)
    predictor = predictor if predictor is not None else _default_predictor()
    # Every way of cutting every mark, classified in one batch; then the best cuts.
    options = [_options(labels, mark, height) for mark in marks]
    pieces = [piece for choices in options for _, _, piece in choices]
    inputs = np.stack([_normalised(found, labels, piece) for piece in pieces])
    probabilities = iter(predictor.predict_inputs(inputs))
    inputs_left = iter(inputs)
    chosen, cut = [], False
    for choices in options:
        scored = [(a, b, piece, next(probabilities), next(inputs_left)) for a, b, piece in choices]
        best = _best_cuts(scored, height)
        cut = cut or len(best) > 1 or best[0][0].width > SURE_WIDTH * height
        chosen.extend(best)
    return _reading(chosen, predictor, ink, cut)


def _reading(chosen: list, predictor, ink, cut: bool) -> NumberReading:
    from digits.predict import class_value

    digits = []
    for piece, p, image28 in sorted(chosen, key=lambda c: (c[0].x0 + c[0].x1) / 2):
        index = int(np.argmax(p))
        confidence = float(p[index])
        digits.append(
            DigitReading(
                digit=class_value(predictor.class_names, index),
                confidence=confidence,
                box=_original_box(piece, ink.scale, ink.image_size),
                low_confidence=confidence < predictor.low_confidence,
                probabilities=tuple(float(v) for v in p),
                image=image28,
            )
        )
    if len(digits) > MAX_DIGITS:
        return NumberReading(
            "",
            (),
            True,
            reason=f"no number found: {len(digits)} separate marks (text, a texture or noise?)",
            image_size=ink.image_size,
        )
    return NumberReading(
        text="".join(d.label for d in digits),
        digits=tuple(digits),
        low_confidence=cut or any(d.low_confidence for d in digits),
        image_size=ink.image_size,
    )


def _original_box(mark: _Mark, scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    left, top = int(np.floor(mark.x0 / scale)), int(np.floor(mark.y0 / scale))
    width = min(int(np.ceil(mark.width / scale)), size[0] - left)
    height = min(int(np.ceil(mark.height / scale)), size[1] - top)
    return left, top, width, height


def _selected(labels: np.ndarray, mark: _Mark) -> np.ndarray:
    inside = labels[mark.y0 : mark.y1, mark.x0 : mark.x1]
    return np.isin(inside, mark.labels).astype(np.uint8)


def _normalised(found: InkMask, labels: np.ndarray, mark: _Mark) -> np.ndarray:
    box = (mark.x0, mark.y0, mark.x1, mark.y1)
    return normalise_digit(crop_ink(found, _selected(labels, mark), box))


def segment(found: InkMask) -> tuple[list[_Mark], np.ndarray]:
    """The digits of a number in thresholded ink, left to right (boxes at the ink's
    resolution), and the connected-component label image their ``labels`` refer to.

    Raises:
        NoDigitFound: no digit-sized ink, or too many marks to be a number.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(found.mask, connectivity=8)
    marks = [
        _Mark(int(x), int(y), int(x + w), int(y + h), [i], int(area))
        for i, (x, y, w, h, area) in enumerate(stats[1:], start=1)
    ]
    if not marks:
        raise NoDigitFound("no digit found: no ink left after thresholding")
    height = _digit_height(marks, stats)
    image_h, image_w = found.mask.shape
    if height < max(6, 0.02 * max(image_h, image_w)):
        raise NoDigitFound(f"no digit found: only tiny marks (at most {height} px high)")
    marks = _merge_pieces(marks, height)
    marks = [m for m in marks if max(m.width, m.height) >= SPECK_SIZE * height]
    if marks:
        typical = float(np.median([m.area for m in marks]))
        marks = [m for m in marks if m.area >= SPECK_AREA * typical]
    strokes = [m for m in marks if not _solid(m)]
    if marks and not strokes:
        raise NoDigitFound("no digit found: the ink is solid blocks, not pen strokes")
    marks = strokes
    if not marks:
        raise NoDigitFound("no digit found: only specks")
    if len(marks) > MAX_DIGITS:
        raise NoDigitFound(
            f"no number found: {len(marks)} separate marks (text, a texture or noise?)"
        )
    height = float(np.median([m.height for m in marks]))
    return sorted(marks, key=lambda m: (m.x0 + m.x1) / 2), labels, height


def _solid(mark: _Mark) -> bool:
    """A filled block (a blot, a photo's dark patch), not pen strokes: as `to_model_input`
    judges it, ink over 85% of a box that is not a thin bar."""
    box = mark.width * mark.height
    return mark.area > 0.85 * box and min(mark.width, mark.height) > 0.5 * max(
        mark.width, mark.height
    )


def _digit_height(marks: list[_Mark], stats: np.ndarray) -> float:
    """Typical digit height: the median height of the components holding most of the ink."""
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = [m for m, a in zip(marks, areas) if a >= 0.15 * areas.max()]
    return float(np.median([m.height for m in big]))


def _overlap(a: _Mark, b: _Mark) -> float:
    """Shared x-range of two marks as a fraction of the narrower one's width."""
    shared = min(a.x1, b.x1) - max(a.x0, b.x0)
    return shared / max(1, min(a.width, b.width))


def _merge_pieces(marks: list[_Mark], height: float) -> list[_Mark]:
    """Merge the components of one digit: those sharing most of their x-range, then short
    pieces into the neighbour they overlap or nearly touch."""
    marks = sorted(marks, key=lambda m: m.x0)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(marks):
            for b in marks[i + 1 :]:
                if _overlap(a, b) >= OVERLAP_MERGE and _fits(a, b, height, OVERLAP_WIDTH):
                    a.merge(b)
                    marks.remove(b)
                    merged = True
                    break
            if merged:
                break
    pieces = [m for m in marks if m.height < PIECE_HEIGHT * height]
    for piece in sorted(pieces, key=lambda m: -m.width * m.height):
        others = [m for m in marks if m is not piece]
        if not others:
            break
        gaps = [max(m.x0 - piece.x1, piece.x0 - m.x1) for m in others]
        best = int(np.argmin(gaps))
        if gaps[best] <= 0.12 * height and _fits(others[best], piece, height, MERGE_WIDTH):
            others[best].merge(piece)
            marks.remove(piece)
    return marks


def _fits(a: _Mark, b: _Mark, height: float, limit: float) -> bool:
    """Whether a and b together are still the size of one digit (at most ``limit`` times
    as wide as tall)."""
    width = max(a.x1, b.x1) - min(a.x0, b.x0)
    tall = max(a.y1, b.y1) - min(a.y0, b.y0)
    return width <= limit * max(height, tall) and tall <= 1.6 * height


def _cuts(labels: np.ndarray, mark: _Mark, height: float) -> list[int]:
    """Candidate columns (relative to the mark) where touching digits may meet: the local
    minima of the ink per column, the lowest first, at most `MAX_CUTS`, not too close."""
    if mark.width <= CUT_WIDTH * height:
        return []
    profile = _selected(labels, mark).sum(axis=0).astype(np.float32)
    k = max(1, int(round(0.04 * height)))
    profile = np.convolve(profile, np.ones(2 * k + 1, np.float32) / (2 * k + 1), mode="same")
    edge = max(2, int(0.12 * height))
    inner = np.arange(edge, mark.width - edge)
    if inner.size == 0:
        return []
    left, right = profile[inner - 1], profile[np.minimum(inner + 1, mark.width - 1)]
    minima = inner[(profile[inner] <= left) & (profile[inner] <= right)]
    cuts: list[int] = []
    for x in sorted(minima, key=lambda x: profile[x]):
        if all(abs(int(x) - c) >= 0.15 * height for c in cuts):
            cuts.append(int(x))
        if len(cuts) == MAX_CUTS:
            break
    return sorted(cuts)


def _options(labels: np.ndarray, mark: _Mark, height: float) -> list[tuple[int, int, _Mark]]:
    """Every piece the mark may be cut into: ``(start, end, piece)`` with start/end indices
    into the mark's cut positions (0 = its left edge, last = its right edge)."""
    positions = [0, *_cuts(labels, mark, height), mark.width]
    last = len(positions) - 1
    out = []
    for i in range(last):
        for j in range(i + 1, last + 1):
            width = positions[j] - positions[i]
            whole = i == 0 and j == last
            if not whole and not (MIN_PIECE * height <= width <= MAX_PIECE * height):
                continue
            piece = _piece(labels, mark, mark.x0 + positions[i], mark.x0 + positions[j])
            if piece is not None:
                out.append((i, j, piece))
    if not any(i == 0 and j == last for i, j, _ in out):
        out.append((0, last, mark))
    return out


def _best_cuts(scored: list, height: float) -> list[tuple[_Mark, np.ndarray, np.ndarray]]:
    """The cutting of one mark whose pieces the model is surest of: the path from its left
    edge to its right edge maximising the sum of log confidences (fewer pieces win ties),
    with a penalty for pieces wider than a digit."""
    last = max(j for _, j, *_ in scored)
    whole = next(piece for i, j, piece, *_ in scored if i == 0 and j == last)
    # a mark this wide is surely several digits: cutting it costs nothing
    penalty = SPLIT_PENALTY if whole.width < SURE_WIDTH * height else 0.0
    best: dict[int, tuple[float, list]] = {0: (0.0, [])}
    for end in range(1, last + 1):
        for start, stop, piece, p, image28 in scored:
            if stop != end or start not in best:
                continue
            wide = max(0.0, piece.width / height - WIDE_PIECE)
            extra = penalty if start > 0 else 0.0
            confidence = float(np.log(max(float(p.max()), 1e-9)))
            score = best[start][0] + confidence - WIDE_PENALTY * wide - extra
            if end not in best or score > best[end][0]:
                best[end] = (score, best[start][1] + [(piece, p, image28)])
    return best[last][1]


def _piece(labels: np.ndarray, mark: _Mark, x0: int, x1: int) -> _Mark | None:
    """The part of a mark between columns x0 and x1, its rows trimmed to its ink."""
    inside = labels[mark.y0 : mark.y1, x0:x1]
    rows = np.flatnonzero(np.isin(inside, mark.labels).any(axis=1))
    if rows.size == 0 or x1 - x0 < 2:
        return None
    return _Mark(x0, mark.y0 + int(rows[0]), x1, mark.y0 + int(rows[-1]) + 1, list(mark.labels))
