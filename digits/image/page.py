"""The page and its light: grayscale, which side is ink, a sheet on a table, ruled lines.

Before a digit can be found, the picture is turned into an "ink" image, bright where the pen
was: grayscale, polarity (a light background is inverted; a bright closed stroke on a dark
background is ink, not a sheet), a sheet of paper on a darker table is cut out only when it
is really a filled sheet, uneven lighting is flattened, and ruled or squared lines are
removed.
"""

from __future__ import annotations

import cv2
import numpy as np

from digits.image.decode import _as_unit_float

__all__ = [
    "SHEET_CONTRAST",
    "SHEET_MARGIN",
    "SHEET_FILL",
    "LINE_LEVEL",
    "LINE_SPAN",
    "LINE_THINNESS",
    "MIN_PAPER",
    "POLARITY_DOUBT",
]

#: A sheet of paper on a table must be this much brighter than the table (0-1 scale);
#: its outline (this fraction of the image's longer side) is dropped with the table.
SHEET_CONTRAST = 0.15


SHEET_MARGIN = 0.015


_SHEET_SIDE = 128  # resolution at which the sheet is looked for


#: A sheet is paper: at least this fraction of its outline is bright. The bright ring of a
#: 0 written white on black has the outline of a sheet but is mostly hollow.
SHEET_FILL = 0.9


#: Lines (ruled or squared paper, page edges): marks of ink above `LINE_LEVEL` that span
#: at least `LINE_SPAN` of the image and are at most `LINE_THINNESS` as thick as long.
LINE_LEVEL = 0.06


LINE_SPAN = 0.85


LINE_THINNESS = 0.035


#: A polarity margin (`_polarity_margin`) below this, either way, is in doubt
#: (`_polarity_doubt`).
POLARITY_DOUBT = 0.5


#: `_flatten_background` with ``ratio`` divides by the paper's brightness, but by no less
#: than this (a deep shadow's contrast is raised at most four times).
MIN_PAPER = 0.25


_DEPARTURE = np.float32(0.05)  # a tone this far from the median is ink, for the polarity

_LINE_SQUEEZE = 4  # lines are looked for on a copy squeezed this many times along them


def _to_gray(array: np.ndarray, order: str) -> np.ndarray:
    """Array (gray / RGB / BGR / RGBA / BGRA, any dtype) -> float32 gray in [0, 1].

    Transparent pixels are composited on a background that contrasts with the ink:
    when the opaque pixels cover less than half the image they are the strokes
    (a drawing on a transparent canvas) and the background is white for dark strokes,
    black for light ones; otherwise the background is the opaque pixels' median tone.
    """
    if array.ndim == 2:
        return _as_unit_float(array)
    colour = array[:, :, :3]
    if colour.dtype not in (np.uint8, np.uint16, np.float32):
        colour = _as_unit_float(colour)
    code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
    gray = _as_unit_float(cv2.cvtColor(np.ascontiguousarray(colour), code))
    if array.shape[2] == 3:
        return gray
    alpha = _as_unit_float(np.ascontiguousarray(array[:, :, 3]))
    if float(alpha.min()) >= 1.0:
        return gray
    opaque = alpha > 0.5
    if not opaque.any():
        return np.ones_like(gray)  # fully transparent: blank
    if opaque.mean() < 0.5:
        ink_tone = float((gray * alpha).sum() / max(float(alpha.sum()), 1e-6))
        background = 1.0 if ink_tone < 0.5 else 0.0
    else:
        background = float(np.median(gray[opaque]))
    return gray * alpha + np.float32(background) * (1.0 - alpha)


def _odd(n: float) -> int:
    n = max(1, int(round(n)))
    return n if n % 2 else n + 1


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear, the same bits) of a non-empty 1-D array, by a
    partial sort: ten times faster on the small arrays of one digit's ink."""
    virtual = (values.size - 1) * (q / 100)
    lo = int(np.floor(virtual))
    hi = min(lo + 1, values.size - 1)
    part = np.partition(values, (lo, hi) if hi != lo else lo)
    a, b, t = part[lo], part[hi], virtual - lo
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)


