"""Inputs that cause each ``low_confidence`` flag (`digits.flags`), for tests/test_flags.py,
and stubs for the flags no plain input causes with the shipped models.

Run as a script, it is the command line with a stub installed first:

    python tests/flag_inputs.py extra-digit read --json number.png   # digit_without_mark
    python tests/flag_inputs.py segment-only read --json number.png  # no sequence reader
    python tests/flag_inputs.py lose-first read --json number.png    # unread_ink
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

from digits.synth import numbers, samples

#: Generated numbers (``digits.synth.numbers``, MNIST test digits) that the shipped models
#: flag: flag -> (spacing, style, seed, MNIST test indices). Found by a search over seeds.
NUMBERS = {
    "unsure_sequence": ("detached", "canvas", 860189428, [3732, 359, 1335, 6933, 3234, 9507]),
    "detector_doubt": ("touching", "photo", 727917868, [4908, 655, 1188]),
    "not_a_digit": ("separated", "canvas", 1029825122, [4930, 8438, 1156, 3923, 6279]),
    "readers_disagree": ("overlapping", "canvas", 584598113, [3410, 8700]),
}
#: Flags that come with another's input: flag -> the input of `NUMBERS` that has it too.
ALSO = {
    "below_threshold": "unsure_sequence",
    "unsure_together": "unsure_sequence",
    "digits_cut_apart": "detector_doubt",
}


def mnist_on_paper(digits: list[np.ndarray], size: int = 70, gap: int = 30) -> np.ndarray:
    """MNIST digits (white on black) dark on light paper, side by side, ``gap`` apart."""
    page = np.full((size + 50, len(digits) * (size + gap) + gap), 245, np.uint8)
    for j, digit in enumerate(digits):
        x = gap + j * (size + gap)
        page[25 : 25 + size, x : x + size] = np.minimum(
            page[25 : 25 + size, x : x + size], 255 - cv2.resize(digit, (size, size))
        )
    return page


def in_shadow(digit: np.ndarray, cover: float = 0.65, light: float = 0.5) -> np.ndarray:
    """A dark MNIST digit on grey paper in a sharp shadow over the left ``cover`` of the
    page (as tests/test_polarity.py): found only on a second look, the other polarity."""
    xx = np.mgrid[0:300, 0:400][1]
    shade = 1 - (1 - light) / (1 + np.exp(-(cover * 400 - xx) / 8.0))
    ink = np.zeros((300, 400))
    ink[90:210, 60:180] = cv2.resize(digit, (120, 120)) / 255.0
    return (np.clip(0.92 * shade * (1 - 0.75 * ink), 0, 1) * 255).astype(np.uint8)


def predict_cases(folder: Path, mnist) -> dict[str, Path]:
    """flag -> an image file that ``digits predict`` flags so (MNIST test digits)."""
    _, (x_test, _) = mnist
    images = {
        "below_threshold": x_test[115],  # a 2 at 83%: only below the 90% threshold
        "detector_doubt": x_test[1156],  # a 7 at >99.99%, the detector in doubt
        "not_a_digit": x_test[1940],  # a 5 at 99.97% that the detector rejects
        "second_look": in_shadow(x_test[0]),  # a 7 at >99.99%, the other polarity
        "no_digit": np.full((120, 120), 250, np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for code, image in images.items():
        out[code] = folder / f"{code}.png"
        samples.save(out[code], image)
    out["unreadable"] = folder / "unreadable.png"
    out["unreadable"].write_text("not an image\n")
    return out


def read_cases(folder: Path, mnist) -> dict[str, Path]:
    """flag -> an image file that ``digits read`` flags so (``wide_mark`` with
    ``--method segment``, ``digit_without_mark`` with the `ExtraDigitReader` stub,
    ``unread_ink`` with the `LoseFirstReader` stub)."""
    _, (x_test, _) = mnist
    images = {}
    for code, (spacing, style, seed, chosen) in NUMBERS.items():
        rng = np.random.default_rng(seed)
        ink = numbers.compose([x_test[i] for i in chosen], rng, spacing=spacing)
        images[code] = numbers.render(ink, rng, style)
    page = np.full((300, 600), 245, np.uint8)  # a line of digits over a line of squares
    page[:120, :430] = mnist_on_paper([x_test[i] for i in range(4)])
    for j in range(4):
        cv2.rectangle(page, (50 + j * 110, 190), (110 + j * 110, 250), 0, 6)
    images["unread_marks"] = page
    dash = np.full((120, 300), 245, np.uint8)  # a 1 and a long dash beside it
    dash[40:80, 60:100] = 255 - cv2.resize(x_test[2], (40, 40))
    cv2.line(dash, (100, 60), (240, 60), 0, 5)
    images["wide_mark"] = dash
    images["digit_without_mark"] = mnist_on_paper([x_test[i] for i in range(4)], gap=30)
    images["unread_ink"] = mnist_on_paper([x_test[i] for i in range(4)], gap=40)
    images["no_number"] = np.full((200, 600), 245, np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for code, image in images.items():
        out[code] = folder / f"{code}.png"
        samples.save(out[code], image)
    out.update({code: out[other] for code, other in ALSO.items()})
    out["unreadable"] = folder / "unreadable.png"
    out["unreadable"].write_text("not an image\n")
    return out


class ExtraDigitReader:
    """The shipped sequence reader, plus a digit 1 read in the first blank gap of the line,
    where there is no mark: the case of ``digit_without_mark``."""

    def __init__(self, real):
        self.real = real
        self.threshold = real.threshold

    def read(self, line: np.ndarray):
        from digits.runtime.sequence import SequenceDigit

        reading = self.real.read(line)
        ink = np.flatnonzero(line.max(axis=0) > 0.1)
        gap = int(np.flatnonzero(np.diff(ink) > 3)[0])
        x0, x1 = int(ink[gap]) + 1, int(ink[gap + 1])
        p = tuple(0.99 if d == 1 else 0.01 / 9 for d in range(10))
        extra = SequenceDigit(1, 0.99, p, (x0, 0, x1 - x0, line.shape[0]), (0, 0))
        digits = sorted([*reading.digits, extra], key=lambda d: d.box[0])
        text = "".join(str(d.digit) for d in digits)
        return dataclasses.replace(reading, text=text, digits=tuple(digits))


class LoseFirstReader:
    """The shipped sequence reader, shown the line without its first mark (blanked up to
    the first gap): it reads one digit fewer, and the first mark is ink the reading does not
    account for, the case of ``unread_ink``."""

    def __init__(self, real):
        self.real = real
        self.threshold = real.threshold

    def read(self, line: np.ndarray):
        ink = np.flatnonzero(line.max(axis=0) > 0.1)
        gap = int(np.flatnonzero(np.diff(ink) > 3)[0])
        blanked = line.copy()
        blanked[:, : int(ink[gap + 1])] = 0
        return self.real.read(blanked)


def stub_reader(stub: str, real):
    """The stub sequence reader called ``stub`` (None: the segmenter alone)."""
    choices = {"extra-digit": ExtraDigitReader, "lose-first": LoseFirstReader}
    if stub == "segment-only":
        return None
    if stub not in choices:
        raise SystemExit(
            f"unknown stub {stub!r}: expected one of segment-only, {', '.join(choices)}"
        )
    return choices[stub](real)


def install(stub: str) -> None:
    """Make `digits.read` use a stub sequence reader: ``extra-digit`` (`ExtraDigitReader`),
    ``lose-first`` (`LoseFirstReader`) or ``segment-only`` (none: the segmenter reads every
    line)."""
    import digits.read as read

    reader = stub_reader(stub, read._default_reader(True))
    read._default_reader = lambda required=False: reader


if __name__ == "__main__":
    install(sys.argv[1])
    from digits.apps.cli import main

    sys.exit(main(sys.argv[2:]))
