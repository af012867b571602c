"""Tests of digits.training.export and `python -m digits export`: Keras -> LiteRT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from digits.apps import cli
from digits.paths import LITERT_PATH, MODEL_PATH
from digits.predict import Predictor
from digits.runtime.modelfile import (
    ModelError,
    file_sha256,
    read_info,
    travelling_fields,
    write_info,
)
from digits.runtime.runners import open_runner
from digits.training import export as export_module
from digits.training.export import default_export_path, export_litert

needs_shipped = pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped model")


@pytest.fixture(scope="module")
def test_inputs(mnist):
    """400 MNIST test images as model inputs, and their labels."""
    _, (x_test, y_test) = mnist
    return (x_test[:400].astype(np.float32) / 255)[..., None], y_test[:400]


@pytest.fixture(scope="module")
def shipped_exports(tmp_path_factory):
    """The shipped model exported as float32 and int8 into a temporary folder."""
    folder = tmp_path_factory.mktemp("exports")
    return {
        quantize: export_litert(MODEL_PATH, folder / f"{quantize}.tflite", quantize)
        for quantize in ("none", "int8")
    }


@needs_shipped
def test_shipped_exports_agree_with_keras(shipped_exports, test_inputs):
    x, y = test_inputs
    keras = open_runner(MODEL_PATH).probabilities(x)
    float32 = open_runner(shipped_exports["none"]).probabilities(x)
    int8 = open_runner(shipped_exports["int8"]).probabilities(x)
    np.testing.assert_allclose(float32, keras, atol=1e-4)
    assert np.array_equal(float32.argmax(1), keras.argmax(1))
    assert np.mean(int8.argmax(1) == keras.argmax(1)) >= 0.995
    assert np.mean(int8.argmax(1) == y) >= np.mean(keras.argmax(1) == y) - 0.005


@needs_shipped
def test_sizes(shipped_exports):
    keras_bytes = MODEL_PATH.stat().st_size
    float_bytes = shipped_exports["none"].stat().st_size
    int8_bytes = shipped_exports["int8"].stat().st_size
    assert 0.8 * keras_bytes < float_bytes < 1.1 * keras_bytes  # 331k float32 weights
    assert float_bytes / int8_bytes >= 3.5 and keras_bytes / int8_bytes >= 3.5


def _structure(path: Path) -> tuple[list[tuple], np.ndarray]:
    """Every tensor of a LiteRT file: name, shape, dtype, zero point; and its scale."""
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(path)).get_tensor_details()
    return [
        (d["name"], tuple(d["shape"]), str(d["dtype"]), d["quantization"][1]) for d in details
    ], np.array([d["quantization"][0] for d in details])


@needs_shipped
def test_committed_exports_are_what_the_command_makes(shipped_exports, test_inputs):
    """models/ holds the command's output for the shipped model: the same graph and the
    same answers. Not the same bytes: the converter folds batch norm into the convolutions
    with the CPU's own float rounding, so constants may differ by an ulp between machines."""
    x, _ = test_inputs
    for quantize, name, atol in [("none", "digits_float32", 1e-5), ("int8", "digits_int8", 0.02)]:
        committed = LITERT_PATH.with_name(f"{name}.tflite")
        (graph, scales), (made_graph, made_scales) = map(
            _structure, (committed, shipped_exports[quantize])
        )
        assert graph == made_graph, name
        np.testing.assert_allclose(scales, made_scales, rtol=1e-4, err_msg=name)
        ours = open_runner(committed).probabilities(x)
        made = open_runner(shipped_exports[quantize]).probabilities(x)
        np.testing.assert_allclose(ours, made, atol=atol, err_msg=name)
        assert np.mean(ours.argmax(1) == made.argmax(1)) >= 0.9975, name
        info = read_info(committed)
        assert info.extra["source_sha256"] == file_sha256(MODEL_PATH)
        # ... and its sidecar carries what the Keras model's does (temperature, class names).
        assert travelling_fields(info) == travelling_fields(read_info(MODEL_PATH))


