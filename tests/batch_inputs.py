"""Inputs and checks shared by the tests of ``digits batch`` (test_batch, test_batch_ray):
a folder of generated images with bad files among them, running the command, reading its
output, and comparing it with ``digits predict --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from digits.paths import ROOT
from digits.synth import samples

#: The bad files: what each holds.
BAD_FILES = {
    "truncated.png": "first half of a PNG",
    "text.png": "a text file named .png",
    "empty.png": "nothing",
}


def make_images(folder: Path, mnist, digits: int, rendered: int, seed: int = 0) -> list[str]:
    """``digits`` MNIST test digits as PNG (dark on light), ``rendered`` of them rendered as
    users' pictures of every `samples.KINDS` (PNG and JPEG), and the `BAD_FILES`; returns
    every path, sorted. Subfolders: mnist/, rendered/ and bad/."""
    (_, _), (x_test, _) = mnist
    rng = np.random.default_rng(seed)
    for sub in ("mnist", "rendered", "bad"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(digits):
        (folder / "mnist" / f"{i:05d}.png").write_bytes(samples.encode(255 - x_test[i]))
    for i in range(rendered):
        kind = samples.KINDS[i % len(samples.KINDS)]
        options, ext, quality = samples.variant(kind, rng)
        image = samples.render(x_test[digits + i], rng, **options)
        data = samples.encode(image, ext, quality)
        (folder / "rendered" / f"{kind}_{i:04d}{ext}").write_bytes(data)
    png = samples.encode(255 - x_test[0])
    (folder / "bad" / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "bad" / "text.png").write_text("this is not an image\n")
    (folder / "bad" / "empty.png").write_bytes(b"")
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def env(**extra: str) -> dict:
    """The environment of a ``digits`` subprocess: this checkout's package first."""
    return dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **extra)


def batch_command(*args) -> list[str]:
    return [sys.executable, "-m", "digits", "batch", *map(str, args)]


#: Start a command as a terminal's shell starts it, with Ctrl-C's default action. A test
#: run in the background by a script (``make test &``) inherits SIGINT ignored, as POSIX
#: has it; Python keeps it ignored, and so would the command, whatever its own code does.
AS_A_TERMINAL = [
    sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
]  # fmt: skip


class Gate:
    """How many batches a run may read: while the gate is closed, each batch a worker reads
    (a local chunk, a Ray actor's call) takes a token (`tests/batch_gate/sitecustomize.py`),
    and `release` hands them out. So a test stops a run at a chosen part, whatever the
    machine's speed. A new gate is ``closed``; `open` lets every read through."""

    def __init__(self, folder: Path, closed: bool = True):
        self.folder = folder
        (folder / "taken").mkdir(parents=True)
        self.released = 0
        if closed:
            self.close()

    def env(self, base: dict | None = None) -> dict:
        """``base`` (default: the suite's environment) with the gate on PYTHONPATH."""
        base = base or env()
        path = [str(Path(__file__).parent / "batch_gate"), base.get("PYTHONPATH", str(ROOT))]
        return dict(base, PYTHONPATH=os.pathsep.join(path), DIGITS_TEST_GATE=str(self.folder))

    def close(self) -> None:
        (self.folder / "closed").touch()

    def open(self) -> None:
        (self.folder / "closed").unlink(missing_ok=True)

    def waiting(self) -> int:
        """How many workers have come to the gate (each with its first chunk)."""
        return len(list(self.folder.glob("waiting-*")))

    def reads(self) -> int:
        """How many reads have ended (each one let through by a token, or the gate open)."""
        return len(list(self.folder.glob("read-*")))

    def release_until(self, process, done, what: str, most: int) -> None:
        """Release tokens one at a time until ``done()``: after each, wait for ``done()`` or
        for the read it let through to end, at most ``most`` tokens. A Ray actor's output
        reaches the driver when its task ends, after one read or more, so a test cannot
        know in advance how many tokens make a part."""
        for _ in range(most):
            ended = self.reads()
            self.release(1)
            wait_for(process, lambda ended=ended: done() or self.reads() > ended, what)
            if done():
                return
        wait_for(process, done, what)

    def release(self, tokens: int) -> None:
        for _ in range(tokens):
            (self.folder / f"token-{self.released:06d}").touch()
            self.released += 1


