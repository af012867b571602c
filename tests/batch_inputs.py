"""Inputs and checks shared by the tests of ``digits batch`` (test_batch, test_batch_ray):
a folder of generated images with bad files among them, running the command, reading its
output, and comparing it with ``digits predict --json``."""

from __future__ import annotations

import json
import os
import signal
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


def kill_when_parts(process: subprocess.Popen, out: Path, parts: int, total: int) -> int:
    """SIGKILL ``process`` as soon as ``out`` holds ``parts`` part files; returns how many
    it held then, which must be fewer than ``total`` for the kill to be mid-run."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        done = len(list(out.glob("part-*.parquet"))) if out.is_dir() else 0
        if done >= parts:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return done
        time.sleep(0.01)
    stdout, stderr = process.communicate(timeout=30)
    raise AssertionError(f"the run ended (rc {process.returncode}) before {parts} parts: {stderr}")


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
        assert row["not_a_digit"] == record.get("not_a_digit", False), path
        assert row["several_digits"] == record["several_digits"], path
        assert row["reason"] == record.get("reason"), path
        assert row["error"] == record.get("error"), path
