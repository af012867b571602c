"""The tf.data input pipeline and augmentation."""

import numpy as np

from digits import data, train


def test_dataset_batches_match_the_specs_preprocessing():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=10)
    x, y = next(iter(train.make_dataset(images, labels, batch_size=10)))
    expected_x, expected_y = data.prepare(images, labels)
    assert np.allclose(x.numpy(), expected_x) and np.array_equal(y.numpy(), expected_y)


def test_augmentation_moves_pixels_but_keeps_range_and_labels():
    (x_train, y_train), _ = data.load_mnist()
    ds = train.make_dataset(x_train[:64], y_train[:64], batch_size=64, augmenter=train.make_augmenter(seed=1))
    x, y = next(iter(ds))
    plain, _ = data.prepare(x_train[:64], y_train[:64])
    x = x.numpy()
    assert x.shape == plain.shape and x.min() >= 0.0 and x.max() <= 1.0 + 1e-6
    assert np.abs(x - plain).mean() > 0.01  # images did change
    assert np.array_equal(y.numpy().argmax(1), y_train[:64])
    # Small changes only: the ink stays roughly the same amount.
    assert np.allclose(x.sum(axis=(1, 2, 3)), plain.sum(axis=(1, 2, 3)), rtol=0.35)
