"""Read a line of handwritten digits without cutting it: a CTC sequence model run by LiteRT.

    >>> reader = SequenceReader("models/reader_float32.tflite")
    >>> reading = reader.read(line)      # line: the ink crop of one line, bright on black
    >>> reading.text, reading.confidence, reading.low_confidence
    ('2026', 0.998, False)
    >>> reading.digits[0].box            # (x, y, width, height) in the line image's pixels
    (0, 1, 41, 60)

The line (any size, float in [0, 1] or uint8, ink bright on black) is cropped to its ink and
scaled so that the ink is `INK_HEIGHT` px high inside a `LINE_HEIGHT` px line (`normalise_line`,
the same function the training lines go through). The model maps ``(N, LINE_HEIGHT, W, 1)`` to
logits ``(N, W / FRAME_WIDTH, 11)``: one frame per `FRAME_WIDTH` columns; class 0 is the CTC
blank, class ``d + 1`` the digit ``d``. Decoding runs here, in numpy:

- greedy CTC (`greedy_runs`): the best class per frame, repeats merged, blanks dropped;
- each digit's probabilities are the softmax over the ten digits at its most confident frame;
- the sequence's confidence is the CTC probability of the decoded text (`ctc_probability`,
  the forward algorithm over all alignments), so a line is only sure when no other reading
  is likely;
- each digit's box spans the columns between the midpoints to its neighbours' frames,
  tightened to the ink there;
- a line read with a confidence under `SURE` is read again at other widths (`STRETCHES`:
  squeezed and stretched copies of the same line). Every text read at some width is scored
  by its CTC probability averaged over all the widths, and the likeliest wins
  (`SequenceReading.probability`): digits that touch part differently at different
  widths, and a wrong cut rarely wins at all of them.

No TensorFlow import (a test checks it): only numpy, OpenCV and the LiteRT runtime.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from digits.paths import MODELS_DIR
from digits.runtime.modelfile import ModelError, read_info
from digits.runtime.quiet import held_stderr

__all__ = [
    "ALPHABET",
    "BLANK",
    "FRAME_WIDTH",
    "INK_HEIGHT",
    "LINE_HEIGHT",
    "MARKS",
    "READER_PATH",
    "NormalisedLine",
    "SequenceDigit",
    "SequenceReader",
    "SequenceReading",
    "STRETCHES",
    "SURE",
    "ctc_probability",
    "decode",
    "greedy_runs",
    "mean_probability",
    "normalise_line",
    "softmax",
    "stretched",
]

#: Height of the model's input line, and of the ink inside it (the rest is margin).
LINE_HEIGHT, INK_HEIGHT = 32, 24
#: Columns per output frame (the model halves the width twice).
FRAME_WIDTH = 4
#: Blank columns left and right of the ink.
SIDE_PAD = 8
#: Lines wider than this (after scaling) are not one number.
MAX_LINE_WIDTH = 4096
#: Output class 0 is the CTC blank; class d + 1 is the digit d.
BLANK = 0
#: The marks a reader may know besides the ten digits, in class order after the 9 ...
MARKS = ".,-/:"
#: ... so that character ``ALPHABET[k]`` is class k + 1 (a digits-only reader: the first ten).
ALPHABET = "0123456789" + MARKS
#: The model's default file, and the sequence confidence below which a reading is flagged.
READER_PATH = MODELS_DIR / "reader_float32.tflite"
DEFAULT_THRESHOLD = 0.9
#: Ink above this level counts when cropping a line and tightening boxes.
INK_LEVEL = 0.1
#: The widths (times the line's own) at which an unsure line is read, nearest to its own
#: first; a line read at its own width at least `SURE` of itself is not read again.
STRETCHES = (1.0, 0.85, 1.2, 0.7, 1.45)
SURE = 0.9
#: A text of an expected format must be at least this share as likely as the likeliest
#: text of any format, or the line is not of that format.
PLAUSIBLE = 0.01


@dataclass(frozen=True)
class NormalisedLine:
    """A line as the model takes it, and how to map its columns back to the input's.

    ``image`` is float32 ``(LINE_HEIGHT, W)``, W a multiple of `FRAME_WIDTH`; input column
    ``x`` is line column ``(x - x0) * scale + SIDE_PAD``.
    """

    image: np.ndarray
    scale: float
    x0: int
    y0: int
    ink: np.ndarray = field(repr=False)  # the input's ink crop (float32), for tight boxes

    def to_input_x(self, column: float) -> float:
        """A line column -> the input image's column."""
        return (column - SIDE_PAD) / self.scale + self.x0


