"""Train the dense non-digit detector (`digits.runtime.ood.NondigitDetector`, an ``.npz``),
and make the data `lab.train_oe_detector` trains the shipped detector on.

Positives (digits): MNIST training images 0-54,999 as `digits.image.to_model_input`
hands them to the model, plus ``--rendered`` of them drawn as users hand pictures in
(`digits.synth.outliers.as_user_picture`: on paper, photographed on a sheet, large
white-on-black or dark-on-white drawings, MNIST-format files), the same renderings as the
drawn negatives, so that the detector cannot learn the rendering instead of the shape; and
``--font-digits`` digits drawn in the same training fonts as the negative letters (and as many
ones drawn as one straight stroke, as on a screen), so that it cannot learn
"a font's or a brush's even strokes mean no digit" either.

Negatives: ``--per-kind`` pictures of each training kind of `digits.synth.outliers`
(`TRAIN_KINDS`: font letters and symbols, scribbles, shapes, textures, procedural images,
photographed sheets without a digit), preprocessed the same way. The held-out kinds
(`HELD_OUT_KINDS`: natural photos, faces and objects, script letters, printed text) are
never used here, neither for training nor for the threshold.

Threshold: the ``--quantile`` of the score on MNIST training images 55,000-59,999 (not
trained on) as they are, and ``--rendered`` / 2 of them rendered.

    python -m lab.train_nondigit_detector [--per-kind 800] [--rendered 4000] [--font-digits 2000]
        [--hidden 512,128] [--seed 12345] [--cache DIR] [--out build/nondigit_detector.npz]

Try it with ``python -m digits.eval nondigits --detector build/nondigit_detector.npz``.
"""

from __future__ import annotations

import argparse
import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digits.image import ImageError, NoDigitFound, to_model_input
from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_bytes
from digits.runtime.ood import NondigitDetector
from digits.synth import glyphs, outliers
from digits.synth.samples import encode
from digits.training.data import load_mnist

CHUNK = 250


def _inputs(pictures: list[bytes]) -> np.ndarray:
    """The 28x28 model inputs of encoded pictures, flattened; those without a digit are
    dropped (the pipeline already answers "no digit found" for them)."""
    return inputs_kept(pictures)[0]


