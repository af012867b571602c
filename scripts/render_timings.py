"""The tables of timings for `render_readme.py`: prediction and reading latency, the
service under load, training speed and where a training step goes, batch scaling. Each
function takes a report of `benchmarks/` and returns the lines between its markers."""

from __future__ import annotations

from digits.machine import note as machine_note


def table(header: str, rows: list[str]) -> list[str]:
    return [f"| {header} |", "|---" * (header.count("|") + 1) + "|", *[f"| {r} |" for r in rows]]


def read_latency_table(r: dict) -> list[str]:
    rows = [
        f"{name} | {v['median_ms']:.2f} | {v['p90_ms']:.2f}"
        for name, v in [
            ("read_number (total, wall clock)", r["read_number"]),
            ("read_number, CPU time of the process", r["read_number_cpu_time"]),
            *r["steps"].items(),
        ]
    ]
    return [
        *table("step | median ms | p90 ms", rows),
        "",
        f"Made by `{r['command']}` ({r['image']}, read {r['read']!r}), load average "
        f"{r['load_average']}." + machine_note(r),
    ]


def _load_run(load: dict, name: str) -> dict | None:
    return next((r for r in load["runs"] if r["name"] == name), None)


def service_headline(load: dict) -> list[str]:
    run = _load_run(load, "png-8") or next(r for r in load["runs"] if r["concurrency"] == 8)
    photo = _load_run(load, "photo-8")
    photos = f"; 640x480 photo JPEGs {photo['requests_per_s']:.0f} requests/s" if photo else ""
    m = load["memory"]
    return [
        f"`{load['command']}`: {run['requests']:,} digit PNGs at 8 concurrent on loopback, "
        f"{load['workers']} server workers, **{run['requests_per_s']:.0f} requests/s**, p50 "
        f"{run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms, {run['errors']} errors{photos}; "
        f"server memory {m['rss_before_mb']:.0f} MB before and {m['rss_after_mb']:.0f} MB after."
        + machine_note(load)
    ]


def load_table(load: dict) -> list[str]:
    rows = [
        f"{r['name']} | {r['body']} | {r['requests']:,} | {r['concurrency']} | "
        f"{r['requests_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
        f"{r.get('wrong', 0)} | {r['server_cpu_ms_per_request']:.1f}"
        for r in load["runs"]
    ]
    m = load["memory"]
    header = (
        "run | body | requests | concurrent | req/s | p50 ms | p99 ms | errors | wrong "
        "| server CPU ms"
    )
    predictions = m["samples"][-1]["predictions"] if m.get("samples") else 0
    return [
        *table(header, rows),
        "",
        f"{load['workers']} server workers. Server memory (RSS, all its processes): "
        f"{m['rss_before_mb']:.1f} MB before, {m['rss_after_mb']:.1f} MB after {predictions:,} "
        f"predictions, at most {m['rss_max_mb']:.1f} MB; load average "
        f"{load['machine']['load_average_1min_before_after']}. Made by `{load['command']}`."
        + machine_note(load),
    ]


def latency_tables(r: dict) -> list[str]:
    one, photo, m = r["single_image"], r["photo_640x480_jpeg"], r["machine"]
    rows = [
        f"file → digit, one image of `{one['files']}`, warm | "
        f"{one['file_to_digit']['median_ms']:.2f} ms | {one['file_to_digit']['p95_ms']:.2f} ms",
        f"… of which reading + preprocessing | {one['read_and_preprocess']['median_ms']:.2f} ms"
        f" | {one['read_and_preprocess']['p95_ms']:.2f} ms",
        f"… of which the model call | {one['model_only']['median_ms']:.2f} ms | "
        f"{one['model_only']['p95_ms']:.2f} ms",
        f"file → digit, 640x480 JPEG phone photo ({photo['files']} of `{photo['from']}`), warm | "
        f"{photo['median_ms']:.2f} ms | {photo['p95_ms']:.2f} ms",
        f"`predict_many`, {r['batch']['images']:,} files | "
        f"{r['batch']['images_per_second']:.0f} images/s | ",
    ]
    models = r["model_only_one_image"]
    model_rows = [
        f"{name} (`{v['model']}`) | {v['threads']} | {v['median_ms']:.3f} ms | {v['p95_ms']:.3f} ms"
        for name, v in models.items()
        if isinstance(v, dict)
    ]
    cold = r["cold_start"]
    cold_rows = [
        f"`{cold['command']} {v['extra_arguments']}`".replace(" `", "`")
        + f" | {v['median_s']:.2f} s"
        f" | {v['min_s']:.2f} s | {v['max_s']:.2f} s | {v['cpu_median_s']:.2f} s"
        for v in (cold["litert_default"], cold["keras"])
    ]
    return [
        *table("measure | median | 95th percentile", rows),
        "",
        *table("model only, one image | threads | median | 95th percentile", model_rows),
        "",
        *table("cold start, process start to answer | median | min | max | CPU time", cold_rows),
        "",
        f"Made by `{r['command']}` on {m['usable_cpus']} cores ({m['cpu']}), load average "
        f"{m['load_average_1m_at_end']} at the end; Keras / LiteRT: "
        f"{models['keras_over_litert_float32']}x per model call, "
        f"{cold['keras_over_litert']}x per cold start." + machine_note(r),
    ]


