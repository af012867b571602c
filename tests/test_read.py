"""Tests of digits.read (segmentation and reading of numbers) and `digits read`.

Numbers are built from MNIST test digits with known positions; the shipped model reads
them (segmentation is judged by count, order and boxes, which do not depend on the model
being perfect, and by the text where the digits are clear).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest

from digits import read
from digits.apps import cli
from digits.image.marks import Mark, lines
from digits.predict import Predictor, default_model_path
from digits.read import NumberReading, read_number
from digits.synth import samples


@pytest.fixture(scope="module")
def shipped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Predictor(default_model_path())


@pytest.fixture(scope="module")
def clear_digits(mnist, shipped):
    """One MNIST test digit per class that the shipped model reads with >= 0.99 confidence
    when alone: {digit: uint8 28x28}."""
    _, (x_test, y_test) = mnist
    out = {}
    for index in range(300):
        label = int(y_test[index])
        if label in out:
            continue
        probabilities = shipped.predict_inputs(x_test[index : index + 1] / 255.0)[0]
        if int(np.argmax(probabilities)) == label and probabilities.max() >= 0.99:
            out[label] = x_test[index]
    assert len(out) == 10
    return out


def ink_of(digit: np.ndarray, height: int) -> np.ndarray:
    """A 28x28 MNIST digit as ink (float 0-1) cropped to its strokes, 20 px -> height."""
    side = int(round(28 * height / 20))
    big = cv2.resize(digit.astype(np.float32) / 255, (side, side), interpolation=cv2.INTER_CUBIC)
    big = np.clip((big - 0.3) / 0.4, 0, 1)
    rows = np.flatnonzero(big.max(axis=1) > 0.05)
    cols = np.flatnonzero(big.max(axis=0) > 0.05)
    return big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def page(inks: list[np.ndarray], gaps: list[int], height: int = 200) -> np.ndarray:
    """Dark ink on white paper, the inks left to right separated by ``gaps`` px (negative:
    overlapping boxes); returns uint8 gray."""
    width = sum(i.shape[1] for i in inks) + sum(gaps) + 120
    alpha = np.zeros((height, width), np.float32)
    x = 60
    for index, ink in enumerate(inks):
        top = (height - ink.shape[0]) // 2
        region = alpha[top : top + ink.shape[0], x : x + ink.shape[1]]
        np.maximum(region, ink, out=region)
        x += ink.shape[1] + (gaps[index] if index < len(gaps) else 0)
    return np.round(255 * (0.95 - 0.85 * alpha)).astype(np.uint8)


def test_reads_separated_digits_in_order(clear_digits, shipped):
    text = "4071"
    image = page([ink_of(clear_digits[int(c)], 80) for c in text], [40, 30, 50])
    reading = read_number(image, shipped)
    assert isinstance(reading, NumberReading)
    assert reading.text == text and reading.reason is None
    assert not reading.low_confidence
    lefts = [d.box[0] for d in reading.digits]
    assert lefts == sorted(lefts)
    for digit in reading.digits:
        x, y, w, h = digit.box
        assert 70 <= h <= 95 and 0 < w <= h and 50 <= y + h / 2 <= 150


def test_order_follows_x_not_height(clear_digits, shipped):
    """A digit higher on the line (baseline jitter) still reads in left-to-right order."""
    inks = [ink_of(clear_digits[d], 70) for d in (2, 5, 8)]
    image = page(inks, [35, 35], height=260)
    shifted = np.full_like(image, image[0, 0])
    shifted[:] = image
    # move the middle digit up by 40 px
    x0 = 60 + inks[0].shape[1] + 35
    x1 = x0 + inks[1].shape[1]
    shifted[:, x0:x1] = np.roll(image[:, x0:x1], -40, axis=0)
    assert read_number(shifted, shipped).text == "258"


def test_broken_strokes_of_one_digit_are_merged(clear_digits, shipped):
    """A 5 whose top bar is lifted off (a gap cut through its ink) is one digit."""
    five = ink_of(clear_digits[5], 90).copy()
    rows = np.flatnonzero(five.max(axis=1) > 0.5)
    cut = rows[0] + int(0.3 * (rows[-1] - rows[0]))
    five[cut : cut + 5] = 0  # a 5-px gap across the digit
    image = page([ink_of(clear_digits[3], 90), five, ink_of(clear_digits[7], 90)], [40, 40])
    count, _ = cv2.connectedComponents((image < 128).astype(np.uint8))
    assert count - 1 >= 4, "the constructed 5 should be in two pieces"
    reading = read_number(image, shipped)
    assert len(reading.digits) == 3
    assert reading.text[0] == "3" and reading.text[2] == "7"


def _mark(x0: int, x1: int, y0: int = 0, y1: int = 50) -> Mark:
    return Mark(x0, y0, x1, y1, [x0])


def test_marks_are_grouped_by_the_digits_the_sequence_read():
    spans = [_mark(0, 40), _mark(50, 90)]
    marks = [_mark(0, 38), _mark(55, 70), _mark(72, 88)]  # a 5 and its lifted bar
    assert read._grouped(marks, spans) == [[marks[0]], marks[1:]]
    assert read._grouped([_mark(0, 90)], spans) is None  # one mark across two digits
    # a narrow digit inside a wide one's mark: they touch, whatever the shares say
    assert read._grouped([_mark(0, 60)], [_mark(0, 10), _mark(12, 60)]) is None
    # a digit read where there is no mark: its group is empty
    assert read._grouped([_mark(0, 40)], [_mark(0, 40), _mark(100, 120)]) == [[_mark(0, 40)], []]
    assert read._grouped([_mark(0, 40)], []) is None


def test_a_mark_reaching_into_two_bands_joins_them():
    """A 4's lifted stem sits above a 5's bar, lower than both digits' tops: one line."""
    four, bar, body = _mark(33, 86, 37, 103), _mark(151, 180, 42, 50), _mark(124, 150, 50, 84)
    assert lines([four, bar, body], 34.0) == [[four, body, bar]]


