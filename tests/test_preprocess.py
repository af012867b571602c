"""Tests of digits.image on constructed images."""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from digits.image import (
    MAX_PIXELS,
    ImageError,
    NoDigitFound,
    PreprocessResult,
    load_image,
    to_model_input,
)
from digits.synth import samples


def draw_seven(
    size: int = 200, centre: tuple[int, int] | None = None, scale: float = 1.0, thickness: int = 10
):
    """White '7' strokes (uint8, 255 = ink) on black, around ``centre``."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    cx, cy = centre or (size // 2, size // 2)
    s = 40 * scale
    top_left = (int(cx - s), int(cy - s))
    top_right = (int(cx + s), int(cy - s))
    bottom = (int(cx - 0.2 * s), int(cy + 1.4 * s))
    cv2.line(canvas, top_left, top_right, 255, thickness, cv2.LINE_AA)
    cv2.line(canvas, top_right, bottom, 255, thickness, cv2.LINE_AA)
    return canvas


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def ink_box(image: np.ndarray, level: float = 0.05) -> tuple[int, int]:
    """(height, width) of the region with ink above ``level``."""
    rows = np.flatnonzero(image.max(axis=1) > level)
    cols = np.flatnonzero(image.max(axis=0) > level)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def png_bytes(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny (bogus) IDAT chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- steps


def test_result_is_mnist_shaped():
    result = to_model_input(255 - draw_seven())
    assert isinstance(result, PreprocessResult)
    assert result.image.shape == (28, 28) and result.image.dtype == np.float32
    assert result.model_input.shape == (1, 28, 28, 1)
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.image.max() > 0.9  # stroke cores are full white
    assert result.image[:2].max() == 0 and result.image[:, :2].max() == 0  # black margins
    assert result.image_size == (200, 200)


def test_off_centre_digit_comes_out_centred_by_centre_of_mass():
    drawing = draw_seven(size=300, centre=(70, 80), scale=0.8, thickness=8)
    result = to_model_input(255 - drawing)
    row, col = centre_of_mass(result.image)
    assert abs(row - 14.0) <= 0.5 and abs(col - 14.0) <= 0.5
    x, y, w, h = result.bbox
    ys, xs = np.nonzero(drawing > 64)
    assert abs(x - xs.min()) <= 4 and abs(y - ys.min()) <= 4
    assert abs(x + w - xs.max()) <= 5 and abs(y + h - ys.max()) <= 5


def test_digit_fits_20_pixel_box():
    result = to_model_input(255 - draw_seven(scale=1.5))
    assert max(ink_box(result.image)) in (20, 21)  # 20 px plus at most one anti-aliased pixel


def test_polarity_dark_on_light_equals_light_on_dark():
    light_on_dark = draw_seven()
    dark_on_light = 255 - light_on_dark
    a, b = to_model_input(light_on_dark), to_model_input(dark_on_light)
    assert not a.inverted and b.inverted
    np.testing.assert_allclose(a.image, b.image, atol=1e-5)


def test_black_strokes_on_transparent_canvas():
    strokes = draw_seven()
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)  # transparent pixels are (0, 0, 0, 0)
    rgba[:, :, 3] = strokes  # black ink where alpha > 0
    result = to_model_input(rgba)
    on_white = to_model_input(255 - strokes)
    assert result.inverted
    np.testing.assert_allclose(result.image, on_white.image, atol=0.02)
    # Also through a PNG file, as a browser canvas would send it.
    np.testing.assert_allclose(
        to_model_input(png_bytes(cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))).image,
        result.image,
        atol=1e-6,
    )


def test_white_strokes_on_transparent_canvas():
    rgba = np.full((200, 200, 4), 255, dtype=np.uint8)
    rgba[:, :, 3] = draw_seven()
    assert to_model_input(rgba).image.max() > 0.9


def test_aspect_ratio_kept_for_a_tall_thin_one():
    canvas = np.full((300, 300), 255, dtype=np.uint8)
    cv2.line(canvas, (150, 40), (150, 260), 0, 14)
    result = to_model_input(canvas)
    height, width = ink_box(result.image)
    assert height in (20, 21)
    assert width <= 6
    x, y, w, h = result.bbox
    assert h > 5 * w


def test_thin_pen_strokes_are_thickened():
    thin = 255 - draw_seven(size=400, scale=2.0, thickness=2)
    normal = 255 - draw_seven(size=400, scale=2.0, thickness=20)
    a, b = to_model_input(thin), to_model_input(normal)
    assert a.stroke_width < 0.05
    assert (a.image > 0.5).sum() >= 0.6 * (b.image > 0.5).sum()


def test_uneven_lighting_is_removed():
    canvas = 255 - draw_seven(size=240).astype(np.float32) * 0.8
    ramp = np.linspace(1.0, 0.45, 240, dtype=np.float32)[None, :]
    shaded = np.clip(canvas * ramp, 0, 255).astype(np.uint8)
    a, b = to_model_input(shaded), to_model_input(canvas.astype(np.uint8))
    assert np.abs(a.image - b.image).mean() < 0.03


def test_small_specks_are_ignored():
    clean = 255 - draw_seven(size=300)
    specked = clean.copy()
    for x, y in [(10, 10), (285, 20), (20, 280), (270, 270)]:
        cv2.circle(specked, (x, y), 2, 0, -1)
    a, b = to_model_input(clean), to_model_input(specked)
    assert a.bbox == b.bbox
    np.testing.assert_allclose(a.image, b.image, atol=1e-4)


# --------------------------------------------------------------------------- no digit


@pytest.mark.parametrize(
    "image",
    [
        np.full((200, 200), 255, dtype=np.uint8),
        np.zeros((200, 200), dtype=np.uint8),
        np.full((50, 80, 3), 128, dtype=np.uint8),
        np.zeros((100, 100, 4), dtype=np.uint8),  # fully transparent
        np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 256, (150, 180, 3), dtype=np.uint8),
        np.clip(np.random.default_rng(2).normal(128, 40, (300, 300)), 0, 255).astype(np.uint8),
        np.tile(np.linspace(0, 255, 300), (200, 1)).astype(np.uint8),
    ],
    ids=[
        "white",
        "black",
        "gray-rgb",
        "transparent",
        "noise",
        "colour-noise",
        "gaussian-noise",
        "gradient",
    ],
)
def test_no_digit_found(image):
    with pytest.raises(NoDigitFound) as caught:
        to_model_input(image)
    assert caught.value.reason.startswith("no digit found")


def test_a_single_dot_is_not_a_digit():
    canvas = np.full((300, 300), 250, dtype=np.uint8)
    cv2.circle(canvas, (150, 150), 3, 0, -1)
    with pytest.raises(NoDigitFound, match="tiny"):
        to_model_input(canvas)


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        to_model_input(tmp_path / "nope.png")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        to_model_input(path)
    with pytest.raises(ImageError, match="empty"):
        to_model_input(b"")


def test_text_file_renamed_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n" * 20)
    with pytest.raises(ImageError, match="not an image"):
        to_model_input(path)


def test_truncated_png(tmp_path):
    data = png_bytes(255 - draw_seven())
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        to_model_input(path)


@pytest.mark.parametrize("side", [20000, 8000])
def test_huge_png_is_refused_before_decoding(tmp_path, side):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(side, side))
    start = time.process_time()  # CPU time: the same on a busy machine, unlike the clock's
    with pytest.raises(ImageError, match="MP"):
        to_model_input(path)
    with pytest.raises(ImageError, match="MP"):
        load_image(path)
    assert time.process_time() - start < 1.0
    assert side * side > MAX_PIXELS


def test_huge_array_and_bad_arrays_are_refused():
    with pytest.raises(ImageError, match="MP"):
        to_model_input(np.broadcast_to(np.uint8(255), (8000, 8000)))
    with pytest.raises(ImageError, match="shape"):
        to_model_input(np.zeros((10, 10, 2), dtype=np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        to_model_input(np.full((10, 10), np.nan))
    with pytest.raises(ImageError, match="Unsupported image type"):
        to_model_input(12345)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        to_model_input(tmp_path)


# --------------------------------------------------------------------------- input types


def test_input_types_agree(tmp_path):
    rng = np.random.default_rng(5)
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 12:16] = 255
    digit[4:8, 8:16] = 200
    rgb = samples.render(digit, rng, size=150, colour=True)
    path = samples.save(tmp_path / "digit.png", rgb)
    from_path = to_model_input(path)
    for other in (
        str(path),
        path.read_bytes(),
        rgb,
        Image.open(path),
        rgb.astype(np.float32) / 255.0,
    ):
        np.testing.assert_allclose(to_model_input(other).image, from_path.image, atol=5e-3)
    np.testing.assert_array_equal(load_image(path), rgb)


def test_gray_gif_and_16_bit_png(tmp_path):
    gray = 255 - draw_seven()
    reference = to_model_input(gray).image
    gif = tmp_path / "digit.gif"
    Image.fromarray(gray).save(gif)
    np.testing.assert_allclose(to_model_input(gif).image, reference, atol=0.02)
    png16 = tmp_path / "digit16.png"
    cv2.imwrite(str(png16), gray.astype(np.uint16) * 257)
    np.testing.assert_allclose(to_model_input(png16).image, reference, atol=0.02)
    buffer = io.BytesIO()
    Image.fromarray(gray).convert("RGB").save(buffer, "JPEG", quality=95)
    assert np.abs(to_model_input(buffer.getvalue()).image - reference).mean() < 0.03


def test_mnist_digits_pass_through_almost_unchanged(mnist):
    (_, _), (x_test, _) = mnist
    images = x_test[:100]
    produced = np.stack([to_model_input(image).image for image in images])
    assert np.abs(produced - images / 255.0).mean() < 0.05


# --------------------------------------------------------------------------- phone photos


def paper_with_seven(size=(640, 480), centre=None, scale=1.0, thickness=10, ink=(30, 30, 40)):
    """RGB off-white paper (w, h) with a dark '7' around ``centre``."""
    w, h = size
    paper = np.empty((h, w, 3), dtype=np.uint8)
    paper[:] = (235, 232, 222)
    strokes = draw_seven(
        size=max(w, h), centre=centre or (w // 2, h // 2), scale=scale, thickness=thickness
    )[:h, :w]
    alpha = (strokes.astype(np.float32) / 255)[:, :, None]
    return np.round(paper * (1 - alpha) + np.array(ink) * alpha).astype(np.uint8)


def assert_same_digit(result, reference, tolerance=0.06):
    assert np.abs(result.image - reference.image).mean() < tolerance


def test_sheet_on_a_darker_table_at_an_angle():
    sheet = paper_with_seven((400, 520), scale=1.2)
    reference = to_model_input(sheet)
    photo = np.empty((600, 800, 3), dtype=np.uint8)
    photo[:] = (90, 60, 40)  # a wooden table
    corners = np.float32([[0, 0], [400, 0], [400, 520], [0, 520]])
    placed = np.float32([[230, 40], [600, 110], [540, 590], [150, 520]])  # tilted, in perspective
    matrix = cv2.getPerspectiveTransform(corners, placed)
    warped = cv2.warpPerspective(sheet, matrix, (800, 600))
    inside = cv2.warpPerspective(np.ones((520, 400), np.uint8), matrix, (800, 600)) > 0
    photo[inside] = warped[inside]
    result = to_model_input(photo)
    x, y, w, h = result.bbox
    assert w < 250 and h < 300  # the digit, not the sheet's outline
    centre = cv2.perspectiveTransform(np.float32([[[200, 260]]]), matrix)[0, 0]
    assert x < centre[0] < x + w and y < centre[1] < y + h
    assert_same_digit(result, reference, 0.08)


def test_hand_shadow_across_the_sheet():
    clean = paper_with_seven(centre=(320, 220))
    shade = np.zeros((480, 640), np.float32)
    cv2.ellipse(shade, (640, 330), (330, 200), 20, 0, 360, 1.0, -1)
    shade = 1.0 - 0.5 * cv2.GaussianBlur(shade, (0, 0), 12)[:, :, None]
    shaded = np.round(clean * shade).astype(np.uint8)
    reference, result = to_model_input(clean), to_model_input(shaded)
    assert np.abs(np.subtract(result.bbox, reference.bbox)).max() <= 6
    assert_same_digit(result, reference)


@pytest.mark.parametrize("ruling", ["ruled", "squared"])
def test_ruled_and_squared_paper_lines_are_dropped(ruling):
    clean = paper_with_seven(centre=(330, 230))
    lined = clean.copy()
    for y in range(25, 480, 48):
        cv2.line(lined, (0, y), (639, y + 12), (150, 180, 225), 2, cv2.LINE_AA)  # slightly tilted
    if ruling == "squared":
        for x in range(30, 640, 48):
            cv2.line(lined, (x, 0), (x - 10, 479), (150, 180, 225), 2, cv2.LINE_AA)
    lined = np.minimum(lined, clean)  # the pen's ink stays on top
    reference, result = to_model_input(clean), to_model_input(lined)
    assert np.abs(np.subtract(result.bbox, reference.bbox)).max() <= 6
    assert_same_digit(result, reference)


def test_blue_and_red_ballpoint_are_ink():
    for ink in [(40, 70, 200), (210, 40, 40)]:
        result = to_model_input(paper_with_seven(ink=ink, thickness=6))
        assert result.inverted and result.image.max() > 0.9


def test_small_digit_in_a_large_photo_is_found():
    # A '7' of about 90 px (5.6% of the longer side) in a 1600x1200 photo.
    photo = paper_with_seven((1600, 1200), centre=(900, 470), scale=0.94, thickness=9)
    result = to_model_input(photo)
    x, y, w, h = result.bbox
    assert 850 <= x + w / 2 <= 950 and 440 <= y + h / 2 <= 560
    assert 70 <= max(w, h) <= 110
    reference = to_model_input(paper_with_seven((300, 300), scale=1.0, thickness=19))
    assert_same_digit(result, reference, 0.08)
    assert not result.several_digits


def test_too_small_says_crop_closer():
    # A '7' of 38 px: 2.4% of the longer side, below MIN_DIGIT_FRACTION (4%).
    photo = paper_with_seven((1600, 1200), centre=(800, 600), scale=0.4, thickness=4)
    with pytest.raises(NoDigitFound) as caught:
        to_model_input(photo)
    assert "too small" in caught.value.reason and "crop closer" in caught.value.reason


def test_blank_and_noise_reasons_differ():
    with pytest.raises(NoDigitFound, match="no ink"):
        to_model_input(np.full((480, 640, 3), 230, dtype=np.uint8))
    noise = np.random.default_rng(3).integers(0, 256, (480, 640), dtype=np.uint8)
    with pytest.raises(NoDigitFound, match="noise"):
        to_model_input(noise)


def test_two_digits_answer_the_larger_and_say_several():
    canvas = np.full((300, 500), 245, dtype=np.uint8)
    seven = 255 - draw_seven(size=300, centre=(140, 130), scale=1.2, thickness=12)
    one = np.full((300, 500), 255, dtype=np.uint8)
    cv2.line(one, (380, 70), (370, 230), 0, 12, cv2.LINE_AA)
    canvas = np.minimum(np.minimum(canvas[:, :300], seven), 255)
    both = np.full((300, 500), 245, dtype=np.uint8)
    both[:, :300] = canvas
    both = np.minimum(both, one)
    result = to_model_input(both)
    assert result.several_digits
    x, y, w, h = result.bbox
    assert x + w < 300  # the 7 (more ink, larger), not the 1
    assert not to_model_input(255 - draw_seven()).several_digits


def jpeg_bytes(image: np.ndarray, orientation: int | None = None) -> bytes:
    pil = Image.fromarray(image)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("size, shrink", [((1024, 768), 2), ((1600, 1200), 4), ((1400, 1000), 1)])
def test_large_jpeg_is_decoded_shrunk_in_full_size_coordinates(size, shrink):
    from digits.image.decode import decode_shrunk

    photo = paper_with_seven(size, centre=(size[0] // 2, size[1] // 3), scale=size[0] / 400)
    decoded = decode_shrunk(jpeg_bytes(photo), 512)
    assert decoded.shrink == shrink and decoded.size == size
    assert decoded.whole()[0].shape[:2] == (size[1], size[0])
    result, reference = to_model_input(jpeg_bytes(photo)), to_model_input(png_bytes(photo))
    assert result.image_size == reference.image_size == size
    assert np.abs(np.subtract(result.bbox, reference.bbox)).max() <= 2 * shrink
    assert_same_digit(result, reference, 0.08)


def test_shrunk_jpeg_keeps_its_exif_orientation():
    from digits.image.decode import decode_shrunk

    photo = paper_with_seven((1024, 768), scale=2.0)
    upright = np.ascontiguousarray(np.rot90(photo, 1))  # what orientation 6 shows as `photo`
    decoded = decode_shrunk(jpeg_bytes(upright, orientation=6), 512)
    assert decoded.shrink == 2 and decoded.size == (1024, 768)
    assert decoded.array.shape[:2] == (384, 512)
    assert load_image(jpeg_bytes(upright, orientation=6)).shape[:2] == (768, 1024)


def test_grown_ink_keeps_a_faint_loop_joined_to_a_blot():
    """Hysteresis (`grow` < 1) keeps faint strokes that touch the strongest ink: a thin
    pen loop hanging from a blot, which the threshold alone cuts off."""
    from digits.image.find import _find_digit

    ink = np.zeros((200, 200), np.float32)
    cv2.circle(ink, (100, 60), 14, 1.0, -1)
    cv2.ellipse(ink, (100, 110), (30, 45), 0, 0, 360, 0.3, 3)
    x0, y0, x1, y1 = _find_digit(ink, 0.04).box
    assert y1 - y0 < 40
    x0, y0, x1, y1 = _find_digit(ink, 0.04, grow=0.6).box
    assert y1 - y0 > 100 and x1 - x0 > 55


def test_ink_divided_by_the_paper_keeps_its_contrast_in_a_shadow():
    """Light multiplies ink and paper alike: the same pen stroke in a shadow (half the
    light) loses half its contrast when the background is subtracted, none when it is
    also divided by the paper's brightness."""
    from digits.image.page import _flatten_background

    page = np.full((100, 200), 0.9, np.float32)
    page[:, :100] *= 0.5
    page[45:55, 20:80] *= 0.3
    page[45:55, 120:180] *= 0.3
    shaded, lit = _flatten_background(1 - page, 0.35, 64)[50, [50, 150]]
    assert shaded < 0.6 * lit
    shaded, lit = _flatten_background(1 - page, 0.35, 64, ratio=True)[50, [50, 150]]
    assert shaded == pytest.approx(lit, abs=0.05)


def test_fast_percentile_and_labels_match_numpy():
    """The crop's helpers give numpy's exact answers (the reports stay reproducible)."""
    from digits.image.page import _in_labels, _percentile

    rng = np.random.default_rng(3)
    for size in [1, 2, 3, 10, 257]:
        values = (rng.random(size) ** 2).astype(np.float32)
        for q in (40, 90, 95, 75):
            assert _percentile(values, q) == float(np.percentile(values, q))
    labels = rng.integers(0, 6, (30, 20))
    for wanted in ([3], [1, 4], [0, 2, 5], []):
        assert (_in_labels(labels, wanted) == np.isin(labels, wanted)).all()
