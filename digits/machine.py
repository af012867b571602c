"""A machine reference: three fixed workloads timed on this machine, so that a timing
measured here can be compared with, or scaled to, one measured on another machine.

Machines of the same kind differ by up to 2x, and a report that says only "2 cores"
cannot tell a slow machine from a slow change. So every report with a timing records
`reference()` under ``machine``:

- ``matmul``: a fixed float32 matrix product in numpy (1024 x 1024 by default), GFLOP/s;
- ``keras_train_step``: one training step of the notebook's Simple CNN on a fixed batch of
  128 (Adam, as the notebook compiles it), images/s and GFLOP/s counted from the model's
  FLOPs (`model_flops`; a training step counted as 3x the forward pass);
- ``litert``: the shipped LiteRT model on one image per call, images/s.

Each is repeated and reported as its median, with ``spread`` = (max - min) / median of the
repeats: a busy machine shows a wide spread. Also recorded: the CPU model, the cores
usable, the load average and the library versions.

    >>> from digits.machine import reference
    >>> reference(quick=True)["matmul"]["gflops"]        # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "FIGURES",
    "agreement",
    "describe",
    "model_flops",
    "note",
    "reference",
    "runs_table",
    "summary",
    "timed",
]

MATMUL_SIZE = 1024
TRAIN_BATCH = 128
TRAIN_FORWARD_FACTOR = 3  # forward + gradients of inputs and weights: ~3x the forward FLOPs


def timed(work: Callable[[], None], repeats: int, min_seconds: float) -> dict:
    """Run ``work`` in rounds of at least ``min_seconds``; the median seconds per call of
    ``repeats`` rounds, and their spread."""
    warm_until = time.perf_counter() + min_seconds
    while time.perf_counter() < warm_until:  # warm up: graphs, caches, the thread pool
        work()
    per_call = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            work()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        per_call.append(elapsed / calls)
    median = float(np.median(per_call))
    return {
        "seconds_per_call": median,
        "spread": round((max(per_call) - min(per_call)) / median, 3),
        "repeats": repeats,
    }


def _matmul(repeats: int, min_seconds: float, size: int = MATMUL_SIZE) -> dict:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    timing = timed(lambda: a @ b, repeats, min_seconds)
    flops = 2.0 * size**3
    return {
        "size": size,
        "gflops": round(flops / timing.pop("seconds_per_call") / 1e9, 1),
        **timing,
    }


def model_flops(model) -> int:
    """FLOPs of one forward pass of one image (a multiply-add counted as 2) through the
    model's Conv2D and Dense layers; pooling, activations and normalisation are left out
    (a few percent)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, height, width, out_channels = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            in_channels = layer.input.shape[-1]
            total += 2 * height * width * kernel_h * kernel_w * in_channels * out_channels
        elif kind == "Dense":
            total += 2 * layer.input.shape[-1] * layer.units
    return int(total)


def _keras_train_step(repeats: int, min_seconds: float) -> dict:
    from digits.runtime.backend import keras
    from digits.training.cnns import build_simple_cnn, compile_model

    keras.utils.set_random_seed(0)
    model = compile_model(build_simple_cnn())
    rng = np.random.default_rng(0)
    x = rng.random((TRAIN_BATCH, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, TRAIN_BATCH)]
    timing = timed(lambda: model.train_on_batch(x, y), repeats, min_seconds)
    seconds = timing.pop("seconds_per_call")
    flops = TRAIN_FORWARD_FACTOR * model_flops(model) * TRAIN_BATCH
    return {
        "model": "Simple CNN",
        "batch": TRAIN_BATCH,
        "images_per_second": round(TRAIN_BATCH / seconds, 1),
        "gflops": round(flops / seconds / 1e9, 2),
        **timing,
    }


