"""Why an answer is flagged ``low_confidence``: short machine-readable codes and one
sentence a person can read.

Every answer (`digits.predict.Prediction`, `digits.read.NumberReading`) carries ``flags``,
a tuple of the codes below in this order, and ``low_confidence == bool(flags)``. The
sentence (``flag_reason``) is made from the codes, so it never blames a cause that did not
happen: "below the threshold" is said only when the confidence is below it.

A single digit (`PREDICTION_FLAGS`):

- ``below_threshold``: the confidence is below the model's threshold (``--threshold``).
- ``not_a_digit``: the not-a-digit detector finds a letter, symbol, shape or photo.
- ``detector_doubt``: the detector is in doubt (its score in the doubt band, or it reads
  another digit than the digit model).
- ``second_look``: the digit was found only on a second look (other lighting, no sheet,
  the other polarity), after the first reading found none or no digit-like one.
- ``no_digit``: no digit was found (``reason`` says why).
- ``unreadable``: the image could not be read (``error`` says why).

A number (`NUMBER_FLAGS`): ``below_threshold`` (a digit), ``not_a_digit`` and
``detector_doubt`` (a digit read from a whole mark), ``unsure_sequence``,
``readers_disagree``, ``digit_without_mark``, ``digits_cut_apart``, ``wide_mark``,
``unread_marks``, ``unread_ink``, ``unsure_together``, ``unexpected_format`` (not what
``--expect`` asked for), ``no_number`` and ``unreadable``;
see `NUMBER_FLAGS`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "NUMBER_FLAGS",
    "PREDICTION_FLAGS",
    "checked",
    "number_note",
    "number_sentence",
    "ordered",
    "percent",
    "prediction_note",
    "prediction_sentence",
    "unreadable_reading",
]

#: code -> (what it means, the table's short note) for a single digit, in reporting order.
PREDICTION_FLAGS: dict[str, tuple[str, str]] = {
    "no_digit": ("no digit was found", "no digit"),
    "unreadable": ("the image could not be read (see error)", "unreadable"),
    "not_a_digit": (
        "it looks like a letter, symbol, shape or photo rather than a digit",
        "not a digit?",
    ),
    "detector_doubt": (
        "the not-a-digit detector is in doubt whether this is a digit, or reads another digit",
        "detector in doubt",
    ),
    "second_look": (
        "the digit was found only on a second look (other lighting, no sheet or the other "
        "polarity)",
        "found on a second look",
    ),
    "below_threshold": ("its confidence is below the model's threshold", "below threshold"),
}

#: code -> (what it means, the table's short note) for a number, in reporting order.
NUMBER_FLAGS: dict[str, tuple[str, str]] = {
    "no_number": ("no number was found", "no number"),
    "unreadable": ("the image could not be read (see error)", "unreadable"),
    "not_a_digit": (
        "a mark read as a digit looks like a letter, symbol, shape or photo",
        "a mark is not a digit?",
    ),
    "detector_doubt": (
        "the not-a-digit detector is in doubt about one of the digits",
        "detector in doubt",
    ),
    "readers_disagree": (
        "the two readers (sequence and segmenter) read different numbers",
        "readers disagree",
    ),
    "digit_without_mark": (
        "the sequence reader read a digit where there is no mark of its own",
        "a digit without a mark",
    ),
    "unsure_sequence": (
        "the sequence reader finds the number unlikely (under the reader's own threshold)",
        "sequence reader unsure",
    ),
    "digits_cut_apart": ("touching digits had to be cut apart", "digits cut apart"),
    "wide_mark": ("a mark too wide for one digit was read as one digit", "wide mark"),
    "unread_marks": (
        "a line of marks was not read as a number (letters, a texture?) and is left out",
        "marks left unread",
    ),
    "unexpected_format": (
        "no reading of the ink has the expected format (--expect)",
        "not the expected format",
    ),
    "unread_ink": (
        "a mark as tall as a digit lies outside every digit read (a digit lost?)",
        "ink left unread",
    ),
    "below_threshold": (
        "a digit's confidence is below the digit model's threshold",
        "a digit below threshold",
    ),
    "unsure_together": (
        "each digit is fairly sure but not all of them together (the product of their "
        "confidences is under {together})",
        "digits unsure together",
    ),
}


def ordered(flags: Iterable[str], known: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """``flags`` once each, in the order of ``known``.

    Raises:
        ValueError: a code that ``known`` does not have.
    """
    flags = set(flags)
    unknown = sorted(flags - set(known))
    if unknown:
        raise ValueError(f"unknown flags {unknown}: expected some of {', '.join(known)}")
    return tuple(code for code in known if code in flags)


def checked(
    low_confidence: bool, flags: Iterable[str], inferred: str | None, known: dict
) -> tuple[str, ...]:
    """The flags of an answer being made: ``flags`` in order, or ``(inferred,)`` when none
    are given but the answer is ``low_confidence`` (no digit, an unreadable image).

    Raises:
        ValueError: unknown codes, or ``low_confidence`` does not match the flags.
    """
    flags = ordered(flags, known)
    if low_confidence and not flags and inferred is not None:
        flags = (inferred,)
    if bool(low_confidence) != bool(flags):
        raise ValueError(
            f"low_confidence={bool(low_confidence)} but flags={list(flags)}: an answer is "
            "low_confidence exactly when it has flags saying why"
        )
    return flags


def percent(probability: float) -> str:
    """As the tables show it: one decimal, never a false 100.0% or 0.0%."""
    if 0.9995 <= probability < 1.0:
        return ">99.9%"
    if 0.0 < probability < 0.0005:
        return "<0.1%"
    return f"{probability:.1%}"


def prediction_sentence(
    flags: tuple[str, ...], confidence: float, threshold: float | None, detail: str | None
) -> str | None:
    """One sentence saying why a digit's answer is flagged, or None when it is not.
    ``detail``: the ``reason`` of an answer without a digit."""
    if not flags:
        return None
    if flags[0] in ("no_digit", "unreadable"):
        return _none_found(PREDICTION_FLAGS[flags[0]][0], detail)
    limit = "the model's threshold" if threshold is None else f"its {percent(threshold)} threshold"
    below = f"its confidence {percent(confidence)} is below {limit}"
    parts = [below if c == "below_threshold" else PREDICTION_FLAGS[c][0] for c in flags]
    if "below_threshold" in flags:
        return "Low confidence: " + "; ".join(parts) + "."
    above = "" if threshold is None else f" (above its {percent(threshold)} threshold)"
    sure = f", although the digit model itself is {percent(confidence)} sure{above}"
    return "Low confidence: " + "; ".join(parts) + sure + "."


def number_sentence(flags: tuple[str, ...], together: float, reason: str | None) -> str | None:
    """One sentence saying why a number's reading is flagged, or None when it is not.
    ``together``: the threshold of ``unsure_together``; ``reason``: why no number was found."""
    if not flags:
        return None
    if flags[0] in ("no_number", "unreadable"):
        return _none_found(NUMBER_FLAGS[flags[0]][0], reason)
    parts = [NUMBER_FLAGS[code][0].format(together=f"{together:.0%}") for code in flags]
    return "Low confidence: " + "; ".join(parts) + "."


def unreadable_reading(path: str | None, error: str) -> dict:
    """The JSON object of an image whose number could not be read, as ``digits read
    --json``, the service and ``digits batch`` give it."""
    return {
        "path": path,
        "text": "",
        "kind": None,
        "value": None,
        "digits": [],
        "low_confidence": True,
        "flags": ["unreadable"],
        "flag_reason": number_sentence(("unreadable",), 0.0, None),
        "error": error,
    }


def _none_found(what: str, detail: str | None) -> str:
    """``No digit was found: <why>.`` (``detail``: a reason, which may repeat the start;
    an unreadable image's error is not repeated)."""
    if what.startswith("the image could not be read"):
        detail = None
    for start in ("no digit found", "no number found"):
        detail = (detail or "").removeprefix(start).lstrip(": ")
    detail = detail.rstrip(".")
    return what[0].upper() + what[1:] + (f": {detail}" if detail else "") + "."


def prediction_note(flags: Iterable[str]) -> str:
    """The CLI table's note for a digit's flags: ``not a digit?`` and/or ``low confidence:
    <short causes>``; empty when there are none (or no digit was found)."""
    flags = [code for code in flags if code not in ("no_digit", "unreadable")]
    notes = ["not a digit?"] if "not_a_digit" in flags else []
    rest = [PREDICTION_FLAGS[code][1] for code in flags if code != "not_a_digit"]
    if rest:
        notes.append("low confidence: " + ", ".join(rest))
    return "; ".join(notes)


def number_note(flags: Iterable[str]) -> str:
    """The CLI table's note for a number's flags: ``low confidence: <short causes>``."""
    rest = [NUMBER_FLAGS[code][1] for code in flags if code not in ("no_number", "unreadable")]
    return "low confidence: " + ", ".join(rest) if rest else ""
