"""`make train-full`'s recipes and `lab.train_full`, run on a tiny subset."""

import json
import re

import pytest

from digits.paths import ROOT
from lab import train_full

RECIPES = ROOT / "lab" / "recipes"


def _makefile_teachers() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    return re.search(r"^TEACHERS\s*:=\s*(.+)$", text, re.MULTILINE).group(1).split()


def test_every_recipe_loads_and_the_soup_learns_from_the_makefiles_teachers():
    teachers = _makefile_teachers()
    recipes = {
        path.stem: train_full.load_recipe(path)
        for path in RECIPES.glob("*.json")
        if not path.stem.startswith("reader")  # the sequence reader's: lab/reader.py reads them
    }
    assert sorted(recipes) == sorted([*teachers, "soup"])
    for name in teachers:
        assert recipes[name].model_path == f"build/teachers/{name}.h5"
    shipped = recipes["soup"]
    assert shipped.teachers == [f"build/teachers/{name}.h5" for name in teachers]
    assert shipped.init == "build/teachers/swa.h5" and shipped.soup
    assert shipped.model_path == "hand_written_digits_prediction.h5"
    assert shipped.replace == "if_better"


def test_recipe_overrides_and_mistakes(tmp_path):
    recipe = train_full.load_recipe(
        RECIPES / "swa.json", ["epochs=2", "seeds=[7]", "model_path=x.h5"]
    )
    assert (recipe.epochs, recipe.seeds, recipe.model_path) == (2, [7], "x.h5")
    with pytest.raises(SystemExit, match="epoch"):
        train_full.load_recipe(RECIPES / "swa.json", ["epoch=2"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model_path": "m.h5", "report": "r.json", "soup": True}))
    with pytest.raises(SystemExit, match="soup needs init"):
        train_full.load_recipe(bad)


def test_a_teacher_then_a_distilled_soup_on_a_tiny_subset(tmp_path, capsys):
    teacher, soup = tmp_path / "teacher.h5", tmp_path / "soup.h5"
    tiny = ["subset=400", "epochs=2", "average_last=1", 'replace="always"']
    train_full.main(
        [str(RECIPES / "swa.json"), *[f"--set={s}" for s in tiny], "--set=seeds=[1, 2]"]
        + [f"--set=model_path={teacher}", f"--set=report={tmp_path / 'teacher-report.json'}"]
    )
    report = json.loads((tmp_path / "teacher-report.json").read_text())
    assert [run["seed"] for run in report["runs"]] == [1, 2]
    best = max(report["runs"], key=lambda run: run["val_accuracy"])
    assert report["shipped"] == best and report["saved"]["saved"]
    assert (tmp_path / "teacher.json").is_file()  # the model's sidecar
    train_full.main(
        [str(RECIPES / "soup.json"), *[f"--set={s}" for s in tiny], "--set=seeds=[3, 4]"]
        + [f"--set=teachers={json.dumps([str(teacher)])}", f"--set=init={teacher}"]
        + ["--set=teacher_views=2", f"--set=model_path={soup}"]
        + [f"--set=report={tmp_path / 'soup-report.json'}"]
    )
    report = json.loads((tmp_path / "soup-report.json").read_text())
    assert report["shipped"]["seed"] == "soup" and soup.is_file()
    assert report["init"]["path"] == str(teacher) and len(report["teachers"]) == 1
    assert report["recipe"]["teacher_views"] == 2 and "test_accuracy" in report["shipped"]
    assert "soup: test" in capsys.readouterr().out
