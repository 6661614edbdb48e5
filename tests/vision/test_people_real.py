"""People in real pictures nobody here made (../shared/realset, skipped where absent), and in
composites of known answer: each case is a class of failure of a face-anchored detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import kling_prep


def _codes(path: Path) -> set[str]:
    result = kling_prep.check(kling_prep.CheckRequest(image=str(path), keep_sound=False))
    return {f.code for f in result.findings}


@pytest.mark.parametrize(
    "name",
    [
        "anime-schoolgirl-back-view-railway.jpg",  # drawn, seen from behind
        "anime-girl-profile-goldfish-sky.jpg",  # drawn, in profile
        "ai-boy-tablet-neon-night.png",  # a face lit only dimly by a screen
        "render-anime-girl-back-view.png",  # rendered, seen from behind
    ],
)
def test_a_person_whose_face_is_not_seen_is_still_one_person(realset, name):
    codes = _codes(realset / "images" / name)
    assert "image.no_person" not in codes
    assert not {"image.multiple_people", "image.background_person"} & codes


def test_a_hooded_figure_without_a_face_is_one_person_with_no_face(realset):
    # A black opening where the face should be: the face detectors and BlazePose's detector
    # find nothing, and the silhouette alone is one cue. The person-shape detector sees the
    # body, the landmark model reads it there, and two cues agree.
    codes = _codes(realset / "images" / "ai-hooded-faceless-figure-gold-suit.png")
    assert "image.no_person" not in codes
    assert "image.no_face" in codes
    assert not {"image.multiple_people", "image.background_person"} & codes


def test_men_cut_by_the_frame_in_a_washed_out_street_are_several_people(realset):
    # Faces cut at the edges and washed out: the person-shape detector boxes the bodies, and
    # each read agrees with a face or the silhouette.
    codes = _codes(realset / "images" / "multi-older-men-street-overexposed.jpg")
    assert "image.multiple_people" in codes


def test_a_mirror_selfie_whose_phone_hides_the_face_is_one_person_without_a_face(realset):
    # No model reads a body or a face on her; her shape and her silhouette agree that she is
    # there: one person whose face cannot be seen (blocks), not an empty picture.
    codes = _codes(realset / "images" / "photo-mirror-selfie-phone-hides-face.jpg")
    assert "image.no_person" not in codes
    assert "image.no_face" in codes


def _cover_the_face(source: Path, target: Path) -> None:
    """The picture with its largest face painted over by a dark oval a little larger."""
    from kling_prep.vision.graphs import face_detector

    bgr = cv2.imread(str(source))
    height, width = bgr.shape[:2]
    with face_detector() as faces:
        found = faces.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).detections
    box = found[0].location_data.relative_bounding_box
    centre = (int((box.xmin + box.width / 2) * width), int((box.ymin + box.height / 2) * height))
    radius = 0.85 * max(box.width * width, box.height * height)
    cv2.ellipse(bgr, centre, (int(radius), int(1.2 * radius)), 0, 0, 360, (20, 20, 20), -1)
    cv2.imwrite(str(target), bgr)


@pytest.mark.shared_media
@pytest.mark.parametrize("name", ["robed-man.jpeg", "elf-character.jpeg"])
def test_a_person_whose_face_is_covered_is_one_person_without_a_face(shared_media, tmp_path, name):
    # With the face painted over, BlazePose (detector and landmark model alike) reads no body:
    # the person-shape detector and the silhouette still agree that someone is there.
    covered = tmp_path / name
    _cover_the_face(shared_media / name, covered)
    codes = _codes(covered)
    assert "image.no_person" not in codes
    assert "image.no_face" in codes
    assert not {"image.multiple_people", "image.background_person"} & codes
    from kling_prep.settings import load_settings

    settings = load_settings(env={}).with_overrides(allow_no_face=True)
    result = kling_prep.check(image=str(covered), keep_sound=False, settings=settings)
    no_face = [f for f in result.findings if f.code == "image.no_face"]
    assert [f.severity for f in no_face] == ["warn"]


def test_a_ball_held_against_the_body_is_not_a_second_person(realset, tmp_path):
    # Re-saved at JPEG quality 70, the player's ball passes the face detector and the landmark
    # model draws a small body from it on the player's own silhouette (found with
    # benchmarks/bench_stability.py). Its head lies on the player's body with no face there.
    from PIL import Image

    copy = tmp_path / "player.jpg"
    with Image.open(realset / "images" / "photo-basketball-player-fullbody.png") as image:
        image.convert("RGB").save(copy, quality=70)
    codes = _codes(copy)
    assert not {"image.multiple_people", "image.background_person"} & codes


def test_an_empty_room_has_nobody(realset):
    # The person detector alone sees a body in the furniture; no face and no silhouette agree.
    assert "image.no_person" in _codes(realset / "images" / "nobody-kids-bedroom-interior.png")


@pytest.mark.parametrize(
    "name",
    [
        "multi-group-selfie-party.jpg",  # faces only: bodies hidden behind one another
        "multi-three-friends-garden-overexposed.jpg",  # side by side, washed out
        "multi-prom-couple-hugging-overexposed.jpg",  # a hug: one body read for two faces
        "multi-people-by-bus-cut-at-edges.jpg",  # two walking, two cut by the frame
    ],
)
def test_several_people_of_comparable_size_block(realset, name):
    assert "image.multiple_people" in _codes(realset / "images" / name)


def test_smaller_people_behind_the_character_are_reported(realset):
    codes = _codes(realset / "images" / "multi-boy-tablet-children-background.png")
    assert {"image.multiple_people", "image.background_person"} & codes


@pytest.mark.shared_media
def test_a_drawn_and_a_photographed_person_of_the_same_height_block(shared_media, tmp_path):
    # A cartoon's head is a third of its height, a photographed adult's an eighth: ranked by
    # heads alone the photographed one looks half as large. Side by side at the same height
    # they compete as equals.
    height = 720
    row = []
    for name in ("robed-man.jpeg", "dancer-photo.jpg"):
        image = cv2.imread(str(shared_media / name))
        row.append(cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height)))
    path = tmp_path / "two-side-by-side.png"
    cv2.imwrite(str(path), np.concatenate(row, axis=1))
    result = kling_prep.check(kling_prep.CheckRequest(image=str(path), keep_sound=False))
    blocks = [f for f in result.findings if f.code == "image.multiple_people"]
    assert blocks
    assert blocks[0].severity == "block"


def test_a_crowd_of_small_figures_is_several_people(realset):
    # Figures a tenth of the frame tall: too small for the whole frame's look, found in a finer
    # grid of tiles and confirmed one by one by the pose model.
    codes = _codes(realset / "images" / "multi-group-walking-on-bridge.jpg")
    assert "image.multiple_people" in codes


@pytest.mark.parametrize(
    "name", ["ai-hooded-faceless-figure-gold-suit.png", "nobody-bicycle-bus-shelter-night.png"]
)
def test_parts_of_one_body_or_stray_detections_are_no_crowd(realset, name):
    codes = _codes(realset / "images" / name)
    assert not {"image.multiple_people", "image.background_person"} & codes


def test_fine_tiles_cover_the_frame_and_their_cores_meet():
    from kling_prep.vision.people import fine_tiles

    width, height = 900, 600
    tiles = fine_tiles(width, height)
    side = tiles[0][2]
    assert side == 200
    for px, py in [(0, 0), (899, 599), (451, 333), (170, 170)]:
        cores = [
            (x, y) for x, y, s, (x0, y0, x1, y1) in tiles
            if x0 <= px - x < x1 and y0 <= py - y < y1 and 0 <= px - x < s and 0 <= py - y < s
        ]  # fmt: skip
        assert len(cores) == 1
    assert fine_tiles(200, 200) == []


def test_a_crowd_in_a_video_where_no_one_stands_out_is_reported(realset):
    # Dozens of small dark visitors along the bottom of an aquarium window, nobody large
    # enough for the whole frame's look: a finer look where a sample shows nobody.
    path = realset / "videos" / "aquarium-crowd-silhouettes.mp4"
    result = kling_prep.check(kling_prep.CheckRequest(video=str(path), keep_sound=False))
    assert "video.multiple_people" in {f.code for f in result.findings}


def test_two_reads_of_one_close_up_are_one_person(realset):
    # A close-up of a woman holding a finger to her lips: a second read of her own body, its
    # head pulled down to the finger, once passed for a second person.
    path = realset / "videos" / "silence-gesture-near-still.mp4"
    result = kling_prep.check(kling_prep.CheckRequest(video=str(path), keep_sound=False))
    codes = {f.code for f in result.findings}
    assert not {"video.multiple_people", "video.background_person"} & codes
