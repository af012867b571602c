"""Latency of file -> digit (read + preprocess + predict) with `digits.predict.Predictor`.

Measures, after a warm-up: the median and 95th percentile time of one image
(``--repeats`` predictions cycling over the `digit_examples/` files), split into
preprocessing and model time, and the throughput of ``predict_many`` on a batch of
``--batch`` image files, with the default model (the LiteRT export) unless ``--model``.
Then, LiteRT against Keras:

- model only, one image: the LiteRT float32 and int8 models on one thread vs the Keras
  model's compiled call (TensorFlow's default threads), median of ``--model-repeats``;
- cold start: ``python -m digits predict digit_examples/3_a.png``, process start to answer,
  median of ``--cold-runs`` runs (after one uncounted run), vs the same with
  ``--model hand_written_digits_prediction.h5`` (Keras, imports TensorFlow).

Prints tables and writes ``reports/predict_latency.json`` with the machine's details and
the command.

    python benchmarks/predict_latency.py [--model FILE] [--repeats 200] [--batch 1000]
        [--model-repeats 2000] [--cold-runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from digits.image import to_model_input  # noqa: E402
from digits.machine import reference, summary  # noqa: E402
from digits.paths import (
    EXAMPLES_DIR,
    LITERT_PATH,
    MODEL_PATH,
    REPORTS_DIR,
    ROOT,
    shown_path,  # noqa: E402
)
from digits.predict import (  # noqa: E402
    Predictor,
    default_model_path,
    find_images,
)
from digits.runtime.modelfile import atomic_write_json  # noqa: E402
from digits.runtime.runners import open_runner  # noqa: E402
from digits.synth.sets import ensure  # noqa: E402

INT8_PATH = LITERT_PATH.with_name("digits_int8.tflite")
COLD_IMAGE = "digit_examples/3_a.png"


def _ms(seconds: list[float]) -> dict:
    values = np.array(seconds) * 1000
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "mean_ms": round(float(values.mean()), 3),
    }


def _images(folder: Path) -> list[Path]:
    """The image files under ``folder``, found as the CLI finds them."""
    return [Path(path) for path, error in find_images([folder]) if error is None]


def photo_latency(predictor: Predictor, folder: Path, size=(640, 480), repeats: int = 200) -> dict:
    """Warm file -> digit time of phone photos of ``size`` (JPEG) from the photo benchmark."""
    from PIL import Image

    files = []
    for path in _images(folder):
        with Image.open(path) as img:
            if img.size == size and img.format == "JPEG":
                files.append(path)
    if not files:
        return {}
    for path in files[:20]:  # warm-up
        predictor.predict(path)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(files[i % len(files)])
        times.append(time.perf_counter() - t0)
    return {"files": len(files), "from": shown_path(folder), "size": list(size), **_ms(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--examples", type=Path, default=EXAMPLES_DIR)
    parser.add_argument("--batch-images", type=Path, default=None, help="default: robustness set")
    parser.add_argument("--photos", type=Path, default=None, help="default: the photo set")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--model-repeats", type=int, default=2000)
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPORTS_DIR / "predict_latency.json")
    args = parser.parse_args()
    args.batch_images = args.batch_images or ensure("robustness")
    args.photos = args.photos or ensure("photos")

    from digits.runtime.backend import keras  # for the version; quietly

    machine = reference(quick=True)
    start = time.perf_counter()
    predictor = Predictor(args.model)
    load_seconds = time.perf_counter() - start
    examples = _images(args.examples)
    if not examples:
        raise SystemExit(f"No images in {args.examples}; run scripts/make_digit_examples.py first.")
    for path in examples:  # warm-up: file cache, TensorFlow's first calls
        predictor.predict(path)

    total, pre, model = [], [], []
    x = to_model_input(examples[0]).model_input
    for i in range(args.repeats):
        path = examples[i % len(examples)]
        t0 = time.perf_counter()
        digit = predictor.predict(path).digit
        t1 = time.perf_counter()
        to_model_input(path)
        t2 = time.perf_counter()
        predictor.predict_inputs(x)
        t3 = time.perf_counter()
        assert digit is None or 0 <= digit <= 9
        total.append(t1 - t0)
        pre.append(t2 - t1)
        model.append(t3 - t2)

    photo = photo_latency(predictor, args.photos, repeats=args.repeats)

    pool = _images(args.batch_images) or examples
    batch = [pool[i % len(pool)] for i in range(args.batch)]
    predictor.predict_many(batch[:64])
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        predictor.predict_many(batch)
        runs.append(time.perf_counter() - t0)
    batch_seconds = statistics.median(runs)

    model_only = litert_vs_keras_model_only(x, args.model_repeats)
    cold = cold_start(args.cold_runs)

    report = {
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "model": shown_path(args.model),
        "model_load_and_warmup_s": round(load_seconds, 3),
        "single_image": {
            "repeats": args.repeats,
            "files": shown_path(args.examples),
            "file_to_digit": _ms(total),
            "read_and_preprocess": _ms(pre),
            "model_only": _ms(model),
        },
        "photo_640x480_jpeg": photo,
        "batch": {
            "images": args.batch,
            "files_from": shown_path(args.batch_images if pool is not examples else args.examples),
            "seconds_median_of_3": round(batch_seconds, 3),
            "images_per_second": round(args.batch / batch_seconds, 1),
        },
        "model_only_one_image": model_only,
        "cold_start": cold,
        "machine": {
            **machine,  # the machine reference, measured before the timings
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "niceness": os.nice(0),
            "keras": keras.__version__,
            "opencv": __import__("cv2").__version__,
        },
    }
    atomic_write_json(args.out, report)

    single = report["single_image"]
    machine = report["machine"]
    print(f"Model: {args.model}   CPUs: {machine['usable_cpus']} ({machine['cpu']})")
    print(summary(machine) + "\n")
    print("| measure | median | p95 |")
    print("|---|---:|---:|")
    for name, key in [
        ("file -> digit, one image (warm)", "file_to_digit"),
        ("  read + preprocess", "read_and_preprocess"),
        ("  model call", "model_only"),
    ]:
        print(f"| {name} | {single[key]['median_ms']:.2f} ms | {single[key]['p95_ms']:.2f} ms |")
    if photo:
        print(
            f"| file -> digit, 640x480 JPEG photo (warm) | {photo['median_ms']:.2f} ms "
            f"| {photo['p95_ms']:.2f} ms |"
        )
    rate = report["batch"]["images_per_second"]
    print(f"| predict_many, {args.batch} files | {rate:.0f} images/s | |")
    print()
    print_litert_tables(model_only, cold)
    print(f"\nwrote {args.out}")


def _median_ms(call, x: np.ndarray, repeats: int) -> dict:
    for _ in range(50):
        call(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return _ms(times)


def litert_vs_keras_model_only(x: np.ndarray, repeats: int) -> dict:
    """One preprocessed image through each model: LiteRT on one thread, Keras compiled."""
    x = x.reshape(1, 28, 28, 1)
    out: dict = {"repeats": repeats}
    for name, path in [("litert_float32", LITERT_PATH), ("litert_int8", INT8_PATH)]:
        if path.is_file():
            runner = open_runner(path, num_threads=1)
            out[name] = {"model": shown_path(path), "threads": 1}
            out[name].update(_median_ms(runner.probabilities, x, repeats))
    keras = open_runner(MODEL_PATH)
    out["keras_compiled"] = {"model": shown_path(MODEL_PATH), "threads": "default"}
    out["keras_compiled"].update(_median_ms(keras.probabilities, x, max(repeats // 10, 50)))
    if "litert_float32" in out:
        ratio = out["keras_compiled"]["median_ms"] / out["litert_float32"]["median_ms"]
        out["keras_over_litert_float32"] = round(ratio, 1)
    return out


def _cold_runs(extra: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds from process start to answer of
    ``python -m digits predict COLD_IMAGE``; CPU time is less sensitive to other load."""
    command = [sys.executable, "-m", "digits", "predict", COLD_IMAGE, *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    wall, cpu = [], []
    for run in range(runs + 1):  # the first run fills the file cache: not counted
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        answer = done.stdout.splitlines()[1].split() if done.returncode == 0 else []
        if answer[:2] != [COLD_IMAGE, "3"]:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        if run:
            wall.append(elapsed)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def cold_start(runs: int) -> dict:
    """Cold start of the CLI with the default LiteRT model and with the Keras model."""
    out: dict = {"command": f"python -m digits predict {COLD_IMAGE}", "runs": runs}
    for name, extra in [("litert_default", []), ("keras", ["--model", MODEL_PATH.name])]:
        wall, cpu = _cold_runs(extra, runs)
        out[name] = {
            "extra_arguments": " ".join(extra),
            "median_s": round(statistics.median(wall), 3),
            "min_s": round(min(wall), 3),
            "max_s": round(max(wall), 3),
            "cpu_median_s": round(statistics.median(cpu), 3),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        }
    out["keras_over_litert"] = round(
        out["keras"]["median_s"] / out["litert_default"]["median_s"], 1
    )
    return out


def print_litert_tables(model_only: dict, cold: dict) -> None:
    print("| model only, one image | threads | median | p95 |")
    print("|---|---:|---:|---:|")
    for name in ("litert_float32", "litert_int8", "keras_compiled"):
        if name in model_only:
            row = model_only[name]
            print(
                f"| {name} ({row['model']}) | {row['threads']} | {row['median_ms']:.3f} ms "
                f"| {row['p95_ms']:.3f} ms |"
            )
    if "keras_over_litert_float32" in model_only:
        print(f"Keras / LiteRT float32: {model_only['keras_over_litert_float32']}x")
    print(f"\n| cold start: {cold['command']} | median | min | max | CPU time |")
    print("|---|---:|---:|---:|---:|")
    for name in ("litert_default", "keras"):
        row = cold[name]
        label = row["extra_arguments"] or "(default: LiteRT float32)"
        print(
            f"| {label} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s "
            f"| {row['cpu_median_s']:.2f} s |"
        )
    print(f"Keras / LiteRT: {cold['keras_over_litert']}x, median of {cold['runs']} runs")


if __name__ == "__main__":
    main()
