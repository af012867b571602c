"""``python -m digits.eval SET...``: measure the shipped model on the benchmark sets.

    python -m digits.eval photos robustness      # two sets
    python -m digits.eval all                     # every set (what `make evaluate` runs)
    python -m digits.eval numbers --limit 100     # a quick look at the first 100 items
    python -m digits.eval real --data ../shared/real  # real images by other people

Each set is generated on first use into a cache and checked against its committed manifest
(`digits.synth.sets`); each writes ``reports/SET.json`` (with this command) and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from pathlib import Path

from digits.eval.real import RealDataError
from digits.eval.report import save_report
from digits.synth.sets import SetDriftError, ensure

#: The sets, in the order ``all`` runs them.
SETS = ("robustness", "photos", "mnist_format", "nondigits", "numbers", "symbols", "litert")
#: Sets measured on data the project does not ship (given on the command line), not in ``all``.
GIVEN = ("real", "pages", "marks")


def _module(name: str):
    return importlib.import_module(f"digits.eval.{name}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m digits.eval", description=__doc__.splitlines()[0].split(": ", 1)[1]
    )
    choices = ", ".join((*SETS, *GIVEN))
    parser.add_argument("sets", nargs="+", metavar="SET", help=f"all, or {choices}")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N items of each kind"
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="default: reports/")
    owned = {}
    for name in (*SETS, *GIVEN):
        if hasattr(module := _module(name), "add_arguments"):
            before = set(parser._option_string_actions)
            module.add_arguments(parser)
            owned[name] = set(parser._option_string_actions) - before
    args = parser.parse_args(argv)
    args.owned = owned  # each set's own options, kept out of the other sets' commands
    args.sets = list(SETS) if args.sets == ["all"] else args.sets
    for name in args.sets:
        if name not in (*SETS, *GIVEN):
            parser.error(f"unknown set {name!r}; choose all or {choices}")
    return args


def load_set(module, limit: int | None) -> tuple[Path | None, list[dict] | None]:
    """The set's folder (generated and verified) and its labelled rows, if it has any."""
    if module.SET is None:
        return None, None
    folder = ensure(module.SET)
    if not (folder / "labels.csv").exists():
        return folder, None
    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return folder, _first_of_each_kind(rows, limit)


def _first_of_each_kind(rows: list[dict], limit: int | None) -> list[dict]:
    """The first ``limit`` rows of each kind (or set) of a set, so every kind is measured."""
    if limit is None:
        return rows
    key = "kind" if rows and "kind" in rows[0] else "set"
    taken: dict[str, int] = {}
    kept = []
    for row in rows:
        taken[row.get(key)] = taken.get(row.get(key), 0) + 1
        if taken[row.get(key)] <= limit:
            kept.append(row)
    return kept


def _options_of(name: str, argv: list[str], owned: dict[str, set[str]]) -> list[str]:
    """The options of ``argv`` (with their values) that set ``name`` uses: the shared ones
    and its own, so that each report's command remakes just that report."""
    others = set().union(*(options for other, options in owned.items() if other != name))
    kept, keep = [], False
    for token in argv:
        if token.startswith("--"):
            keep = token.split("=", 1)[0] not in others
        elif token in (*SETS, *GIVEN, "all"):
            keep = False
            continue
        if keep:
            kept.append(token)
    return kept


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    for name in args.sets:
        module = _module(name)
        try:
            data, rows = load_set(module, args.limit)
            print(f"\n## {name}\n")
            report = module.run(args, data, rows)
        except (SetDriftError, RealDataError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(module.table(report) + "\n")
        save_report(report, module.NAME, [name, *_options_of(name, argv, args.owned)], args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
