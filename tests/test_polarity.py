"""White-on-black input, as MNIST itself is stored and as people draw on a dark canvas.

A bright closed stroke on a dark ground (the ring of a 0) once passed for a sheet of
paper, so its black hole was read as the ink: MNIST test zeros saved as PNGs came back
as "1". These inputs come from no generator of the project's: MNIST's own format, and
digits typeset in OpenCV's Hershey fonts.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digits.image import to_model_input
from digits.predict import Predictor

FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX]


@pytest.fixture(scope="module")
def shipped():
    return Predictor()


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def test_mnist_format_zeros_are_zeros(shipped, mnist):
    """MNIST test zeros as plain 28x28 PNGs, white on black (45% wrong before)."""
    _, (x_test, y_test) = mnist
    zeros = x_test[y_test == 0][:150]
    digits = [p.digit for p in shipped.predict_many([_png(z) for z in zeros])]
    assert np.mean(np.array(digits) == 0) >= 0.98
    assert not to_model_input(_png(zeros[0])).inverted


@pytest.mark.parametrize("side", [28, 280])
def test_mnist_format_both_polarities(shipped, mnist, side):
    _, (x_test, y_test) = mnist
    images = [cv2.resize(x, (side, side), interpolation=cv2.INTER_CUBIC) for x in x_test[:300]]
    for polarity in (images, [255 - image for image in images]):
        digits = [p.digit for p in shipped.predict_many([_png(image) for image in polarity])]
        assert np.mean(np.array(digits) == y_test[:300]) >= 0.98


@pytest.mark.parametrize("digit", "0689")
def test_large_white_on_black_drawings(shipped, digit):
    """Closed loops drawn thick and white on a black 280x280 canvas."""
    for font in FONTS:
        canvas = np.zeros((280, 280), np.uint8)
        cv2.putText(canvas, digit, (70, 220), font, 7, 255, 18, cv2.LINE_AA)
        assert shipped.predict(canvas).digit == int(digit), font


def _in_shadow(digit: np.ndarray, cover: float, light: float = 0.5) -> np.ndarray:
    """A dark MNIST digit on grey paper, inside a shadow (``light`` times as bright) over
    the left ``cover`` of the page, with a sharp edge: no generator of the project's
    casts a shadow this large or this sharp."""
    xx = np.mgrid[0:300, 0:400][1]
    shade = 1 - (1 - light) / (1 + np.exp(-(cover * 400 - xx) / 8.0))
    ink = np.zeros((300, 400))
    ink[90:210, 60:180] = cv2.resize(digit, (120, 120)) / 255.0
    return (np.clip(0.92 * shade * (1 - 0.75 * ink), 0, 1) * 255).astype(np.uint8)


def test_a_digit_in_a_shadow_over_most_of_the_page(shipped, mnist):
    """The shadow shifts the global median: the lit paper passed for the ink, and 29 of
    40 digits were lost or wrong. The local median keeps the polarity in doubt, and the
    other polarity is read on a second look."""
    _, (x_test, y_test) = mnist
    answers = shipped.predict_many([_in_shadow(x, 0.65) for x in x_test[:40]])
    assert np.mean([a.digit == y for a, y in zip(answers, y_test[:40])]) >= 0.8
    assert not any(a.digit is None or a.not_a_digit for a in answers)
    assert sum("second_look" in a.flags for a in answers) >= 20  # and they say so


@pytest.mark.parametrize("cover", [0.3, 0.65, 0.8])
def test_a_blank_page_in_a_shadow_has_no_digit(shipped, cover):
    blank = _in_shadow(np.zeros((28, 28), np.uint8), cover)
    answer = shipped.predict(blank)
    assert answer.digit is None or answer.not_a_digit
