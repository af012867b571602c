"""Train a model on MNIST quickly on a CPU: tf.data input, augmentation, schedule, kept weights.

Images stay in memory as uint8 and are scaled, one-hot encoded and augmented batch by batch
inside a ``tf.data`` pipeline, so the training loop never waits on Python. Augmentation uses
Keras preprocessing layers (small rotations, shifts and zoom; never flips, a flipped 2 is not
a 2). It runs in the input pipeline, not in the model, so the saved model is the plain CNN.

`fit` keeps one of three sets of weights (``keep=``): those of the best epoch on the validation
split, those of the last epoch, or the average of the last few epochs (`WeightAveraging`,
stochastic weight averaging, with batch-norm statistics recomputed by `recompute_batch_norm`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from digits.runtime.backend import keras, tf
from digits.training.cnns import NUM_CLASSES, compile_model
from digits.training.data import scale

__all__ = [
    "KEEP",
    "TrainingResult",
    "WeightAveraging",
    "fit",
    "learning_rate_schedule",
    "make_augmenter",
    "make_dataset",
    "recompute_batch_norm",
    "to_model_input",
]

#: The weights `fit` can keep: the best epoch's by validation accuracy, the last epoch's, or the
#: mean of the last ``average_last`` epochs' weights.
KEEP = ("best", "last", "average")


@dataclass
class TrainingResult:
    """What `fit` returns: the per-epoch history, the scores of the weights kept, the time taken.

    ``best_epoch`` (1-based) is the epoch with the highest validation accuracy and ``best_val_*``
    its scores; ``kept_epoch`` is the epoch whose weights the model holds after `fit` (the last
    one for ``keep="last"`` and ``"average"``) and ``val_*`` the scores of the weights it holds.
    """

    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    best_epoch: int
    best_val_accuracy: float
    best_val_loss: float
    kept_epoch: int
    val_accuracy: float
    val_loss: float
    images_per_second: float
    config: dict = field(default_factory=dict)


def make_augmenter(
    rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, seed: int | None = None
) -> keras.Sequential:
    """Random rotation, translation and zoom, filling with black (the MNIST background)."""
    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation_degrees / 360.0, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed),
            keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed),
        ],
        name="augmentation",
    )


def to_model_input(images: tf.Tensor) -> tf.Tensor:
    """uint8 (B, 28, 28) -> float32 (B, 28, 28, 1) in [0, 1]: `digits.training.data.scale`
    in TensorFlow."""
    return tf.cast(tf.expand_dims(images, -1), tf.float32) / 255.0


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = False,
    augmenter: keras.Sequential | None = None,
    seed: int = 0,
    num_classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """uint8 images (N, 28, 28) and integer labels -> batches of ((B, 28, 28, 1), one-hot)."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def to_batch(x, y):
        return to_model_input(x), tf.one_hot(tf.cast(y, tf.int32), num_classes)

    dataset = dataset.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        dataset = dataset.map(
            lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def learning_rate_schedule(
    learning_rate: float,
    epochs: int,
    steps_per_epoch: int,
    average_last: int = 0,
    floor: float = 0.1,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up (at most one epoch) to ``learning_rate``, then a cosine decay to zero at
    the last epoch; or, with ``average_last=K``, to ``floor * learning_rate`` K epochs before
    the end, where it stays while the weights are averaged."""
    warmup = min(steps_per_epoch, max(1, epochs * steps_per_epoch // 5))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10,
        decay_steps=max(1, (epochs - average_last) * steps_per_epoch - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
        alpha=floor if average_last else 0.0,
    )


class WeightAveraging(keras.callbacks.Callback):
    """Stochastic weight averaging: the running mean of the model's weights at the end of each
    of the last ``epochs`` of ``total_epochs`` epochs, put into the model when training ends.

    A mean of weights needs fresh batch-norm statistics: with ``images`` (uint8, (N, 28, 28))
    they are recomputed on them (`recompute_batch_norm`).
    """

    def __init__(self, total_epochs: int, epochs: int, images: np.ndarray | None = None):
        super().__init__()
        self.first = total_epochs - epochs  # 0-based index of the first averaged epoch
        self.images = images
        self.count = 0
        self.mean: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first:
            return
        weights = [w.astype(np.float64) for w in self.model.get_weights()]
        self.count += 1
        if self.mean is None:
            self.mean = weights
        else:
            self.mean = [m + (w - m) / self.count for m, w in zip(self.mean, weights)]

    def on_train_end(self, logs=None):
        if self.mean is None:
            return
        self.model.set_weights([w.astype(np.float32) for w in self.mean])
        if self.images is not None:
            recompute_batch_norm(self.model, self.images)


def recompute_batch_norm(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> None:
    """Set every BatchNormalization layer's moving mean and variance to the exact statistics
    of its inputs over ``images`` (uint8, (N, 28, 28)), layer by layer in inference mode.

    Needed after weight averaging: the moving statistics collected during training belong
    to the weights of the last steps, not to their mean. Works on Sequential models.
    """
    x_all = scale(images)
    for index, layer in enumerate(model.layers):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        count, total, squares = 0, 0.0, 0.0
        for start in range(0, len(x_all), batch_size):
            x = tf.constant(x_all[start : start + batch_size])
            for previous in model.layers[:index]:
                x = previous(x, training=False)
            x = x.numpy().astype(np.float64).reshape(-1, x.shape[-1])
            count += len(x)
            total = total + x.sum(axis=0)
            squares = squares + (x * x).sum(axis=0)
        mean = total / count
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(np.maximum(squares / count - mean**2, 0.0).astype("float32"))


def _keeper(keep: str, epochs: int, average_last: int, images: np.ndarray) -> list:
    """The callback that leaves the kept weights in the model when training ends."""
    if keep == "best":
        best = keras.callbacks.EarlyStopping(
            "val_accuracy", patience=epochs, restore_best_weights=True
        )
        return [best]
    return [WeightAveraging(epochs, average_last, images)] if keep == "average" else []


def _train_dataset(images, labels, batch_size: int, augment: bool, seed: int, classes: int):
    """The training batches: ``labels`` itself when it is a ready ``tf.data.Dataset``."""
    if isinstance(labels, tf.data.Dataset):
        return labels
    augmenter = make_augmenter(seed=seed) if augment else None
    return make_dataset(images, labels, batch_size, True, augmenter, seed, classes)


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray | tf.data.Dataset],
    validation: tuple[np.ndarray, np.ndarray],
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    augment: bool = True,
    keep: str = "best",
    average_last: int = 5,
    seed: int = 0,
    steps_per_execution: int = 8,
    verbose: int = 2,
    callbacks: list | None = None,
    average_floor: float = 0.1,
) -> TrainingResult:
    """Compile ``model`` (Adam, cross-entropy, `learning_rate_schedule`) and train it.

    ``keep``: ``"best"`` restores the epoch with the highest validation accuracy, ``"last"``
    keeps the last epoch, ``"average"`` the mean of the last ``average_last`` epochs' weights
    (learning rate held at ``average_floor`` x the peak; batch norm recomputed on the images).
    ``train`` is uint8 images (N, 28, 28) and integer labels, or the images and a ready
    ``tf.data.Dataset`` of ``batch_size`` batches made from them; ``validation`` is images and
    labels scored after every epoch (never the test set). ``callbacks``: extra Keras callbacks.
    """
    if keep not in KEEP or (keep == "average" and not 0 < average_last < epochs):
        raise ValueError(f"keep must be one of {KEEP} (average: 0 < average_last < epochs)")
    keras.utils.set_random_seed(seed)
    images, labels = train
    classes = int(model.output_shape[-1])  # 10 digits, or a user's own symbols
    train_ds = _train_dataset(images, labels, batch_size, augment, seed, classes)
    averaged = average_last if keep == "average" else 0
    steps = math.ceil(len(images) / batch_size)
    schedule = learning_rate_schedule(learning_rate, epochs, steps, averaged, average_floor)
    compile_model(model, learning_rate=schedule, steps_per_execution=steps_per_execution)
    val_ds = make_dataset(*validation, batch_size=1024, num_classes=classes)
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[*_keeper(keep, epochs, averaged, images), *(callbacks or [])],
        shuffle=False,
        verbose=verbose,
    ).history
    scores = model.evaluate(val_ds, return_dict=True, verbose=0) if keep == "average" else None
    config = dict(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        augment=augment,
        keep=keep,
        average_last=averaged,
        average_floor=average_floor if averaged else None,
        steps_per_execution=steps_per_execution,
        seed=seed,
    )
    return _result(history, keep, scores, time.perf_counter() - start, len(images), config)


def _result(
    history: dict, keep: str, scores: dict | None, seconds: float, count: int, config: dict
) -> TrainingResult:
    """`fit`'s summary: the kept epoch's scores (or ``scores`` of averaged weights)."""
    val_acc, val_loss = history["val_accuracy"], history["val_loss"]
    best = int(np.argmax(val_acc))
    kept = best if keep == "best" else len(val_acc) - 1
    scores = scores or {"accuracy": val_acc[kept], "loss": val_loss[kept]}
    return TrainingResult(
        history={k: [float(v) for v in vs] for k, vs in history.items()},
        seconds=seconds,
        epochs_run=len(val_acc),
        best_epoch=best + 1,
        best_val_accuracy=float(val_acc[best]),
        best_val_loss=float(val_loss[best]),
        kept_epoch=kept + 1,
        val_accuracy=float(scores["accuracy"]),
        val_loss=float(scores["loss"]),
        images_per_second=count * len(val_acc) / seconds,
        config=config,
    )
