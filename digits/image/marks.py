"""Cut the ink of a handwritten number into marks: one per digit, and the lines they sit on.

`segment` finds the ink's connected components, drops specks, and merges the pieces of one
digit (components that share most of their x-range, like the two strokes of an open 4 or
the lifted bar of a 5, and short pieces beside a digit with no room for a digit of their
own). `cut_options` lists, for a mark wider than a digit, every way of cutting it where the
ink narrows (touching digits); `lines` groups the marks into lines of text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from digits.image.decode import ImageInput
from digits.image.find import NO_INK_LEFT, SOLID_INK, NoDigitFound
from digits.image.normalise import normalise_digit
from digits.image.page import _in_labels
from digits.image.pipeline import InkImage, InkMask, crop_ink, gray_ink, number_mask, read_gray

__all__ = [
    "MAX_DIGITS",
    "TALL_SHARE",
    "Mark",
    "cut_options",
    "lines",
    "normalised",
    "number_looks",
    "original_box",
    "segment",
    "selected",
    "small_marks",
    "too_many_marks",
    "unnarrowed",
]


#: More marks than this is not a number (text, a texture, noise).
MAX_DIGITS = 24


#: Marks wider than this (times the digits' height) may be several touching digits.
CUT_WIDTH = 0.8


#: At most this many candidate cuts per mark.
MAX_CUTS = 12


#: Width limits of a piece between cuts (times the digits' height).
MIN_PIECE, MAX_PIECE = 0.12, 1.5


#: Merged pieces stay within this width (times the digits' height); pieces sharing most
#: of their x-range (a 5's lifted bar) may make a wider digit.
MERGE_WIDTH, OVERLAP_WIDTH = 1.05, 1.35


#: Components sharing this fraction of the narrower one's x-range are one digit.
OVERLAP_MERGE = 0.5


#: Components shorter than this fraction of the digits' height are pieces, not digits.
PIECE_HEIGHT = 0.55


#: Marks smaller than this fraction of the digits' height (both ways) are specks.
SPECK_SIZE = 0.22


#: ... or with less ink than this fraction of the median mark's, unless they are at least
#: `TALL_SHARE` of the digits' height (a thin 1).
SPECK_AREA, TALL_SHARE = 0.12, 0.7


@dataclass
class Mark:
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

    def merge(self, other: Mark) -> None:
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.labels += other.labels
        self.area += other.area


def selected(labels: np.ndarray, mark: Mark) -> np.ndarray:
    inside = labels[mark.y0 : mark.y1, mark.x0 : mark.x1]
    return _in_labels(inside, mark.labels).astype(np.uint8)


def normalised(found: InkMask, labels: np.ndarray, mark: Mark) -> np.ndarray:
    box = (mark.x0, mark.y0, mark.x1, mark.y1)
    return normalise_digit(crop_ink(found, selected(labels, mark), box))


def segment(found: InkMask) -> tuple[list[Mark], np.ndarray, float]:
    """The digits of a number in thresholded ink, left to right (boxes at the ink's
    resolution), the connected-component label image their ``labels`` refer to, and the
    digits' median height.

    Raises:
        NoDigitFound: no digit-sized ink, or too many marks to be a number.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(found.mask, connectivity=8)
    marks = [
        Mark(int(x), int(y), int(x + w), int(y + h), [i], int(area))
        for i, (x, y, w, h, area) in enumerate(stats[1:], start=1)
    ]
    if not marks:
        raise NoDigitFound(NO_INK_LEFT)
    height = _digit_height(marks, stats)
    image_h, image_w = found.mask.shape
    if height < max(6, 0.02 * max(image_h, image_w)):
        raise NoDigitFound(
            "no digit found: only tiny marks, too small to read; crop closer or photograph "
            f"the number larger (at most {height} px high)"
        )
    marks = _merge_pieces(marks, height)
    marks = [m for m in marks if max(m.width, m.height) >= SPECK_SIZE * height]
    if marks:
        typical = float(np.median([m.area for m in marks]))
        marks = [m for m in marks if m.area >= SPECK_AREA * typical or _tall(m, height)]
    strokes = [m for m in marks if not _solid(m)]
    if marks and not strokes:
        raise NoDigitFound(SOLID_INK)
    marks = strokes
    if not marks:
        raise NoDigitFound(
            "no digit found: only specks, no digit-sized strokes; crop closer or write larger"
        )
    if len(marks) > MAX_DIGITS:
        raise NoDigitFound(too_many_marks(len(marks)))
    height = float(np.median([m.height for m in marks]))
    return sorted(marks, key=lambda m: (m.x0 + m.x1) / 2), labels, height


