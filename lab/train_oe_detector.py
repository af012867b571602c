"""Train the not-a-digit detector by outlier exposure: digits/runtime/nondigit_detector.tflite.

A copy of the digit CNN (``--base``, the notebook's ``models/deeper_cnn.h5``) is fine-tuned
to keep answering digits and to be *uncertain* on the broad outlier set: cross-entropy to
the labels on digits plus ``--weight`` times cross-entropy to the uniform distribution on
outliers (outlier exposure, Hendrycks, Mazeika and Dietterich, ICLR 2019). Its score is
1 - its largest softmax probability; a high score means "not a digit". The shipped digit
model is not changed: this second network only decides ``not_a_digit``.

Data, made by `lab.train_nondigit_detector` (the same functions, seeds and cache):

- digits: MNIST training images 0-54,999 as `digits.image.to_model_input` hands them to
  the model, ``--rendered`` of them drawn as users hand pictures in, ones drawn as one
  straight stroke, and digits drawn in the training fonts (labelled by the shipped model,
  kept where it is sure);
- outliers: the training kinds of `digits.synth.outliers` (`TRAIN_KINDS`), shifted by up to
  2 px at random each time they are seen. The held-out kinds (natural photos, faces and
  objects, script letters, printed text) are never used here, for training or threshold.

Thresholds: the ``--quantile`` of the score on MNIST training images 55,000-59,999 (not
trained on), as the pipeline shows them and rendered, says "not a digit"; the
``--doubt-quantile`` says "in doubt" (answered, flagged ``low_confidence``).
``--thresholds-only`` chooses them again for the detector already in ``--out``.

    python -m lab.train_oe_detector [--rendered 12000] [--per-kind 2000] [--epochs 3]
        [--weight 0.5] [--quantile 0.997] [--doubt-quantile 0.99] [--thresholds-only]
        [--cache DIR] [--out digits/runtime/nondigit_detector.tflite]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digits.runtime.modelfile import atomic_write_bytes, file_sha256, write_info
from digits.runtime.ood import DETECTOR_PATH
from digits.synth import outliers
from digits.training.data import load_mnist
from lab import train_nondigit_detector as made

ROOT = Path(__file__).resolve().parents[1]


def digits_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits to train on ``(x, labels)`` and held-out digits for the threshold."""
    (x_train, y_train), _ = load_mnist()
    picked = np.random.default_rng(args.seed).choice(55000, args.rendered, replace=False)
    cache = args.cache
    seen = made._cached(cache, "mnist_seen", lambda: made.as_model_sees(x_train))
    rendered, kept = _labelled_rendered(
        cache, f"{args.rendered}_{args.seed}", x_train[picked], args.seed
    )
    ones = made._cached(
        cache, f"stroke_ones_{args.font_digits}_{args.seed}",
        lambda: made.stroke_ones(args.font_digits, args.seed),
    )  # fmt: skip
    fonts = made._cached(
        cache, f"font_digits_{args.font_digits}_{args.seed}",
        lambda: made.font_digits(args.font_digits, args.seed),
    )  # fmt: skip
    font_x, font_y = _labelled_by_shipped_model(fonts)
    x = np.concatenate([seen[:55000], rendered, ones, font_x])
    y = np.concatenate([y_train[:55000], y_train[picked][kept], np.ones(len(ones), int), font_y])
    return x, y, held_digits(args, seen)


