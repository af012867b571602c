"""Is it a digit at all? A small detector of non-digits (shapes, letters, symbols).

The classifier's own confidence does not tell: more than half of the generated non-digits
(``scripts/make_nondigit_set.py``) score above 0.9. So a separate, tiny detector looks at
the same 28x28 input the model sees: a one-hidden-layer network (784 -> 128 -> 1) run in
numpy, trained by ``scripts/train_nondigit_detector.py`` on MNIST training digits against
generated non-digits (another seed than the evaluation set). It does not depend on the
digit model or its runtime (Keras or LiteRT) or on its temperature. Its weights and
threshold live in ``digits/runtime/nondigit_detector.npz``; the threshold is the 99.5th percentile
of the score on MNIST training digits the detector did not train on.

    >>> from digits.runtime.ood import nondigit_scores, NondigitDetector
    >>> NondigitDetector.load().flags(images)    # images: (N, 28, 28) floats in [0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DETECTOR_PATH", "NondigitDetector", "nondigit_scores"]

#: The detector's weights and threshold, shipped inside the package.
DETECTOR_PATH = Path(__file__).resolve().parent / "nondigit_detector.npz"


@dataclass(frozen=True)
class NondigitDetector:
    """``score = sigmoid(relu(x @ w1 + b1) @ w2 + b2)`` on the flattened 28x28 input;
    ``score > threshold`` flags the input as not a digit."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    threshold: float

    @classmethod
    def load(cls, path: str | Path = DETECTOR_PATH) -> NondigitDetector:
        return _load(str(path))

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Non-digit scores in [0, 1] for images ``(N, 28, 28)`` or ``(N, 28, 28, 1)``."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, 784)
        hidden = np.maximum(x @ self.w1 + self.b1, 0.0)
        logits = (hidden @ self.w2 + self.b2).ravel()
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))

    def flags(self, images: np.ndarray) -> np.ndarray:
        """True where the input is flagged as not a digit."""
        return self.scores(images) > self.threshold


@lru_cache(maxsize=4)
def _load(path: str) -> NondigitDetector:
    with np.load(path, allow_pickle=False) as data:
        return NondigitDetector(
            *(data[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2")),
            threshold=float(data["threshold"]),
        )


def nondigit_scores(images: np.ndarray) -> np.ndarray:
    """`NondigitDetector.scores` with the shipped detector."""
    return NondigitDetector.load().scores(images)
