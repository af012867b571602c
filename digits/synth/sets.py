"""The benchmark sets, generated on demand into a cache and checked against committed manifests.

Each set is drawn from fixed seeds by a generator of this package, so it is not kept in git:
`ensure` writes it into ``build/sets/NAME/`` (or ``$DIGITS_SETS_DIR/NAME/``) the first time
it is needed, keyed by the generator's version and seed, and checks every file against
``digits/synth/manifests/NAME.csv`` (file name, label, SHA-256). A change in OpenCV, Pillow
or JPEG output then stops the benchmark with `SetDriftError` instead of being measured
silently.

    >>> from digits.synth.sets import ensure
    >>> folder = ensure("photos")          # build/sets/photos, generated once, then verified

``python -m digits.synth [SET...]`` generates and verifies sets; ``--write-manifest``
records a new manifest after a deliberate change of a generator (bump its version too).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_bytes, atomic_write_text
from digits.synth import nondigits, numbers, photo, samples, symbols

__all__ = ["SETS", "SetDriftError", "SetSpec", "ensure", "render_kinds", "sets_dir"]

MANIFESTS_DIR = Path(__file__).resolve().parent / "manifests"
_STAMP = ".set.json"
#: Draws one item: (kind, 28x28 MNIST digit, rng) -> (encoded image bytes, file extension).
Draw = Callable[[str, np.ndarray, np.random.Generator], tuple[bytes, str]]


class SetDriftError(RuntimeError):
    """A generated set differs from its committed manifest."""


@dataclass(frozen=True)
class SetSpec:
    """A benchmark set: its generator ``write(out, seed)``, version and seed."""

    name: str
    version: int
    seed: int
    write: Callable[[Path, int], object]

    @property
    def key(self) -> dict:
        return {"name": self.name, "version": self.version, "seed": self.seed}


def sets_dir() -> Path:
    """Where generated sets are cached: ``$DIGITS_SETS_DIR`` or ``build/sets``."""
    return Path(os.environ.get("DIGITS_SETS_DIR") or ROOT / "build" / "sets")


def render_kinds(
    out: Path,
    kinds: tuple[str, ...],
    per_kind: int,
    seed: int,
    draw: Draw,
    stop_after: int | None = None,
) -> list[dict]:
    """Draw ``per_kind`` MNIST **test** digits for each kind into ``out/KIND/LABEL_INDEX.ext``
    and write ``out/labels.csv`` (path, kind, label, mnist_test_index); returns the rows.

    ``stop_after`` stops after that many images (a spot check: they are the same files as
    the whole set's first ones)."""
    from digits.training.data import load_mnist

    (_, _), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    rows = []
    for kind in kinds:
        indices = np.sort(rng.choice(len(x_test), size=per_kind, replace=False))
        for index in indices:
            if stop_after is not None and len(rows) >= stop_after:
                return rows
            data, ext = draw(kind, x_test[index], rng)
            label = int(y_test[index])
            relative = f"{kind}/{label}_{index:05d}{ext}"
            atomic_write_bytes(out / relative, data)
            rows.append({"path": relative, "kind": kind, "label": label})
            rows[-1]["mnist_test_index"] = int(index)
    samples.save_labels(out / "labels.csv", rows)
    return rows


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != _STAMP
    )


