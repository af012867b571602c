"""Hostile and malformed image files found by fuzzing (issue 18), rebuilt from scratch.

The hostile-input tests (tests/test_hostile.py, tests/test_properties.py) and the batch
benchmark (benchmarks/hostile_batch.py) draw on them; every function returns bytes.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

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


# A CLI batch of good and hostile files, run in a child that reports its peak memory and
# its slowest file (tests/test_hostile.py, benchmarks/hostile_batch.py).
BATCH_CHILD = """
import json, resource, sys, time
import digits.predict
from digits.apps import cli

real, slowest = digits.predict.to_model_input, [0.0, ""]

def timed(image):
    start = time.perf_counter()
    try:
        return real(image)
    finally:
        seconds = time.perf_counter() - start
        if seconds > slowest[0]:
            slowest[:] = [seconds, str(image)]

digits.predict.to_model_input = timed
code = cli.main(sys.argv[1:])
try:  # this process's own high-water mark: ru_maxrss also counts the parent it forked from
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError, ValueError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"code": code, "peak_bytes": peak, "slowest": slowest}), file=sys.stderr)
"""


def batch_files(folder: Path, digit_images: dict) -> dict[str, int | None]:
    """500 files: 300 good digits in 5 formats, 200 hostile ones -> {name: digit or None}."""
    good = {
        ext: {d: encode(img, fmt) for d, img in digit_images.items()}
        for ext, fmt in [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF")]
        + [("bmp", "BMP")]
    }
    huge_header = bytearray(encode(np.zeros((8, 8), np.uint8), "PNG"))
    huge_header[16:24] = (100_000).to_bytes(4, "big") * 2
    big = np.full((4000, 4000), 255, np.uint8)  # a 16 MP phone photo's size
    big[1500:2500, 1900:2100] = 0
    bad = {
        "idat.png": idat_length_png(),
        "blp.png": corrupt_blp(),
        "dds.jpg": corrupt_dds(),
        "truncated.png": good["png"][3][:300],
        "random.png": np.random.default_rng(1).bytes(5000),
        "text.jpg": b"not an image\n" * 10,
        "empty.png": b"",
        "huge_header.png": bytes(huge_header),
        "exif6.webp": upside_down_with_exif(digit_images[6], "WEBP"),
        "one_pixel.png": encode(np.zeros((1, 1), np.uint8), "PNG"),
        "strip.png": encode(np.zeros((1, 40000), np.uint8), "PNG"),
        "blank.png": encode(np.full((300, 300), 240, np.uint8), "PNG"),
    }
    expected: dict[str, int | None] = {}
    for i in range(300):
        ext = list(good)[i % 5]
        digit = i % 10
        (folder / f"good_{i:03d}_{digit}.{ext}").write_bytes(good[ext][digit])
        expected[f"good_{i:03d}_{digit}.{ext}"] = digit
    scan_bomb = repeated_scan_jpeg()
    for i in range(200):
        if i < 4:
            name, data = f"bad_{i:03d}_scans.jpg", scan_bomb
        elif i < 6:
            name, data = f"bad_{i:03d}_big.png", encode(big, "PNG")
        else:
            kind = list(bad)[i % len(bad)]
            name, data = f"bad_{i:03d}_{kind}", bad[kind]
        (folder / name).write_bytes(data)
        expected[name] = None
    return expected
