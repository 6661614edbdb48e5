"""The image checks: the API's limits and the analysis, on generated pictures with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kling_prep.checks.image import check_image
from kling_prep.limits import get_profile
from kling_prep.media.synthetic import darken, save_jpeg
from kling_prep.settings import Settings


def _check(path: Path, kit, **kwargs):
    return check_image(path, settings=Settings(), kit=kit, **kwargs)


def _codes(report) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}


def test_a_good_character_has_no_blocking_finding(kit, samples):
    report = _check(samples / "character.jpg", kit)
    assert "block" not in _codes(report).values()
    assert len(report.people) == 1
    assert report.face is not None
    assert report.face.view == "frontal"
    assert report.score >= 80


def test_two_people_block(kit, samples):
    assert (
        _codes(_check(samples / "bad" / "two-people.jpg", kit))["image.multiple_people"] == "block"
    )


@pytest.mark.parametrize(("target_stops", "expected"), [(-2.25, "warn"), (-4.0, "block")])
def test_darkness_is_measured_in_stops(kit, astronaut, tmp_path, target_stops, expected):
    # Darken the photograph so its face lands at a known exposure, then read it back.
    bright = _check_face_stops(kit, astronaut, tmp_path)
    path = tmp_path / "dark.jpg"
    save_jpeg(path, darken(astronaut, target_stops - bright))
    report = _check(path, kit)
    assert _codes(report)["image.underexposed"] == expected
    assert report.lighting is not None
    assert report.lighting.face_exposure_stops is not None
    assert report.lighting.face_exposure_stops == pytest.approx(target_stops, abs=0.35)


def _check_face_stops(kit, astronaut, tmp_path) -> float:
    path = tmp_path / "bright.jpg"
    save_jpeg(path, astronaut)
    stops = _check(path, kit).lighting.face_exposure_stops
    assert stops is not None
    return float(stops)


def test_a_wall_without_anybody_blocks(kit, tmp_path):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((600, 800, 3), 170, np.uint8)).save(path)
    assert _codes(_check(path, kit))["image.no_person"] == "block"


def test_small_images_and_extreme_aspect_ratios_break_the_api_limits(kit, astronaut, tmp_path):
    small = tmp_path / "small.jpg"
    Image.fromarray(astronaut).resize((300, 300)).save(small)
    wide = tmp_path / "wide.jpg"
    Image.fromarray(np.concatenate([astronaut] * 3, axis=1)).save(wide)
    assert _codes(_check(small, kit))["image.too_small"] == "block"
    report = _check(wide, kit)
    assert _codes(report)["image.aspect_ratio"] == "block"
    assert next(f for f in report.findings if f.code == "image.aspect_ratio").measured == 3.0


def test_webp_is_flagged_for_conversion_but_still_analysed(kit, astronaut, tmp_path):
    path = tmp_path / "character.webp"
    Image.fromarray(astronaut).save(path, format="WEBP")
    report = _check(path, kit)
    assert _codes(report)["image.format"] == "block"
    assert next(f for f in report.findings if f.code == "image.format").is_fixable
    assert len(report.people) == 1


def test_heic_is_recognised_without_a_decoder(kit, tmp_path):
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200)
    report = _check(path, kit)
    assert report.format == "heic"
    assert _codes(report) == {"image.format": "block"}


def test_a_profile_allows_300_px_where_the_default_does_not(kit, astronaut, tmp_path):
    path = tmp_path / "s.jpg"
    Image.fromarray(astronaut).resize((320, 320)).save(path)
    lenient = check_image(path, settings=Settings(profile=get_profile("kling")), kit=kit)
    assert "image.too_small" not in _codes(lenient)
    assert "image.too_small" in _codes(_check(path, kit))


@pytest.mark.shared_media
@pytest.mark.parametrize("name", ["elf-character.jpeg", "robed-man.jpeg", "dancer-photo.jpg"])
def test_real_character_images_are_not_blocked(kit, shared_media, name):
    report = _check(shared_media / name, kit)
    assert "block" not in _codes(report).values(), report.findings


@pytest.mark.parametrize(("person_stops", "expected"), [(-1.5, None), (-3.0, "block")])
def test_a_person_darker_than_a_bright_background_is_backlit(
    kit, astronaut, astronaut_mask, tmp_path, person_stops, expected
):
    # The person darkened by a known amount in front of a near-white wall (+2.3 stops). At -1.5
    # the face's highlights still reach middle grey: a bright wall beside a lit face is fine.
    weight = np.clip(astronaut_mask, 0, 1)[..., None]
    person = darken(astronaut, person_stops).astype(np.float32)
    wall = np.full_like(person, 240.0)
    composite = (person * weight + wall * (1 - weight)).astype(np.uint8)
    path = tmp_path / "backlit.jpg"
    save_jpeg(path, composite)
    report = _check(path, kit)
    assert _codes(report).get("image.backlit") == expected
