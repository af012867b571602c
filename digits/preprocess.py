"""Turn any image of a handwritten digit into the model's MNIST-style 28x28x1 input.

MNIST digits are white on black, size-normalised so the digit fits a 20x20 box (aspect
ratio kept, anti-aliased) and placed in a 28x28 field so that their centre of mass is
at the centre. Real photos and drawings are not like that, so `to_model_input` does:

1. read the image (path, bytes, numpy array or PIL image; any size; grayscale, RGB,
   RGBA); the dimensions are checked from the file header *before* decoding;
2. composite transparent pixels on a background that contrasts with the opaque ink
   (a black-on-transparent canvas PNG becomes black on white);
3. make it grayscale and downscale very large images to at most `WORK_SIDE` pixels;
4. detect the polarity (light background -> invert, so the ink is bright);
5. remove uneven lighting (subtract a smooth background estimate);
6. blur + Otsu threshold, with a minimum contrast, and keep the ink's connected
   components (tiny specks are ignored) -> bounding box of the digit;
7. crop, normalise the stroke width into MNIST's range, resize the longer side to
   20 px keeping the aspect ratio (anti-aliased), place in 28x28 by centre of mass;
8. scale to [0, 1].

Blank images or images without digit-like ink raise `NoDigitFound` (with a `reason`);
unreadable, empty, non-image or oversized inputs raise `ImageError`.

Numpy arrays are taken as grayscale ``(H, W)``/``(H, W, 1)``, **RGB** ``(H, W, 3)`` or
**RGBA** ``(H, W, 4)`` (the PIL / matplotlib order, not OpenCV's BGR), of dtype uint8
(0-255), uint16 (0-65535), bool, or float (in [0, 1]; values up to 255 are taken as 0-255).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "ImageError",
    "NoDigitFound",
    "PreprocessResult",
    "ImageInput",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "IMAGE_EXTENSIONS",
    "load_image",
    "to_model_input",
    "InkImage",
    "InkMask",
    "ink_image",
    "ink_mask",
    "crop_ink",
    "normalise_digit",
]

#: Largest image accepted, in pixels (width x height), checked before decoding.
MAX_PIXELS = 50_000_000
#: Largest file accepted, in bytes.
MAX_FILE_BYTES = 100 * 1024 * 1024
#: File name extensions treated as images when folders are walked.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

#: Larger images are downscaled (area interpolation) to this longer side before analysis.
WORK_SIDE = 512
#: Minimum difference between ink and background (on a 0-1 scale) to count as a digit.
MIN_CONTRAST = 0.15
#: Minimum Otsu separability (between-class / total variance) of ink vs background:
#: pen strokes on paper score 0.73-0.98, noise and textures 0.63-0.68.
MIN_SEPARABILITY = 0.69
#: Connected ink components smaller than this fraction of the largest one are specks,
#: unless they lie inside the digit's box (pieces of a broken stroke) and are at least
#: `FRAGMENT_FRACTION` of the largest.
SPECK_FRACTION = 0.08
FRAGMENT_FRACTION = 0.01
#: More (non-speck) separate marks than this is not a single digit.
MAX_COMPONENTS = 8
#: More enclosed holes than this is not a digit (an 8 has two; noise has dozens).
MAX_HOLES = 4
#: The digit's longer side must be at least this fraction of the image's longer side.
MIN_DIGIT_FRACTION = 0.04
#: ... and at least this many pixels (at the working resolution).
MIN_DIGIT_PIXELS = 6

_BOX = 20  # MNIST: the digit fits a 20x20 box ...
_FIELD = 28  # ... inside a 28x28 field ...
_CENTRE = 14.0  # ... with its centre of mass at pixel (14, 14) (row, column indices).
_STROKE_SIDE = 80  # resolution (longer side) at which the stroke width is normalised
# Stroke width / digit's longer side in MNIST (binarised at 0.5): 5th-95th percentile
# about 0.08-0.18, median 0.12. Outside [_STROKE_MIN, _STROKE_MAX] it is brought back
# to the nearest of _STROKE_TARGETS.
_STROKE_MIN, _STROKE_MAX = 0.085, 0.19
_STROKE_TARGETS = (0.10, 0.17)

ImageInput = str | Path | bytes | bytearray | memoryview | np.ndarray | Image.Image


class ImageError(ValueError):
    """The input cannot be used as an image: missing, empty, unreadable or too large."""


class NoDigitFound(ValueError):
    """The image was read but contains no digit-like ink; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class PreprocessResult:
    """What `to_model_input` produced and what it did to get there.

    Attributes:
        image: the 28x28 float32 image in [0, 1] (white digit on black) the model sees.
        bbox: ``(x, y, width, height)`` of the digit in the original image, in pixels.
        inverted: True when the image had a light background and was inverted.
        image_size: ``(width, height)`` of the original image.
        stroke_width: the digit's stroke width relative to its longer side, as found
            (MNIST is about 0.08-0.19; thinner or thicker strokes were normalised).
    """

    image: np.ndarray
    bbox: tuple[int, int, int, int]
    inverted: bool
    image_size: tuple[int, int]
    stroke_width: float

    @property
    def model_input(self) -> np.ndarray:
        """The image as a batch of one, shape ``(1, 28, 28, 1)``, float32."""
        return self.image.reshape(1, _FIELD, _FIELD, 1)


