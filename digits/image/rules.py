"""Take box and cell borders, ruling and underlines out of a number's ink mask.

Numbers are written in form boxes and table cells, on ruled paper, and are underlined; a
cell cut loosely from a table keeps parts of its borders. Read as ink, a border beside a
number is one more digit ("69" read "691"). `strip_rules` removes the long straight marks
of a mask that cannot be part of a digit:

1. **candidates**: runs of ink at least `LINE_SHARE` of the image's width (or height) long,
   found by a morphological opening with a long line, on a copy thickened across the line
   so that a line tilted a few degrees keeps long runs;
2. **where lines are**: a candidate is kept only near the image's border (its middle within
   `BORDER_BAND` of a side: a cell's borders, a box's sides) or when it crosses nearly the
   whole image (`SPAN`: ruling, an underline drawn across);
3. **longer than digits**: and only when it is at least `LINE_LENGTH` times as long as the
   tallest mark left once the candidates are out, or when it runs down from one such line
   across to another (the sides of a box drawn tight around the number). A 1, the bar
   of a 7 or a minus sign is never that long beside the digits it belongs with; when
   nothing else is left, nothing is removed;
4. pixels of a line where other ink meets it from across are kept: a pen stroke that
   crosses or rests on the line stays whole;
5. what a loose crop left of a border it cut through goes too: a sliver along a side of
   the image, at most `SLIVER` of its height wide (`_edge_slivers`).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "BORDER_BAND",
    "GAP",
    "LINE_LENGTH",
    "LINE_SHARE",
    "SIDE_STRIP",
    "SLIVER",
    "SPAN",
    "strip_rules",
]

#: Runs of ink at least this share of the image's extent along them are candidate lines.
LINE_SHARE = 0.4

#: A candidate whose middle lies within this share of the image's side from it is a border.
BORDER_BAND = 0.2

#: A candidate this share of the image's extent long is a line wherever it lies.
SPAN = 0.85

#: Marks wholly within this share of the width from a side are pieces of a border.
SIDE_STRIP = 0.1

#: Gaps in a line up to this share of the image's extent along it are bridged.
GAP = 0.05

#: A line is at least this many times as long as the tallest mark left beside it.
LINE_LENGTH = 1.3

#: Dashes of a broken border are at most this share of the digits' height wide.
DASH_WIDTH = 0.15

#: Marks touching a side no wider than this share of their height are a cut border.
SLIVER = 0.08

#: Marks with less ink than this share of the largest one's do not set the digits' height.
_SMALL = 0.1

#: Marks with less than this share of their ink outside the candidates are lines.
_MOSTLY = 0.5


def _runs(mask: np.ndarray) -> np.ndarray:
    """The horizontal runs of ``mask`` (uint8 0/1) `LINE_SHARE` of its width long, with the
    gaps of a dashed or broken line (`GAP` of the width) bridged: uint8 0/1, covering the
    run's pixels of ``mask`` and the bridges between them."""
    h, w = mask.shape
    k = max(8, int(round(LINE_SHARE * w)))
    across = max(3, int(round(0.03 * min(h, w))) | 1)  # a tilt of about 2 degrees
    along = max(1, int(round(GAP * w)) | 1)
    thick = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (along, across)))
    line = cv2.getStructuringElement(cv2.MORPH_RECT, (k + along, 1))
    return cv2.morphologyEx(thick, cv2.MORPH_OPEN, line)


def _placed(runs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components of horizontal ``runs`` (bridged, `_runs`) near the top or bottom or
    spanning the width, on ``mask``'s pixels, and the lengths of those components (0
    elsewhere)."""
    h, w = runs.shape
    count, labels, _, centres = cv2.connectedComponentsWithStats(runs, connectivity=8)
    labels *= mask
    ys, xs = np.nonzero(labels)
    left, right = np.full(count, w), np.full(count, -1)
    np.minimum.at(left, labels[ys, xs], xs)
    np.maximum.at(right, labels[ys, xs], xs)
    extent = np.maximum(right - left + 1, 0)  # of the ink itself, not of its bridges
    length = np.zeros(count, np.int32)
    for i in range(1, count):
        y = centres[i][1] / h
        near = min(y, 1 - y) <= BORDER_BAND
        if near or extent[i] >= SPAN * w:
            length[i] = extent[i]
    return labels, length


def _tallest(mask: np.ndarray, candidates: np.ndarray) -> int:
    """The longer side of the largest mark of ``mask`` that is not a speck, measured on its
    pixels that are not ``candidates``; marks mostly made of candidates are left out
    (0 when none is left)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    ys, xs = np.nonzero(mask & (1 - candidates))
    if count <= 1 or not len(ys):
        return 0
    owner = labels[ys, xs]
    top, bottom = np.full(count, mask.shape[0]), np.full(count, -1)
    left, right = np.full(count, mask.shape[1]), np.full(count, -1)
    np.minimum.at(top, owner, ys)
    np.maximum.at(bottom, owner, ys)
    np.minimum.at(left, owner, xs)
    np.maximum.at(right, owner, xs)
    rest = np.bincount(owner, minlength=count)
    areas = stats[:, cv2.CC_STAT_AREA]
    kept = (rest >= _MOSTLY * areas) & (areas >= _SMALL * areas[1:].max())
    kept[0] = False
    sides = np.maximum(bottom - top, right - left) + 1  # a minus sign is a mark too
    return int(sides[kept].max()) if kept.any() else 0


