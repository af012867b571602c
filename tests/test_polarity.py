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
