"""Is it a digit at all? A small detector of non-digits, run in numpy on the model's input.

The classifier's own confidence does not tell: it gives a confident digit for many
letters, shapes and photos. So a separate, small dense network (its layers are in the file)
looks at the same 28x28 input the model sees. It is trained by
``lab/train_nondigit_detector.py`` on MNIST training digits (as the pipeline shows them,
rendered like users' pictures, and drawn in fonts) against the broad outlier set of
`digits.synth.outliers` (letters and symbols from many fonts, scribbles, shapes, textures,
procedural images, photographed sheets without a digit). Its evaluation
(``python -m digits.eval nondigits``) reports kinds held out from that training. It does not
depend on the digit model or its runtime (Keras or LiteRT) or on its temperature. Its
weights and threshold live in ``digits/runtime/nondigit_detector.npz``; the threshold is a
high quantile of the score on MNIST training digits the detector did not train on.

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
    """A small dense network on the flattened 28x28 input: ``layers`` holds its weights and
    biases in order (``w1, b1, w2, b2, ...``), ReLU between layers and a sigmoid at the end;
    ``score > threshold`` flags the input as not a digit."""

    layers: tuple[np.ndarray, ...]
    threshold: float

    @classmethod
    def load(cls, path: str | Path = DETECTOR_PATH) -> NondigitDetector:
        return _load(str(path))

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Non-digit scores in [0, 1] for images ``(N, 28, 28)`` or ``(N, 28, 28, 1)``."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, 784)
        pairs = list(zip(self.layers[::2], self.layers[1::2]))
        for weights, bias in pairs[:-1]:
            x = np.maximum(x @ weights + bias, 0.0)
        logits = (x @ pairs[-1][0] + pairs[-1][1]).ravel()
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))

    def flags(self, images: np.ndarray) -> np.ndarray:
        """True where the input is flagged as not a digit."""
        return self.scores(images) > self.threshold


@lru_cache(maxsize=4)
def _load(path: str) -> NondigitDetector:
    with np.load(path, allow_pickle=False) as data:
        count = sum(1 for key in data.files if key.startswith("w"))
        names = [f"{kind}{n}" for n in range(1, count + 1) for kind in "wb"]
        return NondigitDetector(
            tuple(data[k].astype(np.float32) for k in names), threshold=float(data["threshold"])
        )


def nondigit_scores(images: np.ndarray) -> np.ndarray:
    """`NondigitDetector.scores` with the shipped detector."""
    return NondigitDetector.load().scores(images)
