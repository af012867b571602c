"""Handwritten digit recognition with Keras CNNs trained on MNIST.

    >>> from digits import Predictor
    >>> p = Predictor().predict("digit_examples/3_a.png")
    >>> print(p.digit, p.confidence)

``import digits`` is light: `Predictor` and friends (and TensorFlow behind them) load on
first use.
"""

from __future__ import annotations

import importlib

__all__ = [
    "ModelError",
    "NoDigitFound",
    "NumberReading",
    "Prediction",
    "Predictor",
    "__version__",
    "find_images",
    "meaning",
    "read_number",
]

_LAZY = {
    "ModelError": "digits.runtime.modelfile",
    "NoDigitFound": "digits.image",
    "Prediction": "digits.predict",
    "Predictor": "digits.predict",
    "find_images": "digits.predict",
    "NumberReading": "digits.readings",
    "meaning": "digits.meaning",
    "read_number": "digits.read",
}


def __getattr__(name: str):
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("digits")
        except metadata.PackageNotFoundError:  # run from a checkout without `make setup`
            return "0+unknown"
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'digits' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
