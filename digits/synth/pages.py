"""Numbers where people write them: in a form box, in a table cell cut loosely from a table,
on ruled or squared paper, underlined, and in thin pen in a large phone photo of grey paper.

Each setting takes a number's ink (`digits.synth.numbers.compose`, float alpha) and returns
the page as a uint8 gray image, dark on light:

- ``box``: a box drawn by hand around the number (wobbly, any pen), or printed (straight);
- ``cell``: the number in one cell of a ruled table, the cell cut out loosely, so parts of
  its borders and of the neighbouring cells' lines stay at the edges;
- ``ruled``: lines across the page a line-height apart, the digits resting on one;
- ``squared``: a grid of light squares under the writing;
- ``underlined``: a pen stroke under the number, longer than it, slightly tilted;
- ``thin_pen_photo``: the strokes thinned to a 3-12 px pen at 3000-4000 px, blue or black,
  on grey, tinted paper with uneven light and sensor noise: the number small in a large
  photo (`thin_pen_photo` alone makes one from digits).

Nothing here is drawn from other people's images; `python -m digits.eval pages` reads them.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SETTINGS", "grey_paper", "page", "photographed", "thin_pen_photo"]

SETTINGS = ("box", "cell", "ruled", "squared", "underlined", "thin_pen_photo")


def _ink_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the ink (alpha > 0.3)."""
    rows = np.flatnonzero((alpha > 0.3).any(axis=1))
    cols = np.flatnonzero((alpha > 0.3).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _padded(alpha: np.ndarray, rng: np.random.Generator, margin: float) -> np.ndarray:
    """The ink cropped to itself with ``margin`` digit heights of room on every side (each
    side drawn from 0.6-1.4 times it)."""
    x0, y0, x1, y1 = _ink_box(alpha)
    h = y1 - y0
    pads = [int(margin * h * rng.uniform(0.6, 1.4)) + 2 for _ in range(4)]
    return cv2.copyMakeBorder(alpha[y0:y1, x0:x1], *pads, cv2.BORDER_CONSTANT, value=0)


def _line(layer: np.ndarray, a, b, width: float, wobble: float, rng) -> None:
    """Draw a pen line from ``a`` to ``b`` on ``layer`` (alpha, in place), bent by
    ``wobble`` px at a few points along it."""
    points = np.linspace(a, b, 6)
    normal = np.array([a[1] - b[1], b[0] - a[0]], np.float64)
    normal /= max(np.linalg.norm(normal), 1e-6)
    points[1:-1] += normal * rng.normal(0, wobble, (4, 1))
    thickness = max(1, int(round(width)))
    scaled = np.round(points * 4).astype(np.int32)  # sub-pixel precision: shift 2
    cv2.polylines(layer, [scaled], False, 1.0, thickness, cv2.LINE_AA, shift=2)


def _box(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ink = _padded(alpha, rng, 0.55)
    x0, y0, x1, y1 = _ink_box(ink)
    h, w = ink.shape
    digit = y1 - y0
    room = rng.uniform(0.08, 0.4, 4) * digit  # between the number and the box
    left, top = max(1.0, x0 - room[0]), max(1.0, y0 - room[1])
    right, bottom = min(w - 2.0, x1 + room[2]), min(h - 2.0, y1 + room[3])
    corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
    hand = rng.random() < 0.6
    width = rng.uniform(1, max(1.5, 0.08 * digit)) if hand else rng.uniform(1, 3)
    lines = np.zeros_like(ink)
    for a, b in zip(corners, corners[1:] + corners[:1]):
        jitter = rng.normal(0, 0.02 * digit, 2) if hand else 0
        _line(lines, np.array(a) + jitter, np.array(b), width, 0.02 * digit * hand, rng)
    return ink, lines


def _cell(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ink = _padded(alpha, rng, 1.2)
    x0, y0, x1, y1 = _ink_box(ink)
    h, w = ink.shape
    digit = y1 - y0
    lines = np.zeros_like(ink)
    width = rng.uniform(1, max(1.5, 0.05 * digit))
    room = rng.uniform(0.08, 0.45, 4) * digit  # inside the cell, around the number
    left, top, right, bottom = x0 - room[0], y0 - room[1], x1 + room[2], y1 + room[3]
    for y in (top, bottom):
        _line(lines, (0, y), (w - 1, y + rng.uniform(-0.01, 0.01) * w), width, 0, rng)
    for x in (left, right):
        _line(lines, (x, 0), (x + rng.uniform(-0.02, 0.02) * h, h - 1), width, 0, rng)
    # cut loosely: each edge of the crop lands from well outside its border (the next
    # cells' lines show) to just inside it (the border cut away), never into the number
    border = np.array([left, top, w - right, h - bottom])
    ink_at = np.array([x0, y0, w - x1, h - y1])
    cut = border + rng.uniform(-0.6 * digit, 0.0, 4) + rng.uniform(0, 1, 4) * 0.6 * room
    cut = np.clip(cut, 0, ink_at - 2).astype(int)
    return ink[cut[1] : h - cut[3], cut[0] : w - cut[2]], lines[
        cut[1] : h - cut[3], cut[0] : w - cut[2]
    ]


def _ruled(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ink = _padded(alpha, rng, 0.8)
    x0, y0, x1, y1 = _ink_box(ink)
    h, w = ink.shape
    digit = y1 - y0
    spacing = rng.uniform(1.15, 1.6) * digit
    base = y1 + rng.uniform(-0.1, 0.15) * digit
    lines = np.zeros_like(ink)
    width = rng.uniform(1, max(1.5, 0.04 * digit))
    slope = rng.uniform(-0.01, 0.01)
    for k in range(-3, 4):
        y = base + k * spacing
        if -width < y < h + width:
            _line(lines, (0, y), (w - 1, y + slope * w), width, 0, rng)
    return ink, lines * rng.uniform(0.35, 0.8)


def _squared(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ink = _padded(alpha, rng, 0.6)
    h, w = ink.shape
    digit = h / 2.2
    step = rng.uniform(0.45, 0.8) * digit
    lines = np.zeros_like(ink)
    width = rng.uniform(1, max(1.2, 0.03 * digit))
    ox, oy = rng.uniform(0, step, 2)
    for x in np.arange(ox, w, step):
        _line(lines, (x, 0), (x, h - 1), width, 0, rng)
    for y in np.arange(oy, h, step):
        _line(lines, (0, y), (w - 1, y), width, 0, rng)
    return ink, lines * rng.uniform(0.25, 0.6)


def _underlined(alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ink = _padded(alpha, rng, 0.5)
    x0, y0, x1, y1 = _ink_box(ink)
    digit = y1 - y0
    lines = np.zeros_like(ink)
    y = y1 + rng.uniform(0.05, 0.3) * digit
    a = (max(0, x0 - rng.uniform(0, 0.3) * digit), y + rng.uniform(-0.08, 0.08) * digit)
    b = (min(ink.shape[1] - 1, x1 + rng.uniform(0, 0.3) * digit), y)
    _line(lines, a, b, rng.uniform(1, max(1.5, 0.08 * digit)), 0.02 * digit, rng)
    return ink, lines


_LAYOUTS = {
    "box": _box,
    "cell": _cell,
    "ruled": _ruled,
    "squared": _squared,
    "underlined": _underlined,
}


def page(alpha: np.ndarray, rng: np.random.Generator, setting: str) -> np.ndarray:
    """A number's ink (float alpha, as `digits.synth.numbers.compose` lays it out) written
    in ``setting`` (one of `SETTINGS`) -> uint8 gray page, dark ink on light paper."""
    if setting == "thin_pen_photo":
        return thin_pen_photo(alpha, rng)
    if setting not in _LAYOUTS:
        raise ValueError(f"setting must be one of {', '.join(SETTINGS)}, not {setting!r}")
    ink, lines = _LAYOUTS[setting](alpha, rng)
    paper = rng.uniform(0.82, 0.97)
    gray = paper * (1 - np.clip(lines, 0, 1)) + rng.uniform(0.2, 0.5) * np.clip(lines, 0, 1)
    gray = gray * (1 - ink) + rng.uniform(0.03, 0.3) * ink
    gray += rng.normal(0, rng.uniform(0.0, 0.02), gray.shape)
    return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)


def _thinned(alpha: np.ndarray, height: int, pen: int) -> np.ndarray:
    """The ink scaled so its digits are ``height`` px tall, its strokes thinned to their
    centre lines and drawn again with a round pen ``pen`` px wide (float alpha)."""
    from skimage.morphology import skeletonize

    x0, y0, x1, y1 = _ink_box(alpha)
    scale = height / max(1, y1 - y0)
    big = cv2.resize(alpha, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    skeleton = skeletonize(big > 0.5).astype(np.uint8)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (pen, pen))
    stroke = cv2.dilate(skeleton, disc).astype(np.float32)
    return cv2.GaussianBlur(stroke, (0, 0), 0.6)


def grey_paper(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A photo of grey, tinted paper in uneven light, ``size`` ``(width, height)``, with
    nothing written on it: float32 RGB in [0, 1]."""
    w, h = size
    grey = rng.uniform(0.45, 0.75)
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    yy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0.0, 0.3) * (np.cos(angle) * xx + np.sin(angle) * yy + 0.5)
    tint = np.array([1.0, 0.98, 0.93], np.float32) * rng.uniform(0.93, 1.0, 3).astype(np.float32)
    return (grey * light)[:, :, None] * tint


def photographed(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A float RGB page with the camera's sensor noise -> uint8 RGB."""
    h, w = page.shape[:2]
    page = page + rng.normal(0, rng.uniform(0.005, 0.02), (h, w, 1)).astype(np.float32)
    return np.round(np.clip(page, 0, 1) * 255).astype(np.uint8)


def thin_pen_photo(
    alpha: np.ndarray, rng: np.random.Generator, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A number (float alpha) written in thin pen on grey, tinted paper (`grey_paper`) and
    photographed at ``size`` ``(width, height)`` (default: 3000x4000 or 4000x3000): RGB
    uint8. Its digits are 4-9% of the photo's longer side tall, its pen 2-3.5% of their
    height (at least 3 px) wide: 1-3 px once the photo is read at 1024 px."""
    if size is None:
        size = (3000, 4000) if rng.random() < 0.5 else (4000, 3000)
    w, h = size
    height = int(rng.uniform(0.04, 0.09) * max(w, h))
    stroke = _thinned(alpha, height, max(3, int(rng.uniform(0.02, 0.035) * height)))
    sh, sw = stroke.shape
    if sw >= w or sh >= h:
        raise ValueError("the number does not fit the photo; use fewer digits or a larger size")
    x, y = int(rng.uniform(0.1, 0.9) * (w - sw)), int(rng.uniform(0.1, 0.9) * (h - sh))
    coverage = np.zeros((h, w, 1), np.float32)
    coverage[y : y + sh, x : x + sw, 0] = stroke * rng.uniform(0.6, 0.95)
    pen = np.array([0.1, 0.15, 0.45] if rng.random() < 0.5 else [0.1, 0.1, 0.12], np.float32)
    page = grey_paper(rng, size) * (1 - coverage) + pen * coverage
    return photographed(page, rng)