# --------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file.") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot be read ({error.strerror or error}).") from None
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file.")
    if size == 0:
        raise ImageError(f"{path} is empty (0 bytes); save the image again.")
    if size > MAX_FILE_BYTES:
        raise ImageError(
            f"{path} is {size / 2**20:.0f} MiB; files over {MAX_FILE_BYTES // 2**20} MiB "
            "are refused. Save a smaller image."
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImageError(f"{path}: cannot be read ({error.strerror or error}).") from None


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} MP); images over "
            f"{MAX_PIXELS / 1e6:.0f} MP are refused. Scale it down (a digit needs only a few "
            "hundred pixels) and try again."
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width}x{height}).")


def _header(data: bytes, name: str) -> str:
    """Read the image header (not the pixels): check the dimensions, return the format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = img.format or ""
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"{name} is far too large ({error}); images over {MAX_PIXELS / 1e6:.0f} MP are "
            "refused. Scale it down and try again."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(
            f"{name} is not an image file OpenCV/Pillow can read ({type(error).__name__}). "
            f"Use PNG, JPEG, BMP, GIF, WebP or TIFF."
        ) from None
    _check_size(width, height, name)
    return fmt


def _decode(data: bytes, name: str, colour: bool) -> tuple[np.ndarray, str]:
    """Decode encoded image bytes -> (array, channel order "bgr" or "rgb")."""
    fmt = _header(data, name)
    buffer = np.frombuffer(data, dtype=np.uint8)
    if fmt in ("JPEG", "MPO"):
        # No alpha in JPEG; these flags apply the EXIF orientation of phone photos.
        flags = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
    else:
        flags = cv2.IMREAD_UNCHANGED  # keeps alpha and 16-bit depth
    array = cv2.imdecode(buffer, flags) if fmt != "GIF" else None
    if array is not None:
        return array, "bgr"
    # OpenCV cannot decode it (GIF, unusual modes) or the file is damaged: try Pillow.
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)
            img.load()
            return _pil_to_array(img), "rgb"
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(
            f"{name} could not be decoded: it is damaged or truncated ({error}). "
            "Save or download it again."
        ) from None


def _pil_to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(img.convert("I;16"), dtype=np.uint16)
    if mode in ("I", "F"):
        array = np.asarray(img, dtype=np.float32)
        return array / (65535.0 if mode == "I" else (255.0 if array.max(initial=0) > 1 else 1.0))
    has_alpha = "A" in mode or "a" in mode or "transparency" in img.info
    if mode in ("L", "1") and not has_alpha:
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))


def _to_array(image: ImageInput, colour: bool) -> tuple[np.ndarray, str]:
    if isinstance(image, (str, Path)):
        path = Path(image)
        return _decode(_read_bytes(path), str(path), colour)
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("The image data is empty (0 bytes).")
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(
                f"The image data is over {MAX_FILE_BYTES // 2**20} MiB; send a smaller image."
            )
        return _decode(data, "The image data", colour)
    if isinstance(image, Image.Image):
        _check_size(image.width, image.height, "The image")
        return _pil_to_array(image), "rgb"
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise ImageError(
                f"An image array must be (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA; "
                f"got shape {image.shape}."
            )
        _check_size(image.shape[1], image.shape[0], "The image array")
        if image.dtype.kind not in "uifb":
            raise ImageError(f"Unsupported image array dtype {image.dtype}.")
        if image.dtype.kind == "f" and not np.isfinite(image).all():
            raise ImageError("The image array contains NaN or infinite values.")
        return image, "rgb"
    raise ImageError(
        f"Unsupported image type {type(image).__name__}: pass a file path, bytes, "
        "a numpy array or a PIL image."
    )


def _as_unit_float(array: np.ndarray) -> np.ndarray:
    """Any supported dtype -> float32 in [0, 1]."""
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array.astype(np.float32) * np.float32(1 / 255)
    if kind == "b":
        return array.astype(np.float32)
    if kind == "f":
        array = array.astype(np.float32)
        top = float(array.max(initial=0.0))
        if top > 1.0 + 1e-6:
            if top > 255.0 + 1e-3:
                raise ImageError("Float image arrays must hold values in [0, 1] (or 0-255).")
            array = array / np.float32(255)
        return np.clip(array, 0.0, 1.0)
    if array.dtype == np.uint16:
        return array.astype(np.float32) * np.float32(1 / 65535)
    array = array.astype(np.float32)
    if array.min(initial=0) < 0 or array.max(initial=0) > 255:
        return np.clip(array / 65535.0, 0.0, 1.0)
    return array / np.float32(255)


def load_image(image: ImageInput) -> np.ndarray:
    """Read an image as a numpy array for display: uint8 (H, W) gray, (H, W, 3) RGB or
    (H, W, 4) RGBA (files are decoded as the viewer shows them, EXIF orientation applied).

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
    """
    array, order = _to_array(image, colour=True)
    if array.dtype != np.uint8:
        array = np.round(_as_unit_float(array) * 255).astype(np.uint8)
    if order == "bgr" and array.ndim == 3:
        array = cv2.cvtColor(
            array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
        )
    return array


# --------------------------------------------------------------------------- analysis


def _to_gray(array: np.ndarray, order: str) -> np.ndarray:
    """Array (gray / RGB / BGR / RGBA / BGRA, any dtype) -> float32 gray in [0, 1].

    Transparent pixels are composited on a background that contrasts with the ink:
    when the opaque pixels cover less than half the image they are the strokes
    (a drawing on a transparent canvas) and the background is white for dark strokes,
    black for light ones; otherwise the background is the opaque pixels' median tone.
    """
    if array.ndim == 2:
        return _as_unit_float(array)
    colour = array[:, :, :3]
    if colour.dtype not in (np.uint8, np.uint16, np.float32):
        colour = _as_unit_float(colour)
    code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
    gray = _as_unit_float(cv2.cvtColor(np.ascontiguousarray(colour), code))
    if array.shape[2] == 3:
        return gray
    alpha = _as_unit_float(np.ascontiguousarray(array[:, :, 3]))
    if float(alpha.min()) >= 1.0:
        return gray
    opaque = alpha > 0.5
    if not opaque.any():
        return np.ones_like(gray)  # fully transparent: blank
    if opaque.mean() < 0.5:
        ink_tone = float((gray * alpha).sum() / max(float(alpha.sum()), 1e-6))
        background = 1.0 if ink_tone < 0.5 else 0.0
    else:
        background = float(np.median(gray[opaque]))
    return gray * alpha + np.float32(background) * (1.0 - alpha)


def _odd(n: float) -> int:
    n = max(1, int(round(n)))
    return n if n % 2 else n + 1


def _flatten_background(ink: np.ndarray) -> np.ndarray:
    """Subtract a smooth background estimate (a large morphological opening computed at
    low resolution), which removes uneven lighting and shadows."""
    h, w = ink.shape
    f = 64.0 / max(h, w)
    small = ink
    if f < 1.0:
        small = cv2.resize(
            ink, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
        )
    k = _odd(max(3, 0.35 * max(small.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    # Pad first: opening a padded image follows shading ramps up to the border.
    padded = cv2.copyMakeBorder(small, k, k, k, k, cv2.BORDER_REPLICATE)
    background = cv2.morphologyEx(padded, cv2.MORPH_OPEN, kernel)
    background = cv2.blur(background, (k, k))[k:-k, k:-k]
    if f < 1.0:
        background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(ink - background, 0.0, 1.0)


def _otsu(u8: np.ndarray) -> tuple[int, float]:
    """Otsu threshold of a uint8 image and its separability (between / total variance)."""
    hist = cv2.calcHist([u8], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    p = hist / hist.sum()
    levels = np.arange(256, dtype=np.float64)
    omega = np.cumsum(p)
    mu = np.cumsum(p * levels)
    mu_t = mu[-1]
    total = float((p * (levels - mu_t) ** 2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    between = np.nan_to_num(between[:-1], nan=0.0, posinf=0.0)
    t = int(np.argmax(between))
    return t, (float(between[t]) / total if total > 0 else 0.0)


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask in pixels: 2 * area / perimeter."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(mask.sum()) / perimeter if perimeter > 0 else 0.0


def _normalise_digit(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """Cropped ink (float, bright on black) -> 28x28 MNIST-style image, stroke ratio."""
    h, w = crop.shape
    scale = _STROKE_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(crop, size, interpolation=interp)
    mask = (big > 0.5).astype(np.uint8)
    ratio = _stroke_width(mask) / _STROKE_SIDE
    if ratio and not _STROKE_MIN <= ratio <= _STROKE_MAX:
        target = _STROKE_TARGETS[0] if ratio < _STROKE_MIN else _STROKE_TARGETS[1]
        radius = int(round(abs(target - ratio) * _STROKE_SIDE / 2))
        if radius:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            if ratio < _STROKE_MIN:
                big = cv2.copyMakeBorder(
                    big, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0
                )
                big = cv2.dilate(big, kernel)
            else:
                eroded = cv2.erode(big, kernel)
                if eroded.max() > 0.5:  # never erase the digit
                    big = eroded
            rows = np.flatnonzero(big.max(axis=1) > 0.05)
            cols = np.flatnonzero(big.max(axis=0) > 0.05)
            big = big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = big.shape
    scale = _BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    box = cv2.resize(big, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    box = np.clip(box, 0.0, 1.0)
    # Place in 28x28 so the centre of mass lands on (14, 14), whole-pixel shift as MNIST.
    total = float(box.sum())
    bh, bw = box.shape
    if total > 0:
        com_y = float((box.sum(axis=1) * np.arange(bh)).sum()) / total
        com_x = float((box.sum(axis=0) * np.arange(bw)).sum()) / total
    else:
        com_y, com_x = (bh - 1) / 2, (bw - 1) / 2
    top = int(np.clip(round(_CENTRE - com_y), 0, _FIELD - bh))
    left = int(np.clip(round(_CENTRE - com_x), 0, _FIELD - bw))
    field = np.zeros((_FIELD, _FIELD), dtype=np.float32)
    field[top : top + bh, left : left + bw] = box
    return field, ratio


def _ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Gray image -> (ink bright on black with the background removed, inverted?).

    The background is the median tone; the ink is whatever departs from it the most,
    darker (-> invert) or lighter. Sums, not percentiles, so that a few thin strokes in
    a large image still count.
    """
    step = max(1, max(gray.shape) // 256)
    sample = gray[::step, ::step]
    deviation = sample - np.float32(np.median(sample))
    margin = np.float32(0.05)
    darker = float(np.maximum(-deviation - margin, 0).sum())
    lighter = float(np.maximum(deviation - margin, 0).sum())
    inverted = darker > lighter
    return _flatten_background(1.0 - gray if inverted else gray), inverted


def _find_digit(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Locate the digit in the ink image -> (crop in [0, 1], box (x0, y0, x1, y1)).

    Raises:
        NoDigitFound: blank, noise-like, tiny, solid or hole-riddled ink.
    """
    h, w = ink.shape
    # A light blur gives the stroke intensities, a stronger one the ink mask (less noise).
    sigma = max(0.5, max(h, w) / 300)
    blurred = cv2.GaussianBlur(ink, (0, 0), sigma)
    contrast = float(blurred.max())
    if contrast < MIN_CONTRAST:
        raise NoDigitFound(
            "no digit found: the image is blank or almost blank "
            f"(ink contrast {contrast:.2f} < {MIN_CONTRAST})"
        )
    detect = cv2.GaussianBlur(ink, (0, 0), 2 * sigma)
    peak = max(float(detect.max()), 1e-6)
    u8 = np.clip(detect * (255.0 / peak), 0, 255).astype(np.uint8)
    threshold, separability = _otsu(u8)
    if separability < MIN_SEPARABILITY:
        raise NoDigitFound(
            "no digit found: no clear ink on a background (looks like noise or a photo; "
            f"separability {separability:.2f} < {MIN_SEPARABILITY})"
        )
    mask = (u8 > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise NoDigitFound("no digit found: no ink left after thresholding")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= SPECK_FRACTION * areas.max()) + 1
    if len(keep) > MAX_COMPONENTS:
        raise NoDigitFound(
            f"no digit found: {len(keep)} separate marks of similar size "
            "(noise, text or a photo?), "
            "expected one digit"
        )
    left, top = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[1:, cv2.CC_STAT_WIDTH], top + stats[1:, cv2.CC_STAT_HEIGHT]
    x0, y0 = int(left[keep - 1].min()), int(top[keep - 1].min())
    x1, y1 = int(right[keep - 1].max()), int(bottom[keep - 1].max())
    inside = (left >= x0) & (top >= y0) & (right <= x1) & (bottom <= y1)
    fragment = inside & (areas >= FRAGMENT_FRACTION * areas.max())
    keep = np.flatnonzero((areas >= SPECK_FRACTION * areas.max()) | fragment) + 1
    longest = max(x1 - x0, y1 - y0)
    if longest < max(MIN_DIGIT_PIXELS, MIN_DIGIT_FRACTION * max(h, w)):
        raise NoDigitFound(f"no digit found: only a tiny mark ({x1 - x0}x{y1 - y0} px)")
    selected = np.isin(labels[y0:y1, x0:x1], keep).astype(np.uint8)
    ink_area = int(selected.sum())
    if ink_area > 0.85 * (x1 - x0) * (y1 - y0) and min(x1 - x0, y1 - y0) > 0.5 * longest:
        raise NoDigitFound("no digit found: the ink is a solid block, not pen strokes")
    contours, hierarchy = cv2.findContours(selected, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    holes = (
        0
        if hierarchy is None
        else sum(
            1
            for contour, link in zip(contours, hierarchy[0])
            if link[3] != -1 and cv2.contourArea(contour) >= 0.002 * ink_area
        )
    )
    if holes > MAX_HOLES:
        raise NoDigitFound(
            f"no digit found: the ink has {holes} enclosed holes (noise, a texture or a photo?)"
        )

    # Crop the soft ink, keep only the digit's components (plus their anti-aliased rim),
    # and stretch it so the strokes' cores are 1 and the background 0.
    rim = _odd(2 * sigma + 1)
    selected = cv2.dilate(selected, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rim, rim)))
    crop = blurred[y0:y1, x0:x1] * selected
    low = 0.5 * threshold * peak / 255.0
    core = crop[mask[y0:y1, x0:x1] > 0]
    high = float(np.percentile(core, 90)) if core.size else contrast
    crop = np.clip((crop - low) / max(high - low, 1e-3), 0.0, 1.0)
    return crop, (x0, y0, x1, y1)


def to_model_input(image: ImageInput) -> PreprocessResult:
    """Turn an image of one handwritten digit into the model's MNIST-style input.

    Args:
        image: a file path (str or Path), encoded file bytes, a numpy array (gray, RGB
            or RGBA, see the module docstring) or a PIL image. Any size up to
            `MAX_PIXELS`; light or dark background; transparency allowed.

    Returns:
        A `PreprocessResult`; ``result.model_input`` is the ``(1, 28, 28, 1)`` float32
        array to feed to the model.

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
        NoDigitFound: the image is blank or has no digit-like ink (see ``.reason``).
    """
    array, order = _to_array(image, colour=False)
    gray = _to_gray(array, order)
    height, width = gray.shape
    factor = 1.0
    if max(height, width) > WORK_SIDE:
        factor = WORK_SIDE / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    ink, inverted = _ink(gray)
    crop, (x0, y0, x1, y1) = _find_digit(ink)
    field, ratio = _normalise_digit(crop)
    left, top = int(np.floor(x0 / factor)), int(np.floor(y0 / factor))
    bbox = (
        left,
        top,
        min(int(np.ceil((x1 - x0) / factor)), width - left),
        min(int(np.ceil((y1 - y0) / factor)), height - top),
    )
    return PreprocessResult(
        image=field,
        bbox=bbox,
        inverted=inverted,
        image_size=(width, height),
        stroke_width=round(ratio, 4),
    )


# --------------------------------------------------------------------------- shared parts
# The steps of `to_model_input`, public for readers of several digits (`digits.read`).


@dataclass(frozen=True, eq=False)
class InkImage:
    """An image's ink as `to_model_input` sees it (steps 1-5 of the module docstring).

    Attributes:
        ink: float32 (h, w) in [0, 1], bright ink on black, uneven lighting removed, at the
            working resolution.
        scale: working pixels per original pixel (1.0, or less for downscaled images).
        inverted: True when the image had a light background and was inverted.
        image_size: ``(width, height)`` of the original image.
    """

    ink: np.ndarray
    scale: float
    inverted: bool
    image_size: tuple[int, int]


def ink_image(image: ImageInput, max_side: int = WORK_SIDE) -> InkImage:
    """Read an image (as `to_model_input` does) and return its ink, downscaled to at most
    ``max_side`` pixels on the longer side.

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
    """
    array, order = _to_array(image, colour=False)
    gray = _to_gray(array, order)
    height, width = gray.shape
    factor = 1.0
    if max(height, width) > max_side:
        factor = max_side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    ink, inverted = _ink(gray)
    return InkImage(ink=ink, scale=factor, inverted=inverted, image_size=(width, height))


@dataclass(frozen=True, eq=False)
class InkMask:
    """Where the ink is (step 6 of the module docstring).

    Attributes:
        blurred: the lightly blurred ink (stroke intensities), float32.
        mask: uint8 0/1, the ink pixels (Otsu threshold of a stronger blur).
        sigma: the light blur's standard deviation in pixels.
        low: ink level mapped to 0 by `crop_ink` (half the threshold).
    """

    blurred: np.ndarray
    mask: np.ndarray
    sigma: float
    low: float


def ink_mask(ink: np.ndarray, sigma: float | None = None) -> InkMask:
    """Threshold an `InkImage`'s ink with the same blur, contrast and separability rules as
    `to_model_input`. ``sigma`` is the light blur (default: the image's longer side / 300,
    as for a single digit; the mask's blur is twice that).

    Raises:
        NoDigitFound: blank or noise-like ink.
    """
    h, w = ink.shape
    sigma = max(0.5, max(h, w) / 300) if sigma is None else sigma
    blurred = cv2.GaussianBlur(ink, (0, 0), sigma)
    contrast = float(blurred.max())
    if contrast < MIN_CONTRAST:
        raise NoDigitFound(
            "no digit found: the image is blank or almost blank "
            f"(ink contrast {contrast:.2f} < {MIN_CONTRAST})"
        )
    detect = cv2.GaussianBlur(ink, (0, 0), 2 * sigma)
    peak = max(float(detect.max()), 1e-6)
    u8 = np.clip(detect * (255.0 / peak), 0, 255).astype(np.uint8)
    threshold, separability = _otsu(u8)
    if separability < MIN_SEPARABILITY:
        raise NoDigitFound(
            "no digit found: no clear ink on a background (looks like noise or a photo; "
            f"separability {separability:.2f} < {MIN_SEPARABILITY})"
        )
    mask = (u8 > threshold).astype(np.uint8)
    return InkMask(blurred=blurred, mask=mask, sigma=sigma, low=0.5 * threshold * peak / 255.0)


def crop_ink(ink: InkMask, selected: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The soft ink of one digit, as `to_model_input` crops it: ``selected`` (uint8 0/1, the
    shape of ``box`` = ``(x0, y0, x1, y1)``) marks the digit's ink pixels; their anti-aliased
    rim is kept, everything else in the box is dropped, and the strokes' cores are stretched
    to 1. Returns float32 in [0, 1], for `normalise_digit`."""
    x0, y0, x1, y1 = box
    rim = _odd(2 * ink.sigma + 1)
    grown = cv2.dilate(selected, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rim, rim)))
    crop = ink.blurred[y0:y1, x0:x1] * grown
    core = crop[selected > 0]
    high = float(np.percentile(core, 90)) if core.size else float(crop.max(initial=0.0))
    return np.clip((crop - ink.low) / max(high - ink.low, 1e-3), 0.0, 1.0).astype(np.float32)


def normalise_digit(crop: np.ndarray) -> np.ndarray:
    """A digit's cropped ink (float, bright on black) -> the 28x28 MNIST-style float32 image
    `to_model_input` makes of it (stroke width normalised, 20 px box, centre of mass)."""
    return _normalise_digit(crop)[0]
