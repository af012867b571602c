"""Drawings for the outlier set (`digits.synth.outliers`): glyphs from many fonts, strokes,
shapes, textures and procedural natural-looking images, all generated here or from fonts
that installed packages ship (OpenCV's Hershey fonts, the ``hershey-fonts`` package,
matplotlib's TTF files). Glyphs are drawn white on black on a 112x112 canvas; textures
and procedural images are uint8 RGB pictures.

Which font families are for training and which are held out (`SCRIPT_*`, `SERIF_TTF`)
is decided here, so that the training and the held-out evaluation cannot mix them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

_CANVAS = 112

#: Characters never drawn: they look like digits in some hand or font
#: (O/o/Q/D 0, I/i/l/J/j/T/t/! 1, Z/z 2, S/s 5, G/b 6, y 4, B 8, g/q 9, brackets 1).
DIGIT_LIKE = "OoQDIilJjTtZzSsGbByBgq|!()[]{}/\\:;,.'`\"-_"
LETTERS = "".join(c for c in "ACEFHKMNPRUVWXYacdefhkmnpruvwx" if c not in DIGIT_LIKE)
SYMBOLS = "#$%&@*+=?<>^~"

#: OpenCV's Hershey fonts: the plain ones train, the script ones are held out.
CV_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
CV_SCRIPT_FONTS = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
#: The ``hershey-fonts`` package's families: these train ...
HERSHEY_FONTS = (
    "futural futuram rowmans rowmand rowmant timesr timesrb timesi timesib timesg "
    "greek greekc greeks cyrillic cyrilc_1 gothgbt gothgrt gothiceng gothicger gothicita "
    "gothitt symbolic astrology meteorology music mathupp mathlow japanese"
).split()
#: ... and its script families are held out.
HERSHEY_SCRIPT_FONTS = ("cursive", "scriptc", "scripts")
#: matplotlib's TTF families: all but DejaVu Serif train; DejaVu Serif is held out.
SERIF_TTF = (
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
)


def _ttf_folder() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=1)
def training_ttf() -> tuple[str, ...]:
    """matplotlib's TTF files that train: DejaVu Sans (and Mono), STIX, Computer Modern."""
    names = sorted(p.name for p in _ttf_folder().glob("*.ttf"))
    keep = ("DejaVuSans", "STIXGeneral", "STIXNonUni", "cmr", "cmss", "cmtt", "cmb", "cmti")
    return tuple(n for n in names if n.startswith(keep) and "Display" not in n)


@lru_cache(maxsize=64)
def _hershey(name: str):
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name)
    font.normalize_rendering(80)
    return font


@lru_cache(maxsize=64)
def _ttf(name: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(_ttf_folder() / name), size)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _character(rng: np.random.Generator) -> str:
    return _pick(rng, LETTERS + SYMBOLS) if rng.random() < 0.3 else _pick(rng, LETTERS)


