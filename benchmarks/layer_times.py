"""Where a training step's time goes: each layer of a CNN timed alone, forward and
backward at the notebook's batch size, summed per layer type, beside the whole step.

A user whose Deeper CNN trains at half the speed of someone else's, on the same kind of
machine, can run this on both and see which layer type differs (convolutions, batch
normalisation, pooling, the dense layers) rather than guess. Each layer gets a fresh copy
(`from_config`) built at the input shape it has in the model, a random batch, and one
`tf.function` that runs it in training mode and takes the gradients of its input and
weights (not of the images: the first layer skips that), as a training step does.
``step_ms`` is a whole `train_on_batch` of the compiled model (Adam, loss, metrics);
``other_ms`` what the layers alone do not account for: the optimizer's update, the loss
and Keras' own work per step (negative when the layers' own call overheads add up to
more).

    python benchmarks/layer_times.py [--model deeper] [--batch-size 128]

`benchmarks/train_speed.py` writes the same table for both CNNs into its report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from digits.machine import timed  # noqa: E402
from digits.runtime.backend import keras  # noqa: E402  (quiet TensorFlow import)
from digits.training import cnns  # noqa: E402


def _layer_step(layer, batch_size: int, input_gradient: bool = True):
    """A function that runs a fresh copy of ``layer`` forward and backward on a batch:
    the gradients of its weights, and of its input unless it is the model's first layer
    (training never needs the gradient of the images)."""
    import tensorflow as tf

    shape = (batch_size, *layer.input.shape[1:])
    clone = type(layer).from_config(layer.get_config())
    clone.build(shape)
    x = tf.random.uniform(shape, seed=0)

    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            if input_gradient:
                tape.watch(x)
            loss = tf.reduce_sum(clone(x, training=True))
        return tape.gradient(
            loss, [x, *clone.trainable_weights] if input_gradient else clone.trainable_weights
        )

    return step


def _whole_step(model, batch_size: int):
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *cnns.INPUT_SHAPE), dtype=np.float32)
    y = np.eye(cnns.NUM_CLASSES, dtype=np.float32)[rng.integers(0, 10, batch_size)]
    cnns.compile_model(model)
    return lambda: model.train_on_batch(x, y)


def layer_times(name: str, batch_size: int = 128, repeats: int = 5) -> dict:
    """Milliseconds per training step of each layer type of CNN ``name``, the whole step
    and the share of it that each type takes; medians of ``repeats`` rounds."""
    keras.utils.set_random_seed(0)
    model = cnns.build(name)
    per_type: dict[str, float] = {}
    for index, layer in enumerate(model.layers):
        step = _layer_step(layer, batch_size, input_gradient=index > 0)
        seconds = timed(step, repeats, 0.2)["seconds_per_call"]
        kind = type(layer).__name__
        per_type[kind] = per_type.get(kind, 0.0) + seconds * 1e3
    step_ms = timed(_whole_step(model, batch_size), repeats, 0.3)["seconds_per_call"] * 1e3
    layers_ms = sum(per_type.values())
    return {
        "model": name,
        "batch_size": batch_size,
        "step_ms": round(step_ms, 2),
        "layers_ms": {kind: round(ms, 2) for kind, ms in sorted(per_type.items())},
        "share_of_step": {kind: round(ms / step_ms, 3) for kind, ms in sorted(per_type.items())},
        "other_ms": round(step_ms - layers_ms, 2),
    }


def print_table(rows: list[dict]) -> None:
    for row in rows:
        print(f"\n{row['model']} CNN, batch {row['batch_size']}: step {row['step_ms']:.1f} ms")
        for kind, ms in row["layers_ms"].items():
            print(f"  {kind:20s} {ms:7.2f} ms  {row['share_of_step'][kind]:6.1%}")
        print(f"  {'other (optimizer...)':20s} {row['other_ms']:7.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=cnns.NAMES, action="append", help="default: both")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [layer_times(name, args.batch_size, args.repeats) for name in args.model or cnns.NAMES]
    print_table(rows)
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
