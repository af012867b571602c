"""The Ray engine of ``digits batch``: the same per-batch function (`batch_work`) inside a
Ray Data ``map_batches`` actor pool, on a local Ray or a cluster (``--address``).

    pip install -e '.[ray]'          # or: pip install -r requirements-ray.txt
    digits batch scans/ --out results/ --engine ray --address head:6379

How it runs:

- the driver sends only the chunks not yet done (`batch_store`): one Arrow block per
  chunk, with the path as given (in the escaped form of the output, `batch_work.storable`:
  Arrow strings are UTF-8, and a file name need not be), the absolute path to open as raw
  bytes (``os.fsencode``; the actor opens ``os.fsdecode`` of it, the very file), the
  chunk's number and each input's place in it;
- ``map_batches(_Reader, compute=ActorPoolStrategy(size=workers), num_cpus=...)``: each
  actor loads the model once (the model file and its sidecar travel with the job, so the
  nodes need the project installed but not the model) and returns rows with their chunk
  and place;
- the driver gathers the rows of each chunk and, once all its inputs are back, writes its
  part atomically (`batch_store.Store.write`); a row that comes back twice (a retried
  task) replaces its first copy. Rows are matched by place, not path: two names can
  read the same once escaped (the byte ``\\xff`` and the four characters ``\\xff``).
  Ray Data's own ``write_parquet`` is not used: its file names change on every run, so a
  rerun would duplicate rows.

Each actor asks for at most one CPU and leaves half a CPU of the cluster free: actors
holding every CPU can starve Ray Data's other tasks and hang the run (ray#44687). Ray
restarts a killed actor and retries its task; the driver's checks make sure each chunk
is written once, whole.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from digits.apps.batch_store import BatchError, Plan
from digits.apps.batch_work import (
    BatchReader,
    Chunks,
    pack_model,
    rows_table,
    storable,
    unpack_model,
)

__all__ = ["ray_chunks"]

#: Rows per actor call: small enough for an even spread, big enough for batched inference.
BATCH_ROWS = 128


class _Reader:
    """The Ray Data actor: a `BatchReader` loaded once, called on Arrow batches."""

    def __init__(self, task: str, files: list):
        import ray

        self.reader = BatchReader(task, unpack_model(ray.get(files[0])))
        self.task = task

    def __call__(self, batch: pa.Table) -> pa.Table:
        columns = batch.to_pydict()
        paths = [
            os.fsdecode(raw) for raw in columns["open"]
        ]  # the file itself: bytes, UTF-8 or not
        rows = self.reader.rows(paths, columns["error"])
        for row, path in zip(rows, columns["path"]):
            row["path"] = path
        table = rows_table(rows, self.task)
        table = table.append_column("chunk", pa.array(columns["chunk"], pa.int64()))
        return table.append_column("item", pa.array(columns["item"], pa.int64()))


def _blocks(plan: Plan, pending: Sequence[int]) -> list[pa.Table]:
    """One Arrow block per pending chunk: ``path`` (escaped), ``open`` (the file's bytes
    name), ``error`` (known, escaped), ``chunk`` and ``item`` (the place in the chunk)."""
    blocks = []
    for index in pending:
        paths, errors = zip(*plan.chunk(index))
        blocks.append(
            pa.table(
                {
                    "path": [storable(p) for p in paths],
                    "open": pa.array([os.fsencode(os.path.abspath(p)) for p in paths], pa.binary()),
                    "error": pa.array(
                        [e if e is None else storable(e) for e in errors], pa.string()
                    ),
                    "chunk": pa.array([index] * len(paths), pa.int64()),
                    "item": pa.array(range(len(paths)), pa.int64()),
                }
            )
        )
    return blocks


@contextmanager
def _utf8_entrypoint() -> Iterator[None]:
    """While Ray starts: its record of the driver's command line in the escaped form.

    ``ray.init`` hands that line (``ray._private.utils.get_entrypoint_name``: the process's
    own, from ``/proc``) to its C++ core as UTF-8, and fails on an INPUT whose name is not
    UTF-8 (``surrogates not allowed``). Ray 2.60 offers no option for it, hence this
    wrapper; without that function (another Ray), nothing changes.
    """
    from ray._private import utils

    original = getattr(utils, "get_entrypoint_name", None)
    if original is not None:
        utils.get_entrypoint_name = lambda: storable(original())
    try:
        yield
    finally:
        if original is not None:
            utils.get_entrypoint_name = original


def _start(address: str | None) -> float:
    """Start or join Ray quietly; returns the cluster's CPU count."""
    try:
        import ray
    except ImportError as error:
        raise BatchError(
            f"--engine ray needs Ray ({error}): pip install -r requirements-ray.txt"
        ) from error
    options = {"log_to_driver": False, "configure_logging": False}
    if address is None:
        options["include_dashboard"] = False
    with _utf8_entrypoint():
        ray.init(address=address, **options)
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # failures still raise
    # fewer chunks left than workers: harmless, the rest of the pool idles
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
    context = DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows its own
    context.print_on_execution_start = False
    return float(ray.cluster_resources().get("CPU", 1.0))


def ray_chunks(
    plan: Plan,
    pending: Sequence[int],
    task: str,
    model: Path,
    workers: int | None,
    address: str | None,
    timings: dict,
) -> Chunks:
    """``(chunk, rows)`` as the actor pool finishes each pending chunk (any order);
    ``workers`` actors (default: the cluster's CPUs less one, at least one).
    ``timings["ray_start_s"]``: seconds to start or join Ray."""
    if not pending:
        return
    import ray
    from ray.data import ActorPoolStrategy

    started = time.perf_counter()
    cpus = _start(address)
    timings["ray_start_s"] = time.perf_counter() - started
    workers = workers or max(1, int(cpus) - 1)
    try:
        dataset = ray.data.from_arrow(_blocks(plan, pending)).map_batches(
            _Reader,
            # the model as a reference the driver holds: a restarted actor can still get it
            fn_constructor_kwargs={"task": task, "files": [ray.put(pack_model(model))]},
            compute=ActorPoolStrategy(size=workers),
            num_cpus=min(1.0, max(0.1, (cpus - 0.5) / workers)),
            batch_size=BATCH_ROWS,
            batch_format="pyarrow",
        )
        yield from _gathered(dataset, plan, pending)
    finally:
        ray.shutdown()


def _gathered(dataset, plan: Plan, pending: Sequence[int]) -> Chunks:
    """Group the rows coming back by chunk; yield each chunk once all its rows are in."""
    waiting: dict[int, dict[int, dict]] = {index: {} for index in pending}
    # no prefetch: with Ray's default (one block ahead) a task's rows reach the driver
    # only once the next task has ended too, and a killed driver loses that work
    batches = dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0)
    for batch in batches:
        for row in batch.to_pylist():
            index, item = row.pop("chunk"), row.pop("item")
            if index not in waiting:  # a late duplicate of a chunk already written
                continue
            waiting[index][item] = row
            if len(waiting[index]) == len(plan.chunk(index)):
                rows = waiting.pop(index)
                yield index, [rows[i] for i in range(len(rows))]
    if waiting:
        raise RuntimeError(f"Ray returned no rows for {len(waiting)} chunks; rerun to finish")
