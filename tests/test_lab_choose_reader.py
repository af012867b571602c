"""lab.choose_reader: the rule that picks a sequence reader, and its scores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.choose_reader import main, score, verdict


def test_a_candidate_worse_in_one_kind_loses():
    current = {"separated": {"whole": 0.968}, "touching": {"whole": 0.90}}
    assert verdict({"separated": {"whole": 0.968}, "touching": {"whole": 0.90}}, current)
    assert not verdict({"separated": {"whole": 0.99}, "touching": {"whole": 0.898}}, current)


def test_score_counts_wrong_and_unflagged_only():
    rows = [
        {"set": "b", "file": "1", "text": "12"},
        {"set": "a", "file": "2", "text": "34"},
        {"set": "a", "file": "3", "text": "56"},
    ]
    answers = {"1": ("12", False), "2": ("35", False), "3": ("55", True)}
    read = lambda path: SimpleNamespace(  # noqa: E731
        text=answers[path.name][0], low_confidence=answers[path.name][1]
    )
    kinds = score(rows, Path("/x"), read)
    assert list(kinds) == ["b", "a"]  # in the set's order
    assert kinds["b"] == {"numbers": 1, "whole": 1.0, "confidently_wrong": 0.0, "flagged": 0.0}
    assert kinds["a"] == {"numbers": 2, "whole": 0.0, "confidently_wrong": 0.5, "flagged": 0.5}


def test_the_benchmark_seed_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["reader.tflite", "--seed", "16"])
    assert "benchmark" in capsys.readouterr().err
