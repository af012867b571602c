"""``python -m digits.synth [SET...] [--write-manifest]``: generate and verify benchmark sets."""

from __future__ import annotations

import argparse
import sys

from digits.synth.sets import SETS, SetDriftError, ensure, write_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("sets", nargs="*", metavar="SET", help=f"default: all of {', '.join(SETS)}")
    parser.add_argument(
        "--write-manifest", action="store_true", help="record the sets as the new manifests"
    )
    args = parser.parse_args(argv)
    for name in args.sets or list(SETS):
        if name not in SETS:
            parser.error(f"unknown set {name!r}; choose from {', '.join(SETS)}")
        try:
            folder = ensure(name, check=not args.write_manifest)
        except SetDriftError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if args.write_manifest:
            print(f"wrote {write_manifest(name, folder)}")
        else:
            print(f"{name}: {folder} matches its manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
