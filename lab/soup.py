"""Model soups: one model whose weights are the mean of several models' weights."""

from __future__ import annotations

import numpy as np

from digits.runtime.backend import keras
from digits.training.train import recompute_batch_norm

__all__ = ["average_models"]


def average_models(models: list[keras.Model], images: np.ndarray) -> keras.Model:
    """A new, uncompiled model whose weights are the mean of ``models``' weights (a "model
    soup", Wortsman et al., 2022), with batch-norm statistics recomputed on ``images`` (uint8
    training images, (N, 28, 28)). The inputs are not changed.

    Averaging only makes sense for models fine-tuned from the same trained weights (they stay
    in one basin of the loss); models trained from different random starts average into a
    useless one. The models must share one architecture.
    """
    if not models:
        raise ValueError("average_models needs at least one model")
    shapes = [[w.shape for w in model.get_weights()] for model in models]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError("average_models needs models of one architecture (weight shapes differ)")
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
