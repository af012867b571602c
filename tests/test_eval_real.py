"""`python -m digits.eval real`: the report on a folder of labelled real images.

The counting is checked on a small folder made here from MNIST test digits (known answers,
one wrong label, one blank, one unreadable file). The real development set
(``../shared/real``, other people's files, never committed) is measured where it exists:
set ``DIGITS_REAL_DATA`` to point elsewhere; without it those tests skip and say why.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from flag_inputs import mnist_on_paper

from digits.eval import __main__ as evaluate
from digits.eval import real
from digits.synth import samples

REAL = Path(os.environ.get("DIGITS_REAL_DATA", Path(__file__).parents[1] / ".." / "shared/real"))
needs_real = pytest.mark.skipif(
    not (REAL / "labels.json").is_file(),
    reason=f"no real development set at {REAL} (set DIGITS_REAL_DATA to its folder)",
)
#: Floors on the real development set's numbers: today's figures less one number's worth.
NUMBERS_FLOOR, NUMBERS_WRONG_CEILING = 44 / 54, 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mnist):
    """digit/: a 7, the same 7 labelled 3, a blank; number/: "210", a blank, a text file."""
    _, (x_test, _) = mnist  # x_test[0] is a 7, [1] a 2, [2] a 1, [3] a 0
    top = tmp_path_factory.mktemp("real")
    for name in ("digit", "number"):
        (top / name).mkdir()
    seven = 255 - x_test[0]
    samples.save(top / "digit/seven.png", seven)
    samples.save(top / "digit/not_three.png", seven)
    samples.save(top / "digit/blank.png", np.full((60, 60), 250, np.uint8))
    samples.save(top / "number/210.png", mnist_on_paper([x_test[1], x_test[2], x_test[3]]))
    samples.save(top / "number/blank.png", np.full((80, 200), 250, np.uint8))
    (top / "number/broken.png").write_text("not an image\n")
    labels = {
        "digit/seven.png": 7,
        "digit/not_three.png": 3,
        "digit/blank.png": 5,
        "number/210.png": "210",
        "number/blank.png": "12",
        "number/broken.png": "34",
    }
    (top / "labels.json").write_text(json.dumps(labels))
    kinds = {"digit/seven.png": "drawing", "number/210.png": "scan"}
    sources = {path: {"kind": kinds.get(path, "photo"), "repo": "me/test"} for path in labels}
    (top / "sources.json").write_text(json.dumps(sources))
    return top


def test_counts_right_flagged_wrong_and_missing(folder):
    report = real.measure(folder)
    digits, numbers = report["digits"], report["numbers"]
    assert digits["overall"]["n"] == 3 and numbers["overall"]["n"] == 3
    assert digits["overall"]["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert digits["overall"]["missing"] == 1  # the blank: no digit, flagged
    assert digits["overall"]["wrong_not_flagged"] == 1  # a sure 7 labelled 3
    assert numbers["overall"]["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert numbers["overall"]["missing"] == 2  # the blank and the unreadable file
    assert numbers["overall"]["wrong_not_flagged"] == 0
    assert set(digits["kinds"]) == {"drawing", "photo"} and set(digits["repos"]) == {"me/test"}
    failed = {row["path"]: row for row in digits["failures"] + numbers["failures"]}
    assert failed["digit/not_three.png"]["answer"] == "7"
    assert failed["number/broken.png"]["reason"]  # the error, said
    assert "number/210.png" not in failed and "digit/seven.png" not in failed
    sha = hashlib.sha256((folder / "labels.json").read_bytes()).hexdigest()
    assert report["labels_sha256"] == sha


def test_the_command_writes_its_report_and_table(folder, tmp_path, capsys):
    argv = ["real", "--data", str(folder), "--out-dir", str(tmp_path)]
    assert evaluate.main(argv) == 0
    report = json.loads((tmp_path / "real.json").read_text())
    assert report["command"] == f"python -m digits.eval real --data {folder} --out-dir {tmp_path}"
    out = capsys.readouterr().out
    assert "Single digits" in out and "Numbers" in out and "| photo |" in out


@pytest.mark.parametrize("argv", [["real"], ["real", "--data", "/nonexistent/real"]])
def test_a_missing_folder_is_a_clear_error(argv, capsys, tmp_path):
    assert evaluate.main([*argv, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--data" in err
    assert not (tmp_path / "real.json").exists()


def test_real_is_not_part_of_all():
    assert "real" not in evaluate.parse_args(["all"]).sets


@needs_real
def test_the_real_development_set():
    """Floors under today's figures on ``../shared/real`` (see docs/robustness.md): a
    change that loses real digits or numbers, or answers them wrongly without a flag,
    fails here."""
    report = real.measure(REAL)
    digits, numbers = report["digits"]["overall"], report["numbers"]["overall"]
    assert digits["accuracy"] >= 0.99 and digits["wrong_not_flagged"] <= 1
    assert numbers["accuracy"] >= NUMBERS_FLOOR
    assert numbers["wrong_not_flagged"] <= NUMBERS_WRONG_CEILING


@needs_real
def test_the_committed_report_was_measured_on_this_data():
    committed = json.loads((Path(__file__).parents[1] / "reports/real.json").read_text())
    sha = hashlib.sha256((REAL / "labels.json").read_bytes()).hexdigest()
    assert committed["labels_sha256"] == sha, (
        "reports/real.json was measured on other labels: rerun "
        "python -m digits.eval real --data ../shared/real"
    )
