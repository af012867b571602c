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
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python scripts/render_readme.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digits.machine import note as machine_note  # noqa: E402
from digits.machine import runs_table as machine_table  # noqa: E402
from digits.paths import REPORTS_DIR, ROOT  # noqa: E402
from digits.runtime.modelfile import atomic_write_text  # noqa: E402
from scripts.render_timings import (  # noqa: E402
    batch_scale_table,
    latency_tables,
    load_table,
    read_latency_table,
    service_headline,
    table,
    train_speed_tables,
)


def load(name: str) -> dict:
    return json.loads((REPORTS_DIR / name).read_text())


def models_table(m: dict) -> list[str]:
    size, shipped, env = m["test_size"], m["saved_model"], m["environment"]
    rows = [
        f"{name} (notebook) | `make run` | {r['test_accuracy']:.2%} | {r['test_errors']} | "
        f"{r['train_seconds'] / 60:.1f} min"
        for name, r in m["models"].items()
    ]
    made_by = "`make results`" if shipped["from_this_run"] else "`make train-full`"
    errors = round((1 - shipped["test_accuracy"]) * size)
    rows.append(f"**shipped: `{shipped['file']}`** | {made_by} | **{shipped['test_accuracy']:.2%}**"
                f" | {errors} | [docs/training.md](docs/training.md)")  # fmt: skip
    header = f"model | made by | test accuracy | test errors (of {size:,}) | training time"
    source = (
        "Source: `reports/metrics.json`, made by `make results` (`make run` makes the same run "
        f"into `build/notebook/`) on {env['cpu_count']} CPU cores (TensorFlow "
        f"{env['tensorflow']}); the whole notebook took {m['notebook_seconds'] / 60:.1f} min."
        + machine_note(m)
    )
    return [*table(header, rows), "", source]


def robustness_headline(r: dict) -> list[str]:
    o = r["overall"]
    return [
        f"On {o['n']:,} MNIST test digits rendered as people hand them in, the shipped model reads "
        f"**{o['accuracy_pipeline']:.1%}** through the `digits` pipeline, against "
        f"{o['accuracy_naive']:.1%} with the spec's naive snippet (`{r['command']}`)."
    ]


def photos_headline(p: dict, c: dict) -> list[str]:
    o, kinds = p["overall"], p["kinds"]
    each = ", ".join(f"{kind} {k['accuracy_pipeline']:.0%}" for kind, k in kinds.items())
    low = min(k["accuracy_pipeline"] for k in kinds.values())
    test = c["sets"]["mnist_test"]
    return [
        f"On {o['n']:,} phone photos of MNIST test digits ({len(kinds)} kinds: {each}) the "
        f"pipeline reads **{o['accuracy_pipeline']:.1%}** (every kind ≥ {low:.0%}; the spec's "
        f"snippet {o['accuracy_naive']:.1%}), and only {o['wrong_not_flagged_rate']:.1%} of "
        f"the photos get a wrong answer that is not flagged `low_confidence` "
        f"(`{p['command']}`). Calibration (temperature {c['temperature']}, fitted on the "
        f"validation split) brings the expected calibration error on MNIST test from "
        f"{test['ece_before']:.2%} to {test['ece_after']:.2%} (`{c['command']}`)."
    ]


def photos_table(p: dict, before: dict) -> list[str]:
    kinds = [*p["kinds"].items(), ("**overall**", p["overall"])]
    old = [*before["kinds"].values(), before["overall"]]
    rows = [
        f"{kind} | {k['accuracy_naive']:.1%} | {b['accuracy_pipeline']:.1%} | "
        f"{k['accuracy_pipeline']:.1%} | {k['wrong_not_flagged_rate']:.1%}"
        for (kind, k), b in zip(kinds, old)
    ]
    header = "kind | naive snippet | pipeline before | pipeline | wrong, not flagged"
    return [*table(header, rows), "", f"Made by `{p['command']}` and `{before['command']}`."]


