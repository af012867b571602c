"""Find the digit in the ink image: threshold, marks, specks and holes, the digit's box.

The ink is thresholded (blur + Otsu, with a minimum contrast and separability), cut into
connected marks, specks are dropped, nearby marks are grouped, and the group that is the
digit is chosen; too many marks or holes, too little ink or too small a digit raise
`NoDigitFound` with a reason a person can act on. A digit found small in a downscaled
photo is looked at again at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digits.image.page import (
    _flatten_sheet,
    _odd,
    _otsu,
    _percentile,
    _remove_lines,
    _tone,
    _tones,
)

__all__ = [
    "MIN_CONTRAST",
    "MIN_SEPARABILITY",
    "SPECK_FRACTION",
    "FRAGMENT_FRACTION",
    "MAX_COMPONENTS",
    "MAX_HOLES",
    "MIN_DIGIT_FRACTION",
    "MIN_DIGIT_PIXELS",
    "REFINE_BELOW",
    "REFINE_SIDE",
    "REFINE_PAD",
    "GROUP_GAP",
    "FINE_BACKGROUND",
    "FINE_MAX_DIGIT",
    "NoDigitFound",
]

#: Minimum difference between ink and background (on a 0-1 scale) to count as a digit.
MIN_CONTRAST = 0.15


#: Minimum Otsu separability (between-class / total variance) of ink vs background:
#: pen strokes on paper score 0.73-0.98, noise and textures 0.63-0.68.
MIN_SEPARABILITY = 0.69


#: Connected ink components smaller than this fraction of the largest one are specks,
#: unless they lie inside the digit's box (pieces of a broken stroke) and are at least
#: `FRAGMENT_FRACTION` of the largest.
SPECK_FRACTION = 0.08


FRAGMENT_FRACTION = 0.01


#: More (non-speck) separate marks than this is not a single digit.
MAX_COMPONENTS = 8


#: More enclosed holes than this is not a digit (an 8 has two; noise has dozens).
MAX_HOLES = 4


#: The digit's longer side must be at least this fraction of the image's longer side.
MIN_DIGIT_FRACTION = 0.04


#: ... and at least this many pixels (at the working resolution).
MIN_DIGIT_PIXELS = 6


#: A digit found smaller than this (longer side, working pixels) in a downscaled image is
#: analysed again on a crop of the full-resolution image, scaled to at most `REFINE_SIDE`
#: pixels, with `REFINE_PAD` times its size of margin around it.
REFINE_BELOW = 32


REFINE_SIDE = 96


REFINE_PAD = 0.75


#: Marks farther apart than this fraction of their height are separate digits.
GROUP_GAP = 0.12


#: Digits found larger than `FINE_MAX_DIGIT` of the longer side are checked again with a
#: background estimated with a square `FINE_BACKGROUND` of the longer side.
FINE_BACKGROUND = 0.12


FINE_MAX_DIGIT = 0.45


#: The reasons shared with `digits.image.marks`.
NO_INK_LEFT = (
    "no digit found: no ink is left once the background is taken away; write with a darker "
    "pen, or photograph it in more light"
)
SOLID_INK = (
    "no digit found: the ink is a solid block (a blot, a shadow or a dark object), not pen "
    "strokes; photograph the digit on plain paper"
)


class NoDigitFound(ValueError):
    """The image was read but contains no digit-like ink; ``reason`` says what was seen
    and what to try, its measurements in parentheses at the end.
    ``polarity_in_doubt``: `to_model_input` was unsure which side is ink (the other side
    may be worth a second look, `digits.image.pipeline.second_looks`)."""

    def __init__(self, reason: str, polarity_in_doubt: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.polarity_in_doubt = polarity_in_doubt


@dataclass(frozen=True)
class _Found:
    crop: np.ndarray  # the digit's soft ink, [0, 1]
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the analysed image
    several: bool  # other digit-like marks were seen beside it
    raw: np.ndarray | None = None  # the crop's ink before stretching to [0, 1]


def _groups(boxes: np.ndarray) -> list[list[int]]:
    """Group marks (boxes ``x0, y0, x1, y1``) into digits: marks overlapping in x (a 5's
    bar over its body, not far above it) or very close to each other belong to the same
    digit."""
    n = len(boxes)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    for i in range(n):
        for j in range(i + 1, n):
            overlap = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            gap_y = max(boxes[j, 1] - boxes[i, 3], boxes[i, 1] - boxes[j, 3])
            gap = max(-overlap, gap_y)
            tall = max(heights[i], heights[j])
            stacked = overlap >= 0.3 * min(widths[i], widths[j]) and gap_y <= 0.5 * tall
            if stacked or gap <= GROUP_GAP * tall:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _choose_digit(
    boxes: np.ndarray, areas: np.ndarray, shape: tuple[int, int]
) -> tuple[list[int], bool]:
    """The marks of the digit to answer for, and whether there are other digit-like
    groups of marks (about as tall, with enough ink) beside it. The answer is the
    largest group, weighted towards the centre of the image."""
    groups = _groups(boxes)
    if len(groups) == 1:
        return groups[0], False
    h, w = shape
    box = [
        (boxes[g, 0].min(), boxes[g, 1].min(), boxes[g, 2].max(), boxes[g, 3].max()) for g in groups
    ]
    height = np.array([b[3] - b[1] for b in box], dtype=np.float64)
    ink = np.array([areas[g].sum() for g in groups], dtype=np.float64)
    digit_like = (height >= 0.5 * height.max()) & (ink >= 0.2 * ink.max())
    centre = np.array([((b[0] + b[2]) / 2 / w - 0.5, (b[1] + b[3]) / 2 / h - 0.5) for b in box])
    score = ink * (1.0 - 0.6 * np.hypot(*centre.T)) * digit_like
    best = int(np.argmax(score))
    if int(digit_like.sum()) == 1:
        # One digit and smaller marks (a stray stroke, a broken piece): keep them all if
        # they are close, as the single-digit path always did.
        return [i for g in groups for i in g], False
    return groups[best], True


def _window(u8: np.ndarray) -> tuple[slice, slice] | None:
    """The region around the largest strong mark (above half the peak), with one mark's
    size of margin on each side; None when it would be most of the image."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((u8 >= 128).astype(np.uint8))
    if count <= 1:
        return None
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    pad = max(w, h)
    rows = slice(max(0, y - pad), min(u8.shape[0], y + h + pad))
    cols = slice(max(0, x - pad), min(u8.shape[1], x + w + pad))
    if (rows.stop - rows.start) * (cols.stop - cols.start) > 0.5 * u8.size:
        return None
    return rows, cols