def cv_glyph(text: str, font: int, rng: np.random.Generator) -> np.ndarray:
    """``text`` in an OpenCV Hershey font, white on black, stroke width at random."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    width = int(rng.integers(3, 9))
    font |= cv2.FONT_ITALIC if rng.random() < 0.2 else 0
    (w, h), _ = cv2.getTextSize(text, font, 2.5, width)
    scale = 2.5 * min(1.0, 90 / max(w, h, 1))
    (w, h), _ = cv2.getTextSize(text, font, scale, width)
    cv2.putText(canvas, text, ((_CANVAS - w) // 2, (_CANVAS + h) // 2), font, scale, 255, width)
    return canvas


def hershey_glyph(text: str, family: str, rng: np.random.Generator) -> np.ndarray:
    """``text`` in a ``hershey-fonts`` family, single strokes of random width."""
    lines = np.array(list(_hershey(family).lines_for_text(text)), dtype=np.float32)
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    if lines.size == 0:
        return canvas
    points = lines.reshape(-1, 2)
    low, high = points.min(0), points.max(0)
    scale = 84 / max(float((high - low).max()), 1e-6)
    xy = (points - (low + high) / 2) * scale * [1, -1] + _CANVAS / 2
    width = int(rng.integers(4, 11))
    for a, b in xy.reshape(-1, 2, 2).round().astype(np.int32):
        cv2.line(
            canvas, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, width, cv2.LINE_AA
        )
    return canvas


def ttf_glyph(text: str, font_file: str, rng: np.random.Generator) -> np.ndarray:
    """``text`` in a TTF font file of matplotlib's, white on black, sometimes outlined."""
    from PIL import Image, ImageDraw

    font = _ttf(font_file, 72)
    image = Image.new("L", (_CANVAS * 2, _CANVAS * 2), 0)
    draw = ImageDraw.Draw(image)
    stroke = int(rng.integers(0, 4))
    draw.text(
        (_CANVAS // 2, _CANVAS // 2),
        text,
        fill=255,
        font=font,
        stroke_width=stroke,
        stroke_fill=255,
    )
    return np.asarray(image)


def training_glyph(rng: np.random.Generator) -> np.ndarray:
    """A letter or symbol in one of the training fonts (OpenCV, hershey-fonts, TTF)."""
    text, source = _character(rng), rng.random()
    if source < 0.3:
        return cv_glyph(text, int(_pick(rng, CV_FONTS)), rng)
    if source < 0.65:
        return hershey_glyph(text, str(_pick(rng, HERSHEY_FONTS)), rng)
    return ttf_glyph(text, str(_pick(rng, training_ttf())), rng)


#: Families whose digits are plain digits (not symbols), for drawings of real digits.
LATIN_HERSHEY_FONTS = tuple(f for f in HERSHEY_FONTS if f.startswith(("futur", "rowma", "times")))


#: The single-stroke Latin training families a hand is imitated from.
HAND_FONTS = ("futural", "futuram", "rowmans")


def hand_letter(rng: np.random.Generator) -> np.ndarray:
    """A letter as a hand might write it: the single strokes of a Latin training family
    (never a script one), bent by a smooth random displacement of the *strokes* (so the
    pen keeps its width), slanted, squeezed and drawn with a round pen of random width."""
    text = str(_pick(rng, LETTERS))
    lines = np.array(list(_hershey(str(_pick(rng, HAND_FONTS))).lines_for_text(text)))
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    if lines.size == 0:
        return canvas
    points = lines.reshape(-1, 2).astype(np.float32) * [1, -1]
    points = (points - points.mean(0)) / max(float(np.ptp(points, axis=0).max()), 1e-6)
    slant, squeeze = rng.uniform(-0.35, 0.35), rng.uniform(0.7, 1.2)
    points = points @ np.array([[squeeze, 0.0], [-slant, 1.0]], np.float32)
    points = points + _wobble(points, rng, rng.uniform(0.02, 0.07))
    low, high = points.min(0), points.max(0)
    xy = (points - (low + high) / 2) * (84 / max(float((high - low).max()), 1e-6)) + _CANVAS / 2
    width = int(rng.integers(5, 13))
    for a, b in xy.reshape(-1, 2, 2).round().astype(np.int32):
        cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, width, cv2.LINE_AA)
    return canvas


