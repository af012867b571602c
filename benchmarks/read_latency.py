"""How long `digits read` takes on a photo of a 6-digit number (800x200 JPEG), warm.

The photo is made from six MNIST test digits (`digits.synth.numbers`, separated, photo
style) and saved as a JPEG. The models are loaded once; then the file is read
``--repeats`` times with `digits.read.read_number` (what ``python -m digits read`` runs for
each file: both readers, the sequence model and the segmenter), after ``--warmup`` untimed
reads. Also timed: the segmenter's steps (reading and ink, segmentation, normalising the
candidate pieces, the one batched model call; the sequence reader's share is the rest of
the total), and the CPU time of the process per read (less sensitive to other jobs than
wall time).

    python benchmarks/read_latency.py [--repeats 200] [--warmup 10]

Prints a table and writes ``reports/read_latency.json``. Timings on a shared machine are
noisy: the median is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from digits.paths import ROOT


def make_photo(path: Path, seed: int = 6) -> str:
    """An 800x200 JPEG photo of six MNIST test digits; returns the number written."""
    from digits.synth import samples
    from digits.synth.numbers import compose, render
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x_test), size=6, replace=False)
    alpha = compose([x_test[i] for i in chosen], rng, spacing="separated")
    scale = min(740 / alpha.shape[1], 160 / alpha.shape[0])
    alpha = cv2.resize(alpha, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((200, 800), np.float32)
    top, left = (200 - alpha.shape[0]) // 2, (800 - alpha.shape[1]) // 2
    canvas[top : top + alpha.shape[0], left : left + alpha.shape[1]] = alpha
    samples.save(path, render(canvas, rng, "photo"), quality=85)
    return "".join(str(int(y_test[i])) for i in chosen)


def _ms(samples_s: list[float]) -> dict:
    values = np.asarray(samples_s) * 1000
    return {
        "median_ms": round(float(np.median(values)), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "read_latency.json")
    args = parser.parse_args(argv)

    import digits.read as read
    from digits.machine import reference, summary
    from digits.predict import Predictor
    from digits.runtime.modelfile import atomic_write_json

    machine = reference(quick=True)  # before the timings: see digits/machine.py
    predictor = Predictor()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "number.jpg"
        written = make_photo(photo)
        found = read.read_number(photo, predictor)
        for _ in range(args.warmup):
            read.read_number(photo, predictor)
        total, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            read.read_number(photo, predictor)
            total.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        steps = _steps(photo, predictor, args.repeats)
    report = {
        "command": f"python benchmarks/read_latency.py --repeats {args.repeats}",
        "image": "800x200 JPEG photo, 6 MNIST test digits",
        "written": written,
        "read": found.text,
        "read_number": _ms(total),
        "read_number_cpu_time": _ms(cpu),
        "steps": steps,
        "cpu_count": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "machine": machine,
    }
    atomic_write_json(args.out, report)
    print(summary(machine))
    print(f"number {written}, read as {found.text}")
    print("| step | median ms | p90 ms |")
    print("|---|---:|---:|")
    rows = [
        ("read_number (total)", report["read_number"]),
        ("read_number, CPU time of the process", report["read_number_cpu_time"]),
        *steps.items(),
    ]
    for name, value in rows:
        print(f"| {name} | {value['median_ms']:.2f} | {value['p90_ms']:.2f} |")
    print(
        f"{os.cpu_count()} CPU cores, load average {report['load_average']} (a shared machine: "
        f"noisy); wrote {args.out}"
    )


def _steps(photo: Path, predictor, repeats: int) -> dict:
    """Time the reader's steps separately (same calls as `read_number`)."""
    import digits.read as read
    from digits.image import ink_image, ink_mask
    from digits.image import marks as ink_marks

    times: dict[str, list[float]] = {
        "decode + ink": [],
        "threshold + segment": [],
        "normalise pieces": [],
        "model call": [],
    }
    for _ in range(repeats):
        t0 = time.perf_counter()
        ink = ink_image(photo, max_side=read.READ_SIDE)
        t1 = time.perf_counter()
        found = ink_mask(ink.ink, sigma=max(0.5, min(ink.ink.shape) / 300))
        marks, labels, height = ink_marks.segment(found)
        options = [ink_marks.cut_options(labels, mark, height) for mark in marks]
        t2 = time.perf_counter()
        pieces = [piece for choices in options for _, _, piece in choices]
        inputs = np.stack([ink_marks.normalised(found, labels, piece) for piece in pieces])
        t3 = time.perf_counter()
        predictor.predict_inputs(inputs)
        t4 = time.perf_counter()
        for name, (a, b) in zip(times, [(t0, t1), (t1, t2), (t2, t3), (t3, t4)]):
            times[name].append(b - a)
    return {name: _ms(values) for name, values in times.items()}


if __name__ == "__main__":
    main()
