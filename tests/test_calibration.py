"""Tests of digits.training.calibration: temperature fit, ECE, threshold choice, sidecar default."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from digits.predict import LOW_CONFIDENCE, Predictor, calibrate
from digits.runtime.modelfile import UnverifiedModelWarning, write_info
from digits.training import calibration


def synthetic(temperature: float, n: int = 20000, seed: int = 0):
    """Probabilities whose labels are drawn from softmax(logits), then sharpened or
    softened by ``temperature``: the right fit is ``temperature``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, size=(n, 10))
    true = np.exp(logits - logits.max(axis=1, keepdims=True))
    true /= true.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in true])
    return calibrate(true.astype(np.float32), 1.0 / temperature), labels


@pytest.mark.parametrize("temperature", [0.6, 1.0, 2.5])
def test_fit_temperature_recovers_the_miscalibration(temperature):
    probabilities, labels = synthetic(temperature)
    fitted = calibration.fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(temperature, rel=0.08)
    before = calibration.expected_calibration_error(probabilities, labels)
    after = calibration.expected_calibration_error(calibrate(probabilities, fitted), labels)
    assert after < 0.02
    if temperature != 1.0:
        assert after < before


def test_ece_and_reliability_by_hand():
    # Two answers at confidence 0.9 (one right), two at 0.6 (both right).
    probabilities = np.full((4, 10), 0.0, dtype=np.float32)
    probabilities[:2, 0], probabilities[:2, 1] = 0.9, 0.1
    probabilities[2:, 3], probabilities[2:, 4] = 0.6, 0.4
    labels = np.array([0, 1, 3, 3])
    table = calibration.reliability(probabilities, labels)
    assert sum(table["count"]) == 4
    # |0.5 - 0.9| * 2/4 + |1.0 - 0.6| * 2/4 = 0.4
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(0.4)


def test_uncalibrate_undoes_calibrate():
    probabilities, _ = synthetic(1.0, n=50)
    again = calibration.uncalibrate(calibrate(probabilities, 0.7), 0.7)
    np.testing.assert_allclose(again, probabilities, atol=1e-5)


def test_choose_threshold_flags_at_most_the_allowed_share_of_right_answers():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.3, 1.0, 5000)
    correct = rng.random(5000) < confidence
    t = calibration.choose_threshold(confidence, correct, 0.01)
    flagged_right = ((confidence < t) & correct).sum() / correct.sum()
    assert flagged_right <= 0.01
    assert ((confidence < t + 0.02) & correct).sum() / correct.sum() > 0.01  # highest such
    (row,) = calibration.threshold_tradeoff(confidence, correct, [t])
    assert row["right_flagged"] == pytest.approx(flagged_right, abs=1e-4)
    assert 0 < row["wrong_flagged"] < 1


def test_reliability_diagram_is_written(tmp_path):
    probabilities, labels = synthetic(2.0, n=500)
    path = calibration.save_reliability_diagram(
        [("a", probabilities, calibrate(probabilities, 2.0), labels)], tmp_path / "r.png"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predictor_takes_threshold_and_temperature_from_the_sidecar(tmp_path, small_model_path):
    model = shutil.copy(small_model_path, tmp_path / "m.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        assert Predictor(model).low_confidence == LOW_CONFIDENCE
    write_info(model, temperature=0.5, low_confidence=0.87)
    predictor = Predictor(model)
    assert predictor.low_confidence == 0.87 and predictor.info.temperature == 0.5
    assert Predictor(model, low_confidence=0.3).low_confidence == 0.3  # the caller's wins
