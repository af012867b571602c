"""The tf.data input pipeline, augmentation and the training loop."""

import numpy as np
import pytest

from digits import data, models, train
from digits.backend import keras


def test_dataset_batches_match_the_specs_preprocessing():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=10)
    x, y = next(iter(train.make_dataset(images, labels, batch_size=10)))
    expected_x, expected_y = data.prepare(images, labels)
    assert np.allclose(x.numpy(), expected_x) and np.array_equal(y.numpy(), expected_y)


def test_augmentation_moves_pixels_but_keeps_range_and_labels():
    (x_train, y_train), _ = data.load_mnist()
    ds = train.make_dataset(
        x_train[:64], y_train[:64], batch_size=64, augmenter=train.make_augmenter(seed=1)
    )
    x, y = next(iter(ds))
    plain, _ = data.prepare(x_train[:64], y_train[:64])
    x = x.numpy()
    assert x.shape == plain.shape and x.min() >= 0.0 and x.max() <= 1.0 + 1e-6
    assert np.abs(x - plain).mean() > 0.01  # images did change
    assert np.array_equal(y.numpy().argmax(1), y_train[:64])
    # Small changes only: the ink stays roughly the same amount.
    assert np.allclose(x.sum(axis=(1, 2, 3)), plain.sum(axis=(1, 2, 3)), rtol=0.35)


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_fit_reports_the_best_epoch_by_the_monitored_metric(monitor):
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, yv) = data.split_validation(x_train[:1500], y_train[:1500], n_val=300)
    result = train.fit(
        models.build_simple_cnn(), (xt, yt), (xv, yv), epochs=3, monitor=monitor, verbose=0
    )
    curve = result.history[monitor]
    best = int(np.argmax(curve) if monitor == "val_accuracy" else np.argmin(curve))
    assert result.best_epoch == best + 1 and result.config["monitor"] == monitor
    assert result.best_val_loss == pytest.approx(result.history["val_loss"][best])
    assert result.best_val_accuracy == pytest.approx(result.history["val_accuracy"][best])
    assert (result.kept_epoch, result.val_accuracy) == (result.best_epoch, result.best_val_accuracy)


def test_fit_restores_the_weights_of_the_best_epoch_not_the_last():
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, _) = data.split_validation(x_train[:1500], y_train[:1500], n_val=300)
    # Validation labels that are pure noise: the better the model learns the digits, the more
    # confident (and wrong) it is on them, so the validation loss is lowest early on.
    yv_noise = np.random.default_rng(0).integers(0, 10, len(xv))
    model = models.build_simple_cnn()
    result = train.fit(
        model, (xt, yt), (xv, yv_noise), epochs=3, augment=False, monitor="val_loss", verbose=0
    )
    assert result.best_epoch < result.epochs_run, result.history["val_loss"]
    loss, _ = model.evaluate(*data.prepare(xv, yv_noise), verbose=0)
    assert loss == pytest.approx(result.best_val_loss, rel=1e-3)
    assert loss < result.history["val_loss"][-1]


def test_fit_keeps_the_last_epoch_when_asked_and_still_reports_the_best():
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, _) = data.split_validation(x_train[:1500], y_train[:1500], n_val=300)
    yv_noise = np.random.default_rng(0).integers(
        0, 10, len(xv)
    )  # as above: the loss is lowest early
    model = models.build_simple_cnn()
    result = train.fit(
        model,
        (xt, yt),
        (xv, yv_noise),
        epochs=3,
        augment=False,
        monitor="val_loss",
        restore_best=False,
        verbose=0,
    )
    assert result.kept_epoch == result.epochs_run == 3 and result.best_epoch < 3, result.history[
        "val_loss"
    ]
    loss, _ = model.evaluate(*data.prepare(xv, yv_noise), verbose=0)
    assert (
        loss
        == pytest.approx(result.history["val_loss"][-1], rel=1e-3)
        == pytest.approx(result.val_loss, rel=1e-3)
    )
    assert (
        result.best_val_loss == pytest.approx(min(result.history["val_loss"]))
        and result.config["restore_best"] is False
    )


