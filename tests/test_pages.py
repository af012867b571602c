"""Numbers where people write them (issue 33), drawn here by `digits.synth.pages` from MNIST
test digits, never from the real development set: a large thin-pen photo on grey paper,
a thin 1 beside thick digits, and each setting of the pages benchmark."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from flag_inputs import mnist_on_paper

from digits.read import read_number
from digits.synth import numbers, pages


def _number(mnist, rng: np.random.Generator, count: int) -> tuple[np.ndarray, str]:
    """A separated number of ``count`` MNIST test digits: its ink alpha and text."""
    _, (x_test, y_test) = mnist
    chosen = rng.integers(0, len(x_test), count)
    alpha = numbers.compose([x_test[i] for i in chosen], rng, spacing="separated")
    return alpha, "".join(str(int(y_test[i])) for i in chosen)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_thin_pen_phone_photo_on_grey_paper_is_read(mnist, seed):
    """3000x4000 (or 4000x3000), digits 4-9% of the longer side, a pen 1-3 px wide once
    read at 1024 px: what the first look took for a blank page."""
    rng = np.random.default_rng([seed, 6])
    alpha, text = _number(mnist, rng, 6)
    photo = pages.thin_pen_photo(alpha, rng)
    assert max(photo.shape) == 4000
    reading = read_number(photo)
    assert reading.text == text, (reading.text, reading.flags, reading.reason)


def test_a_blank_grey_photo_is_still_no_number():
    """The second looks (other polarity, finer scale) find no number on grey paper alone."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        photo = pages.photographed(pages.grey_paper(rng, (3000, 4000)), rng)
        reading = read_number(photo)
        assert reading.text == "" and reading.reason.startswith("no digit found"), reading


def test_a_thin_first_1_is_read_or_flagged(mnist):
    """A 1 drawn with a 1-px pen before thicker digits (so it has a tenth of their ink):
    read whole, or flagged; never the number without its 1 and unflagged (as it was)."""
    _, (x_test, y_test) = mnist
    page = mnist_on_paper([x_test[i] for i in (1, 4, 7)], gap=40)  # 2, 4, 9: no 1 among them
    page = cv2.erode(page, np.ones((3, 3), np.uint8))  # thicker strokes
    h = page.shape[0]
    wide = np.full((h, page.shape[1] + 60), 245, np.uint8)
    wide[:, 60:] = page
    cv2.line(wide, (40, 34), (41, h - 34), 0, 1)
    expected = "1" + "".join(str(int(y_test[i])) for i in (1, 4, 7))
    reading = read_number(wide)
    assert reading.text == expected or reading.low_confidence, (reading.text, reading.flags)


@pytest.mark.parametrize("setting", [s for s in pages.SETTINGS if s != "thin_pen_photo"])
def test_each_setting_reads_its_numbers(mnist, setting):
    """Eight numbers per setting (box, cell, ruled, squared, underlined): at least seven
    read whole, none wrong without a flag."""
    rng = np.random.default_rng([7, pages.SETTINGS.index(setting)])
    right = wrong = 0
    for _ in range(8):
        alpha, text = _number(mnist, rng, int(rng.integers(2, 7)))
        reading = read_number(pages.page(alpha, rng, setting))
        right += reading.text == text
        wrong += reading.text != text and not reading.low_confidence
    assert right >= 7 and wrong == 0, (right, wrong)


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="setting must be one of"):
        pages.page(np.zeros((10, 10), np.float32), np.random.default_rng(0), "napkin")