def inputs_kept(pictures: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """`_inputs`, and the indices of the pictures it kept (so labels can follow them)."""
    out, kept = [], []
    for i, picture in enumerate(pictures):
        try:
            out.append(to_model_input(picture).image.reshape(784))
            kept.append(i)
        except (NoDigitFound, ImageError):
            continue
    return np.array(out, dtype=np.float32).reshape(-1, 784), np.array(kept, dtype=int)


def user_pictures(images: np.ndarray, seed: int) -> list[bytes]:
    """MNIST digits drawn as users hand pictures in (`outliers.as_user_picture`)."""
    rng = np.random.default_rng(seed)
    return [encode(*outliers.as_user_picture(image, rng)) for image in images]


def _negative_chunk(task: tuple[str, int, int]) -> np.ndarray:
    kind, count, seed = task
    return _inputs(outliers.pictures(kind, count, seed))


def _digit_chunk(task: tuple[np.ndarray, int]) -> np.ndarray:
    return _inputs(user_pictures(*task))


def _parallel(worker, tasks: list, desc: str, workers: int) -> np.ndarray:
    with ProcessPoolExecutor(workers) as pool:
        parts = list(tqdm(pool.map(worker, tasks), total=len(tasks), desc=desc))
    return np.concatenate(parts) if parts else np.zeros((0, 784), np.float32)


def negatives_of(kind: str, count: int, seed: int, workers: int = 2) -> np.ndarray:
    """Model inputs of ``count`` pictures of one training kind."""
    tasks = [
        (kind, min(CHUNK, count - start), seed + start // CHUNK) for start in range(0, count, CHUNK)
    ]
    return _parallel(_negative_chunk, tasks, kind, workers)


def _font_digit_chunk(task: tuple[int, int]) -> np.ndarray:
    count, seed = task
    rng = np.random.default_rng(seed)
    pictures = []
    for _ in range(count):
        canvas = glyphs.font_digit(rng, int(rng.integers(10)))
        drawing = glyphs.mnist_style(glyphs.jitter(canvas, rng, rng.uniform(0.0, 2.5)), rng)
        pictures.append(encode(*outliers.as_user_picture(drawing, rng)))
    return _inputs(pictures)


def _stroke_one_chunk(task: tuple[int, int]) -> np.ndarray:
    count, seed = task
    rng = np.random.default_rng(seed)
    drawings = [glyphs.mnist_style(glyphs.stroke_one(rng), rng) for _ in range(count)]
    return _inputs([encode(*outliers.as_user_picture(d, rng)) for d in drawings])


def stroke_ones(count: int, seed: int, workers: int = 2) -> np.ndarray:
    """Model inputs of ones drawn as one straight stroke (as on a screen), as handed in."""
    tasks = [(min(CHUNK, count - s), seed * 1000 + s // CHUNK) for s in range(0, count, CHUNK)]
    return _parallel(_stroke_one_chunk, tasks, "stroke ones", workers)


def font_digits(count: int, seed: int, workers: int = 2) -> np.ndarray:
    """Model inputs of digits drawn in the training fonts, as users hand pictures in."""
    tasks = [(min(CHUNK, count - s), seed * 1000 + s // CHUNK) for s in range(0, count, CHUNK)]
    return _parallel(_font_digit_chunk, tasks, "font digits", workers)


def rendered_digits(images: np.ndarray, seed: int, workers: int = 2) -> np.ndarray:
    """Model inputs of MNIST digits drawn as users hand them in (`as_user_picture`)."""
    tasks = [
        (images[s : s + CHUNK], seed * 1000 + s // CHUNK) for s in range(0, len(images), CHUNK)
    ]
    return _parallel(_digit_chunk, tasks, "rendering digits", workers)


def as_model_sees(images: np.ndarray) -> np.ndarray:
    """MNIST digits as `to_model_input` hands them to the model, flattened; an image it
    finds no digit in stays as it is."""
    out = images.reshape(-1, 784).astype(np.float32) / 255
    for i in tqdm(range(len(images)), desc="preprocessing MNIST", mininterval=5):
        try:
            out[i] = to_model_input(images[i]).image.reshape(784)
        except (NoDigitFound, ImageError):
            pass
    return out


def _cached(cache: Path | None, name: str, make) -> np.ndarray:
    """``make()``, kept in ``cache/name.npy`` when a cache folder is given."""
    path = cache / f"{name}.npy" if cache else None
    if path and path.is_file():
        return np.load(path)
    array = make()
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array)
    return array


def training_data(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Digits to train on, held-out digits for the threshold, and negatives by kind; each
    part read from ``args.cache`` when it holds it, else made (and kept there)."""
    (x_train, _), _ = load_mnist()
    rng = np.random.default_rng(args.seed)
    picked = x_train[rng.choice(55000, args.rendered, replace=False)]
    held = x_train[55000 : 55000 + args.rendered // 2]
    cache, tag = args.cache, f"{args.rendered}_{args.seed}"
    seen = _cached(cache, "mnist_seen", lambda: as_model_sees(x_train))
    fonts = _cached(
        cache,
        f"font_digits_{args.font_digits}_{args.seed}",
        lambda: font_digits(args.font_digits, args.seed),
    )
    ones = _cached(
        cache,
        f"stroke_ones_{args.font_digits}_{args.seed}",
        lambda: stroke_ones(args.font_digits, args.seed),
    )
    data = {
        "digits": np.concatenate(
            [
                fonts,
                ones,
                seen[:55000],
                _cached(cache, f"rendered_{tag}", lambda: rendered_digits(picked, args.seed)),
            ]
        ),
        "held_digits": np.concatenate(
            [
                seen[55000:],
                _cached(cache, f"held_{tag}", lambda: rendered_digits(held, args.seed + 1)),
            ]
        ),
    }
    for k, kind in enumerate(outliers.TRAIN_KINDS):
        data[f"neg_{kind}"] = _cached(
            cache,
            f"neg_{kind}_{args.per_kind}_{args.seed}",
            lambda k=k, kind=kind: negatives_of(kind, args.per_kind, args.seed * 1000 + k * 100),
        )
    return data


def train(
    positives: np.ndarray, negatives_: np.ndarray, hidden: list[int], epochs: int, seed: int
) -> list[np.ndarray]:
    """A dense network (784 -> hidden... -> 1, sigmoid) by Keras; its weights, in order."""
    from digits.runtime.backend import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.layers.Dense(n, activation="relu") for n in hidden]
    model = keras.Sequential(
        [keras.Input((784,)), *layers, keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    x = np.concatenate([positives, negatives_])
    y = np.concatenate([np.zeros(len(positives)), np.ones(len(negatives_))])
    weight = {0: 1.0, 1: len(positives) / len(negatives_) / 2}
    model.fit(x, y, epochs=epochs, batch_size=256, class_weight=weight, verbose=2, shuffle=True)
    return [w.astype(np.float32) for w in model.get_weights()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=800, help="negatives per kind")
    parser.add_argument("--rendered", type=int, default=4000, help="rendered positives")
    parser.add_argument("--font-digits", type=int, default=2000, help="digits in fonts")
    parser.add_argument("--hidden", default="512,128", help="hidden layer sizes, e.g. 256,64")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--quantile", type=float, default=0.997)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep the data in")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "nondigit_detector.npz")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data = training_data(args)
    negative = np.concatenate([v for k, v in data.items() if k.startswith("neg_")])
    print(f"{len(data['digits'])} digits, {len(negative)} non-digits to train on")
    hidden = [int(n) for n in args.hidden.split(",") if n]
    weights = train(data["digits"], negative, hidden, args.epochs, args.seed)
    scores = NondigitDetector(tuple(weights), threshold=0.5).scores(data["held_digits"])
    threshold = float(np.quantile(scores, args.quantile))
    buffer = io.BytesIO()
    arrays = {f"{'wb'[i % 2]}{i // 2 + 1}": w for i, w in enumerate(weights)}
    np.savez_compressed(buffer, **arrays, threshold=np.float32(threshold))
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"threshold {threshold:.4f} (the {args.quantile:.1%} quantile on held-out digits)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
