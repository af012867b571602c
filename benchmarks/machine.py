"""The machine reference (`digits.machine.reference`), run several times in a row, and how
far its runs agree.

A timing from one machine means little on another: machines of the same kind differ by up
to 2x, and a shared machine is slower while others work on it. This measures three fixed
workloads (a numpy float32 matmul, a Keras training step of the Simple CNN at batch 128, the
shipped LiteRT model on one image), each a median of its repeats; every report with a
timing records the same reference under ``machine``, so that its times can be scaled.

    python benchmarks/machine.py [--runs 2] [--quick] [--out reports/machine.json]

Prints a table and writes the report with ``runs`` (each run's figures), ``agreement``
((max - min) / mean of each figure over the runs) and the command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digits.machine import agreement, reference, runs_table, summary
from digits.paths import REPORTS_DIR
from digits.runtime.modelfile import atomic_write_json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs in a row (default 2)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--out", type=Path, default=REPORTS_DIR / "machine.json")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = []
    for index in range(args.runs):
        runs.append(reference(quick=args.quick))
        print(f"run {index + 1}/{args.runs}: {summary(runs[-1])}", file=sys.stderr)
    agree = agreement(runs)
    command = "python benchmarks/machine.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    report = {"command": command, "runs": runs, "agreement": agree}
    atomic_write_json(args.out, report)
    print("\n".join(runs_table(report)))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
