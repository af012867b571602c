"""Training throughput (images/s) of the project's CNNs on this CPU, with a PyTorch peer.

Usage: .venv/bin/python benchmarks/train_speed.py [--images 12800] [--repeats 3]
       [--only choice|layers]

Times Keras `fit` on the same tf.data pipeline the notebook uses, for a few batch sizes
and `steps_per_execution` values: first without augmentation from a cached dataset (only
the model is measured), then as `digits.training.train.fit` really trains (shuffled, augmented
batches made on the same 2 cores). It also times the very same Simple CNN written in
PyTorch, trained on the same images with the same batch size, in the same run. The
PyTorch peer needs `torch` (`pip install torch==2.13.0`, not in requirements.txt: it is
only for this benchmark); without it the peer is skipped.

The last rows time the Deeper CNN as the notebook trains it (augmented, 8 steps per
execution) at batch 128, 256 and 512: the numbers behind the notebook's batch size
(``--only choice`` runs just those, several rounds in turn so that a load change on a shared
machine hits every batch size alike). Each row records the machine's load average, the
GFLOP/s it trained at (3x the model's forward FLOPs per image, `digits.machine.model_flops`)
and its ``utilisation``: that share of the machine reference's float32 matmul GFLOP/s,
measured before the first row (`digits.machine.reference`, stored under ``machine``).
Last, ``layer_times``: where a training step of each CNN spends its time, per layer type
(`benchmarks/layer_times.py`; ``--only layers`` runs just that, into
reports/layer_times.json). Prints a table and writes reports/train_speed.json. A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from layer_times import layer_times, print_table  # noqa: E402  (benchmarks/layer_times.py)

from digits.machine import TRAIN_FORWARD_FACTOR, model_flops, reference  # noqa: E402
from digits.runtime.backend import keras  # noqa: E402  (quiet TensorFlow import)
from digits.training import cnns, data, metrics, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def keras_images_per_second(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    steps_per_execution: int,
    repeats: int,
    augment: bool = False,
) -> float:
    keras.utils.set_random_seed(0)
    model = cnns.compile_model(cnns.build(name), steps_per_execution=steps_per_execution)
    if augment:  # the training pipeline of digits.training.train.fit
        dataset = train.make_dataset(
            x, y, batch_size=batch_size, shuffle=True, augmenter=train.make_augmenter(seed=0)
        )
    else:
        dataset = train.make_dataset(x, y, batch_size=batch_size).cache()
    model.fit(dataset, epochs=1, shuffle=False, verbose=0)  # warm-up: tracing, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, shuffle=False, verbose=0)
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def torch_images_per_second(
    x: np.ndarray, y: np.ndarray, batch_size: int, repeats: int
) -> float | None:
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    model = nn.Sequential(  # the Simple CNN, layer for layer (PyTorch is channels-first)
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.from_numpy(x).unsqueeze(
        1
    )  # uint8 (N, 1, 28, 28), scaled per batch like the Keras pipeline
    labels = torch.from_numpy(y.astype(np.int64))

    def epoch() -> None:
        order = torch.randperm(len(images))
        for i in range(0, len(images), batch_size):
            index = order[i : i + batch_size]
            batch = images[index].float() / 255.0
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), labels[index])
            loss.backward()
            optimizer.step()

    model.train()
    epoch()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12800, help="training images per timed epoch")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed epochs (the median is reported)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="default: reports/train_speed.json (with --only choice: train_speed_batch.json)",
    )
    parser.add_argument(
        "--only",
        choices=["all", "choice", "layers"],
        default="all",
        help="'choice': only the Deeper CNN rows behind the notebook's batch size; "
        "'layers': only the time per layer type",
    )
    args = parser.parse_args()
    name = "train_speed_batch.json" if args.only == "choice" else "train_speed.json"
    if args.only == "layers":
        args.out = args.out or ROOT / "reports" / "layer_times.json"
    args.out = args.out or ROOT / "reports" / name

    (x_train, y_train), _ = data.load_mnist()
    x, y = x_train[: args.images], y_train[: args.images]
    args.machine = reference(quick=True)
    if args.only == "layers":
        metrics.save_metrics(_report(args, [], None), args.out)
        return 0
    if args.only == "choice":
        rows = batch_size_choice(x, y, args.repeats)
        metrics.save_metrics(_report(args, rows, None), args.out)
        return 0
    rows = []
    for name, batch_size, spe, augment in [
        ("simple", 64, 1, False),
        ("simple", 128, 1, False),
        ("simple", 256, 1, False),
        ("simple", 128, 8, False),
        ("deeper", 64, 1, False),
        ("deeper", 128, 1, False),
        ("deeper", 256, 1, False),
        ("deeper", 128, 8, False),
        ("simple", 128, 1, True),
        ("simple", 128, 8, True),
        ("deeper", 128, 1, True),
        ("deeper", 128, 8, True),
    ]:
        ips = keras_images_per_second(name, x, y, batch_size, spe, args.repeats, augment=augment)
        rows.append(
            {
                "framework": "keras",
                "model": name,
                "batch_size": batch_size,
                "steps_per_execution": spe,
                "augment": augment,
                "images_per_second": round(ips),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
        print(_line(rows[-1]), flush=True)
    rows += batch_size_choice(x, y, args.repeats)
    peer = torch_images_per_second(x, y, 128, args.repeats)
    ratio = None
    if peer is not None:
        import torch

        rows.append(
            {
                "framework": f"pytorch {torch.__version__}",
                "model": "simple",
                "batch_size": 128,
                "steps_per_execution": None,
                "augment": False,
                "images_per_second": round(peer),
            }
        )
        ours = next(
            r["images_per_second"]
            for r in rows
            if r["model"] == "simple"
            and r["batch_size"] == 128
            and r["steps_per_execution"] == 1
            and not r["augment"]
        )
        ratio = ours / peer
        print(f"pytorch simple  batch  128                cached     {peer:8.0f} images/s")
        print(f"\nSimple CNN, batch 128: Keras / PyTorch = {ratio:.2f}x")
    else:
        print("\nPyTorch is not installed: peer skipped (pip install torch==2.13.0)")
    metrics.save_metrics(_report(args, rows, ratio), args.out)
    return 0


def _line(row: dict) -> str:
    kind = "augmented" if row["augment"] else "cached   "
    return (
        f"keras   {row['model']:7s} batch {row['batch_size']:4d}  "
        f"steps/exec {row['steps_per_execution']:2d}  {kind}  "
        f"{row['images_per_second']:8.0f} images/s  (load {row['load_average']:.1f})"
    )


def batch_size_choice(
    x: np.ndarray, y: np.ndarray, repeats: int, batch_sizes: tuple[int, ...] = (128, 256, 512)
) -> list[dict]:
    """The Deeper CNN trained as in the notebook (augmented, 8 steps per execution) at each
    batch size, ``repeats`` rounds taken in turn; each row is the median of its rounds."""
    speeds: dict[int, list[float]] = {b: [] for b in batch_sizes}
    loads: list[float] = []
    for _ in range(repeats):
        for batch_size in batch_sizes:
            speeds[batch_size].append(
                keras_images_per_second("deeper", x, y, batch_size, 8, 1, augment=True)
            )
            loads.append(os.getloadavg()[0])
    rows = []
    for batch_size in batch_sizes:
        rows.append(
            {
                "framework": "keras",
                "model": "deeper",
                "batch_size": batch_size,
                "steps_per_execution": 8,
                "augment": True,
                "images_per_second": round(statistics.median(speeds[batch_size])),
                "rounds": [round(v) for v in speeds[batch_size]],
                "load_average": round(statistics.median(loads), 1),
            }
        )
        print(_line(rows[-1]), flush=True)
    return rows


def _utilisation(rows: list[dict], matmul_gflops: float) -> list[dict]:
    """Each Keras row with the GFLOP/s it trained at and that share of the matmul's."""
    flops = {name: TRAIN_FORWARD_FACTOR * model_flops(cnns.build(name)) for name in cnns.NAMES}
    for row in rows:
        if row["framework"] == "keras":
            row["gflops"] = round(row["images_per_second"] * flops[row["model"]] / 1e9, 2)
            row["utilisation"] = round(row["gflops"] / matmul_gflops, 3)
    return rows


def _report(args: argparse.Namespace, rows: list[dict], ratio: float | None) -> dict:
    rows = _utilisation(rows, args.machine["matmul"]["gflops"])
    layers = [layer_times(name, 128, args.repeats) for name in cnns.NAMES]
    print_table(layers)
    return {
        "command": "python benchmarks/train_speed.py " + " ".join(sys.argv[1:]),
        "images": args.images,
        "repeats": args.repeats,
        "rows": rows,
        "simple_keras_over_pytorch": None if ratio is None else round(ratio, 3),
        "layer_times": layers,
        "environment": metrics.environment(),
        "machine": args.machine,
    }


if __name__ == "__main__":
    sys.exit(main())
