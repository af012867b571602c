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
    "PHOTO_KINDS",
    "render",
    "variant",
    "render_photo",
    "photo_variant",
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


def _paper(
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


def _lighting(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
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


def _ink_alpha(digit: np.ndarray, length: float, thickness: float, rotation: float) -> np.ndarray:
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
    ink_alpha = cv2.resize(
        digit.astype(np.float32) / 255.0, (big_side, big_side), interpolation=cv2.INTER_CUBIC
    )
    # Upscaled MNIST strokes are blurry; a contrast curve makes them look like pen strokes.
    ink_alpha = np.clip((ink_alpha - 0.3) / 0.4, 0.0, 1.0)
    if thickness:
        radius = abs(thickness) * scale
        k = max(1, int(round(2 * radius + 1)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        pad = int(np.ceil(radius)) + 1
        ink_alpha = cv2.copyMakeBorder(ink_alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        ink_alpha = cv2.dilate(ink_alpha, kernel) if thickness > 0 else cv2.erode(ink_alpha, kernel)
    if rotation:
        h, w = ink_alpha.shape
        pad = int(0.25 * max(h, w))
        ink_alpha = cv2.copyMakeBorder(ink_alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        h, w = ink_alpha.shape
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rotation, 1.0)
        ink_alpha = cv2.warpAffine(ink_alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    rows = np.flatnonzero(ink_alpha.max(axis=1) > 0.02)
    cols = np.flatnonzero(ink_alpha.max(axis=0) > 0.02)
    if rows.size == 0:
        raise ValueError("the rendering options erased the digit (too thin?)")
    ink_alpha = ink_alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return ink_alpha


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
    ink_alpha = _ink_alpha(digit, digit_fraction * size, thickness, rotation)
    alpha = _place_ink(ink_alpha, size, offset)

    if rgba:
        out = np.zeros((size, size, 4), dtype=np.uint8)
        out[:, :, 3] = np.round(alpha * 255).astype(np.uint8)
        return out

    background = _paper((size, size), rng, paper, texture)
    image = _compose(background, alpha, rng, ink, colour)
    if lighting:
        light = _lighting((size, size), rng, lighting)
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


# --------------------------------------------------------------------------- phone photos

#: Kinds of phone photos `photo_variant` knows, in a fixed order.
PHOTO_KINDS = ("angled", "shadow", "small", "ruled", "squared", "bluepen", "lowjpeg")

_INKS = {  # RGB in 0-1: dark ballpoint, blue ballpoint, red ballpoint, pencil
    "black": (0.12, 0.12, 0.16),
    "blue": (0.12, 0.2, 0.55),
    "red": (0.7, 0.12, 0.12),
    "pencil": (0.38, 0.38, 0.4),
}


def _sheet(
    shape: tuple[int, int], rng: np.random.Generator, ruling: str, spacing: float
) -> np.ndarray:
    """A frontal RGB sheet of paper (float32 0-1): plain, ruled or squared."""
    h, w = shape
    tint = np.array([1.0, 0.985, 0.95], dtype=np.float32) * rng.uniform(0.9, 0.98)
    tone = _paper(shape, rng, 1.0, rng.uniform(0.004, 0.012))
    sheet = tone[:, :, None] * tint
    if ruling == "plain":
        return sheet
    line_rgb = np.array(
        [(0.55, 0.7, 0.9), (0.6, 0.75, 0.85), (0.65, 0.65, 0.7)][int(rng.integers(3))],
        dtype=np.float32,
    )
    mask = np.zeros(shape, dtype=np.uint8)
    width = max(1, int(round(spacing * rng.uniform(0.04, 0.08))))
    phase = rng.uniform(0, spacing)
    for y in np.arange(phase, h, spacing):
        cv2.line(mask, (0, int(y)), (w - 1, int(y)), 255, width, cv2.LINE_AA)
    if ruling == "squared":
        for x in np.arange(rng.uniform(0, spacing), w, spacing):
            cv2.line(mask, (int(x), 0), (int(x), h - 1), 255, width, cv2.LINE_AA)
    elif rng.random() < 0.5:  # a red margin line
        x = int(w * rng.uniform(0.08, 0.2))
        red = np.zeros(shape, dtype=np.uint8)
        cv2.line(red, (x, 0), (x, h - 1), 255, width + 1, cv2.LINE_AA)
        a = (red.astype(np.float32) / 255)[:, :, None] * 0.8
        sheet = sheet * (1 - a) + np.array([0.9, 0.35, 0.35], dtype=np.float32) * a
    a = (mask.astype(np.float32) / 255)[:, :, None] * rng.uniform(0.6, 0.9)
    return sheet * (1 - a) + line_rgb * a


def _table(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A darker table top (wood-like streaks or a plain dark surface), RGB float32."""
    h, w = shape
    base = np.array(
        [(0.45, 0.3, 0.18), (0.3, 0.3, 0.32), (0.2, 0.15, 0.12), (0.5, 0.45, 0.4)][
            int(rng.integers(4))
        ],
        dtype=np.float32,
    ) * rng.uniform(0.7, 1.1)
    streaks = rng.normal(0, 1, size=(max(2, h // 4), 8)).astype(np.float32)
    streaks = cv2.resize(cv2.GaussianBlur(streaks, (0, 0), 1.0), (w, h))
    if rng.random() < 0.5:
        streaks = streaks.T if streaks.shape == (w, h) else cv2.resize(streaks.T, (w, h))
    texture = _paper(shape, rng, 1.0, 0.03) + 0.06 * streaks
    return np.clip(texture[:, :, None] * base, 0, 1)


def _shadow(shape: tuple[int, int], rng: np.random.Generator, depth: float) -> np.ndarray:
    """Multiplicative shade of a hand or phone: a blurred ellipse or band from one border."""
    h, w = shape
    mask = np.zeros(shape, dtype=np.float32)
    side = int(rng.integers(4))
    along = rng.uniform(0.2, 0.8)
    centre = [
        (along * w, -0.1 * h),
        (1.1 * w, along * h),
        (along * w, 1.1 * h),
        (-0.1 * w, along * h),
    ]
    cx, cy = centre[side]
    axes = (int(w * rng.uniform(0.25, 0.5)), int(h * rng.uniform(0.45, 0.8)))
    angle = rng.uniform(-40, 40) + (90 if side in (1, 3) else 0)
    cv2.ellipse(mask, (int(cx), int(cy)), axes, angle, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(h, w) * rng.uniform(0.015, 0.05))
    return 1.0 - depth * mask


def _camera_effects(
    photo: np.ndarray,
    rng: np.random.Generator,
    lighting: float,
    shadow: float,
    motion_blur: float,
    focus_blur: float,
    noise: float,
) -> np.ndarray:
    """The phone camera's light fall-off, shadow, blur and sensor noise, as uint8."""
    h, w = photo.shape[:2]
    light = _lighting((h, w), rng, lighting)[:, :, None] if lighting else 1.0
    photo = photo * light
    if shadow:
        photo = photo * _shadow((h, w), rng, shadow)[:, :, None]
    if motion_blur >= 2:
        k = int(round(motion_blur))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        turn = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, turn, (k, k))
        photo = cv2.filter2D(photo, -1, kernel / max(float(kernel.sum()), 1e-6))
    if focus_blur:
        photo = cv2.GaussianBlur(photo, (0, 0), focus_blur)
    if noise:
        photo = photo + rng.normal(0.0, noise, size=photo.shape).astype(np.float32)
    return np.round(np.clip(photo, 0.0, 1.0) * 255).astype(np.uint8)


def render_photo(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (640, 480),
    digit_fraction: float = 0.25,
    sheet_fraction: float = 1.6,
    tilt: float = 3.0,
    perspective: float = 0.03,
    ruling: str = "plain",
    ink: str = "black",
    thickness: float = 0.0,
    shadow: float = 0.0,
    lighting: float = 0.2,
    motion_blur: float = 0.0,
    focus_blur: float = 0.6,
    noise: float = 0.01,
) -> np.ndarray:
    """Render a 28x28 MNIST digit written on a sheet of paper, photographed by a phone.

    Args:
        digit: uint8 (28, 28), white digit on black (as in MNIST).
        rng: numpy Generator for every random detail.
        size: ``(width, height)`` of the photo.
        digit_fraction: the digit's longer side as a fraction of the photo's longer side.
        sheet_fraction: the sheet's size relative to the photo; below 1 the whole sheet
            lies on a darker table with its edges in view, above 1 it fills the frame.
        tilt: rotation of the sheet in degrees; ``perspective``: corner jitter (fraction
            of the photo) that makes the sheet look photographed at an angle.
        ruling: ``"plain"``, ``"ruled"`` or ``"squared"`` paper.
        ink: ``"black"``, ``"blue"``, ``"red"`` or ``"pencil"``; ``thickness``: change of
            the stroke half-width in MNIST pixels (negative: a thin pen).
        shadow: depth (0-1) of a hand/phone shadow; ``lighting``: uneven light fall-off.
        motion_blur: length in pixels of a linear motion blur; ``focus_blur``: sigma.
        noise: sensor noise standard deviation (0-1 scale).

    Returns:
        uint8 RGB array of shape ``(height, width, 3)``.
    """
    w, h = size
    longest = max(w, h)
    length = digit_fraction * longest
    # The sheet, frontal, at about the photo's resolution.
    sw = int(longest * sheet_fraction * rng.uniform(0.9, 1.0))
    sh = int(sw * rng.uniform(1.3, 1.45))
    if w > h:
        sw, sh = sh, sw
    spacing = length * (rng.uniform(0.55, 0.8) if ruling == "ruled" else rng.uniform(0.3, 0.45))
    sheet = _sheet((sh, sw), rng, ruling, spacing)
    alpha = _ink_alpha(digit, length, thickness, rng.uniform(-8, 8))
    ah, aw = alpha.shape
    # Where the digit goes: near the photo's centre, inside the visible part of the sheet.
    cx = sw / 2 + rng.uniform(-0.15, 0.15) * min(w, sw)
    cy = sh / 2 + rng.uniform(-0.15, 0.15) * min(h, sh)
    x0, y0 = int(np.clip(cx - aw / 2, 0, sw - aw)), int(np.clip(cy - ah / 2, 0, sh - ah))
    _write_ink(sheet, alpha, (x0, y0), ink, rng)
    centre = np.array([x0 + aw / 2, y0 + ah / 2])
    photo = _photograph(sheet, rng, size, centre, tilt, perspective)
    return _camera_effects(photo, rng, lighting, shadow, motion_blur, focus_blur, noise)


def _write_ink(
    sheet: np.ndarray, alpha: np.ndarray, at: tuple[int, int], ink: str, rng: np.random.Generator
) -> None:
    """Lay the digit's ink (coverage ``alpha``) on ``sheet`` in place, top-left at ``at``."""
    (x0, y0), (ah, aw) = at, alpha.shape
    colour = np.array(_INKS[ink], dtype=np.float32) * rng.uniform(0.85, 1.15)
    coverage = alpha[:, :, None] * (rng.uniform(0.75, 0.95) if ink == "pencil" else 1.0)
    patch = sheet[y0 : y0 + ah, x0 : x0 + aw]
    sheet[y0 : y0 + ah, x0 : x0 + aw] = patch * (1 - coverage) + np.clip(colour, 0, 1) * coverage


def _photograph(
    sheet: np.ndarray,
    rng: np.random.Generator,
    size: tuple[int, int],
    centre: np.ndarray,
    tilt: float,
    perspective: float,
) -> np.ndarray:
    """The camera: the sheet's ``centre`` lands near the photo's, tilted, in perspective,
    on a table."""
    (w, h), (sh, sw) = size, sheet.shape[:2]
    theta = np.deg2rad(tilt)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float64)
    shift = np.array([w / 2, h / 2]) + rng.uniform(-0.12, 0.12, 2) * (w, h)
    placed = (corners - centre) @ rot.T + shift
    placed += rng.uniform(-perspective, perspective, placed.shape) * max(w, h)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), placed.astype(np.float32))
    photo = cv2.warpPerspective(sheet, matrix, (w, h), flags=cv2.INTER_AREA)
    inside = cv2.warpPerspective(np.ones((sh, sw), np.float32), matrix, (w, h))[:, :, None]
    return photo * inside + _table((h, w), rng) * (1 - inside)


def photo_variant(kind: str, rng: np.random.Generator) -> tuple[dict, int]:
    """Draw the `render_photo` options of one phone photo of a kind (see `PHOTO_KINDS`).

    Returns:
        ``(render_photo_kwargs, jpeg_quality)``.
    """
    u = rng.uniform
    landscape = rng.random() < 0.6
    size = [(640, 480), (800, 600), (960, 720)][int(rng.integers(3))]
    base = dict(
        size=size if landscape else size[::-1],
        digit_fraction=u(0.12, 0.3),
        sheet_fraction=u(1.4, 1.9),
        tilt=u(-4, 4),
        perspective=u(0.0, 0.04),
        ink=str(rng.choice(["black", "blue", "black", "pencil", "red"])),
        thickness=u(-0.3, 0.4),
        lighting=u(0.05, 0.35),
        focus_blur=u(0.3, 0.9),
        noise=u(0.004, 0.012),
    )
    quality = int(rng.integers(70, 91))
    if kind == "angled":  # the whole sheet on a darker table, at an angle
        base.update(
            sheet_fraction=u(0.5, 0.7),
            tilt=float(rng.choice([-1, 1]) * u(5, 25)),
            perspective=u(0.03, 0.08),
            digit_fraction=u(0.1, 0.22),
        )
    elif kind == "shadow":
        base.update(shadow=u(0.3, 0.55))
    elif kind == "small":  # a small digit in a large photo
        side = [(1600, 1200), (1280, 960)][int(rng.integers(2))]
        base.update(size=side if landscape else side[::-1], digit_fraction=u(0.05, 0.08))
    elif kind == "ruled":
        base.update(ruling="ruled")
    elif kind == "squared":
        base.update(ruling="squared")
    elif kind == "bluepen":  # a thin blue pen, slightly shaken
        base.update(ink="blue", thickness=-u(0.45, 0.65), motion_blur=u(2, 6))
    elif kind == "lowjpeg":
        quality = int(rng.integers(8, 21))
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(PHOTO_KINDS)}")
    return base, quality
