"""Numbers with their marks: the marks' drawings and texts (digits.synth.punctuation), lines
that carry them (digits.synth.lines), what a text means (digits.meaning), readers with marks
(digits.runtime.sequence, lab.reader_rebuild) and marks left out (digits.readings)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digits.meaning import meaning, value_of
from digits.readings import DigitReading, NumberReading, digits_only
from digits.runtime.sequence import ALPHABET, MARKS, SequenceReader, decode, normalise_line
from digits.synth import lines, punctuation


@pytest.mark.parametrize("style", punctuation.STYLES)
@pytest.mark.parametrize("char", list(MARKS))
def test_every_mark_is_drawn_in_both_styles(char, style):
    rng = np.random.default_rng(0)
    for _ in range(5):
        alpha = punctuation.draw_mark(char, rng, style)
        assert alpha.shape[0] == 48 and alpha.dtype == np.float32
        assert 0.5 < alpha.max() <= 1.0 and alpha.shape[1] < 40
    with pytest.raises(ValueError, match="no mark"):
        punctuation.draw_mark("x", rng, style)


def test_marks_sit_where_pens_put_them():
    rng = np.random.default_rng(1)

    def rows(char):
        alpha = np.mean([punctuation.draw_mark(char, rng).max(axis=1) > 0.3 for _ in range(20)], 0)
        ink = np.flatnonzero(alpha > 0.5)
        return ink.min(), ink.max()

    assert rows(".")[0] > punctuation.TOP + 10  # low, by the base
    assert rows(",")[1] > punctuation.BASE  # below it
    top, bottom = rows("-")
    assert punctuation.TOP < top and bottom < punctuation.BASE  # in the middle
    top, bottom = rows("/")
    assert top <= punctuation.TOP + 1 and bottom >= punctuation.BASE - 1  # the whole height


@pytest.mark.parametrize("kind", punctuation.KINDS)
def test_every_kind_of_text_means_what_it_is(kind):
    rng = np.random.default_rng(2)
    expected = {
        "decimal_point": ("decimal", "integer"),
        "decimal_comma": ("decimal",),
        "thousands": ("integer", "decimal"),
        "negative": ("integer", "decimal"),
        "date": ("date",),
        "time": ("time",),
        "phone": ("other",),
    }[kind]
    for _ in range(50):
        text = punctuation.number_text(rng, kind)
        assert set(text) <= set(ALPHABET) and len(text) <= lines.MAX_LABEL
        assert meaning(text)[0] in expected, text


def test_lines_with_marks_carry_them_in_their_labels(mnist):
    (x, y), _ = mnist
    spec = lines.LineSpec(marks=1.0, specks=1.0, photo=0.0)
    x_, labels, lengths, frames = lines.training_batch(x[:2000], y[:2000], 0, 16, 1, spec)
    texts = ["".join(ALPHABET[c - 1] for c in row[:n]) for row, n in zip(labels, lengths)]
    assert any(set(t) & set(MARKS) for t in texts)
    assert (frames >= lengths).all()  # CTC can emit every character
    image, text = lines.make_line(x[:2000], y[:2000], np.random.default_rng(3), spec, text="12.50")
    assert text == "12.50" and image.shape[0] == 32


def test_lines_without_marks_are_drawn_as_before(mnist):
    (x, y), _ = mnist
    a = lines.training_batch(x[:500], y[:500], 4, 4, 9, lines.LineSpec())
    b = lines.training_batch(x[:500], y[:500], 4, 4, 9, lines.LineSpec(marks=0.0, specks=0.0))
    for one, other in zip(a, b):
        np.testing.assert_array_equal(one, other)


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("1250", "integer", 1250),
        ("-3", "integer", -3),
        ("0042", "integer", 42),
        ("12.50", "decimal", 12.5),
        ("12,50", "decimal", 12.5),
        ("-3.5", "decimal", -3.5),
        (".5", "decimal", 0.5),
        ("1,250", "integer", 1250),
        ("1,250.50", "decimal", 1250.5),
        ("1.250,50", "decimal", 1250.5),
        ("1.250", "decimal", 1.25),
        ("06/12/2026", "date", None),
        ("2026/12/06", "date", None),
        ("6-12-26", "date", None),
        ("21:45", "time", None),
        ("9:05:30", "time", None),
        ("555-0199", "other", None),
        ("25:61", "other", None),
        ("12/34/5678", "other", None),
        ("1..2", "other", None),
        ("-", "other", None),
        ("12 34", "other", None),
    ],
)
def test_meaning_of_texts_people_write(text, kind, value):
    assert meaning(text) == (kind, value)


@given(st.text(alphabet=ALPHABET + " ", max_size=16))
def test_meaning_never_fails_and_values_only_numbers(text):
    kind, value = meaning(text)
    assert kind in ("integer", "decimal", "date", "time", "other")
    assert (value is not None) == (kind in ("integer", "decimal"))
    if value is not None:
        assert value == value_of(text)


def _reading(text: str) -> NumberReading:
    digits = tuple(
        DigitReading(
            int(c) if c.isdigit() else c, 0.99, (i * 10, 0, 8, 20), False, mark=not c.isdigit()
        )
        for i, c in enumerate(text)
    )
    return NumberReading(text, digits, False, method="sequence")


@given(st.text(alphabet=ALPHABET, min_size=1, max_size=16))
def test_a_dropped_mark_never_becomes_a_digit(text):
    kept = digits_only(_reading(text))
    assert kept.text == re.sub(r"\D", "", text)  # the digits read, in order, nothing else
    assert [d.digit for d in kept.digits] == [int(c) for c in text if c.isdigit()]
    assert kept.marks_dropped == re.sub(r"\d", "", text)
    if not kept.text:
        assert kept.low_confidence and kept.reason


def test_json_says_what_a_reading_means():
    out = _reading("12.50").to_dict()
    assert out["text"] == "12.50" and out["kind"] == "decimal" and out["value"] == 12.5
    assert [d["mark"] for d in out["digits"]] == [False, False, True, False, False]
    bare = digits_only(_reading("12.50")).to_dict()
    assert bare["text"] == "1250" and bare["marks_dropped"] == "." and bare["value"] == 1250


def _frames(classes: list[int], total: int) -> np.ndarray:
    logits = np.zeros((2 * len(classes) + 1, total), np.float32)
    for t, c in enumerate([0] + [v for k in classes for v in (k, 0)]):
        logits[t, c] = 8.0
    return logits


def test_decoding_reads_marks_as_marks_not_digits():
    line = normalise_line(np.ones((24, 80), np.float32))
    classes = [ALPHABET.index(c) + 1 for c in "1.5"]
    reading = decode(_frames(classes, len(ALPHABET) + 1), line, threshold=0.5)
    assert reading.text == "1.5"
    assert [d.digit for d in reading.digits] == [1, ".", 5]
    assert len(reading.digits[1].probabilities) == 10


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """A tiny reader exported to LiteRT, and its rebuild with the marks' classes added."""
    from lab import reader, reader_rebuild

    path = tmp_path_factory.mktemp("rebuild") / "reader_float32.tflite"
    reader.export_reader(reader.build_model(width=4), path, low_confidence=0.8)
    return path, reader_rebuild.rebuild(path, ALPHABET)


