"""File names that are not UTF-8 (issue 35): ``digits predict``, ``digits read`` (table
and ``--json``) and ``digits batch`` answer every input, the name kept in its escaped
form (each byte that is not UTF-8 as ``\\xNN``), on a stdout that is strict UTF-8."""

from __future__ import annotations

import io
import json
import sys

import pytest
from batch_inputs import (
    ODD_BAD,
    ODD_EMPTY,
    ODD_NAME,
    check_exactly_once,
    check_same_answers,
    cli_records,
    make_odd_names,
    read_rows,
)

from digits.apps import batch, cli


@pytest.fixture(scope="module")
def odd_names(tmp_path_factory, mnist):
    """``(inputs, row paths)`` of `make_odd_names`: 6 digits, b"\\xff\\xfe.png", a bad file
    and a folder without images, the last two with names that are not UTF-8 either."""
    return make_odd_names(tmp_path_factory.mktemp("odd"), mnist, digits=6)


def _strict_output(monkeypatch, argv: list[str]) -> tuple[int, str]:
    """``digits ARGV`` in this process, its stdout a strict UTF-8 stream (as under a
    UTF-8 locale): exit status and what it wrote."""
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, "utf-8", errors="strict"))
    code = cli.main(argv)
    sys.stdout.flush()
    return code, buffer.getvalue().decode("utf-8")  # strict: valid UTF-8 or it raises


@pytest.mark.parametrize("command", ["predict", "read"])
def test_json_names_the_file_in_the_escaped_form(monkeypatch, odd_names, command):
    inputs, paths = odd_names
    code, out = _strict_output(monkeypatch, [command, "--json", *inputs])
    assert code == 1  # the bad file and the empty folder
    records = {r["path"]: r for r in map(json.loads, out.splitlines())}
    assert sorted(records) == paths
    assert "\\udc" not in out  # no lone surrogate escapes: valid Unicode for any parser
    odd = next(p for p in paths if p.endswith("/" + ODD_NAME))
    assert "error" not in records[odd]
    assert records[odd]["digit" if command == "predict" else "text"] not in (None, "")
    for name in (ODD_BAD, ODD_EMPTY):
        path = next(p for p in paths if p.endswith("/" + name))
        assert path in records[path]["error"]


@pytest.mark.parametrize("command", ["predict", "read"])
def test_table_names_the_file_in_the_escaped_form(monkeypatch, odd_names, command):
    inputs, paths = odd_names
    code, out = _strict_output(monkeypatch, [command, *inputs])
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert sorted(lines) == paths
    odd = next(p for p in paths if p.endswith("/" + ODD_NAME))
    assert "error" not in lines[odd] and lines[odd].split()[1] != "-"
    for name in (ODD_BAD, ODD_EMPTY):
        path = next(p for p in paths if p.endswith("/" + name))
        assert f"error: {path} " in lines[path]


def test_local_batch_gives_one_row_per_input_as_predict_json(odd_names, tmp_path):
    inputs, paths = odd_names
    out = tmp_path / "out"
    summary = batch.run(inputs, out, workers=1, chunk_size=4, progress=False)
    assert summary["rows"] == len(paths) and summary["errors"] == 2
    rows = check_exactly_once(read_rows(out), paths)
    odd = next(p for p in paths if p.endswith("/" + ODD_NAME))
    assert rows[odd]["error"] is None and rows[odd]["digit"] is not None
    records = cli_records(inputs)
    assert sorted(records) == paths
    check_same_answers(rows, records)