def _ink_levels(ink: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, float, int, float]:
    """Blur and Otsu-threshold bright ink: ``(blurred, u8, peak, threshold, separability)``.

    A light blur (``sigma``) gives the stroke intensities, a stronger one (``2 * sigma``)
    the 8-bit detection image, scaled to its ``peak``, that the threshold applies to.

    Raises:
        NoDigitFound: the ink's contrast is below `MIN_CONTRAST` (a blank image).
    """
    blurred = cv2.GaussianBlur(ink, (0, 0), sigma)
    contrast = float(blurred.max())
    if contrast < MIN_CONTRAST:
        raise NoDigitFound(
            "no digit found: no ink, the image is blank or almost blank; write with a darker "
            f"pen, or photograph it in more light (ink contrast {contrast:.2f} < {MIN_CONTRAST})"
        )
    detect = cv2.GaussianBlur(ink, (0, 0), 2 * sigma)
    peak = max(float(detect.max()), 1e-6)
    scaled = detect * (255.0 / peak)
    u8 = np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    threshold, separability = _otsu(u8)
    return blurred, u8, peak, threshold, separability


def _ink_threshold(u8: np.ndarray, threshold: float, separability: float) -> float:
    """The ink threshold, judged around the strongest mark when the image as a whole is
    not separable (``u8`` outside that window is then zeroed, in place).

    Raises:
        NoDigitFound: no clear ink on a background.
    """
    if separability < MIN_SEPARABILITY:
        # A small digit in a large image: judge the ink around its strongest mark.
        window = _window(u8)
        if window is not None:
            local_threshold, local = _otsu(u8[window])
            if local >= MIN_SEPARABILITY:
                threshold, separability = local_threshold, local
                outside = np.ones(u8.shape, dtype=bool)
                outside[window] = False
                u8[outside] = 0
    if separability < MIN_SEPARABILITY:
        raise no_clear_ink(separability)
    return threshold


def no_clear_ink(separability: float) -> NoDigitFound:
    """No ink stands out from the background: what was seen and what to try."""
    return NoDigitFound(
        "no digit found: no pen strokes stand out from the background (it looks like noise, "
        "a texture or a photo); crop closer to the digit, use even light and a darker pen "
        f"(separability {separability:.2f} < {MIN_SEPARABILITY})"
    )