def numbers_headline(n: dict, s: dict) -> list[str]:
    seq, seg = n["methods"]["sequence"], n["methods"]["segment"]
    whole = "whole_number_accuracy"
    kinds = ", ".join(
        f"{name} **{seq[name][whole]:.1%}** (segmenter {seg[name][whole]:.1%})" for name in seq
    )
    wrong = max(v["confidently_wrong_rate"] for v in seq.values())
    held = n.get("held_out_script", {}).get("methods", {}).get("sequence", {})
    script = ", ".join(f"{name} {v[whole]:.1%}" for name, v in held.items())
    return [
        f"On {seq['separated']['numbers']:,} generated numbers of 2-8 MNIST test digits per "
        f"kind, `digits read` reads whole numbers right: {kinds}; at most {wrong:.1%} of "
        f"readings in any kind are wrong without `low_confidence`"
        + _hidden_clause(seq.get("overlapping", {}).get("by_hidden", {}))
        + (f"; in script fonts it never trained on: {script}" if script else "")
        + f" (`{n['command']}`). Trained "
        f"on {len(s['class_names'])} generated symbols, the Deeper CNN scores "
        f"**{s['test_accuracy']:.2%}** on {s['test_images']:,} held-out images; "
        + small_folder_sentence(s["small_folder"])
        + f" (`{s['command']}`)."
    ]


def _hidden_clause(parts: dict) -> str:
    """The overlapping kind's numbers with a digit half hidden, and the others."""
    if "half_hidden" not in parts or "visible" not in parts:
        return ""
    hidden, visible = parts["half_hidden"], parts["visible"]
    return (
        f" ({hidden['numbers']:,} overlapping numbers have a digit at least half hidden under "
        f"its neighbour: {hidden['whole_number_accuracy']:.1%} read; the others "
        f"{visible['whole_number_accuracy']:.1%})"
    )


def small_folder_sentence(f: dict) -> str:
    """The 3 classes x 60 drawings case, default settings: mean over its training runs."""

    def mean(kind: str, key: str) -> float:
        return sum(run["kinds"][kind][key] for run in f["runs"]) / len(f["runs"])

    return (
        f"from a small folder ({len(f['classes'])} classes x {f['train_drawings_per_class']} "
        f"drawings, default settings, {len(f['runs'])} runs) it gets "
        f"**{mean('new', 'accuracy'):.1%}** of new drawings right, "
        f"{mean('marker', 'accuracy'):.1%} in a thick marker it never saw, and flags "
        f"{mean('mnist_digits', 'flagged'):.0%} of handwritten digits (none of its classes) "
        f"as low-confidence"
    )


def numbers_table(n: dict) -> list[str]:
    rows = []
    ceiling = n.get("isolated_digit_ceiling", {})
    held = n.get("held_out_script", {}).get("methods", {})
    kinds = [
        (name, name, n["methods"], f"{ceiling[name]:.2%}" if name in ceiling else "n/a")
        for name in n["methods"]["sequence"]
    ]
    kinds += [
        (f"script fonts, {name} (held out)", name, held, "n/a") for name in held.get("sequence", {})
    ]
    for shown, name, methods, alone in kinds:
        for method, sets in methods.items():
            v = sets[name]
            rows.append(
                f"{shown} | {method} | {v['numbers']:,} | {v['whole_number_accuracy']:.2%} | "
                f"{alone} | {v['digit_accuracy']:.2%} | {v['confidently_wrong_rate']:.2%} | "
                f"{v['low_confidence_rate']:.2%} | {v['median_read_ms']:.1f} ms"
            )
    header = (
        "set | method | numbers | whole-number | digits read alone | per-digit | "
        "wrong, not flagged | flagged low-confidence | median time"
    )
    return [*table(header, rows), "", f"Made by `{n['command']}`."]


def numbers_hidden_table(n: dict) -> list[str]:
    """Per kind, the sequence method on numbers whose digits can all be seen and on those
    with a digit at least half hidden under its neighbours' ink."""
    rows = []
    for name, v in n["methods"]["sequence"].items():
        parts = v.get("by_hidden", {})
        cells = [
            f"{parts[p]['numbers']:,} | {parts[p]['whole_number_accuracy']:.2%} | "
            f"{parts[p]['confidently_wrong_rate']:.2%}"
            if p in parts
            else "0 | | "
            for p in ("visible", "half_hidden")
        ]
        rows.append(f"{name} | " + " | ".join(cells))
    header = (
        "set | all digits visible | whole-number | wrong, not flagged | "
        "a digit half hidden | whole-number | wrong, not flagged"
    )
    return [*table(header, rows), "", f"Made by `{n['command']}` (sequence method)."]


