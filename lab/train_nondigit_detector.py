"""Train the non-digit detector `digits/ood.py` uses and write digits/nondigit_detector.npz.

Positives: MNIST training images 0-54,999 through `digits.preprocess.to_model_input`, as they
are and also rendered like users' pictures (``--rendered`` of them, the same renderings as
the negatives, so that the detector cannot learn the rendering instead of the shape).
Negatives: generated shapes, letters and symbols (`make_nondigit_set.item_image`, rendered
like users' pictures and preprocessed the same way), from another seed than the evaluation
set `data/nondigits` (same item kinds, different drawings and renderings). Threshold: the
99.5th percentile of the score on MNIST training images 55,000-59,999 (not trained on), as
they are and rendered.

    python scripts/train_nondigit_detector.py [--per-item 50] [--seed 12345] [--out FILE]
        [--hold-out triangle,square,...]   # items left out, to measure generalisation
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digits import samples
from digits.data import load_mnist
from digits.modelfile import atomic_write_bytes
from digits.ood import DETECTOR_PATH
from digits.preprocess import ImageError, NoDigitFound, to_model_input
from digits.synth import nondigits

QUANTILE = 0.995


def negatives(
    per_item: int, seed: int, hold_out: frozenset = frozenset(), random: int = 0
) -> np.ndarray:
    """Drawings of the named items (not those in ``hold_out``) and ``random`` generic
    drawings (`make_nondigit_set.random_drawing`), rendered and preprocessed."""
    rng = np.random.default_rng(seed)
    kinds = [k for k in samples.KINDS if k != "offcentre"]
    items = [i for i in nondigits.SHAPES + nondigits.LETTERS + nondigits.SYMBOLS]
    jobs = [i for i in items if i not in hold_out for _ in range(per_item)] + [None] * random
    out = []
    for item in jobs:
        options, ext, quality = samples.variant(kinds[int(rng.integers(len(kinds)))], rng)
        if item is None:
            drawing = nondigits.random_drawing(rng, hold_out)
        else:
            drawing = nondigits.item_image(item, rng)
        image = samples.render(drawing, rng, **options)
        try:
            out.append(to_model_input(samples.encode(image, ext, quality)).image)
        except (NoDigitFound, ImageError):
            continue
    return np.array(out).reshape(-1, 784)


def rendered(images: np.ndarray, seed: int) -> np.ndarray:
    """MNIST digits rendered like users' pictures (a random robustness kind each) and
    preprocessed, flattened; the few the pipeline finds no digit in are dropped."""
    rng = np.random.default_rng(seed)
    kinds = [k for k in samples.KINDS if k != "offcentre"]
    out = []
    for image in tqdm(images, desc="rendering MNIST", mininterval=5):
        options, ext, quality = samples.variant(kinds[int(rng.integers(len(kinds)))], rng)
        picture = samples.encode(samples.render(image, rng, **options), ext, quality)
        try:
            out.append(to_model_input(picture).image.reshape(784))
        except (NoDigitFound, ImageError):
            continue
    return np.array(out, dtype=np.float32).reshape(-1, 784)


def as_model_sees(images: np.ndarray) -> np.ndarray:
    """MNIST digits as `to_model_input` hands them to the model (its stroke and size
    normalisation included), flattened; an image it finds no digit in stays as it is."""
    out = images.reshape(-1, 784).astype(np.float32) / 255
    for i in tqdm(range(len(images)), desc="preprocessing MNIST", mininterval=5):
        try:
            out[i] = to_model_input(images[i]).image.reshape(784)
        except (NoDigitFound, ImageError):
            pass
    return out


def train(positives: np.ndarray, negatives_: np.ndarray, seed: int = 0):
    from digits.backend import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    x = np.concatenate([positives, negatives_])
    y = np.concatenate([np.zeros(len(positives)), np.ones(len(negatives_))])
    weight = {0: 1.0, 1: len(positives) / len(negatives_) / 4}
    model.fit(x, y, epochs=6, batch_size=256, class_weight=weight, verbose=2, shuffle=True)
    return [w.astype(np.float32) for w in model.get_weights()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-item", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", type=Path, default=DETECTOR_PATH)
    parser.add_argument("--rendered", type=int, default=10000, help="rendered positives")
    parser.add_argument("--random", type=int, default=0, help="generic random drawings too")
    parser.add_argument(
        "--hold-out",
        default="",
        metavar="ITEMS",
        help="comma-separated items to leave out of training (to measure generalisation)",
    )
    args = parser.parse_args()
    (x_train, _), _ = load_mnist()
    digits_ = as_model_sees(x_train)
    hold_out = frozenset(filter(None, args.hold_out.split(",")))
    negative = negatives(args.per_item, args.seed, hold_out, args.random)
    print(f"{len(negative)} generated non-digits")
    rng = np.random.default_rng(args.seed)
    pictures = rendered(x_train[rng.choice(55000, args.rendered, replace=False)], args.seed)
    w1, b1, w2, b2 = train(np.concatenate([digits_[:55000], pictures]), negative)
    from digits.ood import NondigitDetector

    held_pictures = rendered(x_train[55000:], args.seed + 1)
    held_out = NondigitDetector(w1, b1, w2, b2, threshold=0.5).scores(
        np.concatenate([digits_[55000:], held_pictures])
    )
    threshold = float(np.quantile(held_out, QUANTILE))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, w1=w1, b1=b1, w2=w2, b2=b2, threshold=np.float32(threshold))
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"threshold {threshold:.4f} (the {QUANTILE:.1%} quantile on held-out digits)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
