"""Train a model on MNIST quickly on a CPU: tf.data input, augmentation, schedule, early stopping.

Images stay in memory as uint8 and are scaled, one-hot encoded and augmented batch by
batch inside a ``tf.data`` pipeline, so the training loop never waits on Python.
Augmentation uses Keras preprocessing layers (small rotations, shifts and zoom; never
flips, a flipped 2 is not a 2). It runs in the input pipeline, not in the model, so the
saved model is the plain CNN.

Also here: weight averaging over the last epochs (`WeightAveraging`, with
`recompute_batch_norm`), knowledge distillation from trained models
(`make_teacher_views`, then ``fit(teacher_views=...)``) and the weight average of several
models fine-tuned from one start (`average_models`, a "model soup").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from digits.backend import keras, tf
from digits.data import scale
from digits.models import NUM_CLASSES, compile_model

__all__ = [
    "TrainingResult",
    "make_augmenter",
    "make_dataset",
    "make_teacher_views",
    "fit",
    "best_index",
    "WeightAveraging",
    "recompute_batch_norm",
    "average_models",
]

MONITORS = ("val_accuracy", "val_loss")


@dataclass
class TrainingResult:
    """What `fit` returns: the per-epoch history and how long training took.

    ``best_epoch`` is the best epoch by the monitored metric (1-based) and ``best_val_*`` its
    scores; ``kept_epoch`` is the epoch whose weights the model holds after `fit` (the best
    one, or the last one with ``restore_best=False``) and ``val_*`` its scores.
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


def _as_model_input(images: tf.Tensor) -> tf.Tensor:
    """uint8 (B, 28, 28) -> float32 (B, 28, 28, 1) in [0, 1], inside a tf.data pipeline (`data.scale` in TensorFlow)."""
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
    """uint8 images (N, 28, 28) and integer labels -> batches of ((B, 28, 28, 1) in [0, 1], one-hot)."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def to_model_input(x, y):
        return _as_model_input(x), tf.one_hot(tf.cast(y, tf.int32), num_classes)

    dataset = dataset.map(to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        dataset = dataset.map(
            lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_teacher_views(
    teachers: list[keras.Model],
    images: np.ndarray,
    labels: np.ndarray,
    views: int = 10,
    teacher_weight: float = 0.5,
    batch_size: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Knowledge distillation targets: ``views`` augmented copies of each training image and,
    for each copy, what the ``teachers`` (an ensemble: their probabilities averaged) say it is.

    The target of a view is ``teacher_weight`` x the teachers' probabilities + the rest x the
    one-hot label. Teachers score the very view the student will see ("consistent teaching",
    Beyer et al., 2022), but only once: the views are made here, before training, because
    running several teachers on every batch would double each epoch's time on a CPU.

    Returns uint8 views (N, views, 28, 28) and float32 targets (N, views, 10), for
    ``fit(teacher_views=...)``.
    """
    if not teachers:
        raise ValueError("make_teacher_views needs at least one teacher model")
    if views < 1:
        raise ValueError(f"views must be at least 1, not {views}")
    if not 0.0 <= teacher_weight <= 1.0:
        raise ValueError(f"teacher_weight must be between 0 and 1, not {teacher_weight}")
    augmenter = make_augmenter(seed=seed)
    ensemble = tf.function(
        lambda x: tf.add_n([t(x, training=False) for t in teachers]) / len(teachers),
        reduce_retracing=True,
    )
    out_views = np.empty((len(images), views, *images.shape[1:]), np.uint8)
    targets = np.empty((len(images), views, NUM_CLASSES), np.float32)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    for view in range(views):
        for start in range(0, len(images), batch_size):
            x = tf.constant(scale(images[start : start + batch_size]))
            x = augmenter(x, training=True)
            x = tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0)  # stored as uint8, like the images
            out_views[start : start + batch_size, view] = x.numpy()[..., 0].astype(np.uint8)
            probabilities = ensemble(x / 255.0).numpy()
            targets[start : start + batch_size, view] = (
                teacher_weight * probabilities
                + (1 - teacher_weight) * one_hot[start : start + batch_size]
            )
    return out_views, targets


