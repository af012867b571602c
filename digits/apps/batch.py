"""``digits batch``: read the digits (or numbers) in a large collection of images into a
Parquet dataset, on this machine (a process pool) or on a Ray cluster.

    digits batch scans/ more.txt --out results/ [--task predict|read] [--workers N]
    digits batch scans/ --out results/ --engine ray --address head:6379

INPUTs are image files, folders (walked recursively) and lists of paths (``.txt``, one
a line; ``.csv`` / ``.parquet`` with a ``path`` column). ``--out DIR`` receives
``part-NNNNNN.parquet`` files, exactly one row per input (columns: `batch_work.schema`),
and ``_batch.json``. Rerunning the same command after a crash, a kill or Ctrl-C
finishes the work without duplicates (`batch_store` says how). Read the result with
``pandas.read_parquet(DIR)``.

Both engines run the same per-batch function, `batch_work.read_batch` (one model per
worker process, OpenCV on one thread); the driver alone writes the parts.

Exit status: 0 when every input has its row (unreadable files are rows with ``error``),
1 when the run failed, 2 for usage errors (bad model, unusable --out or inputs), 130
after Ctrl-C (rerun to resume).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from digits.apps.batch_work import TASKS, Chunks

if TYPE_CHECKING:  # the parser is built on every `digits` command: no pyarrow until run
    from concurrent.futures import ProcessPoolExecutor

    from digits.apps.batch_store import Plan, Store

__all__ = ["DEFAULT_CHUNK", "add_parser", "main", "run"]

#: Inputs per part file, unless --chunk-size or the resumed run says otherwise.
DEFAULT_CHUNK = 1000


def add_parser(commands) -> None:
    """Add the ``batch`` subcommand to ``commands`` (an argparse subparsers object)."""
    batch = commands.add_parser(
        "batch",
        help="read many images into a Parquet dataset (resumable; local or Ray)",
        description="Read the digit (or number) in every image into a Parquet dataset, one "
        "row per input; rerun the same command to resume after a crash.",
        epilog="examples:\n"
        "  digits batch scans/ --out results/\n"
        "  digits batch paths.txt --out results/ --engine ray --address head:6379\n\n"
        "Exit status: 0 every input has its row (unreadable files: rows with an error),\n"
        "1 the run failed, 2 usage error, 130 interrupted (rerun to resume).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, folders, or .txt/.csv/.parquet "
        "lists of paths",
    )  # fmt: skip
    batch.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    batch.add_argument("--task", choices=TASKS, default="predict", help="default: predict")
    batch.add_argument("--engine", choices=("local", "ray"), default="local", help="default: local")
    batch.add_argument(
        "--address", default=None, metavar="HOST:PORT", help="Ray cluster to join (ray engine)"
    )
    batch.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes (default: one per core here; Ray: the cluster's cores less one)",
    )
    batch.add_argument("--model", type=Path, default=None, metavar="FILE", help="model file")
    batch.add_argument(
        "--chunk-size", type=_positive, default=None, metavar="N",
        help=f"inputs per part file (default {DEFAULT_CHUNK}, or the resumed run's)",
    )  # fmt: skip
    batch.set_defaults(run=main)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(args: argparse.Namespace) -> int:
    """Run ``digits batch`` with parsed ``args``; prints a summary; returns the exit status."""
    try:
        return _main(args)
    except KeyboardInterrupt:  # at any moment, the imports included
        print(
            f"\ndigits: interrupted; the parts written are kept in {args.out}. Rerun the same "
            "command to finish.",
            file=sys.stderr,
        )
        return 130


def _main(args: argparse.Namespace) -> int:
    from digits.apps.batch_store import BatchError

    if args.address is not None and args.engine != "ray":
        print("digits: error: --address needs --engine ray", file=sys.stderr)
        return 2
    try:
        summary = run(
            args.inputs, args.out, task=args.task, engine=args.engine, workers=args.workers,
            model=args.model, chunk_size=args.chunk_size, address=args.address,
        )  # fmt: skip
    except BatchError as error:
        print(f"digits: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a lost worker, a full disk, a lost cluster
        print(
            f"digits: error: the run failed ({type(error).__name__}: {error}). The parts "
            f"written are kept in {args.out}; rerun the same command to finish.",
            file=sys.stderr,
        )
        return 1
    _print_summary(summary, args)
    return 0


def _print_summary(summary: dict, args: argparse.Namespace) -> None:
    none = "no number" if args.task == "read" else "no digit"
    if summary["parts_written"] == 0:
        print(f"Nothing to do: {args.out} already holds a row for every input.")
    print(
        f"{summary['rows']:,} inputs: {summary['read']:,} read ({summary['low_confidence']:,} "
        f"low confidence), {summary['none_found']:,} {none}, {summary['errors']:,} errors.\n"
        f"Output: {args.out}/part-*.parquet ({summary['parts']} parts); "
        f"read it with pandas.read_parquet({str(args.out)!r})."
    )


def run(
    inputs: Sequence[str | Path],
    out: str | Path,
    task: str = "predict",
    engine: str = "local",
    workers: int | None = None,
    model: str | Path | None = None,
    chunk_size: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    timings: dict | None = None,
) -> dict:
    """Read ``inputs`` into ``out`` (see the module docstring); returns `Store.summary`
    plus ``parts`` (in all) and ``parts_written`` (by this run). ``progress``: None shows
    a bar on a terminal only. ``timings``, when given, receives ``seconds``,
    ``arrivals`` (when each chunk was written, and its rows) and the Ray engine's
    ``ray_start_s``.

    Raises:
        BatchError: unusable model, inputs or output folder.
    """
    from digits.apps.batch_store import BatchError, Plan, Store, gather

    started = time.perf_counter()
    model_path, model_sha256 = _checked_model(model)
    items = gather([str(i) for i in inputs])
    if not items:
        raise BatchError("no inputs")
    size = chunk_size or Store.chunk_size_of(out) or DEFAULT_CHUNK
    plan = Plan(items, size)
    store = Store(out, plan, task, model_sha256, _version())
    store.open()
    pending = store.pending()
    timings = timings if timings is not None else {}
    if engine == "ray":
        from digits.apps.batch_ray import ray_chunks

        chunks = ray_chunks(plan, pending, task, model_path, workers, address, timings)
    else:
        chunks = local_chunks(plan, pending, task, model_path, workers or os.cpu_count() or 1)
    arrivals = timings.setdefault("arrivals", [])  # (seconds, rows) as each chunk lands
    _drain(chunks, plan, store, task, pending, progress, arrivals, started)
    timings["seconds"] = time.perf_counter() - started
    summary = store.summary()
    if summary["rows"] != len(items):
        raise RuntimeError(f"{out} holds {summary['rows']} rows for {len(items)} inputs")
    return {**summary, "parts": plan.chunks, "parts_written": len(pending)}


def _drain(
    chunks: Chunks, plan: Plan, store: Store, task: str, pending, progress, arrivals, started
) -> None:
    """Write each chunk's rows as its part, after checking they are its inputs; note in
    ``arrivals`` when each was written (seconds after ``started``) and its rows."""
    from tqdm import tqdm

    from digits.apps.batch_work import rows_table, storable

    left = sum(len(plan.chunk(i)) for i in pending)
    bar = tqdm(
        total=len(plan.items), initial=len(plan.items) - left, unit="img", smoothing=0.1,
        disable=None if progress is None else not progress, file=sys.stderr,
    )  # fmt: skip
    with bar:
        for index, rows in chunks:
            expected = [storable(path) for path, _ in plan.chunk(index)]
            if [row["path"] for row in rows] != expected:
                raise RuntimeError(f"chunk {index} came back with other rows than its inputs")
            store.write(index, rows_table(rows, task))
            arrivals.append((round(time.perf_counter() - started, 4), len(rows)))
            bar.update(len(rows))


def _checked_model(model: str | Path | None) -> tuple[Path, str]:
    """The model's path and SHA-256, after checking it against its sidecar."""
    from digits.apps.batch_store import BatchError
    from digits.predict import default_model_path
    from digits.runtime.modelfile import ModelError, file_sha256, read_info

    path = Path(model) if model is not None else default_model_path()
    if not path.is_file():
        raise BatchError(f"no model file at {path}")
    try:
        read_info(path)
    except ModelError as error:
        raise BatchError(str(error)) from error
    return path.resolve(), file_sha256(path)


