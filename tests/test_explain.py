"""Tests of digits.explain: occlusion saliency and the notes shown to a person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digits.explain import (
    boxes_overlay,
    enlarge,
    explain,
    no_digit_text,
    occlusion_saliency,
    saliency_overlay,
)
from digits.predict import Prediction

ROOT = Path(__file__).resolve().parent.parent


class InkInBox:
    """A fake model: P(digit 1) grows with the ink inside rows/columns 8-15 only."""

    low_confidence = 0.6

    def __init__(self):
        self.calls = 0

    def predict_inputs(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        x = np.asarray(x).reshape(-1, 28, 28)
        p1 = 0.1 + 0.8 * x[:, 8:16, 8:16].mean(axis=(1, 2))
        out = np.repeat(((1 - p1) / 9)[:, None], 10, axis=1)
        out[:, 1] = p1
        return out.astype(np.float32)


def test_saliency_marks_the_pixels_the_model_uses():
    model = InkInBox()
    saliency = occlusion_saliency(model, np.ones((28, 28), dtype=np.float32))
    assert model.calls == 1  # one batched call
    assert saliency.shape == (28, 28) and saliency.dtype == np.float32
    assert saliency[8:16, 8:16].min() > 0.01
    assert np.all(saliency[:4, :] == 0) and np.all(saliency[:, 22:] == 0)
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert 8 <= row < 16 and 8 <= col < 16


def test_saliency_of_another_digit_and_bad_settings():
    model = InkInBox()
    image = np.ones((28, 28), dtype=np.float32)
    # Removing ink lowers P(1), so it raises the other digits' probabilities.
    assert occlusion_saliency(model, image, digit=0)[12, 12] < 0
    with pytest.raises(ValueError):
        occlusion_saliency(model, image, patch=0)
    with pytest.raises(ValueError):
        occlusion_saliency(model, image, patch=3, stride=5)


def test_overlay_is_an_enlarged_rgb_image():
    saliency = np.zeros((28, 28), dtype=np.float32)
    saliency[5, 7] = 2.0
    overlay = saliency_overlay(np.zeros((28, 28)), saliency, scale=4)
    assert overlay.shape == (112, 112, 3) and overlay.dtype == np.uint8
    assert tuple(overlay[5 * 4, 7 * 4]) == (255, 0, 0)
    assert tuple(overlay[0, 0]) == (0, 0, 0)
    big = enlarge(np.eye(28, dtype=np.float32), scale=3)
    assert big.shape == (84, 84) and big.dtype == np.uint8
    assert big[2, 2] == 255 and big[3, 2] == 0 and big[3, 3] == 255


def test_boxes_overlay_draws_red_boxes_on_a_copy():
    gray = np.full((100, 200), 255, dtype=np.uint8)
    drawn = boxes_overlay(gray, [(20, 30, 40, 50)], ["7"])
    pad = drawn.shape[0] - 100  # the white band for the labels
    assert drawn.shape[1:] == (200, 3) and pad > 0 and gray.min() == 255  # input untouched
    red = (255, 0, 0)
    assert tuple(drawn[pad + 30, 40]) == red and tuple(drawn[pad + 79, 40]) == red
    assert tuple(drawn[pad + 55, 40]) == (255, 255, 255)  # inside the box
    assert (drawn[: pad + 29, 20:60] != 255).any()  # the label, above the box
    at_top = boxes_overlay(gray, [(20, 0, 40, 50)], ["7"])
    assert (at_top[:pad, 20:60] != 255).any()  # ... in the white band for a box at the top
    transparent = np.zeros((50, 50, 4), dtype=np.uint8)
    assert tuple(boxes_overlay(transparent, [], [])[-1, 0]) == (255, 255, 255)


def test_not_a_digit_note():
    class Flagged(InkInBox):
        def predict(self, image):
            p = [0.02] * 10
            p[4] = 0.82
            return Prediction(4, 0.82, tuple(p), True, not_a_digit=True)

    result = explain(Flagged(), np.zeros((28, 28)), saliency=False)
    assert result.note.kind == "not_a_digit" and "rather than a digit" in result.note.text


@pytest.fixture(scope="module")
def shipped():
    from digits.predict import Predictor

    return Predictor()


def test_explain_a_real_digit(shipped):
    result = explain(shipped, ROOT / "digit_examples" / "3_a.png")
    assert result.prediction.digit == 3 and result.note.kind == "ok"
    assert result.seconds > 0 and result.saliency.shape == (28, 28)
    # The most important pixels are on the digit's ink, not on the black background.
    image = result.prediction.preprocessed.image
    top = np.argsort(result.saliency.ravel())[-20:]
    assert image.ravel()[top].mean() > 0.3


def test_explain_notes_for_bad_inputs(shipped):
    unreadable = explain(shipped, b"not an image at all")
    assert unreadable.note.kind == "unreadable" and unreadable.saliency is None
    blank = explain(shipped, np.full((60, 60), 255, dtype=np.uint8))
    assert blank.note.kind == "no_digit" and blank.prediction.digit is None
    assert (
        blank.note.text.startswith("No digit found: ") and "found: no digit" not in blank.note.text
    )
    noise = np.random.default_rng(0).integers(0, 256, (60, 60), dtype=np.uint8)
    assert explain(shipped, noise).note.kind in ("no_digit", "low_confidence", "not_a_digit")


def test_several_digits_note(shipped):
    canvas = np.full((200, 400), 250, dtype=np.uint8)
    for x in (90, 290):  # two '1's side by side
        canvas[40:160, x : x + 14] = 20
    result = explain(shipped, canvas, saliency=False)
    assert result.prediction.several_digits
    assert result.note.kind == "several_digits" and "Number mode" in result.note.text


def test_no_digit_text_states_the_reason_once():
    assert no_digit_text("no digit found: no ink") == "No digit found: no ink"
    assert no_digit_text("no digit found: only specks", "number") == "No number found: only specks"
    assert no_digit_text(None) == "No digit found."
