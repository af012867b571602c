"""Render the README's results tables from the JSON files under reports/.

Usage: python scripts/render_readme.py [--check]
Replaces what stands between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in
README.md with a table built from the matching reports (`SECTIONS`: the first report is
required, the others are optional extras); `--check` only reports whether the README is up
to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"


def kept_weights(name: str, m: dict, averaged: int) -> str:
    """Which weights a notebook model kept: the Deeper CNN's average of its last epochs (DEEPER_AVERAGE),
    otherwise its best epoch."""
    if name == "Deeper CNN" and averaged:
        return f"average of the last {averaged} epochs"
    return f"best epoch ({m['best_epoch']})" if "best_epoch" in m else "best epoch"


def models_table(metrics: dict) -> str:
    lines = [
        "| model | test accuracy | test loss | test errors | validation accuracy | weights kept | parameters | epochs | training time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    shipped = metrics["saved_model"]
    averaged = metrics.get("parameters", {}).get("DEEPER_AVERAGE", 0)
    for name, m in metrics["models"].items():
        star = " (saved)" if name == metrics["best_model"] and shipped["from_this_run"] else ""
        lines.append(
            f"| {name}{star} | {m['test_accuracy']:.2%} | {m['test_loss']:.4f} | {m['test_errors']} | "
            f"{m.get('val_accuracy', m['best_val_accuracy']):.2%} | {kept_weights(name, m, averaged)} | {m['params']:,} | "
            f"{m['epochs']} | {m['train_seconds'] / 60:.1f} min |"
        )
    env = metrics["environment"]
    lines.append("")
    origin = (
        "this run's " + metrics["best_model"]
        if shipped["from_this_run"]
        else "kept from `make train-full`: this run's model is not better on both validation loss and accuracy"
    )
    lines.append(
        f"`{shipped['file']}` ({origin}): test accuracy **{shipped['test_accuracy']:.2%}**, "
        f"test loss {shipped['test_loss']:.4f}, validation accuracy {shipped['val_accuracy']:.2%}"
        + (f", validation loss {shipped['val_loss']:.4f}." if "val_loss" in shipped else ".")
    )
    lines.append("")
    lines.append(
        f"Made by `{metrics['command'].split('  ')[0]}` on {env['cpu_count']} CPU cores "
        f"(TensorFlow {env['tensorflow']}, Keras {env['keras']}); the whole notebook took "
        f"{metrics['notebook_seconds'] / 60:.1f} min. Source: `reports/metrics.json`."
    )
    return "\n".join(lines)


def robustness_table(report: dict, control: dict | None = None) -> str:
    header = "| kind of change | images | spec's naive snippet | `digits` pipeline |"
    rule = "|---|---|---|---|"
    if control:
        header += " pipeline, model trained without augmentation |"
        rule += "---|"
    lines = [header, rule]
    for kind, r in report["kinds"].items():
        extra = f" {control['kinds'][kind]['accuracy_pipeline']:.1%} |" if control else ""
        lines.append(
            f"| {kind} | {r['n']} | {r['accuracy_naive']:.1%} | {r['accuracy_pipeline']:.1%} |{extra}"
        )
    o = report["overall"]
    extra = f" **{control['overall']['accuracy_pipeline']:.1%}** |" if control else ""
    lines.append(
        f"| **all** | {o['n']} | **{o['accuracy_naive']:.1%}** | **{o['accuracy_pipeline']:.1%}** |{extra}"
    )
    lines.append("")
    lines.append(f"Made by `{report['command']}`. Source: `reports/robustness.json`.")
    if control:
        lines.append(
            f"Control column: `{control['command']}`, source `reports/robustness_no_augmentation.json`; "
            "the model comes from the no-augmentation run under Experiments."
        )
    return "\n".join(lines)


def kept_epoch(run: dict) -> int:
    """The epoch whose weights a seed kept (reports from before `--keep` name it best_epoch)."""
    return run.get("epoch", run["best_epoch"])


def monitor_of(report: dict) -> str:
    """What picked the best epoch (reports from before `--monitor` used validation accuracy)."""
    return report.get("monitor", "val_accuracy")


def weights_kept(report: dict) -> str:
    if report.get("keep") == "average":
        floor = (
            f" at {report['average_floor']:g}× the peak learning rate"
            if "average_floor" in report
            else ""
        )
        return f"average of the last {report['average_epochs']} epochs (SWA{floor})"
    return "last epoch" if report.get("keep") == "last" else f"best epoch by {monitor_of(report)}"


def augmentation(report: dict) -> str:
    """How a run augmented its training images: on the fly, not at all, or views scored by teachers."""
    if "teachers" in report:
        return f"{report['teacher_views']} views per image, distilled from {len(report['teachers']['models'])} models"
    return "yes" if report.get("augment", True) else "no"


def teachers_line(report: dict) -> str:
    """For a distilled run: its teachers and their scores, one line."""
    teachers = report["teachers"]
    models = ", ".join(
        f"`{t['path']}` ({t['val_accuracy']:.2%} / {t['test_accuracy']:.2%})"
        for t in teachers["models"]
    )
    return (
        f"Distilled from {len(teachers['models'])} teachers (validation / test accuracy): {models}; their ensemble "
        f"{teachers['ensemble_val_accuracy']:.2%} / {teachers['ensemble_test_accuracy']:.2%}. Each seed learns from "
        f"{report['teacher_views']} augmented views of every training image, each view's target "
        f"{report['teacher_weight']:g} × the teachers' mean probabilities + {1 - report['teacher_weight']:g} × its label."
    )


def init_line(report: dict) -> str:
    """For a fine-tuning run (`--init`): the model every seed started from, and the soup if one was made."""
    init = report["init"]
    line = (
        f"Every seed fine-tunes `{init['path']}` (validation / test accuracy {init['val_accuracy']:.2%} / "
        f"{init['test_accuracy']:.2%}) instead of starting from random weights."
    )
    if "soup" in report:
        soup = report["soup"]
        line += (
            f" The average of the {len(report['runs'])} seeds' weights (a model soup, no seed picked) scores "
            f"{soup['val_accuracy']:.2%} / {soup['test_accuracy']:.2%} (validation loss {soup['val_loss']:.4f})."
        )
    return line


def comparisons(report: dict) -> list[tuple[str, str]]:
    """The other weights each seed's run also scored on test, for comparison (`--keep last`
    scores the best epoch; `--keep average` the best and the last epoch): (key prefix, label)."""
    candidates = [
        ("best_epoch", f"best epoch by {monitor_of(report)}"),
        ("last_epoch", "last epoch, not averaged"),
    ]
    return [
        (key, label)
        for key, label in candidates
        if all(f"{key}_test_accuracy" in run for run in report["runs"])
    ]


def epoch_label(run: dict, key: str) -> str:
    """ "27: " before a best-epoch comparison's score (which epoch that was), nothing before others."""
    return f"{run['best_epoch']}: " if key == "best_epoch" else ""


