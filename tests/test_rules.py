"""`digits.image.rules`: borders, cells and underlines are taken out of a number's ink,
and digits are not. The pages are drawn here from MNIST test digits (never from the real
development set): a number in a cell cut loosely from a ruled table, and underlined."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from flag_inputs import mnist_on_paper

from digits.image.rules import strip_rules
from digits.read import read_number

#: x_test indices: 7, 2, 1, 0, 4 (the first MNIST test digits).
NUMBER = [0, 1, 2, 3, 4]


def _page(mnist, picks) -> tuple[np.ndarray, str]:
    _, (x_test, y_test) = mnist
    page = mnist_on_paper([x_test[i] for i in picks])
    return page, "".join(str(int(y_test[i])) for i in picks)


def _cell(page: np.ndarray, sides: str, width: int = 3, dashed: bool = False) -> np.ndarray:
    """``page`` with table borders on ``sides`` (of "lrtb"), drawn near its edges."""
    out, (h, w) = page.copy(), page.shape
    ends = {"l": ((3, 0), (5, h)), "r": ((w - 5, 0), (w - 4, h)),
            "t": ((0, 4), (w, 3)), "b": ((0, h - 6), (w, h - 4))}  # fmt: skip
    for side in sides:
        cv2.line(out, *ends[side], 70, width)
    if dashed:
        out[:, ::9][out[:, ::9] < 100] = 245  # gaps across horizontal lines
        out[::9][out[::9] < 100] = 245
    return out


@pytest.mark.parametrize("sides", ["r", "rb", "lrtb", "lb"])
def test_a_number_in_a_cell_is_read_without_its_borders(mnist, sides):
    page, expected = _page(mnist, NUMBER[:3])
    assert read_number(_cell(page, sides)).text == expected


def test_a_dashed_border_is_not_a_digit(mnist):
    page, expected = _page(mnist, NUMBER[:2])
    assert read_number(_cell(page, "lr", width=2, dashed=True)).text == expected


def test_an_underlined_number_is_read(mnist):
    page, expected = _page(mnist, NUMBER)
    h, w = page.shape
    cv2.line(page, (10, h - 18), (w - 10, h - 20), 60, 3)
    assert read_number(page).text == expected


def test_digits_alone_are_kept():
    """A tight "11" (two strokes as tall as the image, at its sides) and a "1-" have no
    lines: nothing is longer than the digits beside it."""
    ones = np.zeros((40, 30), np.uint8)
    ones[2:38, 2:5] = ones[2:38, 25:28] = 1
    assert np.array_equal(strip_rules(ones), ones)
    dash = np.zeros((40, 80), np.uint8)
    dash[5:35, 10:13] = 1
    dash[19:22, 30:70] = 1
    assert np.array_equal(strip_rules(dash), dash)
