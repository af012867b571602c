"""Write `digit_examples/`: two pictures per digit 0-9 as a user would hand them in.

Each is an MNIST **test** digit rendered by `digits.synth.samples` as dark ink on light paper,
larger than 28x28: ``<digit>_a.png`` (clean, gray or colour PNG) and ``<digit>_b.jpg``
(unevenly lit photo-like JPEG). The true digit is the first character of the file name.
The seed is fixed, so running this again gives the same files.

    python scripts/make_digit_examples.py [--out digit_examples] [--seed 2024]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digits.paths import EXAMPLES_DIR
from digits.synth import samples
from digits.training.data import load_mnist


def make_examples(out: Path, seed: int = 2024) -> list[Path]:
    """Write the example images into ``out`` and return their paths."""
    (_, _), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for digit in range(10):
        index_a, index_b = rng.choice(np.flatnonzero(y_test == digit), size=2, replace=False)
        options, _, _ = samples.variant("clean", rng)
        written.append(
            samples.save(out / f"{digit}_a.png", samples.render(x_test[index_a], rng, **options))
        )
        options, _, quality = samples.variant("photo", rng)
        image = samples.render(x_test[index_b], rng, **options)
        written.append(samples.save(out / f"{digit}_b.jpg", image, quality=quality))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXAMPLES_DIR)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    written = make_examples(args.out, args.seed)
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} images ({size / 1024:.0f} KiB) to {args.out}")


if __name__ == "__main__":
    main()
