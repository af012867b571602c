"""Render the README's results tables from the JSON files under reports/.

Usage: python scripts/render_readme.py [--check]
Replaces what stands between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in
README.md with a table built from the matching report; `--check` only reports whether
the README is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"


def models_table(metrics: dict) -> str:
    lines = [
        "| model | test accuracy | test loss | test errors | best validation accuracy | parameters | epochs | training time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metrics["models"].items():
        star = " (saved)" if name == metrics["best_model"] else ""
        lines.append(
            f"| {name}{star} | {m['test_accuracy']:.2%} | {m['test_loss']:.4f} | {m['test_errors']} | "
            f"{m['best_val_accuracy']:.2%} | {m['params']:,} | {m['epochs']} | {m['train_seconds'] / 60:.1f} min |"
        )
    env = metrics["environment"]
    lines.append("")
    lines.append(
        f"Made by `{metrics['command'].split('  ')[0]}` on {env['cpu_count']} CPU cores "
        f"(TensorFlow {env['tensorflow']}, Keras {env['keras']}); the whole notebook took "
        f"{metrics['notebook_seconds'] / 60:.1f} min. Source: `reports/metrics.json`."
    )
    return "\n".join(lines)


def robustness_table(report: dict) -> str:
    lines = ["| kind of change | images | spec's naive snippet | `digits` pipeline |", "|---|---|---|---|"]
    for kind, r in report["kinds"].items():
        lines.append(f"| {kind} | {r['n']} | {r['accuracy_naive']:.1%} | {r['accuracy_pipeline']:.1%} |")
    o = report["overall"]
    lines.append(f"| **all** | {o['n']} | **{o['accuracy_naive']:.1%}** | **{o['accuracy_pipeline']:.1%}** |")
    lines.append("")
    lines.append(f"Made by `{report['command']}`. Source: `reports/robustness.json`.")
    return "\n".join(lines)


def latency_table(report: dict) -> str:
    lines = ["| measure | value |", "|---|---|"]
    for key, value in report["results"].items():
        lines.append(f"| {key} | {value} |")
    lines.append("")
    lines.append(f"Made by `{report['command']}`. Source: `reports/predict_latency.json`.")
    return "\n".join(lines)


SECTIONS = {
    "models": ("metrics.json", models_table),
    "robustness": ("robustness.json", robustness_table),
    "latency": ("predict_latency.json", latency_table),
}


def render(readme: str) -> str:
    for name, (filename, make_table) in SECTIONS.items():
        path = REPORTS / filename
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        if path.exists() and pattern.search(readme):
            table = make_table(json.loads(path.read_text()))
            readme = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    args = parser.parse_args()
    readme_path = ROOT / "README.md"
    old = readme_path.read_text()
    new = render(old)
    if args.check:
        print("README.md is up to date" if new == old else "README.md is out of date: run `make report`")
        return 0 if new == old else 1
    readme_path.write_text(new)
    print("README.md tables rendered from reports/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
