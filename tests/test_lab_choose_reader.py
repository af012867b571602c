"""lab.choose_reader: the rule that picks a sequence reader, and its scores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.choose_reader import by_kind, main, read_all, verdict


def _whole(value: float) -> dict:
    return {"whole_number_accuracy": value}


def test_a_candidate_worse_in_one_kind_loses():
    current = {"separated": _whole(0.968), "touching": _whole(0.90)}
    assert verdict({"separated": _whole(0.968), "touching": _whole(0.90)}, current)
    assert not verdict({"separated": _whole(0.99), "touching": _whole(0.898)}, current)


def test_scores_count_wrong_and_unflagged_only():
    rows = [
        {"set": "b", "file": "1", "text": "12"},
        {"set": "a", "file": "2", "text": "34"},
        {"set": "a", "file": "3", "text": "56"},
    ]
    answers = {"1": ("12", False), "2": ("35", False), "3": ("55", True)}

    def read(path):
        text, low = answers[path.name]
        digits = [SimpleNamespace(confidence=0.9)] * len(text)
        return SimpleNamespace(text=text, low_confidence=low, digits=digits)

    read_rows = read_all(rows, Path("/x"), read)
    assert read_rows[1]["confidences"] == [0.9, 0.9]
    kinds = by_kind(read_rows)
    assert list(kinds) == ["b", "a"]  # in the set's order
    pick = ("numbers", "whole_number_accuracy", "confidently_wrong_rate", "low_confidence_rate")
    assert [kinds["b"][k] for k in pick] == [1, 1.0, 0.0, 0.0]
    assert [kinds["a"][k] for k in pick] == [2, 0.0, 0.5, 0.5]


def test_the_benchmark_seed_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["reader.tflite", "--seed", "16"])
    assert "benchmark" in capsys.readouterr().err
