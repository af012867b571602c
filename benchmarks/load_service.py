"""Load test of the JSON web service (`digits serve`) on loopback: latency, throughput,
errors and the server's memory.

Starts ``python -m digits serve`` on a free loopback port (or uses ``--url``), warms it
up, then runs, one after the other:

- ``png-8``: ``--requests`` single-image requests (raw body) of the `digit_examples/` PNGs
  at 8 concurrent;
- ``photo-8``: the same with the 640x480 phone-photo JPEGs of the photo benchmark set
  (`digits.synth.sets`, ``build/sets/photos``);
- ``multipart-16``: ``--requests`` multipart uploads of every `digit_examples/` image at 16
  concurrent;

checking every answer's digit: a non-200 status or a broken connection counts as an
error, an answer that differs from the image's label as ``wrong`` (a photo can be
misread; `digit_examples/` must not be). The server's
resident memory (RSS, all its processes) is sampled before, every 1,000 requests and
after. The client is a lean asyncio HTTP/1.1 keep-alive client (one connection per
concurrent request), so that it takes little of the CPU it shares with the server.
Prints a table and writes ``reports/load_service.json``.

    python benchmarks/load_service.py [--requests 5000] [--model FILE] [--workers CORES]
        [--threads 1] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import psutil

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_json

EXAMPLES = sorted((ROOT / "digit_examples").iterdir())
SAMPLE_EVERY = 1000
PHOTO_SIZE = (640, 480)


def labelled_examples(suffix: str = "") -> list[tuple[Path, int]]:
    """``(file, digit)`` of the `digit_examples/` images (``suffix``: only those)."""
    return [(path, int(path.name[0])) for path in EXAMPLES if path.name.endswith(suffix)]


def labelled_photos() -> list[tuple[Path, int]]:
    """``(file, digit)`` of the photo set's 640x480 JPEGs (generated once, then reused)."""
    import csv

    from PIL import Image

    from digits.synth.sets import ensure

    folder = ensure("photos")
    with open(folder / "labels.csv", newline="") as handle:
        rows = [(folder / row["path"], int(row["label"])) for row in csv.DictReader(handle)]
    photos = []
    for path, label in rows:
        with Image.open(path) as image:
            if image.size == PHOTO_SIZE and image.format == "JPEG":
                photos.append((path, label))
    return photos


# --------------------------------------------------------------------------- requests


def raw_request(host: str, path: Path) -> bytes:
    data = path.read_bytes()
    kind = "image/png" if path.suffix == ".png" else "image/jpeg"
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def multipart_request(host: str, path: Path) -> bytes:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants to close) of one HTTP/1.1 response."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value == "close":
            close = True
    return status, await reader.readexactly(length), close


# --------------------------------------------------------------------------- the load


async def run_load(url: str, kind: str, files, total: int, concurrency: int, on_progress) -> dict:
    """Send ``total`` requests of ``files`` (``(path, digit)``, in turn) over
    ``concurrency`` keep-alive connections."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    build = raw_request if kind == "raw" else multipart_request
    requests = [(build(host, path), digit) for path, digit in files]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    wrong = [0]
    counter = iter(range(total))

    def failed(why: str) -> None:
        errors[why] = errors.get(why, 0) + 1

    async def client() -> None:
        reader = writer = None
        for index in counter:
            request, expected = requests[index % len(requests)]
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                started = time.perf_counter()
                writer.write(request)
                status, body, close = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                if close:
                    writer.close()
                    writer = None
                if status != 200:
                    failed(f"HTTP {status}")
                elif json.loads(body)["predictions"][0]["digit"] != expected:
                    wrong[0] += 1
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as error:
                failed(type(error).__name__)
                writer = None
            on_progress(index + 1)
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    ms = np.array(latencies or [np.nan]) * 1000
    return {
        "requests": total,
        "concurrency": concurrency,
        "body": kind,
        "seconds": round(seconds, 2),
        "requests_per_s": round(total / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "wrong": wrong[0],
    }


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "digits", "serve", "--port", str(port)]
    command += ["--workers", str(args.workers), "--threads", str(args.threads)]
    if args.model:
        command += ["--model", str(args.model)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_for_health(url, process):
        process.kill()
        sys.exit("the server did not start")
    return process, url


def wait_for_health(url: str, process: subprocess.Popen | None = None) -> bool:
    """True once GET /health answers 200 (within 3 minutes)."""
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(100).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def server_pid(url: str) -> int | None:
    """The pid listening on the URL's port (for ``--url`` servers on this machine)."""
    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            return conn.pid
    return None


def cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a process and its children so far."""
    if pid is None:
        return None
    try:
        processes = [psutil.Process(pid)]
        processes += processes[0].children(recursive=True)
        return sum(sum(p.cpu_times()[:2]) for p in processes)
    except psutil.Error:
        return None


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process and its children, in MB."""
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
    except psutil.Error:
        return None
    return round(total / 1e6, 1)


# --------------------------------------------------------------------------- report


def table(runs: list[dict]) -> str:
    rows = [
        (
            "run",
            "requests",
            "conc.",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "wrong",
            "server CPU ms/req",
        )
    ]
    rows += [
        (
            r["name"],
            str(r["requests"]),
            str(r["concurrency"]),
            f"{r['requests_per_s']:.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            str(r["errors"]),
            str(r["wrong"]),
            str(r.get("server_cpu_ms_per_request", "-")),
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in rows
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per run (5000)")
    parser.add_argument("--model", type=Path, default=None, help="model file (default model)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server worker processes (default: one per core, as `make serve`)",
    )
    parser.add_argument("--threads", type=int, default=1, help="prediction threads (1)")
    parser.add_argument("--url", default=None, help="use a running server instead")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports" / "load_service.json", help="report file"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from digits.machine import reference

    machine = reference(quick=True)  # before the server starts: see digits/machine.py
    load_before = os.getloadavg()[0]
    process, url = (None, args.url) if args.url else start_server(args)
    if process is None and not wait_for_health(url):
        sys.exit(f"no server answers at {url}/health")
    pid = process.pid if process else server_pid(url)
    try:
        examples = labelled_examples()
        asyncio.run(run_load(url, "raw", examples, 500, 8, lambda n: None))  # warm-up
        memory = [{"predictions": 0, "rss_mb": rss_mb(pid)}]
        done = 0

        def progress(n: int) -> None:
            if (done + n) % SAMPLE_EVERY == 0:
                memory.append({"predictions": done + n, "rss_mb": rss_mb(pid)})

        runs = []
        plan = [
            ("png-8", "raw", labelled_examples(".png"), 8),
            ("photo-8", "raw", labelled_photos(), 8),
            ("multipart-16", "multipart", examples, 16),
        ]
        for name, kind, files, concurrency in plan:
            cpu_before, client_before = cpu_s(pid), time.process_time()
            load = run_load(url, kind, files, args.requests, concurrency, progress)
            result = asyncio.run(load)
            cpu_after, client_after = cpu_s(pid), time.process_time()
            if cpu_before is not None and cpu_after is not None:
                result["server_cpu_ms_per_request"] = round(
                    (cpu_after - cpu_before) * 1000 / args.requests, 2
                )
            result["client_cpu_ms_per_request"] = round(
                (client_after - client_before) * 1000 / args.requests, 2
            )
            runs.append({"name": name, **result})
            done += args.requests
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
    rss = [m["rss_mb"] for m in memory if m["rss_mb"] is not None]
    report = {
        "command": "python benchmarks/load_service.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "server": url if args.url else "python -m digits serve (started by the benchmark)",
        "model": str(args.model or "default"),
        "workers": args.workers,
        "threads": args.threads,
        "runs": runs,
        "memory": {
            "rss_before_mb": rss[0] if rss else None,
            "rss_after_mb": rss[-1] if rss else None,
            "rss_max_mb": max(rss) if rss else None,
            "samples": memory,
        },
        "machine": {
            **machine,
            "cpus": os.cpu_count(),
            "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "note": "client and server share the machine's CPUs (and any other work on it)",
        },
    }
    atomic_write_json(args.out, report)
    print(table(runs))
    if rss:
        print(
            f"server RSS: {rss[0]:.0f} MB before, {rss[-1]:.0f} MB after "
            f"{done:,} predictions (max {max(rss):.0f} MB)"
        )
    print(
        f"load average (1 min) before/after: {report['machine']['load_average_1min_before_after']}"
    )
    print(f"wrote {args.out}")
    clean = all(r["errors"] == 0 and (r["name"] == "photo-8" or r["wrong"] == 0) for r in runs)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