def held_digits(args: argparse.Namespace, seen: np.ndarray | None = None) -> np.ndarray:
    """MNIST training images 55,000-59,999 (never trained on) as the pipeline shows them,
    and ``--rendered`` / 2 of them drawn as users hand pictures in: the thresholds' digits."""
    (x_train, _), _ = load_mnist()
    if seen is None:
        seen = made._cached(args.cache, "mnist_seen", lambda: made.as_model_sees(x_train))
    held = x_train[55000 : 55000 + args.rendered // 2]
    tag = f"{args.rendered}_{args.seed}"
    drawn = made._cached(
        args.cache, f"held_{tag}", lambda: made.rendered_digits(held, args.seed + 1)
    )
    return np.concatenate([seen[55000:], drawn])


def _labelled_rendered(
    cache: Path | None, tag: str, images: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`made.rendered_digits` (the same pictures) and the indices of the images kept (the
    pipeline finds no digit in a few), so that their labels stay aligned."""
    path = cache / f"rendered_kept_{tag}.npz" if cache else None
    if path and path.is_file():
        with np.load(path) as data:
            return data["x"], data["kept"]
    chunks = [(images[s : s + made.CHUNK], seed * 1000 + s // made.CHUNK, s) for s in
              range(0, len(images), made.CHUNK)]  # fmt: skip
    with ProcessPoolExecutor(2) as pool:
        parts = list(tqdm(pool.map(_rendered_chunk, chunks), total=len(chunks), desc="digits"))
    x, kept = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x, kept=kept)
    return x, kept


def _rendered_chunk(task: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`made._digit_chunk`, with the (global) indices of the pictures kept."""
    images, seed, start = task
    x, kept = made.inputs_kept(made.user_pictures(images, seed))
    return x, start + kept


def _labelled_by_shipped_model(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Font digits with the shipped model's answer as label, where it is at least 0.9 sure
    (their generator does not keep which digit it drew)."""
    from digits.predict import Predictor

    probabilities = Predictor().predict_inputs(images.reshape(-1, 28, 28, 1))
    sure = probabilities.max(axis=1) >= 0.9
    return images[sure], probabilities[sure].argmax(axis=1)


def outlier_data(args: argparse.Namespace) -> np.ndarray:
    """Model inputs of the outlier set's training kinds (never its held-out kinds)."""
    parts = [
        made._cached(
            args.cache,
            f"neg_{kind}_{args.per_kind}_{args.seed}",
            lambda k=k, kind=kind: made.negatives_of(
                kind, args.per_kind, args.seed * 1000 + k * 100
            ),
        )
        for k, kind in enumerate(outliers.TRAIN_KINDS)
    ]
    return np.concatenate(parts)


def _shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by up to 2 px in each direction (the pipeline leaves a 4 px
    empty border, so rolling wraps only background round)."""
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(-2, 3, size=(len(images), 2))):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return out


def epoch_data(x, y, negatives, weight, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch: digits with one-hot targets, outliers (repeated to half as many as the
    digits, each shifted anew) with uniform targets, weighted so that the outliers' total
    weight is ``weight`` times the digits'."""
    repeat = max(1, round(len(x) / len(negatives) / 2))
    out_x = _shifted(np.tile(negatives.reshape(-1, 28, 28), (repeat, 1, 1)), rng)
    images = np.concatenate([x.reshape(-1, 28, 28), out_x])[..., None]
    targets = np.concatenate(
        [np.eye(10, dtype=np.float32)[y], np.full((len(out_x), 10), 0.1, np.float32)]
    )
    sample_weight = np.concatenate(
        [np.ones(len(x)), np.full(len(out_x), weight * len(x) / len(out_x))]
    ).astype(np.float32)
    order = rng.permutation(len(images))
    return images[order], targets[order], sample_weight[order]


def train(x, y, negatives, args: argparse.Namespace):
    """The fine-tuned Keras model (outlier exposure, see the module docstring)."""
    from digits.runtime.backend import keras

    keras.utils.set_random_seed(args.seed)
    model = keras.models.load_model(args.base, compile=False)
    model.compile(keras.optimizers.Adam(args.learning_rate), "categorical_crossentropy")
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        images, targets, weights = epoch_data(x, y, negatives, args.weight, rng)
        print(f"epoch {epoch + 1}/{args.epochs}: {len(images)} images", flush=True)
        model.fit(images, targets, sample_weight=weights, batch_size=128, epochs=1, verbose=2)
    return model


def scores(model, images: np.ndarray) -> np.ndarray:
    """1 - the largest softmax probability (Keras model)."""
    probabilities = model.predict(images.reshape(-1, 28, 28, 1), batch_size=1024, verbose=0)
    return 1.0 - probabilities.max(axis=1)


def export(model, thresholds: dict, args: argparse.Namespace) -> None:
    """Write the LiteRT file and its sidecar (thresholds, how it was made)."""
    from digits.training.export import _convert

    atomic_write_bytes(args.out, _convert(model, "none", None))
    write_info(
        args.out,
        class_names=[str(d) for d in range(10)],
        **thresholds,
        score="1 - max softmax",
        base=str(Path(args.base).resolve().relative_to(ROOT)),
        base_sha256=file_sha256(args.base),
        command="python -m lab.train_oe_detector " + " ".join(sys.argv[1:]),
        format="litert",
    )


def thresholds(held_scores: np.ndarray, args: argparse.Namespace) -> dict:
    """Not a digit above the ``--quantile`` of the held-out digits' scores; in doubt above
    the ``--doubt-quantile``."""
    return {
        "threshold": float(np.quantile(held_scores, args.quantile)),
        "doubt": float(np.quantile(held_scores, args.doubt_quantile)),
        "quantiles": [args.doubt_quantile, args.quantile],
    }


def rethreshold(args: argparse.Namespace) -> None:
    """Choose the thresholds of the detector already in ``--out`` again (same network)."""
    from digits.runtime.ood import NondigitDetector

    detector = NondigitDetector.load(args.out)
    chosen = thresholds(detector.scores(held_digits(args)), args)
    command = "python -m lab.train_oe_detector " + " ".join(sys.argv[1:])
    write_info(args.out, **chosen, thresholds_command=command)  # other fields are kept
    print(f"thresholds {chosen}; wrote the sidecar of {args.out}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=ROOT / "models" / "deeper_cnn.h5")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--weight", type=float, default=0.5, help="outlier loss weight")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--quantile", type=float, default=0.997)
    parser.add_argument("--doubt-quantile", type=float, default=0.99)
    parser.add_argument(
        "--thresholds-only", action="store_true", help="only choose the thresholds of --out again"
    )
    parser.add_argument("--per-kind", type=int, default=2000, help="outliers per kind")
    parser.add_argument("--rendered", type=int, default=12000, help="rendered digits")
    parser.add_argument("--font-digits", type=int, default=2000, help="digits in fonts")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep the data in")
    parser.add_argument("--out", type=Path, default=DETECTOR_PATH)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.thresholds_only:
        return rethreshold(args)
    x, y, held = digits_data(args)
    negatives = outlier_data(args)
    print(f"{len(x)} digits, {len(negatives)} outliers to train on; {len(held)} held out")
    model = train(x, y, negatives, args)
    chosen = thresholds(scores(model, held), args)
    caught = float(np.mean(scores(model, negatives) > chosen["threshold"]))
    export(model, chosen, args)
    print(f"thresholds {chosen} (quantiles of the held-out digits' scores);")
    print(f"training outliers caught: {caught:.1%}; wrote {args.out}")


if __name__ == "__main__":
    main()
