"""Turn any image of a handwritten digit into the model's MNIST-style 28x28x1 input.

MNIST digits are white on black, size-normalised so the digit fits a 20x20 box (aspect
ratio kept, anti-aliased) and placed in a 28x28 field so that their centre of mass is
at the centre. Real photos and drawings are not like that, so `to_model_input` does:

1. read the image (path, bytes, numpy array or PIL image; any size; grayscale, RGB,
   RGBA); the dimensions are checked from the file header *before* decoding;
2. composite transparent pixels on a background that contrasts with the opaque ink
   (a black-on-transparent canvas PNG becomes black on white);
3. make it grayscale and downscale larger images by a whole factor to at most
   `WORK_SIDE` pixels;
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
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "ImageError",
    "NoDigitFound",
    "PreprocessResult",
    "ImageInput",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_DECODE_SECONDS",
    "MAX_JPEG_SCANS",
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
#: Longest one file may take to decode, in seconds (a decode past it is stopped).
MAX_DECODE_SECONDS = 3.0
#: Most scans a JPEG may have (a progressive JPEG has about 10; each scan costs a pass over
#: the whole image, so thousands of repeated scans are a CPU bomb).
MAX_JPEG_SCANS = 100
#: The limits above are read at every call: set them on the module to change them, e.g.
#: ``digits.preprocess.MAX_DECODE_SECONDS = 10``.
#: File name extensions treated as images when folders are walked.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

#: Larger images are downscaled (area interpolation, by a whole factor) to at most this
#: longer side before analysis.
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
#: A digit found smaller than this (longer side, working pixels) in a downscaled image is
#: analysed again on a crop of the full-resolution image, scaled to at most `REFINE_SIDE`
#: pixels, with `REFINE_PAD` times its size of margin around it.
REFINE_BELOW = 32
REFINE_SIDE = 96
REFINE_PAD = 0.75
#: A sheet of paper on a table must be this much brighter than the table (0-1 scale);
#: its outline (this fraction of the image's longer side) is dropped with the table.
SHEET_CONTRAST = 0.15
SHEET_MARGIN = 0.015
_SHEET_SIDE = 128  # resolution at which the sheet is looked for
#: A sheet is paper: at least this fraction of its outline is bright. The bright ring of a
#: 0 written white on black has the outline of a sheet but is mostly hollow.
SHEET_FILL = 0.9
#: Lines (ruled or squared paper, page edges): marks of ink above `LINE_LEVEL` that span
#: at least `LINE_SPAN` of the image and are at most `LINE_THINNESS` as thick as long.
LINE_LEVEL = 0.06
LINE_SPAN = 0.85
LINE_THINNESS = 0.035
_LINE_SQUEEZE = 4  # lines are looked for on a copy squeezed this many times along them
#: Marks farther apart than this fraction of their height are separate digits.
GROUP_GAP = 0.12
#: Digits found larger than `FINE_MAX_DIGIT` of the longer side are checked again with a
#: background estimated with a square `FINE_BACKGROUND` of the longer side.
FINE_BACKGROUND = 0.12
FINE_MAX_DIGIT = 0.45

_BOX = 20  # MNIST: the digit fits a 20x20 box ...
_FIELD = 28  # ... inside a 28x28 field ...
_CENTRE = 14.0  # ... with its centre of mass at pixel (14, 14) (row, column indices).
_STROKE_SIDE = 80  # resolution (longer side) at which the stroke width is normalised
# Stroke width / digit's longer side in MNIST (binarised at 0.5): 5th-95th percentile
# about 0.08-0.18, median 0.12. Outside [_STROKE_MIN, _STROKE_MAX] it is brought back
# to _STROKE_TARGETS: thin pens to the median (thin, blurred strokes break apart below it),
# thick markers to 0.17.
_STROKE_MIN, _STROKE_MAX = 0.085, 0.19
_STROKE_TARGETS = (0.12, 0.17)

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
        several_digits: True when the image holds other digit-like marks beside the one
            answered for (the largest, most central one): a number, not a digit.
    """

    image: np.ndarray
    bbox: tuple[int, int, int, int]
    inverted: bool
    image_size: tuple[int, int]
    stroke_width: float
    several_digits: bool = False

    @property
    def model_input(self) -> np.ndarray:
        """The image as a batch of one, shape ``(1, 28, 28, 1)``, float32."""
        return self.image.reshape(1, _FIELD, _FIELD, 1)


