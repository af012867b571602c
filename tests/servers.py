"""Start a server the tests talk to (the Streamlit app, the JSON service) on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from digits.paths import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def live_server(
    arguments: list[str], port: int, health: str, log: Path, timeout: float = 120
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python ARGUMENTS`` in the repository, until GET ``health`` answers 200; yields its
    URL and process, and stops it afterwards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _healthy(url + health):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{arguments[:3]} did not start:\n{log.read_text()}")
        time.sleep(0.3)
    try:
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