def litert_table(r: dict, latency: dict) -> list[str]:
    files = [r["keras"], *r["litert"]]
    committed = [f for f in files if f.get("committed", True)]
    rows = [
        f"`{f['file']}` | {f['runtime']} {f['quantize'] or ''} | {f['bytes']:,} | "
        f"{f['test_accuracy']:.2%} | {f.get('agreement_with_keras', 1.0):.2%} | "
        f"{f['single_image_ms']:.3f} ms"
        for f in committed
    ]
    cold = latency["cold_start"]
    header = "model | runtime | bytes | test accuracy | agrees with Keras | one image, model only"
    return [
        *table(header, rows),
        "",
        f"Made by `{r['command']}`. Cold start of `digits predict one.png`, process start to "
        f"answer: **{cold['litert_default']['median_s']:.3f} s** with the default LiteRT model, "
        f"{cold['keras']['median_s']:.2f} s with the Keras one, medians of {cold['runs']} runs "
        f"(`{latency['command']}`)." + machine_note(latency),
    ]


def nondigits_headline(r: dict) -> list[str]:
    held, worst, digits = r["held_out_kinds"], r["held_out_worst"], r["digits"]
    numbers = max(k.get("confident_number", -1.0) for k in held.values())
    read = f" and `digits read` is sure of a number in at most **{numbers:.1%}**"
    photos = (
        f", and of the photographs at most **{worst['photos_confident_digit']:.1%}**"
        if "photos_confident_digit" in worst
        else ""
    )
    return [
        f"On {len(held)} kinds of non-digits held out from the detector's training "
        f"({', '.join(k.replace('s_o', 's and o').replace('_', ' ') for k in held)}), at most "
        f"**{worst['confident_digit']:.1%}** get a confident digit{photos} (AUROC >= "
        f"{worst['auroc_detector']:.3f} per kind){read if numbers >= 0 else ''}, while "
        f"{digits['mnist_test']['rejected']:.2%} "
        f"of MNIST test digits and {digits['photos']['rejected']:.2%} of the photo set are "
        f"rejected ({digits['photos']['right_answers_lost']:.2%} of the photos were read right "
        f"and lost; `{r['command']}`)."
    ]


def nondigits_table(r: dict) -> list[str]:
    rows = [
        f"{kind} | {group} | {x['n']} | {x['caught']:.1%} | {x['confident_digit']:.1%} | "
        f"{x['auroc_detector']:.4f} | {x['auroc_softmax']:.4f} | "
        + (f"{x['confident_number']:.1%}" if "confident_number" in x else "")
        for group, kinds in (("no", r["training_kinds"]), ("**yes**", r["held_out_kinds"]))
        for kind, x in kinds.items()
    ]
    header = (
        "kind | held out | n | caught | confident digit | AUROC detector | AUROC softmax | "
        "confident number (`digits read`)"
    )
    digit_rows = [
        f"{name} | {x['n']} | {x['rejected']:.2%} | {x['right_answers_lost']:.2%} | "
        f"{x['not_a_digit']:.2%} | {x['no_digit_found']} | {x['low_confidence']:.2%}"
        for name, x in r["digits"].items()
    ]
    doubt = r.get("detector_doubt")
    levels = f"threshold {r['detector_threshold']:.4f}" + (
        f", doubt from {doubt:.4f}" if doubt is not None else ""
    )
    return [
        *table(header, rows),
        "",
        *table(
            "digits | n | wrongly rejected | right answers lost | not a digit | no digit found | "
            "answered, low confidence",
            digit_rows,
        ),
        "",
        f"Made by `{r['command']}` (detector {levels}).",
    ]


def nondigits_held_out_table(r: dict) -> list[str]:
    """The held-out kinds of `nondigits_table` and the digits wrongly rejected, for
    docs/robustness.md."""
    rows = [
        f"{kind} | {x['n']} | {x['caught']:.1%} | {x['confident_digit']:.1%} | "
        f"{x['auroc_detector']:.4f} | {x.get('confident_number', float('nan')):.1%}"
        for kind, x in r["held_out_kinds"].items()
    ]
    rejected = ", ".join(f"{name} {x['rejected']:.2%}" for name, x in r["digits"].items())
    return [
        *table(
            "held-out kind | n | caught | confident digit | AUROC | confident number "
            "(`digits read`)",
            rows,
        ),
        "",
        f"Real digits wrongly rejected: {rejected}. Made by `{r['command']}`; all kinds and "
        "the trade-off: [docs/reliability.md](reliability.md).",
    ]


