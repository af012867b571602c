"""Every flag says why (issue 35): each ``low_confidence`` cause has a code in ``flags`` and
is explained by ``flag_reason``, the same in the Python objects, ``--json`` of the command
line, its table, the service and ``digits batch``'s rows; and no answer above the threshold
is ever said to be below it.

Each flag is caused by a real input (tests/flag_inputs.py) with the shipped models, except
``digit_without_mark`` and ``unread_ink`` (stub sequence readers) and ``wide_mark`` (the
segmenter alone).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from batch_inputs import check_same_answers, env
from flag_inputs import predict_cases, read_cases, stub_reader

import digits.read as read
from digits import flags as flag_codes
from digits.apps import cli
from digits.image import ImageError
from digits.paths import ROOT
from digits.predict import Prediction, Predictor
from digits.read import NumberReading, read_number

#: flag -> words its sentence must hold (written out here, not taken from digits.flags).
PREDICTION_WORDS = {
    "below_threshold": "confidence 83.2% is below its 90.0% threshold",
    "detector_doubt": "detector is in doubt",
    "not_a_digit": "letter, symbol, shape or photo",
    "second_look": "only on a second look",
    "no_digit": "No digit was found: no ink",
    "unreadable": "could not be read",
}
#: flag -> what the table's note says.
PREDICTION_NOTES = {
    "below_threshold": "low confidence: below threshold",
    "detector_doubt": "low confidence: detector in doubt",
    "not_a_digit": "not a digit?",
    "second_look": "low confidence: found on a second look",
    "no_digit": "no digit found: no ink",
    "unreadable": "error: ",
}
NUMBER_WORDS = {
    "below_threshold": "below the digit model's threshold",
    "unsure_sequence": "sequence reader finds the number unlikely",
    "unsure_together": "not all of them together",
    "detector_doubt": "detector is in doubt",
    "digits_cut_apart": "touching digits had to be cut apart",
    "not_a_digit": "looks like a letter, symbol",
    "readers_disagree": "read different numbers",
    "unread_marks": "not read as a number",
    "wide_mark": "too wide for one digit",
    "digit_without_mark": "no mark of its own",
    "unread_ink": "lies outside every digit read",
    "no_number": "No number was found: no ink",
    "unreadable": "could not be read",
}
NUMBER_NOTES = {
    "below_threshold": "a digit below threshold",
    "unsure_sequence": "sequence reader unsure",
    "unsure_together": "digits unsure together",
    "detector_doubt": "detector in doubt",
    "digits_cut_apart": "digits cut apart",
    "not_a_digit": "a mark is not a digit?",
    "readers_disagree": "readers disagree",
    "unread_marks": "marks left unread",
    "wide_mark": "wide mark",
    "digit_without_mark": "a digit without a mark",
    "unread_ink": "ink left unread",
    "no_number": "no digit found: no ink",
    "unreadable": "error: ",
}
#: How a number's flag is caused: the stub (tests/flag_inputs.py) installed first.
STUBS = {
    "wide_mark": "segment-only",
    "digit_without_mark": "extra-digit",
    "unread_ink": "lose-first",
}


@pytest.fixture(scope="module")
def shipped():
    return Predictor()


@pytest.fixture(scope="module")
def cases(tmp_path_factory, mnist):
    """``(predict cases, read cases)``: flag -> image file."""
    folder = tmp_path_factory.mktemp("flags")
    return predict_cases(folder / "predict", mnist), read_cases(folder / "read", mnist)


def _stub(monkeypatch, code: str) -> None:
    """Install the stub sequence reader of ``code`` (`STUBS`), or none."""
    stub = STUBS.get(code)
    if stub is not None:
        reader = stub_reader(stub, read._default_reader(True))
        monkeypatch.setattr(read, "_default_reader", lambda required=False: reader)


def _json(*args, stub: str | None = None, **extra) -> dict[str, dict]:
    """The command line's ``--json`` (a subprocess) by path; with a stub of flag_inputs."""
    command = [sys.executable, "-m", "digits"]
    if stub is not None:
        command = [sys.executable, str(ROOT / "tests" / "flag_inputs.py"), stub]
    done = subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    return {r["path"]: r for r in map(json.loads, done.stdout.splitlines())}


@pytest.fixture(scope="module")
def cli_json(cases):
    """``--json`` of ``digits predict`` and ``digits read`` for every case, by path."""
    predict, numbers = cases
    plain = sorted({str(p) for code, p in numbers.items() if code not in STUBS})
    return {
        "predict": _json("predict", "--json", *predict.values()),
        "read": _json("read", "--json", *plain),
        **{code: _json("read", "--json", numbers[code], stub=stub) for code, stub in STUBS.items()},
    }


def _table(capsys, *args) -> dict[str, str]:
    """The command line's table (in this process), each input's line by path."""
    cli.main([*map(str, args)])
    lines = capsys.readouterr().out.splitlines()[1:]
    return {line.split()[0]: line for line in lines}


