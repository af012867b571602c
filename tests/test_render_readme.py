"""scripts/render_readme.py: the tables of README.md and docs/ come from the reports."""

import json

import pytest

from digits.paths import ROOT


@pytest.fixture(scope="module")
def render():
    from scripts import render_readme

    return render_readme


METRICS = {
    "models": {
        "Simple CNN": {"test_accuracy": 0.9912, "test_errors": 88, "train_seconds": 180.0},
        "Deeper CNN": {"test_accuracy": 0.99567, "test_errors": 43, "train_seconds": 600.0},
    },
    "saved_model": {
        "file": "hand_written_digits_prediction.h5",
        "from_this_run": False,
        "test_accuracy": 0.9968,
    },
    "test_size": 10000,
    "notebook_seconds": 900.0,
    "environment": {"cpu_count": 2, "tensorflow": "2.21.0"},
}


def test_models_table_labels_the_notebook_models_and_the_shipped_one(render):
    table = "\n".join(render.models_table(METRICS))
    assert "| Deeper CNN (notebook) | `make run` | 99.57% | 43 | 10.0 min |" in table
    assert "| Simple CNN (notebook) | `make run` | 99.12% | 88 | 3.0 min |" in table
    shipped = (
        "| **shipped: `hand_written_digits_prediction.h5`** | `make train-full` | **99.68%** | 32 |"
    )
    assert shipped in table and "15.0 min" in table
    metrics = json.loads(json.dumps(METRICS))
    metrics["saved_model"]["from_this_run"] = True
    assert "`hand_written_digits_prediction.h5`** | `make results` |" in "\n".join(
        render.models_table(metrics)
    )


def test_render_replaces_only_between_markers(render):
    text = "intro\n<!-- results:models -->\nold table\n<!-- /results:models -->\noutro\n"
    rendered = render.render(text, "models", ["| new |"])
    assert rendered == "intro\n<!-- results:models -->\n| new |\n<!-- /results:models -->\noutro\n"
    assert render.render(rendered, "models", ["| new |"]) == rendered  # idempotent
    with pytest.raises(SystemExit, match="results:robustness"):
        render.render(text, "robustness", ["| new |"])


def test_robustness_headline_and_table(render):
    kind = {"n": 100, "accuracy_naive": 0.2, "accuracy_pipeline": 0.99}
    report = {"kinds": {"clean": kind}, "overall": kind, "command": "digits predict X"}
    control = {"kinds": {"clean": {**kind, "accuracy_pipeline": 0.97}}, "overall": kind}
    assert "**99.0%**" in render.robustness_headline(report)[0]
    table = render.robustness_table(report, {**control, "command": "digits predict Y"})
    assert "| clean | 100 | 20.0% | 99.0% | 97.0% |" in table
    assert "| **all** | 100 | 20.0% | 99.0% | 99.0% |" in table


def test_experiments_table_has_a_row_per_lab_report(render):
    reports = sorted((ROOT / "lab" / "reports").glob("train_full*.json"))  # the shipped model
    rows = render.experiments_table()[2:]
    assert len(rows) == len(reports) > 0
    assert all(row.startswith(f"| `{path.name}` |") for row, path in zip(rows, reports))


def test_committed_tables_are_up_to_date(render, capsys):
    assert render.main(["--check"]) == 0, "tables differ from the reports: run `make report`"
    assert "out of date: nothing" in capsys.readouterr().out