def made_by(report: dict) -> str:
    """`make train-full`, or the command a report names as its equivalent, with its own remark:
    "`python scripts/train_full.py ...` (stage 2 of `make train-full`)"."""
    if "equivalent_command" not in report:
        return f"`{report['command'].split('  ')[0]}`"
    command, _, remark = report["equivalent_command"].partition("  (")
    return f"`{command}`" + (f" ({remark.removesuffix(')')})" if remark else "")


def train_full_table(report: dict) -> str:
    others = comparisons(report)
    header = (
        "| seed | epoch kept | validation accuracy | test accuracy | test loss | training time |"
    )
    rule = "|---|---|---|---|---|---|"
    for _, label in others:
        header += f" for comparison: {label}, validation / test accuracy |"
        rule += "---|"
    lines = [header, rule]
    for run in report["runs"]:
        shipped = (
            " (shipped)"
            if run["seed"] == report["shipped_seed"] and report["saved"]["saved"]
            else ""
        )
        extra = "".join(
            f" {epoch_label(run, key)}{run[key + '_val_accuracy']:.2%} / {run[key + '_test_accuracy']:.2%} |"
            for key, _ in others
        )
        lines.append(
            f"| {run['seed']}{shipped} | {kept_epoch(run)} | {run['val_accuracy']:.2%} | {run['test_accuracy']:.2%} | "
            f"{run['test_loss']:.4f} | {run['train_seconds'] / 60:.1f} min |{extra}"
        )
    if "soup" in report:
        shipped = (
            " (shipped)" if report["shipped_seed"] == "soup" and report["saved"]["saved"] else ""
        )
        soup = report["soup"]
        lines.append(
            f"| average of the seeds' weights{shipped} | – | {soup['val_accuracy']:.2%} | {soup['test_accuracy']:.2%} | "
            f"{soup['test_loss']:.4f} | – |" + " – |" * len(others)
        )
    lines.append("")
    for key, label in others:
        scores = [run[f"{key}_test_accuracy"] for run in report["runs"]]
        lines.append(
            f"Each seed keeps the weights of its {weights_kept(report)}; had it kept its {label} instead, the test "
            f"accuracy would average {sum(scores) / len(scores):.2%}."
        )
    if others:
        lines.append("")
    if "teachers" in report:
        lines += [teachers_line(report), ""]
    if "init" in report:
        lines += [init_line(report), ""]
    lines.append(
        f"{report['model']}, {report['epochs']} epochs: test accuracy {report['test_accuracy_mean']:.2%} ± "
        f"{report['test_accuracy_std']:.2%} (mean ± standard deviation over {len(report['runs'])} seeds). "
        f"Reported separately, not shipped: the average of the {len(report['runs'])} models' probabilities "
        f"(an ensemble) scores {report['ensemble_test_accuracy']:.2%}. Made by {made_by(report)}; "
        "source: `reports/train_full.json`"
        + (", whose note says how the run was made." if "note" in report else ".")
    )
    return "\n".join(lines)