@needs_shipped
def test_sidecar_contents(shipped_exports):
    data = json.loads(shipped_exports["int8"].with_suffix(".json").read_text())
    assert data["sha256"] == file_sha256(shipped_exports["int8"])
    assert data["source"] == MODEL_PATH.name
    assert data["source_sha256"] == file_sha256(MODEL_PATH)
    assert data["quantize"] == "int8" and data["format"] == "litert"
    source = read_info(MODEL_PATH)
    assert data["class_names"] == list(source.class_names)
    assert data["temperature"] == source.temperature


def test_class_names_and_temperature_travel(small_model_path, tmp_path, rendered_digits):
    source = tmp_path / "mine.h5"
    shutil.copy(small_model_path, source)
    names = [f"class {d}" for d in range(10)]
    write_info(source, class_names=names, temperature=2.5, low_confidence=0.8)
    out = export_litert(source, quantize="float16")
    assert out == tmp_path / "mine_float16.tflite"
    info = read_info(out)
    assert info.class_names == tuple(names) and info.temperature == 2.5
    assert info.extra["low_confidence"] == 0.8 and info.extra["source"] == "mine.h5"
    assert info.extra["quantize"] == "float16"
    image = rendered_digits[0][0]
    # Same temperature-scaled probabilities from the Keras model and its export.
    np.testing.assert_allclose(
        Predictor(out).predict(image).probabilities,
        Predictor(source).predict(image).probabilities,
        atol=2e-3,
    )


def test_failed_export_leaves_no_file(small_model_path, tmp_path, monkeypatch):
    out = tmp_path / "model.tflite"
    out.write_bytes(b"the previous export")

    def broken(*args):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(export_module, "_convert", broken)
    with pytest.raises(RuntimeError):
        export_litert(small_model_path, out)
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_export_writes_through_a_temporary_file(small_model_path, tmp_path, monkeypatch):
    written = []
    real = export_module.atomic_write_bytes
    monkeypatch.setattr(
        export_module,
        "atomic_write_bytes",
        lambda path, data: written.append(path) or real(path, data),
    )
    out = export_litert(small_model_path, tmp_path / "m.tflite", "dynamic")
    assert written == [out] and sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.tflite"]


def test_bad_arguments(small_model_path, tmp_path):
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_litert(small_model_path, tmp_path / "m.tflite", "int4")
    with pytest.raises(ValueError, match=r"end in \.tflite"):
        export_litert(small_model_path, tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="No model file"):
        export_litert(tmp_path / "missing.h5", tmp_path / "m.tflite")
    source = tmp_path / "mine.h5"
    shutil.copy(small_model_path, source)
    write_info(source, temperature=1.5)
    before = source.with_suffix(".json").read_bytes()
    with pytest.raises(ValueError, match="would share its sidecar"):
        export_litert(source, tmp_path / "mine.tflite")  # mine.json is the source's
    assert source.with_suffix(".json").read_bytes() == before
    assert not (tmp_path / "mine.tflite").exists()


def test_default_export_paths(tmp_path):
    assert default_export_path(MODEL_PATH) == LITERT_PATH
    assert default_export_path(MODEL_PATH, "int8").name == "digits_int8.tflite"
    assert default_export_path(tmp_path / "a.keras", "dynamic") == tmp_path / "a_dynamic.tflite"


def test_cli_export(capsys, small_model_path, tmp_path):
    out = tmp_path / "cli.tflite"
    code = cli.main(["export", "--model", str(small_model_path), "--out", str(out)])
    assert code == 0 and out.is_file() and out.with_suffix(".json").is_file()
    assert "wrote" in capsys.readouterr().out
    assert open_runner(out).kind == "litert"


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["export", "--quantize", "int4"], 2, "invalid choice"),
        (["export", "--model", "missing.h5"], 2, "No model file"),
        (["export", "--out", "model.onnx"], 2, ".tflite"),
    ],
)
def test_cli_export_errors(capsys, tmp_path, monkeypatch, argv, code, words):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not any(Path(tmp_path).iterdir())
