"""The README renderer: tables come from the report files, never typed by hand."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


METRICS = {
    "models": {
        "Simple CNN": {
            "test_accuracy": 0.9912,
            "test_loss": 0.03,
            "test_errors": 88,
            "best_val_accuracy": 0.99,
            "params": 225034,
            "epochs": 12,
            "train_seconds": 180.0,
        },
        "Deeper CNN": {
            "test_accuracy": 0.99567,
            "test_loss": 0.015,
            "test_errors": 43,
            "best_val_accuracy": 0.995,
            "params": 331306,
            "epochs": 15,
            "train_seconds": 600.0,
        },
    },
    "best_model": "Deeper CNN",
    "saved_model": {
        "file": "hand_written_digits_prediction.h5",
        "from_this_run": False,
        "val_accuracy": 0.997,
        "test_accuracy": 0.9968,
        "test_loss": 0.011,
    },
    "command": "make run  (papermill ...)",
    "notebook_seconds": 900.0,
    "environment": {"cpu_count": 2, "tensorflow": "2.21.0", "keras": "3.15.1"},
}


def test_models_table_comes_from_metrics():
    table = _load("render_readme").models_table(METRICS)
    assert "| Deeper CNN | 99.57% | 0.0150 | 43 | 99.50% | best epoch |" in table
    assert "| Simple CNN | 99.12% |" in table
    assert "15.0 min" in table and "`make run`" in table
    assert "| Deeper CNN (saved) |" not in table  # the shipped file came from make train-full ...
    assert (
        "kept from `make train-full`" in table and "**99.68%**" in table
    )  # ... and the table says so


def test_models_table_says_which_weights_each_model_kept():
    metrics = json.loads(json.dumps(METRICS))
    metrics["parameters"] = {"DEEPER_AVERAGE": 5}
    metrics["models"]["Deeper CNN"].update(val_accuracy=0.9976, best_epoch=11)
    metrics["models"]["Simple CNN"]["best_epoch"] = 12
    table = _load("render_readme").models_table(metrics)
    assert "| Deeper CNN | 99.57% | 0.0150 | 43 | 99.76% | average of the last 5 epochs |" in table
    assert "| Simple CNN | 99.12% | 0.0300 | 88 | 99.00% | best epoch (12) |" in table


def test_render_replaces_only_between_markers(tmp_path, monkeypatch):
    module = _load("render_readme")
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    monkeypatch.setattr(module, "REPORTS", tmp_path)
    readme = "intro\n<!-- results:models -->\nold table\n<!-- /results:models -->\noutro\n"
    rendered = module.render(readme)
    assert rendered.startswith("intro\n<!-- results:models -->\n| model |") and rendered.endswith(
        "<!-- /results:models -->\noutro\n"
    )
    assert "old table" not in rendered
    assert module.render(rendered) == rendered  # idempotent


def test_committed_readme_is_up_to_date():
    module = _load("render_readme")
    readme = (ROOT / "README.md").read_text()
    assert module.render(readme) == readme, "README tables differ from reports/: run `make report`"


@pytest.mark.parametrize("keep", ["best", "last", "average"])
def test_train_full_picks_the_seed_on_validation_and_reports(tmp_path, keep):
    model, report = tmp_path / "model.h5", tmp_path / "train_full.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_full.py"),
            "--epochs",
            "2",
            "--seeds",
            "1",
            "2",
            "--subset",
            "1500",
            "--keep",
            keep,
            "--average-epochs",
            "1",
            "--model-path",
            str(model),
            "--report",
            str(report),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(report.read_text())
    assert result["keep"] == keep
    for run in result["runs"]:
        kept = run["best_epoch"] if keep == "best" else len(run["history"]["val_accuracy"])
        assert run["epoch"] == kept and ("best_epoch_test_accuracy" in run) == (keep != "best")
        if keep != "average":
            assert run["val_accuracy"] == pytest.approx(run["history"]["val_accuracy"][kept - 1])
        else:  # the averaged model is scored on its own; the last epoch is scored for comparison
            assert run["last_epoch_val_accuracy"] == pytest.approx(
                run["history"]["val_accuracy"][-1]
            )
            assert 0 < run["last_epoch_test_accuracy"] <= 1 and result["average_epochs"] == 1
    assert [run["seed"] for run in result["runs"]] == [1, 2] and result["train_size"] == 1500
    best = max(result["runs"], key=lambda run: run["val_accuracy"])
    assert (
        result["shipped_seed"] == best["seed"]
        and result["saved"]["saved"]
        and model.stat().st_size > 100_000
    )
    tests = [run["test_accuracy"] for run in result["runs"]]
    assert (
        abs(result["test_accuracy_mean"] - sum(tests) / 2) < 1e-9
        and 0 <= result["ensemble_test_accuracy"] <= 1
    )


def test_train_full_distils_from_teacher_models_and_reports_them(tmp_path):
    teacher, model, report = (
        tmp_path / "teacher.h5",
        tmp_path / "model.h5",
        tmp_path / "train_full.json",
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train_full.py"),
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--subset",
        "1000",
        "--average-epochs",
        "1",
        "--report",
        str(report),
    ]
    bad = subprocess.run(
        [*command, "--teachers", "x.h5", "--teacher-weight", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--teacher-weight between 0 and 1" in bad.stderr
    kept = tmp_path / "kept"
    subprocess.run(
        [*command, "--model-path", str(teacher), "--save-models", str(kept)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (kept / "seed1.h5").is_file()
    again = subprocess.run(
        [*command, "--model-path", str(model), "--save-models", str(kept)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "Not overwriting" in again.stderr and not model.exists()
    missing = subprocess.run(
        [*command, "--model-path", str(model), "--teachers", str(tmp_path / "nope.h5")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (
        missing.returncode != 0
        and "Teacher model: No model file at" in missing.stderr
        and not model.exists()
    )
    assert "Traceback" not in missing.stderr
    subprocess.run(
        [
            *command,
            "--model-path",
            str(model),
            "--teachers",
            str(teacher),
            str(kept / "seed1.h5"),
            "--teacher-views",
            "2",
            "--teacher-weight",
            "0.7",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(report.read_text())
    teachers = result["teachers"]
    assert [t["path"] for t in teachers["models"]] == [str(teacher), str(kept / "seed1.h5")]
    # The file shipped and the seed's kept copy are one model: same scores, ensemble included.
    assert (
        teachers["models"][0]["val_accuracy"] == teachers["models"][1]["val_accuracy"]
        and len(teachers["models"][0]["sha256"]) == 64
    )
    assert teachers["ensemble_val_accuracy"] == pytest.approx(teachers["models"][0]["val_accuracy"])
    assert (result["teacher_views"], result["teacher_weight"]) == (2, 0.7) and model.is_file()


def test_train_full_fine_tunes_a_model_and_ships_the_soup_of_its_seeds(tmp_path):
    start, model, report = (
        tmp_path / "start.h5",
        tmp_path / "model.h5",
        tmp_path / "train_full.json",
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train_full.py"),
        "--epochs",
        "2",
        "--subset",
        "1000",
        "--average-epochs",
        "1",
        "--report",
        str(report),
    ]
    bad = subprocess.run([*command, "--soup"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "--soup needs --init" in bad.stderr
    missing = subprocess.run(
        [*command, "--model-path", str(model), "--init", str(tmp_path / "nope.h5")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (
        missing.returncode != 0
        and "Starting model (--init): No model file at" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    subprocess.run(
        [*command, "--seeds", "1", "--model-path", str(start)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [*command, "--seeds", "1", "2", "--model-path", str(model), "--init", str(start), "--soup"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(report.read_text())
    assert result["init"]["path"] == str(start) and len(result["init"]["sha256"]) == 64
    soup = result["soup"]
    assert (
        result["shipped_seed"] == "soup"
        and result["shipped_test_accuracy"] == soup["test_accuracy"]
    )
    # The soup replaces the file only if it is more accurate on validation than the model it started from.
    ships = soup["val_accuracy"] > result["init"]["val_accuracy"]
    assert result["saved"]["saved"] == ships == model.is_file()
    assert soup["val_accuracy"] == pytest.approx(
        result["saved"]["val_accuracy"]
    )  # what was judged is the soup
    table = _load("render_readme").train_full_table(result)
    assert (
        "| average of the seeds' weights (shipped) |" in table
    ) == ships and "Every seed fine-tunes" in table
    assert "| 1 (shipped) |" not in table and "| 2 (shipped) |" not in table


def test_train_full_table_names_the_command_that_made_it():
    module = _load("render_readme")
    assert (
        module.made_by({"command": "make train-full  (python scripts/train_full.py --seeds 1)"})
        == "`make train-full`"
    )
    report = {
        "command": "make train-full  (python scripts/train_full.py --init build/a.h5)",
        "equivalent_command": "python scripts/train_full.py --init build/teachers/a.h5  (stage 2 of `make train-full`)",
    }
    assert (
        module.made_by(report)
        == "`python scripts/train_full.py --init build/teachers/a.h5` (stage 2 of `make train-full`)"
    )


def test_experiments_table_has_a_row_per_report():
    module = _load("render_readme")
    run = {
        "seed": 1,
        "best_epoch": 7,
        "val_accuracy": 0.99,
        "val_loss": 0.02,
        "test_accuracy": 0.9951,
    }
    reports = {
        "a.json": {
            "command": "make train-full  (python scripts/train_full.py --epochs 7)",
            "epochs": 7,
            "augment": False,
            "params": 331306,
            "runs": [run],
            "test_accuracy_mean": 0.9951,
            "test_accuracy_std": 0.0,
            "ensemble_test_accuracy": 0.9951,
        },
        "b.json": {
            "command": "x",
            "equivalent_command": "python scripts/train_full.py --monitor val_loss",
            "epochs": 9,
            "monitor": "val_loss",
            "filters": [32, 96],
            "params": 517930,
            "runs": [run, {**run, "val_loss": 0.01, "test_accuracy": 0.9961}],
            "test_accuracy_mean": 0.9956,
            "test_accuracy_std": 0.0007,
            "ensemble_test_accuracy": 0.997,
        },
    }
    table = module.experiments_table(reports)
    rows = [line for line in table.splitlines() if line.startswith("| `reports/experiments/")]
    assert len(rows) == 2
    assert (
        "| 32/64 (331,306) | no | 7 | best epoch by val_accuracy | 7 | 99.00% → 99.51% | – (1 seed) | 0.0200 |"
        in rows[0]
    )
    assert (
        "| 32/96 (517,930) | yes | 9 | best epoch by val_loss | 7 / 7 | 99.00% → 99.51% / 99.00% → 99.61% | 99.56% ± 0.07% | 0.0100 | 99.70% |"
        in rows[1]
    )
    assert (
        "`python scripts/train_full.py --epochs 7`; `python scripts/train_full.py --monitor val_loss`"
        in table
    )


def test_train_full_table_compares_the_last_epoch_with_the_best_one():
    module = _load("render_readme")
    runs = [
        {
            "seed": s,
            "epoch": 30,
            "best_epoch": b,
            "val_accuracy": 0.997,
            "test_accuracy": t,
            "test_loss": 0.011,
            "train_seconds": 600.0,
            "best_epoch_val_accuracy": 0.998,
            "best_epoch_test_accuracy": bt,
        }
        for s, b, t, bt in [(1, 20, 0.9966, 0.9960), (2, 25, 0.9962, 0.9958)]
    ]
    report = {
        "model": "Deeper CNN",
        "epochs": 30,
        "keep": "last",
        "runs": runs,
        "shipped_seed": 1,
        "saved": {"saved": True},
        "test_accuracy_mean": 0.9964,
        "test_accuracy_std": 0.0003,
        "ensemble_test_accuracy": 0.997,
        "command": "make train-full  (python scripts/train_full.py --keep last)",
    }
    table = module.train_full_table(report)
    assert (
        "| 1 (shipped) | 30 | 99.70% | 99.66% | 0.0110 | 10.0 min | 20: 99.80% / 99.60% |" in table
    )
    assert "weights of its last epoch" in table and "would average 99.59%" in table
    # A report from before --keep: the epoch kept was the best one and there is no comparison column.
    old = {
        **report,
        "keep": None,
        "runs": [
            {k: v for k, v in run.items() if k not in ("epoch", "best_epoch_test_accuracy")}
            for run in runs
        ],
    }
    assert "| 1 (shipped) | 20 | 99.70% |" in module.train_full_table(
        old
    ) and "for comparison" not in module.train_full_table(old)


def test_optional_reports_may_be_missing(tmp_path, monkeypatch):
    module = _load("render_readme")
    calls = []
    monkeypatch.setattr(module, "REPORTS", tmp_path)
    monkeypatch.setitem(
        module.SECTIONS,
        "robustness",
        (lambda *reports: calls.append(reports) or "T", ["a.json", "b.json"]),
    )
    readme = "<!-- results:robustness -->\nold\n<!-- /results:robustness -->\n"
    assert module.render(readme) == readme  # the required report is missing: left as is
    (tmp_path / "a.json").write_text('{"x": 1}')
    assert module.render(readme) == "<!-- results:robustness -->\nT\n<!-- /results:robustness -->\n"
    assert calls == [({"x": 1}, None)]


def test_experiments_table_compares_the_kept_epoch_with_the_best_one():
    module = _load("render_readme")
    run = {
        "seed": 1,
        "epoch": 24,
        "best_epoch": 22,
        "val_accuracy": 0.9972,
        "val_loss": 0.0147,
        "test_accuracy": 0.9957,
        "best_epoch_test_accuracy": 0.9956,
    }
    report = {
        "command": "make train-full  (python scripts/train_full.py --keep last)",
        "epochs": 24,
        "keep": "last",
        "filters": [32, 96],
        "params": 517930,
        "runs": [run],
        "test_accuracy_mean": 0.9957,
        "test_accuracy_std": 0.0,
        "ensemble_test_accuracy": 0.9957,
    }
    table = module.experiments_table({"w.json": report})
    assert "| last epoch | 24 | 99.72% → 99.57% |" in table
    assert (
        "`w.json`: had each seed kept its best epoch by val_accuracy instead of its last epoch, the test accuracy would have been (epoch: accuracy) 22: 99.56%."
        in table
    )


def test_tables_compare_averaged_weights_with_the_best_and_the_last_epoch():
    module = _load("render_readme")
    run = {
        "seed": 1,
        "epoch": 30,
        "best_epoch": 27,
        "val_accuracy": 0.9972,
        "val_loss": 0.0147,
        "test_accuracy": 0.9966,
        "test_loss": 0.011,
        "train_seconds": 960.0,
        "best_epoch_val_accuracy": 0.9974,
        "best_epoch_test_accuracy": 0.9956,
        "last_epoch_val_accuracy": 0.9970,
        "last_epoch_test_accuracy": 0.9961,
    }
    report = {
        "model": "Deeper CNN",
        "command": "make train-full  (python scripts/train_full.py --keep average)",
        "epochs": 30,
        "keep": "average",
        "average_epochs": 8,
        "params": 331306,
        "runs": [run],
        "shipped_seed": 1,
        "saved": {"saved": True},
        "test_accuracy_mean": 0.9966,
        "test_accuracy_std": 0.0,
        "ensemble_test_accuracy": 0.9966,
    }
    table = module.train_full_table(report)
    assert (
        "| 1 (shipped) | 30 | 99.72% | 99.66% | 0.0110 | 16.0 min | 27: 99.74% / 99.56% | 99.70% / 99.61% |"
        in table
    )
    assert (
        "its average of the last 8 epochs (SWA); had it kept its last epoch, not averaged instead, the test accuracy would average 99.61%"
        in table
    )
    experiments = module.experiments_table({"a.json": report})
    assert "| average of the last 8 epochs (SWA) | 30 | 99.72% → 99.66% |" in experiments
    assert (
        "| average of the last 8 epochs (SWA at 0.05× the peak learning rate) | 30 |"
        in module.experiments_table({"a.json": {**report, "average_floor": 0.05}})
    )
    assert (
        "had each seed kept its last epoch, not averaged instead of its average of the last 8 epochs (SWA), the test accuracy would have been 99.61%."
        in experiments
    )


def test_distilled_runs_name_their_teachers_in_the_tables():
    module = _load("render_readme")
    run = {
        "seed": 1,
        "epoch": 30,
        "best_epoch": 24,
        "val_accuracy": 0.9968,
        "val_loss": 0.014,
        "test_accuracy": 0.9967,
        "test_loss": 0.0118,
        "train_seconds": 1130.0,
    }
    teachers = {
        "models": [
            {"path": "build/a.h5", "val_accuracy": 0.997, "test_accuracy": 0.9964},
            {"path": "build/b.h5", "val_accuracy": 0.9972, "test_accuracy": 0.9959},
        ],
        "ensemble_val_accuracy": 0.9978,
        "ensemble_test_accuracy": 0.9967,
    }
    report = {
        "model": "Deeper CNN",
        "epochs": 30,
        "keep": "average",
        "average_epochs": 8,
        "runs": [run],
        "shipped_seed": 1,
        "saved": {"saved": True},
        "test_accuracy_mean": 0.9967,
        "test_accuracy_std": 0.0,
        "ensemble_test_accuracy": 0.9967,
        "command": "make train-full  (python scripts/train_full.py --teachers build/a.h5 build/b.h5)",
        "params": 331306,
        "teachers": teachers,
        "teacher_views": 10,
        "teacher_weight": 0.5,
    }
    assert (
        "Distilled from 2 teachers (validation / test accuracy): `build/a.h5` (99.70% / 99.64%), `build/b.h5` (99.72% / 99.59%); "
        "their ensemble 99.78% / 99.67%. Each seed learns from 10 augmented views of every training image, each view's "
        "target 0.5 × the teachers' mean probabilities + 0.5 × its label."
    ) in module.train_full_table(report)
    experiments = module.experiments_table({"d.json": report})
    assert (
        "| 10 views per image, distilled from 2 models |" in experiments
        and "`d.json`: Distilled from 2 teachers" in experiments
    )
    assert "distilled" not in module.experiments_table(
        {"d.json": {k: v for k, v in report.items() if k != "teachers"}}
    )
