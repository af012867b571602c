"""The benchmark sets: generated on demand into a cache, checked against committed manifests."""

from __future__ import annotations

import csv

import pytest

from digits.synth import photo, samples, sets


def _manifest(name: str) -> dict[str, dict]:
    with open(sets.manifest_path(name), newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def _tiny_spec(version: int = 1):
    def write(out, seed):
        (out / "a").mkdir(parents=True)
        (out / "a" / "1.txt").write_text(f"one {seed}")
        samples.save_labels(out / "labels.csv", [{"path": "a/1.txt", "label": 1}])

    return sets.SetSpec("tiny", version, 3, write)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_SETS_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sets, "MANIFESTS_DIR", tmp_path / "manifests")
    monkeypatch.setitem(sets.SETS, "tiny", _tiny_spec())
    folder = sets.ensure("tiny", check=False)
    sets.write_manifest("tiny", folder)
    return folder


def test_a_set_is_generated_once_and_checked(tiny, monkeypatch):
    assert (tiny / "a" / "1.txt").read_text() == "one 3"
    assert _manifest("tiny")["a/1.txt"]["label"] == "1"
    assert set(_manifest("tiny")) == {"a/1.txt", "labels.csv"}
    assert sets.ensure("tiny") == tiny


@pytest.mark.parametrize("change", ["edit", "remove", "add"])
def test_drift_is_detected_not_measured(tiny, change):
    target = tiny / "a" / "1.txt"
    if change == "edit":
        target.write_text("one 4")
    elif change == "remove":
        target.unlink()
    else:
        (tiny / "a" / "2.txt").write_text("extra")
    with pytest.raises(sets.SetDriftError, match="differs from tiny.csv"):
        sets.ensure("tiny")


def test_a_new_generator_version_regenerates(tiny, monkeypatch):
    (tiny / "a" / "1.txt").write_text("stale")
    monkeypatch.setitem(sets.SETS, "tiny", _tiny_spec(version=2))
    assert (sets.ensure("tiny") / "a" / "1.txt").read_text() == "one 3"


def test_a_folder_that_is_not_a_generated_set_is_never_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_SETS_DIR", str(tmp_path))
    monkeypatch.setitem(sets.SETS, "tiny", _tiny_spec())
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "mine.png").write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="not a generated set"):
        sets.ensure("tiny", check=False)
    assert (tmp_path / "tiny" / "mine.png").read_bytes() == b"user data"


def test_unknown_set_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown set 'photo'; choose one of robustness"):
        sets.ensure("photo")


def _first_files(tmp_path, kinds, draw, seed, count):
    """Generate only the first ``count`` files of a set: the same files as the whole set's."""
    sets.render_kinds(tmp_path, kinds, 100, seed, draw, stop_after=count)
    return {row["path"]: row for row in sets.manifest_rows(tmp_path) if "/" in row["path"]}


def test_the_robustness_set_regenerates_byte_for_byte(tmp_path):
    def draw(kind, digit, rng):
        options, ext, quality = samples.variant(kind, rng)
        return samples.encode(samples.render(digit, rng, **options), ext, quality), ext

    made = _first_files(tmp_path, samples.KINDS, draw, sets.SETS["robustness"].seed, 100)
    manifest = _manifest("robustness")
    assert len(made) == 100 and all(made[p]["sha256"] == manifest[p]["sha256"] for p in made)


def test_the_photo_set_regenerates_byte_for_byte(tmp_path):
    def draw(kind, digit, rng):
        options, quality = photo.photo_variant(kind, rng)
        return samples.encode(photo.render_photo(digit, rng, **options), ".jpg", quality), ".jpg"

    made = _first_files(tmp_path, photo.PHOTO_KINDS, draw, sets.SETS["photos"].seed, 20)
    manifest = _manifest("photos")
    assert len(made) == 20 and all(made[p]["sha256"] == manifest[p]["sha256"] for p in made)
