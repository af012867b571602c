"""The two CNN architectures and a short real training run."""

import numpy as np
import pytest
from keras import layers

from digits.training import cnns, data, train


@pytest.mark.parametrize("name", ["simple", "deeper"])
def test_output_is_a_probability_per_digit(name):
    model = cnns.build(name)
    out = model(
        np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32), training=False
    ).numpy()
    assert out.shape == (3, 10)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5) and (out >= 0).all()


def test_simple_cnn_is_the_specs_shape():
    model = cnns.build_simple_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert [
        layer.get_config()["activation"]
        for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.Dense))
    ] == ["relu", "relu", "relu", "softmax"]
    assert model.layers[-2].units == 128
    # 320 + 18,496 + 204,928 + 1,290 weights (3x3 kernels, 'valid' padding).
    assert model.count_params() == 225_034


def test_deeper_cnn_has_blocks_dropout_and_dense256():
    model = cnns.build_deeper_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert (
        kinds.count("Conv2D") == 4
        and kinds.count("MaxPooling2D") == 2
        and kinds.count("Dropout") >= 3
    )
    assert [layer.units for layer in model.layers if isinstance(layer, layers.Dense)] == [256, 10]
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert model.count_params() == 331_306


def test_deeper_cnn_width_is_a_parameter():
    model = cnns.build_deeper_cnn(filters=(32, 96))
    widths = [layer.filters for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert widths == [32, 32, 96, 96] and model.count_params() == 517_930
    assert model.output_shape == (None, 10)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="simple"):
        cnns.build("resnet")


def test_short_training_beats_chance_by_far():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    (xt, yt), (xv, yv) = data.split_validation(x_train[:4000], y_train[:4000], n_val=500)
    model = cnns.build_simple_cnn()
    result = train.fit(model, (xt, yt), (xv, yv), epochs=2, augment=False, verbose=0)
    assert result.epochs_run == 2 and 1 <= result.best_epoch <= 2
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    x, y = data.prepare(x_test[:1000], y_test[:1000])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.85, accuracy  # chance is 0.10