def test_fit_that_stops_before_averaging_reports_the_weights_it_holds():
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, _) = data.split_validation(x_train[:1500], y_train[:1500], n_val=300)
    yv_noise = np.random.default_rng(0).integers(
        0, 10, len(xv)
    )  # as above: the loss is lowest early
    model = models.build_simple_cnn()
    # Early stopping ends training before the last epoch, the only one to average: no weights are
    # averaged or restored, so the model holds (and the result reports) the last epoch run.
    result = train.fit(
        model,
        (xt, yt),
        (xv, yv_noise),
        epochs=5,
        augment=False,
        monitor="val_loss",
        patience=1,
        average_last=1,
        verbose=0,
    )
    assert result.epochs_run < 5 and result.best_epoch < result.epochs_run, result.history[
        "val_loss"
    ]
    loss, _ = model.evaluate(*data.prepare(xv, yv_noise), verbose=0)
    assert result.kept_epoch == result.epochs_run
    assert (
        loss
        == pytest.approx(result.history["val_loss"][-1], rel=1e-3)
        == pytest.approx(result.val_loss, rel=1e-3)
    )


def test_best_index_by_monitor():
    assert train.best_index([0.98, 0.99, 0.985], "val_accuracy") == 1
    assert train.best_index([0.05, 0.03, 0.04], "val_loss") == 1
    with pytest.raises(ValueError, match="val_accuracy"):
        train.best_index([0.1], "loss")


def test_fit_refuses_an_unknown_monitor():
    images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    with pytest.raises(ValueError, match="val_loss"):
        train.fit(models.build_simple_cnn(), (images, labels), (images, labels), monitor="accuracy")


def test_weight_averaging_keeps_the_mean_of_the_last_epochs_only():
    model = models.build_simple_cnn()
    averaging = train.WeightAveraging(total_epochs=3, epochs=2)
    averaging.set_model(model)
    snapshots = [
        [np.full_like(w, value) for w in model.get_weights()] for value in (100.0, 1.0, 2.0)
    ]
    for epoch, weights in enumerate(snapshots):
        model.set_weights(weights)
        averaging.on_epoch_end(epoch)
    assert averaging.count == 2
    assert all(np.allclose(mean, 1.5) for mean in averaging.mean)  # epochs 2 and 3, not the first


def test_recompute_batch_norm_sets_the_exact_statistics_of_each_layers_inputs():
    (x_train, _), _ = data.load_mnist()
    images = x_train[:300]
    model = models.build_deeper_cnn()
    bn_layers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    for layer in bn_layers:  # stale statistics, far from the real ones
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 5.0, np.float32))
        layer.moving_variance.assign(np.full(layer.moving_variance.shape, 9.0, np.float32))
    train.recompute_batch_norm(model, images, batch_size=128)  # batches that do not divide 300
    x = data.scale(images)
    for name in ("block1a_bn", "block2b_bn", "dense256_bn"):
        index = [layer.name for layer in model.layers].index(name)
        inputs = keras.Model(model.inputs, model.layers[index - 1].output).predict(x, verbose=0)
        inputs = inputs.reshape(-1, inputs.shape[-1])
        layer = model.layers[index]
        assert np.allclose(layer.moving_mean.numpy(), inputs.mean(axis=0), atol=1e-4)
        assert np.allclose(layer.moving_variance.numpy(), inputs.var(axis=0), rtol=1e-3, atol=1e-5)


def test_average_models_averages_weights_and_recomputes_batch_norm():
    (x_train, _), _ = data.load_mnist()
    images = x_train[:200]
    first, second = models.build_deeper_cnn(), models.build_deeper_cnn()
    first.set_weights([np.full_like(w, 1.0) for w in first.get_weights()])
    second.set_weights([np.full_like(w, 3.0) for w in second.get_weights()])
    before = [w.copy() for w in first.get_weights()]
    soup = train.average_models([first, second], images)
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
    reference = models.build_deeper_cnn()
    reference.set_weights(soup.get_weights())
    train.recompute_batch_norm(reference, images)
    assert np.allclose(
        reference.predict(data.scale(images[:20]), verbose=0),
        soup.predict(data.scale(images[:20]), verbose=0),
        atol=1e-5,
    )


