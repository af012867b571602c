"""Throughput of ``digits batch``: images/s for the local engine with 1 and 2 workers and
the Ray engine with 2 workers, on the photo set and on plain 28x28 crops.

    python benchmarks/batch_scale.py [--crops 30000] [--photo-copies 4]
                                     [--engines local1 local2 ray2]

The photos are `photo_paths` (the photo set, `python -m digits.synth photos`: 640x480 JPEG
photos of MNIST test digits on paper), linked ``--photo-copies`` times under new names so
that a run lasts long enough to time; the crops are MNIST test digits saved as 28x28 PNG
(dark on light; the 10,000 over again past that). All in a temporary folder. Each
configuration runs `digits.apps.batch.run` into a new folder, in chunks of 50 photos or
1,000 crops (the command's default).

Each configuration runs twice: over the first two chunks per worker, then over all
images. The steady rate, what a long batch runs at, is read inside the whole run
(`steady_rate`): the images written after each worker's first chunk, over the time since.
The start-up (spawning processes or starting Ray, loading the model) is what remains of
the whole run's time. The difference of the two runs, (images - short run's images) /
(seconds - short run's seconds), is reported beside it; it was the steady rate until the
Ray start-up's own jitter (seconds) was found to decide it.
Ray's own start (``ray.init``) is reported apart. For the local engine, the workers' CPU
time per image too (the same difference of two runs): a shared machine's other jobs slow
the wall clock, much less the CPU time. Also the bare per-image cost:
`BatchReader.rows` in this process, one thread, wall and CPU time. Writes
``reports/batch_scale.json``. Timings on a shared machine are noisy: the load average is
recorded with them, and the CPU time per image is the steadier figure.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2

from digits.paths import ROOT

CONFIGS = {"local1": ("local", 1), "local2": ("local", 2), "ray2": ("ray", 2)}


def photo_paths() -> list[str]:
    """The photo set's image paths (generated once into the sets' cache)."""
    from digits.synth.sets import ensure

    folder = ensure("photos")
    with open(folder / "labels.csv", newline="") as handle:
        return [str(folder / row["path"]) for row in csv.DictReader(handle)]


def copies(paths: list[str], folder: Path, times: int) -> list[str]:
    """``times`` copies of the files (hard links where possible) under new names, so that
    a run lasts long enough to measure."""
    out = []
    for n in range(times):
        (folder / f"copy{n}").mkdir(parents=True)
        for i, path in enumerate(paths):
            target = folder / f"copy{n}" / f"{i:05d}{Path(path).suffix}"
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
            out.append(str(target))
    return out


def crop_paths(folder: Path, count: int) -> list[str]:
    """``count`` MNIST test digits as 28x28 PNG files in ``folder``."""
    from digits.training.data import load_mnist

    _, (x_test, _) = load_mnist()
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.png"
        cv2.imwrite(str(path), 255 - x_test[i % len(x_test)])
        paths.append(str(path))
    return paths


def bare_cost(paths: list[str]) -> dict:
    """ms per image of the per-batch function in this process (model loaded first)."""
    from digits.apps.batch_work import BatchReader

    reader = BatchReader("predict")
    reader.rows(paths[:20])  # warm
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(paths), 256):
        reader.rows(paths[i : i + 256])
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "images": len(paths),
        "ms_per_image": round(1000 * wall / len(paths), 2),
        "cpu_ms_per_image": round(1000 * cpu / len(paths), 2),
    }


def _run(paths: list[str], engine: str, workers: int, chunk: int, tmp: Path) -> dict:
    """One run of `batch.run` over ``paths`` (a list file) into a new folder."""
    from digits.apps import batch

    listing = tmp / f"list-{engine}{workers}-{len(paths)}.txt"
    listing.write_text("\n".join(paths) + "\n")
    timings: dict = {}
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = batch.run(
        [listing], tmp / f"out-{listing.stem}", engine=engine, workers=workers,
        chunk_size=chunk, progress=False, timings=timings,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the local pool's workers, reaped
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return {**timings, "rows": summary["rows"], "errors": summary["errors"], "cpu_s": cpu_s}


def measure(paths: list[str], engine: str, workers: int, chunk: int, tmp: Path) -> dict:
    """A short run (two chunks per worker) and a whole one. The steady rate is read inside
    the whole run (`steady_rate`); the difference of the two runs, (images - short images)
    / (seconds - short seconds), is kept beside it, and gives the workers' CPU time."""
    short = _run(paths[: min(2 * workers * chunk, len(paths) // 4)], engine, workers, chunk, tmp)
    whole = _run(paths, engine, workers, chunk, tmp)
    rate = steady_rate(whole["arrivals"], workers)
    difference = (whole["rows"] - short["rows"]) / max(1e-9, whole["seconds"] - short["seconds"])
    out = {
        "engine": engine,
        "workers": workers,
        "images": whole["rows"],
        "errors": whole["errors"],
        "seconds": round(whole["seconds"], 2),
        "short_run": {"images": short["rows"], "seconds": round(short["seconds"], 2)},
        "images_per_s": round(rate, 1),
        "images_per_s_from_two_runs": round(difference, 1),
        "start_up_s": round(whole["seconds"] - whole["rows"] / rate, 2),
    }
    if "ray_start_s" in whole:
        out["ray_start_s"] = round(whole["ray_start_s"], 2)
    else:  # the workers' CPU time, counted the same way: per image, start-up cancelled out
        cpu = (whole["cpu_s"] - short["cpu_s"]) / (whole["rows"] - short["rows"])
        out["worker_cpu_ms_per_image"] = round(1000 * cpu, 2)
    return out


def steady_rate(arrivals: list[tuple[float, int]], workers: int) -> float:
    """Images/s once every worker runs: the images of the chunks written after the first
    ``workers`` chunks, over the time since the last of those. Start-up (spawning, starting
    Ray, loading the model) and the first chunk per worker fall outside."""
    if len(arrivals) <= workers:  # too short to tell: the whole run's rate
        return sum(rows for _, rows in arrivals) / max(1e-9, arrivals[-1][0])
    after = sum(rows for _, rows in arrivals[workers:])
    return after / max(1e-9, arrivals[-1][0] - arrivals[workers - 1][0])


def _ray_environment(tmp: Path) -> None:
    """A local Ray's files (session, auth token) in ``tmp``; no usage stats."""
    os.environ.update(
        RAY_TMPDIR=str(tmp), HOME=str(tmp), RAY_USAGE_STATS_ENABLED="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        RAY_worker_niceness="0",  # Ray lowers its workers' priority; the pool's run at 0
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 30,000: Ray's start-up (about 20 s, give or take 2) must be small beside the run
    parser.add_argument("--crops", type=int, default=30000, help="28x28 crops to read")
    parser.add_argument("--photo-copies", type=int, default=4, help="copies of the photo set")
    parser.add_argument("--engines", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "batch_scale.json")
    args = parser.parse_args(argv)
    from digits.machine import reference
    from digits.runtime.modelfile import atomic_write_json

    report: dict = {
        "command": "python benchmarks/batch_scale.py " + " ".join(argv or sys.argv[1:]),
        "cpu_count": os.cpu_count(),
        "machine": reference(quick=True),  # before the runs: see digits/machine.py
    }
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="dbs", dir="/tmp") as folder:
        tmp = Path(folder)
        (tmp / "crops").mkdir()
        sets = {
            "photos": (copies(photo_paths(), tmp / "photos", args.photo_copies), 50),
            "crops_28x28": (crop_paths(tmp / "crops", args.crops), 1000),
        }
        _ray_environment(tmp)
        for name, (paths, chunk) in sets.items():
            runs = [measure(paths, *CONFIGS[c], chunk, tmp) for c in args.engines]
            report[name] = {"bare": bare_cost(paths), "runs": runs}
            _print(name, report[name])
    report["load_average"] = round(os.getloadavg()[0], 1)
    report["ratios"] = _ratios(report)
    atomic_write_json(args.out, report)
    print(f"ratios: {report['ratios']}")
    print(f"load average {report['load_average']} on {os.cpu_count()} cores; wrote {args.out}")


def _ratios(report: dict) -> dict:
    out = {}
    for name in ("photos", "crops_28x28"):
        rate = {f"{r['engine']}{r['workers']}": r["images_per_s"] for r in report[name]["runs"]}
        if rate.get("local1") and rate.get("local2"):
            out[f"{name}: local2 / local1"] = round(rate["local2"] / rate["local1"], 2)
        if rate.get("local2") and rate.get("ray2"):
            out[f"{name}: ray2 / local2"] = round(rate["ray2"] / rate["local2"], 2)
    return out


def _print(name: str, result: dict) -> None:
    bare = result["bare"]
    print(f"{name}: {bare['images']} images, bare {bare['ms_per_image']} ms/image")
    print("| engine | workers | images/s (steady) | start-up s | ray.init s | total s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in result["runs"]:
        print(
            f"| {r['engine']} | {r['workers']} | {r['images_per_s']} | {r['start_up_s']} | "
            f"{r.get('ray_start_s', '-')} | {r['seconds']} |"
        )


if __name__ == "__main__":
    main()
