"""Tests of the non-digit detector (digits/runtime/ood.py) and its flag on predictions."""

from __future__ import annotations

import numpy as np
import pytest

from digits.runtime.ood import NondigitDetector, nondigit_scores
from digits.synth import nondigits, samples


def _rendered(item: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    options, _, _ = samples.variant("clean", rng)
    return samples.render(nondigits.item_image(item, rng), rng, **options)


def test_detector_loads_and_scores_in_unit_range(mnist):
    (x_train, _), _ = mnist
    detector = NondigitDetector.load()
    scores = detector.scores(x_train[-500:] / 255.0)
    assert scores.shape == (500,) and ((scores >= 0) & (scores <= 1)).all()
    assert 0 < detector.threshold < 1
    assert np.mean(scores > detector.threshold) <= 0.02  # digits pass
    assert np.allclose(nondigit_scores(x_train[-5:] / 255.0), scores[-5:])


@pytest.mark.parametrize("item", ["triangle", "square", "face", "A", "#", "$", "@", "&"])
def test_the_issues_non_digits_are_flagged(item, predictor):
    """Items of issue 18 that scored > 0.9 without the detector (fresh drawings)."""
    flags = [predictor.predict(_rendered(item, seed)) for seed in range(3)]
    assert sum(p.digit is None or p.not_a_digit for p in flags) >= 2, flags


def test_digits_are_not_flagged_and_flag_reaches_json(predictor, rendered_digits):
    predictions = predictor.predict_many([image for image, _ in rendered_digits])
    assert sum(p.not_a_digit for p in predictions) <= 1
    assert all("not_a_digit" not in p.to_dict() for p in predictions if not p.not_a_digit)
    flagged = predictor.predict(_rendered("square", 0))
    assert flagged.not_a_digit and flagged.low_confidence
    assert flagged.to_dict()["not_a_digit"] is True


def test_a_missing_detector_file_only_warns(predictor, rendered_digits, monkeypatch):
    def missing(cls, path=None):
        raise FileNotFoundError("nondigit_detector.npz")

    monkeypatch.setattr(NondigitDetector, "load", classmethod(missing))
    with pytest.warns(RuntimeWarning, match="not checked"):
        prediction = predictor.predict(rendered_digits[0][0])
    assert prediction.digit == rendered_digits[0][1] and not prediction.not_a_digit
