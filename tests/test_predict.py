"""Tests of digits.predict with a small model trained on 6,000 MNIST images."""

from __future__ import annotations

import numpy as np
import pytest

from digits import predict as predict_module
from digits.image import ImageError
from digits.predict import LOW_CONFIDENCE, ModelError, Prediction, Predictor, default_model_path
from digits.synth import samples


def test_predicts_rendered_test_digits(predictor, rendered_digits):
    predictions = predictor.predict_many([image for image, _ in rendered_digits])
    correct = sum(p.digit == label for p, (_, label) in zip(predictions, rendered_digits))
    assert correct >= 40, f"only {correct} of 50 rendered MNIST test digits right"


def test_prediction_fields(predictor, rendered_digits):
    image, _ = rendered_digits[0]
    p = predictor.predict(image)
    assert isinstance(p, Prediction)
    assert len(p.probabilities) == 10 and all(isinstance(v, float) for v in p.probabilities)
    assert sum(p.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert p.digit == int(np.argmax(p.probabilities))
    assert p.confidence == pytest.approx(max(p.probabilities))
    assert p.low_confidence == (p.confidence < LOW_CONFIDENCE)
    assert p.reason is None and p.error is None
    assert p.preprocessed.image.shape == (28, 28)
    top = p.top_k(3)
    assert [d for d, _ in top][0] == p.digit and top[0][1] >= top[1][1] >= top[2][1]
    assert p.flags == (("below_threshold",) if p.low_confidence else ())
    as_dict = p.to_dict()
    assert set(as_dict) == {
        "digit",
        "label",
        "confidence",
        "probabilities",
        "low_confidence",
        "flags",
        "several_digits",
    } | ({"flag_reason"} if p.flags else set())
    assert as_dict["flags"] == list(p.flags)
    assert as_dict["several_digits"] is False
    assert as_dict["label"] == str(p.digit)


def test_batch_and_single_agree(predictor, rendered_digits):
    images = [image for image, _ in rendered_digits[:10]]
    batch = predictor.predict_many(images)
    for image, from_batch in zip(images, batch):
        single = predictor.predict(image)
        assert single.digit == from_batch.digit
        np.testing.assert_allclose(single.probabilities, from_batch.probabilities, atol=1e-5)


def test_single_images_do_not_use_model_predict(predictor, rendered_digits, monkeypatch):
    def slow_path(*args, **kwargs):
        raise AssertionError("model.predict must not be used for single images")

    monkeypatch.setattr(predictor.model, "predict", slow_path)
    assert predictor.predict(rendered_digits[0][0]).digit is not None


def test_blank_image_gives_no_digit(predictor):
    p = predictor.predict(np.full((100, 100), 255, dtype=np.uint8))
    assert p.digit is None and p.probabilities is None and p.confidence == 0.0
    assert p.reason.startswith("no digit found") and p.error is None
    assert p.to_dict()["reason"] == p.reason


def test_unreadable_image(predictor, rendered_digits):
    with pytest.raises(ImageError):
        predictor.predict(b"not an image")
    good = rendered_digits[0][0]
    results = predictor.predict_many([good, b"not an image", good], raise_errors=False)
    assert results[0].digit is not None and results[2].digit is not None
    assert results[1].digit is None and "not an image" in results[1].error
    with pytest.raises(ImageError):
        predictor.predict_many([good, b"not an image"])


def test_empty_batch(predictor):
    assert predictor.predict_many([]) == []


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="No model file"):
        Predictor(tmp_path / "missing.h5")


def test_text_file_is_not_a_model(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("definitely not HDF5")
    with pytest.raises(ModelError, match="not a Keras model"):
        Predictor(path)


def _save(model, path):
    model.save(path)
    return path


def test_model_with_wrong_input_shape(tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    with pytest.raises(ModelError, match=r"expected \(None, 28, 28, 1\)"):
        Predictor(_save(model, tmp_path / "wrong_input.h5"))


def test_model_without_softmax(tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, bias_initializer="ones"),
        ]
    )
    with pytest.raises(ModelError, match="softmax"):
        Predictor(_save(model, tmp_path / "logits.h5"))


def test_default_model_path_prefers_litert_then_cwd_then_keras(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setattr(
        predict_module, "LITERT_PATH", elsewhere / "models" / predict_module.LITERT_FILENAME
    )
    monkeypatch.setattr(predict_module, "MODEL_PATH", elsewhere / predict_module.MODEL_FILENAME)
    monkeypatch.chdir(tmp_path)
    assert default_model_path() == predict_module.LITERT_PATH  # none exists
    (tmp_path / predict_module.MODEL_FILENAME).write_bytes(b"x")
    assert default_model_path() == tmp_path / predict_module.MODEL_FILENAME
    (elsewhere / "models").mkdir(parents=True)
    predict_module.MODEL_PATH.write_bytes(b"x")
    assert default_model_path() == predict_module.MODEL_PATH
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / predict_module.LITERT_FILENAME).write_bytes(b"x")
    assert default_model_path() == tmp_path / "models" / predict_module.LITERT_FILENAME
    predict_module.LITERT_PATH.write_bytes(b"x")
    assert default_model_path() == predict_module.LITERT_PATH


def test_default_model_is_the_committed_litert_export():
    assert default_model_path() == predict_module.LITERT_PATH
    assert default_model_path().suffix == ".tflite"


def test_rgba_canvas_digit(predictor, mnist):
    (_, _), (x_test, y_test) = mnist
    rng = np.random.default_rng(3)
    hits = 0
    for index in range(10):
        canvas = samples.render(x_test[index], rng, size=200, rgba=True)
        hits += predictor.predict(samples.encode(canvas)).digit == y_test[index]
    assert hits >= 8
