"""Render MNIST digits as phone photos of a sheet of paper: the photo benchmark's renderer.

`render_photo` writes a 28x28 MNIST digit in ballpoint or pencil on a rendered sheet
(plain, ruled or squared), lays it on a table, and "photographs" it: uneven light, a
shadow, tilt and perspective, focus blur, sensor noise and JPEG. `photo_variant` draws the
options of a named kind (see `PHOTO_KINDS`) from a numpy Generator, so the same seed always
gives the same photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from digits.synth import samples

__all__ = ["PHOTO_KINDS", "photo_variant", "render_photo"]

#: Kinds of phone photos `photo_variant` knows, in a fixed order.
PHOTO_KINDS = ("angled", "shadow", "small", "ruled", "squared", "bluepen", "lowjpeg")

_INKS = {  # RGB in 0-1: dark ballpoint, blue ballpoint, red ballpoint, pencil
    "black": (0.12, 0.12, 0.16),
    "blue": (0.12, 0.2, 0.55),
    "red": (0.7, 0.12, 0.12),
    "pencil": (0.38, 0.38, 0.4),
}


def paper_sheet(
    shape: tuple[int, int], rng: np.random.Generator, ruling: str, spacing: float
) -> np.ndarray:
    """A frontal RGB sheet of paper (float32 0-1): plain, ruled or squared."""
    h, w = shape
    tint = np.array([1.0, 0.985, 0.95], dtype=np.float32) * rng.uniform(0.9, 0.98)
    tone = samples.paper_texture(shape, rng, 1.0, rng.uniform(0.004, 0.012))
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
    texture = samples.paper_texture(shape, rng, 1.0, 0.03) + 0.06 * streaks
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


def camera_effects(
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
    light = samples.lighting_field((h, w), rng, lighting)[:, :, None] if lighting else 1.0
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
    sheet = paper_sheet((sh, sw), rng, ruling, spacing)
    alpha = samples.digit_alpha(digit, length, thickness, rng.uniform(-8, 8))
    ah, aw = alpha.shape
    # Where the digit goes: near the photo's centre, inside the visible part of the sheet.
    cx = sw / 2 + rng.uniform(-0.15, 0.15) * min(w, sw)
    cy = sh / 2 + rng.uniform(-0.15, 0.15) * min(h, sh)
    x0, y0 = int(np.clip(cx - aw / 2, 0, sw - aw)), int(np.clip(cy - ah / 2, 0, sh - ah))
    _write_ink(sheet, alpha, (x0, y0), ink, rng)
    centre = np.array([x0 + aw / 2, y0 + ah / 2])
    photo = photograph(sheet, rng, size, centre, tilt, perspective)
    return camera_effects(photo, rng, lighting, shadow, motion_blur, focus_blur, noise)


def _write_ink(
    sheet: np.ndarray, alpha: np.ndarray, at: tuple[int, int], ink: str, rng: np.random.Generator
) -> None:
    """Lay the digit's ink (coverage ``alpha``) on ``sheet`` in place, top-left at ``at``."""
    (x0, y0), (ah, aw) = at, alpha.shape
    colour = np.array(_INKS[ink], dtype=np.float32) * rng.uniform(0.85, 1.15)
    coverage = alpha[:, :, None] * (rng.uniform(0.75, 0.95) if ink == "pencil" else 1.0)
    patch = sheet[y0 : y0 + ah, x0 : x0 + aw]
    sheet[y0 : y0 + ah, x0 : x0 + aw] = patch * (1 - coverage) + np.clip(colour, 0, 1) * coverage


def photograph(
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