def number_looks(image: ImageInput, sides: tuple[int, ...]) -> Iterator[tuple[InkImage, object]]:
    """The looks `digits read` takes at an image, each ``(ink image, what it found)``:
    ``(mask, marks, labels, digit height)`` (`number_mask`, `segment`) or the
    `NoDigitFound` of that look. First the image downscaled to ``sides[0]``; then the other
    polarity (grey paper, uneven light); then, for a larger image, both again at each next
    side (a thin pen in a large photo keeps its strokes). The caller stops when it has read
    a number.

    Raises:
        ImageError: the input cannot be read.
    """
    gray = read_gray(image)  # decoded once for every look
    for side in sides:
        for other in (False, True):
            ink = gray_ink(gray, side, other_polarity=other)
            try:
                found = number_mask(ink.ink)
                yield ink, (found, *segment(found))
            except NoDigitFound as missing:
                yield ink, missing
        if max(ink.image_size) <= side:
            return


def too_many_marks(count: int) -> str:
    """The reason for more marks than a number has: what was seen and what to try."""
    return (
        "no number found: too many separate marks for a number (text, a texture or noise?); "
        f"crop to the number's line ({count} marks, at most {MAX_DIGITS} digits)"
    )


def _tall(mark: Mark, height: float) -> bool:
    """A mark as tall as a digit is never a speck, however little ink it has: a 1 drawn
    with a thin pen beside thick digits."""
    return mark.height >= TALL_SHARE * height


def _solid(mark: Mark) -> bool:
    """A filled block (a blot, a photo's dark patch), not pen strokes: as `to_model_input`
    judges it, ink over 85% of a box that is not a thin bar."""
    box = mark.width * mark.height
    return mark.area > 0.85 * box and min(mark.width, mark.height) > 0.5 * max(
        mark.width, mark.height
    )


def _digit_height(marks: list[Mark], stats: np.ndarray) -> float:
    """Typical digit height: the median height of the components holding most of the ink."""
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = [m for m, a in zip(marks, areas) if a >= 0.15 * areas.max()]
    return float(np.median([m.height for m in big]))


def _overlap(a: Mark, b: Mark) -> float:
    """Shared x-range of two marks as a fraction of the narrower one's width."""
    shared = min(a.x1, b.x1) - max(a.x0, b.x0)
    return shared / max(1, min(a.width, b.width))


def _merge_pieces(marks: list[Mark], height: float) -> list[Mark]:
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


def _fits(a: Mark, b: Mark, height: float, limit: float) -> bool:
    """Whether a and b together are still the size of one digit (at most ``limit`` times
    as wide as tall)."""
    width = max(a.x1, b.x1) - min(a.x0, b.x0)
    tall = max(a.y1, b.y1) - min(a.y0, b.y0)
    return width <= limit * max(height, tall) and tall <= 1.6 * height


def _cuts(labels: np.ndarray, mark: Mark, height: float) -> list[int]:
    """Candidate columns (relative to the mark) where touching digits may meet: the local
    minima of the ink per column, the lowest first, at most `MAX_CUTS`, not too close."""
    if mark.width <= CUT_WIDTH * height:
        return []
    profile = selected(labels, mark).sum(axis=0).astype(np.float32)
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


def cut_options(labels: np.ndarray, mark: Mark, height: float) -> list[tuple[int, int, Mark]]:
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


def _piece(labels: np.ndarray, mark: Mark, x0: int, x1: int) -> Mark | None:
    """The part of a mark between columns x0 and x1, its rows trimmed to its ink."""
    inside = labels[mark.y0 : mark.y1, x0:x1]
    rows = np.flatnonzero(_in_labels(inside, mark.labels).any(axis=1))
    if rows.size == 0 or x1 - x0 < 2:
        return None
    return Mark(x0, mark.y0 + int(rows[0]), x1, mark.y0 + int(rows[-1]) + 1, list(mark.labels))