# --------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image file.")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file.") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        raise ImageError(f"{str(path)!r}: cannot be read ({_why(error)}).") from None
    if size == 0:
        raise ImageError(f"{path} is empty (0 bytes); save the image again.")
    if size > MAX_FILE_BYTES:
        raise ImageError(
            f"{path} is {size / 2**20:.0f} MiB; files over {MAX_FILE_BYTES // 2**20} MiB "
            "are refused. Save a smaller image."
        )
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)  # the file may grow after stat()
    except (OSError, ValueError) as error:
        raise ImageError(f"{path}: cannot be read ({_why(error)}).") from None


def _why(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} MP); images over "
            f"{MAX_PIXELS / 1e6:.0f} MP are refused. Scale it down (a digit needs only a few "
            "hundred pixels) and try again."
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width}x{height}).")


def _check_structure(data: bytes, fmt: str, name: str) -> None:
    """Refuse files whose structure promises more work than their size allows: a PNG chunk
    longer than the rest of the file (decoders that trust the length allocate it), a JPEG
    with more than `MAX_JPEG_SCANS` scans (each scan re-decodes the whole image)."""
    if fmt == "PNG" or data.startswith(b"\x89PNG"):
        offset = 8
        while offset + 8 <= len(data):
            length = int.from_bytes(data[offset : offset + 4], "big")
            kind = data[offset + 4 : offset + 8]
            if length > len(data) - offset - 12:
                raise ImageError(
                    f"{name} is a damaged or truncated PNG: its {kind.decode('latin-1')!r} "
                    "chunk claims "
                    f"{length:,} bytes but only {max(0, len(data) - offset - 12):,} follow. "
                    "Save or download it again."
                )
            if kind == b"IEND":
                break
            offset += 12 + length
    if fmt in ("JPEG", "MPO"):
        scans = data.count(b"\xff\xda")  # SOS; 0xFF in entropy-coded data is stuffed
        if scans > MAX_JPEG_SCANS:
            raise ImageError(
                f"{name} is a JPEG with {scans} scans (more than {MAX_JPEG_SCANS}): it would "
                "take far too long to decode. Save it again as a normal JPEG or PNG."
            )


