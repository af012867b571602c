"""The tf.data input pipeline, augmentation and the training loop."""

import numpy as np
import pytest

from digits.runtime.backend import keras
from digits.training import cnns, data, train


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


def _small_split(count=1500, noisy_validation=False):
    """Tiny train/validation split; with ``noisy_validation`` the validation labels are pure
    noise, so the better the model learns, the more confident (and wrong) it is on them."""
    (x_train, y_train), _ = data.load_mnist()
    (xt, yt), (xv, yv) = data.split_validation(x_train[:count], y_train[:count], n_val=300)
    if noisy_validation:
        yv = np.random.default_rng(0).integers(0, 10, len(xv))
    return (xt, yt), (xv, yv)


def test_fit_keeps_the_best_epoch_by_validation_accuracy():
    train_split, (xv, yv) = _small_split()
    model = cnns.build_simple_cnn()
    result = train.fit(model, train_split, (xv, yv), epochs=3, verbose=0)
    best = int(np.argmax(result.history["val_accuracy"]))
    assert result.best_epoch == result.kept_epoch == best + 1 and result.config["keep"] == "best"
    assert result.best_val_accuracy == pytest.approx(result.history["val_accuracy"][best])
    assert result.val_loss == pytest.approx(result.history["val_loss"][best])
    loss, accuracy = model.evaluate(*data.prepare(xv, yv), verbose=0)
    assert accuracy == pytest.approx(result.val_accuracy)


def test_fit_restores_the_best_epoch_not_the_last():
    # Noise labels: validation accuracy wanders, so the best epoch is often not the last; the
    # model must hold the best epoch's weights whichever it is.
    train_split, (xv, yv) = _small_split(noisy_validation=True)
    model = cnns.build_simple_cnn()
    result = train.fit(model, train_split, (xv, yv), epochs=4, augment=False, verbose=0)
    loss, accuracy = model.evaluate(*data.prepare(xv, yv), verbose=0)
    assert accuracy == pytest.approx(result.best_val_accuracy)
    assert loss == pytest.approx(result.best_val_loss, rel=1e-3)


def test_fit_keeps_the_last_epoch_when_asked_and_still_reports_the_best():
    train_split, (xv, yv) = _small_split(noisy_validation=True)
    model = cnns.build_simple_cnn()
    result = train.fit(
        model, train_split, (xv, yv), epochs=3, augment=False, keep="last", verbose=0
    )
    assert result.kept_epoch == result.epochs_run == 3
    loss, _ = model.evaluate(*data.prepare(xv, yv), verbose=0)
    assert loss == pytest.approx(result.history["val_loss"][-1], rel=1e-3)
    assert loss == pytest.approx(result.val_loss, rel=1e-3)
    assert result.best_val_accuracy == pytest.approx(max(result.history["val_accuracy"]))


def test_fit_refuses_an_unknown_keep_or_average_length():
    images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    with pytest.raises(ValueError, match="keep must be one of"):
        train.fit(cnns.build_simple_cnn(), (images, labels), (images, labels), keep="first")
    with pytest.raises(ValueError, match="average_last"):
        train.fit(
            cnns.build_simple_cnn(),
            (images, labels),
            (images, labels),
            epochs=3,
            keep="average",
            average_last=3,
        )


def test_fit_trains_on_a_ready_dataset():
    (xt, yt), validation = _small_split()
    dataset = train.make_dataset(xt, yt, batch_size=64, shuffle=True)
    result = train.fit(
        cnns.build_simple_cnn(), (xt, dataset), validation, epochs=2, batch_size=64, verbose=0
    )
    assert result.val_accuracy > 0.5  # 10 classes: chance is 0.1
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_learning_rate_schedule_warms_up_decays_and_holds_its_floor():
    plain = train.learning_rate_schedule(1e-3, epochs=10, steps_per_epoch=100)
    assert float(plain(0)) == pytest.approx(1e-4) and float(plain(100)) == pytest.approx(1e-3)
    assert float(plain(1000)) == pytest.approx(0.0, abs=1e-9)
    floored = train.learning_rate_schedule(1e-3, 10, 100, average_last=3, floor=0.3)
    assert float(floored(700)) == pytest.approx(3e-4) and float(floored(999)) == pytest.approx(3e-4)


def test_weight_averaging_keeps_the_mean_of_the_last_epochs_only():
    model = cnns.build_simple_cnn()
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
    averaging.on_train_end()  # no images: the mean goes in as it is
    assert all(np.allclose(w, 1.5) for w in model.get_weights())


def test_recompute_batch_norm_sets_the_exact_statistics_of_each_layers_inputs():
    (x_train, _), _ = data.load_mnist()
    images = x_train[:300]
    model = cnns.build_deeper_cnn()
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


def test_fit_with_weight_averaging_keeps_the_averaged_model_and_scores_it():
    train_split, (xv, yv) = _small_split()
    model = cnns.build_deeper_cnn()
    result = train.fit(
        model, train_split, (xv, yv), epochs=3, keep="average", average_last=2, verbose=0
    )
    assert result.kept_epoch == 3 and result.config["average_last"] == 2
    loss, accuracy = model.evaluate(*data.prepare(xv, yv), verbose=0)
    assert accuracy == pytest.approx(result.val_accuracy)
    assert loss == pytest.approx(result.val_loss, rel=1e-3)
    # The model holds neither the last epoch's weights nor its scores.
    assert loss != pytest.approx(result.history["val_loss"][-1], rel=1e-3)
