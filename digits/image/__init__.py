"""Turn any image of a handwritten digit into the model's MNIST-style 28x28x1 input.

decode      read the image safely (budgets, EXIF)         -> float pixels
page        grayscale, polarity, sheet, lines, lighting   -> an ink image
find        threshold, marks, specks, the digit's box     -> a crop of the digit
normalise   stroke width, 20x20 box, centre of mass       -> 28x28 in [0, 1]
pipeline    `to_model_input`, and the ink steps `digits.read` uses for numbers

>>> from digits.image import to_model_input
>>> to_model_input("digit_examples/3_a.png").image.shape
(28, 28, 1)
"""

from __future__ import annotations

from digits.image.decode import (
    IMAGE_EXTENSIONS,
    MAX_DECODE_SECONDS,
    MAX_FILE_BYTES,
    MAX_JPEG_SCANS,
    MAX_PIXELS,
    ImageError,
    ImageInput,
    load_image,
)
from digits.image.find import NoDigitFound
from digits.image.normalise import normalise_digit
from digits.image.pipeline import (
    InkImage,
    InkMask,
    PreprocessResult,
    crop_ink,
    ink_image,
    ink_mask,
    number_mask,
    to_model_input,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_DECODE_SECONDS",
    "MAX_FILE_BYTES",
    "MAX_JPEG_SCANS",
    "MAX_PIXELS",
    "ImageError",
    "ImageInput",
    "InkImage",
    "InkMask",
    "NoDigitFound",
    "PreprocessResult",
    "crop_ink",
    "ink_image",
    "ink_mask",
    "number_mask",
    "load_image",
    "normalise_digit",
    "to_model_input",
]
