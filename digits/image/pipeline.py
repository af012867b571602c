"""Turn any image of a handwritten digit into the model's MNIST-style 28x28x1 input.

MNIST digits are white on black, size-normalised so the digit fits a 20x20 box (aspect
ratio kept, anti-aliased) and placed in a 28x28 field so that their centre of mass is
at the centre. Real photos and drawings are not like that, so `to_model_input` does:

1. read the image (path, bytes, numpy array or PIL image; any size; grayscale, RGB,
   RGBA); the dimensions are checked from the file header *before* decoding;
2. composite transparent pixels on a background that contrasts with the opaque ink
   (a black-on-transparent canvas PNG becomes black on white);
3. make it grayscale and downscale larger images by a whole factor to at most
   `WORK_SIDE` pixels;
4. detect the polarity (light background -> invert, so the ink is bright);
5. remove uneven lighting (subtract a smooth background estimate);
6. blur + Otsu threshold, with a minimum contrast, and keep the ink's connected
   components (tiny specks are ignored) -> bounding box of the digit;
7. crop, normalise the stroke width into MNIST's range, resize the longer side to
   20 px keeping the aspect ratio (anti-aliased), place in 28x28 by centre of mass;
8. scale to [0, 1].

`second_looks` reads an image the other ways step 5 and the sheet can go, for when the
first reading does not look like a digit (`digits.predict` asks for it).

Blank images or images without digit-like ink raise `NoDigitFound` (with a `reason`);
unreadable, empty, non-image or oversized inputs raise `ImageError`.

Numpy arrays are taken as grayscale ``(H, W)``/``(H, W, 1)``, **RGB** ``(H, W, 3)`` or
**RGBA** ``(H, W, 4)`` (the PIL / matplotlib order, not OpenCV's BGR), of dtype uint8
(0-255), uint16 (0-65535), bool, or float (in [0, 1]; values up to 255 are taken as 0-255).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from digits.image.decode import ImageInput, _to_array, decode_shrunk
from digits.image.find import (
    FINE_BACKGROUND,
    MIN_DIGIT_FRACTION,
    MIN_SEPARABILITY,
    REFINE_BELOW,
    NoDigitFound,
    _analyse,
    _find_digit,
    _Found,
    _ink_levels,
    _refine,
    _stretched,
    _with_rim,
    no_clear_ink,
)
from digits.image.normalise import _FIELD, _normalise_digit
from digits.image.page import (
    _find_sheet,
    _flatten_sheet,
    _ink,
    _otsu,
    _polarity,
    _polarity_doubt,
    _remove_lines,
    _to_gray,
    _tone,
    _tones,
)
from digits.image.rules import strip_rules

__all__ = [
    "WORK_SIDE",
    "PreprocessResult",
    "to_model_input",
    "second_looks",
    "InkImage",
    "ink_image",
    "InkMask",
    "ink_mask",
    "number_mask",
    "crop_ink",
]

#: Disc sizes, as shares of the shorter side, at which `stroke_levels` looks for strokes.
STROKE_SCALES = (1 / 8, 1 / 16, 1 / 32)

#: The light blur (px) of `number_mask`'s look at the scale of a thin pen, when the blur
#: that follows the image's size leaves no ink (a 1-px stroke blurred to nothing).
PEN_SIGMA = 0.7

#: Larger images are downscaled (area interpolation, by a whole factor) to at most this
#: longer side before analysis.
WORK_SIDE = 512

#: `second_looks` also keeps faint ink joined to the digit's strongest ink, down to this
#: fraction of the threshold (thin strokes beside a blot, a pale pen).
GROW_LOOK = 0.6


@dataclass(frozen=True, eq=False)
class PreprocessResult:
    """What `to_model_input` produced and what it did to get there.

    Attributes:
        image: the 28x28 float32 image in [0, 1] (white digit on black) the model sees.
        bbox: ``(x, y, width, height)`` of the digit in the original image, in pixels.
        inverted: True when the image had a light background and was inverted.
        image_size: ``(width, height)`` of the original image.
        stroke_width: the digit's stroke width relative to its longer side, as found
            (MNIST is about 0.08-0.19; thinner or thicker strokes were normalised).
        several_digits: True when the image holds other digit-like marks beside the one
            answered for (the largest, most central one): a number, not a digit.
    """

    image: np.ndarray
    bbox: tuple[int, int, int, int]
    inverted: bool
    image_size: tuple[int, int]
    stroke_width: float
    several_digits: bool = False

    @property
    def model_input(self) -> np.ndarray:
        """The image as a batch of one, shape ``(1, 28, 28, 1)``, float32."""
        return self.image.reshape(1, _FIELD, _FIELD, 1)


def to_model_input(image: ImageInput) -> PreprocessResult:
    """Turn an image of one handwritten digit into the model's MNIST-style input.

    Args:
        image: a file path (str or Path), encoded file bytes, a numpy array (gray, RGB
            or RGBA, see the module docstring) or a PIL image. Any size up to
            `MAX_PIXELS`; light or dark background; transparency allowed; a phone photo
            of a sheet of paper (on a table, shaded, ruled or squared) works too.

    Returns:
        A `PreprocessResult`; ``result.model_input`` is the ``(1, 28, 28, 1)`` float32
        array to feed to the model.

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
        NoDigitFound: the image is blank or has no digit-like ink (see ``.reason``).
    """
    seen = _Seen.of(image)
    try:
        return seen.result(_analyse(seen.tone, seen.sheet, MIN_DIGIT_FRACTION))
    except NoDigitFound as missing:
        missing.polarity_in_doubt = bool(_other_polarity(seen))
        raise


def second_looks(image: ImageInput, found: bool = True) -> list[PreprocessResult]:
    """Other readings of an image whose first reading (`to_model_input`) did not look like
    a digit (``found``) or found none, in this order:

    - the light flattened with the small square only (it follows a shadow's edge, which
      the large one can take for ink);
    - when a sheet of paper was found, the image read as if there were none (a sheet's
      corner can pass for ink);
    - when the polarity is in doubt (`digits.image.page._polarity_doubt`), the other one:
      a shadow over half the paper can pass for the background, and the lit paper for ink;
    - dark ink divided by the paper's brightness (a pen stroke in a shadow);
    - faint ink grown from the strongest (`GROW_LOOK`: thin strokes beside a blot).

    When the first reading found nothing, only the other polarity is tried. Readings that
    find nothing are left out; the caller decides which, if any, to believe.

    Raises:
        ImageError: as `to_model_input`.
    """
    seen = _Seen.of(image)
    attempts = _look_attempts(seen) if found else _other_polarity(seen)
    looks = []
    for reader, attempt, grow in attempts:
        try:
            looks.append(reader.result(attempt(), grow))
        except NoDigitFound:
            continue
    return looks


def _look_attempts(seen: _Seen) -> list:
    """`second_looks` of a reading that did not look like a digit: ``(reader, attempt,
    grow)`` triples, tried in order."""
    fine = _remove_lines(_flatten_sheet(seen.tone, seen.sheet, FINE_BACKGROUND, 128))
    attempts = [(seen, lambda: _find_digit(fine, MIN_DIGIT_FRACTION), 1.0)]
    if seen.sheet is not None:
        plain = _tone(seen.tones, _polarity(seen.tones[0]))
        attempts.append((seen, lambda: _analyse(plain, None, MIN_DIGIT_FRACTION), 1.0))
    attempts += _other_polarity(seen)
    if seen.inverted:
        for size, side in ((0.35, 64), (FINE_BACKGROUND, 128)):
            ink = _remove_lines(_flatten_sheet(seen.tone, seen.sheet, size, side, ratio=True))
            attempts.append((seen, lambda ink=ink: _find_digit(ink, MIN_DIGIT_FRACTION), 1.0))
    coarse = _remove_lines(_flatten_sheet(seen.tone, seen.sheet, 0.35, 64))
    for ink in (coarse, fine):
        grown = lambda ink=ink: _find_digit(ink, MIN_DIGIT_FRACTION, GROW_LOOK)  # noqa: E731
        attempts.append((seen, grown, GROW_LOOK))
    return attempts


def _other_polarity(seen: _Seen) -> list:
    """The image read with the other polarity, when its polarity is in doubt and no sheet
    settled it (a ``(reader, attempt, grow)`` triple, or none)."""
    if seen.sheet is not None or not _polarity_doubt(seen.tones[0]):
        return []
    other = replace(seen, inverted=not seen.inverted)
    return [(other, lambda: _analyse(other.tone, None, MIN_DIGIT_FRACTION), 1.0)]


@dataclass(frozen=True, eq=False)
class _Seen:
    """An image decoded and toned for `to_model_input` (steps 1-4), ready for a reading."""

    decoded: object
    factor: float
    tones: tuple[np.ndarray, np.ndarray, np.ndarray]
    sheet: np.ndarray | None
    inverted: bool

    @classmethod
    def of(cls, image: ImageInput) -> _Seen:
        decoded = decode_shrunk(image, WORK_SIDE)  # a large JPEG: decoded at 1/2, 1/4, 1/8
        width, height = decoded.size
        factor = 1.0 / int(np.ceil(max(height, width) / WORK_SIDE))  # whole steps: fast
        tones = _tones(decoded.array, decoded.order, factor * decoded.shrink)
        sheet = _find_sheet(tones[0])
        inverted = True if sheet is not None else _polarity(tones[0])
        return cls(decoded, factor, tones, sheet, inverted)

    @property
    def tone(self) -> np.ndarray:
        return _tone(self.tones, self.inverted)

    def result(self, found: _Found, grow: float = 1.0) -> PreprocessResult:
        """Steps 6-8 for the digit ``found``: refined at full size when it is small (ink
        grown by ``grow``, see `_find_digit`), normalised, with its box in the original
        image."""
        width, height = self.decoded.size
        scale, origin = self.factor, (0, 0)
        x0, y0, x1, y1 = found.box
        if self.factor < 1.0 and max(x1 - x0, y1 - y0) < REFINE_BELOW:
            whole = self.decoded.whole()
            refined = _refine(*whole, self.inverted, found.box, self.factor, grow)
            if refined is not None:
                found = _Found(refined[0].crop, refined[0].box, found.several or refined[0].several)
                origin, scale = refined[1], refined[2]
        field, ratio = _normalise_digit(found.crop)
        x0, y0, x1, y1 = found.box
        left = min(width - 1, origin[0] + int(np.floor(x0 / scale)))
        top = min(height - 1, origin[1] + int(np.floor(y0 / scale)))
        bbox = (
            left,
            top,
            max(1, min(int(np.ceil((x1 - x0) / scale)), width - left)),
            max(1, min(int(np.ceil((y1 - y0) / scale)), height - top)),
        )
        return PreprocessResult(
            image=field,
            bbox=bbox,
            inverted=self.inverted,
            image_size=(width, height),
            stroke_width=round(ratio, 4),
            several_digits=found.several,
        )


@dataclass(frozen=True, eq=False)
class InkImage:
    """An image's ink as `to_model_input` sees it (steps 1-5 of the module docstring).

    Attributes:
        ink: float32 (h, w) in [0, 1], bright ink on black, uneven lighting removed, at the
            working resolution.
        scale: working pixels per original pixel (1.0, or less for downscaled images).
        inverted: True when the image had a light background and was inverted.
        image_size: ``(width, height)`` of the original image.
    """

    ink: np.ndarray
    scale: float
    inverted: bool
    image_size: tuple[int, int]


def ink_image(
    image: ImageInput, max_side: int = WORK_SIDE, other_polarity: bool = False
) -> InkImage:
    """Read an image (as `to_model_input` does) and return its ink, downscaled to at most
    ``max_side`` pixels on the longer side; with ``other_polarity``, the ink is taken to be
    of the polarity that the detection did not find (a second look).

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
    """
    return gray_ink(read_gray(image), max_side, other_polarity)


def read_gray(image: ImageInput) -> np.ndarray:
    """The image as float32 gray in [0, 1], at full size (for several `gray_ink` looks).

    Raises:
        ImageError: the input is missing, empty, not an image, damaged or too large.
    """
    array, order = _to_array(image, colour=False)
    return _to_gray(array, order)


def gray_ink(gray: np.ndarray, max_side: int, other_polarity: bool = False) -> InkImage:
    """`ink_image` of an image already read by `read_gray`."""
    height, width = gray.shape
    factor = 1.0
    if max(height, width) > max_side:
        factor = max_side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    ink, inverted = _ink(gray, other_polarity)
    return InkImage(ink=ink, scale=factor, inverted=inverted, image_size=(width, height))


@dataclass(frozen=True, eq=False)
class InkMask:
    """Where the ink is (step 6 of the module docstring).

    Attributes:
        blurred: the lightly blurred ink (stroke intensities), float32.
        mask: uint8 0/1, the ink pixels (Otsu threshold of a stronger blur).
        sigma: the light blur's standard deviation in pixels.
        low: ink level mapped to 0 by `crop_ink` (half the threshold).
    """

    blurred: np.ndarray
    mask: np.ndarray
    sigma: float
    low: float


def ink_mask(
    ink: np.ndarray, sigma: float | None = None, strokes: bool = False, local: bool = False
) -> InkMask:
    """Threshold an `InkImage`'s ink with the same blur, contrast and separability rules as
    `to_model_input`. ``sigma`` is the light blur (default: the image's longer side / 300,
    as for a single digit; the mask's blur is twice that). With ``strokes``, ink that is
    not separable as a whole is judged again at the scale of pen strokes (`stroke_levels`);
    with ``local``, then around its strong marks alone (`_around_marks`).

    Raises:
        NoDigitFound: blank or noise-like ink.
    """
    h, w = ink.shape
    sigma = max(0.5, max(h, w) / 300) if sigma is None else sigma
    blurred, u8, peak, threshold, separability = _ink_levels(ink, sigma)
    if separability < MIN_SEPARABILITY and strokes:
        levels = stroke_levels(ink, sigma)
        if levels[4] >= MIN_SEPARABILITY:
            blurred, u8, peak, threshold, separability = levels
    if separability < MIN_SEPARABILITY and local:
        threshold, separability = _around_marks(u8, threshold, separability)
    if separability < MIN_SEPARABILITY:
        raise no_clear_ink(separability)
    mask = (u8 > threshold).astype(np.uint8)
    return InkMask(blurred=blurred, mask=mask, sigma=sigma, low=0.5 * threshold * peak / 255.0)


def _around_marks(u8: np.ndarray, threshold: float, separability: float) -> tuple[float, float]:
    """Otsu's threshold and separability judged in the box around the image's strong marks
    (above half the peak, with a mark's height of margin): a small number in a large photo,
    where the paper's grain outweighs the ink. ``u8`` outside the box is zeroed when that
    separates; the image's own values are returned when the box is most of the image."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((u8 >= 128).astype(np.uint8))
    if count <= 1:
        return threshold, separability
    x0, y0 = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[1:, cv2.CC_STAT_WIDTH], y0 + stats[1:, cv2.CC_STAT_HEIGHT]
    pad = int(stats[1:, cv2.CC_STAT_HEIGHT].max())
    rows = slice(max(0, int(y0.min()) - pad), int(y1.max()) + pad)
    cols = slice(max(0, int(x0.min()) - pad), int(x1.max()) + pad)
    if u8[rows, cols].size > 0.5 * u8.size:
        return threshold, separability
    local_threshold, local = _otsu(u8[rows, cols])
    if local < MIN_SEPARABILITY:
        return threshold, separability
    outside = np.ones(u8.shape, bool)
    outside[rows, cols] = False
    u8[outside] = 0
    return local_threshold, local


def stroke_levels(ink: np.ndarray, sigma: float) -> tuple:
    """`_ink_levels` of the ink's strokes alone: a white top-hat (the ink less its opening
    with a disc) takes out light and shade wider than a stroke, at each of `STROKE_SCALES`
    of the shorter side (thin pen in a large photo, a cell's grey paper); the scale that
    separates best. A 1-px pen line at 1024 px is still a stroke; noise stays noise."""
    best = None
    for share in STROKE_SCALES:
        size = max(3, int(min(ink.shape) * share)) | 1
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        top = cv2.morphologyEx(ink, cv2.MORPH_TOPHAT, disc)
        top *= float(ink.max()) / max(float(top.max()), 1e-6)  # the contrast of the ink
        levels = _ink_levels(top, sigma)
        best = levels if best is None or levels[4] > best[4] else best
    return best


def number_mask(ink: np.ndarray) -> InkMask:
    """The ink mask that `digits read` cuts into digits: blurred relative to the line's
    height (neighbours stay apart), judged at stroke scale when needed, and without box and
    cell borders, ruling and underlines (`digits.image.rules.strip_rules`). When that
    finds no clear ink, the ink is judged again at the scale of a thin pen (`PEN_SIGMA`)
    and around its strong marks: a number in thin pen, small in a large photo, is still
    ink, while noise stays noise.

    Raises:
        NoDigitFound: no clear ink at either scale (the first look's reason).
    """
    try:
        found = ink_mask(ink, sigma=max(0.5, min(ink.shape) / 300), strokes=True)
    except NoDigitFound as missing:
        if min(ink.shape) / 300 <= PEN_SIGMA:
            raise
        try:
            found = ink_mask(ink, sigma=PEN_SIGMA, strokes=True, local=True)
        except NoDigitFound:
            raise missing from None
    return replace(found, mask=strip_rules(found.mask))


def crop_ink(ink: InkMask, selected: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The soft ink of one digit, as `to_model_input` crops it: ``selected`` (uint8 0/1, the
    shape of ``box`` = ``(x0, y0, x1, y1)``) marks the digit's ink pixels; their anti-aliased
    rim is kept, everything else in the box is dropped, and the strokes' cores are stretched
    to 1. Returns float32 in [0, 1], for `normalise_digit`."""
    crop = _with_rim(ink.blurred, selected, box, ink.sigma)
    return _stretched(crop, crop[selected > 0], ink.low, 90, crop).astype(np.float32)