def wait_for(process: subprocess.Popen | None, ready, what: str, timeout: float = 300) -> None:
    """Wait until ``ready()`` while ``process`` (if any) runs; ``timeout`` guards against a
    hang only (nothing here depends on how fast the machine is)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (rc {process.returncode}) before {what}")
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.01)


def parts_in(out: Path) -> int:
    return len(list(out.glob("part-*.parquet"))) if out.is_dir() else 0


def run_batch(*args, environ: dict | None = None, timeout: float = 300, prefix: list = ()):
    """Run ``digits batch ARGS`` (after ``prefix``) to the end; returns the CompletedProcess."""
    return subprocess.run(
        [*prefix, *batch_command(*args)],
        capture_output=True,
        text=True,
        env=environ or env(),
        cwd=ROOT,
        timeout=timeout,
    )


def read_rows(out: Path) -> list[dict]:
    """Every row of the dataset in ``out``, read as a Parquet dataset (as users read it)."""
    return pq.read_table(out).to_pylist()


def check_exactly_once(rows: list[dict], inputs: list[str]) -> dict[str, dict]:
    """One row per input, none missing, none twice; returns the rows by path."""
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)), "duplicate rows"
    assert sorted(paths) == sorted(inputs), "missing or extra rows"
    return {row["path"]: row for row in rows}


def cli_records(paths: list[str], command: str = "predict") -> dict[str, dict]:
    """``digits predict --json`` (or ``read``) on ``paths``, by path."""
    done = subprocess.run(
        [sys.executable, "-m", "digits", command, "--json", *paths],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return {record["path"]: record for record in records}


def check_same_answers(rows: dict[str, dict], records: dict[str, dict]) -> None:
    """Each record's answer is its row's: digit, confidence, flags, reason and error."""
    assert records
    for path, record in records.items():
        row = rows[path]
        assert row["digit"] == record["digit"], path
        assert row["label"] == record["label"], path
        assert abs(row["confidence"] - record["confidence"]) < 1e-6, path
        assert row["low_confidence"] == record["low_confidence"], path
        assert row["flags"] == record["flags"], path
        assert row["flag_reason"] == record.get("flag_reason"), path
        assert row["not_a_digit"] == record.get("not_a_digit", False), path
        assert row["several_digits"] == record["several_digits"], path
        assert row["reason"] == record.get("reason"), path
        assert row["error"] == record.get("error"), path


#: The escaped form (`digits.apps.options.escaped`) of the names `make_odd_names` makes.
ODD_NAME, ODD_BAD, ODD_EMPTY = "\\xff\\xfe.png", "bad_\\xfe.png", "empty_\\xff"


def _write(name: bytes, data: bytes) -> None:
    handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(handle, data)
    finally:
        os.close(handle)


def make_odd_names(folder: Path, mnist, digits: int = 20) -> tuple[list[str], list[str]]:
    """Names that are not UTF-8 among ordinary ones: in ``folder``, ``digits`` MNIST PNGs,
    one more named with the bytes ``ff fe`` (``b"\\xff\\xfe.png"``), a text file named
    ``b"bad_\\xfe.png"`` and a folder ``b"empty_\\xff"`` without images. Returns the inputs
    to name (``folder`` and the empty folder, as Python holds them: surrogates) and the
    ``path`` of each row they give (escaped), sorted."""
    (_, _), (x_test, _) = mnist
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.fsencode(folder)
    for i in range(digits):
        _write(os.path.join(raw, b"%05d.png" % i), samples.encode(255 - x_test[i]))
    _write(os.path.join(raw, b"\xff\xfe.png"), samples.encode(255 - x_test[digits]))
    _write(os.path.join(raw, b"bad_\xfe.png"), b"this is not an image\n")
    os.mkdir(os.path.join(raw, b"empty_\xff"))
    _write(os.path.join(raw, b"empty_\xff", b"notes.txt"), b"no images here\n")
    names = [f"{i:05d}.png" for i in range(digits)] + [ODD_NAME, ODD_BAD, ODD_EMPTY]
    inputs = [str(folder), os.fsdecode(os.path.join(raw, b"empty_\xff"))]
    return inputs, sorted(f"{folder}/{name}" for name in names)
