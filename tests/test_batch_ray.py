"""Tests of ``digits batch --engine ray`` on a 2-node Ray cluster over loopback that the
tests start (``ray start --head`` and ``ray start --address``) and stop: one row per
input with the CLI's answers, and a rerun after a SIGKILL of the driver during which an
actor process is killed, with no row lost or written twice (the kills placed by a gate on
the actors' reads, not by the clock).

Ray is an optional extra: when it is not installed, the session installs
requirements-ray.txt into the running environment with pip, and these tests are skipped
only when that install fails (the reason is printed)."""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from batch_inputs import (
    Gate,
    batch_command,
    check_exactly_once,
    check_same_answers,
    cli_records,
    env,
    make_images,
    make_odd_names,
    parts_in,
    read_rows,
    run_batch,
    wait_for,
)

from digits.paths import ROOT

CHUNK = 20


@pytest.fixture(scope="session")
def ray_installed():
    """Import ray, installing requirements-ray.txt first when it is missing."""
    try:
        import ray  # noqa: F401

        return
    except ImportError:
        pass
    requirements = ROOT / "requirements-ray.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-r",
         str(requirements)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    importlib.invalidate_caches()
    try:
        import ray  # noqa: F401
    except ImportError as error:
        why = f"ray could not be installed ({error}): {done.stdout[-2000:]}{done.stderr[-2000:]}"
        print(why, file=sys.stderr)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _marked(marker: str) -> list[int]:
    """Processes whose environment holds ``marker``: those this cluster started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def _stop(marker: str) -> None:
    """End every process of the cluster, by id: SIGTERM, then SIGKILL after 10 s."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in _marked(marker):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.2)


def _agent_ports() -> list[str]:
    """Ports for a node's agents, given rather than picked by them: else the raylet waits
    for the agents to write their port files, and gives up when a busy machine starts
    them slowly ("Timed out waiting for file .../metrics_agent_port...")."""
    options = ["--dashboard-agent-grpc-port", "--metrics-export-port"]
    options += ["--dashboard-agent-listen-port", "--runtime-env-agent-port"]
    return [text for option in options for text in (option, str(_free_port()))]


def _loopback_only() -> tuple[list[str], subprocess.Popen | None]:
    """A private network namespace that holds only loopback, and the prefix that runs a
    command in it. Ray's agents bind and call the host's own address when they can find
    one, whatever ``--node-ip-address`` says; in here they find none and use 127.0.0.1,
    so the test's traffic never leaves loopback. Where namespaces are not allowed, no
    prefix (the nodes are still started on 127.0.0.1)."""
    try:
        holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 86400"]
        )
    except OSError:
        return [], None
    prefix = ["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--"]
    deadline = time.monotonic() + 10
    while holder.poll() is None and time.monotonic() < deadline:
        shown = subprocess.run([*prefix, "ip", "-o", "link", "show", "lo"], capture_output=True)
        if b"UP" in shown.stdout.split(b"<", 1)[-1].split(b">", 1)[0]:
            return prefix, holder
        time.sleep(0.1)
    holder.kill()
    print("no private network namespace here: the cluster runs on 127.0.0.1", file=sys.stderr)
    return [], None


def _start_cluster(environ: dict, marker: str, prefix: list[str], attempts: int = 3) -> int:
    """Start the head and the worker node; returns the head's port. On a busy machine a
    node can miss Ray's fixed 30 s start-up wait: then stop what started and try again."""
    ray = str(Path(sys.executable).parent / "ray")
    common = ["--num-cpus", "2", "--node-ip-address", "127.0.0.1"]
    common += ["--object-store-memory", str(200 * 2**20)]
    for attempt in range(1, attempts + 1):
        port = _free_port()
        head = ["--head", "--port", str(port), "--include-dashboard=false", "--disable-usage-stats"]
        for args in (head, ["--address", f"127.0.0.1:{port}"]):
            started = subprocess.run(
                [*prefix, ray, "start", *args, *common, *_agent_ports()], env=environ,
                capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            if started.returncode != 0:
                break
        else:
            return port
        _stop(marker)
        print(f"ray start failed (attempt {attempt}): {started.stderr[-1500:]}", file=sys.stderr)
    raise AssertionError(f"the test cluster did not start: {started.stdout}{started.stderr}")


@pytest.fixture(scope="module")
def cluster(ray_installed):
    """``(address, environment, prefix, gate)`` of a head node and a worker node, 2 CPUs
    each, on 127.0.0.1 in a private network namespace (commands run in it with
    ``prefix``), with HOME and RAY_TMPDIR in a temporary folder; stopped at the end. Its
    actors read through ``gate`` (`batch_inputs.Gate`), open unless a test closes it."""
    folder = tempfile.mkdtemp(prefix="dray", dir="/tmp")  # short: Unix socket paths
    marker = f"DIGITS_RAY_TEST={folder}"
    gate = Gate(Path(folder) / "gate", closed=False)
    environ = gate.env(env(
        HOME=folder, RAY_TMPDIR=folder, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32), DIGITS_RAY_TEST=folder,
    ))  # fmt: skip
    prefix, holder = _loopback_only()
    try:
        port = _start_cluster(environ, marker, prefix)
        yield f"127.0.0.1:{port}", environ, prefix, gate
    finally:
        _stop(marker)
        if holder is not None:
            holder.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist):
    """600 inputs: 480 MNIST digits, 117 rendered pictures, 3 bad files."""
    folder = tmp_path_factory.mktemp("ray_images")
    return folder, make_images(folder, mnist, digits=480, rendered=117, seed=1)


def _ray_args(images, cluster, out: Path) -> list:
    return [images[0], "--out", out, "--engine", "ray", "--address", cluster[0], "--workers", 2,
            "--chunk-size", CHUNK]  # fmt: skip