def _check_holes(selected: np.ndarray, ink_area: int) -> None:
    """Raise `NoDigitFound` when the selected ink has more than `MAX_HOLES` holes."""
    contours, hierarchy = cv2.findContours(selected, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    holes = (
        0
        if hierarchy is None
        else sum(
            1
            for contour, link in zip(contours, hierarchy[0])
            if link[3] != -1 and cv2.contourArea(contour) >= 0.002 * ink_area
        )
    )
    if holes > MAX_HOLES:
        raise NoDigitFound(
            "no digit found: the ink is full of enclosed holes, like noise, a texture or a "
            f"photo, not pen strokes; crop closer to the digit on plain paper ({holes} holes)"
        )


def _hysteresis(u8: np.ndarray, threshold: float, grow: float) -> np.ndarray:
    """uint8 0/1: ink above ``threshold``, and (``grow`` < 1) ink above ``grow`` times it
    that touches ink above it."""
    mask = (u8 > threshold).astype(np.uint8)
    if grow >= 1.0:
        return mask
    count, labels = cv2.connectedComponents((u8 > grow * threshold).astype(np.uint8), None, 8)
    strong = np.zeros(count, dtype=bool)
    strong[labels[mask > 0]] = True
    strong[0] = False
    return strong[labels].astype(np.uint8)


def _find_digit(ink: np.ndarray, min_fraction: float = 0.0, grow: float = 1.0) -> _Found:
    """Locate the digit in the ink image -> `_Found` (crop, box, several digits?).

    ``grow`` below 1 also keeps ink down to ``grow`` times the threshold where it joins
    ink above it (hysteresis): thin strokes fainter than a blot on the same digit.

    Raises:
        NoDigitFound: blank, noise-like, tiny, solid or hole-riddled ink.
    """
    h, w = ink.shape
    sigma = max(0.5, max(h, w) / 300)
    blurred, u8, peak, threshold, separability = _ink_levels(ink, sigma)
    threshold = _ink_threshold(u8, threshold, separability)
    mask = _hysteresis(u8, threshold, grow)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise NoDigitFound(NO_INK_LEFT)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= SPECK_FRACTION * areas.max())
    if len(keep) > MAX_COMPONENTS:
        raise NoDigitFound(
            "no digit found: many separate marks of similar size (noise, text or a photo?), "
            f"not one digit; crop to a single digit ({len(keep)} marks)"
        )
    left, top = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[1:, cv2.CC_STAT_WIDTH], top + stats[1:, cv2.CC_STAT_HEIGHT]
    boxes = np.stack([left, top, right, bottom], axis=1)[keep]
    chosen, several = _choose_digit(boxes, areas[keep], (h, w))
    keep = keep[chosen]
    x0, y0 = int(left[keep].min()), int(top[keep].min())
    x1, y1 = int(right[keep].max()), int(bottom[keep].max())
    inside = (left >= x0) & (top >= y0) & (right <= x1) & (bottom <= y1)
    fragment = inside & (areas >= FRAGMENT_FRACTION * areas.max())
    members = np.zeros(len(areas), dtype=bool)
    members[keep] = True
    keep = np.flatnonzero(members | fragment) + 1
    longest = max(x1 - x0, y1 - y0)
    if longest < max(MIN_DIGIT_PIXELS, min_fraction * max(h, w)):
        raise NoDigitFound(
            f"no digit found: only a tiny mark ({x1 - x0}x{y1 - y0} px, "
            f"{longest / max(h, w):.0%} of the image's longer side): too small to read; "
            "if it is a digit, crop closer or photograph it larger"
        )
    selected = np.isin(labels[y0:y1, x0:x1], keep).astype(np.uint8)
    ink_area = int(selected.sum())
    if ink_area > 0.85 * (x1 - x0) * (y1 - y0) and min(x1 - x0, y1 - y0) > 0.5 * longest:
        raise NoDigitFound(SOLID_INK)
    _check_holes(selected, ink_area)

    low = 0.5 * grow * threshold * peak / 255.0
    box = (x0, y0, x1, y1)
    crop, raw = _soft_crop(blurred, selected, mask, box, sigma, low, 90 if grow >= 1.0 else 40)
    return _Found(crop, box, several, raw)


def _soft_crop(blurred, selected, mask, box, sigma: float, low: float, top: float):
    """The digit's soft ink -> ``(crop, raw)``: only its components (plus their anti-aliased
    rim) are kept, and the crop is stretched so that ``low`` is 0 and the ``top`` percentile
    of the strokes' cores is 1 (grown ink is fainter: a lower ``top`` stretches more)."""
    x0, y0, x1, y1 = box
    raw = _with_rim(blurred, selected, box, sigma)
    core = raw[mask[y0:y1, x0:x1] > 0]
    return _stretched(raw, core, low, top, blurred), raw


