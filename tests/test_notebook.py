"""The notebook, executed by papermill: a tiny training run, a run without training, and its
prediction section alone in a fresh kernel (nbclient).

Every run writes into a temporary folder: the committed notebook, models, reports and figures
are never touched (checked by hashing them before and after).
"""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import papermill
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "Handwritten-Digits-Recognition.ipynb"
COMMITTED = [
    NOTEBOOK,
    ROOT / "hand_written_digits_prediction.h5",
    ROOT / "reports" / "metrics.json",
    ROOT / "models" / "simple_cnn.h5",
    ROOT / "models" / "simple_cnn.json",
    ROOT / "models" / "deeper_cnn.h5",
    ROOT / "models" / "deeper_cnn.json",
    *sorted((ROOT / "reports" / "figures").glob("*.png")),
]


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def committed_unchanged():
    before = {p: _digest(p) for p in COMMITTED}
    yield
    changed = [p.name for p in COMMITTED if _digest(p) != before[p]]
    assert not changed, f"the notebook run overwrote committed files: {changed}"


def _run(tmp_path: Path, **parameters) -> dict:
    out = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"OUTPUT_DIR": str(tmp_path), **parameters},
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    return json.loads(out.read_text())


def _text(executed: dict) -> str:
    kinds = ("text/plain", "text/markdown")
    return "".join(
        "".join(o.get("text", "")) + "".join("".join(o.get("data", {}).get(k, "")) for k in kinds)
        for c in executed["cells"]
        for o in c.get("outputs", [])
    )


def _check_clean_outputs(executed: dict) -> None:
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = _text(executed)
    assert "PosixPath(" not in text  # figure-saving cells end quietly
    assert "retracing" not in text


@pytest.mark.slow
def test_notebook_trains_end_to_end_with_tiny_parameters(tmp_path, committed_unchanged):
    executed = _run(
        tmp_path,
        SIMPLE_EPOCHS=1,
        DEEPER_EPOCHS=3,
        DEEPER_AVERAGE=1,  # batch norm needs more than 3 tiny epochs, or recomputed stats
        TRAIN_SUBSET=2000,
        VALIDATION_SIZE=1000,
    )
    _check_clean_outputs(executed)
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert set(metrics["models"]) == {"Simple CNN", "Deeper CNN"}
    assert metrics["train_size"] == 2000 and metrics["test_size"] == 10000
    assert metrics["notebook_seconds"] > 0 and metrics["parameters"]["TRAIN"] is True
    for name, m in metrics["models"].items():
        assert m["epochs"] == (1 if name == "Simple CNN" else 3) and m["params"] > 100_000
        assert 0.3 < m["test_accuracy"] <= 1.0, (name, m)  # far above chance (0.1)
        assert isinstance(m["test_errors"], int) and isinstance(m["params"], int)
    assert metrics["best_model"] in metrics["models"]
    assert (tmp_path / "hand_written_digits_prediction.h5").stat().st_size > 100_000
    for name in ("simple_cnn", "deeper_cnn"):  # each model with its training record
        record = json.loads((tmp_path / "models" / f"{name}.json").read_text())["training"]
        assert len(record["history"]["val_accuracy"]) == record["epochs"]
    figures = {p.name for p in (tmp_path / "reports" / "figures").glob("*.png")}
    assert {
        "training_curves.png",
        "confusion_matrices.png",
        "digit_examples_predictions.png",
    } <= figures
    assert "Total params" in _text(executed)  # the model summaries were printed


@pytest.mark.slow
def test_notebook_without_training_loads_the_saved_models(tmp_path, committed_unchanged):
    executed = _run(tmp_path, TRAIN=False)
    _check_clean_outputs(executed)
    text = _text(executed)
    assert "training skipped" in text and "Epoch 1/" not in text
    stored = json.loads((ROOT / "models" / "deeper_cnn.json").read_text())["training"]
    assert f"trained {stored['epochs']} epochs" in text  # the record of the run that made it
    assert "whole notebook" in text and "What won" in text  # every section ran to the end
    assert not (tmp_path / "reports" / "metrics.json").exists()  # only training runs record
    assert not (tmp_path / "models").exists()
    figures = {p.name for p in (tmp_path / "reports" / "figures").glob("*.png")}
    assert {"confusion_matrices.png", "digit_examples_predictions.png"} <= figures
    assert "training_curves.png" not in figures  # only a training run redraws the curves


def test_prediction_section_runs_alone_in_a_fresh_kernel(tmp_path, committed_unchanged):
    images = tmp_path / "my digits"
    images.mkdir()
    for name in ("3_a.png", "7_b.jpg"):
        shutil.copy(ROOT / "digit_examples" / name, images / name)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    section = [c for c in notebook.cells if "prediction" in c.metadata.get("tags", [])]
    assert any(c.cell_type == "code" for c in section)
    notebook.cells = [nbformat.v4.new_code_cell(f"IMAGES = {str(images)!r}"), *section]
    NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = _text({"cells": notebook.cells})
    figure = Path(text.split("figure: ", 1)[1].split()[0])
    assert figure.is_file() and ROOT not in figure.parents  # alone: a temporary folder
    shutil.rmtree(figure.parent)
    table = next(
        o["data"]["text/plain"]
        for o in outputs
        if "file" in o.get("data", {}).get("text/plain", "")
    )
    assert "3_a.png" in table and "7_b.jpg" in table and "0_a.png" not in table
    rows = [line.split() for line in table.splitlines()[1:]]
    assert [(row[1], row[2]) for row in rows] == [("3_a.png", "3"), ("7_b.jpg", "7")]


def _parameter(name: str) -> str:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    line = next(x for x in cell.source.splitlines() if x.startswith(f"{name} ="))
    return line.split("=", 1)[1].split("#")[0].strip().strip("\"'")


def test_a_default_run_writes_only_where_git_ignores():
    """Both "Run all" and `make run` must leave every tracked file as it is: the notebook's default
    OUTPUT_DIR, and the folder `make run` writes the executed notebook to, are ignored."""
    output = _parameter("OUTPUT_DIR")
    make = (ROOT / "Makefile").read_text()
    run_dir = next(x for x in make.splitlines() if x.startswith("RUN_DIR")).split("=", 1)[1]
    assert output == run_dir.strip()
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in (f"{output}/models/simple_cnn.h5", f"{output}/reports/metrics.json"):
        check = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert check.returncode == 0, f"{path} is not ignored by git"


def test_the_committed_notebook_is_fully_executed():
    """What a reader sees on GitHub: every code cell ran in one session, in order, and none
    left an error. `make results` rewrites the notebook this way."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    assert code, "no code cells"
    counts = [cell.get("execution_count") for cell in code]
    never_run = [i for i, (cell, n) in enumerate(zip(code, counts)) if n is None]
    assert not never_run, f"code cells without an execution count: {never_run}"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), counts
    errors = [
        (i, output.get("ename"))
        for i, cell in enumerate(code)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"code cells with an error output: {errors}"
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert not injected, "papermill's injected parameters cell: make results strips it"
