"""Training settings for a user's folder of own symbols, which may be small (tens of images
per class): batch size and epochs from the folder's size, augmentation suited to few
images, the "better than chance" test a model must pass before it is saved, and its
confidence threshold.

Why: with the MNIST settings (64 images a batch, 10 epochs) a folder of 3 x 60 drawings
gets 3 optimizer steps an epoch, 30 in all; the batch-norm statistics are still those of
the first steps' weights and the model answers one class for everything (33.3% on
validation). Smaller batches and enough steps fix that; weights of the last epoch (the
learning rate decays to zero) with batch-norm statistics recomputed on the training
images make the validation score the score of the saved model.

    >>> plan_for(144)                   # 3 classes x 60 images, 20% held out
    Plan(batch_size=16, epochs=56, steps=504, chosen='batch size and epochs')
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_EPOCHS",
    "MIN_EPOCHS",
    "SIGNIFICANCE",
    "TARGET_STEPS",
    "ChanceTest",
    "Plan",
    "augmented_dataset",
    "passes_per_round",
    "chance_test",
    "plan_for",
    "symbol_threshold",
]

#: Optimizer steps a default run aims at (enough for the batch-norm statistics to settle).
TARGET_STEPS = 500
MIN_EPOCHS, MAX_EPOCHS = 10, 80
#: A model is saved only if its validation accuracy beats chance at this one-sided p-value.
SIGNIFICANCE = 0.01
#: The share of right validation answers the symbol model's threshold may flag.
FLAG_RIGHT = 0.05


@dataclass(frozen=True)
class Plan:
    """Batch size and epochs of a run; ``chosen`` says which of them were chosen here
    (the rest came from the user), empty when the user set both."""

    batch_size: int
    epochs: int
    steps: int
    chosen: str

    def describe(self, train_images: int) -> str:
        made = f"chosen for {train_images} training images" if self.chosen else "as given"
        return (
            f"settings: batch size {self.batch_size}, {self.epochs} epochs ({self.steps} "
            f"optimizer steps), {made}; --batch-size and --epochs override"
        )


def plan_for(train_images: int, epochs: int | None = None, batch_size: int | None = None) -> Plan:
    """Batch size about a tenth of the training images (a power of two from 8 to 64), and
    epochs for about `TARGET_STEPS` steps (from `MIN_EPOCHS` to `MAX_EPOCHS`); a value the
    user gives is kept."""
    chosen = []
    if batch_size is None:
        power = round(math.log2(max(train_images, 1) / 10)) if train_images > 10 else 3
        batch_size = int(min(64, max(8, 2**power)))
        chosen.append("batch size")
    steps_per_epoch = math.ceil(train_images / batch_size)
    if epochs is None:
        epochs = int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch))))
        chosen.append("epochs")
    return Plan(batch_size, epochs, steps_per_epoch * epochs, " and ".join(chosen))


def augmented_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, classes: int,
                      seed: int):  # fmt: skip
    """Shuffled training batches with small-set augmentation: rotation (±12°), shift (±10%),
    zoom (±12%) and stroke width (thinner or thicker pen, per image); never flips."""
    from digits.runtime.backend import tf
    from digits.training.train import make_augmenter, make_dataset

    augmenter = make_augmenter(rotation_degrees=12.0, shift=0.1, zoom=0.12, seed=seed)
    dataset = make_dataset(images, labels, batch_size, True, augmenter, seed, classes)

    def pen(x, y):
        thicker = tf.nn.max_pool2d(x, 3, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
        amount = tf.random.uniform((tf.shape(x)[0], 1, 1, 1), -1.0, 1.0, seed=seed)
        # > 0: towards the thicker pen; < 0: at most half-way towards the thinner one
        x = tf.where(amount > 0, x + amount * (thicker - x), x - 0.5 * amount * (thinner - x))
        return tf.clip_by_value(x, 0.0, 1.0), y

    return dataset.map(pen).prefetch(tf.data.AUTOTUNE)


def passes_per_round(plan: Plan, steps: int = 64) -> int:
    """How many passes over the training images one Keras epoch makes: the largest divisor
    of ``plan.epochs`` whose passes take at most ``steps`` optimizer steps (at least 1)."""
    per_pass = plan.steps // plan.epochs
    return max(k for k in range(1, plan.epochs + 1) if plan.epochs % k == 0 and (
        k == 1 or k * per_pass <= steps))  # fmt: skip


@dataclass(frozen=True)
class ChanceTest:
    """Is the validation accuracy better than chance? ``chance`` is the accuracy of always
    answering the commonest validation class; ``p_value`` the probability of at least
    ``right`` of ``total`` right answers at that rate (exact binomial tail)."""

    right: int
    total: int
    chance: float
    p_value: float

    @property
    def accuracy(self) -> float:
        return self.right / self.total

    @property
    def passed(self) -> bool:
        return self.accuracy > self.chance and self.p_value < SIGNIFICANCE


def chance_test(predicted: np.ndarray, labels: np.ndarray) -> ChanceTest:
    """`ChanceTest` of predicted against true validation labels."""
    labels = np.asarray(labels)
    total = int(labels.size)
    right = int(np.sum(np.asarray(predicted) == labels))
    chance = float(np.bincount(labels).max() / total)
    tail = sum(
        math.comb(total, k) * chance**k * (1 - chance) ** (total - k)
        for k in range(right, total + 1)
    )
    return ChanceTest(right, total, chance, float(min(1.0, tail)))


def symbol_threshold(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The ``low_confidence`` threshold of a symbol model, chosen on its validation split:
    the highest that flags at most `FLAG_RIGHT` of the right answers (at least 0.5)."""
    from digits.training.calibration import choose_threshold

    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    return max(0.5, choose_threshold(confidence, correct, FLAG_RIGHT))


def epoch_bar(epochs: int, show: bool):
    """A Keras callback drawing a tqdm bar over the epochs (on a terminal only)."""
    from tqdm import tqdm

    from digits.runtime.backend import keras

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr,
                            leave=False, disable=None if show else True)  # fmt: skip

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.3f}")
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()