def test_lifted_strokes_are_not_extra_digits(mnist, shipped):
    """MNIST test 4s and 5s drawn in separate strokes, between clear digits: each is one."""
    from digits.synth.numbers import detached_pool

    _, (x_test, y_test) = mnist
    pool = detached_pool(x_test, y_test)
    sure = shipped.predict_inputs(x_test[pool][..., None] / 255.0).max(axis=1) >= 0.99
    right = 0
    for index in pool[sure][:6]:
        image = page([ink_of(x_test[3], 80), ink_of(x_test[index], 80)], [35])
        text = str(int(y_test[3])) + str(int(y_test[index]))
        reading = read_number(image, shipped)
        assert len(reading.digits) == 2, (index, reading.text)
        right += reading.text == text
    assert right >= 5


class _Judge:
    """A predictor stand-in whose not-a-digit detector gives fixed levels."""

    def __init__(self, levels):
        self.given = np.array(levels)

    def levels(self, images, probabilities):
        assert len(images) == len(probabilities) == len(self.given)
        return self.given


def _digits_read(count: int, with_images: bool = True) -> NumberReading:
    image = np.zeros((28, 28), np.float32) if with_images else None
    digits = tuple(
        read.DigitReading(7, 0.99, (10 * i, 0, 8, 20), False, (0.1,) * 10, image)
        for i in range(count)
    )
    return NumberReading("7" * count, digits, False, image_size=(100, 40))


def test_the_detector_judges_the_digits_read_from_marks():
    from digits.runtime.ood import DIGIT, DOUBT, NOT_A_DIGIT

    reading = _digits_read(2)
    assert read._checked(reading, _Judge([DIGIT, DIGIT])) == reading
    assert read._checked(reading, _Judge([DIGIT, DOUBT])).low_confidence
    assert read._checked(reading, _Judge([NOT_A_DIGIT, DIGIT])).text == "77"
    none = read._checked(reading, _Judge([NOT_A_DIGIT, NOT_A_DIGIT]))
    assert none.text == "" and "do not look like digits" in none.reason
    assert read._checked(_digits_read(2, with_images=False), _Judge([])) == _digits_read(2, False)
    assert read._checked(reading, _SymbolModel()) == reading  # own symbols: no detector


