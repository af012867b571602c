"""Tests of the command line: python -m digits predict ..."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import digits
from digits.apps import cli
from digits.paths import ROOT
from digits.synth import samples


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, rendered_digits):
    """A folder with 3 rendered digits (one in a subfolder, one .JPG), a blank image and a
    non-image file that the folder walk must skip."""
    folder = tmp_path_factory.mktemp("images")
    (folder / "sub").mkdir()
    samples.save(folder / "b.png", rendered_digits[0][0])
    samples.save(folder / "sub" / "c.JPG", rendered_digits[1][0])
    samples.save(folder / "a.png", rendered_digits[2][0])
    samples.save(folder / "sub" / "blank.png", np.full((80, 80), 250, dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def run_json(capsys, *args) -> tuple[int, list[dict], str]:
    code = cli.main(["predict", "--json", *map(str, args)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_json_lines(capsys, image_folder, small_model_path):
    code, records, _ = run_json(capsys, "--model", small_model_path, image_folder)
    assert code == 0
    paths = [Path(r["path"]).relative_to(image_folder).as_posix() for r in records]
    assert paths == [
        "a.png",
        "b.png",
        "sub/blank.png",
        "sub/c.JPG",
    ]  # sorted, recursive, images only
    for record in records:
        assert {"path", "digit", "confidence", "probabilities"} <= set(record)
        assert "error" not in record and "top_k" not in record
    found = [r for r in records if r["digit"] is not None]
    assert len(found) == 3
    for record in found:
        assert isinstance(record["digit"], int) and 0 <= record["digit"] <= 9
        assert len(record["probabilities"]) == 10
        assert sum(record["probabilities"]) == pytest.approx(1.0, abs=1e-3)
        assert record["confidence"] == pytest.approx(max(record["probabilities"]))
    blank = records[2]
    assert blank["digit"] is None and blank["reason"].startswith("no digit found")


def test_top_k(capsys, image_folder, small_model_path):
    code, records, _ = run_json(
        capsys, "--model", small_model_path, "--top-k", "3", image_folder / "a.png"
    )
    assert code == 0 and len(records) == 1
    top = records[0]["top_k"]
    assert len(top) == 3 and top[0]["digit"] == records[0]["digit"]
    assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]


def test_bad_file_does_not_stop_the_others(capsys, image_folder, small_model_path, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("this is text")
    code, records, err = run_json(
        capsys,
        "--model",
        small_model_path,
        image_folder / "a.png",
        fake,
        tmp_path / "missing.png",
        image_folder / "b.png",
    )
    assert code == 1
    assert [r["digit"] is not None for r in records] == [True, False, False, True]
    assert "not an image" in records[1]["error"] and "no such file" in records[2]["error"]
    assert "error" not in records[0] and "error" not in records[3]
    assert "Traceback" not in err


def test_table_output(capsys, image_folder, small_model_path):
    code = cli.main(["predict", "--model", str(small_model_path), str(image_folder)])
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:4] == ["path", "digit", "confidence", "top-3"]
    assert len(lines) == 5
    assert "no digit found" in lines[3]
    row = lines[1].split()
    assert row[0].endswith("a.png") and row[1].isdigit()
    assert re.fullmatch(r"[<>]?\d{1,3}\.\d%", row[2]), row
    top = row[3:6]  # top-3: digit:percent, as the confidence
    assert all(re.fullmatch(r"\d:[<>]?\d{1,3}\.\d%", t) for t in top), top
    assert top[0] == f"{row[1]}:{row[2]}"


@pytest.mark.parametrize(
    "probability, shown",
    [(0.997, "99.7%"), (0.99949, "99.9%"), (0.99996, ">99.9%"), (1.0, "100.0%")]
    + [(0.0004, "<0.1%"), (0.0, "0.0%"), (0.5, "50.0%")],
)
def test_percentages_tell_confidences_apart(probability, shown):
    assert cli.percent(probability) == shown


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"digits {digits.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*|0\+unknown", digits.__version__)


def test_every_help_has_an_example(capsys):
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction)]
    for name, sub in [("digits", parser), *commands.choices.items()]:
        text = sub.format_help()
        assert "example" in text and re.search(r"^  digits \w+ ", text, re.MULTILINE), name


def test_quiet_exit_when_the_reader_goes_away(image_folder, small_model_path):
    """`digits predict DIR | head -1`: the reader closes the pipe before the first line."""
    command = [sys.executable, "-m", "digits", "predict", "--model", str(small_model_path)]
    process = subprocess.Popen(
        [*command, str(image_folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
    )
    process.stdout.close()  # nothing read: the first print meets a broken pipe
    _, err = process.communicate(timeout=120)
    assert process.returncode == cli.EXIT_BROKEN_PIPE, err.decode()
    assert b"Traceback" not in err and b"BrokenPipeError" not in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["predict"],
        ["predict", "x.png", "--top-k", "0"],
        ["predict", "x.png", "--top-k", "many"],
        ["classify", "x.png"],
    ],
)
def test_usage_errors(capsys, argv):
    assert cli.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_model_file(capsys, tmp_path, image_folder):
    assert cli.main(["predict", "--model", str(tmp_path / "missing.h5"), str(image_folder)]) == 2
    err = capsys.readouterr().err
    assert "No model file" in err and "Traceback" not in err
    text = tmp_path / "model.h5"
    text.write_text("not a model")
    assert cli.main(["predict", "--model", str(text), str(image_folder)]) == 2
    err = capsys.readouterr().err
    assert "not a Keras model" in err and "Traceback" not in err


def test_folder_without_images(capsys, tmp_path, small_model_path):
    (tmp_path / "readme.txt").write_text("hello")
    code, records, _ = run_json(capsys, "--model", small_model_path, tmp_path)
    assert code == 1 and "without image files" in records[0]["error"]


def test_python_dash_m_gives_clean_json(image_folder, small_model_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "digits",
            "predict",
            "--json",
            "--model",
            str(small_model_path),
            str(image_folder / "a.png"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    (record,) = [json.loads(line) for line in completed.stdout.splitlines()]
    assert isinstance(record["digit"], int)
    assert "oneDNN" not in completed.stderr and "cuda" not in completed.stderr.lower()


def _real_huge_png(path: Path, side: int) -> None:
    """A complete, valid grayscale PNG of side x side black pixels (compresses to ~0.4 MB)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def test_issue_cases_blank_noise_and_bad_files(capsys, tmp_path, small_model_path, image_folder):
    """Blank white, blank black and photo-like noise give digit null with a reason; a text
    file renamed .png, an empty file and a 20000x20000 PNG give a per-file error, fast."""
    rng = np.random.default_rng(0)
    samples.save(tmp_path / "1_white.png", np.full((300, 300), 255, dtype=np.uint8))
    samples.save(tmp_path / "2_black.png", np.zeros((300, 300), dtype=np.uint8))
    noise = np.clip(rng.normal(128, 50, (240, 320, 3)), 0, 255).astype(np.uint8)
    samples.save(tmp_path / "3_noise.jpg", noise)
    (tmp_path / "4_text.png").write_text("hello, not an image\n" * 10)
    (tmp_path / "5_empty.png").write_bytes(b"")
    _real_huge_png(tmp_path / "6_huge.png", 20000)

    import time

    start = time.process_time()  # CPU time: the same on a busy machine, unlike the clock's
    code, records, err = run_json(
        capsys, "--model", small_model_path, image_folder / "a.png", tmp_path
    )
    elapsed = time.process_time() - start
    assert code == 1 and "Traceback" not in err
    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["a.png"]["digit"] is not None  # the good file before them still got its answer
    for name in ("1_white.png", "2_black.png", "3_noise.jpg"):
        record = by_name[name]
        assert (
            record["digit"] is None
            and "error" not in record
            and record["reason"].startswith("no digit found")
        ), record
    for name, words in [
        ("4_text.png", "not an image"),
        ("5_empty.png", "empty"),
        ("6_huge.png", "MP"),
    ]:
        record = by_name[name]
        assert record["digit"] is None and words in record["error"], record
    assert elapsed < 6.0  # seven files, well under a second each


