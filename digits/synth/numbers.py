"""Make the number benchmark: handwritten numbers of 2-8 MNIST *test* digits, as users hand
them in.

Each number gets a random digit height (24-110 px), per-digit size, baseline and slant
jitter, a slight tilt of the whole line, and is rendered either as a dark-on-light photo
(paper texture, uneven lighting, noise, JPEG) or as black ink on a transparent canvas
(RGBA PNG). Four sets, same seed, different digits:

- ``separated``: neighbours 0.12-0.6 digit heights apart, never touching;
- ``touching``: every pair of neighbours touches or overlaps (up to 12% of the height);
- ``overlapping``: every pair overlaps by 12-30% of the height;
- ``detached``: separated, about half of the digits 4s and 5s that their writers drew in
  separate strokes (a lifted bar or stem).

    python -m digits.synth numbers      # build/sets/numbers, checked against its manifest

writes ``OUT/SET/NNNN.{jpg,png}`` and ``OUT/labels.csv`` (set, file, text, style, and
hidden: the largest share of one digit's ink under its neighbours', `hidden_shares`);
``python -m digits.eval numbers`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from digits.synth import samples

SETS = ("separated", "touching", "overlapping", "detached")
STYLES = ("photo", "canvas")


def _digit_alpha(digit: np.ndarray, height: float, slant: float) -> np.ndarray:
    """A 28x28 MNIST digit -> its ink (alpha in [0, 1]) scaled so that 20 MNIST pixels are
    ``height`` px, slanted by ``slant`` degrees, cropped to the ink."""
    side = max(28, int(round(28 * (height / 20.0))))
    alpha = samples.upscale(digit, side)
    if slant:
        alpha = samples.rotate(alpha, slant, side // 4)
    return samples.trim(alpha)


def _touches(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int) -> bool:
    """Whether ``alpha`` placed at (x, y) touches ink already on ``canvas`` (within 1 px)."""
    h, w = alpha.shape
    ink = cv2.copyMakeBorder((alpha > 0.3).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT)
    grown = cv2.dilate(ink, np.ones((3, 3), np.uint8)) > 0  # its origin is (x - 1, y - 1)
    rows, cols = canvas.shape
    cx0, cy0 = max(0, x - 1), max(0, y - 1)
    cx1, cy1 = min(cols, x + w + 1), min(rows, y + h + 1)
    region = canvas[cy0:cy1, cx0:cx1] > 0.3
    near = grown[cy0 - (y - 1) : cy1 - (y - 1), cx0 - (x - 1) : cx1 - (x - 1)]
    return bool((region & near).any())


def compose(
    digits: list[np.ndarray], rng: np.random.Generator, spacing: str, hidden: list | None = None
) -> np.ndarray:
    """Lay MNIST digits out on one line -> ink alpha (float32, 0 = no ink); ``spacing`` is
    ``separated`` (or ``detached``), ``touching`` or ``overlapping``. Given a list,
    ``hidden`` receives each digit's share of ink under its neighbours' (`hidden_shares`)."""
    height = rng.uniform(24, 110)
    alphas = [_digit_alpha(d, height * rng.uniform(0.88, 1.12), rng.uniform(-6, 6)) for d in digits]
    width = int(sum(a.shape[1] for a in alphas) + len(alphas) * 0.7 * height + 2 * height)
    rows = int(2.2 * height)
    canvas = np.zeros((rows, width), np.float32)
    x, placed = int(0.5 * height), []
    for index, alpha in enumerate(alphas):
        h, w = alpha.shape
        y = int(np.clip(rows / 2 - h / 2 + rng.uniform(-0.08, 0.08) * height, 0, rows - h))
        if index:
            if spacing == "touching":
                x = _slide_left(canvas, alpha, x, y, int(rng.uniform(0.0, 0.12) * height))
            elif spacing == "overlapping":
                x = _slide_left(canvas, alpha, x, y, int(rng.uniform(0.12, 0.3) * height))
            else:
                x += int(rng.uniform(0.12, 0.6) * height)
                while _touches(canvas, alpha, x, y):
                    x += 1
        region = canvas[y : y + h, x : x + w]
        np.maximum(region, alpha[:, : region.shape[1]], out=region)
        placed.append((x, y, alpha[:, : region.shape[1]]))
        x += w
    if hidden is not None:
        hidden.extend(hidden_shares(canvas.shape, placed))
    canvas = canvas[:, : x + int(0.5 * height)]
    return _tilt(canvas, rng.uniform(-4, 4))


def hidden_shares(shape: tuple[int, int], placed: list) -> list[float]:
    """Each digit's share of ink (alpha > 0.3) that lies on other digits' ink, from their
    places ``(x, y, alpha)`` on a canvas of ``shape``: 1.0 is a digit nobody can see."""
    masks = []
    for x, y, alpha in placed:
        mask = np.zeros(shape, bool)
        mask[y : y + alpha.shape[0], x : x + alpha.shape[1]] = alpha > 0.3
        masks.append(mask)
    shared = np.sum(masks, axis=0) > 1  # ink of two digits or more
    return [float((mask & shared).sum() / max(1, mask.sum())) for mask in masks]


def _slide_left(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int, extra: int) -> int:
    """Move a digit left from x until it touches the ink on the canvas, then ``extra`` px more."""
    start = x
    while x > 0 and not _touches(canvas, alpha, x, y) and start - x < 3 * alpha.shape[1]:
        x -= 1
    return max(0, x - extra)


def _tilt(canvas: np.ndarray, degrees: float) -> np.ndarray:
    h, w = canvas.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos) + 2, int(h * cos + w * sin) + 2
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    return cv2.warpAffine(canvas, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=0)


def render(alpha: np.ndarray, rng: np.random.Generator, style: str) -> np.ndarray:
    """Ink alpha -> uint8 image: a photo (gray or RGB) or an RGBA canvas."""
    h, w = alpha.shape
    if style == "canvas":
        out = np.zeros((h, w, 4), np.uint8)
        out[:, :, 3] = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
        return out
    paper = np.full((h, w), rng.uniform(0.82, 0.97), np.float32)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (max(2, h // 8), max(2, w // 8))), (0, 0), 1.0)
    coarse = coarse.astype(np.float32) / max(float(coarse.std()), 1e-6)
    paper += rng.uniform(0.0, 0.02) * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    ink = rng.uniform(0.03, 0.3)
    gray = paper * (1 - alpha) + ink * alpha
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    yy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    gray = gray * (1 - rng.uniform(0.0, 0.35) * (np.cos(angle) * xx + np.sin(angle) * yy + 0.5))
    gray = gray + rng.normal(0, rng.uniform(0.0, 0.025), gray.shape).astype(np.float32)
    if rng.random() < 0.4:
        tint = np.array([1.0, 0.97, 0.9], np.float32) * rng.uniform(0.95, 1.0, 3)
        gray = gray[:, :, None] * tint.astype(np.float32)
    return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)


def make_set(
    out: Path, images: np.ndarray, labels: np.ndarray, count: int, seed: int
) -> list[dict]:
    """Write the four sets under ``out``; returns the rows of ``labels.csv``."""
    rows = []
    pool = detached_pool(images, labels)
    for set_index, name in enumerate(SETS):
        rng = np.random.default_rng([seed, set_index])
        for number in range(count):
            chosen = draw_digits(rng, len(images), name, pool)
            hidden: list[float] = []
            alpha = compose([images[i] for i in chosen], rng, spacing=name, hidden=hidden)
            style = STYLES[number % 2]
            image = render(alpha, rng, style)
            ext = ".jpg" if style == "photo" else ".png"
            file = f"{name}/{number:04d}{ext}"
            samples.save(out / file, image, quality=int(rng.integers(60, 93)))
            text = "".join(str(int(labels[i])) for i in chosen)
            share = f"{max(hidden):.3f}"
            rows.append({"set": name, "file": file, "text": text, "style": style, "hidden": share})
    samples.save_labels(out / "labels.csv", rows)
    return rows


def draw_digits(rng: np.random.Generator, count: int, name: str, pool: np.ndarray) -> np.ndarray:
    """The indexes of one number's digits: 2-8 distinct ones of ``count``; for the
    ``detached`` set, about half of them replaced from ``pool`` (`_with_detached`)."""
    chosen = rng.choice(count, size=int(rng.integers(2, 9)), replace=False)
    return _with_detached(chosen, pool, rng) if name == "detached" else chosen


def _with_detached(chosen: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``chosen`` with about half of its digits replaced by 4s and 5s drawn in pieces."""
    swap = rng.random(len(chosen)) < 0.5
    swap[rng.integers(len(chosen))] = True  # at least one
    out = chosen.copy()
    out[swap] = rng.choice(pool, size=int(swap.sum()))
    return out


def detached_pool(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indexes of the 4s and 5s drawn in two or more separate strokes (pieces of at least
    3 px of ink above half intensity): the bar of a 5 or the stem of a 4 lifted."""
    pool = []
    for i in np.flatnonzero(np.isin(labels, (4, 5))):
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            (images[i] > 127).astype(np.uint8), connectivity=8
        )
        if (stats[1:, cv2.CC_STAT_AREA] >= 3).sum() >= 2:
            pool.append(i)
    return np.array(pool, np.int64)