def mnist_format_table(r: dict) -> list[str]:
    names = {
        "28_white_on_black": "28x28, white on black",
        "280_white_on_black": "280x280, white on black",
        "280_dark_on_white": "280x280, dark on white",
    }
    rows = [
        f"{names.get(k, k)} | {x['n']} | {x['accuracy']:.2%} | {x['not_a_digit']:.2%} | "
        f"{x['zeros_wrong']}"
        for k, x in r["results"].items()
    ]
    return [
        *table("rendering | n | accuracy | not a digit | zeros wrong", rows),
        "",
        f"Made by `{r['command']}`.",
    ]


def robustness_table(r: dict, control: dict) -> list[str]:
    kinds = [*r["kinds"].items(), ("**all**", r["overall"])]
    controls = [*control["kinds"].values(), control["overall"]]
    rows = [f"{kind} | {k['n']} | {k['accuracy_naive']:.1%} | {k['accuracy_pipeline']:.1%} | "
            f"{c['accuracy_pipeline']:.1%}" for (kind, k), c in zip(kinds, controls)]  # fmt: skip
    header = "kind | images | naive snippet | `digits` pipeline | trained without augmentation"
    return [*table(header, rows), "", f"Made by `{r['command']}` and `{control['command']}`."]


def experiments_table() -> list[str]:
    """One row per run of the shipped model's recipe (lab/reports/train_full*.json)."""
    rows = []
    for path in sorted((ROOT / "lab" / "reports").glob("train_full*.json")):
        r = json.loads(path.read_text())
        seeds = " / ".join(f"{s['val_accuracy']:.2%} → {s['test_accuracy']:.2%}" for s in r["runs"])
        rows.append(f"`{path.name}` | {seeds} | {r['test_accuracy_mean']:.2%} ± "
                    f"{r['test_accuracy_std']:.2%} | `{r['command']}`")  # fmt: skip
    return table("report | seeds: validation → test accuracy | test, mean ± std | made by", rows)


def real_table(r: dict) -> list[str]:
    """The real development set: single digits and numbers per kind (reports/real.json)."""
    lines = []
    for part, what in (
        ("digits", "single digits, `digits predict`"),
        ("numbers", "numbers, `digits read`"),
    ):
        rows = [
            f"{kind} | {k['n']} | {k['accuracy']:.1%} | {k['flagged']} | {k['missing']} | "
            f"{k['wrong_not_flagged']}"
            for kind, k in [*r[part]["kinds"].items(), ("**all**", r[part]["overall"])]
        ]
        header = f"{what} | n | right | flagged | none found | wrong, not flagged"
        lines += [*table(header, rows), ""]
    return [
        *lines,
        f"Made by `{r['command']}` (`labels.json` SHA-256 `{r['labels_sha256'][:16]}…`); "
        f"per source repository and every failure with its reason: `reports/real.json`.",
    ]


def pages_table(r: dict) -> list[str]:
    """Numbers in boxes, cells, ruling, thin-pen photos and by other writers (pages.json)."""
    names = {"optdigits_dark_on_light": "optdigits writers, dark on light",
             "optdigits_light_on_dark": "optdigits writers, light on dark"}  # fmt: skip
    kinds = [*r["settings"].items(), *r["other_writers"].items()]
    rows = [
        f"{names.get(kind, kind)} | {k['numbers']} | {k['whole_number_accuracy']:.1%} | "
        f"{k['flagged']:.1%} | {k['wrong_not_flagged']:.1%} | {k['no_number_found']} | "
        f"{k['median_read_ms']:.0f} ms"
        for kind, k in kinds
    ]
    header = (
        "kind (all held out) | numbers | whole-number | flagged | wrong, not flagged | "
        "none found | median time"
    )
    return [*table(header, rows), "", f"Made by `{r['command']}`." + machine_note(r)]


def pages_headline(r: dict) -> list[str]:
    settings, writers = r["settings"], r["other_writers"]
    whole = [k["whole_number_accuracy"] for k in settings.values()]
    other = [k["whole_number_accuracy"] for k in writers.values()]
    wrong = max(k["wrong_not_flagged"] for k in [*settings.values(), *writers.values()])
    return [
        f"Where people write numbers (generated, never trained on: form boxes, table cells "
        f"cut loosely, ruled and squared paper, underlined, thin pen in 12-megapixel photos "
        f"of grey paper) it reads {min(whole):.1%}-{max(whole):.1%} whole, and numbers of "
        f"digits by the 43 optdigits writers {min(other):.1%}-{max(other):.1%}; at most "
        f"{wrong:.1%} of any kind wrong without a flag (`{r['command']}`)."
    ]


