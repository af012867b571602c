"""Numbers with marks in the shells: `digits read` (table, --json, --digits-only, --expect)
and the service's POST /read, with the opt-in reader of marks
(models/reader_marks_float32.tflite). The photos are drawn here from MNIST test digits and
the marks' training style (`digits.synth.punctuation`), one fixed draw per text."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from digits.apps import cli
from digits.paths import MODELS_DIR
from digits.synth import lines
from digits.synth.numbers import render

MARKS_READER = MODELS_DIR / "reader_marks_float32.tflite"
#: A text with each mark, and the draw (seed) of it used here.
WRITTEN = {"12.50": 0, "12,50": 2, "-35": 0, "06/12/26": 1, "21:45": 0}
KINDS = {"12.50": "decimal", "12,50": "decimal", "-35": "integer", "06/12/26": "date",
         "21:45": "time"}  # fmt: skip


def _photo(mnist, text: str, seed: int) -> np.ndarray:
    _, (x, y) = mnist
    spec = lines.LineSpec(
        gap=(0.15, 0.5), pen=0.0, blur=0.0, mark_gap=(0.15, 0.35), mark_contact=0.0
    )
    rng = np.random.default_rng([34, seed])
    alpha = lines._marked(x, y, rng, spec, text, spec.gap)
    big = cv2.resize(alpha, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    return render(np.clip(big, 0, 1), rng, "photo")


@pytest.fixture(scope="module")
def written(mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("marks")
    paths = {}
    for i, (text, seed) in enumerate(WRITTEN.items()):
        paths[text] = folder / f"number_{i}.png"
        cv2.imwrite(str(paths[text]), _photo(mnist, text, seed))
    return paths


def _read(capsys, *args) -> list[dict]:
    code = cli.main(["read", "--json", "--reader", str(MARKS_READER), *map(str, args)])
    out = capsys.readouterr().out
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_cli_reads_each_mark_with_its_meaning(capsys, written):
    records = _read(capsys, *written.values())
    for (text, _), record in zip(written.items(), records):
        assert record["text"] == text and record["kind"] == KINDS[text]
        marks = [d["label"] for d in record["digits"] if d["mark"]]
        assert marks == [c for c in text if not c.isdigit()]
    assert records[0]["value"] == 12.5 and records[1]["value"] == 12.5
    assert records[2]["value"] == -35 and records[3]["value"] is None


def test_digits_only_leaves_the_marks_out_and_says_so(capsys, written):
    records = _read(capsys, "--digits-only", written["12.50"], written["06/12/26"])
    assert [r["text"] for r in records] == ["1250", "061226"]
    assert [r["marks_dropped"] for r in records] == [".", "//"]
    assert all(not d["mark"] for r in records for d in r["digits"])


def test_the_table_shows_the_marks(capsys, written):
    assert cli.main(["read", "--reader", str(MARKS_READER), str(written["21:45"])]) == 0
    assert "21:45" in capsys.readouterr().out


def test_expect_date_reads_a_slash_that_looked_like_a_one(capsys, mnist, tmp_path):
    path = tmp_path / "date.png"
    cv2.imwrite(str(path), _photo(mnist, "06/12/26", 2))  # read "06112/26" unconstrained
    (free,) = _read(capsys, path)
    (dated,) = _read(capsys, "--expect", "date", path)
    assert free["text"] != "06/12/26"
    assert dated["text"] == "06/12/26" and dated["kind"] == "date"
    (timed,) = _read(capsys, "--expect", "time", path)  # no reading of it is a time
    assert timed["low_confidence"] and "unexpected_format" in timed["flags"]


def test_the_service_answers_the_marks(written):
    from fastapi.testclient import TestClient

    from digits.apps.service import create_app

    with TestClient(create_app(reader_path=MARKS_READER)) as client:
        files = [("files", (p.name, p.read_bytes(), "image/png")) for p in written.values()]
        answer = client.post("/read", files=files)
    assert answer.status_code == 200
    readings = answer.json()["readings"]
    assert [r["text"] for r in readings] == list(written)
    assert [r["kind"] for r in readings] == [KINDS[t] for t in written]