def normalise_line(line: np.ndarray) -> NormalisedLine:
    """Crop a line's ink and scale it to `INK_HEIGHT` px high in a `LINE_HEIGHT` line.

    Raises:
        ValueError: not a 2-D image, no ink, or a line too long for one number.
    """
    line = np.asarray(line)
    if line.ndim != 2 or min(line.shape) == 0:
        raise ValueError(f"a line must be a 2-D gray image, not an array of shape {line.shape}")
    ink = line.astype(np.float32) / (255.0 if line.dtype == np.uint8 else 1.0)
    rows = np.flatnonzero(ink.max(axis=1) > INK_LEVEL)
    cols = np.flatnonzero(ink.max(axis=0) > INK_LEVEL)
    if not len(rows):
        raise ValueError("the line has no ink")
    y0, x0 = int(rows[0]), int(cols[0])
    crop = np.clip(ink[y0 : rows[-1] + 1, x0 : cols[-1] + 1], 0.0, 1.0)
    scale = INK_HEIGHT / crop.shape[0]
    width = max(1, round(crop.shape[1] * scale))
    if width > MAX_LINE_WIDTH:
        raise ValueError(
            f"the line is {width / INK_HEIGHT:.0f} times wider than high: not a number"
        )
    shrink = scale < 1
    resized = cv2.resize(
        crop, (width, INK_HEIGHT), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
    total = -(-(width + 2 * SIDE_PAD) // FRAME_WIDTH) * FRAME_WIDTH
    image = np.zeros((LINE_HEIGHT, total), np.float32)
    top = (LINE_HEIGHT - INK_HEIGHT) // 2
    image[top : top + INK_HEIGHT, SIDE_PAD : SIDE_PAD + width] = np.clip(resized, 0.0, 1.0)
    return NormalisedLine(image, scale, x0, y0, crop)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 for stable sums."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def greedy_runs(probs: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy CTC over frame probabilities ``(T, C)``: ``(class, first, last)`` frames of each
    emitted symbol (runs of one non-blank class; a blank or another class ends a run)."""
    best = np.argmax(probs, axis=-1)
    runs: list[tuple[int, int, int]] = []
    previous = BLANK
    for t, c in enumerate(best.tolist()):
        if c != BLANK and c == previous:
            runs[-1] = (c, runs[-1][1], t)
        elif c != BLANK:
            runs.append((c, t, t))
        previous = c
    return runs


def ctc_probability(probs: np.ndarray, labels: list[int]) -> float:
    """P(labels | frames) under CTC: the forward algorithm over ``probs (T, C)``, in logs."""
    probs = np.asarray(probs, np.float64)
    steps = len(probs)
    states = [BLANK]
    for label in labels:
        states += [label, BLANK]
    if steps == 0:
        return 1.0 if not labels else 0.0
    logp = np.log(np.maximum(probs[:, states], 1e-300))  # (T, S)
    size = len(states)
    skip = np.zeros(size, bool)  # a state may be reached from two back: a label after a blank
    for s in range(3, size, 2):
        skip[s] = states[s] != states[s - 2]
    alpha = np.full(size, -np.inf)
    alpha[0] = logp[0, 0]
    if size > 1:
        alpha[1] = logp[0, 1]
    for t in range(1, steps):
        one_back, two_back = np.full(size, -np.inf), np.full(size, -np.inf)
        one_back[1:] = alpha[:-1]
        two_back[2:] = alpha[:-2]
        two_back[~skip] = -np.inf
        alpha = np.logaddexp(np.logaddexp(alpha, one_back), two_back) + logp[t]
    total = np.logaddexp(alpha[-1], alpha[-2]) if size > 1 else alpha[-1]
    return float(np.exp(total))


@dataclass(frozen=True)
class SequenceDigit:
    """One character of a line: the digit (an int; a mark of `MARKS` is its str), its
    probability, those of all ten digits, its box (x, y, w, h), and its first and last frame
    (at the width it was read)."""

    digit: int | str
    confidence: float
    probabilities: tuple[float, ...]
    box: tuple[int, int, int, int]
    frames: tuple[int, int]


@dataclass(frozen=True)
class SequenceReading:
    """What the sequence model read in one line."""

    text: str
    digits: tuple[SequenceDigit, ...]
    confidence: float
    low_confidence: bool
    #: Per-frame probabilities ``(T, 11)`` of the width the digits come from.
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The per-frame probabilities of every width the line was read at.
    views: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    #: With an expected format (`read`'s ``expect``): whether some reading has it.
    expected: bool | None = None

    def probability(self, text: str) -> float:
        """The CTC probability of ``text`` (digits), averaged over the widths read."""
        return mean_probability(self.views, text)


def mean_probability(views, text: str) -> float:
    """The CTC probability of ``text`` (digits, marks) averaged over frame probabilities
    ``views``; 0 when a mark is not one the reader knows."""
    if len(views) and any(ALPHABET.find(c) + 2 > views[0].shape[-1] for c in text):
        return 0.0
    labels = [ALPHABET.index(c) + 1 for c in text]
    return float(np.mean([ctc_probability(v, labels) for v in views])) if len(views) else 0.0


def decode(logits: np.ndarray, line: NormalisedLine, threshold: float = DEFAULT_THRESHOLD):
    """Logits ``(T, 11)`` of a `NormalisedLine` -> `SequenceReading` (greedy CTC)."""
    probs = softmax(logits)
    digits = _digits(probs, line)
    text = "".join(str(d.digit) for d in digits)
    confidence = ctc_probability(probs, [ALPHABET.index(str(d.digit)) + 1 for d in digits])
    low = not digits or confidence < threshold
    return SequenceReading(text, digits, confidence, low, probs, (probs,))


def _digits(probs: np.ndarray, line: NormalisedLine, stretch: float = 1.0, runs=None):
    """The greedy digits (or those of ``runs``) of frame probabilities read at ``stretch``
    times the line's width."""
    runs = greedy_runs(probs) if runs is None else runs
    edges = [edge / stretch for edge in _edges(runs, len(probs))]
    digits = []
    for index, (c, first, last) in enumerate(runs):
        peak = first + int(np.argmax(probs[first : last + 1, c]))
        ten = probs[peak, 1:11] / max(probs[peak, 1:11].sum(), 1e-12)
        box = _box(line, edges[index], edges[index + 1])
        char = c - 1 if c <= 10 else ALPHABET[c - 1]
        digits.append(
            SequenceDigit(char, float(probs[peak, c]), tuple(ten.tolist()), box, (first, last))
        )
    return tuple(digits)


def _text(probs: np.ndarray) -> str:
    return "".join(ALPHABET[c - 1] for c, _, _ in greedy_runs(probs))


def stretched(image: np.ndarray, stretch: float) -> np.ndarray:
    """A normalised line squeezed or stretched to ``stretch`` times its width (whole frames)."""
    if stretch == 1.0:
        return image
    width = max(FRAME_WIDTH, round(image.shape[1] * stretch / FRAME_WIDTH) * FRAME_WIDTH)
    return cv2.resize(image, (width, LINE_HEIGHT), interpolation=cv2.INTER_LINEAR)


def _edges(runs: list[tuple[int, int, int]], steps: int) -> list[float]:
    """Column borders between digits: midway between neighbouring runs' frames; the line's
    ends outside the first and the last."""
    edges = [0.0]
    for (_, _, last), (_, first, _) in zip(runs, runs[1:]):
        edges.append((last + 1 + first) * FRAME_WIDTH / 2)
    edges.append(float(steps * FRAME_WIDTH))
    return edges


def _box(line: NormalisedLine, left: float, right: float) -> tuple[int, int, int, int]:
    """The input-image box of the ink between two line columns."""
    height, width = line.ink.shape
    x0 = int(np.clip(np.floor(line.to_input_x(left) - line.x0), 0, width - 1))
    x1 = int(np.clip(np.ceil(line.to_input_x(right) - line.x0), x0 + 1, width))
    part = line.ink[:, x0:x1] > INK_LEVEL
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    if len(cols):
        x0, x1 = x0 + int(cols[0]), x0 + int(cols[-1]) + 1
    y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, height)
    return (line.x0 + x0, line.y0 + y0, x1 - x0, y1 - y0)


class SequenceReader:
    """A reader ``.tflite`` file and its sidecar, run with LiteRT (thread-safe, one lock).

    Raises:
        ModelError: the file or sidecar is missing, damaged, or not a line reader
            (input ``(N, LINE_HEIGHT, W, 1)``, output ``(N, T, 11)``).
    """

    def __init__(self, path: str | Path = READER_PATH, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"No reader model at {self.path}.")
        self.info = read_info(self.path)
        self.threshold = float(self.info.extra.get("low_confidence", DEFAULT_THRESHOLD))
        try:
            with held_stderr(expected=(ValueError, RuntimeError)):
                self.model = Interpreter(model_path=str(self.path), num_threads=num_threads)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{self.path} is not a LiteRT model: {error}") from None
        self._input = self.model.get_input_details()[0]
        self._output = self.model.get_output_details()[0]
        shape_in = tuple(int(d) for d in self._input["shape_signature"])
        shape_out = tuple(int(d) for d in self._output["shape_signature"])
        if len(shape_in) != 4 or shape_in[1] != LINE_HEIGHT or shape_in[2:] != (-1, 1):
            raise ModelError(f"{self.path}: input {shape_in} is not (N, {LINE_HEIGHT}, -1, 1)")
        classes = len(self.info.class_names) + 1
        if not ALPHABET.startswith("".join(self.info.class_names)) or classes < 11:
            raise ModelError(f"{self.path}: classes {self.info.class_names} are not {ALPHABET!r}")
        if len(shape_out) != 3 or shape_out[2] != classes:
            raise ModelError(f"{self.path}: output {shape_out} is not (N, T, {classes})")
        #: What the reader reads: the ten digits, then the marks it was trained on.
        self.alphabet = ALPHABET[: classes - 1]
        self._lock = threading.Lock()
        self._width = -1

    def logits(self, image: np.ndarray) -> np.ndarray:
        """The model's logits ``(T, 11)`` for one normalised line ``(LINE_HEIGHT, W)``."""
        x = np.ascontiguousarray(image, np.float32)[None, :, :, None]
        with self._lock:
            if x.shape[2] != self._width:
                self.model.resize_tensor_input(self._input["index"], list(x.shape))
                self.model.allocate_tensors()
                self._width = x.shape[2]
            self.model.set_tensor(self._input["index"], x)
            self.model.invoke()
            return self.model.get_tensor(self._output["index"])[0].copy()

    def read(self, line: np.ndarray, expect=None) -> SequenceReading:
        """Read one line image (the ink crop of one line, bright on black, any size): at its
        own width, and when that reading is unsure at every width of `STRETCHES`. With
        ``expect`` (a `digits.meaning.Expectation`), at every width, and the likeliest text
        it allows wins (`_expected`).

        Raises:
            ValueError: not a 2-D image, no ink, or far too long for one number.
        """
        normalised = normalise_line(line)
        first = decode(self.logits(normalised.image), normalised, self.threshold)
        if first.confidence >= SURE and (expect is None or expect.matches(first.text)):
            return first if expect is None else replace(first, expected=True)
        views = [first.frames] + [
            softmax(self.logits(stretched(normalised.image, s))) for s in STRETCHES[1:]
        ]
        if expect is not None:
            return self._expected(views, normalised, expect)
        return self._likeliest(views, normalised)

    def _expected(self, views: list[np.ndarray], line: NormalisedLine, expect) -> SequenceReading:
        """The likeliest text over all widths among each width's beam of texts that
        ``expect`` allows (`digits.runtime.beam`), aligned to the line's own width; the
        unconstrained reading, flagged and ``expected=False``, when none is allowed or the
        best allowed is under `PLAUSIBLE` times as likely as it (a date made of noise)."""
        from digits.runtime.beam import beam_texts, forced_runs

        found = {t for v in views for t, _ in beam_texts(v, self.alphabet, expect.viable)}
        allowed = [t for t in found if expect.matches(t)]
        scores = {text: mean_probability(views, text) for text in allowed}
        best = max(scores, key=scores.__getitem__) if scores else None
        free = self._likeliest(views, line)
        if best is None or scores[best] < PLAUSIBLE * free.confidence:
            return replace(free, low_confidence=True, expected=False)
        runs = forced_runs(views[0], [ALPHABET.index(c) + 1 for c in best])
        digits = _digits(views[0], line, 1.0, runs)
        low = not digits or scores[best] < self.threshold
        return SequenceReading(best, digits, scores[best], low, views[0], tuple(views), True)

    def _likeliest(self, views: list[np.ndarray], line: NormalisedLine) -> SequenceReading:
        """The text read at some width that is likeliest over all widths; its digits and
        boxes from the width nearest the line's own that reads it."""
        texts = [_text(v) for v in views]
        scores = {text: mean_probability(views, text) for text in texts}
        best = max(scores, key=scores.__getitem__)
        index = texts.index(best)
        digits = _digits(views[index], line, STRETCHES[index])
        low = not digits or scores[best] < self.threshold
        return SequenceReading(best, digits, scores[best], low, views[index], tuple(views))