def _says_why(answer: dict, code: str, words: dict) -> None:
    """``answer`` (a JSON object) is flagged ``code``, and says so, consistently."""
    assert code in answer["flags"], answer
    assert answer["low_confidence"] is True
    assert words[code] in answer["flag_reason"], answer["flag_reason"]


def _never_below_when_above(answer: dict, threshold: float, note: str = "") -> None:
    if answer.get("confidence", 0) >= threshold:
        assert "below_threshold" not in answer["flags"]
        assert "below" not in (answer.get("flag_reason") or "") and "below" not in note


@pytest.mark.parametrize("code", list(PREDICTION_WORDS))
def test_each_prediction_flag_in_python_json_and_table(code, shipped, cases, cli_json, capsys):
    path = cases[0][code]
    prediction = shipped.predict_many([path], raise_errors=False)[0]
    assert code in prediction.flags and prediction.low_confidence == bool(prediction.flags)
    assert PREDICTION_WORDS[code] in prediction.flag_reason
    as_dict = prediction.to_dict()
    assert as_dict["flags"] == list(prediction.flags)
    record = cli_json["predict"][str(path)]
    _says_why(record, code, PREDICTION_WORDS)
    assert record["flags"] == as_dict["flags"] and record["flag_reason"] == prediction.flag_reason
    note = _table(capsys, "predict", path)[str(path)]
    assert PREDICTION_NOTES[code] in note
    _never_below_when_above(record, shipped.low_confidence, note)


def test_a_clear_digit_has_no_flags(shipped, capsys):
    path = ROOT / "digit_examples" / "3_a.png"
    prediction = shipped.predict(path)
    assert prediction.flags == () and prediction.flag_reason is None
    assert prediction.to_dict()["flags"] == [] and "flag_reason" not in prediction.to_dict()
    assert "low confidence" not in _table(capsys, "predict", path)[str(path)]


def test_a_low_threshold_clears_below_threshold_only(cases, capsys):
    """``--threshold 0.01``: the 83% answer is no longer flagged; the detector's flags stay,
    and the detector-doubt answer at >99.9% is never said to be below 1%."""
    predict = cases[0]
    records = _json("predict", "--json", "--threshold", "0.01", *predict.values())
    table = _table(capsys, "predict", "--threshold", "0.01", *predict.values())
    assert records[str(predict["below_threshold"])]["flags"] == []
    doubt = records[str(predict["detector_doubt"])]
    assert doubt["flags"] == ["detector_doubt"] and doubt["confidence"] > 0.999
    assert "above its 1.0% threshold" in doubt["flag_reason"]
    note = table[str(predict["detector_doubt"])]
    assert note.endswith("low confidence: detector in doubt"), note
    for code in ("detector_doubt", "not_a_digit", "second_look"):
        record = records[str(predict[code])]
        assert record["flags"] == [code]
        _never_below_when_above(record, 0.01, table[str(predict[code])])


@pytest.mark.parametrize("code", list(NUMBER_WORDS))
def test_each_number_flag_in_python_json_and_table(code, shipped, cases, cli_json, capsys):
    path = cases[1][code]
    with pytest.MonkeyPatch.context() as patch:
        _stub(patch, code)
        if code == "unreadable":
            with pytest.raises(ImageError):
                read_number(path, shipped)
        else:
            reading = read_number(path, shipped)
            assert code in reading.flags and reading.low_confidence == bool(reading.flags)
            assert NUMBER_WORDS[code] in reading.flag_reason
            assert reading.to_dict()["flags"] == list(reading.flags)
        table = _table(capsys, "read", path)[str(path)]
    record = cli_json[code if code in STUBS else "read"][str(path)]
    _says_why(record, code, NUMBER_WORDS)
    assert NUMBER_NOTES[code] in table, table
    if "below_threshold" in record["flags"]:  # then a digit is below the threshold
        assert min(d["confidence"] for d in record["digits"]) < shipped.low_confidence
    else:
        assert "below" not in table and "below" not in record["flag_reason"]


def test_the_service_answers_the_flags(shipped, cases, cli_json, monkeypatch):
    from fastapi.testclient import TestClient

    from digits.apps.service import create_app

    predict, numbers = cases
    with TestClient(create_app(predictor=shipped)) as client:
        files = [("files", (str(p), p.read_bytes())) for p in predict.values()]
        answers = client.post("/predict", files=files).json()["predictions"]
        for code, answer in zip(predict, answers):
            _says_why(answer, code, PREDICTION_WORDS)
            record = cli_json["predict"][str(predict[code])]
            assert (answer["flags"], answer["flag_reason"]) == (
                record["flags"],
                record["flag_reason"],
            )
        for code, path in numbers.items():
            with pytest.MonkeyPatch.context() as patch:
                _stub(patch, code)
                response = client.post("/read", files={"files": (str(path), path.read_bytes())})
            answer = response.json()["readings"][0]
            _says_why(answer, code, NUMBER_WORDS)
            if code != "unreadable":
                assert answer == cli_json[code if code in STUBS else "read"][str(path)]