def _view_dataset(
    views: np.ndarray, targets: np.ndarray, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Batches of one randomly chosen view per image (a new choice every epoch) and its target."""
    count, n_views = views.shape[:2]
    views_t, targets_t = tf.constant(views), tf.constant(targets)
    dataset = (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )

    def pick(index):
        view = tf.random.uniform(tf.shape(index), 0, n_views, dtype=tf.int64, seed=seed)
        where = tf.stack([index, view], axis=1)
        return _as_model_input(tf.gather_nd(views_t, where)), tf.gather_nd(targets_t, where)

    return dataset.map(pick, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _check_monitor(monitor: str) -> None:
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be 'val_loss' or 'val_accuracy', not {monitor!r}")


def best_index(values: list[float], monitor: str) -> int:
    """Index of the best of ``values`` by ``monitor``: the highest accuracy or the lowest loss."""
    _check_monitor(monitor)
    return int(np.argmax(values) if monitor == "val_accuracy" else np.argmin(values))


class WeightAveraging(keras.callbacks.Callback):
    """Stochastic weight averaging (SWA): the running mean of the model's weights taken at
    the end of each of the last ``epochs`` epochs (Izmailov et al., 2018).

    `fit` puts the mean into the model when training ends; a mean of weights needs fresh
    batch-norm statistics, which `recompute_batch_norm` provides.
    """

    def __init__(self, total_epochs: int, epochs: int):
        super().__init__()
        self.first = total_epochs - epochs  # 0-based index of the first averaged epoch
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


def average_models(models: list[keras.Model], images: np.ndarray) -> keras.Model:
    """One model whose weights are the mean of ``models``' weights (a "model soup",
    Wortsman et al., 2022), with batch-norm statistics recomputed on ``images`` (uint8
    training images, (N, 28, 28)).

    Averaging only makes sense for models fine-tuned from the same trained weights (they
    stay in one basin of the loss); models trained from different random starts average
    into a useless one. The models must share one architecture. Returns a new, uncompiled
    model; the inputs are not changed.
    """
    if not models:
        raise ValueError("average_models needs at least one model")
    shapes = [[w.shape for w in model.get_weights()] for model in models]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError(
            "average_models needs models of one architecture (their weight shapes differ)"
        )
    soup = keras.models.clone_model(models[0])
    weights = [model.get_weights() for model in models]
    soup.set_weights(
        [
            np.mean([w[i].astype(np.float64) for w in weights], axis=0).astype(np.float32)
            for i in range(len(shapes[0]))
        ]
    )
    recompute_batch_norm(soup, images)
    return soup


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    augment: bool = True,
    patience: int | None = None,
    monitor: str = "val_accuracy",
    restore_best: bool = True,
    steps_per_execution: int = 8,
    seed: int = 0,
    verbose: int = 2,
    callbacks: list | None = None,
    average_last: int = 0,
    average_floor: float = 0.1,
    teacher_views: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainingResult:
    """Compile ``model`` (Adam, categorical cross-entropy) and train it.

    The learning rate warms up linearly for one epoch to ``learning_rate`` then follows a
    cosine decay to zero at the last epoch. The validation split is scored after every
    epoch and the weights of the best epoch by ``monitor`` are restored at the end (training
    stops early after ``patience`` epochs without improvement, if given). ``monitor`` is
    ``"val_accuracy"`` (default) or ``"val_loss"``. Both were tried in `make train-full`
    (README, "Experiments"): the validation loss favours mid-training epochs, before the
    model grows confident, and those scored lower on test. With ``restore_best=False`` the
    model keeps the weights of the last epoch, where the learning rate has decayed to zero.
    ``callbacks`` are extra Keras callbacks.

    With ``average_last=K`` (> 0) the cosine decay reaches ``average_floor * learning_rate``
    K epochs before the end and stays there; the weights at the end of each of the last K
    epochs are averaged (`WeightAveraging`), the model keeps that mean (not the best or last
    epoch), and its batch-norm statistics are recomputed on the training images. Its
    validation scores are then those of the averaged model. (If early stopping ends training
    before the averaging starts, the model keeps its last epoch.)

    With ``teacher_views`` (from `make_teacher_views`, made from ``train``'s images) the
    model is distilled: each epoch it sees one of the precomputed augmented views of every
    training image and fits that view's target instead of the one-hot label (no augmentation
    on the fly). ``train`` still gives the images the batch-norm statistics are recomputed on.

    ``steps_per_execution`` training steps run per call into TensorFlow (8 by default: faster
    than 1 for both models in `benchmarks/train_speed.py`, also with augmentation on).

    Args:
        train, validation: uint8 images (N, 28, 28) and integer labels. Never pass the
            test set here: it is only for the final evaluation.
    """
    _check_monitor(monitor)
    keras.utils.set_random_seed(seed)
    classes = int(model.output_shape[-1])  # 10 digits, or a user's own symbols
    steps_per_epoch = math.ceil(len(train[0]) / batch_size)
    if not 0 <= average_last < epochs:
        raise ValueError(
            f"average_last must be between 0 and epochs - 1 = {epochs - 1}, not {average_last}"
        )
    warmup = min(steps_per_epoch, max(1, epochs * steps_per_epoch // 5))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10,
        decay_steps=max(1, (epochs - average_last) * steps_per_epoch - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
        alpha=average_floor if average_last else 0.0,
    )
    compile_model(model, learning_rate=schedule, steps_per_execution=steps_per_execution)
    if teacher_views is not None:
        if len(teacher_views[0]) != len(train[0]):
            raise ValueError(
                f"teacher_views has {len(teacher_views[0])} images, train has {len(train[0])}: make them from the same images"
            )
        train_ds = _view_dataset(*teacher_views, batch_size=batch_size, seed=seed)
    else:
        augmenter = make_augmenter(seed=seed) if augment else None
        train_ds = make_dataset(
            *train,
            batch_size=batch_size,
            shuffle=True,
            augmenter=augmenter,
            seed=seed,
            num_classes=classes,
        )
    val_ds = make_dataset(*validation, batch_size=1024, num_classes=classes)
    restores = restore_best and not average_last  # averaged weights replace any epoch's
    best = keras.callbacks.EarlyStopping(
        monitor=monitor,
        patience=patience if patience is not None else epochs,
        restore_best_weights=restores,
        verbose=0,
    )
    averaging = [WeightAveraging(epochs, average_last)] if average_last else []
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[best, *averaging, *(callbacks or [])],
        shuffle=False,
        verbose=verbose,
    )
    val_acc = history.history["val_accuracy"]
    best_epoch = best_index(history.history[monitor], monitor)
    kept_epoch = best_epoch if restores else len(val_acc) - 1
    kept_scores = {
        "val_accuracy": float(val_acc[kept_epoch]),
        "val_loss": float(history.history["val_loss"][kept_epoch]),
    }
    if averaging and averaging[0].mean is not None:  # (None if early stopping ended training first)
        model.set_weights([w.astype(np.float32) for w in averaging[0].mean])
        recompute_batch_norm(model, train[0])
        kept_epoch = len(val_acc) - 1
        kept_scores = model.evaluate(val_ds, return_dict=True, verbose=0)
        kept_scores = {
            "val_accuracy": float(kept_scores["accuracy"]),
            "val_loss": float(kept_scores["loss"]),
        }
    seconds = time.perf_counter() - start
    return TrainingResult(
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        seconds=seconds,
        epochs_run=len(val_acc),
        best_epoch=best_epoch + 1,
        best_val_accuracy=float(val_acc[best_epoch]),
        best_val_loss=float(history.history["val_loss"][best_epoch]),
        kept_epoch=kept_epoch + 1,
        val_accuracy=kept_scores["val_accuracy"],
        val_loss=kept_scores["val_loss"],
        images_per_second=len(train[0]) * len(val_acc) / seconds,
        config=dict(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            augment=augment,
            patience=patience,
            monitor=monitor,
            restore_best=restore_best,
            average_last=average_last,
            average_floor=average_floor,
            steps_per_execution=steps_per_execution,
            seed=seed,
            distilled=teacher_views is not None,
        ),
    )