def _in_labels(labels: np.ndarray, wanted: list[int]) -> np.ndarray:
    """``np.isin(labels, wanted)`` for a few labels, without its sorting overhead."""
    hit = np.zeros(labels.shape, dtype=bool)
    for label in wanted:
        hit |= labels == label
    return hit


def _flatten_background(
    ink: np.ndarray, size: float = 0.35, side: int = 64, ratio: bool = False
) -> np.ndarray:
    """Subtract a smooth background estimate (a morphological opening computed at low
    resolution, ``side`` pixels, with a square ``size`` times the longer side), which
    removes uneven lighting and shadows. Marks narrower than the square are ink; a
    smaller square follows the edges of shadows more closely. ``ratio`` (dark ink on
    light paper): divide by the paper's brightness too, as light multiplies both ink and
    paper, so that a pen stroke in a shadow keeps the contrast it has in the light."""
    h, w = ink.shape
    f = side / max(h, w)
    small = ink
    if f < 1.0:
        small = cv2.resize(
            ink, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
        )
    k = _odd(max(3, size * max(small.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    # Pad first: opening a padded image follows shading ramps up to the border.
    padded = cv2.copyMakeBorder(small, k, k, k, k, cv2.BORDER_REPLICATE)
    background = cv2.morphologyEx(padded, cv2.MORPH_OPEN, kernel)
    smooth = _odd(max(3, k // 2)) if size < 0.35 else k
    background = cv2.blur(background, (smooth, smooth))[k:-k, k:-k]
    if f < 1.0:
        background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    flat = ink - background
    if ratio:
        flat /= np.maximum(1.0 - background, MIN_PAPER)
    return np.clip(flat, 0.0, 1.0, out=flat)


def _otsu(u8: np.ndarray) -> tuple[int, float]:
    """Otsu threshold of a uint8 image and its separability (between / total variance)."""
    hist = cv2.calcHist([u8], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    p = hist / hist.sum()
    levels = np.arange(256, dtype=np.float64)
    omega = np.cumsum(p)
    mu = np.cumsum(p * levels)
    mu_t = mu[-1]
    total = float((p * (levels - mu_t) ** 2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    between = np.nan_to_num(between[:-1], nan=0.0, posinf=0.0)
    t = int(np.argmax(between))
    return t, (float(between[t]) / total if total > 0 else 0.0)


def _extremes(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-pixel minimum and maximum over the colour channels (float32 in [0, 1]) of an
    opaque colour image; None for gray or (partly) transparent images."""
    if array.ndim != 3:
        return None
    if array.shape[2] == 4 and float(_as_unit_float(array[:, :, 3]).min()) < 1.0:
        return None
    colour = array[:, :, :3]
    if colour.dtype != np.uint8:
        colour = _as_unit_float(colour)
    lo, hi = colour.min(axis=2), colour.max(axis=2)
    return _as_unit_float(lo), _as_unit_float(hi)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _polarity(gray: np.ndarray) -> bool:
    """True when the ink is darker than the background (the image must be inverted)."""
    return _polarity_margin(gray) > 0


def _polarity_margin(gray: np.ndarray) -> float:
    """How sure the polarity is: log(darker / lighter), positive for dark ink.

    The background is the median tone; the ink is whatever departs from it the most,
    darker or lighter. Sums, not percentiles, so that a few thin strokes in a large
    image still count.
    """
    sample = _polarity_sample(gray)
    return _darker_than_lighter(sample - np.float32(np.median(sample)))


def _polarity_doubt(gray: np.ndarray) -> bool:
    """Is the polarity in doubt? When the margin is under `POLARITY_DOUBT`, or when the
    ink's departures from the *local* median (a fifth of the image wide, which a shadow's
    edge does not move) say the other polarity: a shadow over half the paper shifts the
    global median, not the local one. (The local one alone fails on a digit that fills
    the frame, as MNIST's do.) A page where nothing departs from the median by more than
    0.05 either way has no ink to doubt about."""
    sample = _polarity_sample(gray)
    deviation = sample - np.float32(np.median(sample))
    if not (np.abs(deviation) > _DEPARTURE).any():
        return False
    margin = _darker_than_lighter(deviation)
    if abs(margin) < POLARITY_DOUBT:
        return True
    u8 = (np.clip(sample, 0.0, 1.0) * 255).astype(np.uint8)
    local = cv2.medianBlur(u8, min(255, max(3, int(0.2 * max(u8.shape)) | 1)))
    return (_darker_than_lighter(sample - local * np.float32(1 / 255)) > 0) != (margin > 0)


def _polarity_sample(gray: np.ndarray) -> np.ndarray:
    step = max(1, max(gray.shape) // 160)
    return gray[::step, ::step]


def _darker_than_lighter(deviation: np.ndarray) -> float:
    """log(sum of departures darker / lighter than `_DEPARTURE`), positive for dark ink."""
    darker = float(np.maximum(-deviation - _DEPARTURE, 0).sum())
    lighter = float(np.maximum(deviation - _DEPARTURE, 0).sum())
    return float(np.log((darker + 1e-6) / (lighter + 1e-6)))


def _ink(gray: np.ndarray, other_polarity: bool = False) -> tuple[np.ndarray, bool]:
    """Gray image -> (ink bright on black with the background removed, inverted?); with
    ``other_polarity``, the ink is taken to be of the polarity the detection did not find."""
    inverted = _polarity(gray) != other_polarity
    return _flatten_background(1.0 - gray if inverted else gray), inverted


def _find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """A sheet of paper photographed on a darker surface -> its mask (uint8 0/1, the
    shape of ``gray``), or None when the image is not a sheet with a table around it.

    The sheet is the largest bright region (Otsu on a small copy), convex, with few
    straight sides (its convex hull is a quadrilateral, or up to an octagon where the
    photo cuts corners), clearly brighter than what lies around it, which must be mostly
    dark (a table, not a shadow on the paper).
    """
    h, w = gray.shape
    factor = min(1.0, _SHEET_SIDE / max(h, w))
    small = _resize(gray, factor)
    scaled = small * 255
    u8 = np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    threshold, separability = _otsu(u8)
    if separability < 0.6:
        return None
    bright = (u8 > threshold).astype(np.uint8)
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    if border.mean() > 0.9:
        return None  # paper all around the edges: no table in view
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count <= 1:
        return None
    region = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    total, hull_area = float(u8.size), float(cv2.contourArea(hull))
    if not 0.12 * total <= hull_area <= 0.95 * total:
        return None
    if cv2.contourArea(contour) < 0.93 * hull_area:
        return None  # a concave bright region: lit paper around a shadow, not a sheet
    if len(cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)) > 8:
        return None
    inside = np.zeros_like(u8)
    cv2.fillPoly(inside, [hull], 1)
    if float(bright[inside > 0].mean()) < SHEET_FILL:
        return None  # hollow: a bright stroke (the ring of a 0) on a dark ground, not paper
    outside = inside == 0
    contrast = float(np.median(small[inside > 0])) - float(np.median(small[outside]))
    if contrast < SHEET_CONTRAST:
        return None
    if float(bright[outside].mean()) > 0.3:
        return None  # paper around it too: the dark part is a shadow or a drawing
    # A sheet's outline is a sharp step; light falling off or a soft shadow is not.
    ring = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    rim_in = (inside > 0) & (cv2.erode(inside, ring) == 0)
    rim_out = (cv2.dilate(inside, ring) > 0) & outside
    step = float(np.median(small[rim_in])) - float(np.median(small[rim_out]))
    if rim_out.any() and step < 0.5 * contrast:
        return None
    mask = np.zeros((h, w), dtype=np.uint8)
    points = np.round((hull.reshape(-1, 2) + 0.5) / factor - 0.5).astype(np.int32)
    cv2.fillPoly(mask, [points], 1)
    margin = _odd(max(3, SHEET_MARGIN * max(h, w)))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (margin, margin)))


def _remove_lines(ink: np.ndarray) -> np.ndarray:
    """Erase long thin straight marks that cross the whole image horizontally or
    vertically, within a few degrees: the lines of ruled and squared paper, page and
    table edges. A morphological opening with a long line finds them; pixels much
    darker than the lines (pen strokes crossing them) are kept."""
    smooth = cv2.GaussianBlur(ink, (0, 0), 1.0)
    mask = (smooth > LINE_LEVEL).astype(np.uint8)
    if not mask.any():
        return ink
    lines = _horizontal_lines(mask) | _horizontal_lines(np.ascontiguousarray(mask.T)).T
    if not lines.any():
        return ink
    lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    level = float(np.median(smooth[lines > 0]))
    keep = smooth > max(2.0 * level, level + 0.2)
    out = ink.copy()
    out[(lines > 0) & ~keep] = 0.0
    return out


def _horizontal_lines(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (uint8 0/1) on thin lines spanning `LINE_SPAN` of its width.

    Found on a copy squeezed `_LINE_SQUEEZE` times along the lines (fast): thickened
    across them (so that slightly tilted lines keep long runs), then opened with a line
    a sixth of the width long.
    """
    h, w = mask.shape
    step = _LINE_SQUEEZE
    narrow = cv2.resize(mask * 255, (max(1, w // step), h), interpolation=cv2.INTER_AREA)
    narrow = (narrow > 0).astype(np.uint8)
    k = max(4, w // 6 // step)
    thick = cv2.dilate(narrow, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 7)))
    runs = cv2.morphologyEx(
        thick, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1))
    )
    lines = np.zeros_like(mask)
    if runs.any(axis=0).sum() < LINE_SPAN * runs.shape[1] - 1:
        return lines  # no run, or runs that together do not span the width
    count, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    scale = w / narrow.shape[1]
    for index in np.flatnonzero(stats[1:, cv2.CC_STAT_WIDTH] * scale >= LINE_SPAN * w) + 1:
        x, y, bw, bh, _ = stats[index]
        x0, x1 = int(x * scale), min(w, int(np.ceil((x + bw) * scale)))
        inside = labels[y : y + bh, x : x + bw] == index
        wide = cv2.resize(inside.astype(np.uint8), (x1 - x0, bh), interpolation=cv2.INTER_NEAREST)
        member = wide & mask[y : y + bh, x0:x1]
        if member.sum() <= LINE_THINNESS * float(x1 - x0) ** 2:
            lines[y : y + bh, x0:x1] |= member
    return lines


def _flatten_sheet(
    tone: np.ndarray, sheet: np.ndarray | None, size: float, side: int, ratio: bool = False
) -> np.ndarray:
    """Ink image (bright ink) with the background removed (see `_flatten_background`);
    outside the sheet (when one was found) is first painted with the paper's tone, then
    set to no ink."""
    if sheet is None:
        return _flatten_background(tone, size, side, ratio)
    paper = np.float32(np.median(tone[sheet > 0][::7]))
    ink = _flatten_background(np.where(sheet > 0, tone, paper), size, side, ratio)
    return ink * sheet


def _tones(
    array: np.ndarray, order: str, factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image scaled by ``factor`` as (gray, darkest channel, lightest channel), float32
    in [0, 1]; the three are the same array for gray or transparent images."""
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        small = _resize(array, factor)  # colour photos: scale first, it is faster
        code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
        a, b, c = cv2.split(small)
        scale = np.float32(1 / 255)
        gray = cv2.cvtColor(small, code).astype(np.float32) * scale
        return gray, cv2.min(cv2.min(a, b), c) * scale, cv2.max(cv2.max(a, b), c) * scale
    gray = _resize(_to_gray(array, order), factor)
    extremes = _extremes(array)
    if extremes is None:
        return gray, gray, gray
    return gray, _resize(extremes[0], factor), _resize(extremes[1], factor)


def _tone(tones: tuple[np.ndarray, np.ndarray, np.ndarray], inverted: bool) -> np.ndarray:
    """Colour-aware ink, bright: a pixel is as dark as its darkest channel (blue or red
    ballpoint on white paper), or as light as its lightest one (chalk on a board)."""
    return 1.0 - tones[1] if inverted else tones[2]
