"""Read a recipe: a small JSON file of training settings, with ``KEY=VALUE`` overrides."""

from __future__ import annotations

import json
from pathlib import Path


def load(path: str | Path, kind: type, overrides: list[str] = ()):
    """``kind(**fields)`` of the JSON file ``path``, with ``KEY=VALUE`` overrides applied
    (VALUE is JSON, or else a string); an unknown field exits with the file's name."""
    fields = json.loads(Path(path).read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    try:
        return kind(**fields)
    except TypeError as error:
        raise SystemExit(f"{path}: {error}") from None