def _wobble(points: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth random displacement of ``points`` (a few low-frequency waves), in the
    points' own units: the same place always moves the same way, so strokes stay joined."""
    out = np.zeros_like(points)
    for _ in range(3):
        freq = rng.uniform(1.0, 4.0, size=2) * rng.choice([-1, 1], size=2)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        wave = np.sin(points @ freq[:, None] * np.pi + phase)  # (N, 2)
        out += wave * rng.normal(0.0, strength, size=2)
    return out.astype(np.float32)


def font_digit(rng: np.random.Generator, digit: int) -> np.ndarray:
    """A digit in one of the training fonts (Latin families only), white on black: the
    drawings of real digits that keep a detector from learning "a font means no digit"."""
    text, source = str(digit), rng.random()
    if source < 0.35:
        return cv_glyph(text, int(_pick(rng, CV_FONTS)), rng)
    if source < 0.7:
        return hershey_glyph(text, str(_pick(rng, LATIN_HERSHEY_FONTS)), rng)
    latin = [f for f in training_ttf() if not f.startswith("STIXNonUni")]
    return ttf_glyph(text, str(_pick(rng, latin)), rng)


def stroke_one(rng: np.random.Generator) -> np.ndarray:
    """A 1 as people draw it on a screen: one straight stroke within 25 degrees of
    vertical, sometimes with a short flag at the top; white on black."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    angle = np.deg2rad(np.clip(rng.normal(0.0, 10.0), -25, 25))
    half = rng.uniform(35, 50)
    dx, dy = half * np.sin(angle), half * np.cos(angle)
    top, bottom = (int(56 + dx), int(56 - dy)), (int(56 - dx), int(56 + dy))
    width = int(rng.integers(4, 16))
    cv2.line(canvas, top, bottom, 255, width, cv2.LINE_AA)
    if rng.random() < 0.3:
        flag = (int(top[0] - rng.uniform(10, 22)), int(top[1] + rng.uniform(8, 20)))
        cv2.line(canvas, top, flag, 255, width, cv2.LINE_AA)
    return canvas


def script_glyph(rng: np.random.Generator) -> np.ndarray:
    """A letter in a held-out script family (hershey-fonts or OpenCV): no symbols."""
    text = str(_pick(rng, LETTERS))
    if rng.random() < 0.6:
        return hershey_glyph(text, str(_pick(rng, HERSHEY_SCRIPT_FONTS)), rng)
    return cv_glyph(text, int(_pick(rng, CV_SCRIPT_FONTS)), rng)


def jitter(canvas: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth random (elastic) displacement of ``strength`` pixels, as a hand would."""
    if strength <= 0:
        return canvas
    h, w = canvas.shape
    field = rng.normal(0.0, 1.0, size=(2, 5, 5)).astype(np.float32) * strength
    dx, dy = (cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in field)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(canvas, xx + dx, yy + dy, cv2.INTER_LINEAR, borderValue=0)


def mnist_style(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`digits.synth.nondigits.mnist_style`, with a blank canvas given a short stroke."""
    from digits.synth.nondigits import mnist_style as fit

    if canvas.max() <= 20:
        cv2.line(canvas, (20, 56), (92, 40), 255, 9, cv2.LINE_AA)
    return fit(canvas, rng)


# ------------------------------------------------------------------------ strokes, shapes


def _stroke(rng: np.random.Generator, points: int) -> np.ndarray:
    """A smooth random path: a walk with momentum through ``points`` turns, as (N, 2)."""
    position, heading = rng.uniform(30, 82, 2), rng.uniform(0, 2 * np.pi)
    path = [position.copy()]
    for _ in range(points * 8):
        heading += rng.normal(0.0, 0.45)
        position = np.clip(position + 5 * np.array([np.cos(heading), np.sin(heading)]), 8, 104)
        path.append(position.copy())
    return np.array(path)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """Scribbles: a long smooth random stroke, a zigzag, a spiral, hatching or several
    short strokes, white on black."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    line = dict(color=255, thickness=int(rng.integers(5, 13)), lineType=cv2.LINE_AA)
    kind = int(rng.integers(5))
    if kind == 0:
        paths = [_stroke(rng, int(rng.integers(5, 10)))]
    elif kind == 1:
        n = int(rng.integers(4, 9))
        x = np.linspace(12, 100, n)
        y = 56 + rng.uniform(20, 40) * (np.arange(n) % 2 * 2 - 1) + rng.normal(0, 4, n)
        paths = [np.stack([x, y], 1)]
    elif kind == 2:
        t = np.linspace(0, 2 * np.pi * rng.uniform(2.0, 3.5), 200)
        r = 4 + 42 * t / t[-1]
        sign = rng.choice([-1, 1])
        paths = [np.stack([56 + r * np.cos(sign * t), 56 + r * np.sin(t)], 1)]
    elif kind == 3:
        angle, gap = rng.uniform(0, np.pi), rng.uniform(10, 20)
        d = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-d[1], d[0]])
        offsets = np.arange(-45, 46, gap)
        paths = [np.stack([56 + o * normal - 45 * d, 56 + o * normal + 45 * d]) for o in offsets]
    else:
        paths = [
            _stroke(rng, 2)[:: int(rng.integers(1, 3))] for _ in range(int(rng.integers(3, 6)))
        ]
    for path in paths:
        cv2.polylines(canvas, [path.round().astype(np.int32)], False, **line)
    return canvas