def _with_rim(blurred: np.ndarray, selected: np.ndarray, box, sigma: float) -> np.ndarray:
    """The soft ink in ``box`` (x0, y0, x1, y1) where ``selected`` (uint8 0/1, the box's
    shape) marks ink, and in its anti-aliased rim (2 sigma wide); nothing elsewhere."""
    x0, y0, x1, y1 = box
    rim = _odd(2 * sigma + 1)
    grown = cv2.dilate(selected, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rim, rim)))
    return blurred[y0:y1, x0:x1] * grown


def _stretched(raw: np.ndarray, core: np.ndarray, low: float, top: float, whole: np.ndarray):
    """``raw`` stretched so that ``low`` is 0 and the ``top`` percentile of the strokes'
    ``core`` values is 1 (the brightest of ``whole`` when there is no core), in [0, 1]."""
    high = _percentile(core, top) if core.size else float(whole.max(initial=0.0))
    crop = (raw - low) / max(high - low, 1e-3)
    return np.clip(crop, 0.0, 1.0, out=crop)


def _analyse(
    tone: np.ndarray, sheet: np.ndarray | None, min_fraction: float, grow: float = 1.0
) -> _Found:
    """Tone image (bright ink) -> the digit: flatten the light, drop lines, find it.

    The light is flattened with a large square (safe for big, thick digits). When that
    finds no clear digit, or a large one, it is done again with a small square
    (`FINE_BACKGROUND` of the longer side) that follows shadows closely; that answer is
    taken when the first found none, or when the first one's "digit" was the small
    digit plus faint ink around it (a shadow's edge), not a large digit.
    """
    coarse: _Found | None = None
    try:
        coarse = _find_digit(
            _remove_lines(_flatten_sheet(tone, sheet, 0.35, 64)), min_fraction, grow
        )
        if _extent(coarse.box, tone.shape) < FINE_MAX_DIGIT:
            return coarse
    except NoDigitFound as error:
        failure = error
    try:
        ink = _flatten_sheet(tone, sheet, FINE_BACKGROUND, 128)
        fine = _find_digit(_remove_lines(ink), min_fraction, grow)
    except NoDigitFound:
        if coarse is None:
            raise failure from None
        return coarse
    if coarse is None:
        return fine
    small = _extent(fine.box, tone.shape) < 0.6 * _extent(coarse.box, tone.shape)
    return fine if small and _faint_around(coarse, fine.box) else coarse


def _extent(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> float:
    """A box's longer side as a fraction of the image's longer side."""
    return max(box[2] - box[0], box[3] - box[1]) / max(shape)


def _faint_around(found: _Found, box: tuple[int, int, int, int]) -> bool:
    """True when the ink of ``found`` outside ``box`` (a digit found inside it) is much
    fainter than inside: a shadow or smudge around a digit, not more pen strokes."""
    x0, y0 = box[0] - found.box[0], box[1] - found.box[1]
    x1, y1 = box[2] - found.box[0], box[3] - found.box[1]
    raw = found.raw if found.raw is not None else found.crop
    inner = np.zeros(raw.shape, dtype=bool)
    inner[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    ink = found.crop > 0.05
    if not (ink & inner).any() or not (ink & ~inner).any():
        return False
    inside = float(np.percentile(raw[ink & inner], 95))
    outside = float(np.percentile(raw[ink & ~inner], 75))
    return outside < 0.6 * inside


def _refine(
    array: np.ndarray,
    order: str,
    inverted: bool,
    box: tuple[int, int, int, int],
    factor: float,
    grow: float = 1.0,
) -> tuple[_Found, tuple[int, int], float] | None:
    """Analyse again, at a higher resolution, a crop of the full-resolution image around
    a digit found small at the working resolution. Returns the digit found in the crop,
    the crop's origin and its scale, or None when that finds nothing."""
    height, width = array.shape[:2]
    x0, y0, x1, y1 = (v / factor for v in box)
    side = max(x1 - x0, y1 - y0)
    pad = REFINE_PAD * side
    cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    cx1, cy1 = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
    scale = min(1.0, REFINE_SIDE / side)
    crop = _tone(_tones(array[cy0:cy1, cx0:cx1], order, scale), inverted)
    try:
        found = _analyse(crop, None, 0.0, grow)
    except NoDigitFound:
        return None
    return found, (cx0, cy0), scale
