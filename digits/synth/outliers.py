"""A broad set of things that are not a digit, drawn as users hand pictures in.

The non-digit detector (`digits.runtime.ood`) must learn "not a digit", not a short list of items,
and its evaluation must show that on kinds it never saw. So this module makes outliers
of many kinds, every one generated here or from files that installed packages ship (no
downloads), each as a picture the way users hand pictures in (`digits.synth.samples.render`,
`digits.synth.photo.render_photo`, white-on-black drawings, MNIST-format 28x28 files):

Training kinds (`TRAIN_KINDS`), used to train the detector:

- ``font_letters``: letters and symbols from OpenCV's Hershey fonts, the PyPI
  ``hershey-fonts`` package's single-stroke fonts (not its script ones) and matplotlib's
  sans, mono, STIX and Computer Modern TTF fonts (not DejaVu Serif), lightly jittered;
- ``scribbles``: smooth random strokes, zigzags, spirals and hatching;
- ``shapes``: polygons, stars, grids, crosses, hearts, faces, arrows ...;
- ``textures``: stripes, checks, dots, noise, cross-hatching;
- ``procedural``: natural-looking procedural images (fractal "terrain", pebbles, stone
  cells, foliage, clouds) and crops of them;
- ``photo_backgrounds``: the project's own photographed sheets and tables
  (`digits.synth.samples` photo helpers) without any digit, whole or cropped;
- ``hand_letters``: letters written by a stroke generator: the single strokes of the
  Latin training families bent by a smooth random displacement, slanted, squeezed and
  drawn with a round pen (`digits.synth.glyphs.hand_letter`).

Held-out kinds (`HELD_OUT_KINDS`), never used in training or threshold choice:

- ``natural_photos``: crops and whole images of the photographs scikit-learn ships
  (``china.jpg``, ``flower.jpg``) and matplotlib's MRI and terrain sample data;
- ``faces_objects``: matplotlib's ``grace_hopper.jpg`` (a portrait) and its blue-pack
  picture, crops and whole;
- ``camera_photos``: the photographs scikit-image ships (people, a cat, coffee, coins,
  a rocket, a motorcycle, grass, gravel, bricks, the moon, a galaxy field, a retina,
  cells under a microscope), crops and whole: a source that no other kind draws from,
  added after the detector was trained (its files only are read; scikit-image is
  never imported);
- ``script_letters``: handwriting-like letters from the script families held out of
  training (``hershey-fonts`` cursive / scriptc / scripts, OpenCV's script fonts), with
  a stronger stroke jitter, drawn like digits are;
- ``printed_text``: words and single letters printed in DejaVu Serif (a family not in
  training), as a scan or a photo of a printed line.

No real handwriting of letters ships inside an installed package, so the held-out
handwritten letters are whole script font families with stroke jitter; they are not
people's handwriting. Digit-like characters (`DIGIT_LIKE`) are never drawn.

    >>> from digits.synth import outliers
    >>> outliers.pictures("shapes", 5, seed=0)          # 5 encoded pictures (bytes)
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from digits.synth import glyphs, photo, samples, scenes
from digits.synth.glyphs import mnist_style
from digits.synth.nondigits import SHAPES, item_image

__all__ = ["HELD_OUT_KINDS", "HELD_OUT_PHOTOS", "KINDS", "TRAIN_KINDS", "picture", "pictures"]

TRAIN_KINDS = (
    "font_letters",
    "scribbles",
    "shapes",
    "textures",
    "procedural",
    "photo_backgrounds",
    "hand_letters",
)
HELD_OUT_KINDS = (
    "natural_photos",
    "faces_objects",
    "script_letters",
    "printed_text",
    "camera_photos",
)
KINDS = TRAIN_KINDS + HELD_OUT_KINDS
#: The held-out kinds that are photographs (not drawings or print).
HELD_OUT_PHOTOS = ("natural_photos", "faces_objects", "camera_photos")
#: The order that seeds each kind's pictures: kinds added later go last, so that the
#: earlier kinds' pictures stay the same.
_SEED_ORDER = (*TRAIN_KINDS[:6], *HELD_OUT_KINDS[:4], *TRAIN_KINDS[6:], *HELD_OUT_KINDS[4:])

_RENDER_KINDS = [k for k in samples.KINDS if k != "offcentre"]


# ----------------------------------------------------------------------- as users hand in


def as_user_picture(drawing: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    """A 28x28 white-on-black drawing as a user's picture: rendered on paper like the
    robustness set (most often), photographed on a sheet, a large white-on-black
    drawing, or the 28x28 MNIST-format file itself. Returns ``(image, ext, quality)``."""
    way = rng.random()
    if way < 0.55:
        options, ext, quality = samples.variant(
            _RENDER_KINDS[rng.integers(len(_RENDER_KINDS))], rng
        )
        return samples.render(drawing, rng, **options), ext, quality
    if way < 0.75:
        kind = photo.PHOTO_KINDS[int(rng.integers(len(photo.PHOTO_KINDS)))]
        options, quality = photo.photo_variant(kind, rng)
        return photo.render_photo(drawing, rng, **options), ".jpg", quality
    if way < 0.9:
        side = int(rng.integers(120, 320))
        big = cv2.resize(drawing, (side, side), interpolation=cv2.INTER_CUBIC)
        return (255 - big if rng.random() < 0.3 else big), ".png", 95
    return drawing, ".png", 95


def _scene(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    """A picture that is not a drawing (texture, photo ...) as handed in: sometimes gray,
    sometimes JPEG, sometimes shrunk."""
    if rng.random() < 0.25 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if rng.random() < 0.3:
        side = int(rng.integers(28, 200))
        h, w = image.shape[:2]
        scale = side / max(h, w)
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        return image, ".jpg", int(rng.integers(40, 95))
    return image, ".png", 95


def _crop(image: np.ndarray, rng: np.random.Generator, smallest: float = 0.1) -> np.ndarray:
    """A random square-ish crop (the whole image one time in five)."""
    if rng.random() < 0.2:
        return image
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(smallest, 1.0))
    aspect = rng.uniform(0.75, 1.33)
    ch, cw = min(h, max(8, int(side * aspect))), min(w, max(8, side))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[top : top + ch, left : left + cw]


# ------------------------------------------------------------------------- training kinds


def _font_letters(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    canvas = glyphs.training_glyph(rng)
    canvas = glyphs.jitter(canvas, rng, strength=rng.uniform(0.0, 2.5))
    return as_user_picture(mnist_style(canvas, rng), rng)


def _hand_letters(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    return as_user_picture(mnist_style(glyphs.hand_letter(rng), rng), rng)


def _scribbles(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    return as_user_picture(mnist_style(glyphs.scribble(rng), rng), rng)


def _shapes(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    if rng.random() < 0.4:
        names = [s for s in SHAPES if s != "scribble"]
        drawing = item_image(names[int(rng.integers(len(names)))], rng)
    else:
        drawing = mnist_style(glyphs.shape(rng), rng)
    return as_user_picture(drawing, rng)


def _textures(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    return _scene(scenes.texture(rng), rng)


def _procedural(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    return _scene(_crop(scenes.procedural(rng), rng, 0.2), rng)


def _photo_backgrounds(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    kind = photo.PHOTO_KINDS[int(rng.integers(len(photo.PHOTO_KINDS)))]
    options, quality = photo.photo_variant(kind, rng)
    shot = scenes.blank_photo(rng, options)
    return _crop(shot, rng, 0.15), ".jpg", quality


# ------------------------------------------------------------------------- held-out kinds

_SAMPLE_PHOTOS = ("sklearn:china.jpg", "sklearn:flower.jpg", "mpl:s1045.ima.gz", "mpl:dem")
_FACES_OBJECTS = ("mpl:grace_hopper.jpg", "mpl:Minduka_Present_Blue_Pack.png")
#: scikit-image's photographs; not its clock (a dial with numerals), page, text, logo,
#: horse silhouette, chessboards, colour chart, phantom or microaneurysm crops.
_CAMERA_PHOTOS = tuple(
    f"skimage:{name}"
    for name in (
        "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
        "rocket.jpg", "motorcycle_left.png", "grass.png", "gravel.png", "brick.png",
        "moon.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "cell.png",
    )
)  # fmt: skip


@lru_cache(maxsize=8)
def shipped_image(name: str) -> np.ndarray:
    """An image that an installed package ships, as uint8 RGB or gray: ``sklearn:NAME``
    (scikit-learn's sample images), ``skimage:NAME`` (scikit-image's data files),
    ``mpl:NAME`` (matplotlib's sample data; ``mpl:dem``
    is its terrain elevation model, ``mpl:s1045.ima.gz`` its MRI slice)."""
    source, _, file = name.partition(":")
    if source in ("sklearn", "skimage"):
        path = _package_folder(source) / file
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{path} is missing: reinstall {source} (make setup)")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    from matplotlib import cbook

    if file == "dem":
        with np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)) as data:
            return _to_u8(data["elevation"].astype(np.float32))
    if file == "s1045.ima.gz":
        with gzip.open(cbook.get_sample_data(file, asfileobj=False)) as handle:
            return _to_u8(np.frombuffer(handle.read(), np.uint16).reshape(256, 256))
    image = cv2.imread(str(cbook.get_sample_data(file, asfileobj=False)), cv2.IMREAD_UNCHANGED)
    code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)


def _package_folder(source: str) -> Path:
    """Where scikit-learn's sample images or scikit-image's data files lie, found
    without importing either package."""
    from importlib.util import find_spec

    spec = find_spec("sklearn" if source == "sklearn" else "skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{source} is not installed: run make setup")
    folder = "datasets/images" if source == "sklearn" else "data"
    return Path(next(iter(spec.submodule_search_locations))) / folder


def _to_u8(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, (1, 99))
    return np.round(np.clip((values - low) / max(high - low, 1e-6), 0, 1) * 255).astype(np.uint8)


def _natural_photos(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    image = shipped_image(_SAMPLE_PHOTOS[int(rng.integers(len(_SAMPLE_PHOTOS)))])
    return _scene(_crop(image, rng, 0.1), rng)


def _faces_objects(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    image = shipped_image(_FACES_OBJECTS[int(rng.integers(len(_FACES_OBJECTS)))])
    return _scene(_crop(image, rng, 0.35), rng)


def _camera_photos(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    image = shipped_image(_CAMERA_PHOTOS[int(rng.integers(len(_CAMERA_PHOTOS)))])
    return _scene(_crop(image, rng, 0.15), rng)


def _script_letters(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    canvas = glyphs.jitter(glyphs.script_glyph(rng), rng, strength=rng.uniform(2.0, 5.0))
    return as_user_picture(mnist_style(canvas, rng), rng)


def _printed_text(rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    font_file = str(glyphs._pick(rng, glyphs.SERIF_TTF))
    if rng.random() < 0.4:
        canvas = glyphs.ttf_glyph(str(glyphs._pick(rng, glyphs.LETTERS)), font_file, rng)
        return as_user_picture(mnist_style(canvas, rng), rng)
    return scenes.printed_line(rng, font_file)


_MAKERS: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, str, int]]] = {
    "font_letters": _font_letters,
    "scribbles": _scribbles,
    "shapes": _shapes,
    "textures": _textures,
    "procedural": _procedural,
    "photo_backgrounds": _photo_backgrounds,
    "hand_letters": _hand_letters,
    "natural_photos": _natural_photos,
    "faces_objects": _faces_objects,
    "script_letters": _script_letters,
    "printed_text": _printed_text,
    "camera_photos": _camera_photos,
}


def picture(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    """One picture of a kind (see `KINDS`): ``(uint8 image, extension, jpeg quality)``."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown outlier kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _MAKERS[kind](rng)


def pictures(kind: str, count: int, seed: int) -> list[bytes]:
    """``count`` encoded pictures (PNG or JPEG bytes) of a kind; the same seed always
    gives the same bytes."""
    rng = np.random.default_rng([seed, _SEED_ORDER.index(kind)])
    return [samples.encode(*picture(kind, rng)) for _ in range(count)]
