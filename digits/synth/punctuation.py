"""The marks people write inside numbers (``. , - / :``), drawn as pens draw them, and the
texts they write with them (decimals, amounts, signs, dates, times, phone numbers).

Marks are drawn in the frame of `digits.synth.lines`' digits: a 48 px square in which an
MNIST digit of scale 1 has its ink from row `TOP` to row `BASE` (20 px high), alpha in
[0, 1], cropped to the mark's columns. Two styles, so that the benchmark holds out shapes
that training never saw:

- ``train``: discs, ellipses and ticks for dots; a dot with a tail for commas; straight or
  slightly bent strokes for dashes and slashes; two dots for colons. Sizes, lean, height
  and thickness vary; anti-aliased OpenCV strokes at 4x, then shrunk.
- ``held_out``: every mark as one wobbly polyline (a pen that hesitates: dots are tiny
  circles or hooks, commas an S-curve, dashes waver, slashes bow), thicknesses past the
  training range at both ends. Never used in training (`lab.reader`).

`number_text` writes the texts of each `KINDS` kind; `speck` draws dirt that is no mark.
"""

from __future__ import annotations

import cv2
import numpy as np

from digits.runtime.sequence import MARKS

__all__ = ["KINDS", "MARKS", "STYLES", "draw_mark", "number_text", "speck"]

STYLES = ("train", "held_out")
#: Ink rows of a scale-1 MNIST digit in the 48 px square of `digits.synth.lines`.
TOP, BASE = 14, 34
_SIDE = 48
_UP = 4  # supersampling of the drawing canvas


def _canvas() -> np.ndarray:
    return np.zeros((_SIDE * _UP, _SIDE * _UP), np.float32)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _UP * 16)), int(round(y * _UP * 16))


def _line(canvas, points, thickness: float) -> None:
    pts = np.array([_pt(x, y) for x, y in points], np.int32)
    t = max(1, int(round(thickness * _UP)))
    cv2.polylines(canvas, [pts], False, 1.0, t, cv2.LINE_AA, shift=4)


def _disc(canvas, x: float, y: float, rx: float, ry: float, angle: float = 0.0) -> None:
    axes = (max(1, int(round(rx * _UP * 16))), max(1, int(round(ry * _UP * 16))))
    cv2.ellipse(canvas, _pt(x, y), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA, shift=4)


