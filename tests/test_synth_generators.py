"""Tests of the number benchmark's generator and scorer, and of the symbols generator."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from digits.eval import numbers as evaluate_numbers
from digits.image import load_image
from digits.synth.numbers import make_set as make_number_set
from digits.synth.symbols import make


@pytest.fixture(scope="module")
def number_set(tmp_path_factory, mnist):
    _, (x_test, y_test) = mnist
    out = tmp_path_factory.mktemp("numbers")
    rows = make_number_set(out, x_test, y_test, count=6, seed=3)
    return out, rows


def test_number_set_files_and_labels(number_set):
    out, rows = number_set
    assert len(rows) == 24  # 6 numbers in each of 4 sets
    with open(out / "labels.csv", newline="") as handle:
        assert list(csv.DictReader(handle)) == rows
    for row in rows:
        assert 2 <= len(row["text"]) <= 8 and row["text"].isdigit()
        image = load_image(out / row["file"])
        if row["style"] == "canvas":
            assert row["file"].endswith(".png") and image.shape[2] == 4
            assert image[:, :, 3].min() == 0 and image[:, :, 3].max() > 200
        else:
            assert row["file"].endswith(".jpg") and image.mean() > 150  # dark on light


def _ink_blobs(path: Path) -> int:
    image = load_image(path)
    ink = image[:, :, 3] > 128 if image.ndim == 3 and image.shape[2] == 4 else None
    if ink is None:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        ink = gray < 100
    return cv2.connectedComponents(ink.astype(np.uint8))[0] - 1


def test_touching_set_touches_and_separated_set_does_not(number_set):
    out, rows = number_set
    separated = [r for r in rows if r["set"] == "separated"]
    touching = [r for r in rows if r["set"] == "touching"]
    # separated digits are at least one blob each; touching ones merge into fewer blobs
    assert all(_ink_blobs(out / r["file"]) >= len(r["text"]) for r in separated)
    assert sum(_ink_blobs(out / r["file"]) < len(r["text"]) for r in touching) >= 5


def test_overlapping_digits_merge_and_detached_ones_break_apart(number_set, mnist):
    out, rows = number_set
    overlapping = [r for r in rows if r["set"] == "overlapping"]
    detached = [r for r in rows if r["set"] == "detached"]
    assert sum(_ink_blobs(out / r["file"]) < len(r["text"]) for r in overlapping) >= 5
    # a 4 or a 5 in pieces: more blobs than digits, and every number holds a 4 or a 5
    assert all(set(r["text"]) & {"4", "5"} for r in detached)
    assert sum(_ink_blobs(out / r["file"]) > len(r["text"]) for r in detached) >= 3


def test_scores():
    assert evaluate_numbers.edit_distance("1234", "1234") == 0
    assert evaluate_numbers.edit_distance("1234", "124") == 1
    assert evaluate_numbers.edit_distance("", "12") == 2
    assert evaluate_numbers.edit_distance("1299", "1234") == 2
    rows = [
        {"text": "12", "read": "12", "low_confidence": False},
        {"text": "345", "read": "35", "low_confidence": True},
        {"text": "67", "read": "68", "low_confidence": False},
    ]
    score = evaluate_numbers.score(rows)
    assert score["whole_number_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert score["digit_accuracy"] == pytest.approx(1 - 2 / 7, abs=1e-4)
    assert score["count_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert score["low_confidence_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert score["confident_whole_number_accuracy"] == pytest.approx(0.5)


def test_held_out_script_numbers_are_drawn_by_the_benchmark_code():
    from digits.synth import glyphs

    made = list(evaluate_numbers.held_out_images(3, seed=5))
    assert [m[0] for m in made] == ["separated"] * 3 + ["touching"] * 3
    again = list(evaluate_numbers.held_out_images(3, seed=5))
    assert [m[2] for m in again] == [m[2] for m in made]  # the same seed, the same numbers
    assert all(np.array_equal(np.asarray(a[3]), np.asarray(b[3])) for a, b in zip(made, again))
    for _kind, style, text, image in made:
        assert 2 <= len(text) <= 8 and text.isdigit()
        picture = load_image(image) if style == "photo" else image
        assert picture.ndim in (2, 3) and picture.dtype == np.uint8 and picture.size > 1000
    digit = evaluate_numbers.script_digit(np.random.default_rng(0), 7)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8 and digit.max() > 200
    # the script families are the held-out ones: no outlier or training kind draws them
    assert not set(glyphs.HERSHEY_SCRIPT_FONTS) & set(glyphs.HERSHEY_FONTS)


def test_symbol_set_is_reproducible(tmp_path):
    assert make(tmp_path / "a", per_class=2, test_per_class=1, seed=7) == 45
    make(tmp_path / "b", per_class=2, test_per_class=1, seed=7)
    classes = sorted(p.name for p in (tmp_path / "a" / "train").iterdir())
    assert classes == sorted(["+", "-", "=", "slash", "x", *map(str, range(10))])
    first = (tmp_path / "a" / "test" / "x" / "0000.png").read_bytes()
    assert first == (tmp_path / "b" / "test" / "x" / "0000.png").read_bytes()
    assert first != (tmp_path / "a" / "train" / "x" / "0000.png").read_bytes()


def test_hidden_shares_say_how_much_of_a_digit_lies_under_others():
    from digits.synth.numbers import hidden_shares

    bar = np.ones((10, 4), np.float32)
    wide = np.ones((10, 12), np.float32)
    inside = hidden_shares((20, 40), [(0, 0, wide), (4, 0, bar), (30, 5, bar)])
    assert inside[1] == 1.0 and inside[2] == 0.0 and 0 < inside[0] < 0.5
    apart = hidden_shares((20, 40), [(0, 0, bar), (10, 0, bar)])
    assert apart == [0.0, 0.0]


def test_number_set_records_the_most_hidden_digit(number_set):
    _, rows = number_set
    kinds = ("separated", "overlapping")
    hidden = {s: [float(r["hidden"]) for r in rows if r["set"] == s] for s in kinds}
    assert max(hidden["separated"]) == 0.0 and min(hidden["overlapping"]) > 0.0
