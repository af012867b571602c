"""Synthetic number lines for the sequence reader (`digits.runtime.sequence`): MNIST digits side by
side, apart, touching or overlapping, as `normalise_line` hands them to the model.

Each line has 1-12 digits. Every digit gets its own size, slant (a shear) and baseline; the
gap to its neighbour is drawn from ``gap`` times the two digits' mean ink width (negative:
they overlap). Strokes stay as the MNIST writers drew them, so the detached bar of a 5 or
stem of a 4 comes with the digits themselves. Optionally the pen changes (thicker, fainter),
the whole line tilts, or the line goes through a photo and back: rendered dark on paper with
lighting, noise and JPEG-like texture (`digits.synth.numbers.render`) and read back by the
same ink steps as `digits read` (`digits.image.ink_image`, `ink_mask`, `crop_ink`).

- `training_batch`: one seeded batch ``(x, labels, label_length, frames)`` for CTC training
  from MNIST *training* digits: batch ``i`` of seed ``s`` is always the same.
- `eval_lines`: benchmark lines of one kind (`EVAL_KINDS`) from MNIST *test* digits.

With ``LineSpec.marks`` a share of lines is written as numbers with marks (``12.50``,
``06/12/2026``, ``-3.5``; `digits.synth.punctuation`): the marks drawn in the digits' frame
and placed apart from or touching their neighbours; ``specks`` adds dirt that is no mark.

Labels follow the model's classes: character ``ALPHABET[k]`` is class k + 1, 0 pads (and is
the CTC blank).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digits.runtime.sequence import ALPHABET, FRAME_WIDTH, LINE_HEIGHT, normalise_line
from digits.synth import punctuation
from digits.synth.numbers import detached_pool, render

__all__ = [
    "EVAL_KINDS",
    "GAP_RANGE",
    "MAX_DIGITS",
    "MAX_LABEL",
    "LineSpec",
    "detached_pool",
    "eval_lines",
    "make_line",
    "training_batch",
]

#: Gaps between neighbours, as fractions of their mean ink width (negative: overlapping).
GAP_RANGE = (-0.35, 0.60)
MAX_DIGITS = 12
#: The least gap between the digits of a number with marks (unless ``gap`` is given).
MARKED_GAP = -0.15
#: The longest label a training line has (digits and marks).
MAX_LABEL = 16
#: The benchmark's kinds of lines and their gap ranges; ``detached`` lines are rich in the
#: 4s and 5s whose strokes MNIST writers drew apart.
EVAL_KINDS = {
    "separated": (0.05, 0.60),
    "touching": (-0.10, 0.0),
    "overlapping": (-0.35, -0.10),
    "detached": (0.05, 0.60),
}
_SIDE = 48  # each digit is drawn in a square this big before its columns are cropped
_ROWS = 72  # the composing canvas' height
_INK = 0.3  # alpha above which a pixel counts as ink where digits meet
_INK_HEIGHT = 20  # an MNIST digit's ink height in its 28 px field


@dataclass(frozen=True)
class LineSpec:
    """How lines vary (every range is drawn uniformly, per line or per digit)."""

    gap: tuple[float, float] = GAP_RANGE
    lengths: tuple[int, int] = (1, MAX_DIGITS)
    scale: tuple[float, float] = (0.8, 1.15)  # per-digit size
    shear: float = 0.3  # per-digit slant, x shift per row
    baseline: float = 0.1  # per-digit vertical jitter, fraction of the 28 px field
    tilt: float = 3.0  # whole-line rotation, degrees
    pen: float = 0.3  # probability of a thicker or fainter pen
    photo: float = 0.0  # probability of the photo round trip
    blur: float = 0.3  # probability of a light blur and a lower ink level
    contact: float = 0.0  # probability that a line's digits are placed by where ink meets
    overlap: tuple[float, float] = (-0.05, 0.35)  # ... then moved this much further left
    detached: float = 0.0  # probability that a digit is a 4 or 5 drawn in separate strokes
    marks: float = 0.0  # probability that a line is a number with marks (punctuation.KINDS)
    mark_style: str = "train"  # how marks are drawn (punctuation.STYLES)
    mark_gap: tuple[float, float] = (0.0, 0.3)  # gap around a mark, in digit heights
    mark_contact: float = 0.3  # probability that a mark touches the digit before it
    specks: float = 0.0  # probability that a line gets 1-3 specks of dirt


def _digit(digit: np.ndarray, rng: np.random.Generator, spec: LineSpec) -> np.ndarray:
    """One MNIST digit scaled and sheared into a `_SIDE` square, cropped to its columns."""
    s = rng.uniform(*spec.scale)
    k = rng.uniform(-spec.shear, spec.shear)
    c = _SIDE / 2
    matrix = np.array([[s, -s * k, c - 14 * s + 14 * s * k], [0, s, c - 14 * s]], np.float32)
    alpha = cv2.warpAffine(digit.astype(np.float32) / 255.0, matrix, (_SIDE, _SIDE))
    cols = np.flatnonzero(alpha.max(axis=0) > 0.05)
    if not len(cols):
        return alpha[:, 20:28]
    return alpha[:, cols[0] : cols[-1] + 1]


def compose(
    digits: list[np.ndarray], rng: np.random.Generator, spec: LineSpec, gap: tuple[float, float]
) -> np.ndarray:
    """Lay digits out left to right -> the line's ink alpha (float32, MNIST scale).

    Each digit is placed ``gap`` times the neighbours' mean width after the previous one's
    box, or, with probability ``spec.contact`` per line, slid left until its ink meets the
    ink already there and then ``spec.overlap`` digit heights further (as people's
    touching digits meet: a 1 can tuck under a 7's flag)."""
    return compose_pieces([_digit(d, rng, spec) for d in digits], rng, spec, gap)


def compose_pieces(
    pieces: list[np.ndarray],
    rng: np.random.Generator,
    spec: LineSpec,
    gap: tuple[float, float],
    is_mark: list[bool] | None = None,
) -> np.ndarray:
    """`compose` of pieces already in the 48 px frame (digits from `_digit`, marks from
    `digits.synth.punctuation.draw_mark`): a mark or its right neighbour is placed
    ``spec.mark_gap`` digit heights apart, or touching with ``spec.mark_contact``."""
    is_mark = is_mark or [False] * len(pieces)
    width = sum(p.shape[1] for p in pieces) + int(0.7 * _SIDE * len(pieces)) + 2 * _SIDE
    canvas = np.zeros((_ROWS, width), np.float32)
    by_contact = rng.random() < spec.contact
    x, right, previous = _SIDE // 2, 0, 0
    for index, piece in enumerate(pieces):
        w = piece.shape[1]
        y = int(round((_ROWS - _SIDE) / 2 + rng.uniform(-spec.baseline, spec.baseline) * 28))
        if index and (is_mark[index] or is_mark[index - 1]):
            touch = is_mark[index] and rng.random() < spec.mark_contact
            shift = 0 if touch else rng.uniform(*spec.mark_gap) * _INK_HEIGHT
            x = max(0, round(_contact_x(canvas, piece, y, right) + shift))
        elif index and by_contact:
            extra = rng.uniform(*spec.overlap) * _INK_HEIGHT
            x = max(0, round(_contact_x(canvas, piece, y, right) - extra))
        elif index:
            x = max(0, round(right + rng.uniform(*gap) * (previous + w) / 2))
        region = canvas[y : y + _SIDE, x : x + w]
        np.maximum(region, piece[:, : region.shape[1]], out=region)
        right, previous = max(right, x + w), w
    canvas = canvas[:, : right + _SIDE // 2]
    if spec.tilt:
        h, w = canvas.shape
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-spec.tilt, spec.tilt), 1.0)
        canvas = cv2.warpAffine(canvas, matrix, (w, h), flags=cv2.INTER_LINEAR)
    return canvas


