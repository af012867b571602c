"""What travels with a model file: a small JSON sidecar, and safe writes of both.

A model ``MODEL.h5`` (or ``.keras``, ``.tflite``) may have ``MODEL.json`` beside it:

    {"sha256": "...", "class_names": ["0", ..., "9"], "temperature": 1.0}

- ``sha256`` is the checksum of the model file; a model whose file does not match its
  sidecar is refused (`ModelError`), one with no sidecar loads with a warning.
- ``class_names`` names the model's outputs (digits by default, a user's symbols after
  ``digits train --data``).
- ``temperature`` calibrates the probabilities: ``softmax(log(p) / T)``.

The ``.h5`` itself stays a plain Keras file, so ``keras.models.load_model`` still opens it.
Every file is written to a temporary file in the same folder, then renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "travelling_fields",
    "DIGIT_CLASSES",
    "ModelError",
    "ModelInfo",
    "UnverifiedModelWarning",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "file_sha256",
    "save_keras_model",
    "read_info",
    "sidecar_path",
    "write_info",
]

#: The class names of a digit model: output i is the digit i.
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))


class ModelError(ValueError):
    """The model file is missing, damaged, tampered with, or does not fit the model contract."""


class UnverifiedModelWarning(UserWarning):
    """The model has no sidecar, so its checksum cannot be verified."""


@dataclass(frozen=True)
class ModelInfo:
    """The sidecar's contents. ``extra`` keeps any other keys (e.g. how it was made)."""

    sha256: str | None = None
    class_names: tuple[str, ...] = DIGIT_CLASSES
    temperature: float = 1.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["class_names"] = list(self.class_names)
        return {**out.pop("extra"), **out}


def sidecar_path(model_path: str | Path) -> Path:
    """``MODEL.json`` beside ``MODEL.h5`` / ``MODEL.keras`` / ``MODEL.tflite``."""
    return Path(model_path).with_suffix(".json")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp makes 0600; keep the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    """The existing file's permissions, else what ``open()`` would give under the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj) -> Path:
    """`atomic_write_text` of ``obj`` as indented JSON with a final newline."""
    return atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def save_keras_model(model, path: str | Path, include_optimizer: bool = True, **fields) -> Path:
    """``model.save`` to a temporary file beside ``path`` (.h5 or .keras), rename it into
    place, then write its sidecar with ``fields`` (`write_info`).

    ``include_optimizer=False`` leaves the optimizer state out of an ``.h5`` (a model kept for
    prediction only is then about a third of the size).
    """
    import logging

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    options = {} if path.suffix == ".keras" else {"include_optimizer": include_optimizer}
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # .h5 is the spec's format: no "legacy format" warning
    try:
        model.save(tmp, **options)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    finally:
        absl.setLevel(level)
        Path(tmp).unlink(missing_ok=True)
    write_info(path, **fields)
    return path


def write_info(model_path: str | Path, **fields) -> Path:
    """Write ``MODEL.json`` for ``model_path`` (atomically), with the file's SHA-256.

    ``fields`` are `ModelInfo` fields (``class_names``, ``temperature``) or extra keys; keys
    already in an existing sidecar are kept unless given again.
    """
    model_path = Path(model_path)
    current = _read_json(sidecar_path(model_path)) or {}
    current.update(fields)
    current["sha256"] = file_sha256(model_path)
    if "class_names" in current:
        current["class_names"] = [str(name) for name in current["class_names"]]
    return atomic_write_json(sidecar_path(model_path), current)


def read_info(model_path: str | Path, verify: bool = True) -> ModelInfo:
    """The sidecar of ``model_path``, checked against the model file.

    Without a sidecar, returns the defaults (digits, temperature 1) and warns
    `UnverifiedModelWarning`.

    Raises:
        ModelError: the sidecar is not valid JSON of the expected form, or (with
            ``verify``) the model file's SHA-256 differs from the sidecar's.
    """
    model_path = Path(model_path)
    path = sidecar_path(model_path)
    data = _read_json(path)
    if data is None:
        warnings.warn(
            f"{model_path} has no sidecar {path.name}: its checksum cannot be verified.",
            UnverifiedModelWarning,
            stacklevel=2,
        )
        return ModelInfo()
    info = _parse(data, path)
    if verify and info.sha256 is not None and info.sha256 != file_sha256(model_path):
        raise ModelError(
            f"{model_path} does not match the SHA-256 in {path.name}: the file was changed or "
            "damaged after it was saved. Re-export or re-train it, or restore the original."
        )
    return info


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path} is not a readable JSON sidecar: {error}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} must hold a JSON object, not {type(data).__name__}.")
    return data


def _parse(data: dict, path: Path) -> ModelInfo:
    known = {"sha256", "class_names", "temperature"}
    extra = {k: v for k, v in data.items() if k not in known}
    names = data.get("class_names", list(DIGIT_CLASSES))
    temperature = data.get("temperature", 1.0)
    sha = data.get("sha256")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        raise ModelError(f"{path}: class_names must be a list of at least 2 strings.")
    if len(set(names)) != len(names):
        raise ModelError(f"{path}: class_names must be unique.")
    valid_t = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if not (valid_t and 0.05 <= float(temperature) <= 20):
        raise ModelError(f"{path}: temperature must be a number from 0.05 to 20.")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
        raise ModelError(f"{path}: sha256 must be 64 hex characters.")
    return ModelInfo(sha, tuple(names), float(temperature), extra)


#: The keys an export adds to its own sidecar, which it does not copy from the source's.
_EXPORT_KEYS = ("source", "source_sha256", "quantize", "format")


def travelling_fields(info: ModelInfo) -> dict:
    """What an export copies from its source model's sidecar: everything but the checksum
    and the export's own keys (class names, temperature, and any extra key such as a
    confidence threshold)."""
    fields = info.to_dict()
    for key in ("sha256", *_EXPORT_KEYS):
        fields.pop(key, None)
    return fields