def _litert(repeats: int, min_seconds: float, model_path: Path | None = None) -> dict:
    from digits.paths import LITERT_PATH, shown_path
    from digits.runtime.runners import LiteRTRunner

    path = Path(model_path or LITERT_PATH)
    runner = LiteRTRunner(path)
    image = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    timing = timed(lambda: runner.probabilities(image), repeats, min_seconds)
    seconds = timing.pop("seconds_per_call")
    return {
        "model": shown_path(path),
        "images_per_second": round(1.0 / seconds, 1),
        "ms_per_image": round(seconds * 1000, 4),
        **timing,
    }


def describe() -> dict:
    """The machine's facts: CPU model, cores, load average, platform, library versions."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable or os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": installed("tensorflow"),
        "ai_edge_litert": installed("ai-edge-litert"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def reference(quick: bool = False, model_path: Path | None = None) -> dict:
    """The machine reference (see the module docstring): ``quick`` times fewer, shorter
    rounds (about 5 s in all instead of about 20 s), for the notebook and the tests."""
    repeats, min_seconds = (3, 0.3) if quick else (7, 0.8)
    start = time.perf_counter()
    out = {
        "matmul": _matmul(repeats, min_seconds),
        "keras_train_step": _keras_train_step(repeats, min_seconds),
        "litert": _litert(repeats, min_seconds, model_path),
        **describe(),
    }
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["quick"] = quick
    return out


def summary(machine: dict) -> str:
    """One line for a report or the notebook: the reference's three figures."""
    return (
        f"machine reference: matmul {machine['matmul']['gflops']:.0f} GFLOP/s, Simple CNN "
        f"training {machine['keras_train_step']['images_per_second']:,.0f} images/s "
        f"({machine['keras_train_step']['gflops']:.1f} GFLOP/s), LiteRT "
        f"{machine['litert']['images_per_second']:,.0f} images/s; {machine['usable_cpus']} "
        f"cores ({machine['cpu']}), load {machine['load_average'][0]}"
    )


def note(report: dict) -> str:
    """ " Machine reference: ..." for the README's line under a report's table, when the
    report recorded one under ``machine``; "" for an older report."""
    machine = report.get("machine") or {}
    if "matmul" not in machine:
        return ""
    train = machine["keras_train_step"]
    return (
        " Machine reference (`digits.machine`; comparing machines: `docs/scale.md`): matmul "
        f"{machine['matmul']['gflops']:.0f} GFLOP/s,"
        f" Simple CNN training {train['images_per_second']:,.0f} images/s, LiteRT "
        f"{machine['litert']['images_per_second']:,.0f} images/s."
    )


#: The reference's figures: name -> (part, key) in `reference`'s dict.
FIGURES = {
    "matmul GFLOP/s": ("matmul", "gflops"),
    "Simple CNN training images/s": ("keras_train_step", "images_per_second"),
    "Simple CNN training GFLOP/s": ("keras_train_step", "gflops"),
    "LiteRT images/s": ("litert", "images_per_second"),
}


def agreement(runs: list[dict]) -> dict:
    """(max - min) / mean of each of the `FIGURES` over ``runs``."""
    out = {}
    for name, (part, key) in FIGURES.items():
        values = [run[part][key] for run in runs]
        out[name] = round((max(values) - min(values)) / (sum(values) / len(values)), 3)
    return out


def runs_table(report: dict) -> list[str]:
    """Markdown lines: the figures of ``report["runs"]`` side by side, how far they differ,
    and the command (the report of ``benchmarks/machine.py``)."""
    runs = report["runs"]
    lines = [
        "| figure | "
        + " | ".join(f"run {i + 1}" for i in range(len(runs)))
        + " | runs differ by |",
        "|---|" + "---:|" * (len(runs) + 1),
    ]
    for name, (part, key) in FIGURES.items():
        cells = " | ".join(f"{run[part][key]:,}" for run in runs)
        lines.append(f"| {name} | {cells} | {report['agreement'][name]:.1%} |")
    first = runs[0]
    return [
        *lines,
        "",
        f"Made by `{report['command']}` on {first['usable_cpus']} cores ({first['cpu']}), "
        f"load average {first['load_average'][0]} at the start.",
    ]
