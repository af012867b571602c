"""Write the non-digit set `data/nondigits/`: shapes, letters and symbols drawn like users'
pictures of digits, to measure how often the model answers a confident digit for them.

Each item is first drawn as an MNIST-style 28x28 image (white strokes on black, fitting a
20x20 box, random stroke width, slant and jitter) and then rendered by
`digits.synth.samples.render` with the options of a random robustness kind (clean, small, large,
thin, thick, rotated, jpeg, noise, rgba, photo ...), exactly as the robustness set renders
real MNIST digits. Items that are a digit in disguise are left out: O (0), I and l (1),
Z (2), S (5), G and b (6), T (7), B (8), q and g (9), a circle (0), a single vertical
stroke (1).
Writes ``data/nondigits/<kind>/<item>_<n>.<ext>`` and ``data/nondigits/labels.csv``.
The seed is fixed, so running it again gives the same files.

    python scripts/make_nondigit_set.py [--out data/nondigits] [--per-item 8] [--seed 11]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from digits.paths import ROOT
from digits.synth import samples

SHAPES = ("triangle", "square", "disc", "hline", "diagonal", "bars", "cross", "face")
SHAPES += ("star", "arrow", "heart", "scribble")
LETTERS = tuple("ACEFHKMNPRUVWXY") + tuple("aehkmnrw")
SYMBOLS = ("$", "#", "@", "%", "&", "+", "=", "?", "*", "!")
_CANVAS = 112  # items are drawn at 4x, then reduced to 28x28 like MNIST


def _shape(name: str, rng: np.random.Generator, width: int) -> np.ndarray:
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    c, r = _CANVAS // 2, _CANVAS // 2 - 12
    jitter = lambda: int(rng.integers(-6, 7))  # noqa: E731
    line = dict(color=255, thickness=width, lineType=cv2.LINE_AA)
    if name == "triangle":
        points = np.array([[c + jitter(), c - r], [c - r, c + r], [c + r, c + r + jitter()]])
        cv2.polylines(canvas, [points.astype(np.int32)], True, **line)
    elif name == "square":
        cv2.rectangle(canvas, (c - r + jitter(), c - r), (c + r, c + r + jitter()), **line)
    elif name == "disc":
        cv2.circle(canvas, (c, c), r, 255, -1, cv2.LINE_AA)
    elif name == "ring":
        cv2.ellipse(canvas, (c, c), (r, r - abs(jitter())), 0, 0, 360, **line)
    elif name == "hline":
        cv2.line(canvas, (c - r, c + jitter()), (c + r, c + jitter()), **line)
    elif name == "diagonal":
        cv2.line(canvas, (c - r, c + r), (c + r, c - r), **line)
    elif name == "bars":
        for x in (c - r // 2, c + r // 2):
            cv2.line(canvas, (x + jitter(), c - r), (x, c + r), **line)
    elif name == "cross":
        cv2.line(canvas, (c - r, c - r), (c + r, c + r), **line)
        cv2.line(canvas, (c + r, c - r), (c - r, c + r), **line)
    elif name == "face":
        cv2.circle(canvas, (c, c), r, **line)
        for x in (c - r // 3, c + r // 3):
            cv2.circle(canvas, (x, c - r // 3), max(2, width // 2), 255, -1, cv2.LINE_AA)
        cv2.ellipse(canvas, (c, c + r // 6), (r // 2, r // 3), 0, 20, 160, **line)
    elif name == "star":
        angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
        points = np.stack([c + r * np.cos(angles), c - r * np.sin(angles)], axis=1)
        cv2.polylines(canvas, [points.astype(np.int32)], True, **line)
    elif name == "arrow":
        cv2.arrowedLine(canvas, (c - r, c), (c + r, c + jitter()), 255, width, cv2.LINE_AA, 0, 0.4)
    elif name == "heart":
        t = np.linspace(0, 2 * np.pi, 60)
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t)
        points = np.stack([c + x * r / 17, c - y * r / 17], axis=1)
        cv2.polylines(canvas, [points.astype(np.int32)], True, **line)
    elif name == "scribble":
        points = c + rng.integers(-r, r + 1, size=(6, 2))
        cv2.polylines(canvas, [points.astype(np.int32)], False, **line)
    else:
        raise ValueError(name)
    return canvas


def _text(text: str, rng: np.random.Generator, width: int) -> np.ndarray:
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX]))
    font = int(rng.choice([font, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX]))
    (w, h), _ = cv2.getTextSize(text, font, 3.0, width)
    origin = ((_CANVAS - w) // 2, (_CANVAS + h) // 2)
    cv2.putText(canvas, text, origin, font, 3.0, 255, width, cv2.LINE_AA)
    return canvas


def _mnist_style(drawn: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A drawing (any size, white on black) -> 28x28 with the ink in a 20x20 box, slanted
    and centred like MNIST."""
    shear = rng.uniform(-0.25, 0.25)
    h, w = drawn.shape
    drawn = cv2.warpAffine(drawn, np.float32([[1, shear, -shear * h / 2], [0, 1, 0]]), (w, h))
    rows, cols = np.flatnonzero(drawn.max(1) > 20), np.flatnonzero(drawn.max(0) > 20)
    crop = drawn[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    box = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    out = np.zeros((28, 28), np.uint8)
    top, left = (28 - box.shape[0]) // 2, (28 - box.shape[1]) // 2
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return out


#: The public name of `_mnist_style`, for the other generators.
mnist_style = _mnist_style


def item_image(item: str, rng: np.random.Generator) -> np.ndarray:
    """One MNIST-style 28x28 drawing of a shape name, a letter or a symbol."""
    width = int(rng.integers(7, 14))
    drawn = _shape(item, rng, width) if item in SHAPES else _text(item, rng, width // 2 + 2)
    return _mnist_style(drawn, rng)


#: Characters for `random_drawing`: no digit look-alikes, none of the evaluation's symbols.
RANDOM_CHARACTERS = "cdfijmnoprtuvxyDJLMPQRUVWX<>^~[]{}()/\\|;:"


def random_drawing(rng: np.random.Generator, exclude: frozenset = frozenset()) -> np.ndarray:
    """A generic non-digit, not one of the named items: a random open or closed polyline
    of 5-8 points, a few random strokes or arcs, or a random character (training only)."""
    width = int(rng.integers(7, 14))
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    kind = rng.integers(4)
    c, r = _CANVAS // 2, _CANVAS // 2 - 12
    line = dict(color=255, thickness=width, lineType=cv2.LINE_AA)
    if kind == 0:
        points = c + rng.integers(-r, r + 1, size=(int(rng.integers(5, 9)), 2))
        cv2.polylines(canvas, [points.astype(np.int32)], bool(rng.integers(2)), **line)
    elif kind == 1:
        for _ in range(int(rng.integers(2, 5))):
            a, b = c + rng.integers(-r, r + 1, size=(2, 2))
            cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), **line)
    elif kind == 2:
        for _ in range(int(rng.integers(1, 4))):
            centre = tuple(int(v) for v in c + rng.integers(-r // 2, r // 2 + 1, size=2))
            axes = tuple(int(v) for v in rng.integers(r // 4, r, size=2))
            start = int(rng.integers(0, 360))
            span = int(rng.integers(60, 300))
            cv2.ellipse(
                canvas, centre, axes, int(rng.integers(0, 180)), start, start + span, **line
            )
    else:
        choices = [ch for ch in RANDOM_CHARACTERS if ch not in exclude]
        return _mnist_style(_text(str(rng.choice(choices)), rng, width // 2 + 2), rng)
    if canvas.max() == 0:
        cv2.line(canvas, (c - r, c), (c + r, c), **line)
    return _mnist_style(canvas, rng)


def _slug(item: str) -> str:
    names = {"$": "dollar", "#": "hash", "@": "at", "%": "percent", "&": "ampersand"}
    names.update({"+": "plus", "=": "equals", "?": "question", "*": "star_sign", "!": "bang"})
    if item in names:
        return names[item]
    return f"letter_{item}" if len(item) == 1 and item.isupper() else f"letter_{item}_lower"


def make_set(out: Path, per_item: int = 8, seed: int = 11) -> list[dict]:
    """Render the set into ``out`` (replacing it) and return the rows of labels.csv."""
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    rows = []
    kinds = [k for k in samples.KINDS if k != "offcentre"]
    for item in SHAPES + LETTERS + SYMBOLS:
        group = "shape" if item in SHAPES else "letter" if item in LETTERS else "symbol"
        name = item if item in SHAPES else _slug(item)
        for n in range(per_item):
            kind = kinds[int(rng.integers(len(kinds)))]
            options, ext, quality = samples.variant(kind, rng)
            image = samples.render(item_image(item, rng), rng, **options)
            path = out / kind / f"{name}_{n}{ext}"
            samples.save(path, image, quality)
            rows.append({"path": path.relative_to(out).as_posix(), "group": group, "item": item})
    samples.save_labels(out / "labels.csv", rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "nondigits")
    parser.add_argument("--per-item", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rows = make_set(args.out, args.per_item, args.seed)
    print(f"wrote {len(rows)} images to {args.out}")
