"""Hostile and malformed image files found by fuzzing (issue 18), rebuilt from scratch.

Shared by tests/test_hostile.py and tests/test_properties.py; every function returns bytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, payload: bytes, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", size) + kind + payload + struct.pack(">I", crc)


def idat_length_png() -> bytes:
    """A tiny PNG (under 100 bytes) whose IDAT chunk declares 0xFFFF0000 bytes: OpenCV's
    decoder trusts the length and allocates about 4.2 GB."""
    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes([255] * 8) for _ in range(8)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels, length=0xFFFF0000)
        + _chunk(b"IEND", b"")
    )


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each marker segment; a scan (SOS) runs until the next marker."""
    out, i = [], 2
    while i < len(data):
        marker = data[i + 1]
        if marker == 0xD9:
            out.append((i, i + 2))
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        end = i + 2 + length
        if marker == 0xDA:
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        out.append((i, end))
        i = end
    return out


def repeated_scan_jpeg(side: int = 7000, repeats: int = 2000) -> bytes:
    """A progressive JPEG (gray, ``side`` x ``side``, under the 50 MP limit) whose last scan
    (75 bytes) is repeated ``repeats`` times: about 340 KB, and undefended about a minute of
    CPU to decode (every scan is a pass over all 766,000 blocks)."""
    data = encode(np.full((side, side), 128, dtype=np.uint8), "JPEG", progressive=True)
    scans = [s for s in _jpeg_segments(data) if data[s[0] + 1] == 0xDA]
    start, end = scans[-1]
    return data[:end] + data[start:end] * repeats + data[end:]


def corrupt_blp() -> bytes:
    """A BLP2 header with an unknown encoding: Pillow raises NotImplementedError."""
    header = b"BLP2" + struct.pack("<I", 1) + bytes([9, 8, 7, 0]) + struct.pack("<II", 16, 16)
    return header + bytes(16 * 4 + 16 * 4 + 1024 + 64)


def corrupt_dds() -> bytes:
    """A DDS header with an unknown FourCC pixel format: Pillow raises NotImplementedError."""
    header = bytearray(128)
    header[0:4] = b"DDS "
    struct.pack_into("<IIII", header, 4, 124, 0x1007, 16, 16)
    struct.pack_into("<II", header, 76, 32, 0x4)  # pixel format: size, flags = FOURCC
    header[84:88] = b"ZZZZ"
    return bytes(header) + bytes(256)


def exif_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def upside_down_with_exif(image: np.ndarray, fmt: str) -> bytes:
    """``image`` stored rotated by 180 degrees with EXIF orientation 3 (a viewer shows it
    upright again)."""
    stored = np.ascontiguousarray(image[::-1, ::-1])
    return encode(
        stored, fmt, exif=exif_orientation(3), **({"lossless": True} if fmt == "WEBP" else {})
    )
