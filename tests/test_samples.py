"""Tests of digits.synth.samples (rendering MNIST digits as user pictures)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digits.synth import photo, samples


@pytest.fixture(scope="module")
def digit():
    image = np.zeros((28, 28), dtype=np.uint8)
    cv2.circle(image, (14, 14), 7, 255, 3)
    return image


def test_deterministic(digit):
    a = samples.render(digit, np.random.default_rng(1), size=120, noise=0.05, texture=0.02)
    b = samples.render(digit, np.random.default_rng(1), size=120, noise=0.05, texture=0.02)
    c = samples.render(digit, np.random.default_rng(2), size=120, noise=0.05, texture=0.02)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dark_ink_on_light_paper(digit):
    image = samples.render(digit, np.random.default_rng(0), size=160)
    assert image.shape == (160, 160) and image.dtype == np.uint8
    assert np.median(image) > 200 and image.min() < 80


def test_colour_and_rgba(digit):
    rng = np.random.default_rng(0)
    assert samples.render(digit, rng, size=64, colour=True).shape == (64, 64, 3)
    rgba = samples.render(digit, rng, size=100, rgba=True)
    assert rgba.shape == (100, 100, 4)
    assert rgba[:, :, :3].max() == 0  # black ink, transparent pixels (0, 0, 0, 0)
    assert rgba[:, :, 3].max() == 255 and np.median(rgba[:, :, 3]) == 0


def test_offset_moves_the_digit(digit):
    image = samples.render(
        digit, np.random.default_rng(0), size=200, digit_fraction=0.3, offset=(1.0, -1.0)
    )
    ys, xs = np.nonzero(image < 128)
    assert xs.mean() > 140 and ys.mean() < 60


def test_thickness_changes_ink_amount(digit):
    rng = np.random.default_rng(0)
    ink = [
        (samples.render(digit, rng, size=200, thickness=t) < 128).sum() for t in (-0.5, 0.0, 1.0)
    ]
    assert ink[0] < ink[1] < ink[2]


@pytest.mark.parametrize("kind", samples.KINDS)
def test_every_kind_renders_and_encodes(digit, kind):
    rng = np.random.default_rng(0)
    options, ext, quality = samples.variant(kind, rng)
    image = samples.render(digit, rng, **options)
    assert 64 <= image.shape[0] <= 400
    decoded = cv2.imdecode(
        np.frombuffer(samples.encode(image, ext, quality), np.uint8), cv2.IMREAD_UNCHANGED
    )
    assert decoded.shape[:2] == image.shape[:2]


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        samples.variant("sepia", np.random.default_rng(0))


@pytest.mark.parametrize("kind", photo.PHOTO_KINDS)
def test_every_photo_kind_renders(digit, kind):
    options, quality = photo.photo_variant(kind, np.random.default_rng(0))
    image = photo.render_photo(digit, np.random.default_rng(1), **options)
    width, height = options["size"]
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    assert 1 <= quality <= 100
    again = photo.render_photo(digit, np.random.default_rng(1), **options)
    np.testing.assert_array_equal(image, again)  # a fixed seed gives the same photo


def test_angled_photo_shows_a_darker_table_around_the_sheet(digit):
    options, _ = photo.photo_variant("angled", np.random.default_rng(3))
    image = photo.render_photo(digit, np.random.default_rng(3), **options).mean(axis=2)
    assert np.percentile(image, 90) > 150  # paper
    assert np.percentile(image, 10) < 120  # and some table
