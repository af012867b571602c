"""Write the phone-photo benchmark `data/photos/<kind>/` from MNIST **test** digits.

Each image is an MNIST test digit written on a rendered sheet of paper and "photographed"
(`digits.samples.render_photo`): for every kind in `digits.samples.PHOTO_KINDS`

- angled: the whole sheet on a darker table at an angle, its edges in view;
- shadow: a hand/phone shadow across the sheet;
- small: a small digit (5-8% of the longer side) in a 1280x960 or 1600x1200 photo;
- ruled, squared: exercise paper with ruled lines or a grid;
- bluepen: a thin blue pen with a slight motion blur;
- lowjpeg: JPEG quality 8-20;

and, in every kind, uneven light, a slight tilt and perspective, focus blur, sensor noise
and black, blue, red ballpoint or pencil. Files are named ``<label>_<mnist index>.jpg``;
``data/photos/labels.csv`` lists path, kind, label and MNIST test index. The seed is
fixed, so running it again gives the same files.

    python scripts/make_photo_set.py [--out data/photos] [--per-kind 100] [--seed 15]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from pathlib import Path

import numpy as np

from digits import samples
from digits.runtime.modelfile import atomic_write_bytes, atomic_write_text
from digits.training.data import load_mnist


def make_set(out: Path, per_kind: int = 100, seed: int = 15) -> list[dict]:
    """Render the set into ``out`` (replacing it) and return the rows of labels.csv."""
    (_, _), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    rows = []
    for kind in samples.PHOTO_KINDS:
        indices = np.sort(rng.choice(len(x_test), size=per_kind, replace=False))
        for index in indices:
            options, quality = samples.photo_variant(kind, rng)
            image = samples.render_photo(x_test[index], rng, **options)
            label = int(y_test[index])
            relative = f"{kind}/{label}_{index:05d}.jpg"
            atomic_write_bytes(out / relative, samples.encode(image, ".jpg", quality))
            rows.append(
                {"path": relative, "kind": kind, "label": label, "mnist_test_index": int(index)}
            )
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["path", "kind", "label", "mnist_test_index"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "labels.csv", text.getvalue())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "photos"
    )
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rows = make_set(args.out, args.per_kind, args.seed)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    kinds = len(samples.PHOTO_KINDS)
    print(f"wrote {len(rows)} images in {kinds} kinds ({size / 2**20:.2f} MiB) to {args.out}")


if __name__ == "__main__":
    main()
