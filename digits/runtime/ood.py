"""Is it a digit at all? A detector of non-digits that looks at the model's 28x28 input.

The classifier's own confidence does not tell: it gives a confident digit for many
letters, shapes and photos. The shipped detector, ``digits/runtime/nondigit_detector.tflite``
(`CnnDetector`), is a copy of the digit CNN fine-tuned by outlier exposure
(``python -m lab.train_oe_detector``): it answers digits as before and is uncertain on the
broad outlier set of `digits.synth.outliers` (letters and symbols from many fonts,
scribbles, shapes, textures, procedural images, photographed sheets without a digit); its
score is 1 - its largest softmax probability. It runs on LiteRT, apart from the digit
model, whose answers and temperature it does not change. `NondigitDetector` runs the older
kind, a small dense network in numpy (``.npz``, ``python -m lab.train_nondigit_detector``).
Both thresholds are a high quantile of the score on MNIST training digits neither trained
on; ``python -m digits.eval nondigits`` reports kinds held out from all of it.

Two thresholds make three levels (`levels`): below ``doubt`` a digit; from ``doubt`` to
``threshold`` a digit in doubt (answered, flagged ``low_confidence``); above ``threshold``
not a digit. ``doubt`` is a lower quantile of the same digits' scores (the sidecar's
``doubt``; without one there is no band in between). A digit that the detector network
itself would read as another digit is in doubt too.

    >>> from digits.runtime.ood import nondigit_scores, NondigitDetector
    >>> NondigitDetector.load().flags(images)    # images: (N, 28, 28) floats in [0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DETECTOR_PATH", "DIGIT", "DOUBT", "NOT_A_DIGIT", "CnnDetector", "NondigitDetector"]
__all__ += ["nondigit_scores"]

#: The shipped detector (its threshold is in its sidecar), inside the package.
DETECTOR_PATH = Path(__file__).resolve().parent / "nondigit_detector.tflite"
#: The levels of `levels`: a digit, a digit in doubt, not a digit.
DIGIT, DOUBT, NOT_A_DIGIT = 0, 1, 2


class _Levels:
    """Flags and levels from ``scores`` and the thresholds (shared by both detectors)."""

    threshold: float
    doubt: float | None

    def scores(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def flags(self, images: np.ndarray) -> np.ndarray:
        """True where the input is flagged as not a digit."""
        return self.scores(images) > self.threshold

    def levels(self, images: np.ndarray, answers: np.ndarray | None = None) -> np.ndarray:
        """`DIGIT`, `DOUBT` or `NOT_A_DIGIT` for each input (int8); ``answers``, the digit
        model's digits, are not used by this kind of detector."""
        return self._levels(self.scores(images))

    def _levels(self, scores: np.ndarray) -> np.ndarray:
        doubt = self.threshold if self.doubt is None else min(self.doubt, self.threshold)
        return ((scores > doubt).astype(np.int8) + (scores > self.threshold)).astype(np.int8)


@dataclass(frozen=True)
class NondigitDetector(_Levels):
    """A small dense network on the flattened 28x28 input: ``layers`` holds its weights and
    biases in order (``w1, b1, w2, b2, ...``), ReLU between layers and a sigmoid at the end;
    ``score > threshold`` flags the input as not a digit."""

    layers: tuple[np.ndarray, ...]
    threshold: float
    doubt: float | None = None

    @classmethod
    def load(cls, path: str | Path = DETECTOR_PATH) -> NondigitDetector | CnnDetector:
        """The detector in ``path``: a ``.tflite`` `CnnDetector` or an ``.npz`` dense one."""
        return _load(str(path))

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Non-digit scores in [0, 1] for images ``(N, 28, 28)`` or ``(N, 28, 28, 1)``."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, 784)
        pairs = list(zip(self.layers[::2], self.layers[1::2]))
        for weights, bias in pairs[:-1]:
            x = np.maximum(x @ weights + bias, 0.0)
        logits = (x @ pairs[-1][0] + pairs[-1][1]).ravel()
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))


@dataclass(frozen=True)
class CnnDetector(_Levels):
    """A digit CNN trained by outlier exposure, run by LiteRT (``runner``): its score is
    1 - its largest softmax probability; ``score > threshold`` flags not a digit."""

    runner: object
    threshold: float
    doubt: float | None = None

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Non-digit scores in [0, 1] for images ``(N, 28, 28)`` or ``(N, 28, 28, 1)``."""
        return 1.0 - self._probabilities(images).max(axis=1)

    def levels(self, images: np.ndarray, answers: np.ndarray | None = None) -> np.ndarray:
        """`DIGIT`, `DOUBT` or `NOT_A_DIGIT` for each input (int8). Given ``answers`` (the
        digit model's digits), a digit this network would read as another digit is in
        doubt too: two models that disagree are not a confident answer."""
        probabilities = self._probabilities(images)
        levels = self._levels(1.0 - probabilities.max(axis=1))
        if answers is not None:
            disagree = probabilities.argmax(axis=1) != np.asarray(answers)
            levels[disagree & (levels == DIGIT)] = DOUBT
        return levels

    def _probabilities(self, images: np.ndarray) -> np.ndarray:
        return self.runner.probabilities(np.asarray(images, np.float32).reshape(-1, 28, 28, 1))


@lru_cache(maxsize=4)
def _load(path: str) -> NondigitDetector | CnnDetector:
    if path.endswith(".tflite"):
        from digits.runtime.modelfile import read_info
        from digits.runtime.runners import open_runner

        info = read_info(path)  # verifies the checksum
        doubt = info.extra.get("doubt")
        return CnnDetector(
            open_runner(path, 10, num_threads=1),
            float(info.extra["threshold"]),
            None if doubt is None else float(doubt),
        )
    with np.load(path, allow_pickle=False) as data:
        count = sum(1 for key in data.files if key.startswith("w"))
        names = [f"{kind}{n}" for n in range(1, count + 1) for kind in "wb"]
        return NondigitDetector(
            tuple(data[k].astype(np.float32) for k in names), threshold=float(data["threshold"])
        )


def nondigit_scores(images: np.ndarray) -> np.ndarray:
    """`NondigitDetector.scores` with the shipped detector."""
    return NondigitDetector.load().scores(images)
