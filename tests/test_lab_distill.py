"""The lab's distillation targets and batches, and model soups."""

import numpy as np
import pytest

from digits.runtime.backend import keras
from digits.training import cnns, data, train
from lab import distill
from lab.soup import average_models


def _mnist_sample(count=600):
    (x_train, y_train), _ = data.load_mnist()
    return x_train[:count], y_train[:count]


def test_teacher_views_are_augmented_copies_scored_by_the_teachers_mean():
    images, labels = _mnist_sample(50)
    keras.utils.set_random_seed(0)
    teachers = [cnns.build_simple_cnn(), cnns.build_simple_cnn()]  # untrained: far from one-hot
    views, targets = distill.make_teacher_views(
        teachers, images, labels, views=3, teacher_weight=1.0, batch_size=20
    )
    assert views.shape == (50, 3, 28, 28) and views.dtype == np.uint8
    assert targets.shape == (50, 3, 10) and targets.dtype == np.float32
    assert not np.array_equal(views[:, 0], views[:, 1]) and not np.array_equal(views[:, 0], images)
    # The targets are the teachers' averaged probabilities for the very view stored.
    x = views.reshape(-1, 28, 28)
    expected = np.mean([t.predict(data.scale(x), verbose=0) for t in teachers], axis=0)
    assert np.allclose(targets.reshape(-1, 10), expected, atol=1e-5)


def test_teacher_weight_mixes_the_teachers_with_the_labels():
    images, labels = _mnist_sample(40)
    keras.utils.set_random_seed(0)
    teacher = [cnns.build_simple_cnn()]
    _, labels_only = distill.make_teacher_views(
        teacher, images, labels, views=2, teacher_weight=0.0
    )
    assert np.array_equal(
        labels_only, np.repeat(np.eye(10, dtype=np.float32)[labels][:, None], 2, axis=1)
    )
    _, mixed = distill.make_teacher_views(teacher, images, labels, views=2, teacher_weight=0.25)
    assert np.allclose(mixed.sum(axis=2), 1.0, atol=1e-5)
    assert np.all(mixed[np.arange(40), :, labels] >= 0.75 - 1e-6)
    with pytest.raises(ValueError, match="teacher_weight"):
        distill.make_teacher_views(teacher, images, labels, teacher_weight=1.5)
    with pytest.raises(ValueError, match="views must be at least 1"):
        distill.make_teacher_views(teacher, images, labels, views=0)
    with pytest.raises(ValueError, match="at least one teacher"):
        distill.make_teacher_views([], images, labels)


def test_distillation_batches_hold_one_of_each_images_views_and_its_target():
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, size=(30, 4, 28, 28), dtype=np.uint8)
    targets = rng.random((30, 4, 10)).astype(np.float32)
    x, y = next(iter(distill.view_dataset(views, targets, batch_size=30, seed=0)))
    x, y = np.round(x.numpy()[..., 0] * 255).astype(np.uint8), y.numpy()
    found = []
    for k in range(30):  # random images: each batch entry matches exactly one stored view
        ((i, v),) = [
            (i, v) for i in range(30) for v in range(4) if np.array_equal(x[k], views[i, v])
        ]
        assert np.array_equal(y[k], targets[i, v])
        found.append((i, v))
    assert sorted(i for i, _ in found) == list(range(30))  # every image once per epoch
    assert len({v for _, v in found}) > 1  # not always the same view


def test_fit_distils_from_teacher_views():
    (xt, yt), (xv, yv) = data.split_validation(*_mnist_sample(1500), n_val=300)
    keras.utils.set_random_seed(0)
    teacher = cnns.build_simple_cnn()
    train.fit(teacher, (xt, yt), (xv, yv), epochs=2, verbose=0)
    views = distill.make_teacher_views([teacher], xt, yt, views=2)
    batches = distill.view_dataset(*views, batch_size=128)
    result = train.fit(cnns.build_simple_cnn(), (xt, batches), (xv, yv), epochs=2, verbose=0)
    assert result.val_accuracy > 0.5  # 10 classes: chance is 0.1
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_average_models_averages_weights_and_recomputes_batch_norm():
    (x_train, _), _ = data.load_mnist()
    images = x_train[:200]
    first, second = cnns.build_deeper_cnn(), cnns.build_deeper_cnn()
    first.set_weights([np.full_like(w, 1.0) for w in first.get_weights()])
    second.set_weights([np.full_like(w, 3.0) for w in second.get_weights()])
    before = [w.copy() for w in first.get_weights()]
    soup = average_models([first, second], images)
    assert soup is not first and all(
        np.array_equal(a, b) for a, b in zip(first.get_weights(), before)
    )  # inputs untouched
    for layer in soup.layers:
        if isinstance(
            layer, keras.layers.BatchNormalization
        ):  # recomputed on the images, not the mean 2.0
            assert not np.allclose(layer.moving_mean.numpy(), 2.0)
            assert np.allclose(layer.gamma.numpy(), 2.0)
        elif layer.get_weights():
            assert all(np.allclose(w, 2.0) for w in layer.get_weights())
    reference = cnns.build_deeper_cnn()
    reference.set_weights(soup.get_weights())
    train.recompute_batch_norm(reference, images)
    assert np.allclose(
        reference.predict(data.scale(images[:20]), verbose=0),
        soup.predict(data.scale(images[:20]), verbose=0),
        atol=1e-5,
    )


def test_average_models_refuses_what_cannot_be_averaged():
    with pytest.raises(ValueError, match="at least one model"):
        average_models([], np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="one architecture"):
        average_models(
            [cnns.build_deeper_cnn(), cnns.build_simple_cnn()], np.zeros((1, 28, 28), np.uint8)
        )
