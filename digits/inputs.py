"""See what the model saw: save each input's 28x28 and the original with the digit's box.

`save_inputs` writes, for one prediction, into a folder:

- ``<name>_28x28.png``: the 28x28 image the model was given, upscaled 8x (nearest);
- ``<name>_box.<ext>``: the original image (EXIF orientation applied) with the box the
  digit was cropped from, and the answer, drawn on it.

``<name>`` is the input file's name without its extension. Files are written atomically
and never replace an existing file: when a name is taken, ``-1``, ``-2``, ... is added.
Used by ``digits predict --save-inputs DIR``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from digits.image import ImageInput, load_image
from digits.predict import Prediction

__all__ = ["save_inputs", "write_new"]

_UPSCALE = 8


def write_new(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, or to ``stem-1.ext``, ``stem-2.ext``, ... when the name
    is taken; never replaces a file. Atomic: a temporary file is linked into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; use the usual mode
        for n in range(10_000):
            target = path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")
            try:
                os.link(tmp, target)  # fails if the name exists: never overwrites
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"{path}: too many files with this name")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _encode(image: np.ndarray, ext: str) -> bytes:
    if image.ndim == 3:
        code = cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        image = cv2.cvtColor(image, code)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == ".jpg" else []
    ok, buffer = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"could not encode an image as {ext}")
    return buffer.tobytes()


def _with_box(image: np.ndarray, prediction: Prediction) -> np.ndarray:
    """RGB copy of ``image`` with the digit's box and the answer drawn on it."""
    if image.ndim == 2:
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = (image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    else:
        rgb = image.copy()
    rgb = np.ascontiguousarray(rgb)
    x, y, w, h = prediction.preprocessed.bbox
    side = max(rgb.shape[:2])
    thickness = max(1, side // 250)
    colour = (230, 120, 0) if prediction.low_confidence else (0, 170, 0)
    cv2.rectangle(rgb, (x, y), (x + w - 1, y + h - 1), colour, thickness)
    text = f"{prediction.digit} ({prediction.confidence:.0%})"
    if prediction.several_digits:
        text += " several digits"
    scale = max(0.4, side / 900)
    cv2.putText(
        rgb,
        text,
        (x, max(12, y - 4 * thickness)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        colour,
        thickness,
        cv2.LINE_AA,
    )
    return rgb


def save_inputs(image: ImageInput, prediction: Prediction, folder: str | Path, name: str) -> list:
    """Save what the model saw for one input (see the module docstring).

    Args:
        image: the input as given to the Predictor (path, bytes, array or PIL image).
        prediction: its `Prediction`; nothing is written when no digit was found.
        folder: where to write (created if missing).
        name: the base name, e.g. the input file's stem.

    Returns:
        The paths written (empty when no digit was found).
    """
    if prediction.digit is None or prediction.preprocessed is None:
        return []
    folder = Path(folder)
    field = np.round(prediction.preprocessed.image * 255).astype(np.uint8)
    big = cv2.resize(field, (28 * _UPSCALE, 28 * _UPSCALE), interpolation=cv2.INTER_NEAREST)
    original = load_image(image)
    ext = ".jpg" if str(image).lower().endswith((".jpg", ".jpeg")) else ".png"
    return [
        write_new(folder / f"{name}_28x28.png", _encode(big, ".png")),
        write_new(folder / f"{name}_box{ext}", _encode(_with_box(original, prediction), ext)),
    ]
