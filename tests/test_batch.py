"""Tests of ``digits batch`` with the local engine (a process pool): one row per input,
the CLI's answers, resuming after a SIGKILL, refusing folders that hold something else."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_inputs import (
    AS_A_TERMINAL,
    BAD_FILES,
    Gate,
    batch_command,
    check_exactly_once,
    check_same_answers,
    cli_records,
    make_images,
    parts_in,
    read_rows,
    run_batch,
    wait_for,
)

import digits
from digits.apps import batch, cli
from digits.paths import ROOT
from digits.predict import default_model_path
from digits.runtime.modelfile import file_sha256


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist):
    """About 2,000 inputs: 1,900 MNIST digits, 110 rendered pictures, 3 bad files."""
    folder = tmp_path_factory.mktemp("batch_images")
    return folder, make_images(folder, mnist, digits=1900, rendered=110)


@pytest.fixture(scope="module")
def first_run(images, tmp_path_factory):
    """A whole run over the images with 2 workers: (out folder, CompletedProcess)."""
    folder, _ = images
    out = tmp_path_factory.mktemp("batch_out") / "out"
    done = run_batch(folder, "--out", out, "--workers", 2, "--chunk-size", 100)
    assert done.returncode == 0, done.stderr
    return out, done


def test_one_row_per_input_with_the_cli_answers(images, first_run):
    folder, inputs = images
    out, done = first_run
    rows = check_exactly_once(read_rows(out), inputs)
    assert len(list(out.glob("part-*.parquet"))) == -(-len(inputs) // 100)
    for name in BAD_FILES:
        assert rows[str(folder / "bad" / name)]["error"], name
    assert sum(row["digit"] is not None for row in rows.values()) > 0.95 * len(inputs)
    assert {row["model_sha256"] for row in rows.values()} == {file_sha256(default_model_path())}
    assert {row["version"] for row in rows.values()} == {digits.__version__}
    assert f"{len(inputs):,} inputs" in done.stdout and "3 errors" in done.stdout
    subset = inputs[::20] + [p for p in inputs if "/rendered/" in p or "/bad/" in p]
    check_same_answers(rows, cli_records(sorted(set(subset))))


def _spawned_workers(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (this test's workers and driver)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_rerun_after_sigkill_of_the_driver(images, first_run, tmp_path):
    folder, inputs = images
    out, gate = tmp_path / "out", Gate(tmp_path / "gate")
    marker = f"DIGITS_BATCH_TEST={tmp_path}"
    args = [folder, "--out", out, "--workers", 1, "--chunk-size", 20]
    process = subprocess.Popen(
        batch_command(*args), env=dict(gate.env(), DIGITS_BATCH_TEST=str(tmp_path)), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    gate.release(3)  # three chunks, then the worker waits: the kill is mid-run on any machine
    wait_for(process, lambda: parts_in(out) == 3, "3 parts")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    wait_for(None, lambda: not _spawned_workers(marker), "the workers' exit", timeout=60)
    assert parts_in(out) == 3
    again = run_batch(*args)
    assert again.returncode == 0, again.stderr
    rows = check_exactly_once(read_rows(out), inputs)
    first = {row["path"]: row for row in read_rows(first_run[0])}
    assert rows == first


@pytest.mark.parametrize(
    "point", ["while the workers start", "before the first part", "mid-run", "in the last part"]
)
def test_ctrl_c_then_rerun(images, first_run, tmp_path, point):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) at a point the
    test sets with a `Gate`, not by the clock: exit 130 with a message, no traceback from
    the driver or a worker, no part after the interrupt; the rerun finishes with every
    input once."""
    folder, inputs = images
    out, gate = tmp_path / "out", Gate(tmp_path / "gate")
    chunks = -(-len(inputs) // 20)
    args = [folder, "--out", out, "--workers", 2, "--chunk-size", 20]
    process = subprocess.Popen(
        AS_A_TERMINAL + batch_command(*args)[1:], env=gate.env(), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    wait_for(process, lambda: (out / "_batch.json").is_file(), "the output folder")
    parts = 0  # no token, no part: "while the workers start", "before the first part"
    if point == "before the first part":
        wait_for(process, lambda: gate.waiting() == 2, "both workers at their first chunk")
    elif point != "while the workers start":
        parts = chunks // 2 if point == "mid-run" else chunks - 1
        gate.release(parts)
        wait_for(process, lambda: parts_in(out) == parts, f"{parts} parts")
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr and b"Traceback" not in stderr, stderr.decode()
    assert b"Error" not in stderr, stderr.decode()  # e.g. a worker's EOFError mid-spawn
    assert parts_in(out) == parts
    again = run_batch(*args)
    assert again.returncode == 0, again.stderr
    assert check_exactly_once(read_rows(out), inputs) == {
        row["path"]: row for row in read_rows(first_run[0])
    }


def test_rerun_of_a_finished_batch_writes_nothing(images, first_run):
    folder, _ = images
    out, _ = first_run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run_batch(folder, "--out", out, "--workers", 2)  # chunk size: the first run's
    assert again.returncode == 0, again.stderr
    assert "Nothing to do" in again.stdout and "Nothing to do" not in first_run[1].stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_refuses_another_batch_and_a_folder_of_other_files(images, first_run, tmp_path):
    folder, _ = images
    out, _ = first_run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    other = run_batch(folder / "bad", "--out", out)
    assert other.returncode == 2 and "holds another batch" in other.stderr
    assert "Traceback" not in other.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = run_batch(folder / "bad", "--out", mine)
    assert refused.returncode == 2 and "not the output of" in refused.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"


def test_lists_of_paths_txt_csv_parquet(images, first_run, tmp_path):
    folder, inputs = images
    chosen = inputs[::97]
    relative = [os.path.relpath(p, folder) for p in chosen]
    (folder / "list.txt").write_text("# the chosen ones\n" + "\n".join(relative) + "\n")
    (folder / "list.csv").write_text("label,path\n" + "".join(f"x,{p}\n" for p in relative))
    pq.write_table(pa.table({"path": chosen}), folder / "list.parquet")
    expected = {r["path"]: r for r in read_rows(first_run[0])}
    for name in ("list.txt", "list.csv", "list.parquet"):
        out = tmp_path / name
        summary = batch.run([folder / name], out, workers=1, progress=False)
        assert summary["rows"] == len(chosen)
        rows = check_exactly_once(read_rows(out), chosen)
        assert rows == {p: expected[p] for p in chosen}


def test_read_task_gives_what_digits_read_gives(images, tmp_path):
    folder, inputs = images
    chosen = [p for p in inputs if "/rendered/" in p][:12] + [str(folder / "bad" / "text.png")]
    out = tmp_path / "out"
    done = run_batch(*chosen, "--out", out, "--task", "read", "--workers", 1)
    assert done.returncode == 0, done.stderr
    rows = check_exactly_once(read_rows(out), chosen)
    for path, record in cli_records(chosen, "read").items():
        row = rows[path]
        assert row["text"] == record["text"], path
        assert row["kind"] == record["kind"] and row["value"] == record["value"], path
        assert row["low_confidence"] == record["low_confidence"], path
        assert row["reason"] == record.get("reason") and row["error"] == record.get("error")
        found = [d["confidence"] for d in record.get("digits", [])]
        assert row["confidence"] == (min(found) if found else None), path


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--address", "127.0.0.1:1"], "--address needs --engine ray"),
        (["--model", "missing.tflite"], "no model file"),
        (["missing-list.txt"], "no such list of paths"),
    ],
)
def test_usage_errors(capsys, tmp_path, argv, message):
    code = cli.main(["batch", str(ROOT / "digit_examples"), *argv, "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_read_batch_in_process_keeps_order_and_reports_bad_files(images, first_run):
    """The per-batch function both engines run: one row per path, in order, bad files as
    rows with an error, the known error of a path passed through without opening it."""
    from digits.apps.batch_work import read_batch, rows_table

    folder, inputs = images
    paths = [str(folder / "bad" / "empty.png"), inputs[5], str(folder / "nowhere.png")]
    rows = read_batch(paths, "predict", errors=[None, None, "known: a folder without images"])
    assert [row["path"] for row in rows] == paths
    assert rows[0]["error"] and rows[0]["digit"] is None
    assert rows[2]["error"] == "known: a folder without images"
    expected = {r["path"]: r for r in read_rows(first_run[0])}[inputs[5]]
    assert rows_table(rows, "predict").to_pylist()[1] == expected  # the columns written
