"""What `digits.read.read_number` answers: a `NumberReading` of `DigitReading` s.

A reading is ``low_confidence`` exactly when its ``flags`` (`digits.flags.NUMBER_FLAGS`)
are not empty; ``flag_reason`` says why in a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from digits.flags import NUMBER_FLAGS, checked, number_sentence

__all__ = ["NUMBER_CONFIDENCE", "DigitReading", "NumberReading", "flagged"]

#: A line is ``low_confidence`` when the product of its digits' confidences (the chance
#: that every digit is right, were they independent) is under this. Chosen on three other
#: draws of the number benchmark's generator (seeds 7, 8 and 9, not the benchmark's 16):
#: the lowest of 0.9, 0.95, 0.97 and 0.98 at which no kind of any draw had over 1% of its
#: numbers wrong and not flagged.
NUMBER_CONFIDENCE = 0.97


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: what it is, how sure the model is, where it is.

    ``digit`` is an int for digit models, the class name (str) for other models;
    ``box`` is ``(x, y, width, height)`` in the original image's pixels.
    """

    digit: int | str
    confidence: float
    box: tuple[int, int, int, int]
    low_confidence: bool
    probabilities: tuple[float, ...] = field(repr=False, compare=False, default=())
    image: np.ndarray | None = field(repr=False, compare=False, default=None)

    @property
    def label(self) -> str:
        """The class name ("3" for the digit 3)."""
        return str(self.digit)

    def to_dict(self) -> dict:
        """JSON-ready: digit, label, confidence, box."""
        return {
            "digit": self.digit,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "box": list(self.box),
        }


@dataclass(frozen=True)
class NumberReading:
    """What `read_number` found in an image.

    Attributes:
        text: the digits (class names) left to right, ``""`` when none were found.
        digits: one `DigitReading` per character of ``text``.
        low_confidence: the reading may be wrong; exactly when ``flags`` is not empty.
        reason: why no number was found, else None.
        image_size: ``(width, height)`` of the image.
        method: ``sequence`` or ``segment``, the method whose answer this is.
        lines: the text of each line, top to bottom, when there are several.
        flags: why it is ``low_confidence``, `digits.flags.NUMBER_FLAGS` codes (given none,
            a low-confidence reading without text gets ``no_number``).
    """

    text: str
    digits: tuple[DigitReading, ...]
    low_confidence: bool
    reason: str | None = None
    image_size: tuple[int, int] | None = None
    method: str = "segment"
    lines: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        inferred = None if self.text else "no_number"
        flags = checked(self.low_confidence, self.flags, inferred, NUMBER_FLAGS)
        object.__setattr__(self, "flags", flags)

    @property
    def flag_reason(self) -> str | None:
        """One sentence saying why the reading is ``low_confidence`` (None when it is not)."""
        return number_sentence(self.flags, NUMBER_CONFIDENCE, self.reason)

    def to_dict(self) -> dict:
        """JSON-ready: text, digits (each {digit, label, confidence, box}), low_confidence,
        flags; flag_reason when flagged, the method when a number was read, lines when
        there are several, reason when set."""
        out: dict = {
            "text": self.text,
            "digits": [d.to_dict() for d in self.digits],
            "low_confidence": self.low_confidence,
            "flags": list(self.flags),
        }
        if self.flags:
            out["flag_reason"] = self.flag_reason
        if self.text:
            out["method"] = self.method
        if len(self.lines) > 1:
            out["lines"] = list(self.lines)
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def flagged(reading: NumberReading, flags, **changes) -> NumberReading:
    """``reading`` with these ``flags`` (its own are not kept) and ``changes``."""
    return replace(reading, low_confidence=bool(flags), flags=tuple(flags), **changes)
