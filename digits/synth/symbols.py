"""Make a set of handwritten-looking symbols for custom training: ``+ - = / x`` and the
digits 0-9, one folder per class, as `digits train --data` expects.

Each image is a Hershey font glyph (OpenCV's single-stroke fonts, script ones included) in
a random font, size and pen width, with stroke jitter (a smooth random displacement field),
a random rotation and shear, drawn in dark ink on light, slightly noisy paper. Folder
names are the class names; ``/`` cannot be a folder name, so its class is ``slash``.

    python -m digits.synth symbols      # build/sets/symbols: 200 + 60 images per class

`make` writes ``OUT/train/CLASS/NNNN.png`` and ``OUT/test/CLASS/NNNN.png`` (different random
draws: the test part is never trained on).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from digits.synth import samples

#: Class (folder) name -> the glyph drawn.
GLYPHS = {
    "+": "+",
    "-": "-",
    "=": "=",
    "slash": "/",
    "x": "x",
    **{str(d): str(d) for d in range(10)},
}
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)

#: Stroke widths (px on the 240 px canvas, upper bound excluded) of the default drawings.
PEN = (3, 10)


def _jitter(ink: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Move the strokes by a smooth random displacement field (``amount`` px at most)."""
    h, w = ink.shape
    field = rng.normal(0, 1, (2, h // 60 + 2, w // 60 + 2)).astype(np.float32)
    dx, dy = (cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) * amount for f in field)
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(ink, xx + dx, yy + dy, cv2.INTER_LINEAR, borderValue=0)


def draw(
    glyph: str, rng: np.random.Generator, pen: tuple[int, int] = PEN, fonts: tuple = FONTS
) -> np.ndarray:
    """One handwritten-looking glyph: uint8 gray image, dark ink on light paper.

    ``pen``: the range of stroke widths in px on the 240 px canvas (upper bound excluded);
    ``fonts``: the fonts drawn from. Other values than the defaults make styles a set made
    with the defaults never holds (e.g. a thick marker, ``pen=(16, 23)``)."""
    canvas = np.zeros((240, 240), np.uint8)
    font = fonts[int(rng.integers(len(fonts)))]
    scale = rng.uniform(3.0, 4.5)
    thickness = int(rng.integers(*pen))
    (tw, th), _ = cv2.getTextSize(glyph, font, scale, thickness)
    origin = ((240 - tw) // 2, (240 + th) // 2)
    cv2.putText(canvas, glyph, origin, font, scale, 255, thickness, cv2.LINE_AA)
    canvas = _jitter(canvas.astype(np.float32) / 255.0, rng, rng.uniform(2.0, 5.0))
    matrix = cv2.getRotationMatrix2D((120, 120), rng.uniform(-10, 10), rng.uniform(0.85, 1.1))
    matrix[0, 1] += rng.uniform(-0.2, 0.2)
    canvas = cv2.warpAffine(canvas, matrix, (240, 240), flags=cv2.INTER_LINEAR, borderValue=0)
    rows = np.flatnonzero(canvas.max(axis=1) > 0.1)
    cols = np.flatnonzero(canvas.max(axis=0) > 0.1)
    ink = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = int(max(ink.shape) * rng.uniform(1.3, 1.8))
    alpha = np.zeros((side, side), np.float32)
    top = int(rng.integers(0, side - ink.shape[0] + 1))
    left = int(rng.integers(0, side - ink.shape[1] + 1))
    alpha[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    size = int(rng.integers(64, 161))
    alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)
    paper, tone = rng.uniform(0.82, 0.98), rng.uniform(0.02, 0.3)
    image = paper * (1 - alpha) + tone * alpha
    image += rng.normal(0, rng.uniform(0.0, 0.03), image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def make(out: Path, per_class: int, test_per_class: int, seed: int) -> int:
    """Write ``out/train`` and ``out/test``; returns the number of images written."""
    written = 0
    for part, count in (("train", per_class), ("test", test_per_class)):
        for index, (name, glyph) in enumerate(sorted(GLYPHS.items())):
            rng = np.random.default_rng([seed, index, part == "test"])
            for number in range(count):
                samples.save(out / part / name / f"{number:04d}.png", draw(glyph, rng))
                written += 1
    return written