def test_average_models_refuses_what_cannot_be_averaged():
    with pytest.raises(ValueError, match="at least one model"):
        train.average_models([], np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="one architecture"):
        train.average_models(
            [models.build_deeper_cnn(), models.build_simple_cnn()], np.zeros((1, 28, 28), np.uint8)
        )


def test_fit_with_weight_averaging_keeps_the_averaged_model_and_scores_it():
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, yv) = data.split_validation(x_train[:1500], y_train[:1500], n_val=300)
    model = models.build_deeper_cnn()
    result = train.fit(model, (xt, yt), (xv, yv), epochs=3, average_last=2, verbose=0)
    assert result.kept_epoch == 3 and result.config["average_last"] == 2
    loss, accuracy = model.evaluate(*data.prepare(xv, yv), verbose=0)
    assert accuracy == pytest.approx(result.val_accuracy) and loss == pytest.approx(
        result.val_loss, rel=1e-3
    )
    # The model holds neither the last epoch's weights nor its scores.
    assert loss != pytest.approx(result.history["val_loss"][-1], rel=1e-3)
    with pytest.raises(ValueError, match="average_last"):
        train.fit(models.build_simple_cnn(), (xt, yt), (xv, yv), epochs=3, average_last=3)


def _mnist_sample(count=600):
    (x_train, y_train), _ = data.load_mnist()
    return x_train[:count], y_train[:count]


def test_teacher_views_are_augmented_copies_scored_by_the_teachers_mean():
    images, labels = _mnist_sample(50)
    keras.utils.set_random_seed(0)
    teachers = [models.build_simple_cnn(), models.build_simple_cnn()]  # untrained: far from one-hot
    views, targets = train.make_teacher_views(
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
    teacher = [models.build_simple_cnn()]
    _, labels_only = train.make_teacher_views(teacher, images, labels, views=2, teacher_weight=0.0)
    assert np.array_equal(
        labels_only, np.repeat(np.eye(10, dtype=np.float32)[labels][:, None], 2, axis=1)
    )
    _, mixed = train.make_teacher_views(teacher, images, labels, views=2, teacher_weight=0.25)
    assert np.allclose(mixed.sum(axis=2), 1.0, atol=1e-5)
    assert np.all(mixed[np.arange(40), :, labels] >= 0.75 - 1e-6)
    with pytest.raises(ValueError, match="teacher_weight"):
        train.make_teacher_views(teacher, images, labels, teacher_weight=1.5)
    with pytest.raises(ValueError, match="views must be at least 1"):
        train.make_teacher_views(teacher, images, labels, views=0)
    with pytest.raises(ValueError, match="at least one teacher"):
        train.make_teacher_views([], images, labels)


def test_distillation_batches_hold_one_of_each_images_views_and_its_target():
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, size=(30, 4, 28, 28), dtype=np.uint8)
    targets = rng.random((30, 4, 10)).astype(np.float32)
    x, y = next(iter(train._view_dataset(views, targets, batch_size=30, seed=0)))
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
    teacher = models.build_simple_cnn()
    train.fit(teacher, (xt, yt), (xv, yv), epochs=2, verbose=0)
    views = train.make_teacher_views([teacher], xt, yt, views=2)
    result = train.fit(
        models.build_simple_cnn(), (xt, yt), (xv, yv), epochs=2, teacher_views=views, verbose=0
    )
    assert result.config["distilled"] and result.val_accuracy > 0.5  # 10 classes: chance is 0.1
    assert result.history["loss"][-1] < result.history["loss"][0]
    with pytest.raises(ValueError, match="same images"):
        train.fit(
            models.build_simple_cnn(), (xt[:100], yt[:100]), (xv, yv), epochs=1, teacher_views=views
        )