#: Small marks near a line (`small_marks`): at least this share of the digits' height ...
SMALL_MARK = 0.08
#: ... within this share of it left and right of the line and below its base (a comma).
NEAR_LINE, BELOW_LINE = 0.8, 0.4


def small_marks(labels: np.ndarray, row: list[Mark], height: float) -> list[Mark]:
    """The components beside or in a line of marks that `segment` set aside as specks
    (too small for a digit): the dots, commas and short dashes a reader of marks reads.
    Each lies wholly inside the line's band (extended `BELOW_LINE` down, `NEAR_LINE`
    either side) and is at least `SMALL_MARK` of the digits' height."""
    pad, below = int(NEAR_LINE * height), int(BELOW_LINE * height)
    x0, x1 = max(0, min(m.x0 for m in row) - pad), max(m.x1 for m in row) + pad
    y0, y1 = min(m.y0 for m in row), max(m.y1 for m in row) + below
    window = labels[y0:y1, x0:x1]
    taken = {k for m in row for k in m.labels}
    found = []
    for k in np.unique(window).tolist():
        if k == 0 or k in taken or len(found) >= MAX_DIGITS:
            continue
        ys, xs = np.nonzero(window == k)
        box = Mark(x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, 0, [k], len(ys))
        box.y1 = y0 + int(ys.max()) + 1
        edges = (xs.min() == 0, ys.min() == 0, xs.max() == window.shape[1] - 1)
        inside = not any(edges) and ys.max() < window.shape[0] - 1  # not cut by the window
        if inside and max(box.width, box.height) >= SMALL_MARK * height:
            found.append(box)
    return found


def lines(marks: list[Mark], height: float) -> list[list[Mark]]:
    """The marks grouped into lines of text, top to bottom, each left to right.

    A mark joins a line when it shares any rows of pixels with the band the line's marks
    span (a digit written higher than its neighbours stays in their number), and a mark
    that reaches into two lines' bands makes them one; only a clear gap starts a new line.
    A row of small marks only (a stray stroke above a digit) joins the nearest line instead
    of making one of its own."""
    rows: list[list[Mark]] = []
    for mark in sorted(marks, key=lambda m: (m.y0 + m.y1) / 2):
        shared = [r for r in rows if _shared(r, mark) > 0]  # a mark across two bands joins them
        rows = [r for r in rows if not any(r is s for s in shared)]
        rows.append([m for r in shared for m in r] + [mark])
    tall = [r for r in rows if max(m.height for m in r) >= PIECE_HEIGHT * height] or rows
    for row in rows:
        if not any(row is r for r in tall):
            centre = np.mean([(m.y0 + m.y1) / 2 for m in row])
            nearest = min(tall, key=lambda r: abs(np.mean([(m.y0 + m.y1) / 2 for m in r]) - centre))
            nearest.extend(row)
    tall.sort(key=lambda r: min(m.y0 for m in r))
    return [sorted(row, key=lambda m: (m.x0 + m.x1) / 2) for row in tall]


def _shared(row: list[Mark], mark: Mark) -> int:
    """Rows of pixels ``mark`` shares with the band that ``row``'s marks span."""
    top, bottom = min(m.y0 for m in row), max(m.y1 for m in row)
    return min(bottom, mark.y1) - max(top, mark.y0)


def unnarrowed(box: tuple[int, int, int, int], columns: np.ndarray, x0: int, y0: int) -> Mark:
    """A box in the narrowed line -> a `Mark` in the ink image's pixels."""
    x, y, w, h = box
    left, right = int(columns[x]), int(columns[min(x + w, len(columns)) - 1]) + 1
    return Mark(x0 + left, y0 + y, x0 + right, y0 + y + h, [])


def original_box(mark: Mark, scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A mark at the ink's resolution -> ``(x, y, width, height)`` in the original image's
    pixels (``scale``: the ink's size over the original's)."""
    left, top = int(np.floor(mark.x0 / scale)), int(np.floor(mark.y0 / scale))
    width = min(int(np.ceil(mark.width / scale)), size[0] - left)
    height = min(int(np.ceil(mark.height / scale)), size[1] - top)
    return left, top, width, height
