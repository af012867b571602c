"""``digits serve --workers 2`` (`digits.apps.workers`): connections spread over the
workers, a second server on the port is refused, a killed worker comes back, and Ctrl-C
stops them all without a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest
from batch_inputs import AS_A_TERMINAL, wait_for
from servers import free_port, live_server

from digits.paths import ROOT

SERVE = ["-m", "digits", "serve", "--workers", "2"]


def _workers(pid: int, port: int) -> list[psutil.Process]:
    """The children of ``pid`` that listen on ``port``: the workers, once started."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            listening = child.net_connections("tcp")
        except psutil.Error:
            continue
        if any(c.status == "LISTEN" and c.laddr.port == port for c in listening):
            found.append(child)
    return found


def _connected(pid: int, port: int) -> dict[int, int]:
    """Established connections on ``port`` per worker pid."""
    counts = {}
    for worker in _workers(pid, port):
        connections = worker.net_connections("tcp")
        counts[worker.pid] = sum(
            c.status == "ESTABLISHED" and c.laddr.port == port for c in connections
        )
    return counts


def _health(port: int, sock: socket.socket | None = None) -> bytes:
    own = sock is None
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        return sock.recv(4096)
    finally:
        if own:
            sock.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """``(port, process)`` of a 2-worker service, with both workers listening."""
    port = free_port()
    log = tmp_path_factory.mktemp("workers") / "server.log"
    with live_server([*SERVE, "--port", str(port)], port, "/health", log) as (_, process):
        wait_for(process, lambda: len(_workers(process.pid, port)) == 2, "2 workers")
        yield port, process


def test_connections_spread_over_the_workers(service):
    """32 keep-alive connections opened at once: each worker holds some of them (uvicorn's
    shared socket let one worker accept nearly all)."""
    port, process = service
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
    try:
        for sock in sockets:
            assert _health(port, sock).startswith(b"HTTP/1.1 200")
        counts = _connected(process.pid, port)
        assert len(counts) == 2 and sum(counts.values()) == 32, counts
        assert min(counts.values()) >= 1, counts
    finally:
        for sock in sockets:
            sock.close()


def test_a_second_server_on_the_port_is_refused(service):
    port, _ = service
    done = subprocess.run(
        [sys.executable, *SERVE, "--port", str(port)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_killed_worker_is_restarted(service):
    port, process = service
    victim = _workers(process.pid, port)[0]
    victim.kill()
    victim.wait(timeout=30)

    def back() -> bool:
        pids = [w.pid for w in _workers(process.pid, port)]
        return len(pids) == 2 and victim.pid not in pids

    wait_for(process, back, "a new worker")
    assert _health(port).startswith(b"HTTP/1.1 200")


def test_ctrl_c_stops_every_worker(tmp_path):
    """Ctrl-C, as a terminal sends it (SIGINT to the process group): exit 0, no worker
    left, no traceback."""
    port, log = free_port(), tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*AS_A_TERMINAL, *SERVE, "--port", str(port)], cwd=ROOT, stdout=out, stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(process, lambda: len(_workers(process.pid, port)) == 2, "2 workers")
        workers = _workers(process.pid, port)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    assert "Traceback" not in log.read_text()
