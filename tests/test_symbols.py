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
from digits.training.small_sets import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    chance_test,
    passes_per_round,
    plan_for,
    symbol_threshold,
)
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


def test_bad_batch_size_is_a_usage_error(capsys, tmp_path):
    code, _, err = _train(capsys, "--data", tmp_path, "--batch-size", "0")
    assert code == 2 and "positive whole number" in err


def test_plan_small_folder_gets_small_batches_and_enough_steps():
    plan = plan_for(144)  # 3 classes x 60 images, 20% held out
    assert (plan.batch_size, plan.epochs, plan.steps) == (16, 56, 504)
    assert plan.chosen == "batch size and epochs"
    assert "chosen for 144 training images" in plan.describe(144)
    large = plan_for(6000)
    assert large.batch_size == 64 and large.epochs == MIN_EPOCHS
    assert plan_for(15).batch_size == 8 and plan_for(15).epochs == MAX_EPOCHS


def test_plan_keeps_what_the_user_gives():
    plan = plan_for(144, epochs=3, batch_size=64)
    assert (plan.batch_size, plan.epochs, plan.steps, plan.chosen) == (64, 3, 9, "")
    assert plan_for(144, batch_size=64).chosen == "epochs"


def test_passes_per_round_divide_the_epochs():
    for images in (15, 48, 144, 600, 2400):
        plan = plan_for(images)
        passes = passes_per_round(plan)
        assert plan.epochs % passes == 0 and passes * plan.steps // plan.epochs <= max(
            64, plan.steps // plan.epochs
        )


def test_chance_test():
    labels = np.repeat([0, 1, 2], 12)
    assert chance_test(labels, labels).passed  # 36 of 36
    assert not chance_test(np.zeros(36, int), labels).passed  # always one class: 33%
    assert not chance_test(np.r_[labels[:16], np.full(20, 5)], labels).passed  # 16 of 36
    assert chance_test(np.r_[labels[:24], np.full(12, 5)], labels).passed  # 24 of 36
    two = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    test = chance_test(np.array([0, 1, 0, 1, 0, 1, 0, 1]), two)  # 4 of 8 at 50%
    assert not test.passed and test.chance == 0.5 and test.p_value > 0.5


def test_symbol_threshold_flags_few_right_validation_answers():
    rng = np.random.default_rng(0)
    confident = rng.uniform(0.9, 1.0, 100)
    probabilities = np.stack([confident, 1 - confident], axis=1)
    threshold = symbol_threshold(probabilities, np.zeros(100, int))
    assert 0.9 <= threshold <= 0.91 and np.mean(confident < threshold) <= 0.05


def test_unlearnable_folder_is_refused_and_nothing_written(capsys, tmp_path):
    """Two classes of the very same image cannot be told apart: a clear refusal (exit 3),
    no model file, and an existing model at --out is left as it was."""
    image = draw("+", np.random.default_rng(7))
    for name in ("a", "b"):
        for index in range(20):
            samples.save(tmp_path / "same" / name / f"{index}.png", image)
    code, out, err = _train(capsys, "--data", tmp_path / "same", "--out", tmp_path / "new.h5")
    line = _one_line_error(err)
    assert code == 3 and "not saved" in line and "no better than chance (50.0%" in line
    assert "nothing was written" in line and "settings: batch size 8" in out
    assert not list(tmp_path.glob("new*")) and not list(tmp_path.glob(".new*"))
    old = tmp_path / "old.h5"
    old.write_bytes(b"a good model")
    old.with_suffix(".json").write_text("{}")
    code, _, err = _train(capsys, "--data", tmp_path / "same", "--out", old, "--epochs", "10")
    assert code == 3 and f"{old} was left as it was" in _one_line_error(err)
    assert old.read_bytes() == b"a good model" and old.with_suffix(".json").read_text() == "{}"


