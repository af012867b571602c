"""Several service workers on one port, each with its own listening socket, so that the
kernel spreads the connections over them (``digits serve --workers N``, `make serve`).

uvicorn's own ``--workers`` gives every worker the one socket the parent bound, and the
first event loop to wake up accepts every connection waiting: with keep-alive clients,
one worker often serves them all while the others idle (8 connections opened at once
went 8 to 0 in 4 of 5 tries). Here each worker binds its own socket with
``SO_REUSEPORT`` (Linux, the BSDs, macOS), and the kernel hands each new connection to
one of them by a hash of its addresses.

The parent only supervises: it first binds the port without ``SO_REUSEPORT``, which
fails when any server holds it (so a second ``digits serve`` on the same port is refused
rather than joining this one), then holds a socket bound to it with ``SO_REUSEPORT``
(never listening, so it gets no connections), starts the workers, restarts
one that dies (at most `MAX_RESTARTS` times per worker), and on Ctrl-C or SIGTERM stops
them all, each with uvicorn's graceful shutdown.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
from multiprocessing.connection import wait

__all__ = ["MAX_RESTARTS", "check_free", "reuse_port_socket", "run_workers"]

log = logging.getLogger("digits.apps.workers")

#: Restarts of one worker before the service gives up (a worker that cannot start).
MAX_RESTARTS = 3
#: Seconds a worker may take to shut down gracefully before it is killed.
STOP_S = 15


class _Stop(Exception):
    """SIGTERM to the parent."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_free(host: str, port: int) -> None:
    """Raise `OSError` when another server holds ``(host, port)``."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT``: other such sockets
    of this user may bind the same port, and the kernel balances connections over those
    that listen. Raises `OSError` when the port is taken by another server."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(app: str, options: dict, environ: dict) -> None:
    """One worker process: its own socket, then uvicorn until it is told to stop."""
    import uvicorn

    os.environ.update(environ)
    sock = reuse_port_socket(options["host"], options["port"])
    config = uvicorn.Config(app, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(count: int, app: str, options: dict, environ: dict) -> int:
    """Serve ``app`` (an import string of an app factory) with ``count`` workers until
    Ctrl-C or SIGTERM; ``options`` are `uvicorn.Config`'s (``host`` and ``port``
    included), ``environ`` what each worker adds to its environment. Returns 0 when
    stopped, 1 when a worker kept dying."""
    check_free(options["host"], options["port"])
    holder = reuse_port_socket(options["host"], options["port"])
    context = multiprocessing.get_context("spawn")

    def start():
        process = context.Process(target=_worker, args=(app, options, environ), daemon=False)
        process.start()
        return process

    previous = signal.signal(signal.SIGTERM, _raise_stop)
    workers = [start() for _ in range(count)]
    restarts = [0] * count
    try:
        while True:
            wait([process.sentinel for process in workers])
            for i, process in enumerate(workers):
                if process.is_alive():
                    continue
                if restarts[i] >= MAX_RESTARTS:
                    log.error("worker %d exited %d times; stopping", i, restarts[i] + 1)
                    return 1
                log.warning("worker %d exited (%s); restarting it", i, process.exitcode)
                restarts[i] += 1
                workers[i] = start()
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(workers)
        holder.close()


def _raise_stop(signum, frame) -> None:
    raise _Stop


def _stop(workers: list) -> None:
    """Ask every worker to shut down gracefully; kill those that do not in `STOP_S`."""
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(STOP_S)
        if process.is_alive():
            process.kill()
            process.join()
