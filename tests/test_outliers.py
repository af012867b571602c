"""Tests of the outlier generator (digits/synth/outliers.py): reproducible, every kind
draws pictures the pipeline can read, and training and held-out kinds do not share fonts."""

from __future__ import annotations

import numpy as np
import pytest

from digits.image import ImageError, NoDigitFound, to_model_input
from digits.synth import glyphs, outliers


@pytest.mark.parametrize("kind", outliers.KINDS)
def test_same_seed_same_bytes_other_seed_other_bytes(kind):
    first = outliers.pictures(kind, 3, seed=5)
    assert first == outliers.pictures(kind, 3, seed=5)
    assert first != outliers.pictures(kind, 3, seed=6)
    assert len(set(first)) == 3  # three different pictures


@pytest.mark.parametrize("kind", outliers.KINDS)
def test_every_kind_is_a_picture_the_pipeline_reads(kind):
    for picture in outliers.pictures(kind, 4, seed=1):
        try:
            assert to_model_input(picture).image.shape == (28, 28)
        except NoDigitFound:
            pass  # "no digit found" is a fine answer for a non-digit
        except ImageError as error:  # pragma: no cover - a failure message
            pytest.fail(f"{kind}: unreadable picture ({error})")


def test_kinds_are_split_and_unknown_kinds_refused():
    assert not set(outliers.TRAIN_KINDS) & set(outliers.HELD_OUT_KINDS)
    assert set(outliers.KINDS) == set(outliers.TRAIN_KINDS) | set(outliers.HELD_OUT_KINDS)
    with pytest.raises(ValueError, match="unknown outlier kind"):
        outliers.picture("digits", np.random.default_rng(0))


def test_held_out_font_families_are_not_training_families():
    assert not set(glyphs.HERSHEY_SCRIPT_FONTS) & set(glyphs.HERSHEY_FONTS)
    assert not set(glyphs.CV_SCRIPT_FONTS) & set(glyphs.CV_FONTS)
    assert not set(glyphs.SERIF_TTF) & set(glyphs.training_ttf())
    assert glyphs.training_ttf()  # matplotlib's fonts were found
    assert set(glyphs.HAND_FONTS) <= set(glyphs.HERSHEY_FONTS)  # hand letters: training fonts


def test_adding_a_kind_keeps_the_earlier_kinds_pictures():
    """Kinds are seeded by a fixed order, so the held-out pictures stay those reported."""
    first = (*outliers.TRAIN_KINDS[:6], *outliers.HELD_OUT_KINDS[:4], outliers.TRAIN_KINDS[6])
    assert outliers._SEED_ORDER[:11] == first
    assert sorted(outliers._SEED_ORDER) == sorted(outliers.KINDS)


def test_no_digit_like_character_is_drawn():
    assert not set(glyphs.LETTERS + glyphs.SYMBOLS) & set("0123456789" + glyphs.DIGIT_LIKE)


def test_shipped_images_come_from_installed_packages():
    for name in outliers._SAMPLE_PHOTOS + outliers._FACES_OBJECTS + outliers._CAMERA_PHOTOS:
        image = outliers.shipped_image(name)
        assert image.dtype == np.uint8 and min(image.shape[:2]) >= 64, name
