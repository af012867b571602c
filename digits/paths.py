"""Where the project's files live: the repository root, the shipped model and the output folders.

Every script, test and the notebook take these names from here instead of working them out.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ROOT",
    "MODEL_FILENAME",
    "MODEL_PATH",
    "MODELS_DIR",
    "LITERT_FILENAME",
    "LITERT_PATH",
    "REPORTS_DIR",
    "FIGURES_DIR",
    "EXAMPLES_DIR",
    "shown_path",
]

#: The repository root: the folder that holds the ``digits`` package.
ROOT = Path(__file__).resolve().parent.parent
#: The shipped model's file name, and its path at the repository root.
MODEL_FILENAME = "hand_written_digits_prediction.h5"
MODEL_PATH = ROOT / MODEL_FILENAME
#: Other trained models (the notebook's Simple and Deeper CNNs).
MODELS_DIR = ROOT / "models"
#: The shipped model's LiteRT export (``python -m digits export``): what `Predictor` uses
#: by default.
LITERT_FILENAME = "digits_float32.tflite"
LITERT_PATH = MODELS_DIR / LITERT_FILENAME
#: Numbers written by scripts (``*.json``) and the figures the README shows.
REPORTS_DIR = ROOT / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
#: Sample images to try the model on.
EXAMPLES_DIR = ROOT / "digit_examples"


def shown_path(path: str | Path) -> str:
    """How reports name a file: relative to the repository root when it is inside it."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