def test_one_row_per_input_with_the_cli_answers(images, cluster, tmp_path):
    _, inputs = images
    out = tmp_path / "out"
    args = _ray_args(images, cluster, out)
    done = run_batch(*args, environ=cluster[1], timeout=240, prefix=cluster[2])
    assert done.returncode == 0, done.stderr
    rows = check_exactly_once(read_rows(out), inputs)
    assert f"{len(inputs):,} inputs" in done.stdout and "3 errors" in done.stdout
    subset = inputs[::10] + [p for p in inputs if "/bad/" in p]
    check_same_answers(rows, cli_records(sorted(set(subset))))


def _popen(args, cluster) -> subprocess.Popen:
    _, environ, prefix, _ = cluster
    return subprocess.Popen(
        [*prefix, *batch_command(*args)], env=environ, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _actors(marker: str) -> list[int]:
    """The Ray Data actor processes (``ray::MapWorker(MapBatches(_Reader))``) of the cluster."""
    found = []
    for pid in _marked(marker):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ray::MapWorker" in command and b"_Reader" in command:
            found.append(pid)
    return found


def test_sigkill_of_the_driver_then_of_an_actor(images, cluster, tmp_path):
    """The driver is killed once its first actor call is written; the rerun finishes
    although one of its actors is killed mid-run: every input once, none missing. The
    actors' calls go through the gate one token at a time, so both kills fall mid-run on
    a machine of any speed."""
    _, inputs = images
    out, gate = tmp_path / "out", cluster[3]
    args = _ray_args(images, cluster, out)
    chunks = -(-len(inputs) // CHUNK)
    marker = f"DIGITS_RAY_TEST={cluster[1]['DIGITS_RAY_TEST']}"
    gate.close()
    try:
        driver = _popen(args, cluster)
        # a task holds 7 chunks (140 rows: 2 reads of at most `BATCH_ROWS`) and each of the
        # 2 actors runs its tasks one by one, so of any 3 reads 2 end one task, whose rows
        # the driver writes at once: 3 tokens must give a part, and leave most chunks unread
        gate.release_until(driver, lambda: parts_in(out) >= 1, "a first part", most=3)
        killed = set(_actors(marker))
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        # Ray ends a dead driver's actors when it notices; until then they still wait at
        # the gate, and one of them could take the token meant for the rerun
        wait_for(None, lambda: not killed & set(_actors(marker)), "the killed run's actors' end")
        after_kill = parts_in(out)
        assert 1 <= after_kill <= chunks - 7, "no 2 reads (over 128 rows) left for the rerun"
        rerun = _popen(args, cluster)
        ended = gate.reads()
        gate.release(1)  # one read, then every actor waits at the gate: the run is mid-way
        wait_for(rerun, lambda: gate.reads() > ended and _actors(marker), "the rerun's read")
        victims, parts_then = _actors(marker), parts_in(out)
        os.kill(victims[0], signal.SIGKILL)
        assert parts_then < chunks
        gate.open()
        _, stderr = rerun.communicate(timeout=240)
    finally:
        gate.open()
    assert rerun.returncode == 0, stderr.decode()
    check_exactly_once(read_rows(out), inputs)


def test_names_that_are_not_utf8_give_the_rows_of_the_local_engine(cluster, mnist, tmp_path):
    """A name of bytes ff fe, a bad file and a folder whose names are not UTF-8 either:
    one row per input, the rows the local engine gives (issue 35)."""
    inputs, paths = make_odd_names(tmp_path / "in", mnist, digits=20)
    local, ray = tmp_path / "local", tmp_path / "ray"
    done = run_batch(*inputs, "--out", local, "--workers", 1, "--chunk-size", 8)
    assert done.returncode == 0, done.stderr
    args = [*inputs, "--out", ray, "--engine", "ray", "--address", cluster[0], "--workers", 2,
            "--chunk-size", 8]  # fmt: skip
    done = run_batch(*args, environ=cluster[1], timeout=240, prefix=cluster[2])
    assert done.returncode == 0, done.stderr
    assert "2 errors" in done.stdout
    expected = check_exactly_once(read_rows(local), paths)
    rows = check_exactly_once(read_rows(ray), paths)
    assert sum(row["error"] is not None for row in rows.values()) == 2
    for path, row in rows.items():
        want = expected[path]
        assert abs(row.pop("confidence") - want.pop("confidence")) < 1e-6, path
        assert row == want, path


def test_rows_are_matched_by_place_not_by_their_escaped_path(tmp_path):
    """Without Ray: the blocks carry each file's own bytes, and the rows coming back are
    put in place by position, so two names that read the same once escaped (the byte ff
    and the four characters \\xff) are two rows, not one lost chunk."""
    import pyarrow as pa

    from digits.apps.batch_ray import _blocks, _gathered
    from digits.apps.batch_store import Plan

    spelt = str(tmp_path / "\\xff.png")  # four characters: backslash, x, f, f
    byte = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"\xff.png"))
    plan = Plan([(spelt, None), (byte, None)], chunk_size=2)
    (block,) = _blocks(plan, [0])
    assert [os.fsdecode(raw) for raw in block.column("open").to_pylist()] == [spelt, byte]
    assert block.column("path").to_pylist() == [spelt, spelt]

    class Answered:  # what the actors return, the last row first
        def iter_batches(self, **_):
            rows = block.drop_columns(["open", "error"]).append_column("digit", pa.array([0, 1]))
            yield rows.take([1])
            yield rows.take([0])

    ((index, rows),) = _gathered(Answered(), plan, [0])
    assert index == 0 and [row["digit"] for row in rows] == [0, 1]