def test_digits_sure_alone_but_not_together_flag_the_line():
    """Each digit at 0.99: two are 0.98 sure together, four only 0.96 (< 0.97)."""
    assert read._sure_enough(_digits_read(2)) == _digits_read(2)
    assert read._sure_enough(_digits_read(3)) == _digits_read(3)  # 0.9703
    four = read._sure_enough(_digits_read(4))
    assert four.low_confidence and four.text == "7777" and four.digits == _digits_read(4).digits
    empty = NumberReading("", (), True, reason="no number found", image_size=(9, 9))
    assert read._sure_enough(empty) == empty


def test_letters_and_photos_are_rarely_confident_numbers(shipped):
    """Kinds no part of the project trains or tunes on (held-out outlier kinds)."""
    from digits.synth import outliers

    for kind, most in (("script_letters", 5), ("natural_photos", 1)):
        readings = [read_number(p, shipped) for p in outliers.pictures(kind, 40, seed=3)]
        confident = [r.text for r in readings if r.text and not r.low_confidence]
        assert len(confident) <= most, (kind, confident)


def test_touching_pair_is_split(clear_digits, shipped):
    """Two digits whose strokes touch (one connected blob) are read as two digits."""
    zero, six = ink_of(clear_digits[0], 90), ink_of(clear_digits[6], 90)
    image = page([zero, six], [-6])
    count, _ = cv2.connectedComponents((image < 128).astype(np.uint8))
    assert count - 1 == 1, "the constructed pair should be one connected blob"
    for method in ("sequence", "segment"):
        reading = read_number(image, shipped, method=method)
        assert len(reading.digits) == 2
        assert reading.digits[0].box[0] < reading.digits[1].box[0]
        assert reading.text == "06"
    assert reading.low_confidence  # the segmenter alone cut digits apart: a second look


def test_light_on_dark_and_transparent_canvas(clear_digits, shipped):
    text = "93"
    image = page([ink_of(clear_digits[int(c)], 60) for c in text], [30])
    assert read_number(255 - image, shipped).text == text  # chalk on a board
    canvas = np.zeros((*image.shape, 4), np.uint8)  # black ink on a transparent canvas
    canvas[:, :, 3] = np.clip((0.95 * 255 - image.astype(np.float32)) / 0.85, 0, 255)
    assert read_number(canvas, shipped).text == text


@pytest.mark.parametrize(
    "image",
    [np.full((200, 800), 245, np.uint8), np.zeros((50, 50, 4), np.uint8)],
    ids=["blank page", "transparent"],
)
def test_empty_page_gives_empty_text_and_reason(image, shipped):
    reading = read_number(image, shipped)
    assert reading.text == "" and reading.digits == ()
    assert reading.reason and reading.reason.startswith("no digit found")
    assert reading.flags == ("no_number",)
    assert reading.to_dict() == {
        "text": "",
        "kind": None,
        "value": None,
        "digits": [],
        "low_confidence": True,
        "flags": ["no_number"],
        "flag_reason": reading.flag_reason,
        "reason": reading.reason,
    }
    assert reading.flag_reason.startswith("No number was found: no ink")


def test_solid_block_is_not_a_number(shipped):
    image = np.full((300, 300), 240, np.uint8)
    image[100:200, 100:200] = 10
    reading = read_number(image, shipped)
    assert reading.text == "" and "solid" in reading.reason


def test_noise_is_not_a_number(shipped):
    noise = np.random.default_rng(0).integers(0, 256, (200, 600), dtype=np.uint8)
    reading = read_number(noise, shipped)
    assert reading.text == "" and reading.reason


@pytest.fixture(scope="module")
def number_files(tmp_path_factory, clear_digits):
    folder = tmp_path_factory.mktemp("numbers")
    samples.save(folder / "a.png", page([ink_of(clear_digits[d], 70) for d in (1, 2)], [30]))
    samples.save(folder / "b.jpg", page([ink_of(clear_digits[d], 70) for d in (4, 5, 6)], [30, 30]))
    samples.save(folder / "c.png", np.full((100, 300), 240, np.uint8))
    (folder / "d.png").write_bytes(b"not a png")
    return folder


