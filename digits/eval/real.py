"""Real handwriting by other people: single digits and whole numbers, read as a user would.

The folder (``--data DIR``, e.g. ``../shared/real``) holds other people's images, which the
project never ships or trains on: ``labels.json`` maps a relative path to a digit (int) or to
a number's digits (a string, leading zeros kept), and ``sources.json`` gives each file's
``kind`` (photo, scan, drawing) and ``repo``. A path under ``digit/`` is read by
`digits.predict.Predictor` (``digits predict``), any other by `digits.read.read_number`
(``digits read``), each with default settings.

Counted per kind and per source repository:

- digits: right, flagged (``low_confidence``), confidently wrong (a wrong digit without a
  flag: the answer that misleads), "no digit found";
- numbers: whole right, flagged, wrong and not flagged, "no number found".

Every failure (wrong, or right but flagged) is listed with its path, what was written,
what was read and why it was flagged. The report keeps the SHA-256 of ``labels.json`` so a
figure can be tied to the data it was measured on.

    python -m digits.eval real --data ../shared/real
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

from digits.eval.report import markdown_table, percent

NAME = "real"
SET = None  # not generated: the data is given with --data


class RealDataError(ValueError):
    """The ``--data`` folder is missing or is not a labelled set of real images."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="real: a folder with labels.json and sources.json (e.g. ../shared/real)",
    )


def load_real(data: Path) -> tuple[dict, dict, str]:
    """``labels``, ``sources`` and the SHA-256 of ``labels.json`` of a real-image folder."""
    labels_path = Path(data) / "labels.json"
    if not labels_path.is_file():
        raise RealDataError(
            f"{data} has no labels.json; pass a folder of labelled real images, "
            "e.g. --data ../shared/real"
        )
    raw = labels_path.read_bytes()
    try:
        labels = json.loads(raw)
        sources_path = Path(data) / "sources.json"
        sources = json.loads(sources_path.read_bytes()) if sources_path.is_file() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RealDataError(f"{data}: labels.json or sources.json is not JSON ({error})") from None
    if not isinstance(labels, dict) or not labels:
        raise RealDataError(f"{data}/labels.json must map paths to labels")
    return labels, sources, hashlib.sha256(raw).hexdigest()


def is_digit_item(path: str, label) -> bool:
    """A single digit (read by ``predict``) rather than a number (read by ``read``)."""
    return path.startswith("digit/") or (isinstance(label, int) and "/" not in path)


def _digit_row(path: str, label: int, prediction, source: dict) -> dict:
    right = prediction.digit == int(label)
    return {
        "path": path,
        "kind": source.get("kind", "unknown"),
        "repo": source.get("repo", "unknown"),
        "expected": str(label),
        "answer": "" if prediction.digit is None else str(prediction.digit),
        "right": right,
        "flagged": bool(prediction.low_confidence),
        "missing": prediction.digit is None,
        "flags": list(prediction.flags),
        "reason": prediction.error or prediction.reason or prediction.flag_reason,
    }


def _number_row(path: str, label: str, reading, source: dict) -> dict:
    text = reading.get("text", "")
    return {
        "path": path,
        "kind": source.get("kind", "unknown"),
        "repo": source.get("repo", "unknown"),
        "expected": str(label),
        "answer": text,
        "right": text == str(label),
        "flagged": bool(reading.get("low_confidence", True)),
        "missing": not text,
        "flags": reading.get("flags", []),
        "reason": reading.get("error") or reading.get("reason") or reading.get("flag_reason"),
    }


def _read_numbers(data: Path, items: list[tuple[str, str]], predictor) -> list[dict]:
    """``read_number`` on each file, as ``digits read --json`` gives it (errors kept)."""
    from digits.image import ImageError
    from digits.read import read_number

    readings = []
    for path, _ in items:
        try:
            readings.append(read_number(data / path, predictor).to_dict())
        except ImageError as error:
            readings.append({"text": "", "low_confidence": True, "error": str(error)})
    return readings


def _summary(rows: list[dict]) -> dict:
    n = len(rows)
    count = defaultdict(int)
    for row in rows:
        count["right"] += row["right"]
        count["flagged"] += row["flagged"]
        count["wrong_not_flagged"] += not row["right"] and not row["flagged"]
        count["right_but_flagged"] += row["right"] and row["flagged"]
        count["missing"] += row["missing"]
    return {
        "n": n,
        "accuracy": round(count["right"] / n, 4) if n else 0.0,
        **{key: count[key] for key in ("flagged", "right_but_flagged", "missing")},
        "wrong_not_flagged": count["wrong_not_flagged"],
        "wrong_not_flagged_rate": round(count["wrong_not_flagged"] / n, 4) if n else 0.0,
    }


def _grouped(rows: list[dict]) -> dict:
    """Overall, per kind and per source repository, and the failures."""
    by_kind, by_repo = defaultdict(list), defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
        by_repo[row["repo"]].append(row)
    fields = ("path", "kind", "repo", "expected", "answer", "flagged", "flags", "reason")
    return {
        "overall": _summary(rows),
        "kinds": {kind: _summary(group) for kind, group in sorted(by_kind.items())},
        "repos": {repo: _summary(group) for repo, group in sorted(by_repo.items())},
        "failures": [
            {key: row[key] for key in fields} for row in rows if not row["right"] or row["flagged"]
        ],
    }


def measure(data: Path, model: Path | None = None) -> dict:
    """Read every labelled image of ``data``; the report (see the module docstring)."""
    from digits.paths import shown_path
    from digits.predict import Predictor

    labels, sources, sha = load_real(data)
    predictor = Predictor(model)
    digits = [(p, lab) for p, lab in labels.items() if is_digit_item(p, lab)]
    numbers = [(p, str(lab)) for p, lab in labels.items() if not is_digit_item(p, lab)]
    predictions = predictor.predict_many([data / p for p, _ in digits], raise_errors=False)
    readings = _read_numbers(data, numbers, predictor)
    digit_rows = [
        _digit_row(p, lab, pred, sources.get(p, {})) for (p, lab), pred in zip(digits, predictions)
    ]
    number_rows = [
        _number_row(p, lab, reading, sources.get(p, {}))
        for (p, lab), reading in zip(numbers, readings)
    ]
    return {
        "data": str(data),
        "labels_sha256": sha,
        "model": shown_path(predictor.model_path),
        "digits": _grouped(digit_rows),
        "numbers": _grouped(number_rows),
    }


def run(args: argparse.Namespace, data, rows) -> dict:
    if args.data is None:
        raise RealDataError("the real set needs --data DIR (e.g. --data ../shared/real)")
    return measure(args.data, args.model)


def _rows(part: dict) -> list[dict]:
    kinds = [{"group": f"{kind}", **stats} for kind, stats in part["kinds"].items()]
    return [*kinds, {"group": "**all**", **part["overall"]}]


def table(report: dict) -> str:
    """Two tables: single digits and numbers, per kind and overall."""
    columns = [
        ("kind", lambda r: r["group"], False),
        ("n", lambda r: r["n"], True),
        ("right", lambda r: percent(r["accuracy"]), True),
        ("flagged", lambda r: r["flagged"], True),
        ("none found", lambda r: r["missing"], True),
        ("wrong, not flagged", lambda r: r["wrong_not_flagged"], True),
    ]
    digits = markdown_table(columns, _rows(report["digits"]))
    numbers = markdown_table(
        [columns[0], columns[1], ("whole right", columns[2][1], True), *columns[3:]],
        _rows(report["numbers"]),
    )
    return f"Single digits (`digits predict`):\n\n{digits}\n\nNumbers (`digits read`):\n\n{numbers}"