def _header(data: bytes, name: str) -> str:
    """Read the image header (not the pixels): check the dimensions and the structure,
    return the format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = img.format or ""
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"{name} is far too large ({error}); images over {MAX_PIXELS / 1e6:.0f} MP are "
            "refused. Scale it down and try again."
        ) from None
    except MemoryError:
        raise ImageError(f"{name}: its header asks for more memory than is allowed.") from None
    except Exception as error:  # noqa: BLE001 - plugins raise anything (NotImplementedError ...)
        raise ImageError(
            f"{name} is not an image file Pillow can read ({type(error).__name__}). "
            f"Use PNG, JPEG, BMP, GIF, WebP or TIFF."
        ) from None
    _check_size(width, height, name)
    _check_structure(data, fmt, name)
    return fmt


class _DecodeTimeout(Exception):
    pass


class _TimedBytes(io.BytesIO):
    """The file's bytes, refusing to be read past a deadline: Pillow's decoders read their
    input in small blocks, so a decode that takes too long stops at its next read."""

    def __init__(self, data: bytes, seconds: float):
        super().__init__(data)
        self.deadline = time.monotonic() + seconds

    def read(self, size: int | None = -1) -> bytes:
        if time.monotonic() > self.deadline:
            raise _DecodeTimeout
        return super().read(size)


_READ_BLOCK = 1024  # decoder input block: the decode deadline is checked this often


def _decode(data: bytes, name: str, colour: bool = True) -> tuple[np.ndarray, str]:
    """Decode encoded image bytes with Pillow, inside the limits -> (array, "rgb").

    The first frame is decoded; the EXIF orientation (JPEG, PNG eXIf, WebP, TIFF) is
    applied, so the array is the image as a viewer shows it.
    """
    _header(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(_TimedBytes(data, MAX_DECODE_SECONDS)) as img:
                img.decodermaxblock = _READ_BLOCK
                img.load()
                try:
                    upright = ImageOps.exif_transpose(img)
                except Exception:  # noqa: BLE001 - a damaged EXIF block: keep it as stored
                    upright = img
                return _pil_to_array(upright), "rgb"
    except _DecodeTimeout:
        raise ImageError(
            f"{name} took more than {MAX_DECODE_SECONDS:g} s to decode and was stopped. "
            "Save it again as a plain PNG or JPEG."
        ) from None
    except MemoryError:
        raise ImageError(f"{name} needs more memory to decode than is allowed.") from None
    except ImageError:
        raise
    except Exception as error:  # noqa: BLE001 - decoders raise OSError, NotImplementedError ...
        raise ImageError(
            f"{name} could not be decoded: it is damaged or truncated "
            f"({type(error).__name__}: {_why(error)}). Save or download it again."
        ) from None


def _pil_to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img.convert("I;16"), dtype=np.uint16)
    if mode in ("I", "F"):
        array = np.asarray(img, dtype=np.float32)
        if not np.isfinite(array).all():
            raise ImageError("The image holds NaN or infinite values.")
        return array / (65535.0 if mode == "I" else (255.0 if array.max(initial=0) > 1 else 1.0))
    if mode == "La":  # premultiplied alpha: Pillow converts it only to LA
        img, mode = img.convert("LA"), "LA"
    has_alpha = "A" in mode or "a" in mode or "transparency" in img.info
    if mode in ("L", "1") and not has_alpha:
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))


def _pil_input(image: Image.Image) -> np.ndarray:
    """A PIL image object (maybe opened lazily from a damaged file) -> array."""
    try:
        _check_size(image.width, image.height, "The image")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
            return _pil_to_array(image)
    except ImageError:
        raise
    except MemoryError:
        raise ImageError("The image needs more memory than is allowed.") from None
    except Exception as error:  # noqa: BLE001 - lazily loaded files fail here (OSError ...)
        raise ImageError(
            f"The PIL image could not be read (mode {image.mode!r}; "
            f"{type(error).__name__}: {_why(error)})."
        ) from None


def _array_input(image: np.ndarray) -> np.ndarray:
    if isinstance(image, np.ma.MaskedArray):
        raise ImageError("Masked arrays are not supported: pass array.filled(background) instead.")
    image = np.asarray(image)  # np.matrix and other subclasses -> plain ndarray
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
    if image.dtype.kind == "f" and image.dtype != np.float32:
        image = np.clip(image, -1.0, 256.0).astype(np.float32)  # float16/64/128 -> float32
    elif not image.dtype.isnative:
        image = image.astype(image.dtype.newbyteorder("="))
    return np.ascontiguousarray(image)


def _to_array(image: ImageInput, colour: bool = True) -> tuple[np.ndarray, str]:
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
        return _pil_input(image), "rgb"
    if isinstance(image, np.ndarray):
        return _array_input(image), "rgb"
    raise ImageError(
        f"Unsupported image type {type(image).__name__}: pass a file path, bytes, "
        "a numpy array or a PIL image."
    )


def _as_unit_float(array: np.ndarray) -> np.ndarray:
    """Any supported dtype -> float32 in [0, 1]."""
    kind = array.dtype.kind
    if array.dtype == np.uint8:  # one pass, no float32 temporary (large photos)
        return np.multiply(array, np.float32(1 / 255), dtype=np.float32)
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


def _flatten_background(ink: np.ndarray, size: float = 0.35, side: int = 64) -> np.ndarray:
    """Subtract a smooth background estimate (a morphological opening computed at low
    resolution, ``side`` pixels, with a square ``size`` times the longer side), which
    removes uneven lighting and shadows. Marks narrower than the square are ink; a
    smaller square follows the edges of shadows more closely."""
    h, w = ink.shape
    f = side / max(h, w)
    small = ink
    if f < 1.0:
        small = cv2.resize(
            ink, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
        )
    k = _odd(max(3, size * max(small.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    # Pad first: opening a padded image follows shading ramps up to the border.
    padded = cv2.copyMakeBorder(small, k, k, k, k, cv2.BORDER_REPLICATE)
    background = cv2.morphologyEx(padded, cv2.MORPH_OPEN, kernel)
    smooth = _odd(max(3, k // 2)) if size < 0.35 else k
    background = cv2.blur(background, (smooth, smooth))[k:-k, k:-k]
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


# --------------------------------------------------------------------------- photos


def _extremes(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-pixel minimum and maximum over the colour channels (float32 in [0, 1]) of an
    opaque colour image; None for gray or (partly) transparent images."""
    if array.ndim != 3:
        return None
    if array.shape[2] == 4 and float(_as_unit_float(array[:, :, 3]).min()) < 1.0:
        return None
    colour = array[:, :, :3]
    if colour.dtype != np.uint8:
        colour = _as_unit_float(colour)
    lo, hi = colour.min(axis=2), colour.max(axis=2)
    return _as_unit_float(lo), _as_unit_float(hi)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _polarity(gray: np.ndarray) -> bool:
    """True when the ink is darker than the background (the image must be inverted).

    The background is the median tone; the ink is whatever departs from it the most,
    darker or lighter. Sums, not percentiles, so that a few thin strokes in a large
    image still count.
    """
    step = max(1, max(gray.shape) // 160)
    sample = gray[::step, ::step]
    deviation = sample - np.float32(np.median(sample))
    margin = np.float32(0.05)
    darker = float(np.maximum(-deviation - margin, 0).sum())
    lighter = float(np.maximum(deviation - margin, 0).sum())
    return darker > lighter


def _ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Gray image -> (ink bright on black with the background removed, inverted?)."""
    inverted = _polarity(gray)
    return _flatten_background(1.0 - gray if inverted else gray), inverted


def _find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """A sheet of paper photographed on a darker surface -> its mask (uint8 0/1, the
    shape of ``gray``), or None when the image is not a sheet with a table around it.

    The sheet is the largest bright region (Otsu on a small copy), convex, with few
    straight sides (its convex hull is a quadrilateral, or up to an octagon where the
    photo cuts corners), clearly brighter than what lies around it, which must be mostly
    dark (a table, not a shadow on the paper).
    """
    h, w = gray.shape
    factor = min(1.0, _SHEET_SIDE / max(h, w))
    small = _resize(gray, factor)
    u8 = np.clip(small * 255, 0, 255).astype(np.uint8)
    threshold, separability = _otsu(u8)
    if separability < 0.6:
        return None
    bright = (u8 > threshold).astype(np.uint8)
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    if border.mean() > 0.9:
        return None  # paper all around the edges: no table in view
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count <= 1:
        return None
    region = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    total, hull_area = float(u8.size), float(cv2.contourArea(hull))
    if not 0.12 * total <= hull_area <= 0.95 * total:
        return None
    if cv2.contourArea(contour) < 0.93 * hull_area:
        return None  # a concave bright region: lit paper around a shadow, not a sheet
    if len(cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)) > 8:
        return None
    inside = np.zeros_like(u8)
    cv2.fillPoly(inside, [hull], 1)
    if float(bright[inside > 0].mean()) < SHEET_FILL:
        return None  # hollow: a bright stroke (the ring of a 0) on a dark ground, not paper
    outside = inside == 0
    contrast = float(np.median(small[inside > 0])) - float(np.median(small[outside]))
    if contrast < SHEET_CONTRAST:
        return None
    if float(bright[outside].mean()) > 0.3:
        return None  # paper around it too: the dark part is a shadow or a drawing
    # A sheet's outline is a sharp step; light falling off or a soft shadow is not.
    ring = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    rim_in = (inside > 0) & (cv2.erode(inside, ring) == 0)
    rim_out = (cv2.dilate(inside, ring) > 0) & outside
    step = float(np.median(small[rim_in])) - float(np.median(small[rim_out]))
    if rim_out.any() and step < 0.5 * contrast:
        return None
    mask = np.zeros((h, w), dtype=np.uint8)
    points = np.round((hull.reshape(-1, 2) + 0.5) / factor - 0.5).astype(np.int32)
    cv2.fillPoly(mask, [points], 1)
    margin = _odd(max(3, SHEET_MARGIN * max(h, w)))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (margin, margin)))


def _remove_lines(ink: np.ndarray) -> np.ndarray:
    """Erase long thin straight marks that cross the whole image horizontally or
    vertically, within a few degrees: the lines of ruled and squared paper, page and
    table edges. A morphological opening with a long line finds them; pixels much
    darker than the lines (pen strokes crossing them) are kept."""
    smooth = cv2.GaussianBlur(ink, (0, 0), 1.0)
    mask = (smooth > LINE_LEVEL).astype(np.uint8)
    if not mask.any():
        return ink
    lines = _horizontal_lines(mask) | _horizontal_lines(np.ascontiguousarray(mask.T)).T
    if not lines.any():
        return ink
    lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    level = float(np.median(smooth[lines > 0]))
    keep = smooth > max(2.0 * level, level + 0.2)
    out = ink.copy()
    out[(lines > 0) & ~keep] = 0.0
    return out


def _horizontal_lines(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (uint8 0/1) on thin lines spanning `LINE_SPAN` of its width.

    Found on a copy squeezed `_LINE_SQUEEZE` times along the lines (fast): thickened
    across them (so that slightly tilted lines keep long runs), then opened with a line
    a sixth of the width long.
    """
    h, w = mask.shape
    step = _LINE_SQUEEZE
    narrow = cv2.resize(mask * 255, (max(1, w // step), h), interpolation=cv2.INTER_AREA)
    narrow = (narrow > 0).astype(np.uint8)
    k = max(4, w // 6 // step)
    thick = cv2.dilate(narrow, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 7)))
    runs = cv2.morphologyEx(
        thick, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1))
    )
    lines = np.zeros_like(mask)
    if runs.any(axis=0).sum() < LINE_SPAN * runs.shape[1] - 1:
        return lines  # no run, or runs that together do not span the width
    count, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    scale = w / narrow.shape[1]
    for index in np.flatnonzero(stats[1:, cv2.CC_STAT_WIDTH] * scale >= LINE_SPAN * w) + 1:
        x, y, bw, bh, _ = stats[index]
        x0, x1 = int(x * scale), min(w, int(np.ceil((x + bw) * scale)))
        inside = labels[y : y + bh, x : x + bw] == index
        wide = cv2.resize(inside.astype(np.uint8), (x1 - x0, bh), interpolation=cv2.INTER_NEAREST)
        member = wide & mask[y : y + bh, x0:x1]
        if member.sum() <= LINE_THINNESS * float(x1 - x0) ** 2:
            lines[y : y + bh, x0:x1] |= member
    return lines


def _flatten_sheet(
    tone: np.ndarray, sheet: np.ndarray | None, size: float, side: int
) -> np.ndarray:
    """Ink image (bright ink) with the background removed; outside the sheet (when one
    was found) is first painted with the paper's tone, then set to no ink."""
    if sheet is None:
        return _flatten_background(tone, size, side)
    paper = np.float32(np.median(tone[sheet > 0][::7]))
    ink = _flatten_background(np.where(sheet > 0, tone, paper), size, side)
    return ink * sheet


@dataclass(frozen=True)
class _Found:
    crop: np.ndarray  # the digit's soft ink, [0, 1]
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the analysed image
    several: bool  # other digit-like marks were seen beside it
    raw: np.ndarray | None = None  # the crop's ink before stretching to [0, 1]


def _groups(boxes: np.ndarray) -> list[list[int]]:
    """Group marks (boxes ``x0, y0, x1, y1``) into digits: marks overlapping in x (a 5's
    bar over its body, not far above it) or very close to each other belong to the same
    digit."""
    n = len(boxes)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    for i in range(n):
        for j in range(i + 1, n):
            overlap = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            gap_y = max(boxes[j, 1] - boxes[i, 3], boxes[i, 1] - boxes[j, 3])
            gap = max(-overlap, gap_y)
            tall = max(heights[i], heights[j])
            stacked = overlap >= 0.3 * min(widths[i], widths[j]) and gap_y <= 0.5 * tall
            if stacked or gap <= GROUP_GAP * tall:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _choose_digit(
    boxes: np.ndarray, areas: np.ndarray, shape: tuple[int, int]
) -> tuple[list[int], bool]:
    """The marks of the digit to answer for, and whether there are other digit-like
    groups of marks (about as tall, with enough ink) beside it. The answer is the
    largest group, weighted towards the centre of the image."""
    groups = _groups(boxes)
    if len(groups) == 1:
        return groups[0], False
    h, w = shape
    box = [
        (boxes[g, 0].min(), boxes[g, 1].min(), boxes[g, 2].max(), boxes[g, 3].max()) for g in groups
    ]
    height = np.array([b[3] - b[1] for b in box], dtype=np.float64)
    ink = np.array([areas[g].sum() for g in groups], dtype=np.float64)
    digit_like = (height >= 0.5 * height.max()) & (ink >= 0.2 * ink.max())
    centre = np.array([((b[0] + b[2]) / 2 / w - 0.5, (b[1] + b[3]) / 2 / h - 0.5) for b in box])
    score = ink * (1.0 - 0.6 * np.hypot(*centre.T)) * digit_like
    best = int(np.argmax(score))
    if int(digit_like.sum()) == 1:
        # One digit and smaller marks (a stray stroke, a broken piece): keep them all if
        # they are close, as the single-digit path always did.
        return [i for g in groups for i in g], False
    return groups[best], True


def _window(u8: np.ndarray) -> tuple[slice, slice] | None:
    """The region around the largest strong mark (above half the peak), with one mark's
    size of margin on each side; None when it would be most of the image."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((u8 >= 128).astype(np.uint8))
    if count <= 1:
        return None
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    pad = max(w, h)
    rows = slice(max(0, y - pad), min(u8.shape[0], y + h + pad))
    cols = slice(max(0, x - pad), min(u8.shape[1], x + w + pad))
    if (rows.stop - rows.start) * (cols.stop - cols.start) > 0.5 * u8.size:
        return None
    return rows, cols


def _ink_levels(ink: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, float, int, float]:
    """Blur and Otsu-threshold bright ink: ``(blurred, u8, peak, threshold, separability)``.

    A light blur (``sigma``) gives the stroke intensities, a stronger one (``2 * sigma``)
    the 8-bit detection image, scaled to its ``peak``, that the threshold applies to.

    Raises:
        NoDigitFound: the ink's contrast is below `MIN_CONTRAST` (a blank image).
    """
    blurred = cv2.GaussianBlur(ink, (0, 0), sigma)
    contrast = float(blurred.max())
    if contrast < MIN_CONTRAST:
        raise NoDigitFound(
            "no digit found: no ink, the image is blank or almost blank "
            f"(ink contrast {contrast:.2f} < {MIN_CONTRAST})"
        )
    detect = cv2.GaussianBlur(ink, (0, 0), 2 * sigma)
    peak = max(float(detect.max()), 1e-6)
    u8 = np.clip(detect * (255.0 / peak), 0, 255).astype(np.uint8)
    threshold, separability = _otsu(u8)
    return blurred, u8, peak, threshold, separability


def _ink_threshold(u8: np.ndarray, threshold: float, separability: float) -> float:
    """The ink threshold, judged around the strongest mark when the image as a whole is
    not separable (``u8`` outside that window is then zeroed, in place).

    Raises:
        NoDigitFound: no clear ink on a background.
    """
    if separability < MIN_SEPARABILITY:
        # A small digit in a large image: judge the ink around its strongest mark.
        window = _window(u8)
        if window is not None:
            local_threshold, local = _otsu(u8[window])
            if local >= MIN_SEPARABILITY:
                threshold, separability = local_threshold, local
                outside = np.ones(u8.shape, dtype=bool)
                outside[window] = False
                u8[outside] = 0
    if separability < MIN_SEPARABILITY:
        raise NoDigitFound(
            "no digit found: no clear ink on a background (looks like noise or a photo; "
            f"separability {separability:.2f} < {MIN_SEPARABILITY})"
        )
    return threshold


def _check_holes(selected: np.ndarray, ink_area: int) -> None:
    """Raise `NoDigitFound` when the selected ink has more than `MAX_HOLES` holes."""
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


def _find_digit(ink: np.ndarray, min_fraction: float = 0.0) -> _Found:
    """Locate the digit in the ink image -> `_Found` (crop, box, several digits?).

    Raises:
        NoDigitFound: blank, noise-like, tiny, solid or hole-riddled ink.
    """
    h, w = ink.shape
    sigma = max(0.5, max(h, w) / 300)
    blurred, u8, peak, threshold, separability = _ink_levels(ink, sigma)
    threshold = _ink_threshold(u8, threshold, separability)
    mask = (u8 > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise NoDigitFound("no digit found: no ink left after thresholding")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= SPECK_FRACTION * areas.max())
    if len(keep) > MAX_COMPONENTS:
        raise NoDigitFound(
            f"no digit found: {len(keep)} separate marks of similar size "
            "(noise, text or a photo?), expected one digit"
        )
    left, top = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[1:, cv2.CC_STAT_WIDTH], top + stats[1:, cv2.CC_STAT_HEIGHT]
    boxes = np.stack([left, top, right, bottom], axis=1)[keep]
    chosen, several = _choose_digit(boxes, areas[keep], (h, w))
    keep = keep[chosen]
    x0, y0 = int(left[keep].min()), int(top[keep].min())
    x1, y1 = int(right[keep].max()), int(bottom[keep].max())
    inside = (left >= x0) & (top >= y0) & (right <= x1) & (bottom <= y1)
    fragment = inside & (areas >= FRAGMENT_FRACTION * areas.max())
    members = np.zeros(len(areas), dtype=bool)
    members[keep] = True
    keep = np.flatnonzero(members | fragment) + 1
    longest = max(x1 - x0, y1 - y0)
    if longest < max(MIN_DIGIT_PIXELS, min_fraction * max(h, w)):
        raise NoDigitFound(
            f"no digit found: only a tiny mark ({x1 - x0}x{y1 - y0} px, "
            f"{longest / max(h, w):.0%} of the image's longer side): too small to read; "
            "if it is a digit, crop closer or photograph it larger"
        )
    selected = np.isin(labels[y0:y1, x0:x1], keep).astype(np.uint8)
    ink_area = int(selected.sum())
    if ink_area > 0.85 * (x1 - x0) * (y1 - y0) and min(x1 - x0, y1 - y0) > 0.5 * longest:
        raise NoDigitFound("no digit found: the ink is a solid block, not pen strokes")
    _check_holes(selected, ink_area)

    # Crop the soft ink, keep only the digit's components (plus their anti-aliased rim),
    # and stretch it so the strokes' cores are 1 and the background 0.
    rim = _odd(2 * sigma + 1)
    selected = cv2.dilate(selected, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rim, rim)))
    raw = blurred[y0:y1, x0:x1] * selected
    low = 0.5 * threshold * peak / 255.0
    core = raw[mask[y0:y1, x0:x1] > 0]
    high = float(np.percentile(core, 90)) if core.size else float(blurred.max())
    crop = np.clip((raw - low) / max(high - low, 1e-3), 0.0, 1.0)
    return _Found(crop, (x0, y0, x1, y1), several, raw)


def _analyse(tone: np.ndarray, sheet: np.ndarray | None, min_fraction: float) -> _Found:
    """Tone image (bright ink) -> the digit: flatten the light, drop lines, find it.

    The light is flattened with a large square (safe for big, thick digits). When that
    finds no clear digit, or a large one, it is done again with a small square
    (`FINE_BACKGROUND` of the longer side) that follows shadows closely; that answer is
    taken when the first found none, or when the first one's "digit" was the small
    digit plus faint ink around it (a shadow's edge), not a large digit.
    """
    coarse: _Found | None = None
    try:
        coarse = _find_digit(_remove_lines(_flatten_sheet(tone, sheet, 0.35, 64)), min_fraction)
        if _extent(coarse.box, tone.shape) < FINE_MAX_DIGIT:
            return coarse
    except NoDigitFound as error:
        failure = error
    try:
        ink = _flatten_sheet(tone, sheet, FINE_BACKGROUND, 128)
        fine = _find_digit(_remove_lines(ink), min_fraction)
    except NoDigitFound:
        if coarse is None:
            raise failure from None
        return coarse
    if coarse is None:
        return fine
    small = _extent(fine.box, tone.shape) < 0.6 * _extent(coarse.box, tone.shape)
    return fine if small and _faint_around(coarse, fine.box) else coarse


def _extent(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> float:
    """A box's longer side as a fraction of the image's longer side."""
    return max(box[2] - box[0], box[3] - box[1]) / max(shape)


def _faint_around(found: _Found, box: tuple[int, int, int, int]) -> bool:
    """True when the ink of ``found`` outside ``box`` (a digit found inside it) is much
    fainter than inside: a shadow or smudge around a digit, not more pen strokes."""
    x0, y0 = box[0] - found.box[0], box[1] - found.box[1]
    x1, y1 = box[2] - found.box[0], box[3] - found.box[1]
    raw = found.raw if found.raw is not None else found.crop
    inner = np.zeros(raw.shape, dtype=bool)
    inner[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    ink = found.crop > 0.05
    if not (ink & inner).any() or not (ink & ~inner).any():
        return False
    inside = float(np.percentile(raw[ink & inner], 95))
    outside = float(np.percentile(raw[ink & ~inner], 75))
    return outside < 0.6 * inside


def _refine(
    array: np.ndarray, order: str, inverted: bool, box: tuple[int, int, int, int], factor: float
) -> tuple[_Found, tuple[int, int], float] | None:
    """Analyse again, at a higher resolution, a crop of the full-resolution image around
    a digit found small at the working resolution. Returns the digit found in the crop,
    the crop's origin and its scale, or None when that finds nothing."""
    height, width = array.shape[:2]
    x0, y0, x1, y1 = (v / factor for v in box)
    side = max(x1 - x0, y1 - y0)
    pad = REFINE_PAD * side
    cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    cx1, cy1 = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
    scale = min(1.0, REFINE_SIDE / side)
    crop = _tone(_tones(array[cy0:cy1, cx0:cx1], order, scale), inverted)
    try:
        found = _analyse(crop, None, 0.0)
    except NoDigitFound:
        return None
    return found, (cx0, cy0), scale


def _tones(
    array: np.ndarray, order: str, factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image scaled by ``factor`` as (gray, darkest channel, lightest channel), float32
    in [0, 1]; the three are the same array for gray or transparent images."""
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        small = _resize(array, factor)  # colour photos: scale first, it is faster
        code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
        a, b, c = cv2.split(small)
        scale = np.float32(1 / 255)
        gray = cv2.cvtColor(small, code).astype(np.float32) * scale
        return gray, cv2.min(cv2.min(a, b), c) * scale, cv2.max(cv2.max(a, b), c) * scale
    gray = _resize(_to_gray(array, order), factor)
    extremes = _extremes(array)
    if extremes is None:
        return gray, gray, gray
    return gray, _resize(extremes[0], factor), _resize(extremes[1], factor)


def _tone(tones: tuple[np.ndarray, np.ndarray, np.ndarray], inverted: bool) -> np.ndarray:
    """Colour-aware ink, bright: a pixel is as dark as its darkest channel (blue or red
    ballpoint on white paper), or as light as its lightest one (chalk on a board)."""
    return 1.0 - tones[1] if inverted else tones[2]


def to_model_input(image: ImageInput) -> PreprocessResult:
    """Turn an image of one handwritten digit into the model's MNIST-style input.

    Args:
        image: a file path (str or Path), encoded file bytes, a numpy array (gray, RGB
            or RGBA, see the module docstring) or a PIL image. Any size up to
            `MAX_PIXELS`; light or dark background; transparency allowed; a phone photo
            of a sheet of paper (on a table, shaded, ruled or squared) works too.

    Returns:
        A `PreprocessResult`; ``result.model_input`` is the ``(1, 28, 28, 1)`` float32
        array to feed to the model.

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
        NoDigitFound: the image is blank or has no digit-like ink (see ``.reason``).
    """
    array, order = _to_array(image, colour=True)
    height, width = array.shape[:2]
    factor = 1.0 / int(np.ceil(max(height, width) / WORK_SIDE))  # whole steps: fast, sharp
    tones = _tones(array, order, factor)
    sheet = _find_sheet(tones[0])
    inverted = True if sheet is not None else _polarity(tones[0])
    found = _analyse(_tone(tones, inverted), sheet, MIN_DIGIT_FRACTION)
    scale, origin = factor, (0, 0)
    x0, y0, x1, y1 = found.box
    if factor < 1.0 and max(x1 - x0, y1 - y0) < REFINE_BELOW:
        refined = _refine(array, order, inverted, found.box, factor)
        if refined is not None:
            found = _Found(refined[0].crop, refined[0].box, found.several or refined[0].several)
            origin, scale = refined[1], refined[2]
    field, ratio = _normalise_digit(found.crop)
    x0, y0, x1, y1 = found.box
    left = min(width - 1, origin[0] + int(np.floor(x0 / scale)))
    top = min(height - 1, origin[1] + int(np.floor(y0 / scale)))
    bbox = (
        left,
        top,
        max(1, min(int(np.ceil((x1 - x0) / scale)), width - left)),
        max(1, min(int(np.ceil((y1 - y0) / scale)), height - top)),
    )
    return PreprocessResult(
        image=field,
        bbox=bbox,
        inverted=inverted,
        image_size=(width, height),
        stroke_width=round(ratio, 4),
        several_digits=found.several,
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
    blurred, u8, peak, threshold, separability = _ink_levels(ink, sigma)
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