def _version() -> str:
    import digits

    return digits.__version__


# --------------------------------------------------------------------------- local engine

_WORKER: dict = {}


def _start_worker(task: str, model: str, parent: int) -> None:
    """Process pool initializer: load the model once; ignore Ctrl-C (the driver handles
    it); exit when the driver is gone (e.g. SIGKILLed), so no orphan keeps working."""
    from digits.apps.batch_work import BatchReader

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by `_spawning`
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _WORKER["reader"] = BatchReader(task, model)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _work(paths: list[str], errors: list[str | None]) -> list[dict]:
    return _WORKER["reader"].rows(paths, errors)


@contextmanager
def _spawning() -> Iterator[None]:
    """Hold Ctrl-C back while a submit may spawn a worker, then deliver it.

    The workers share the driver's process group, so a terminal's Ctrl-C reaches them
    too. A worker spawned from a thread that blocks SIGINT keeps it blocked through its
    start, until `_start_worker` ignores it; one spawned without it would print a
    traceback of its half-done start, and a driver interrupted halfway through a spawn
    leaves the new worker a traceback of its own. So the driver's Ctrl-C is noted
    meanwhile and raised once the worker is started: never lost, never mid-spawn.
    """
    noted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: noted.append(number))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, previous)
    if noted and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt


def local_chunks(
    plan: Plan, pending: Sequence[int], task: str, model: Path, workers: int
) -> Chunks:
    """``(chunk, rows)`` as a pool of ``workers`` spawned processes finishes each pending
    chunk; at most two chunks per worker are queued at a time."""
    import multiprocessing  # here: `digits predict` builds this parser, never the pool
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")  # no inherited threads or locks
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker,
        initargs=(task, str(model), os.getpid()),
    )  # fmt: skip
    queue, running = iter(pending), {}
    try:
        while True:
            for index in queue:
                paths, errors = zip(*plan.chunk(index))
                with _spawning():
                    running[pool.submit(_work, list(paths), list(errors))] = index
                if len(running) >= 2 * workers:
                    break
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.get):
                yield running.pop(future), future.result()
    except BaseException:  # Ctrl-C or a failure: do not wait for the chunks in flight
        _stop(pool)
        raise
    pool.shutdown(wait=True)  # idle workers: they exit at once


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now: they only read (the driver alone
    writes parts), so a chunk cut off is read again by the rerun. Without this the
    interpreter's exit would wait for every chunk in flight."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # CPython's
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
