"""The spec's own snippet, deliberately *not* our preprocessing: the baseline of every benchmark.

``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``, ``cv2.resize(img, (28, 28))``, ``255 - img``,
``/ 255``, reshape ``(1, 28, 28, 1)``, argmax (run batched, which gives the same answers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["DESCRIPTION", "naive_inputs"]

DESCRIPTION = (
    "cv2.imread(path, cv2.IMREAD_GRAYSCALE); cv2.resize(img, (28, 28)); 255 - img; / 255; argmax"
)


def naive_inputs(paths: list[Path]) -> np.ndarray:
    """The spec's snippet, batched: imread gray, resize 28x28, invert, /255 -> (N, 28, 28, 1)."""
    import cv2

    batch = []
    for path in paths:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        img = cv2.resize(img, (28, 28))
        img = 255 - img
        img = img / 255.0
        batch.append(img.reshape(1, 28, 28, 1))
    return np.concatenate(batch).astype(np.float32)
