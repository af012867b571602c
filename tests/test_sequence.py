"""Tests of the sequence reader: CTC decoding and boxes (digits.runtime.sequence), the number-line
generator (digits.synth.lines), and the LiteRT export of the reader model (lab.reader)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digits.paths import LITERT_PATH
from digits.runtime.modelfile import ModelError
from digits.runtime.sequence import (
    FRAME_WIDTH,
    INK_HEIGHT,
    LINE_HEIGHT,
    STRETCHES,
    SURE,
    SequenceReader,
    ctc_probability,
    decode,
    greedy_runs,
    normalise_line,
    softmax,
    stretched,
)
from digits.synth import lines

ROOT = Path(__file__).resolve().parent.parent


def _logits(frames: list[int], steps: int | None = None, sure: float = 8.0) -> np.ndarray:
    """Logits (T, 11) whose best class at frame t is ``frames[t]`` (blank after them)."""
    frames = list(frames) + [0] * ((steps or len(frames)) - len(frames))
    logits = np.zeros((len(frames), 11), np.float32)
    logits[np.arange(len(frames)), frames] = sure
    return logits


def _line(width: int = 100, blobs=((10, 30), (60, 80))) -> np.ndarray:
    image = np.zeros((INK_HEIGHT, width), np.float32)
    for x0, x1 in blobs:
        image[:, x0:x1] = 1.0
    return image


# --- decoding ----------------------------------------------------------------------------


def test_stretched_lines_keep_whole_frames():
    image = np.random.default_rng(0).random((LINE_HEIGHT, 120), np.float32)
    assert stretched(image, 1.0) is image
    for stretch in STRETCHES:
        out = stretched(image, stretch)
        assert out.shape[0] == LINE_HEIGHT and out.shape[1] % FRAME_WIDTH == 0
        assert abs(out.shape[1] - 120 * stretch) <= FRAME_WIDTH / 2


class _ScriptedReader(SequenceReader):
    """A reader whose logits are scripted per input width (no model file)."""

    def __init__(self, script, threshold: float = 0.9):
        self.script, self.threshold, self.widths = script, threshold, []

    def logits(self, image):
        self.widths.append(image.shape[1])
        return self.script(image.shape[1] // FRAME_WIDTH)


def test_a_sure_line_is_read_once():
    reader = _ScriptedReader(lambda steps: _logits([0, 3, 0, 8], steps=steps))
    reading = reader.read(_line())
    assert reading.text == "27" and reading.confidence >= SURE
    assert len(reader.widths) == 1 and len(reading.views) == 1


def test_an_unsure_line_is_read_at_every_width_and_the_likeliest_text_wins():
    def script(steps):
        logits = _logits([0, 3, 0, 8], steps=steps)
        if steps == own:  # at its own width: "2" then a close call between 7 and 1
            logits[3, 2] = 8.2
        return logits

    own = normalise_line(_line()).image.shape[1] // FRAME_WIDTH
    reader = _ScriptedReader(script)
    reading = reader.read(_line())
    assert len(reader.widths) == len(STRETCHES) == len(reading.views)
    assert reading.text == "27"  # every other width reads 27 surely
    assert reading.confidence == pytest.approx(reading.probability("27"))
    assert reading.probability("21") < reading.probability("27")
    assert [d.box[0] for d in reading.digits] == sorted(d.box[0] for d in reading.digits)


def test_greedy_merges_repeats_and_drops_blanks():
    probs = softmax(_logits([0, 3, 3, 0, 3, 5, 5, 0]))
    assert greedy_runs(probs) == [(3, 1, 2), (3, 4, 4), (5, 5, 6)]


def test_decode_text_and_digit_probabilities():
    line = normalise_line(_line(width=40 * FRAME_WIDTH, blobs=((0, 160),)))
    frames = [0, 3, 3, 0, 3, 5, 5, 0]
    reading = decode(_logits(frames, steps=line.image.shape[1] // FRAME_WIDTH), line)
    assert reading.text == "224"  # class c is the digit c - 1
    assert [d.digit for d in reading.digits] == [2, 2, 4]
    for digit in reading.digits:
        assert len(digit.probabilities) == 10
        assert np.argmax(digit.probabilities) == digit.digit
        assert abs(sum(digit.probabilities) - 1) < 1e-6
        assert 0.99 < digit.confidence <= 1


def test_all_blank_reads_nothing_and_is_flagged():
    line = normalise_line(_line())
    steps = line.image.shape[1] // FRAME_WIDTH
    reading = decode(_logits([0] * steps), line)
    assert reading.text == "" and reading.digits == ()
    assert reading.low_confidence
    assert reading.confidence > 0.9  # the empty reading is likely: nothing else is


def test_ctc_probability_matches_brute_force():
    probs = softmax(np.random.default_rng(3).normal(size=(4, 3)))
    for labels in ([], [1], [1, 2], [2, 2], [1, 2, 1]):
        brute = 0.0
        for path in itertools.product(range(3), repeat=len(probs)):
            collapsed = [c for i, c in enumerate(path) if c and (i == 0 or path[i - 1] != c)]
            if collapsed == labels:
                brute += float(np.prod(probs[np.arange(len(probs)), path]))
        assert ctc_probability(probs, labels) == pytest.approx(brute, rel=1e-9, abs=1e-15)


def test_uncertain_frames_lower_the_sequence_confidence():
    line = normalise_line(_line())
    steps = line.image.shape[1] // FRAME_WIDTH
    sure = decode(_logits([0, 0, 0, 3, 0, 0], steps=steps), line)
    unsure = _logits([0, 0, 0, 3, 0, 0], steps=steps)
    unsure[3, 9] = 7.5  # a close second digit at the same frame
    doubt = decode(unsure, line)
    assert sure.text == doubt.text == "2"
    assert doubt.confidence < 0.7 < sure.confidence
    assert doubt.low_confidence and not sure.low_confidence


def test_boxes_follow_the_alignment_into_input_columns():
    line = normalise_line(_line())
    assert line.scale == 1.0 and line.x0 == 10
    # input column x is line column x - 10 + 8: blob 1 is on frames 2-6, blob 2 on 14-19
    steps = line.image.shape[1] // FRAME_WIDTH
    frames = [0] * steps
    frames[4], frames[16] = 3, 8
    reading = decode(_logits(frames, steps=steps), line)
    assert reading.text == "27"
    assert [d.box for d in reading.digits] == [(10, 0, 20, INK_HEIGHT), (60, 0, 20, INK_HEIGHT)]
    assert [d.frames for d in reading.digits] == [(4, 4), (16, 16)]


def test_normalise_line_scales_the_ink_and_pads_to_whole_frames():
    big = np.zeros((300, 500), np.uint8)
    big[50:170, 100:333] = 255
    line = normalise_line(big)
    assert line.image.shape[0] == LINE_HEIGHT and line.image.shape[1] % FRAME_WIDTH == 0
    rows = np.flatnonzero(line.image.max(axis=1) > 0.5)
    assert len(rows) == INK_HEIGHT
    assert line.scale == pytest.approx(INK_HEIGHT / 120)
    assert line.to_input_x(8) == pytest.approx(100)
    with pytest.raises(ValueError, match="no ink"):
        normalise_line(np.zeros((20, 50)))
    with pytest.raises(ValueError, match="2-D"):
        normalise_line(np.zeros((20, 50, 3)))
    with pytest.raises(ValueError, match="wider"):
        normalise_line(np.ones((2, 2000)))


# --- the line generator ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    from digits.training.data import load_mnist

    return load_mnist()


def test_training_batches_are_deterministic_and_consistent(mnist):
    (x_train, y_train), _ = mnist
    spec = lines.LineSpec(photo=0.5)
    first = lines.training_batch(x_train, y_train, 3, 16, seed=5, spec=spec)
    again = lines.training_batch(x_train, y_train, 3, 16, seed=5, spec=spec)
    other = lines.training_batch(x_train, y_train, 4, 16, seed=5, spec=spec)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])
    x, y, label_length, frames = first
    assert x.shape[1:] == (LINE_HEIGHT, x.shape[2], 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(label_length, (y > 0).sum(axis=1))
    assert ((1 <= label_length) & (label_length <= lines.MAX_DIGITS)).all()
    assert frames.max() * FRAME_WIDTH == x.shape[2]
    assert (frames >= 2 * label_length).all()  # room for CTC to emit every digit
    for row, n in zip(x[..., 0], frames):  # nothing right of each line's own frames
        assert not row[:, n * FRAME_WIDTH :].any()


def test_lines_get_wider_with_digits_and_gaps(mnist):
    (x_train, y_train), _ = mnist
    rng = np.random.default_rng(0)
    chosen = np.arange(6)
    spec = lines.LineSpec(tilt=0.0, pen=0.0, blur=0.0, baseline=0.0, scale=(1, 1), shear=0.0)
    wide, text = lines.make_line(x_train, y_train, rng, spec, chosen, gap=(0.6, 0.6))
    tight, _ = lines.make_line(x_train, y_train, rng, spec, chosen, gap=(-0.35, -0.35))
    assert text == "".join(str(d) for d in y_train[:6])
    assert wide.shape[1] > tight.shape[1] * 1.3


def test_digits_placed_by_contact_meet_without_hiding_each_other(mnist):
    """Contact placement: every neighbour's ink meets (or nearly meets) the line's ink;
    pushed further left it overlaps; the line is never as narrow as one digit."""
    (x_train, y_train), _ = mnist
    still = dict(tilt=0.0, pen=0.0, blur=0.0, baseline=0.0, scale=(1, 1), shear=0.0)
    chosen = np.array([1, 3, 5])  # three digits
    meet = lines.LineSpec(contact=1.0, overlap=(0.0, 0.0), **still)
    into = lines.LineSpec(contact=1.0, overlap=(0.3, 0.3), **still)
    apart = lines.LineSpec(contact=0.0, **still)
    rng = np.random.default_rng(0)
    met = lines.compose([x_train[i] for i in chosen], rng, meet, gap=(0.6, 0.6))
    pushed = lines.compose([x_train[i] for i in chosen], rng, into, gap=(0.6, 0.6))
    spaced = lines.compose([x_train[i] for i in chosen], rng, apart, gap=(0.6, 0.6))
    width = lambda a: np.ptp(np.flatnonzero(a.max(axis=0) > 0.3))  # noqa: E731
    assert width(pushed) < width(met) < width(spaced)
    ink = (met > 0.3).any(axis=0)
    assert ink[np.flatnonzero(ink)[0] : np.flatnonzero(ink)[-1]].mean() > 0.95  # no blank column
    assert width(pushed) > 28


def test_detached_share_draws_lifted_4s_and_5s(mnist):
    (x_train, y_train), _ = mnist
    spec = lines.LineSpec(detached=1.0, lengths=(6, 6), photo=0.0)
    rng = np.random.default_rng(1)
    texts = [lines.make_line(x_train[:3000], y_train[:3000], rng, spec)[1] for _ in range(5)]
    assert all(set(t) <= {"4", "5"} for t in texts)


def test_eval_lines_kinds(mnist):
    _, (x_test, y_test) = mnist
    made = lines.eval_lines(x_test, y_test, "detached", 20, seed=2)
    again = lines.eval_lines(x_test, y_test, "detached", 20, seed=2)
    assert [t for _, t in made] == [t for _, t in again]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(made, again))
    assert all(2 <= len(t) <= 8 and ("4" in t or "5" in t) for _, t in made)
    assert all(image.shape[0] == LINE_HEIGHT for image, _ in made)
    pool = lines.detached_pool(x_test, y_test)
    assert len(pool) > 20 and set(y_test[pool]) == {4, 5}
    with pytest.raises(ValueError, match="kind"):
        lines.eval_lines(x_test, y_test, "sideways", 1, seed=0)


# --- the model file -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    """A tiny untrained reader exported like the real one."""
    from lab import reader

    model = reader.build_model(width=4)
    path = tmp_path_factory.mktemp("reader") / "reader_float32.tflite"
    reader.export_reader(model, path, low_confidence=0.8)
    return model, path


def test_export_runs_in_litert_at_two_widths(tiny_reader):
    model, path = tiny_reader
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["kind"] == "sequence" and info["low_confidence"] == 0.8
    reader = SequenceReader(path)
    assert reader.threshold == 0.8
    for width in (48, 200):
        image = np.random.default_rng(width).random((LINE_HEIGHT, width), np.float32)
        logits = reader.logits(image)
        assert logits.shape == (width // FRAME_WIDTH, 11)
        want = np.asarray(model(image[None, :, :, None], training=False))[0]
        np.testing.assert_allclose(logits, want, atol=1e-4)
    reading = reader.read(_line())
    assert set(reading.text) <= set("0123456789")


def test_reader_refuses_other_files(tmp_path):
    with pytest.raises(ModelError, match="No reader"):
        SequenceReader(tmp_path / "missing.tflite")
    if LITERT_PATH.is_file():  # the digit classifier: (N, 28, 28, 1) -> (N, 10)
        with pytest.raises(ModelError, match="not \\(N, 32, -1, 1\\)"):
            SequenceReader(LITERT_PATH)


def test_reading_a_line_imports_no_tensorflow(tiny_reader):
    _, path = tiny_reader
    code = (
        "import sys, numpy as np\n"
        "from digits.runtime.sequence import SequenceReader\n"
        f"r = SequenceReader({str(path)!r})\n"
        "line = np.zeros((40, 120), np.float32); line[5:35, 10:100] = 1\n"
        "r.read(line)\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_committed_recipe_loads():
    from lab import reader

    recipe = reader.load_recipe(ROOT / "lab/recipes/reader.json")
    assert recipe.gap == [-0.35, 0.6] and recipe.lengths == [1, 12]
    assert recipe.litert_path == "models/reader_float32.tflite"
    with pytest.raises(SystemExit):
        reader.load_recipe(ROOT / "lab/recipes/reader.json", ["no_such_field=1"])
    tuned = reader.load_recipe(ROOT / "lab/recipes/reader_overlap.json")
    assert tuned.init == recipe.keras_path and tuned.gap[0] < recipe.gap[0]
    contact = reader.load_recipe(ROOT / "lab/recipes/reader_contact.json")
    assert contact.init == tuned.keras_path and contact.contact > 0 and contact.detached > 0
    shipped = reader.load_recipe(ROOT / "lab/recipes/reader_contact2.json")  # what ships
    assert shipped.init == contact.keras_path and shipped.contact > contact.contact
    assert shipped.litert_path == recipe.litert_path and shipped.report.startswith("lab/reports/")
    info = json.loads((ROOT / "models/reader_float32.json").read_text())
    assert info["source"] == shipped.keras_path
    with pytest.raises(SystemExit, match="sidecars"):  # one .json for two files: refused
        reader.load_recipe(
            ROOT / "lab/recipes/reader.json",
            ["keras_path=build/r.keras", "litert_path=build/r.tflite"],
        )


def test_threshold_keeps_confident_mistakes_rare():
    from lab.reader import choose_threshold

    easy = [("12", "12", 0.99)] * 200
    hard = [("12", "12", 0.99)] * 190 + [("12", "17", 0.95)] * 10
    threshold = choose_threshold({"easy": easy, "hard": hard}, wrong_rate=0.005)
    assert 0.95 < threshold <= 0.99  # the hardest kind decides
    assert choose_threshold({"easy": easy}) == 0.5
    assert choose_threshold({"easy": [("1", "1", 0.6)] * 10}) == 0.5


def test_line_ink_crops_the_marks_of_a_photo(mnist):
    from lab.reader_numbers import line_ink

    _, (x_test, _) = mnist
    paper = np.full((200, 400), 230, np.uint8)
    for i, x in enumerate((60, 160, 260)):  # three test digits, 84 px high, dark on paper
        digit = np.kron(x_test[i], np.ones((3, 3), np.uint8))
        paper[50:134, x : x + 84] = np.minimum(paper[50:134, x : x + 84], 255 - digit)
    crop, (x0, y0, scale) = line_ink(paper)
    assert scale == 1.0
    assert 60 <= x0 < 60 + 84 and 50 <= y0 < 134
    assert 40 < crop.shape[0] <= 84 and 180 < crop.shape[1] < 340
    assert crop.max() == pytest.approx(1.0) and crop.min() == 0.0