@pytest.mark.parametrize("threshold", ["-0.1", "1.5", "high"])
def test_threshold_must_be_a_probability(capsys, threshold):
    assert cli.main(["predict", "x.png", "--threshold", threshold]) == 2
    assert "usage:" in capsys.readouterr().err


def test_threshold_sets_low_confidence(capsys, image_folder, small_model_path):
    path = image_folder / "a.png"
    _, (everything,), _ = run_json(capsys, "--model", small_model_path, "--threshold", "1", path)
    _, (nothing,), _ = run_json(capsys, "--model", small_model_path, "--threshold", "0", path)
    assert everything["low_confidence"] is True and nothing["low_confidence"] is False
    assert everything["several_digits"] is False


def test_several_digits_note_in_table(capsys, tmp_path, small_model_path):
    canvas = np.full((200, 400), 250, dtype=np.uint8)
    for x in (90, 290):  # two '1's side by side
        canvas[40:160, x : x + 14] = 20
    samples.save(tmp_path / "11.png", canvas)
    assert cli.main(["predict", "--model", str(small_model_path), str(tmp_path / "11.png")]) == 0
    assert "several digits" in capsys.readouterr().out
    _, (record,), _ = run_json(capsys, "--model", small_model_path, tmp_path / "11.png")
    assert record["several_digits"] is True


def test_save_inputs_writes_what_the_model_saw_and_never_overwrites(
    capsys, image_folder, small_model_path, tmp_path
):
    out = tmp_path / "seen"
    out.mkdir()
    mine = out / "a_28x28.png"
    mine.write_bytes(b"the user's own file")
    args = ["--model", small_model_path, "--save-inputs", out, image_folder / "a.png"]
    code, (record, blank), _ = run_json(capsys, *args, image_folder / "sub" / "blank.png")
    assert code == 0 and blank["saved_inputs"] == []  # no digit: nothing to show
    assert mine.read_bytes() == b"the user's own file"  # kept; a suffix was added instead
    saved = sorted(p.name for p in out.iterdir())
    assert saved == ["a_28x28-1.png", "a_28x28.png", "a_box.png"]
    assert [Path(p).name for p in record["saved_inputs"]] == ["a_28x28-1.png", "a_box.png"]
    import cv2

    small = cv2.imread(str(out / "a_28x28-1.png"), cv2.IMREAD_GRAYSCALE)
    assert small.shape == (224, 224) and small.max() > 200  # the 28x28, upscaled 8x
    boxed = cv2.imread(str(out / "a_box.png"))
    original = cv2.imread(str(image_folder / "a.png"))
    assert boxed.shape[:2] == original.shape[:2] and not np.array_equal(boxed, original)
    run_json(capsys, *args)  # again: new names, nothing replaced
    assert len(list(out.iterdir())) == 5 and not list(out.glob(".*"))


def test_save_inputs_refuses_a_file(capsys, image_folder, small_model_path, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    args = ["predict", "--model", str(small_model_path), "--save-inputs", str(target)]
    assert cli.main([*args, str(image_folder / "a.png")]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "x"
