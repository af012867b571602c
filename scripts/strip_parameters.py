"""Remove papermill's injected "Parameters" cell from a notebook executed in place.

`make results` runs the notebook with ``-p OUTPUT_DIR .`` so that its models, reports and
figures land where they are committed; papermill records that as an extra cell tagged
``injected-parameters``. The committed notebook must not keep it: a reader's "run all"
would then write into the repository instead of ``build/notebook/``. The file is replaced
atomically.

    python scripts/strip_parameters.py Handwritten-Digits-Recognition.ipynb
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import nbformat


def strip(path: Path) -> int:
    """Drop the injected cells of the notebook at ``path``; returns how many."""
    notebook = nbformat.read(path, as_version=4)
    kept = [c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    dropped = len(notebook.cells) - len(kept)
    if dropped:
        notebook.cells = kept
        if "papermill" in notebook.metadata:
            notebook.metadata["papermill"]["parameters"] = {}
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".ipynb")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            nbformat.write(notebook, out)
        os.replace(temporary, path)
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    args = parser.parse_args()
    print(f"{args.notebook}: {strip(args.notebook)} injected cell(s) removed")


if __name__ == "__main__":
    main()
