"""Shared fixtures: MNIST, rendered test digits, and a small model trained in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from digits.synth import samples


@pytest.fixture(scope="session")
def mnist():
    """``(x_train, y_train), (x_test, y_test)`` as uint8, loaded once per session."""
    from digits.training.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def rendered_digits(mnist):
    """50 MNIST test digits rendered as users hand them in: list of (uint8 image, label)."""
    (_, _), (x_test, y_test) = mnist
    rng = np.random.default_rng(123)
    out = []
    for index in rng.choice(len(x_test), size=50, replace=False):
        options, _, _ = samples.variant("clean", rng)
        out.append((samples.render(x_test[index], rng, **options), int(y_test[index])))
    return out


@pytest.fixture(scope="session")
def small_model_path(mnist, tmp_path_factory):
    """`build_simple_cnn()` trained for 1 epoch on 6,000 MNIST training images, saved as .h5."""
    import keras

    from digits.training.cnns import build_simple_cnn, compile_model
    from digits.training.data import prepare

    (x_train, y_train), _ = mnist
    keras.utils.set_random_seed(0)
    x, y = prepare(x_train[:6000], y_train[:6000])
    model = compile_model(build_simple_cnn())
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("model") / "small_model.h5"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def predictor(small_model_path):
    from digits.predict import Predictor

    return Predictor(small_model_path)
