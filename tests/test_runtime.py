"""Tests of digits.runtime.runners: Keras and LiteRT runners, and prediction without TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from digits import predict as predict_module
from digits.paths import LITERT_PATH, MODEL_PATH
from digits.predict import Predictor, find_images
from digits.runtime.modelfile import ModelError, UnverifiedModelWarning, read_info, write_info
from digits.runtime.runners import LiteRTRunner, _dequantize, _quantize, open_runner

ROOT = Path(__file__).resolve().parent.parent
INT8_PATH = LITERT_PATH.with_name("digits_int8.tflite")
EXAMPLES = [path for path, error in find_images([ROOT / "digit_examples"]) if error is None]

needs_models = pytest.mark.skipif(
    not (LITERT_PATH.is_file() and MODEL_PATH.is_file()),
    reason="no committed models: run `python -m digits export`",
)
HEAVY = ("tensorflow", "keras", "pandas", "matplotlib", "sklearn", "scipy", "jax", "torch")


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


@needs_models
def test_litert_path_imports_no_tensorflow():
    code = f"""
import sys
import digits.predict, digits.image, digits.runtime.runners
import digits.apps.cli, digits.training.export
assert not any(m.split('.')[0] in {HEAVY!r} for m in sys.modules), 'on import'
from digits.predict import Predictor
p = Predictor()
assert p.runner.kind == 'litert', p.runner
print(p.predict('digit_examples/3_a.png').digit)
assert digits.apps.cli.main(['predict', '--json', 'digit_examples/7_a.png']) == 0
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
assert not heavy, heavy
"""
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "3" and json.loads(lines[1])["digit"] == 7
    assert result.stderr == "", result.stderr  # no XNNPACK or other log lines


def test_a_keras_model_imports_tensorflow(small_model_path):
    code = f"""