def _contact_x(canvas: np.ndarray, piece: np.ndarray, y: int, right: int) -> int:
    """The leftmost x at which ``piece`` placed at row ``y`` does not cross into the ink on
    ``canvas`` row by row (within a row either way): where the two inks meet. ``right``
    (the ink's right edge) when they share no row."""
    ink = canvas[y : y + _SIDE, :right] > _INK
    last = np.where(ink.any(axis=1), right - 1 - np.argmax(ink[:, ::-1], axis=1), -(10**6))
    last = np.maximum.reduce([last, np.roll(last, 1), np.roll(last, -1)])
    mine = piece > _INK
    first = np.where(mine.any(axis=1), np.argmax(mine, axis=1), 10**6)
    both = (last > -(10**6)) & (first < 10**6)
    return int((last[both] - first[both]).max()) + 1 if both.any() else right


def _pen(alpha: np.ndarray, rng: np.random.Generator, spec: LineSpec) -> np.ndarray:
    draw = rng.random()
    if draw < spec.pen / 2:
        return cv2.dilate(alpha, np.ones((2, 2), np.uint8))
    if draw < spec.pen:
        return alpha ** rng.uniform(1.3, 2.2)
    return alpha


def _photo_round_trip(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The line photographed on paper and read back by `digits read`'s ink steps (the line
    itself when those steps find no clear ink in the photo)."""
    from digits.image import NoDigitFound, crop_ink, ink_image, ink_mask

    factor = rng.uniform(1.2, 3.5)
    big = cv2.resize(alpha, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    big = np.clip((big - 0.3) / 0.4, 0.0, 1.0)
    image = render(big, rng, "photo")
    ink = ink_image(image)
    try:
        found = ink_mask(ink.ink, sigma=max(0.5, min(ink.ink.shape) / 300))
    except NoDigitFound:
        return alpha
    rows, cols = np.flatnonzero(found.mask.any(axis=1)), np.flatnonzero(found.mask.any(axis=0))
    if not len(rows):
        return alpha
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    selected = found.mask[box[1] : box[3], box[0] : box[2]]
    crop = crop_ink(found, selected, box)
    return crop if crop.max(initial=0.0) > 0.5 else alpha


def _finish(image: np.ndarray, rng: np.random.Generator, spec: LineSpec) -> np.ndarray:
    if rng.random() < spec.blur:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.8)) * rng.uniform(0.6, 1.0)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def make_line(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    spec: LineSpec = LineSpec(),
    chosen: np.ndarray | None = None,
    gap: tuple[float, float] | None = None,
    text: str | None = None,
) -> tuple[np.ndarray, str]:
    """One line -> ``(image (LINE_HEIGHT, W) float32, text)``; ``chosen`` indexes ``images``
    (default: 1-12 random ones), ``gap`` overrides ``spec.gap``; ``text`` (digits and
    marks, default: drawn with ``spec.marks``) writes that text with digits of ``images``."""
    if text is None and chosen is None and spec.marks and rng.random() < spec.marks:
        text = punctuation.number_text(rng)
    if text is not None:  # people space numbers with marks: digits overlap less
        gap = gap or (max(spec.gap[0], MARKED_GAP), spec.gap[1])
        alpha = _marked(images, labels, rng, spec, text, gap)
    else:
        chosen = _chosen(images, labels, rng, spec) if chosen is None else chosen
        alpha = compose([images[i] for i in chosen], rng, spec, gap or spec.gap)
        text = "".join(str(int(labels[i])) for i in chosen)
    if spec.specks and rng.random() < spec.specks:
        alpha = _specked(alpha, rng)
    alpha = _pen(alpha, rng, spec)
    if rng.random() < spec.photo:
        alpha = _photo_round_trip(alpha, rng)
    line = normalise_line(alpha).image
    return _finish(line, rng, spec), text


def _chosen(images, labels, rng: np.random.Generator, spec: LineSpec) -> np.ndarray:
    count = int(rng.integers(spec.lengths[0], spec.lengths[1] + 1))
    chosen = rng.integers(0, len(images), size=count)
    if spec.detached:
        lifted = rng.random(count) < spec.detached
        chosen[lifted] = rng.choice(_pool(images, labels), size=int(lifted.sum()))
    return chosen


def _marked(images, labels, rng, spec: LineSpec, text: str, gap) -> np.ndarray:
    """The alpha of ``text``: each digit a random one of ``images`` with that label, each
    mark drawn in ``spec.mark_style``."""
    by_label = _by_label(labels)
    pieces, is_mark = [], []
    for ch in text:
        if ch.isdigit():
            options = by_label[int(ch)]
            pieces.append(_digit(images[options[rng.integers(len(options))]], rng, spec))
        else:
            pieces.append(punctuation.draw_mark(ch, rng, spec.mark_style))
        is_mark.append(not ch.isdigit())
    return compose_pieces(pieces, rng, spec, gap, is_mark)


def _specked(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1-3 specks of dirt (`punctuation.speck`) anywhere along the line."""
    alpha = alpha.copy()
    for _ in range(int(rng.integers(1, 4))):
        blot, (_, dy) = punctuation.speck(rng)
        y = min(max(0, dy + (_ROWS - _SIDE) // 2), alpha.shape[0] - blot.shape[0])
        x = int(rng.integers(0, max(1, alpha.shape[1] - blot.shape[1])))
        region = alpha[y : y + blot.shape[0], x : x + blot.shape[1]]
        np.maximum(region, blot[: region.shape[0], : region.shape[1]], out=region)
    return alpha


_LABELS: dict[tuple[int, int], list[np.ndarray]] = {}


def _by_label(labels: np.ndarray) -> list[np.ndarray]:
    """The indices of each digit in ``labels``, worked out once per array."""
    key = (id(labels), len(labels))
    if key not in _LABELS:
        _LABELS.clear()
        _LABELS[key] = [np.flatnonzero(labels == d) for d in range(10)]
    return _LABELS[key]


_POOLS: dict[tuple[int, int], np.ndarray] = {}


def _pool(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`detached_pool` of these digits, worked out once per array."""
    key = (id(images), len(images))
    if key not in _POOLS:
        _POOLS.clear()
        _POOLS[key] = detached_pool(images, labels)
    return _POOLS[key]


def pad_batch(lines: list[np.ndarray], texts: list[str]) -> tuple[np.ndarray, ...]:
    """Lines and texts -> CTC arrays: ``x (N, LINE_HEIGHT, W, 1)`` (zero-padded on the right
    to the widest), ``labels (N, MAX_LABEL)`` (class of `ALPHABET`, 0 pads), ``label_length (N,)``,
    ``frames (N,)`` (each line's own output length)."""
    width = max(line.shape[1] for line in lines)
    x = np.zeros((len(lines), LINE_HEIGHT, width, 1), np.float32)
    y = np.zeros((len(lines), MAX_LABEL), np.int32)
    for i, (line, text) in enumerate(zip(lines, texts)):
        x[i, :, : line.shape[1], 0] = line
        y[i, : len(text)] = [ALPHABET.index(ch) + 1 for ch in text]
    label_length = np.array([len(t) for t in texts], np.int32)
    frames = np.array([line.shape[1] // FRAME_WIDTH for line in lines], np.int32)
    return x, y, label_length, frames


def training_batch(
    images: np.ndarray,
    labels: np.ndarray,
    index: int,
    size: int,
    seed: int,
    spec: LineSpec = LineSpec(),
) -> tuple[np.ndarray, ...]:
    """Batch ``index`` of ``size`` lines (`pad_batch`'s arrays), the same for the same
    ``(seed, index)`` whatever was drawn before."""
    rng = np.random.default_rng([seed, index])
    made = [make_line(images, labels, rng, spec) for _ in range(size)]
    return pad_batch([m[0] for m in made], [m[1] for m in made])


def eval_lines(
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    count: int,
    seed: int,
    lengths: tuple[int, int] = (2, 8),
) -> list[tuple[np.ndarray, str]]:
    """``count`` benchmark lines of one `EVAL_KINDS` kind, ``(image, text)`` each; pass the
    MNIST *test* digits. No pen, photo or blur changes: the ink as `normalise_line` gives it."""
    if kind not in EVAL_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVAL_KINDS)}, not {kind!r}")
    spec = LineSpec(pen=0.0, photo=0.0, blur=0.0)
    rng = np.random.default_rng([seed, list(EVAL_KINDS).index(kind)])
    pool = detached_pool(images, labels) if kind == "detached" else None
    lines = []
    for _ in range(count):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        chosen = rng.integers(0, len(images), size=length)
        if pool is not None:
            heavy = rng.random(length) < 0.5
            heavy[rng.integers(length)] = True
            chosen[heavy] = rng.choice(pool, size=int(heavy.sum()))
        lines.append(make_line(images, labels, rng, spec, chosen, EVAL_KINDS[kind]))
    return lines
