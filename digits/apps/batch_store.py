"""The inputs and the output folder of ``digits batch``: what to read, what is done, and
the Parquet parts, each written exactly once.

Exactly once, the same for both engines:

1. the inputs (image files, folders walked by `digits.predict.find_images`, and
   manifests: ``.txt`` one path a line, ``.csv`` / ``.parquet`` with a ``path`` column)
   are expanded, duplicates dropped and sorted: the `Plan`;
2. the plan is cut into chunks of ``chunk_size`` inputs; chunk ``i`` is always the same
   inputs, and its rows go to ``part-<i>.parquet`` (``i`` zero-padded to 6 digits);
3. only the driver writes parts: into a temporary ``.part-<i>.parquet.*.tmp`` beside it,
   flushed to disk, then renamed into place, so a reader sees a whole part or none
   (Parquet readers skip names that start with ``.`` or ``_``);
4. ``_batch.json`` in the folder records the task, the model's SHA-256, the version, the
   chunk size and a SHA-256 of the input list. A rerun with the same inputs skips every
   chunk whose part exists; one with other inputs, another model or task is refused,
   and so is a folder that holds files but no ``_batch.json`` (never overwrite a user's
   files). Temporary files left by a killed run are removed on the next run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from digits.predict import find_images
from digits.runtime.modelfile import atomic_write_bytes, atomic_write_json

__all__ = ["BatchError", "LIST_EXTENSIONS", "MANIFEST", "Plan", "Store", "gather", "manifest_paths"]

MANIFEST = "_batch.json"
#: Inputs with these extensions are lists of paths, not images.
LIST_EXTENSIONS = (".txt", ".csv", ".parquet")
_FORMAT = 1


class BatchError(ValueError):
    """A batch that cannot start: unusable inputs or output folder (exit status 2)."""


def manifest_paths(manifest: Path) -> list[str]:
    """The paths a manifest lists; relative ones are relative to the manifest's folder."""
    suffix = manifest.suffix.lower()
    try:
        if suffix == ".txt":
            lines = manifest.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
            entries = [line.strip() for line in lines]
            entries = [e for e in entries if e and not e.startswith("#")]
        elif suffix == ".csv":
            with open(manifest, newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            column = rows[0].index("path") if rows and "path" in rows[0] else 0
            entries = [row[column] for row in rows[1:] if len(row) > column and row[column]]
        else:
            table = pq.read_table(manifest)
            name = "path" if "path" in table.column_names else table.column_names[0]
            entries = [e for e in table.column(name).to_pylist() if e]
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as error:
        raise BatchError(f"cannot read the list of paths {manifest}: {error}") from error
    return [e if os.path.isabs(e) else str(manifest.parent / e) for e in map(str, entries)]


def gather(inputs: Sequence[str]) -> list[tuple[str, str | None]]:
    """``(path, error)`` for every image the inputs name, sorted, without duplicates;
    ``error`` is set where it is already known (a folder without images)."""
    found: dict[str, str | None] = {}
    for raw in inputs:
        path = Path(raw)
        if path.suffix.lower() in LIST_EXTENSIONS:
            if not path.is_file():
                raise BatchError(f"no such list of paths: {raw}")
            pairs = find_images(manifest_paths(path))
        else:
            pairs = find_images([raw])
        for name, error in pairs:
            found.setdefault(name, error)
    return sorted(found.items())


@dataclass(frozen=True)
class Plan:
    """The sorted inputs cut into chunks of ``chunk_size``; chunk ``i`` never changes."""

    items: list[tuple[str, str | None]]
    chunk_size: int

    @property
    def chunks(self) -> int:
        return -(-len(self.items) // self.chunk_size)

    def chunk(self, index: int) -> list[tuple[str, str | None]]:
        start = index * self.chunk_size
        return self.items[start : start + self.chunk_size]

    def digest(self) -> str:
        """SHA-256 of the input list (paths, in order)."""
        hasher = hashlib.sha256()
        for path, _ in self.items:
            hasher.update(path.encode("utf-8", "surrogateescape") + b"\0")
        return hasher.hexdigest()


class Store:
    """The output folder: ``_batch.json``, the parts, and which chunks are done."""

    def __init__(self, out: str | Path, plan: Plan, task: str, model_sha256: str, version: str):
        self.out = Path(out)
        self.plan = plan
        self.identity = {
            "format": _FORMAT,
            "task": task,
            "model_sha256": model_sha256,
            "version": version,
            "inputs": len(plan.items),
            "inputs_sha256": plan.digest(),
            "chunk_size": plan.chunk_size,
        }

    @staticmethod
    def chunk_size_of(out: str | Path) -> int | None:
        """The chunk size a run into ``out`` used, if one did."""
        try:
            return int(json.loads((Path(out) / MANIFEST).read_text())["chunk_size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def open(self) -> None:
        """Create the folder, or check that it holds this very batch; remove temporary
        files a killed run left. Raises `BatchError` for a folder of something else."""
        manifest = self.out / MANIFEST
        if self.out.exists() and not self.out.is_dir():
            raise BatchError(f"--out {self.out} is a file, not a folder")
        if manifest.is_file():
            self._check(manifest)
        elif self.out.is_dir() and any(self.out.iterdir()):
            raise BatchError(
                f"--out {self.out} holds files but no {MANIFEST}: it is not the output of "
                "`digits batch`; choose a new or empty folder"
            )
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(manifest, self.identity)
        for stale in self.out.glob(".part-*.tmp"):
            stale.unlink(missing_ok=True)

    def _check(self, manifest: Path) -> None:
        try:
            stored = json.loads(manifest.read_text())
        except (OSError, ValueError) as error:
            raise BatchError(f"cannot read {manifest}: {error}") from error
        differ = [k for k, v in self.identity.items() if stored.get(k) != v]
        if differ:
            shown = ", ".join(
                f"{k} {stored.get(k)!r} there, {self.identity[k]!r} now" for k in differ
            )
            raise BatchError(
                f"--out {self.out} holds another batch ({shown}); rerun with the same inputs "
                "and options to resume it, or choose a new folder"
            )

    def part(self, index: int) -> Path:
        return self.out / f"part-{index:06d}.parquet"

    def pending(self) -> list[int]:
        """The chunks without a part, in order."""
        return [i for i in range(self.plan.chunks) if not self.part(i).is_file()]

    def write(self, index: int, table: pa.Table) -> Path:
        """Write chunk ``index``'s rows atomically (temporary file, fsync, rename)."""
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)
        return atomic_write_bytes(self.part(index), buffer.getvalue().to_pybytes())

    def tables(self) -> Iterator[pa.Table]:
        for index in range(self.plan.chunks):
            if self.part(index).is_file():
                yield pq.read_table(self.part(index))

    def summary(self) -> dict:
        """Counts over the parts on disk: rows, read, none found, low confidence, errors."""
        counts = dict(rows=0, read=0, none_found=0, low_confidence=0, errors=0)
        for table in self.tables():
            rows = table.to_pydict()
            answer = rows["label"] if "label" in rows else [t or None for t in rows["text"]]
            for value, error, low in zip(answer, rows["error"], rows["low_confidence"]):
                counts["rows"] += 1
                counts["errors"] += error is not None
                counts["read"] += error is None and value is not None
                counts["none_found"] += error is None and value is None
                counts["low_confidence"] += bool(low) and value is not None
        return counts
