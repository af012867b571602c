"""Tests of custom training (`digits.training.symbols`, `digits train`) and of class names shown by
`predict`, `read` and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digits.apps import cli
from digits.synth import samples
from digits.synth.symbols import draw
from digits.training.symbols import SymbolsError, load_folder, split

ROOT = Path(__file__).resolve().parents[1]


def _folder(root: Path, classes: dict[str, int], seed: int = 0) -> Path:
    """``root`` with one subfolder per class holding that many drawn symbols."""
    rng = np.random.default_rng(seed)
    glyph = {"plus": "+", "minus": "-", "x": "x", "eq": "="}
    for name, count in classes.items():
        for index in range(count):
            samples.save(root / name / f"{index}.png", draw(glyph[name], rng))
    return root


def _train(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("digits: error: "), err
    return lines[0]


def test_missing_folder(capsys, tmp_path):
    code, _, err = _train(capsys, "--data", tmp_path / "nope", "--out", tmp_path / "m.h5")
    assert code == 2 and "no such folder" in _one_line_error(err)


def test_file_instead_of_folder(capsys, tmp_path):
    (tmp_path / "f.png").write_bytes(b"x")
    code, _, err = _train(capsys, "--data", tmp_path / "f.png", "--out", tmp_path / "m.h5")
    assert code == 2 and "is a file" in _one_line_error(err)


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    code, _, err = _train(capsys, "--data", tmp_path / "data", "--out", tmp_path / "m.h5")
    assert code == 2 and "no class subfolders" in _one_line_error(err)


def test_class_folders_without_images(capsys, tmp_path):
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        (tmp_path / "data" / name / "notes.txt").write_text("hi")
    code, _, err = _train(capsys, "--data", tmp_path / "data", "--out", tmp_path / "m.h5")
    assert code == 2 and "no image files" in _one_line_error(err)


def test_single_class(capsys, tmp_path):
    data = _folder(tmp_path / "data", {"plus": 5})
    code, _, err = _train(capsys, "--data", data, "--out", tmp_path / "m.h5")
    assert code == 2 and "only one class (plus)" in _one_line_error(err)
    assert not (tmp_path / "m.h5").exists()


def test_class_with_too_few_images_and_unreadable_files(capsys, tmp_path):
    data = _folder(tmp_path / "data", {"plus": 5, "minus": 5})
    (data / "minus" / "broken.png").write_bytes(b"not a png")
    (data / "minus" / "0.png").unlink()  # 4 usable minus images left
    code, _, err = _train(capsys, "--data", data, "--out", tmp_path / "m.h5")
    line = _one_line_error(err)
    assert code == 2 and "minus (4)" in line and "plus" not in line.split("in:")[1]
    assert "1 files could not be used" in line


def test_bad_epochs_is_a_usage_error(capsys, tmp_path):
    code, _, err = _train(capsys, "--data", tmp_path, "--epochs", "0")
    assert code == 2 and "positive whole number" in err


def test_load_folder_skips_unreadable_files_with_a_count(tmp_path):
    data = _folder(tmp_path / "data", {"x": 5, "plus": 6})
    (data / "x" / "broken.jpg").write_bytes(b"\xff\xd8 junk")
    samples.save(data / "plus" / "blank.png", np.full((60, 60), 250, np.uint8))
    symbols = load_folder(data, progress=False)
    assert symbols.class_names == ("plus", "x")  # alphanumeric order of the folders
    assert symbols.skipped == 2 and len(symbols.skipped_examples) == 2
    assert symbols.images.shape == (11, 28, 28) and symbols.images.dtype == np.uint8
    assert np.bincount(symbols.labels).tolist() == [6, 5]


def test_split_is_stratified():
    labels = np.repeat([0, 1, 2], [10, 5, 20])
    train, validation = split(labels, 0.2, seed=0)
    assert not set(train) & set(validation) and len(train) + len(validation) == 35
    assert np.bincount(labels[validation]).tolist() == [2, 1, 4]


def test_load_folder_error_type(tmp_path):
    with pytest.raises(SymbolsError):
        load_folder(tmp_path / "missing")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A model trained for 1 epoch on 3 classes x 8 drawn symbols (checks the pipeline)."""
    root = tmp_path_factory.mktemp("symbols")
    data = _folder(root / "data", {"plus": 8, "minus": 8, "x": 8}, seed=1)
    out = root / "model" / "symbols.h5"
    code = cli.main(["train", "--data", str(data), "--epochs", "1", "--out", str(out)])
    assert code == 0
    return data, out


def test_training_saves_model_and_class_names(tiny_model):
    _, out = tiny_model
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["class_names"] == ["minus", "plus", "x"]
    assert info["trained_on"]["per_class"] == {"minus": 8, "plus": 8, "x": 8}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_predict_shows_class_names(capsys, tiny_model):
    data, out = tiny_model
    code = cli.main(["predict", "--json", "--top-k", "2", "--model", str(out), str(data / "x")])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(records) == 8
    for record in records:
        assert record["label"] in ("minus", "plus", "x") and record["digit"] == record["label"]
        assert len(record["probabilities"]) == 3
        assert all(t["digit"] in ("minus", "plus", "x") for t in record["top_k"])
    cli.main(["predict", "--model", str(out), str(data / "x" / "0.png")])
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[1] in ("minus", "plus", "x")


def test_python_api_and_read_use_class_names(tiny_model):
    from digits.predict import Predictor
    from digits.read import read_number

    data, out = tiny_model
    predictor = Predictor(out)
    assert predictor.class_names == ("minus", "plus", "x")
    prediction = predictor.predict(data / "plus" / "1.png")
    assert prediction.label in predictor.class_names
    reading = read_number(data / "plus" / "1.png", predictor)
    assert len(reading.digits) == 1 and reading.text == reading.digits[0].label
    assert reading.text in predictor.class_names