import sys
from digits.predict import Predictor
p = Predictor({str(small_model_path)!r})
assert p.runner.kind == 'keras' and 'tensorflow' in sys.modules
"""
    result = _run_python(code)
    assert result.returncode == 0, result.stderr


@needs_models
@pytest.mark.parametrize("exported", [LITERT_PATH, INT8_PATH], ids=["float32", "int8"])
def test_same_answers_keras_and_litert_on_the_examples(exported):
    keras = Predictor(MODEL_PATH).predict_many(EXAMPLES)
    litert = Predictor(exported).predict_many(EXAMPLES)
    assert len(EXAMPLES) >= 10
    assert [p.digit for p in keras] == [p.digit for p in litert]
    tolerance = 1e-4 if exported == LITERT_PATH else 0.05
    for k, t in zip(keras, litert):
        np.testing.assert_allclose(k.probabilities, t.probabilities, atol=tolerance)


@needs_models
def test_batches_and_single_images_agree(mnist):
    _, (x_test, _) = mnist
    x = (x_test[:300].astype(np.float32) / 255)[..., None]
    runner = open_runner(LITERT_PATH, batch_size=128)
    batched = runner.probabilities(x)  # chunks of 128, 128 and 44: the input is resized
    single = np.concatenate([runner.probabilities(image[None]) for image in x[:20]])
    assert batched.shape == (300, 10) and batched.dtype == np.float32
    np.testing.assert_allclose(batched[:20], single, atol=1e-6)
    assert runner.probabilities(x[:0]).shape == (0, 10)


@needs_models
def test_concurrent_calls_get_their_own_answers(mnist):
    _, (x_test, _) = mnist
    x = (x_test[:64].astype(np.float32) / 255)[..., None]
    runner = open_runner(LITERT_PATH)
    expected = runner.probabilities(x)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = runner.probabilities(x[i : i + 1 + i % 3])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, got in results.items():
        np.testing.assert_allclose(got, expected[i : i + 1 + i % 3], atol=1e-6)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a flatbuffer at all", "truncated"],
    ids=["empty", "text", "truncated"],
)
def test_bad_tflite_gives_model_error(tmp_path, content):
    path = tmp_path / "bad.tflite"
    if content == "truncated":
        content = LITERT_PATH.read_bytes()[:5000]
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        with pytest.raises(ModelError, match="not a LiteRT model file"):
            Predictor(path)


@needs_models
def test_tampered_tflite_is_refused(tmp_path):
    path = tmp_path / "model.tflite"
    data = bytearray(LITERT_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    shutil.copy(LITERT_PATH.with_suffix(".json"), path.with_suffix(".json"))
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        Predictor(path)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(ModelError, match="No model file"):
        Predictor(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="digits export"):
        Predictor(tmp_path / "digits_float32.tflite")
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model file type"):
        open_runner(other)


def _convert(model) -> bytes:
    from digits.training.export import _convert

    return _convert(model, "none", None)


def test_tflite_with_wrong_shapes_or_no_softmax(tmp_path):
    import keras

    wrong_input = keras.Sequential(
        [keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    logits = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "relu")]
    )
    (tmp_path / "wrong.tflite").write_bytes(_convert(wrong_input))
    (tmp_path / "logits.tflite").write_bytes(_convert(logits))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        with pytest.raises(ModelError, match=r"expected \(None, 28, 28, 1\) -> \(None, 10\)"):
            Predictor(tmp_path / "wrong.tflite")
        with pytest.raises(ModelError, match="not probabilities"):
            Predictor(tmp_path / "logits.tflite")
    # The class names in the sidecar say how many outputs there must be.
    shutil.copy(tmp_path / "logits.tflite", tmp_path / "three.tflite")
    write_info(tmp_path / "three.tflite", class_names=["a", "b", "c"])
    with pytest.raises(ModelError, match=r"\(None, 3\)"):
        Predictor(tmp_path / "three.tflite")


def test_quantized_inputs_and_outputs_round_trip():
    detail = {"dtype": np.int8, "quantization": (1 / 255, -128)}
    x = np.linspace(0, 1, 256, dtype=np.float32)
    q = _quantize(x, detail)
    assert q.dtype == np.int8 and q.min() == -128 and q.max() == 127
    np.testing.assert_allclose(_dequantize(q, detail), x, atol=0.5 / 255 + 1e-6)
    assert _quantize(x, {"dtype": np.float32}) is x


@needs_models
def test_stale_export_warns(tmp_path, monkeypatch):
    keras_copy = tmp_path / predict_module.MODEL_FILENAME
    shutil.copy(MODEL_PATH, keras_copy)
    if MODEL_PATH.with_suffix(".json").is_file():
        shutil.copy(MODEL_PATH.with_suffix(".json"), keras_copy.with_suffix(".json"))
    monkeypatch.setattr(predict_module, "MODEL_PATH", keras_copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", predict_module.StaleExportWarning)
        Predictor()  # the committed export is up to date
    temperature = read_info(keras_copy).temperature
    write_info(keras_copy, temperature=round(temperature * 1.5, 4))  # recalibrated
    with pytest.warns(predict_module.StaleExportWarning, match="digits export"):
        Predictor()
    keras_copy.write_bytes(b"a retrained model")
    with pytest.warns(predict_module.StaleExportWarning, match="digits export"):
        Predictor()
    with warnings.catch_warnings():
        warnings.simplefilter("error", predict_module.StaleExportWarning)
        Predictor(LITERT_PATH)  # an explicit path is taken as it is


@needs_models
def test_runner_repr_and_kind():
    runner = open_runner(LITERT_PATH, num_threads=1)
    assert isinstance(runner, LiteRTRunner) and runner.kind == "litert"
    assert "digits_float32.tflite" in repr(runner)


def test_h5_keras_and_tflite_of_one_model_agree(small_model_path, tmp_path, rendered_digits):
    import keras

    from digits.training.export import export_litert

    as_keras = tmp_path / "small.keras"
    keras.models.load_model(small_model_path, compile=False).save(as_keras)
    as_tflite = export_litert(small_model_path, tmp_path / "small_float32.tflite")
    images = [image for image, _ in rendered_digits[:10]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        answers = [Predictor(p).predict_many(images) for p in (small_model_path, as_keras)]
    answers.append(Predictor(as_tflite).predict_many(images))
    assert [Predictor(as_tflite).runner.kind, Predictor(as_keras).runner.kind] == [
        "litert",
        "keras",
    ]
    for other in answers[1:]:
        for a, b in zip(answers[0], other):
            assert a.digit == b.digit
            np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)