def test_cli_read_json(capsys, number_files):
    model = default_model_path()
    code = cli.main(["read", "--json", "--model", str(model), str(number_files)])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # d.png cannot be read
    assert [r["path"].rsplit("/", 1)[-1] for r in records] == ["a.png", "b.jpg", "c.png", "d.png"]
    a, b, c, d = records
    assert a["text"] == "12" and b["text"] == "456"
    for record in (a, b):
        assert set(record) == {
            *("path", "text", "kind", "value", "digits", "low_confidence", "flags", "method")
        }
        assert record["kind"] == "integer" and record["value"] == int(record["text"])
        assert record["flags"] == [] and not record["low_confidence"]  # clear, apart
        assert record["method"] == "sequence"  # the default for digit models
        assert len(record["digits"]) == len(record["text"])
        for digit, char in zip(record["digits"], record["text"]):
            assert set(digit) == {"digit", "label", "confidence", "box", "mark"}
            assert digit["mark"] is False
            assert digit["digit"] == int(char) and digit["label"] == char
            assert 0 <= digit["confidence"] <= 1
            assert len(digit["box"]) == 4 and all(isinstance(v, int) for v in digit["box"])
    assert c["text"] == "" and c["digits"] == [] and c["reason"] and "error" not in c
    assert c["flags"] == ["no_number"] and c["flag_reason"].startswith("No number was found")
    assert d["text"] == "" and "error" in d and "reason" not in d
    assert d["flags"] == ["unreadable"] and d["low_confidence"]


def test_cli_read_exit_codes_and_table(capsys, number_files, tmp_path):
    model = str(default_model_path())
    assert cli.main(["read", "--model", model, str(number_files / "a.png")]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["path", "text"] and "12" in lines[1].split()
    assert cli.main(["read", "--model", model, str(number_files / "c.png")]) == 0  # no number
    capsys.readouterr()
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"junk")
    assert cli.main(["read", "--model", str(bad), str(number_files / "a.png")]) == 2
    assert "error" in capsys.readouterr().err
    assert cli.main(["read"]) == 2  # no paths: usage error


def test_two_lines_are_read_one_after_the_other(clear_digits, shipped):
    top = page([ink_of(clear_digits[d], 70) for d in (1, 2)], [30])
    bottom = page([ink_of(clear_digits[d], 70) for d in (3, 4, 5)], [30, 30])
    width = max(top.shape[1], bottom.shape[1])
    sheet = np.full((top.shape[0] + bottom.shape[0], width), 255, np.uint8)
    sheet[: top.shape[0], : top.shape[1]] = top
    sheet[top.shape[0] :, : bottom.shape[1]] = bottom
    reading = read_number(sheet, shipped)
    assert reading.text == "12 345" and reading.lines == ("12", "345")
    assert reading.to_dict()["lines"] == ["12", "345"]
    assert [d.box[1] < top.shape[0] for d in reading.digits] == [True] * 2 + [False] * 3


def test_both_methods_read_separated_digits(clear_digits, shipped):
    image = page([ink_of(clear_digits[d], 70) for d in (9, 0, 6)], [30, 30])
    for method in ("sequence", "segment"):
        reading = read_number(image, shipped, method=method)
        assert reading.text == "906" and reading.method == method


class _SymbolModel:
    class_names = ("minus", "plus", "times")
    low_confidence = 0.9


def test_methods_are_checked(shipped):
    image = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError, match="method must be one of auto, sequence, segment"):
        read_number(image, shipped, method="ctc")
    with pytest.raises(ValueError, match="a model of other symbols reads with"):
        read_number(image, _SymbolModel(), method="sequence")
    assert read.choose_reader("auto", _SymbolModel(), None) is None  # symbols: the segmenter


def test_reading_a_number_never_imports_tensorflow(number_files):
    code = (
        "import sys; from digits.read import read_number; "
        f"r = read_number({str(number_files / 'b.jpg')!r}); "
        "assert r.method == 'sequence', r; "
        "assert not any(m.split('.')[0] in {'tensorflow', 'keras'} for m in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