def _side_pieces(mask: np.ndarray, height: int) -> np.ndarray:
    """The thin marks of ``mask`` (at most `DASH_WIDTH` of ``height`` wide) that lie wholly
    within `SIDE_STRIP` of its left or right side, when together they run down at least
    `LINE_SHARE` of its height and `LINE_LENGTH` times ``height``: a border broken into
    dashes. A 1 by the side is wider than a dash."""
    h, w = mask.shape
    strip = max(2, int(round(SIDE_STRIP * w)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
    thin = stats[:, cv2.CC_STAT_WIDTH] <= max(3, DASH_WIDTH * height)
    pieces = np.zeros(count, bool)
    for inside in (thin & (x1 <= strip), thin & (x0 >= w - strip)):
        inside[0] = False
        if inside.any():
            run = int(y1[inside].max() - y0[inside].min())
            if run >= max(LINE_SHARE * h, LINE_LENGTH * height):
                pieces |= inside
    return pieces[labels].astype(np.uint8)


def _box_sides(labels: np.ndarray, length: np.ndarray, across: np.ndarray) -> np.ndarray:
    """The candidate runs down (``labels``, ``length`` as `_placed` gives them) whose top
    and bottom ends both meet a line across (``across``): the sides of a box, however
    short (a box drawn tight around the number has sides no longer than its digits)."""
    h = labels.shape[0]
    reach = 2 * max(3, int(0.04 * h)) + 1
    near = cv2.dilate(across, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach))) > 0
    sides = np.zeros(len(length), bool)
    for i in np.flatnonzero(length > 0):
        ys, xs = np.nonzero(labels == i)
        top, bottom = ys == ys.min(), ys == ys.max()
        sides[i] = bool(near[ys[top], xs[top]].any() and near[ys[bottom], xs[bottom]].any())
    return sides[labels].astype(np.uint8)


def _edge_slivers(mask: np.ndarray) -> np.ndarray:
    """The marks of ``mask`` that touch its left or right edge and are at most `SLIVER`
    of their height wide, and run down `LINE_SHARE` of it: what a loose crop leaves of a
    border it cut through. A digit that touches the frame is a cut digit too."""
    h, w = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x0, width = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_WIDTH]
    tall = stats[:, cv2.CC_STAT_HEIGHT]
    edge = (x0 == 0) | (x0 + width == w)
    slivers = edge & (width <= np.maximum(2, SLIVER * tall)) & (tall >= LINE_SHARE * h)
    slivers[0] = False
    return slivers[labels].astype(np.uint8)


def _crossed(lines: np.ndarray, rest: np.ndarray, vertical: bool) -> np.ndarray:
    """The pixels of ``lines`` that other ink (``rest``) meets across the line."""
    reach = (1, 3) if not vertical else (3, 1)
    near = cv2.dilate(rest, cv2.getStructuringElement(cv2.MORPH_RECT, reach))
    return lines & near


def strip_rules(mask: np.ndarray) -> np.ndarray:
    """``mask`` (uint8 0/1) without box and cell borders, ruling and underlines (see the
    module docstring); the mask itself when it has none."""
    across_labels, across_length = _placed(_runs(mask), mask)
    turned = np.ascontiguousarray(mask.T)
    down_labels, down_length = _placed(_runs(turned), turned)
    down_labels = np.ascontiguousarray(down_labels.T)
    candidates = ((across_length[across_labels] > 0) | (down_length[down_labels] > 0)).astype(
        np.uint8
    )
    if not candidates.any():
        return mask
    height = _tallest(mask, candidates)
    if height == 0:
        return mask  # nothing but long strokes: a 1, a dash; not a box
    across = (across_length[across_labels] >= LINE_LENGTH * height).astype(np.uint8)
    down = (down_length[down_labels] >= LINE_LENGTH * height).astype(np.uint8)
    if across.any():
        down |= _box_sides(down_labels, down_length, across)
    lines = across | down
    rest = mask & (1 - lines)
    keep = _crossed(across, rest, vertical=False) | _crossed(down, rest, vertical=True)
    stripped = mask & (1 - (lines & (1 - keep)))
    sides = _side_pieces(stripped, height) | _side_pieces(stripped.T, height).T
    stripped &= 1 - sides
    slivers = _edge_slivers(stripped) | _edge_slivers(np.ascontiguousarray(stripped.T)).T
    return stripped & (1 - slivers)