def _labels(folder: Path) -> dict[str, str]:
    """File -> label, from the set's labels.csv or its class folders."""
    labels_file = folder / "labels.csv"
    if not labels_file.exists():  # class folders: PART/CLASS/FILE
        return {f: f.split("/")[-2] for f in _files(folder) if f.count("/") >= 1}
    with open(labels_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    path_key = "path" if rows and "path" in rows[0] else "file"
    label_key = next((k for k in ("label", "text", "item") if rows and k in rows[0]), None)
    return {r[path_key]: r[label_key] if label_key else "" for r in rows}


def manifest_rows(folder: Path) -> list[dict]:
    """One row per file of a generated set: path, label, sha256."""
    labels = _labels(folder)
    return [
        {
            "path": f,
            "label": labels.get(f, ""),
            "sha256": hashlib.sha256((folder / f).read_bytes()).hexdigest(),
        }
        for f in _files(folder)
    ]


def manifest_path(name: str) -> Path:
    return MANIFESTS_DIR / f"{name}.csv"


def write_manifest(name: str, folder: Path) -> Path:
    """Record the set in ``folder`` as the committed manifest of ``name``."""
    return samples.save_labels(manifest_path(name), manifest_rows(folder))


def verify(name: str, folder: Path) -> None:
    """Raise `SetDriftError` unless every file of ``folder`` matches the manifest of ``name``."""
    with open(manifest_path(name), newline="") as handle:
        expected = {r["path"]: r for r in csv.DictReader(handle)}
    found = {r["path"]: r for r in manifest_rows(folder)}
    differ = sorted(p for p in expected if p not in found or found[p] != expected[p])
    extra = sorted(set(found) - set(expected))
    if differ or extra:
        shown = ", ".join((differ + extra)[:3])
        raise SetDriftError(
            f"the {name} set in {folder} differs from {manifest_path(name).name}: "
            f"{len(differ)} of {len(expected)} files differ or are missing, {len(extra)} extra "
            f"(e.g. {shown}). OpenCV, Pillow or the JPEG encoder may have changed; measure on "
            f"it only after checking, then `python -m digits.synth {name} --write-manifest`."
        )


def _stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _STAMP).read_text())
    except (OSError, ValueError):
        return None


def _generate(spec: SetSpec, folder: Path) -> None:
    """Write the set beside ``folder``, then swap it in: a reader never sees half a set."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{spec.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    spec.write(tmp, spec.seed)
    atomic_write_text(tmp / _STAMP, json.dumps(spec.key))
    if folder.exists():
        if _stamp(folder) is None:  # not ours: never delete what a user put there
            shutil.rmtree(tmp)
            raise FileExistsError(f"{folder} exists and is not a generated set; move it away")
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def ensure(name: str, check: bool = True) -> Path:
    """The folder of set ``name``, generated if missing or stale, checked against its manifest."""
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}; choose one of {', '.join(SETS)}")
    spec = SETS[name]
    folder = sets_dir() / name
    if _stamp(folder) != spec.key:
        print(f"generating the {name} set into {folder} (once)...", flush=True)
        _generate(spec, folder)
    if check:
        verify(name, folder)
    return folder


def _robustness(out: Path, seed: int) -> None:
    def draw(kind, digit, rng):
        options, ext, quality = samples.variant(kind, rng)
        return samples.encode(samples.render(digit, rng, **options), ext, quality), ext

    render_kinds(out, samples.KINDS, 100, seed, draw)


def _photos(out: Path, seed: int) -> None:
    def draw(kind, digit, rng):
        options, quality = photo.photo_variant(kind, rng)
        return samples.encode(photo.render_photo(digit, rng, **options), ".jpg", quality), ".jpg"

    render_kinds(out, photo.PHOTO_KINDS, 100, seed, draw)


def _nondigits(out: Path, seed: int) -> None:
    nondigits.make_set(out, 8, seed)


def _numbers(out: Path, seed: int) -> None:
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    numbers.make_set(out, x_test, y_test, 1000, seed)


def _symbols(out: Path, seed: int) -> None:
    symbols.make(out, 200, 60, seed)


#: Every benchmark set, by name. Bump a version when its generator's output changes.
SETS = {
    spec.name: spec
    for spec in (
        SetSpec("robustness", 1, 7, _robustness),
        SetSpec("photos", 1, 15, _photos),
        SetSpec("nondigits", 1, 11, _nondigits),
        SetSpec("numbers", 3, 16, _numbers),
        SetSpec("symbols", 1, 5, _symbols),
    )
}