def test_batch_rows_carry_the_flags(cases, cli_json):
    from digits.apps.batch_work import BatchReader, rows_table

    predict, numbers = cases
    rows = BatchReader("predict").rows([str(p) for p in predict.values()])
    stored = rows_table(rows, "predict").to_pylist()  # as the Parquet files hold them
    check_same_answers({row["path"]: row for row in stored}, cli_json["predict"])
    for code, row in zip(predict, rows):
        assert code in row["flags"] and PREDICTION_WORDS[code] in row["flag_reason"]
    reader = BatchReader("read")
    plain = {code: p for code, p in numbers.items() if code not in STUBS}
    for code, row in zip(plain, reader.rows([str(p) for p in plain.values()])):
        record = cli_json["read"][row["path"]]
        assert row["flags"] == record["flags"] and code in row["flags"]
        assert row["flag_reason"] == record["flag_reason"]
    table = rows_table(rows, "predict")  # a list of strings in the Parquet schema
    assert table.schema.field("flags").type.value_type == "string"
    assert table.column("flags").to_pylist() == [row["flags"] for row in rows]


def test_batch_rows_of_the_stubbed_flags(cases, monkeypatch):
    from digits.apps.batch_work import BatchReader

    reader = BatchReader("read")
    for code in STUBS:
        with pytest.MonkeyPatch.context() as patch:
            _stub(patch, code)
            (row,) = reader.rows([str(cases[1][code])])
        assert code in row["flags"] and NUMBER_WORDS[code] in row["flag_reason"]


def test_flags_and_low_confidence_always_agree():
    probabilities = tuple(np.full(10, 0.1))
    with pytest.raises(ValueError, match="flags"):
        Prediction(3, 0.5, probabilities, True)  # flagged without saying why
    with pytest.raises(ValueError, match="flags"):
        Prediction(3, 0.95, probabilities, False, flags=("below_threshold",))
    with pytest.raises(ValueError, match="unknown flags"):
        Prediction(3, 0.5, probabilities, True, flags=("because",))
    assert Prediction(None, 0.0, None, True, reason="no digit found: x").flags == ("no_digit",)
    assert Prediction(None, 0.0, None, True, error="bad").flags == ("unreadable",)
    assert Prediction(4, 0.9, probabilities, True, not_a_digit=True).flags == ("not_a_digit",)
    both = Prediction(3, 0.5, probabilities, True, flags=("second_look", "detector_doubt"))
    assert both.flags == ("detector_doubt", "second_look")  # one order everywhere
    assert NumberReading("", (), True, reason="no number found").flags == ("no_number",)
    with pytest.raises(ValueError, match="flags"):
        NumberReading("12", (), True)
    with pytest.raises(ValueError, match="unknown flags"):
        NumberReading("12", (), True, flags=("second_look",))  # a digit's flag, not a number's


def test_the_app_note_says_why_and_never_below_when_above(cases):
    from digits.explain import explain

    lenient = Predictor(low_confidence=0.01)
    for code in ("detector_doubt", "second_look", "not_a_digit"):
        note = explain(lenient, cases[0][code], saliency=False).note
        assert note.kind in ("low_confidence", "not_a_digit") and "below" not in note.text
        if code != "not_a_digit":
            assert PREDICTION_WORDS[code] in note.text and "1.0% threshold" in note.text
    strict = explain(Predictor(), cases[0]["below_threshold"], saliency=False).note
    assert "83.2% is below its 90.0% threshold" in strict.text


def test_no_digit_reasons_say_what_to_try(shipped):
    """What was seen, then what to try; the measurements only in parentheses at the end."""
    import cv2

    noise = np.random.default_rng(3).integers(0, 256, (480, 640), dtype=np.uint8)
    dots = np.full((300, 300), 245, np.uint8)
    for i in range(64):
        cv2.circle(dots, (20 + i % 8 * 36, 20 + i // 8 * 36), 8, 0, -1)
    solid = np.full((300, 300), 240, np.uint8)
    solid[100:200, 100:200] = 10
    reasons = {
        "crop closer to the digit": shipped.predict(noise).reason,
        "crop to a single digit (64 marks)": shipped.predict(dots).reason,
        "write with a darker pen": shipped.predict(np.full((200, 200), 250, np.uint8)).reason,
        "photograph the digit on plain paper": read_number(solid, shipped).reason,
    }
    for advice, reason in reasons.items():
        assert reason.startswith("no digit found") and advice in reason, reason
        said, _, measured = reason.rpartition("; ")
        assert "<" not in said and not any(c.isdigit() for c in said), reason


def test_help_lists_every_endpoint(capsys):
    assert cli.main(["--help"]) == 0
    assert "POST /predict, POST /read" in capsys.readouterr().out


def test_every_code_is_documented():
    documented = (ROOT / "docs" / "reliability.md").read_text()
    for code in {*flag_codes.PREDICTION_FLAGS, *flag_codes.NUMBER_FLAGS}:
        assert f"`{code}`" in documented, code
