"""One report writer and one table printer for every benchmark of `digits.eval`.

A report is a JSON document under ``reports/`` that starts with the command that made it,
so every figure in the README and docs can be traced back and remade; the same numbers are
printed as a Markdown table, ready to paste.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from digits.paths import REPORTS_DIR, shown_path
from digits.runtime.modelfile import atomic_write_json

__all__ = ["Column", "command", "kind_rows", "markdown_table", "percent", "save_report"]

#: A table column: its header, how to get the cell's text from a row, and right-alignment.
Column = tuple[str, Callable[[dict], object], bool]


def command(argv: Sequence[str]) -> str:
    """The command line that reproduces this run."""
    return " ".join(["python -m digits.eval", *argv])


def save_report(report: dict, name: str, argv: Sequence[str], out_dir: Path | None = None) -> Path:
    """Write ``report`` as ``OUT_DIR/NAME.json`` (atomically), its command first."""
    path = (out_dir or REPORTS_DIR) / f"{name}.json"
    atomic_write_json(path, {"command": command(argv), **report})
    print(f"wrote {shown_path(path)}")
    return path


def percent(value: float, decimals: int = 1) -> str:
    """``0.9671`` -> ``"96.7%"``."""
    return f"{value:.{decimals}%}"


def markdown_table(columns: Sequence[Column], rows: Sequence[dict]) -> str:
    """A Markdown table: one line per row, each cell ``get(row)``."""
    lines = [
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "|" + "|".join("---:" if right else "---" for _, _, right in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(get(row)) for _, get, _ in columns) + " |")
    return "\n".join(lines)


def kind_rows(report: dict) -> list[dict]:
    """A report's ``kinds`` as table rows (``kind`` added), then its ``overall`` row."""
    rows = [{"kind": kind, **stats} for kind, stats in report["kinds"].items()]
    return [*rows, {"kind": "**overall**", **report["overall"]}]
