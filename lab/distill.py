"""Knowledge distillation: targets from trained "teacher" models, and batches that feed them.

`make_teacher_views` makes augmented copies ("views") of every training image once and scores
each with the teachers; `view_dataset` serves one view per image per epoch with its target,
for ``digits.training.train.fit(model, (images, view_dataset(...)), ...)``.
"""

from __future__ import annotations

import numpy as np

from digits.runtime.backend import keras, tf
from digits.training.cnns import NUM_CLASSES
from digits.training.data import scale
from digits.training.train import make_augmenter, to_model_input

__all__ = ["make_teacher_views", "view_dataset"]


def make_teacher_views(
    teachers: list[keras.Model],
    images: np.ndarray,
    labels: np.ndarray,
    views: int = 10,
    teacher_weight: float = 0.5,
    batch_size: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``views`` augmented copies of each image and, for each copy, its distillation target:
    ``teacher_weight`` x the teachers' mean probabilities + the rest x the one-hot label.

    Teachers score the very view the student will see ("consistent teaching", Beyer et al.,
    2022), once, before training: running them on every batch would double each epoch's time
    on a CPU. Returns uint8 views (N, views, 28, 28) and float32 targets (N, views, 10).
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
            batch = slice(start, start + batch_size)
            x = augmenter(tf.constant(scale(images[batch])), training=True)
            x = tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0)  # stored as uint8, like the images
            out_views[batch, view] = x.numpy()[..., 0].astype(np.uint8)
            probabilities = ensemble(x / 255.0).numpy()
            targets[batch, view] = (
                teacher_weight * probabilities + (1 - teacher_weight) * one_hot[batch]
            )
    return out_views, targets


def view_dataset(
    views: np.ndarray, targets: np.ndarray, batch_size: int = 128, seed: int = 0
) -> tf.data.Dataset:
    """Shuffled batches of one randomly chosen view per image (a new choice every epoch) and
    that view's target, as ``digits.training.train.fit`` expects them."""
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
        return to_model_input(tf.gather_nd(views_t, where)), tf.gather_nd(targets_t, where)

    return dataset.map(pick, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