def _shrunk(canvas: np.ndarray) -> np.ndarray:
    small = cv2.resize(canvas, (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
    small = np.clip(small * 1.15, 0.0, 1.0)
    cols = np.flatnonzero(small.max(axis=0) > 0.05)
    return small[:, cols[0] : cols[-1] + 1] if len(cols) else small[:, 22:26]


def _dot(canvas, rng, x: float, y: float, pen: float) -> None:
    r = pen * rng.uniform(0.55, 1.25)
    shape = rng.random()
    if shape < 0.6:
        _disc(
            canvas, x, y, r * rng.uniform(0.8, 1.3), r * rng.uniform(0.8, 1.2), rng.uniform(0, 180)
        )
    else:  # a short tick: the pen touched down and moved a little
        dx, dy = rng.uniform(-1, 1.5) * r, rng.uniform(-1, 1) * r
        _line(canvas, [(x, y), (x + dx, y + dy)], pen * rng.uniform(0.9, 1.4))


def _train_mark(char: str, rng: np.random.Generator, pen: float) -> np.ndarray:
    canvas, c = _canvas(), _SIDE / 2
    height = BASE - TOP
    if char == ".":
        _dot(canvas, rng, c, BASE - pen * rng.uniform(0.3, 1.2), pen)
    elif char == ",":
        y = BASE - pen * rng.uniform(0.0, 1.0)
        if rng.random() < 0.7:
            _dot(canvas, rng, c, y, pen)
        tail = height * rng.uniform(0.15, 0.4)
        bend = rng.uniform(-0.2, 0.5) * tail
        _line(
            canvas,
            [(c + 0.3 * pen, y), (c + bend * 0.2, y + tail * 0.6), (c - bend, y + tail)],
            pen,
        )
    elif char == "-":
        length = height * rng.uniform(0.25, 0.7)
        y = TOP + height * rng.uniform(0.35, 0.65)
        slope = np.tan(np.radians(rng.uniform(-12, 8))) * length
        _line(canvas, [(c - length / 2, y + slope / 2), (c + length / 2, y - slope / 2)], pen)
    elif char == "/":
        below, above = height * rng.uniform(-0.05, 0.3), height * rng.uniform(-0.05, 0.3)
        lean = height * rng.uniform(0.2, 0.7)
        _line(canvas, [(c - lean / 2, BASE + below), (c + lean / 2, TOP - above)], pen)
    elif char == ":":
        gap = height * rng.uniform(0.3, 0.6)
        y = TOP + height * rng.uniform(0.45, 0.8)
        shift = rng.uniform(-0.15, 0.15) * gap
        _dot(canvas, rng, c + shift, y - gap, pen)
        _dot(canvas, rng, c, y, pen)
    else:
        raise ValueError(f"no mark {char!r}: the marks are {MARKS!r}")
    return _shrunk(canvas)


def _wobbly(canvas, rng, points, pen: float) -> None:
    """A polyline through ``points`` with a hesitant hand: resampled and jittered."""
    points = np.asarray(points, np.float32)
    steps = np.linspace(0, len(points) - 1, 4 * len(points))
    path = np.stack([np.interp(steps, np.arange(len(points)), points[:, i]) for i in (0, 1)], 1)
    path += rng.normal(0, 0.25 * pen, path.shape)
    _line(canvas, [tuple(p) for p in path], pen)


def _held_out_mark(char: str, rng: np.random.Generator, pen: float) -> np.ndarray:
    canvas, c = _canvas(), _SIDE / 2
    height = BASE - TOP
    circle = [(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)]
    if char in ".:":
        ys = [BASE - pen] if char == "." else [TOP + 0.25 * height, BASE - 0.2 * height]
        for y in ys:
            r = pen * rng.uniform(0.3, 0.7)
            _wobbly(canvas, rng, [(c + r * u, y + r * v) for u, v in circle], pen)
    elif char == ",":
        y, tail = BASE - 0.5 * pen, height * rng.uniform(0.3, 0.5)
        _wobbly(
            canvas,
            rng,
            [(c - 1, y - 1), (c + 1.5, y), (c + 1, y + tail / 2), (c - 2, y + tail)],
            pen,
        )
    elif char == "-":
        length, y = height * rng.uniform(0.3, 0.8), TOP + height * rng.uniform(0.4, 0.6)
        xs = np.linspace(c - length / 2, c + length / 2, 4)
        _wobbly(canvas, rng, [(x, y + rng.uniform(-0.08, 0.08) * length) for x in xs], pen)
    elif char == "/":
        lean, bow = height * rng.uniform(0.45, 0.9), rng.uniform(-1.0, 1.0)  # a slash, not a 1
        top, bottom = TOP - height * rng.uniform(0, 0.35), BASE + height * rng.uniform(0, 0.35)
        middle = (c + bow, (top + bottom) / 2)
        _wobbly(canvas, rng, [(c - lean / 2, bottom), middle, (c + lean / 2, top)], pen)
    else:
        raise ValueError(f"no mark {char!r}: the marks are {MARKS!r}")
    return _shrunk(canvas)


def draw_mark(char: str, rng: np.random.Generator, style: str = "train", pen: float | None = None):
    """One mark ``char`` of `MARKS` -> alpha ``(48, w)`` float32 in the digits' frame.

    ``pen``: the stroke width in px of the 48 px square (default: drawn, 1.6-3.2 for
    ``train``; 1.1-1.5 or 3.3-3.8 for ``held_out``, outside the training range)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    if pen is None:
        thin = rng.random() < 0.5
        pen = (
            rng.uniform(1.6, 3.2)
            if style == "train"
            else rng.uniform(*((1.1, 1.5) if thin else (3.3, 3.8)))
        )
    draw = _train_mark if style == "train" else _held_out_mark
    return draw(char, rng, pen)


def speck(rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """Dirt that is no mark: a tiny faint blot -> ``(alpha, (dx, dy))``, where ``dy`` is its
    row in the digits' 48 px frame (anywhere from above the top to below the base)."""
    size = int(rng.integers(2, 5))
    blot = np.zeros((size, size), np.float32)
    r = rng.uniform(0.3, 0.8)
    cv2.circle(blot, (size // 2, size // 2), 0, 1.0, -1)
    blot = cv2.GaussianBlur(blot, (0, 0), r) if size > 2 else blot
    blot = blot / max(float(blot.max()), 1e-6) * rng.uniform(0.25, 0.7)
    return blot, (int(rng.integers(0, 8)), int(rng.integers(TOP - 4, BASE + 4)))


#: The kinds of numbers with marks, each a function of a generator -> text.
def _digits(rng, low: int, high: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(low, high + 1))))


def _decimal(rng, sep: str) -> str:
    return f"{int(rng.integers(0, 10000))}{sep}{_digits(rng, 1, 3)}"


def _thousands(rng) -> str:
    groups = [str(int(rng.integers(1, 1000)))] + [
        _digits(rng, 3, 3) for _ in range(int(rng.integers(1, 3)))
    ]
    text = ",".join(groups)
    return text + "." + _digits(rng, 2, 2) if rng.random() < 0.6 and len(text) < 9 else text


def _negative(rng) -> str:
    body = _decimal(rng, ".") if rng.random() < 0.6 else str(int(rng.integers(1, 1000)))
    return "-" + body


def _date(rng) -> str:
    day, month = int(rng.integers(1, 29)), int(rng.integers(1, 13))
    year = str(int(rng.integers(1950, 2050)))
    year = year[2:] if rng.random() < 0.3 else year
    pad = rng.random() < 0.6
    d, m = (f"{day:02d}", f"{month:02d}") if pad else (str(day), str(month))
    return f"{d}/{m}/{year}"


def _time(rng) -> str:
    hour = int(rng.integers(0, 24))
    h = f"{hour:02d}" if rng.random() < 0.5 else str(hour)
    return f"{h}:{int(rng.integers(0, 60)):02d}"


def _phone(rng) -> str:
    return f"{_digits(rng, 3, 3)}-{_digits(rng, 4, 4)}"


KINDS = {
    "decimal_point": lambda rng: _decimal(rng, "."),
    "decimal_comma": lambda rng: _decimal(rng, ","),
    "thousands": _thousands,
    "negative": _negative,
    "date": _date,
    "time": _time,
    "phone": _phone,
}


def number_text(rng: np.random.Generator, kind: str | None = None) -> str:
    """A text of one `KINDS` kind (default: a random kind)."""
    kind = kind or list(KINDS)[int(rng.integers(len(KINDS)))]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return KINDS[kind](rng)
