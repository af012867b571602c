"""Benchmark: one CLI batch of 500 good and hostile files (tests/hostile.py), run
in a child process; prints a table of lines out, failed inputs, peak memory (max RSS of
the child) and the slowest file, plus the time of single large images.

    python benchmarks/hostile_batch.py [--model FILE]

Numbers depend on the machine and its load: run it on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digits.image import ImageError, NoDigitFound, to_model_input
from digits.paths import LITERT_PATH, ROOT
from digits.synth import hostile, samples
from digits.training.data import load_mnist


def digit_images() -> dict[int, np.ndarray]:
    (_, _), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(7)
    out = {}
    for digit in range(10):
        options, _, _ = samples.variant("clean", rng)
        out[digit] = samples.render(x_test[int(np.flatnonzero(y_test == digit)[0])], rng, **options)
    return out


def single_image_seconds(side: int) -> float:
    image = np.full((side, side), 255, np.uint8)
    image[side // 3 : 2 * side // 3, side // 2 - side // 40 : side // 2 + side // 40] = 0
    data = hostile.encode(image, "PNG")
    start = time.perf_counter()
    try:
        to_model_input(data)
    except (ImageError, NoDigitFound):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LITERT_PATH)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        expected = hostile.batch_files(Path(folder), digit_images())
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", hostile.BATCH_CHILD, "predict", "--json"]
            + ["--model", str(args.model), folder],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - start
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    records = [json.loads(line) for line in done.stdout.splitlines()]
    good = [r for r in records if Path(r["path"]).name.startswith("good")]
    right = sum(r["digit"] == expected[Path(r["path"]).name] for r in good)
    rows = [
        ("files in", len(expected)),
        ("lines out", len(records)),
        ("inputs with an error", sum("error" in r for r in records)),
        ("good files right", f"{right}/{len(good)}"),
        ("peak memory (child max RSS)", f"{summary['peak_bytes'] / 2**20:.0f} MiB"),
        ("slowest file", f"{summary['slowest'][0]:.2f} s ({Path(summary['slowest'][1]).name})"),
        ("whole batch, wall", f"{wall:.1f} s"),
        ("one 16 MP PNG (4000x4000)", f"{single_image_seconds(4000):.2f} s"),
        ("one 49 MP PNG (7000x7000)", f"{single_image_seconds(7000):.2f} s"),
    ]
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
