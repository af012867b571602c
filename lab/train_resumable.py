"""Train a digit model that survives being killed: rerun the same command to resume.

After every finished epoch a backup goes to ``--backup-dir``; a rerun continues from the
last finished epoch. The model file ``--out`` is replaced only at the end, atomically and
only if the new model is better on the validation split than the one already there
(`digits.training.checkpoint.save_if_better`); then the backup is removed.

    python -m lab.train_resumable --out models/resumable.h5 --epochs 5 \\
        [--subset 6000] [--backup-dir DIR] [--model simple|deeper]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="model file (.h5)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=None, help="train on N images only")
    parser.add_argument("--backup-dir", type=Path, default=None, help="default: OUT.backup")
    parser.add_argument("--model", choices=["simple", "deeper"], default="simple")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    backup_dir = args.backup_dir or args.out.with_name(args.out.name + ".backup")

    from digits.training.checkpoint import resumable_callbacks, save_if_better
    from digits.training.cnns import build_deeper_cnn, build_simple_cnn
    from digits.training.data import load_mnist, split_validation
    from digits.training.train import fit

    (x_train, y_train), _ = load_mnist()
    (x_fit, y_fit), (x_val, y_val) = split_validation(x_train, y_train)
    if args.subset:
        x_fit, y_fit = x_fit[: args.subset], y_fit[: args.subset]
        x_val, y_val = x_val[: max(500, args.subset // 5)], y_val[: max(500, args.subset // 5)]
    resumed = (backup_dir / "training_metadata.json").is_file()
    print(f"backup in {backup_dir}" + (" (resuming)" if resumed else ""), flush=True)
    model = build_simple_cnn() if args.model == "simple" else build_deeper_cnn()
    fit(
        model,
        (x_fit, y_fit),
        (x_val, y_val),
        epochs=args.epochs,
        seed=args.seed,
        augment=False,
        verbose=0,
        callbacks=resumable_callbacks(backup_dir, args.epochs),
    )
    result = save_if_better(model, args.out, x_val, y_val, backup_dir=backup_dir)
    print(json.dumps({k: v for k, v in result.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
