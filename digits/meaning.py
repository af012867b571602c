"""What a read text means: its kind (`KINDS`) and, for a number, its value.

    >>> meaning("1,250.50")
    ('decimal', 1250.5)
    >>> meaning("12,50"), meaning("-3"), meaning("06/12/2026"), meaning("21:45")
    (('decimal', 12.5), ('integer', -3), ('date', None), ('time', None))

The usual ways of writing a number are read:

- ``1250``, ``-3``: an integer;
- ``12.50``, ``12,50``, ``-3.5``, ``.5``: a decimal (one ``.`` or ``,`` before the last digits);
- ``1,250`` and ``1,250.50`` (groups of three after a comma), ``1.250,50`` (after a dot,
  then a decimal comma): thousands. ``1.250`` alone is a decimal (1.25);
- ``06/12/2026``, ``6-12-26``: a date (day, month and year in either order, one separator);
- ``21:45``, ``9:05:30``: a time.

Anything else (``555-0199``) is ``other``, with no value.

`expectation` turns ``--expect date|time|decimal|integer|REGEX`` into the test a reader's
constrained decoding uses (`digits.runtime.beam`): which prefixes can still become an
allowed text, and which texts are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EXPECTED", "KINDS", "Expectation", "expectation", "meaning", "value_of"]

#: The kinds a text can be.
KINDS = ("integer", "decimal", "date", "time", "other")

_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d*[.,]\d+")
_COMMA_GROUPS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_DOT_GROUPS = re.compile(r"-?\d{1,3}(\.\d{3})+,\d+")
_DATE = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(:(\d{2}))?")


def value_of(text: str) -> int | float | None:
    """The number ``text`` writes (see the module docstring), or None."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _COMMA_GROUPS.fullmatch(text):
        plain = text.replace(",", "")
        return float(plain) if "." in plain else int(plain)
    if _DOT_GROUPS.fullmatch(text):
        return float(text.replace(".", "").replace(",", "."))
    if _DECIMAL.fullmatch(text):
        return float(text.replace(",", "."))
    return None


def _is_date(text: str) -> bool:
    found = _DATE.fullmatch(text)
    if not found:
        return False
    first, _, middle, last = found.groups()
    if len(first) == 4:  # 2026/12/06
        return 1 <= int(middle) <= 12 and 1 <= int(last) <= 31 and len(last) <= 2
    if len(last) not in (2, 4) or len(first) > 2:
        return False
    day_month = sorted((int(first), int(middle)))
    return 1 <= day_month[0] <= 12 and 1 <= day_month[1] <= 31


def _is_time(text: str) -> bool:
    found = _TIME.fullmatch(text)
    if not found:
        return False
    seconds = found.group(4)
    return int(found.group(1)) <= 24 and int(found.group(2)) < 60 and int(seconds or 0) < 60


def meaning(text: str) -> tuple[str, int | float | None]:
    """``(kind, value)`` of a read text: a kind of `KINDS`, and the number for
    ``integer`` and ``decimal`` (None otherwise)."""
    value = value_of(text)
    if value is not None:
        return ("integer" if isinstance(value, int) else "decimal"), value
    if _is_time(text):
        return "time", None
    if _is_date(text):
        return "date", None
    return "other", None


#: The named formats ``--expect`` takes (anything else is a regular expression).
EXPECTED = ("date", "time", "decimal", "integer")
#: What a prefix of each named format may look like (loosely: the final test is exact).
_PREFIXES = {
    "date": re.compile(r"\d{0,4}([/.-]\d{0,2}([/.-]\d{0,4})?)?"),
    "time": re.compile(r"\d{0,2}(:\d{0,2}(:\d{0,2})?)?"),
    "decimal": re.compile(r"-?[\d.,]*"),
    "integer": re.compile(r"-?\d*"),
}
_WHOLE: dict[str, Callable[[str], bool]] = {
    "date": _is_date,
    "time": _is_time,
    "decimal": lambda text: value_of(text) is not None,
    "integer": lambda text: _INTEGER.fullmatch(text) is not None,
}


@dataclass(frozen=True)
class Expectation:
    """An expected format: ``viable(prefix)`` (may it still become one?) and
    ``matches(text)``."""

    name: str
    viable: Callable[[str], bool]
    matches: Callable[[str], bool]


def expectation(spec: str) -> Expectation:
    """The `Expectation` of a named format of `EXPECTED` or of a regular expression (the
    whole text must match it; every prefix is tried).

    Raises:
        ValueError: ``spec`` is empty or not a valid regular expression.
    """
    if spec in _PREFIXES:
        return Expectation(spec, lambda t: _PREFIXES[spec].fullmatch(t) is not None, _WHOLE[spec])
    if not spec:
        raise ValueError(f"expect a format ({', '.join(EXPECTED)}) or a regular expression")
    try:
        pattern = re.compile(spec)
    except re.error as error:
        raise ValueError(
            f"--expect {spec!r} is neither {', '.join(EXPECTED)} nor a regular expression ({error})"
        ) from None
    return Expectation(spec, lambda t: True, lambda t: pattern.fullmatch(t) is not None)
