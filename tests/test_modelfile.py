"""The model sidecar (checksum, class names, temperature) and atomic writes."""

import json
import os

import numpy as np
import pytest

from digits.predict import calibrate
from digits.runtime.modelfile import (
    DIGIT_CLASSES,
    ModelError,
    UnverifiedModelWarning,
    atomic_write_bytes,
    atomic_write_json,
    file_sha256,
    read_info,
    sidecar_path,
    write_info,
)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.h5"
    path.write_bytes(b"weights" * 100)
    return path


def test_sidecar_sits_beside_the_model(tmp_path):
    assert sidecar_path(tmp_path / "a.h5") == tmp_path / "a.json"
    assert sidecar_path(tmp_path / "b.tflite") == tmp_path / "b.json"


def test_round_trip_keeps_fields_and_extra_keys(model_file):
    write_info(model_file, class_names=["+", "-"], temperature=1.5, made_by="test")
    write_info(model_file, temperature=1.2)  # earlier keys are kept
    info = read_info(model_file)
    assert info.class_names == ("+", "-")
    assert info.temperature == 1.2
    assert info.extra == {"made_by": "test"}
    assert info.sha256 == file_sha256(model_file)
    assert json.loads(sidecar_path(model_file).read_text())["made_by"] == "test"


def test_a_changed_model_is_refused(model_file):
    write_info(model_file)
    model_file.write_bytes(b"tampered" * 100)
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        read_info(model_file)
    assert read_info(model_file, verify=False).sha256 is not None


def test_no_sidecar_loads_with_a_warning(model_file):
    with pytest.warns(UnverifiedModelWarning, match="cannot be verified"):
        info = read_info(model_file)
    assert info.class_names == DIGIT_CLASSES and info.temperature == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a readable JSON sidecar"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"class_names": ["a"]}', "at least 2 strings"),
        ('{"class_names": ["a", "a"]}', "unique"),
        ('{"temperature": 0}', "temperature"),
        ('{"temperature": true}', "temperature"),
        ('{"sha256": "abc"}', "64 hex"),
    ],
)
def test_bad_sidecars_are_clear_errors(model_file, content, message):
    sidecar_path(model_file).write_text(content)
    with pytest.raises(ModelError, match=message):
        read_info(model_file)


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "report.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_bytes(target, b'{"a": 2}\n')
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_calibrate_softens_and_keeps_the_order():
    p = np.array([[0.9, 0.09, 0.01], [0.2, 0.5, 0.3]], dtype=np.float32)
    assert calibrate(p, 1.0) is p
    soft = calibrate(p, 2.0)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    assert (soft.argmax(axis=1) == p.argmax(axis=1)).all()
    assert soft[0, 0] < p[0, 0]
    assert calibrate(p, 0.5)[0, 0] > p[0, 0]


def test_atomic_write_keeps_usual_permissions(tmp_path):
    new = atomic_write_json(tmp_path / "new.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    atomic_write_json(kept, {"a": 1})
    assert kept.stat().st_mode & 0o777 == 0o640