def _polygon(rng: np.random.Generator, sides: int, star: bool = False) -> np.ndarray:
    angles = rng.uniform(0, 2 * np.pi) + np.arange(sides) * 2 * np.pi / sides
    radius = rng.uniform(0.75, 1.0, sides) * 44
    if star:
        radius[1::2] *= rng.uniform(0.35, 0.55)
    return np.stack([56 + radius * np.cos(angles), 56 + radius * np.sin(angles)], 1)


def shape(rng: np.random.Generator) -> np.ndarray:
    """A shape: polygon (outline or filled), star, grid, check mark, wave, dots,
    concentric squares or an arrow-head; never a plain ring or a single bar."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    width = int(rng.integers(5, 13))
    line = dict(color=255, thickness=width, lineType=cv2.LINE_AA)
    kind = int(rng.integers(8))
    if kind in (0, 1):
        points = _polygon(rng, int(rng.integers(3, 9)), star=kind == 1 and rng.random() < 0.8)
        points = [points.round().astype(np.int32)]
        if rng.random() < 0.3:
            cv2.fillPoly(canvas, points, 255, cv2.LINE_AA)
        else:
            cv2.polylines(canvas, points, True, **line)
    elif kind == 2:
        for v in np.linspace(20, 92, int(rng.integers(3, 6))):
            cv2.line(canvas, (int(v), 10), (int(v), 102), **line)
            cv2.line(canvas, (10, int(v)), (102, int(v)), **line)
    elif kind == 3:
        a = (int(rng.integers(10, 30)), int(rng.integers(50, 70)))
        b = (int(rng.integers(40, 55)), int(rng.integers(85, 100)))
        c = (int(rng.integers(85, 102)), int(rng.integers(10, 30)))
        cv2.polylines(canvas, [np.array([a, b, c], np.int32)], False, **line)
    elif kind == 4:
        x = np.linspace(8, 104, 100)
        y = 56 + rng.uniform(10, 30) * np.sin(x / rng.uniform(6, 14) + rng.uniform(0, 6))
        cv2.polylines(canvas, [np.stack([x, y], 1).round().astype(np.int32)], False, **line)
    elif kind == 5:
        for centre in rng.uniform(12, 100, size=(int(rng.integers(3, 10)), 2)):
            cv2.circle(canvas, tuple(int(v) for v in centre), int(rng.integers(4, 10)), 255, -1)
    elif kind == 6:
        for r in range(44, 8, -int(rng.integers(12, 20))):
            cv2.rectangle(canvas, (56 - r, 56 - r), (56 + r, 56 + r), **line)
    else:
        points = rng.uniform(10, 102, size=(int(rng.integers(3, 6)), 2)).round().astype(np.int32)
        cv2.fillPoly(canvas, [points], 255, cv2.LINE_AA)
        cv2.polylines(canvas, [np.roll(points, 1, 0)], True, **line)
    return canvas
