"""Read a handwritten number (one or more lines of digits) from an image.

    >>> from digits.read import read_number
    >>> reading = read_number("meter.jpg")
    >>> reading.text, reading.low_confidence, reading.flags
    ('407215', False, ())
    >>> reading.digits[0].digit, reading.digits[0].box     # box: (x, y, width, height)
    (4, (31, 22, 64, 101))

The image goes through the same reading, polarity detection, lighting correction and
thresholding as a single digit (`digits.image.ink_image`, `ink_mask`); its ink is cut into
marks and lines (`digits.image.marks`). Then each line is read by one of two methods:

- ``sequence`` (the default for digit models): the line's ink is read whole by a
  convolutional CTC model (`digits.runtime.sequence`, LiteRT, decoded in numpy), which was
  trained on strings of MNIST training digits that touch, overlap or stand apart, so it
  needs no cutting. The segmenter below reads the line too: where both agree, the digits
  and boxes are the segmenter's. Where they differ and the marks stand apart, the marks
  are grouped by the digits the sequence read and each group is read by both models
  (`_regrouped`); where digits touch, the text the sequence finds likelier wins (boxes
  from its CTC alignment). ``low_confidence`` comes from the probability of the whole
  string and from the two readers' agreement.
- ``segment`` (for models of your own symbols, and ``--method segment``): every mark is
  classified by the single-digit model; marks wider than a digit get candidate cuts where
  the ink narrows, and the cutting whose pieces the model is surest of wins (summed log
  confidence; a cut costs `SPLIT_PENALTY` unless the mark is surely several digits). The
  number is ``low_confidence`` when a digit is, or when digits had to be cut apart.

With either method a line is also ``low_confidence`` when its digits are not sure together
(the product of their confidences under `NUMBER_CONFIDENCE`). ``flags`` says which of these
causes it was (`digits.flags.NUMBER_FLAGS`), ``flag_reason`` in a sentence.

Several lines give one text with the lines separated by a space (``reading.lines`` holds
them apart). A page with no number gives ``text == ""`` and a ``reason``. With a model
trained on other symbols (``digits train``) the text is made of its class names.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from digits.image import ImageInput, InkMask, NoDigitFound, crop_ink
from digits.image.marks import (
    MAX_DIGITS,
    TALL_SHARE,
    Mark,
    cut_options,
    lines,
    normalised,
    number_looks,
    original_box,
    small_marks,
    too_many_marks,
    unnarrowed,
)
from digits.meaning import expectation
from digits.readings import NUMBER_CONFIDENCE, DigitReading, NumberReading, flagged
from digits.readings import digits_only as _digits_only
from digits.runtime.ood import DIGIT, DOUBT, NOT_A_DIGIT
from digits.runtime.sequence import ALPHABET

__all__ = ["METHODS", "DigitReading", "NumberReading", "choose_reader", "read_number", "READ_SIDE"]

#: How a line can be read: ``auto`` is ``sequence`` for digit models when the reader model
#: is there, else ``segment``.
METHODS = ("auto", "sequence", "segment")
#: Larger images are downscaled to this longer side before the digits are looked for ...
READ_SIDE = 1024
#: ... and to this one when none are found at `READ_SIDE` (thin pen in a large photo).
FINE_SIDE = 2048
#: Pieces wider than this (times the digits' height) are penalised as unlikely digits:
#: ``WIDE_PENALTY`` per digit height of extra width, in log-probability units.
WIDE_PIECE, WIDE_PENALTY = 1.1, 4.0
#: Cost of each cut, in log-probability units (the model is often sure of half a digit).
SPLIT_PENALTY = 1.0
#: ... except in marks wider than this (times the digits' height): surely several digits.
SURE_WIDTH = 1.4
#: Gaps between digits wider than this (times the digits' height) are narrowed to it before
#: the sequence reader reads the line.
MAX_GAP = 0.4
#: A mark belongs to the digit the sequence reader read over it when this share of its
#: width lies in that digit's columns.
OWN_SHARE = 0.7


@functools.lru_cache(maxsize=1)
def _default_predictor():
    from digits.predict import Predictor

    return Predictor()


def read_number(
    image: ImageInput,
    predictor=None,
    method: str = "auto",
    reader=None,
    digits_only: bool = False,
    expect: str | None = None,
) -> NumberReading:
    """Read the handwritten number in an image (path, bytes, numpy array or PIL image).

    Args:
        image: as for `digits.image.to_model_input`; dark on light or light on dark,
            a photo or a (transparent) canvas.
        predictor: a `digits.predict.Predictor` (default: the shipped model, loaded once).
        method: one of `METHODS` (see the module docstring).
        reader: a `digits.runtime.sequence.SequenceReader` (default: the shipped one).
        digits_only: leave the marks (``. , - / :``) out of the text, named in
            ``marks_dropped`` (they are never read as digits).
        expect: ``date``, ``time``, ``decimal``, ``integer`` or a regular expression: each
            line is read as the likeliest text of that format (`digits.meaning`); a line
            that cannot be one is flagged ``unexpected_format``.

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
        ValueError: an unknown ``method``, ``sequence`` with a model of other symbols, or an
            ``expect`` that is no format.
        ModelError: ``sequence`` and the reader model is missing or damaged.
    """
    predictor = predictor if predictor is not None else _default_predictor()
    reader = choose_reader(method, predictor, reader) if method != "segment" else None
    wanted = None if expect is None else expectation(expect)
    if wanted is not None and reader is not None:
        reader = _Expecting(reader, wanted)
    first = None
    for ink, seen in number_looks(image, (READ_SIDE, FINE_SIDE)):
        if isinstance(seen, NoDigitFound):
            first = first or NumberReading("", (), True, seen.reason, ink.image_size)
            continue
        found, marks, labels, height = seen
        rows = lines(marks, height)
        read = [_read_line(found, labels, row, height, predictor, reader, ink) for row in rows]
        read = [_as_expected(r, wanted) for r in read]
        reading = _joined(read, ink.image_size)
        if first is None or reading.text:  # a second look counts only when it reads one
            return _digits_only(reading) if digits_only else reading
    return first


class _Expecting:
    """A sequence reader that reads every line under an `digits.meaning.Expectation`."""

    def __init__(self, reader, wanted):
        self.reader, self.wanted = reader, wanted
        self.threshold, self.alphabet = reader.threshold, getattr(reader, "alphabet", "")

    def read(self, line):
        return self.reader.read(line, self.wanted)


def _as_expected(reading: NumberReading, wanted) -> NumberReading:
    """``reading`` flagged ``unexpected_format`` when its text is not of the format."""
    if wanted is None or not reading.text or wanted.matches(reading.text):
        return reading
    return flagged(reading, (*reading.flags, "unexpected_format"))


def choose_reader(method: str, predictor, reader):
    """The sequence reader ``read_number(..., method, reader)`` uses, or None for the
    segmenter; the same errors as `read_number` (check once, before a batch)."""
    from digits.runtime.modelfile import DIGIT_CLASSES

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    digit_model = tuple(predictor.class_names) == DIGIT_CLASSES
    if method == "segment" or (method == "auto" and not digit_model):
        return None
    if not digit_model:
        raise ValueError(
            "the sequence reader reads digits; a model of other symbols reads with "
            "method='segment' (--method segment)"
        )
    if reader is None:
        reader = _default_reader(required=method == "sequence")
    return reader


@functools.lru_cache(maxsize=2)
def _default_reader(required: bool):
    from digits.runtime.sequence import READER_PATH, SequenceReader

    if not required and not READER_PATH.is_file():
        return None
    return SequenceReader(READER_PATH)


def _read_line(found, labels, marks: list[Mark], height: float, predictor, reader, ink):
    """One line, by the segmenter and (when given) the sequence reader, then checked by the
    not-a-digit detector."""
    reading = _line_reading(found, labels, marks, height, predictor, reader, ink)
    return _accounted(_sure_enough(_checked(reading, predictor)), marks, height, ink)


def _accounted(reading: NumberReading, marks: list[Mark], height: float, ink) -> NumberReading:
    """Flag a line with a digit-tall mark whose columns the digits read do not cover
    (`OWN_SHARE` of its width outside all of them): ink the reading does not account for,
    perhaps a digit lost."""
    if not reading.digits:
        return reading
    for mark in marks:
        if mark.height < TALL_SHARE * height:
            continue
        x, _, w, _ = original_box(mark, ink.scale, ink.image_size)
        covered = np.zeros(w, bool)
        for d in reading.digits:
            covered[max(0, d.box[0] - x) : max(0, d.box[0] + d.box[2] - x)] = True
        if covered.sum() < (1 - OWN_SHARE) * w:
            return flagged(reading, (*reading.flags, "unread_ink"))
    return reading


def _sure_enough(reading: NumberReading) -> NumberReading:
    """Flag a line whose digits are each fairly sure but not together: the product of
    their confidences under `NUMBER_CONFIDENCE` (eight digits at 0.99 are not 0.99 sure)."""
    together = float(np.prod([d.confidence for d in reading.digits]))
    if reading.digits and together < NUMBER_CONFIDENCE:
        return flagged(reading, (*reading.flags, "unsure_together"))
    return reading


def _checked(reading: NumberReading, predictor) -> NumberReading:
    """The not-a-digit detector's look at the digits read from whole marks (those with an
    image; `Predictor.levels`): one that is not plainly a digit flags the number, and a
    line none of whose digits looks like one is no number (a letter, a face, a texture)."""
    judged = [d for d in reading.digits if d.image is not None]
    if not judged or not hasattr(predictor, "levels"):
        return reading
    images = np.stack([d.image for d in judged])
    levels = predictor.levels(images, np.array([d.probabilities for d in judged]))
    if len(judged) == len(reading.digits) and (levels == NOT_A_DIGIT).all():
        reason = "no number found: the marks do not look like digits; write digits only"
        return NumberReading("", (), True, reason=reason, image_size=reading.image_size)
    doubts = {NOT_A_DIGIT: "not_a_digit", DOUBT: "detector_doubt"}
    found = [doubts[level] for level in set(levels.tolist()) if level != DIGIT]
    return flagged(reading, (*reading.flags, *found)) if found else reading


def _line_reading(found, labels, marks: list[Mark], height: float, predictor, reader, ink):
    """One line, by the segmenter and (when given) the sequence reader."""
    if reader is None:
        return _segmented(found, labels, marks, height, predictor, ink)
    sequenced, seen, spans = _sequenced(found, labels, marks, reader, ink, height)
    if isinstance(reader, _Expecting) and sequenced.text:  # the format decides
        return sequenced
    if any(d.mark for d in sequenced.digits):
        read = (sequenced, seen, spans)
        return _with_marks(found, labels, (marks, height), predictor, ink, reader, read)
    segmented = _segmented(found, labels, marks, height, predictor, ink)
    if sequenced.text == segmented.text:  # two readers agree: the segmenter's digits
        both = sequenced.low_confidence and segmented.low_confidence  # flagged if both unsure
        return flagged(segmented, (*segmented.flags, *sequenced.flags) * both, method="sequence")
    groups = _grouped(marks, spans)
    if groups is None:  # a mark lies across digits: they touch, so the sequence decides
        return _settled(sequenced, segmented, seen, reader.threshold)
    if not all(groups):  # the sequence read a digit where no mark of its own is
        flags = (*segmented.flags, "readers_disagree", "digit_without_mark")
        return flagged(segmented, flags, method="sequence")
    return _regrouped(found, labels, groups, predictor, ink, sequenced)


def _with_marks(found, labels, line, predictor, ink, reader, read):
    """A line the sequence read with marks (``12.50``): its digits' marks (not those lying
    mostly in a mark's columns) are read by the segmenter too. Where it reads the same
    digits, the digits are its own and the marks the sequence's; else the text, marks put
    in, is `_settled` against the sequence's. ``line``: its marks and digit height;
    ``read``: what `_sequenced` gave."""
    (marks, height), (sequenced, seen, spans) = line, read
    mark_spans = [s for d, s in zip(sequenced.digits, spans) if d.mark]
    digit_marks = [m for m in marks if not _inside_any(m, mark_spans)]
    if not digit_marks:
        return sequenced
    segmented = _segmented(found, labels, digit_marks, height, predictor, ink)
    marks_read = [d for d in sequenced.digits if d.mark]
    merged = sorted([*segmented.digits, *marks_read], key=lambda d: d.box[0] + d.box[2] / 2)
    segmented = replace(segmented, text="".join(d.label for d in merged), digits=tuple(merged))
    digits_read = "".join(d.label for d in sequenced.digits if not d.mark)
    if digits_read == "".join(d.label for d in segmented.digits if not d.mark):
        if segmented.text != sequenced.text:  # same digits, marks placed otherwise
            return flagged(sequenced, (*sequenced.flags, "readers_disagree"), method="sequence")
        both = sequenced.low_confidence and segmented.low_confidence
        return flagged(segmented, (*segmented.flags, *sequenced.flags) * both, method="sequence")
    return _settled(sequenced, segmented, seen, reader.threshold)


def _inside_any(mark: Mark, spans: list[Mark]) -> bool:
    """Whether `OWN_SHARE` of ``mark``'s width lies in one of ``spans``' columns."""
    return any(min(mark.x1, s.x1) - max(mark.x0, s.x0) >= OWN_SHARE * mark.width for s in spans)


def _grouped(marks: list[Mark], spans: list[Mark]) -> list[list[Mark]] | None:
    """The line's marks grouped by the digit of the sequence reading whose columns hold
    `OWN_SHARE` of their width (a group is empty where the sequence read a digit beside
    the marks), or None when a mark lies across digits."""
    shared = np.array([[max(0, min(m.x1, s.x1) - max(m.x0, s.x0)) for s in spans] for m in marks])
    if not spans or (shared.max(axis=1) < OWN_SHARE * np.array([m.width for m in marks])).any():
        return None
    groups: list[list[Mark]] = [[] for _ in spans]
    for mark, shares in zip(marks, shared):
        groups[int(np.argmax(shares))].append(mark)
    for group, span, shares in zip(groups, spans, shared.T):
        if not group and shares.max() > (1 - OWN_SHARE) * span.width:
            return None  # a narrow digit inside a wide one's mark: they touch
    return groups


def _regrouped(found, labels, groups: list[list[Mark]], predictor, ink, sequenced):
    """The marks as the sequence grouped them (one group per digit), each group read by
    both models (the product of the digit model's and the sequence's probabilities);
    low-confidence where that is unsure or differs from the sequence's reading, or where
    the sequence was unsure of its reading."""
    pieces = []
    for group in groups:
        piece = replace(group[0], labels=list(group[0].labels))
        for mark in group[1:]:
            piece.merge(mark)
        pieces.append(piece)
    inputs = np.stack([normalised(found, labels, piece) for piece in pieces])
    both = predictor.predict_inputs(inputs) * [d.probabilities for d in sequenced.digits]
    both /= both.sum(axis=1, keepdims=True)
    reading = _reading(list(zip(pieces, both, inputs)), predictor, ink, cut=())
    disagree = ("readers_disagree",) * (reading.text != sequenced.text)
    return flagged(reading, (*reading.flags, *sequenced.flags, *disagree), method="sequence")


def _settled(sequenced, segmented, seen, threshold: float) -> NumberReading:
    """Two readers disagree: the text the sequence model finds likelier (the probability of
    the whole string, all alignments summed, averaged over the widths it read the line at)
    wins. The answer is low-confidence when that probability is low, when the winner was
    unsure, or when the other reader was sure."""
    if seen is None or not segmented.text or not set(segmented.text) <= set(ALPHABET):
        return sequenced
    p_segmented = seen.probability(segmented.text)
    p_sequenced = seen.probability(sequenced.text)
    won, lost = (segmented, sequenced) if p_segmented > p_sequenced else (sequenced, segmented)
    flags = [*won.flags, *("unsure_sequence",) * (max(p_segmented, p_sequenced) < threshold)]
    flags += ("readers_disagree",) * (not lost.low_confidence)  # the other was sure
    return flagged(won, flags, method="sequence")


def _joined(read: list[NumberReading], image_size) -> NumberReading:
    """The readings of the lines as one, top to bottom."""
    digits = tuple(d for r in read for d in r.digits)
    if len(digits) > MAX_DIGITS:
        reason = too_many_marks(len(digits))
        return NumberReading("", (), True, reason=reason, image_size=image_size)
    texts = tuple(r.text for r in read if r.text)
    if not texts:
        reason = next((r.reason for r in read if r.reason), "no number found")
        return NumberReading("", (), True, reason=reason, image_size=image_size)
    flags = [code for r in read if r.text for code in r.flags]
    flags += ("unread_marks",) * (len(texts) < len(read))  # a line read as no number
    return NumberReading(
        text=" ".join(texts),
        digits=digits,
        low_confidence=bool(flags),
        flags=tuple(flags),
        image_size=image_size,
        method=read[0].method,
        lines=texts if len(texts) > 1 else (),
    )


def _segmented(found, labels, marks: list[Mark], height: float, predictor, ink):
    """Every way of cutting every mark, classified in one batch; then the best cuts."""
    options = [cut_options(labels, mark, height) for mark in marks]
    pieces = [piece for choices in options for _, _, piece in choices]
    inputs = np.stack([normalised(found, labels, piece) for piece in pieces])
    probabilities = iter(predictor.predict_inputs(inputs))
    inputs_left = iter(inputs)
    chosen, cut = [], set()
    for choices in options:
        scored = [(a, b, piece, next(probabilities), next(inputs_left)) for a, b, piece in choices]
        best = _best_cuts(scored, height)
        if len(best) > 1:
            cut.add("digits_cut_apart")
        elif best[0][0].width > SURE_WIDTH * height:
            cut.add("wide_mark")  # too wide for one digit, yet read as one
        chosen.extend(best)
    return _reading(chosen, predictor, ink, tuple(cut))


def _sequenced(found: InkMask, labels, marks: list[Mark], reader, ink, height: float):
    """The line's ink, cropped to its marks and its wide gaps narrowed, read whole by the
    sequence reader -> ``(NumberReading, the reader's SequenceReading, each digit's
    columns as a Mark in the ink image)``. A reader of marks sees the `small_marks` too."""
    if len(getattr(reader, "alphabet", "")) > 10:
        marks = marks + small_marks(labels, marks, height)
    x0, y0 = min(m.x0 for m in marks), min(m.y0 for m in marks)
    x1, y1 = max(m.x1 for m in marks), max(m.y1 for m in marks)
    kept = np.isin(labels[y0:y1, x0:x1], [k for m in marks for k in m.labels])
    crop = crop_ink(found, kept.astype(np.uint8), (x0, y0, x1, y1))
    columns = _narrow_gaps(kept, float(np.median([m.height for m in marks])))
    reading = reader.read(crop[:, columns])
    if not reading.text:
        reason = "no number found: no digit read in the ink; write larger, with a darker pen"
        empty = NumberReading("", (), True, reason=reason)
        return empty, reading, []
    spans = [unnarrowed(d.box, columns, x0, y0) for d in reading.digits]
    digits = tuple(
        DigitReading(
            digit=d.digit,
            confidence=d.confidence,
            box=original_box(span, ink.scale, ink.image_size),
            low_confidence=d.confidence < reader.threshold,
            probabilities=d.probabilities,
            mark=isinstance(d.digit, str),
        )
        for d, span in zip(reading.digits, spans)
    )
    flags = ("unsure_sequence",) * reading.low_confidence
    read = NumberReading(reading.text, digits, bool(flags), method="sequence", flags=flags)
    return read, reading, spans


def _narrow_gaps(kept: np.ndarray, height: float) -> np.ndarray:
    """The columns of a line to keep so that no gap between digits is wider than
    `MAX_GAP` digit heights: the reader learnt gaps up to about that, and reads digits
    into a wider blank."""
    empty = ~kept.any(axis=0)
    limit = max(1, int(MAX_GAP * height))
    keep, run = np.ones(len(empty), bool), 0
    for x, blank in enumerate(empty):
        run = run + 1 if blank else 0
        keep[x] = run <= limit
    return np.flatnonzero(keep)


def _reading(chosen: list, predictor, ink, cut: tuple[str, ...]) -> NumberReading:
    """The segmenter's reading of one line from its chosen pieces; ``cut``: the flags of
    how its marks were cut."""
    from digits.predict import class_value

    digits = []
    for piece, p, image28 in sorted(chosen, key=lambda c: (c[0].x0 + c[0].x1) / 2):
        index = int(np.argmax(p))
        confidence = float(p[index])
        digits.append(
            DigitReading(
                digit=class_value(predictor.class_names, index),
                confidence=confidence,
                box=original_box(piece, ink.scale, ink.image_size),
                low_confidence=confidence < predictor.low_confidence,
                probabilities=tuple(float(v) for v in p),
                image=image28,
            )
        )
    flags = (*cut, *("below_threshold",) * any(d.low_confidence for d in digits))
    return NumberReading(
        text="".join(d.label for d in digits),
        digits=tuple(digits),
        low_confidence=bool(flags),
        image_size=ink.image_size,
        flags=flags,
    )


def _best_cuts(scored: list, height: float) -> list[tuple[Mark, np.ndarray, np.ndarray]]:
    """The cutting of one mark whose pieces the model is surest of: the path from its left
    edge to its right edge maximising the sum of log confidences (fewer pieces win ties),
    with a penalty for pieces wider than a digit."""
    last = max(j for _, j, *_ in scored)
    whole = next(piece for i, j, piece, *_ in scored if i == 0 and j == last)
    # a mark this wide is surely several digits: cutting it costs nothing
    penalty = SPLIT_PENALTY if whole.width < SURE_WIDTH * height else 0.0
    best: dict[int, tuple[float, list]] = {0: (0.0, [])}
    for end in range(1, last + 1):
        for start, stop, piece, p, image28 in scored:
            if stop != end or start not in best:
                continue
            wide = max(0.0, piece.width / height - WIDE_PIECE)
            extra = penalty if start > 0 else 0.0
            confidence = float(np.log(max(float(p.max()), 1e-9)))
            score = best[start][0] + confidence - WIDE_PENALTY * wide - extra
            if end not in best or score > best[end][0]:
                best[end] = (score, best[start][1] + [(piece, p, image28)])
    return best[last][1]
