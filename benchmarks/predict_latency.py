"""Latency of file -> digit (read + preprocess + predict) with `digits.predict.Predictor`.

Measures, after a warm-up: the median and 95th percentile time of one image
(``--repeats`` predictions cycling over the `digit_examples/` files), split into
preprocessing and model time, and the throughput of ``predict_many`` on a batch of
``--batch`` image files. Prints a table and writes ``reports/predict_latency.json``
with the machine's details and the command.

    python benchmarks/predict_latency.py [--model FILE] [--repeats 200] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digits.predict import Predictor, find_images  # noqa: E402
from digits.preprocess import to_model_input  # noqa: E402


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ms(seconds: list[float]) -> dict:
    values = np.array(seconds) * 1000
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "mean_ms": round(float(values.mean()), 3),
    }


def _shown(path: Path) -> str:
    """A path relative to the repository root when it is inside it."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


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
    return {"files": len(files), "from": _shown(folder), "size": list(size), **_ms(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "hand_written_digits_prediction.h5")
    parser.add_argument("--examples", type=Path, default=ROOT / "digit_examples")
    parser.add_argument("--batch-images", type=Path, default=ROOT / "data" / "robustness")
    parser.add_argument("--photos", type=Path, default=ROOT / "data" / "photos")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "predict_latency.json")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

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

    report = {
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "model": _shown(args.model),
        "model_load_and_warmup_s": round(load_seconds, 3),
        "single_image": {
            "repeats": args.repeats,
            "files": _shown(args.examples),
            "file_to_digit": _ms(total),
            "read_and_preprocess": _ms(pre),
            "model_only": _ms(model),
        },
        "photo_640x480_jpeg": photo,
        "batch": {
            "images": args.batch,
            "files_from": _shown(args.batch_images if pool is not examples else args.examples),
            "seconds_median_of_3": round(batch_seconds, 3),
            "images_per_second": round(args.batch / batch_seconds, 1),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "cpu": _cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "opencv": __import__("cv2").__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    single = report["single_image"]
    print(
        f"Model: {args.model}   CPUs: {report['machine']['usable_cpus']} "
        f"({report['machine']['cpu']})\n"
    )
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
    print(
        f"| predict_many, {args.batch} files "
        f"| {report['batch']['images_per_second']:.0f} images/s | |"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