def test_too_small_validation_split_says_so(capsys, tmp_path):
    data = _folder(tmp_path / "data", {"plus": 5, "minus": 5})
    code, _, err = _train(capsys, "--data", data, "--out", tmp_path / "m.h5", "--epochs", "1")
    line = _one_line_error(err)
    assert code == 3 and "validation split (2 images) is too small" in line
    assert not list(tmp_path.glob("*m.h5*"))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """3 classes x 60 drawn symbols trained with DEFAULT settings, as the issue's user did,
    and 30 new drawings per class from another seed."""
    root = tmp_path_factory.mktemp("symbols")
    data = _folder(root / "data", {"plus": 60, "minus": 60, "x": 60}, seed=1)
    new = _folder(root / "new", {"plus": 30, "minus": 30, "x": 30}, seed=2)
    out = root / "model" / "symbols.h5"
    code = cli.main(["train", "--data", str(data), "--out", str(out)])
    assert code == 0
    return data, new, out


def test_default_settings_learn_a_small_folder(small_model):
    from digits.predict import Predictor

    _, new, out = small_model
    predictor = Predictor(out)
    paths = sorted(new.rglob("*.png"))
    predictions = predictor.predict_many(paths)
    right = [p.label == path.parent.name for p, path in zip(predictions, paths)]
    assert np.mean(right) >= 0.95, np.mean(right)


def test_sidecar_holds_classes_settings_and_threshold(small_model):
    from digits.predict import Predictor

    _, _, out = small_model
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["class_names"] == ["minus", "plus", "x"]
    trained = info["trained_on"]
    assert sum(trained["per_class"].values()) == trained["images"] > 170
    assert (trained["batch_size"], trained["chosen"]) == (16, "batch size and epochs")
    assert trained["val_accuracy"] > trained["val_chance"] and trained["val_p_value"] < 0.01
    assert 0.5 <= info["low_confidence"] < 1.0 and "validation" in info["low_confidence_rule"]
    assert Predictor(out).low_confidence == info["low_confidence"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files


def test_predict_prints_labels_not_digits(capsys, small_model):
    data, _, out = small_model
    code = cli.main(["predict", "--json", "--top-k", "2", "--model", str(out), str(data / "x")])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(records) == 60
    for record in records:
        assert "digit" not in record and "not_a_digit" not in record
        assert record["label"] in ("minus", "plus", "x", None)
        if record["label"] is not None:
            assert len(record["probabilities"]) == 3
            assert all(set(t) == {"label", "probability"} for t in record["top_k"])
    cli.main(["predict", "--model", str(out), str(data / "x" / "0.png")])
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:2] == ["path", "label"] and row.split()[1] == "x"


def test_digit_detector_is_not_applied_to_symbol_models(monkeypatch, small_model):
    """With a detector that flags everything, a digit model's answers are all flagged
    "not a digit" and a symbol model's are not."""
    import digits.predict as predict

    data, _, out = small_model
    monkeypatch.setattr(
        predict,
        "_nondigit_levels",
        lambda images, answers, path=None: np.full(len(images), 2, np.int8),
    )
    paths = sorted((data / "plus").glob("*.png"))[:10]
    symbols = predict.Predictor(out).predict_many(paths)
    assert not any(p.not_a_digit for p in symbols)
    assert sum(not p.low_confidence for p in symbols) >= 8
    digits_ = predict.Predictor().predict_many(paths)
    assert all(p.not_a_digit and p.low_confidence for p in digits_ if p.label is not None)


def test_own_threshold_flags_handwritten_digits(small_model, rendered_digits):
    """Handwritten digits are none of +, - and x: most are flagged low confidence by the
    symbol model's own threshold, while few new drawings of its classes are."""
    from digits.predict import Predictor

    _, new, out = small_model
    predictor = Predictor(out)
    digits_ = predictor.predict_many([image for image, _ in rendered_digits])
    in_class = predictor.predict_many(sorted(new.rglob("*.png")))
    flagged_digits = np.mean([p.low_confidence for p in digits_])
    flagged_own = np.mean([p.low_confidence for p in in_class])
    assert flagged_digits >= 0.5 and flagged_own <= 0.15, (flagged_digits, flagged_own)


def test_python_api_and_read_use_class_names(small_model):
    from digits.predict import Predictor
    from digits.read import read_number

    data, _, out = small_model
    predictor = Predictor(out)
    assert predictor.class_names == ("minus", "plus", "x")
    prediction = predictor.predict(data / "plus" / "1.png")
    assert prediction.label == "plus" and prediction.digit == "plus"
    reading = read_number(data / "plus" / "1.png", predictor)
    assert len(reading.digits) == 1 and reading.text == reading.digits[0].label == "plus"
