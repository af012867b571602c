"""lab.number_confidence: how the number-confidence threshold is chosen."""

from __future__ import annotations

import pytest

from lab.number_confidence import CANDIDATES, choose, main, rates


def _row(kind, right, low, confidences):
    read = "1" if right else "2"
    return {
        "set": kind,
        "text": "1",
        "read": read,
        "low_confidence": low,
        "confidences": confidences,
    }


def test_rates_count_a_product_under_the_threshold_as_flagged():
    rows = [
        _row("a", False, False, [0.98, 0.98]),  # 0.9604 together
        _row("a", True, False, [0.99]),
        _row("b", False, True, [1.0]),
    ]
    off = rates(rows, 0.0)
    assert (off["a"]["confidently_wrong_rate"], off["a"]["low_confidence_rate"]) == (0.5, 0.0)
    assert (off["b"]["confidently_wrong_rate"], off["b"]["low_confidence_rate"]) == (0.0, 1.0)
    on = rates(rows, 0.97)["a"]
    assert (on["confidently_wrong_rate"], on["low_confidence_rate"]) == (0.0, 0.5)


def test_the_lowest_candidate_that_holds_in_every_draw_wins():
    def draw(worst_at):  # wrong and unflagged 2% below ``worst_at``, 0.5% from it on
        return {
            str(c): {"k": {"confidently_wrong_rate": 0.02 if c < worst_at else 0.005}}
            for c in CANDIDATES
        }

    assert choose({"7": draw(0.95), "8": draw(0.97)}, most=0.01) == 0.97
    assert choose({"7": draw(0.9)}, most=0.01) == 0.9
    assert choose({"7": draw(1.0)}, most=0.01) is None


def test_the_benchmark_seed_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--seeds", "7", "16"])
    assert "benchmark" in capsys.readouterr().err