def test_a_rebuilt_reader_reads_as_the_file_did_and_knows_the_marks(rebuilt, tmp_path):
    from lab import reader, reader_rebuild

    path, model = rebuilt
    assert model.output_shape[-1] == len(ALPHABET) + 1
    assert reader_rebuild.check(path, model, 11) < 1e-3
    out = reader.export_reader(model, tmp_path / "marks_float32.tflite", low_confidence=0.8)
    loaded = SequenceReader(out)
    assert loaded.alphabet == ALPHABET
    line = np.zeros((32, 96), np.float32)
    line[6:26, 10:80] = 1
    assert set(loaded.read(line).text) <= set(ALPHABET)


def _soft_frames(text_best: str, text_second: str, total: int) -> np.ndarray:
    """Frame probabilities reading ``text_best`` greedily, with ``text_second``'s characters
    as the runner-up at each character's frame."""
    rows = []
    for best, second in zip(text_best, text_second):
        row = np.full(total, 1e-3)
        row[ALPHABET.index(best) + 1] = 0.6
        if second != best:
            row[ALPHABET.index(second) + 1] = 0.35
        rows += [row, np.eye(total)[0] * 0.97 + 0.002]
    return np.array(rows) / np.array(rows).sum(axis=1, keepdims=True)


def test_expecting_a_date_finds_the_slashes_greedy_decoding_read_as_ones():
    from digits.meaning import expectation
    from digits.runtime.beam import beam_texts, forced_runs

    probs = _soft_frames("1210612026", "12/06/2026", len(ALPHABET) + 1)
    free = beam_texts(probs, ALPHABET)
    assert free[0][0] == "1210612026"  # unconstrained, the greedy text is the likeliest
    date = expectation("date")
    texts = [t for t, _ in beam_texts(probs, ALPHABET, date.viable) if date.matches(t)]
    assert texts[0] == "12/06/2026"
    runs = forced_runs(probs, [ALPHABET.index(c) + 1 for c in "12/06/2026"])
    assert [ALPHABET[c - 1] for c, _, _ in runs] == list("12/06/2026")
    assert [first for _, first, _ in runs] == sorted(first for _, first, _ in runs)


def test_a_reader_under_an_expectation_reads_its_format_or_says_it_cannot():
    from digits.meaning import expectation

    class Fixed(SequenceReader):
        def __init__(self, probs):
            self.probs, self.threshold, self.alphabet = probs, 0.5, ALPHABET

        def logits(self, image):
            return np.log(self.probs)

    probs = _soft_frames("1210612026", "12/06/2026", len(ALPHABET) + 1)
    line = np.zeros((24, 4 * len(probs) - 16), np.float32)
    line[2:22, 2:-2] = 1
    reader = Fixed(probs)
    assert reader.read(line).text == "1210612026"
    dated = reader.read(line, expectation("date"))
    assert dated.text == "12/06/2026" and dated.expected is True
    assert [d.digit for d in dated.digits][2] == "/"
    timed = reader.read(line, expectation("time"))  # no reading is a time: said so
    assert timed.expected is False and timed.low_confidence


@pytest.mark.parametrize("spec", ["date", "time", "decimal", "integer", r"\d{3}-\d{4}"])
def test_expectations_accept_their_own_kind(spec):
    from digits.meaning import expectation

    wanted = expectation(spec)
    sample = {"date": "06/12/2026", "time": "21:45", "decimal": "-3.5", "integer": "1250"}
    text = sample.get(spec, "555-0199")
    assert wanted.matches(text) and all(wanted.viable(text[:i]) for i in range(len(text) + 1))
    assert not wanted.matches("12a")


def test_cli_refuses_an_expectation_that_is_no_format(capsys):
    from digits.apps import cli

    assert cli.main(["read", "--expect", "([", "x.png"]) == 2  # a usage error
    assert (
        "neither date, time, decimal, integer nor a regular expression" in capsys.readouterr().err
    )