def batch_scale_table(r: dict) -> list[str]:
    rows = []
    for name, label in (("photos", "photos (640x480 JPEG)"), ("crops_28x28", "28x28 crops")):
        bare = r[name]["bare"]
        for run in r[name]["runs"]:
            ray_start = f"{run['ray_start_s']:.1f}" if "ray_start_s" in run else "-"
            cpu = run.get("worker_cpu_ms_per_image")
            rows.append(
                f"{label} | {run['engine']} | {run['workers']} | {run['images_per_s']:.0f} | "
                f"{f'{1000 / cpu:.0f}' if cpu else '-'} | {run['start_up_s']:.1f} | {ray_start}"
            )
        rows.append(
            f"{label} | bare loop, 1 process | 1 | {1000 / bare['ms_per_image']:.0f} | "
            f"{1000 / bare['cpu_ms_per_image']:.0f} | - | -"
        )
    header = (
        "images | engine | workers | images/s (steady) | images per worker CPU-second | "
        "start-up s | ray.init s"
    )
    ratios = "; ".join(f"{k}: {v}" for k, v in r["ratios"].items())
    return [
        *table(header, rows),
        "",
        f"Made by `{r['command'].strip()}` on {r['cpu_count']} cores, load average "
        f"{r['load_average']} (a shared machine). Ratios of steady rates: {ratios}."
        + machine_note(r),
    ]


def train_speed_tables(r: dict) -> list[str]:
    """Training throughput as trained (augmented), its utilisation of the machine's
    matmul, and each CNN's training step per layer type."""
    rows = [
        f"{x['framework']} | {x['model']} | {x['batch_size']} | "
        f"{x['steps_per_execution'] or '-'} | {x['images_per_second']:,} | "
        f"{x.get('gflops', '-')} | "
        + (f"{x['utilisation']:.0%}" if x.get("utilisation") is not None else "-")
        for x in r["rows"]
        if x["augment"] and "rounds" not in x
    ]
    header = "framework | model | batch | steps per execution | images/s | GFLOP/s | utilisation"
    out = [*table(header, rows), ""]
    for step in r.get("layer_times", []):
        parts = [
            f"{kind} | {ms:.2f} | {step['share_of_step'][kind]:.0%}"
            for kind, ms in sorted(step["layers_ms"].items(), key=lambda kv: -kv[1])
        ]
        parts.append(f"other (optimizer, loss, Keras) | {step['other_ms']:.2f} | ")
        out += [
            f"{step['model'].capitalize()} CNN, batch {step['batch_size']}: one training step "
            f"{step['step_ms']:.1f} ms.",
            "",
            *table("layer type | ms per step | share of the step", parts),
            "",
        ]
    matmul = r["machine"]["matmul"]["gflops"]
    out.append(
        f"Made by `{r['command'].strip()}`; {r['images']:,} images per timed epoch, median of "
        f"{r['repeats']}. Utilisation: the GFLOP/s trained at (3x the forward FLOPs of the "
        f"Conv2D and Dense layers) over the machine's float32 matmul, {matmul:.0f} GFLOP/s."
        + machine_note(r)
    )
    return out