def marks_headline(r: dict) -> list[str]:
    kinds = r["settings"]
    whole = {part: [k["whole_number_accuracy"] for name, k in kinds.items() if part in name]
             for part in ("separated", "touching")}  # fmt: skip
    wrong = max(k["wrong_not_flagged"] for name, k in kinds.items() if name != "specks")
    return [
        f"With the opt-in reader of marks (`--reader {r['reader']}`), numbers with marks "
        f"(`12.50`, `12,50`, `1,250.00`, `-3.5`, `06/12/2026`, `21:45`, `555-0199`; mark "
        f"shapes, pens and digits held out from training) are not solved yet: "
        f"{min(whole['separated']):.0%}-{max(whole['separated']):.0%} whole when apart, "
        f"{min(whole['touching']):.0%}-{max(whole['touching']):.0%} where marks touch digits; "
        f"at most {wrong:.0%} of a kind wrong without a flag; numbers with specks of dirt "
        f"read right {kinds['specks']['whole_number_accuracy']:.0%} (`{r['command']}`)."
    ]


def real_headline(r: dict) -> list[str]:
    d, n = r["digits"]["overall"], r["numbers"]["overall"]
    return [
        f"On real images that other people put in public repositories (photos, scans and "
        f"drawings, never trained on), `digits predict` reads **{d['accuracy']:.1%}** of "
        f"{d['n']} single digits ({d['wrong_not_flagged']} wrong without a flag) and "
        f"`digits read` **{n['accuracy']:.1%}** of {n['n']} numbers whole "
        f"({n['wrong_not_flagged']} wrong without a flag, {n['missing']} with no number "
        f"found): numbers by other writers are not solved yet (`{r['command']}`; "
        f"[docs/robustness.md](docs/robustness.md#real-images-by-other-people))."
    ]


TABLES = {
    "models": ("README.md", lambda: models_table(load("metrics.json"))),
    "robustness": ("README.md", lambda: robustness_headline(load("robustness.json"))),
    "robustness_kinds": (
        "docs/robustness.md",
        lambda: robustness_table(load("robustness.json"), load("robustness_no_augmentation.json")),
    ),
    "experiments": ("docs/training.md", experiments_table),
    "photos": ("README.md", lambda: photos_headline(load("photos.json"), load("calibration.json"))),
    "numbers": ("README.md", lambda: numbers_headline(load("numbers.json"), load("symbols.json"))),
    "photos_table": (
        "docs/robustness.md",
        lambda: photos_table(load("photos.json"), load("photos_baseline.json")),
    ),
    "numbers_table": ("docs/numbers.md", lambda: numbers_table(load("numbers.json"))),
    "numbers_hidden": ("docs/numbers.md", lambda: numbers_hidden_table(load("numbers.json"))),
    "read_latency": ("docs/numbers.md", lambda: read_latency_table(load("read_latency.json"))),
    "litert": (
        "README.md",
        lambda: litert_table(load("litert.json"), load("predict_latency.json")),
    ),
    "service": ("README.md", lambda: service_headline(load("load_service.json"))),
    "load": ("docs/deploy.md", lambda: load_table(load("load_service.json"))),
    "nondigits": ("README.md", lambda: nondigits_headline(load("nondigits.json"))),
    "latency": ("docs/benchmarks.md", lambda: latency_tables(load("predict_latency.json"))),
    "nondigits_table": ("docs/reliability.md", lambda: nondigits_table(load("nondigits.json"))),
    "batch_scale": ("docs/scale.md", lambda: batch_scale_table(load("batch_scale.json"))),
    "nondigits_held_out": (
        "docs/robustness.md",
        lambda: nondigits_held_out_table(load("nondigits.json")),
    ),
    "mnist_format": ("docs/robustness.md", lambda: mnist_format_table(load("mnist_format.json"))),
    "machine": ("docs/scale.md", lambda: machine_table(load("machine.json"))),
    "real": ("docs/robustness.md", lambda: real_table(load("real.json"))),
    "real_headline": ("README.md", lambda: real_headline(load("real.json"))),
    "pages": ("docs/numbers.md", lambda: pages_table(load("pages.json"))),
    "pages_headline": ("README.md", lambda: pages_headline(load("pages.json"))),
    "marks": ("docs/numbers.md", lambda: pages_table(load("marks.json"))),
    "marks_headline": ("README.md", lambda: marks_headline(load("marks.json"))),
    "train_speed": ("docs/benchmarks.md", lambda: train_speed_tables(load("train_speed.json"))),
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
