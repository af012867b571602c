"""Render the results tables of README.md and docs/*.md from the JSON reports.

    python scripts/render_readme.py [--check]

A table stands between `<!-- results:NAME -->` and `<!-- /results:NAME -->`; `TABLES` names
the file each one is in and the function that builds it. `--check` writes nothing and exits 1
if a file is out of date.
"""

from __future__ import annotations

import argparse
import json
import re

from digits.modelfile import atomic_write_text
from digits.paths import REPORTS_DIR, ROOT


def load(name: str) -> dict:
    return json.loads((REPORTS_DIR / name).read_text())


def table(header: str, rows: list[str]) -> list[str]:
    return [f"| {header} |", "|---" * (header.count("|") + 1) + "|", *[f"| {r} |" for r in rows]]


def models_table(m: dict) -> list[str]:
    size, shipped, env = m["test_size"], m["saved_model"], m["environment"]
    rows = [
        f"{name} (notebook) | `make run` | {r['test_accuracy']:.2%} | {r['test_errors']} | "
        f"{r['train_seconds'] / 60:.1f} min"
        for name, r in m["models"].items()
    ]
    made_by = "`make run`" if shipped["from_this_run"] else "`make train-full`"
    errors = round((1 - shipped["test_accuracy"]) * size)
    rows.append(f"**shipped: `{shipped['file']}`** | {made_by} | **{shipped['test_accuracy']:.2%}**"
                f" | {errors} | [docs/training.md](docs/training.md)")  # fmt: skip
    header = f"model | made by | test accuracy | test errors (of {size:,}) | training time"
    return [*table(header, rows), "", f"Source: `reports/metrics.json`, made by `make run` on "
            f"{env['cpu_count']} CPU cores (TensorFlow {env['tensorflow']}); the whole notebook "
            f"took {m['notebook_seconds'] / 60:.1f} min."]  # fmt: skip


def robustness_headline(r: dict) -> list[str]:
    o = r["overall"]
    return [
        f"On {o['n']:,} MNIST test digits rendered as people hand them in, the shipped model reads "
        f"**{o['accuracy_pipeline']:.1%}** through the `digits` pipeline, against "
        f"{o['accuracy_naive']:.1%} with the spec's naive snippet (`{r['command']}`)."
    ]


def robustness_table(r: dict, control: dict) -> list[str]:
    kinds = [*r["kinds"].items(), ("**all**", r["overall"])]
    controls = [*control["kinds"].values(), control["overall"]]
    rows = [f"{kind} | {k['n']} | {k['accuracy_naive']:.1%} | {k['accuracy_pipeline']:.1%} | "
            f"{c['accuracy_pipeline']:.1%}" for (kind, k), c in zip(kinds, controls)]  # fmt: skip
    header = "kind | images | naive snippet | `digits` pipeline | trained without augmentation"
    return [*table(header, rows), "", f"Made by `{r['command']}` and `{control['command']}`."]


def experiments_table() -> list[str]:
    rows = []
    for path in sorted((ROOT / "lab" / "reports").glob("*.json")):
        r = json.loads(path.read_text())
        seeds = " / ".join(f"{s['val_accuracy']:.2%} → {s['test_accuracy']:.2%}" for s in r["runs"])
        rows.append(f"`{path.name}` | {seeds} | {r['test_accuracy_mean']:.2%} ± "
                    f"{r['test_accuracy_std']:.2%} | `{r['command']}`")  # fmt: skip
    return table("report | seeds: validation → test accuracy | test, mean ± std | made by", rows)


TABLES = {
    "models": ("README.md", lambda: models_table(load("metrics.json"))),
    "robustness": ("README.md", lambda: robustness_headline(load("robustness.json"))),
    "robustness_kinds": (
        "docs/robustness.md",
        lambda: robustness_table(load("robustness.json"), load("robustness_no_augmentation.json")),
    ),
    "experiments": ("docs/training.md", experiments_table),
}


def render(text: str, name: str, lines: list[str]) -> str:
    """``text`` with the table ``name`` replaced by ``lines``."""
    pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- results:{name} --> ... <!-- /results:{name} --> markers")
    return pattern.sub(lambda m: m.group(1) + "\n".join(lines) + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether files are stale")
    check = parser.parse_args(argv).check
    stale = []
    for file in sorted({file for file, _ in TABLES.values()}):
        old = new = (ROOT / file).read_text()
        for name, (target, make) in TABLES.items():
            new = render(new, name, make()) if target == file else new
        if new != old:
            stale.append(file)
            if not check:
                atomic_write_text(ROOT / file, new)
    print(("out of date: " if check else "rendered: ") + (", ".join(stale) or "nothing"))
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
