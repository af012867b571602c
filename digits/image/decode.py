"""Read any image safely: a path, bytes, a numpy array or a PIL image -> float pixels.

The file's dimensions and structure are checked from its header *before* decoding, against
budgets (`MAX_PIXELS`, `MAX_FILE_BYTES`, `MAX_JPEG_SCANS`), and a decode past
`MAX_DECODE_SECONDS` is stopped; EXIF orientation is applied. The budgets are read at every
call: set them on this module to change them, e.g. ``digits.image.decode.MAX_DECODE_SECONDS
= 10``. Unreadable, empty, non-image or oversized inputs raise `ImageError`.

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
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_DECODE_SECONDS",
    "MAX_JPEG_SCANS",
    "IMAGE_EXTENSIONS",
    "ImageInput",
    "ImageError",
    "load_image",
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
#: ``digits.image.MAX_DECODE_SECONDS = 10``.
#: File name extensions treated as images when folders are walked.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


ImageInput = str | Path | bytes | bytearray | memoryview | np.ndarray | Image.Image


class ImageError(ValueError):
    """The input cannot be used as an image: missing, empty, unreadable or too large."""


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


def _header(data: bytes, name: str) -> tuple[str, tuple[int, int]]:
    """Read the image header (not the pixels): check the dimensions and the structure,
    return the format and the size (width, height) as stored."""
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
    return fmt, (width, height)


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


def _decode(data: bytes, name: str, colour: bool = True, shrink: int = 1) -> tuple[np.ndarray, str]:
    """Decode encoded image bytes with Pillow, inside the limits -> (array, "rgb").

    The first frame is decoded; the EXIF orientation (JPEG, PNG eXIf, WebP, TIFF) is
    applied, so the array is the image as a viewer shows it. ``shrink`` (2, 4 or 8) asks
    a JPEG's decoder for 1/shrink of each side (its DCT scaling: a fraction of the work
    of a whole decode); other formats, and JPEGs it cannot scale, come whole.
    """
    _header(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(_TimedBytes(data, MAX_DECODE_SECONDS)) as img:
                img.decodermaxblock = _READ_BLOCK
                if shrink > 1 and img.format == "JPEG":
                    w, h = img.size
                    img.draft(None, (max(1, w // shrink), max(1, h // shrink)))
                img.load()
                try:  # in place: no copy of an image that is already upright
                    ImageOps.exif_transpose(img, in_place=True)
                except Exception:  # noqa: BLE001 - a damaged EXIF block: keep it as stored
                    pass
                return _pil_to_array(img), "rgb"
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


@dataclass(frozen=True, eq=False)
class Decoded:
    """An image decoded for work at a reduced size: ``array`` (in ``order``) is the image
    shrunk by the whole factor ``shrink`` (1: whole); ``size`` is the whole image's
    (width, height) as a viewer shows it; `whole` decodes it at full size."""

    array: np.ndarray
    order: str
    shrink: int
    size: tuple[int, int]
    source: bytes | None = None
    name: str = ""

    def whole(self) -> tuple[np.ndarray, str]:
        """The image at full size (decoded again when it was shrunk)."""
        if self.shrink == 1 or self.source is None:
            return self.array, self.order
        return _decode(self.source, self.name)


def decode_shrunk(image: ImageInput, max_side: int) -> Decoded:
    """Decode ``image`` for work at ``max_side`` pixels: a JPEG file or bytes larger than
    that is decoded at 1/2, 1/4 or 1/8 of each side when that is the whole factor that
    brings it to ``max_side`` (`_decode`'s ``shrink``); anything else is decoded whole.

    Raises:
        ImageError: as `load_image`.
    """
    source = _source_bytes(image)
    if source is None or not source[0].startswith(b"\xff\xd8"):
        array, order = _decode(*source) if source is not None else _to_array(image)
        return Decoded(array, order, 1, (array.shape[1], array.shape[0]))
    data, name = source
    _, (width, height) = _header(data, name)
    shrink = int(np.ceil(max(width, height) / max_side))
    shrink = shrink if shrink in (2, 4, 8) else 1
    array, order = _decode(data, name, shrink=shrink)
    if shrink == 1 or max(array.shape[:2]) > -(-max(width, height) // shrink):
        return Decoded(array, order, 1, (array.shape[1], array.shape[0]))  # decoded whole
    if (array.shape[1] > array.shape[0]) != (width > height):
        width, height = height, width  # turned upright by its EXIF orientation
    return Decoded(array, order, shrink, (width, height), data, name)


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
        return np.asarray(_as_mode(img, "L"))
    return np.asarray(_as_mode(img, "RGBA" if has_alpha else "RGB"))


def _as_mode(img: Image.Image, mode: str) -> Image.Image:
    """``img`` in ``mode``, converted (a copy) only when it is in another."""
    return img if img.mode == mode else img.convert(mode)


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


def _source_bytes(image: ImageInput) -> tuple[bytes, str] | None:
    """The encoded bytes of a path or bytes input and its name for messages (None for
    arrays and PIL images), after the size checks."""
    if isinstance(image, (str, Path)):
        return _read_bytes(Path(image)), str(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("The image data is empty (0 bytes).")
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(
                f"The image data is over {MAX_FILE_BYTES // 2**20} MiB; send a smaller image."
            )
        return data, "The image data"
    return None


def _to_array(image: ImageInput, colour: bool = True) -> tuple[np.ndarray, str]:
    source = _source_bytes(image)
    if source is not None:
        return _decode(*source, colour)
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
