"""Pictures for the outlier set (`digits.synth.outliers`) that are not drawings: textures,
procedural natural-looking images, the project's photographed sheets without a digit,
and printed text. Each function takes a numpy Generator and returns uint8 RGB (or gray)
arrays, so that one seed always gives the same pictures.
"""

from __future__ import annotations

import cv2
import numpy as np

from digits.synth import glyphs, photo

__all__ = ["blank_photo", "fractal", "printed_line", "procedural", "texture"]


def _size(rng: np.random.Generator, low: int = 64, high: int = 400) -> tuple[int, int]:
    return int(rng.integers(low, high)), int(rng.integers(low, high))


def _colours(rng: np.random.Generator, n: int = 2) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, 3)).astype(np.float32)


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    """Value noise: a random ``cells`` grid, smoothly upsampled, about unit variance."""
    h, w = shape
    grid = rng.normal(
        0.0, 1.0, size=(max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w)))
    )
    return cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def fractal(shape: tuple[int, int], rng: np.random.Generator, roughness: float) -> np.ndarray:
    """Fractal noise in [0, 1]: octaves of value noise, each ``roughness`` times weaker."""
    total = np.zeros(shape, np.float32)
    for octave in range(6):
        total += roughness**octave * _smooth_noise(shape, rng, 2 ** (octave + 1))
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def texture(rng: np.random.Generator) -> np.ndarray:
    """A regular or random texture in two colours: stripes, checks, dots, noise, hatching."""
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 40)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    kind = int(rng.integers(5))
    if kind == 0:
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
    elif kind == 1:
        mix = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif kind == 2:
        mix = ((u % period) - period / 2) ** 2 + ((v % period) - period / 2) ** 2 < (
            period / 4
        ) ** 2
        mix = mix.astype(np.float32)
    elif kind == 3:
        mix = fractal((h, w), rng, rng.uniform(0.4, 0.8))
    else:
        mix = np.maximum(np.sin(2 * np.pi * u / period), np.sin(2 * np.pi * v / period)) > 0.8
        mix = mix.astype(np.float32)
    a, b = _colours(rng)
    image = a * (1 - mix[:, :, None]) + b * mix[:, :, None]
    image += rng.normal(0, rng.uniform(0, 0.05), image.shape).astype(np.float32)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _terrain(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height = fractal(shape, rng, rng.uniform(0.45, 0.65))
    palette = np.array(
        [(0.1, 0.2, 0.5), (0.8, 0.75, 0.55), (0.2, 0.5, 0.2), (0.45, 0.35, 0.25), (0.95,) * 3],
        np.float32,
    )
    stops = np.sort(rng.uniform(0.05, 0.9, 3))
    index = np.digitize(height, [stops[0], stops[1], stops[2], 0.92])
    shade = 0.7 + 0.3 * fractal(shape, rng, 0.6)
    return palette[index] * shade[:, :, None]


def _pebbles(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    image = np.ones((h, w, 3), np.float32) * rng.uniform(0.2, 0.6, 3).astype(np.float32)
    for _ in range(int(rng.integers(20, 120))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(4, max(5, w // 5))), int(rng.integers(4, max(5, h // 5))))
        tone = rng.uniform(0.2, 0.9) * rng.uniform(0.8, 1.0, 3)
        cv2.ellipse(
            image, centre, axes, rng.uniform(0, 180), 0, 360, tone.tolist(), -1, cv2.LINE_AA
        )
    return image * (0.75 + 0.25 * fractal(shape, rng, 0.7))[:, :, None]


def _cells(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Stone-wall-like cells (Voronoi) with dark joints."""
    h, w = shape
    seeds = rng.uniform(0, 1, size=(int(rng.integers(8, 60)), 2)) * (w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = np.stack([np.hypot(xx - x, yy - y) for x, y in seeds])
    nearest = np.sort(distance, axis=0)
    owner = np.argmin(distance, axis=0)
    tones = rng.uniform(0.3, 0.9, size=(len(seeds), 1)) * rng.uniform(0.8, 1.0, 3)
    joint = np.clip((nearest[1] - nearest[0]) / 3.0, 0, 1)[:, :, None]
    return tones[owner].astype(np.float32) * (0.3 + 0.7 * joint)


def _foliage_or_sky(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    if rng.random() < 0.5:  # sky with clouds
        sky = np.linspace(0.5, 0.9, h, dtype=np.float32)[:, None, None] * (0.45, 0.65, 1.0)
        cloud = np.clip(fractal(shape, rng, 0.55) * 1.6 - 0.6, 0, 1)[:, :, None]
        return sky * (1 - cloud) + 0.95 * cloud
    image = np.zeros((h, w, 3), np.float32) + (0.05, 0.15, 0.05)
    for _ in range(int(rng.integers(100, 400))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(2, 12)), int(rng.integers(1, 6)))
        green = (rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.2))
        cv2.ellipse(image, centre, axes, rng.uniform(0, 180), 0, 360, green, -1, cv2.LINE_AA)
    return image


def procedural(rng: np.random.Generator) -> np.ndarray:
    """A natural-looking procedural picture: terrain, pebbles, stone cells, foliage, sky."""
    shape = _size(rng, 96, 360)[::-1]
    makers = (_terrain, _pebbles, _cells, _foliage_or_sky)
    image = makers[int(rng.integers(len(makers)))](shape, rng)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2))
    image += rng.normal(0, 0.015, image.shape).astype(np.float32)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def blank_photo(rng: np.random.Generator, options: dict) -> np.ndarray:
    """A phone photo of a sheet as `digits.synth.photo.render_photo` takes it (``options`` from
    `digits.synth.photo.photo_variant`), with nothing written on it."""
    w, h = options["size"]
    longest = max(w, h)
    sw = int(longest * options["sheet_fraction"] * rng.uniform(0.9, 1.0))
    sh = int(sw * rng.uniform(1.3, 1.45))
    if w > h:
        sw, sh = sh, sw
    ruling = options.get("ruling", "plain")
    spacing = options["digit_fraction"] * longest * rng.uniform(0.3, 0.8)
    sheet = photo.paper_sheet((sh, sw), rng, ruling, spacing)
    centre = np.array([sw / 2, sh / 2]) + rng.uniform(-0.2, 0.2, 2) * (sw, sh)
    shot = photo.photograph(sheet, rng, (w, h), centre, options["tilt"], options["perspective"])
    effects = ("lighting", "shadow", "motion_blur", "focus_blur", "noise")
    return photo.camera_effects(shot, rng, *(options.get(k, 0.0) for k in effects))


def printed_line(rng: np.random.Generator, font_file: str) -> tuple[np.ndarray, str, int]:
    """One to three printed words in a TTF font of matplotlib's, as a scan of a printed
    line: dark text on light paper. Returns ``(image, ext, quality)``."""
    from PIL import Image, ImageDraw

    letters = list(glyphs.LETTERS.lower())
    words = " ".join(
        "".join(rng.choice(letters, int(rng.integers(2, 8))))
        for _ in range(int(rng.integers(1, 4)))
    )
    font = glyphs._ttf(font_file, int(rng.integers(16, 64)))
    _, _, right, bottom = font.getbbox(words)
    margin = int(rng.integers(4, 40))
    image = Image.new("L", (right + 2 * margin, bottom + 2 * margin), int(rng.integers(200, 256)))
    ImageDraw.Draw(image).text((margin, margin), words, fill=int(rng.integers(0, 60)), font=font)
    array = np.asarray(image).astype(np.float32) / 255
    array += rng.normal(0, rng.uniform(0, 0.03), array.shape).astype(np.float32)
    array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    return array, (".jpg" if rng.random() < 0.5 else ".png"), int(rng.integers(50, 95))