def experiments_table(reports: dict[str, dict], metrics: dict | None = None) -> str:
    """One row per `make train-full`-style run kept under reports/experiments/ (not shipped)."""
    lines = [
        "| report | conv widths (parameters) | augmentation | epochs | weights kept | seeds' epochs | seeds' validation → test accuracy | mean ± std (test) | lowest validation loss | ensemble |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, report in sorted(reports.items()):
        tests = " / ".join(
            f"{run['val_accuracy']:.2%} → {run['test_accuracy']:.2%}" for run in report["runs"]
        )
        epochs = " / ".join(str(kept_epoch(run)) for run in report["runs"])
        losses = [run["val_loss"] for run in report["runs"] if "val_loss" in run]
        lowest = f"{min(losses):.4f}" if losses else "–"
        spread = (
            f"{report['test_accuracy_mean']:.2%} ± {report['test_accuracy_std']:.2%}"
            if len(report["runs"]) > 1
            else "– (1 seed)"
        )
        widths = "/".join(
            str(width) for width in report.get("filters", [32, 64])
        )  # reports from before --filters: 32/64
        lines.append(
            f"| `reports/experiments/{name}` | {widths} ({report['params']:,}) | {augmentation(report)} | {report['epochs']} | {weights_kept(report)} | "
            f"{epochs} | {tests} | {spread} | {lowest} | {report['ensemble_test_accuracy']:.2%} |"
        )
    lines.append("")
    for name, report in sorted(reports.items()):
        for key, label in comparisons(report):
            scores = " / ".join(
                f"{epoch_label(run, key)}{run[key + '_test_accuracy']:.2%}"
                for run in report["runs"]
            )
            legend = "(epoch: accuracy) " if key == "best_epoch" else ""
            lines.append(
                f"`{name}`: had each seed kept its {label} instead of its {weights_kept(report)}, "
                f"the test accuracy would have been {legend}{scores}."
            )
        if "teachers" in report:
            lines.append(f"`{name}`: " + teachers_line(report))
        if "init" in report:
            lines.append(f"`{name}`: " + init_line(report))
    commands = [
        report.get("equivalent_command", report["command"].split("  ")[-1].strip("()"))
        for _, report in sorted(reports.items())
    ]
    lines.append("Made by `" + "`; `".join(commands) + "`.")
    shipped = metrics["saved_model"] if metrics else {}
    if "val_loss" in shipped:
        lines.append(
            f"The shipped model: validation loss {shipped['val_loss']:.4f}, test accuracy {shipped['test_accuracy']:.2%}."
        )
    return "\n".join(lines)


def latency_table(report: dict) -> str:
    single = report["single_image"]
    lines = ["| measure | median | 95th percentile |", "|---|---|---|"]
    for name, key in [
        ("file → digit, one image, warm", "file_to_digit"),
        ("… of which reading + preprocessing", "read_and_preprocess"),
        ("… of which the model call", "model_only"),
    ]:
        lines.append(
            f"| {name} | {single[key]['median_ms']:.1f} ms | {single[key]['p95_ms']:.1f} ms |"
        )
    batch = report["batch"]
    lines.append(
        f"| `predict_many`, {batch['images']:,} files | {batch['images_per_second']:.0f} images/s | |"
    )
    machine = report["machine"]
    lines.append("")
    lines.append(
        f"On {machine['usable_cpus']} CPU cores ({machine['cpu']}), TensorFlow {machine['tensorflow']}. "
        f"Made by `{report['command']}`; source: `reports/predict_latency.json`."
    )
    return "\n".join(lines)


def train_speed_table(report: dict) -> str:
    lines = [
        "| framework | model | batch size | steps per execution | input | training images/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        spe = row["steps_per_execution"] if row["steps_per_execution"] is not None else "–"
        source = (
            "shuffled + augmented, as trained" if row.get("augment") else "cached, no augmentation"
        )
        lines.append(
            f"| {row['framework']} | {row['model']} | {row['batch_size']} | {spe} | {source} | {row['images_per_second']:,} |"
        )
    lines.append("")
    ratio = report["simple_keras_over_pytorch"]
    if ratio is not None:
        lines.append(
            f"Simple CNN at batch size 128: Keras trains at **{ratio:.2f}×** the speed of the same network in PyTorch, in the same run."
        )
    env = report["environment"]
    lines.append(
        f"{report['images']:,} images per timed epoch, median of {report['repeats']}, on {env['cpu_count']} CPU cores. "
        f"Made by `{report['command']}`; source: `reports/train_speed.json`."
    )
    return "\n".join(lines)


# README section -> (the table's function, its reports under reports/: the first one required,
# the others passed as None when missing). A folder gives {file name: report} for its JSON files.
SECTIONS = {
    "models": (models_table, ["metrics.json"]),
    "robustness": (robustness_table, ["robustness.json", "robustness_no_augmentation.json"]),
    "latency": (latency_table, ["predict_latency.json"]),
    "train_full": (train_full_table, ["train_full.json"]),
    "train_speed": (train_speed_table, ["train_speed.json"]),
    "experiments": (experiments_table, ["experiments", "metrics.json"]),
}


def load_report(path: Path) -> dict | None:
    if path.is_dir():
        return {p.name: json.loads(p.read_text()) for p in sorted(path.glob("*.json"))}
    return json.loads(path.read_text()) if path.exists() else None


def render(readme: str) -> str:
    for name, (make_table, filenames) in SECTIONS.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        reports = [load_report(REPORTS / filename) for filename in filenames]
        if reports[0] is not None and pattern.search(readme):
            table = make_table(*reports)
            readme = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if README.md is not up to date"
    )
    args = parser.parse_args()
    readme_path = ROOT / "README.md"
    old = readme_path.read_text()
    new = render(old)
    if args.check:
        print(
            "README.md is up to date"
            if new == old
            else "README.md is out of date: run `make report`"
        )
        return 0 if new == old else 1
    readme_path.write_text(new)
    print("README.md tables rendered from reports/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
