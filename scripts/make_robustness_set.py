"""Write the robustness set `data/robustness/<kind>/` from MNIST **test** digits.

For every kind in `digits.samples.KINDS` (clean, small 64 px, large 400 px, offcentre,
thin, thick, rotated, low-quality jpeg, noise, rgba on a transparent canvas, photo with
uneven lighting) it renders N different test digits, named ``<label>_<mnist index>.<ext>``,
and writes ``data/robustness/labels.csv`` (path relative to the set, kind, label,
MNIST test index). The seed is fixed, so running it again gives the same files.

    python scripts/make_robustness_set.py [--out data/robustness] [--per-kind 100] [--seed 7]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from digits import samples
from digits.paths import ROBUSTNESS_DIR
from digits.training.data import load_mnist


def make_set(out: Path, per_kind: int = 100, seed: int = 7) -> list[dict]:
    """Render the set into ``out`` (replacing it) and return the rows of labels.csv."""
    (_, _), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    rows = []
    for kind in samples.KINDS:
        indices = np.sort(rng.choice(len(x_test), size=per_kind, replace=False))
        for index in indices:
            options, ext, quality = samples.variant(kind, rng)
            image = samples.render(x_test[index], rng, **options)
            label = int(y_test[index])
            relative = f"{kind}/{label}_{index:05d}{ext}"
            samples.save(out / relative, image, quality=quality)
            rows.append(
                {"path": relative, "kind": kind, "label": label, "mnist_test_index": int(index)}
            )
    samples.save_labels(out / "labels.csv", rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROBUSTNESS_DIR)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = make_set(args.out, args.per_kind, args.seed)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    kinds = len(samples.KINDS)
    print(f"wrote {len(rows)} images in {kinds} kinds ({size / 2**20:.2f} MiB) to {args.out}")


if __name__ == "__main__":
    main()
