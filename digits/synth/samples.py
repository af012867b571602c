"""Render MNIST digits the way users hand them in, for examples and robustness tests.

`render` turns a 28x28 uint8 MNIST digit (white on black) into a larger picture of
dark ink on light, slightly textured paper, optionally off-centre, thinner or thicker,
rotated, unevenly lit, noisy, in colour, or as black ink on a transparent (RGBA)
canvas. `variant` draws the rendering options of a named kind (see `KINDS`) from a
numpy Generator, so that the same seed always gives the same images; `encode` makes
PNG or (low-quality) JPEG bytes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np

from digits.runtime.modelfile import atomic_write_bytes, atomic_write_text

__all__ = [
    "KINDS",
    "render",
    "variant",
    "encode",
    "save",
    "save_labels",
]

#: Kinds of renderings `variant` knows, in a fixed order.
KINDS = (
    "clean",
    "small",
    "large",
    "offcentre",
    "thin",
    "thick",
    "rotated",
    "jpeg",
    "noise",
    "rgba",
    "photo",
)


def paper_texture(
    shape: tuple[int, int], rng: np.random.Generator, level: float, texture: float
) -> np.ndarray:
    """Off-white paper: a constant tone plus a smooth random texture."""
    h, w = shape
    paper = np.full(shape, level, dtype=np.float32)
    if texture > 0:
        coarse = rng.normal(0.0, 1.0, size=(max(2, h // 8), max(2, w // 8))).astype(np.float32)
        coarse = cv2.GaussianBlur(coarse, (0, 0), 1.0)
        coarse /= max(float(coarse.std()), 1e-6)
        paper += texture * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return paper


def lighting_field(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Illumination falling off linearly in a random direction, plus a soft vignette."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (
        np.cos(angle) * (xx / max(w - 1, 1) - 0.5) + np.sin(angle) * (yy / max(h - 1, 1) - 0.5)
    ) + 0.5
    ramp = np.clip(ramp, 0.0, 1.0)
    r2 = ((xx / max(w - 1, 1) - 0.5) ** 2 + (yy / max(h - 1, 1) - 0.5) ** 2) * 2
    return (1.0 - strength * ramp) * (1.0 - 0.25 * strength * r2)


def digit_alpha(digit: np.ndarray, length: float, thickness: float, rotation: float) -> np.ndarray:
    """A 28x28 MNIST digit -> ink coverage (float32 0-1) with its longer side about
    ``length`` pixels, stroke half-width changed by ``thickness`` MNIST pixels, rotated by
    ``rotation`` degrees, cropped to the ink."""
    digit = np.asarray(digit)
    if digit.shape != (28, 28):
        raise ValueError(f"digit must be a (28, 28) MNIST image, got shape {digit.shape}")
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    if rows.size == 0:
        raise ValueError("digit is blank")
    longest = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    scale = length / longest
    big_side = max(28, int(round(28 * scale)))
    ink_alpha = upscale(digit, big_side)
    if thickness:
        radius = abs(thickness) * scale
        k = max(1, int(round(2 * radius + 1)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        pad = int(np.ceil(radius)) + 1
        ink_alpha = cv2.copyMakeBorder(ink_alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        ink_alpha = cv2.dilate(ink_alpha, kernel) if thickness > 0 else cv2.erode(ink_alpha, kernel)
    if rotation:
        ink_alpha = rotate(ink_alpha, rotation, int(0.25 * max(ink_alpha.shape)))
    if ink_alpha.max() <= 0.02:
        raise ValueError("the rendering options erased the digit (too thin?)")
    return trim(ink_alpha)


def upscale(digit: np.ndarray, side: int) -> np.ndarray:
    """A 28x28 uint8 MNIST digit -> float32 ink coverage, ``side`` x ``side`` pixels.

    Upscaled MNIST strokes are blurry; a contrast curve makes them look like pen strokes."""
    alpha = cv2.resize(
        digit.astype(np.float32) / 255.0, (side, side), interpolation=cv2.INTER_CUBIC
    )
    return np.clip((alpha - 0.3) / 0.4, 0.0, 1.0)


def rotate(alpha: np.ndarray, degrees: float, pad: int) -> np.ndarray:
    """``alpha`` with ``pad`` empty pixels around it, rotated by ``degrees`` about its centre."""
    alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    h, w = alpha.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)


def trim(alpha: np.ndarray, level: float = 0.02) -> np.ndarray:
    """``alpha`` cropped to the pixels above ``level``."""
    rows = np.flatnonzero(alpha.max(axis=1) > level)
    cols = np.flatnonzero(alpha.max(axis=0) > level)
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _place_ink(ink_alpha: np.ndarray, size: int, offset: tuple[float, float]) -> np.ndarray:
    """The ink coverage shrunk to fit and placed on a ``size`` square canvas."""
    h, w = ink_alpha.shape
    fit = min(1.0, 0.96 * size / max(h, w))
    if fit < 1.0:
        ink_alpha = cv2.resize(
            ink_alpha,
            (max(1, round(w * fit)), max(1, round(h * fit))),
            interpolation=cv2.INTER_AREA,
        )
        h, w = ink_alpha.shape
    dx, dy = (float(np.clip(v, -1.0, 1.0)) for v in offset)
    left = int(round((size - w) / 2 * (1 + dx)))
    top = int(round((size - h) / 2 * (1 + dy)))
    alpha = np.zeros((size, size), dtype=np.float32)
    alpha[top : top + h, left : left + w] = np.clip(ink_alpha, 0.0, 1.0)
    return alpha


def _compose(
    background: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, ink: float, colour: bool
) -> np.ndarray:
    """The paper with the ink laid on it, gray or (``colour``) tinted RGB."""
    if colour:
        paper_tint = np.array([1.0, 0.98, 0.93], dtype=np.float32) * rng.uniform(
            0.97, 1.0, 3
        ).astype(np.float32)
        ink_rgb = (
            np.array([0.6, 0.7, 1.6], dtype=np.float32)
            * ink
            * rng.uniform(0.8, 1.2, 3).astype(np.float32)
        )
        image = (
            background[:, :, None] * paper_tint * (1 - alpha[:, :, None])
            + ink_rgb * alpha[:, :, None]
        )
    else:
        image = background * (1 - alpha) + ink * alpha
    return image


def render(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int = 160,
    digit_fraction: float = 0.65,
    offset: tuple[float, float] = (0.0, 0.0),
    thickness: float = 0.0,
    rotation: float = 0.0,
    paper: float = 0.94,
    texture: float = 0.015,
    ink: float = 0.12,
    lighting: float = 0.0,
    noise: float = 0.0,
    colour: bool = False,
    rgba: bool = False,
) -> np.ndarray:
    """Render a 28x28 MNIST digit as a user's picture of it.

    Args:
        digit: uint8 (28, 28), white digit on black (as in MNIST).
        rng: numpy Generator for the texture, lighting direction, noise and colours.
        size: side of the square output in pixels (64-400 makes sense).
        digit_fraction: the digit's longer side as a fraction of ``size``.
        offset: ``(dx, dy)`` in [-1, 1]: where the digit sits in the free space
            around it (0 = centred, +-1 = touching the right/bottom or left/top edge).
        thickness: change of the stroke half-width in MNIST pixels (-0.8 thin pen,
            +1.5 marker), applied at full resolution.
        rotation: degrees, counter-clockwise.
        paper, ink: gray levels (0-1) of the paper and the ink.
        texture: amplitude of the paper's smooth texture.
        lighting: 0 (even) to about 0.6 (strong fall-off across the picture).
        noise: standard deviation of Gaussian pixel noise (0-1 scale).
        colour: return RGB with a warm paper and blue-black ink instead of gray.
        rgba: return RGBA black ink on a fully transparent canvas (alpha = ink),
            the transparent pixels being black (0, 0, 0, 0) as canvas PNGs often are.

    Returns:
        uint8 array, (size, size) gray, (size, size, 3) RGB or (size, size, 4) RGBA.
    """
    ink_alpha = digit_alpha(digit, digit_fraction * size, thickness, rotation)
    alpha = _place_ink(ink_alpha, size, offset)

    if rgba:
        out = np.zeros((size, size, 4), dtype=np.uint8)
        out[:, :, 3] = np.round(alpha * 255).astype(np.uint8)
        return out

    background = paper_texture((size, size), rng, paper, texture)
    image = _compose(background, alpha, rng, ink, colour)
    if lighting:
        light = lighting_field((size, size), rng, lighting)
        image = image * (light[:, :, None] if image.ndim == 3 else light)
    if noise:
        image = image + rng.normal(0.0, noise, size=image.shape).astype(np.float32)
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def variant(kind: str, rng: np.random.Generator) -> tuple[dict, str, int]:
    """Draw the rendering options of one image of a kind (see `KINDS`).

    Returns:
        ``(render_kwargs, extension, jpeg_quality)``; the extension is ``".png"`` or
        ``".jpg"`` and the quality only matters for JPEG.
    """
    u = rng.uniform
    base = dict(
        size=int(rng.integers(120, 221)),
        digit_fraction=u(0.5, 0.75),
        offset=(u(-0.3, 0.3), u(-0.3, 0.3)),
        paper=u(0.86, 0.98),
        ink=u(0.03, 0.25),
        texture=u(0.0, 0.012),
        colour=bool(rng.random() < 0.2),
    )
    ext, quality = ".png", 95
    if kind == "clean":
        pass
    elif kind == "small":
        base.update(size=64, digit_fraction=u(0.6, 0.85))
    elif kind == "large":
        base.update(size=400, texture=u(0.0, 0.008))
        ext, quality = ".jpg", 80
    elif kind == "offcentre":
        radius, angle = u(0.7, 1.0), u(0, 2 * np.pi)
        base.update(
            size=int(rng.integers(150, 221)),
            digit_fraction=u(0.3, 0.45),
            offset=(radius * np.cos(angle), radius * np.sin(angle)),
        )
    elif kind == "thin":
        base.update(thickness=-u(0.3, 0.6))
    elif kind == "thick":
        base.update(thickness=u(0.7, 1.3))
    elif kind == "rotated":
        base.update(rotation=float(rng.choice([-1, 1]) * u(8, 15)))
    elif kind == "jpeg":
        ext, quality = ".jpg", int(rng.integers(8, 26))
    elif kind == "noise":
        base.update(size=int(rng.integers(64, 97)), noise=u(0.06, 0.14), texture=0.0)
    elif kind == "rgba":
        base.update(size=int(rng.integers(180, 261)), rgba=True, colour=False)
    elif kind == "photo":
        base.update(
            lighting=u(0.3, 0.55),
            texture=u(0.01, 0.03),
            noise=u(0.0, 0.02),
            colour=bool(rng.random() < 0.6),
        )
        ext, quality = ".jpg", int(rng.integers(70, 91))
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return base, ext, quality


def encode(image: np.ndarray, ext: str = ".png", quality: int = 95) -> bytes:
    """Encode a gray, RGB or RGBA uint8 image as PNG or JPEG bytes."""
    if image.ndim == 3:
        code = cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        image = cv2.cvtColor(image, code)
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if ext.lower() in (".jpg", ".jpeg")
        else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    ok, buffer = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"could not encode the image as {ext}")
    return buffer.tobytes()


def save(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write an image with `encode`, the format given by the file's extension."""
    path = Path(path)
    return atomic_write_bytes(path, encode(image, path.suffix, quality))


def save_labels(path: str | Path, rows: list[dict]) -> Path:
    """Write ``rows`` (dicts with the same keys) as a CSV file with a header, atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())
