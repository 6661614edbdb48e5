"""The face view of a head turned away: its back is no face (blocks), a profile still warns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kling_prep.checks.image import face_findings
from kling_prep.checks.thresholds import Thresholds
from kling_prep.settings import Settings
from kling_prep.vision.face import (
    FaceView,
    FaceViewEstimator,
    classify_yaw,
    skin_share_at_face,
)
from kling_prep.vision.pose import LEFT_EAR, NOSE, RIGHT_EAR, BodyPose

BOUNDS = {"frontal_max_deg": 22.5, "three_quarter_max_deg": 67.5, "away_min_deg": 110.0}
FACE_BOUNDS = {**BOUNDS, "min_skin_share": 0.25}


@pytest.mark.parametrize(("yaw_deg", "view"), [
    (90.0, "profile"), (-100.0, "profile"), (110.0, "profile"),
    (148.0, "no_face"), (-174.0, "no_face"), (180.0, "no_face"),
])  # fmt: skip
def test_a_head_turned_past_profile_shows_no_face(yaw_deg, view):
    assert classify_yaw(yaw_deg, **BOUNDS) == view


def _head_turned(
    yaw_deg: float,
    *,
    wall_rgb: tuple[int, int, int] = (128, 128, 128),
    head_px: float = 40.0,
    size_px: int = 320,
) -> tuple[np.ndarray, BodyPose]:
    """A plain wall (no face for either face model) and a pose whose 3D ears are turned by
    `yaw_deg` about the vertical axis: the only evidence left is the body's."""
    rgb = np.full((size_px, size_px, 3), wall_rgb, np.uint8)
    points = np.full((33, 2), size_px / 2, np.float32)
    points[LEFT_EAR] += (head_px / 2, 0)
    points[RIGHT_EAR] -= (head_px / 2, 0)
    world = np.zeros((33, 3), np.float32)
    yaw = math.radians(yaw_deg)
    half_span_m = 0.075  # half the ear-to-ear breadth of an adult head
    world[LEFT_EAR] = (half_span_m * math.cos(yaw), -0.6, half_span_m * math.sin(yaw))
    world[RIGHT_EAR] = -world[LEFT_EAR]
    world[RIGHT_EAR, 1] = -0.6
    pose = BodyPose(
        points_px=points, visibility=np.ones(33, np.float32), presence=np.ones(33, np.float32),
        world_m=world, frame_width=size_px, frame_height=size_px,
    )  # fmt: skip
    assert pose.visibility[NOSE] == 1.0
    return rgb, pose


@pytest.fixture(scope="module")
def estimator():
    with FaceViewEstimator(**FACE_BOUNDS) as models:
        yield models


@pytest.mark.parametrize("yaw_deg", [174.0, -148.0, 125.0])
def test_the_back_of_a_head_is_no_face_not_a_profile(estimator, yaw_deg):
    rgb, pose = _head_turned(yaw_deg)
    view = estimator.estimate(rgb, pose)
    assert view.view == "no_face"
    assert view.yaw_deg == pytest.approx(yaw_deg, abs=1.0)


@pytest.mark.parametrize("yaw_deg", [80.0, -95.0])
def test_a_head_turned_sideways_is_still_a_profile(estimator, yaw_deg):
    rgb, pose = _head_turned(yaw_deg)
    assert estimator.estimate(rgb, pose).view == "profile"


SKIN_RGB = (220, 170, 140)  # light skin: Cr 155, Cb 105
NAVY_HOOD_RGB = (40, 50, 90)  # Cr 120: no skin


def test_a_profile_from_the_pose_alone_needs_skin_where_its_face_is(estimator):
    rgb, pose = _head_turned(90.0, wall_rgb=SKIN_RGB)
    assert estimator.estimate(rgb, pose).view == "profile"
    covered, pose = _head_turned(90.0, wall_rgb=NAVY_HOOD_RGB)
    assert estimator.estimate(covered, pose).view == "no_face"


def test_a_head_too_small_to_tell_skin_from_hair_keeps_its_profile(estimator):
    rgb, pose = _head_turned(90.0, wall_rgb=NAVY_HOOD_RGB, head_px=16.0)
    assert skin_share_at_face(rgb, pose) is None
    assert estimator.estimate(rgb, pose).view == "profile"


def test_a_colourless_picture_keeps_its_profile(estimator):
    # Grey has no chroma to tell skin from hair: the pose's profile stands.
    rgb, pose = _head_turned(90.0, wall_rgb=(90, 90, 90))
    assert skin_share_at_face(rgb, pose) is None
    assert estimator.estimate(rgb, pose).view == "profile"


def test_a_head_turned_away_blocks_with_its_yaw_and_a_profile_warns():
    t = Thresholds()
    away = FaceView("no_face", 174.0, None, "pose", None)
    strict, lenient = Settings(thresholds=t), Settings(thresholds=t, allow_no_face=True)
    (finding,) = face_findings("back.jpg", away, strict)
    assert (finding.code, finding.severity) == ("image.no_face", "block")
    assert (finding.measured, finding.threshold, finding.unit) == (174.0, 110.0, "deg")
    (allowed,) = face_findings("back.jpg", away, lenient)
    assert allowed.severity == "warn"
    side = FaceView("profile", 95.0, None, "pose", None)
    assert [(f.code, f.severity) for f in face_findings("side.jpg", side, strict)] == [
        ("image.face_profile", "warn")
    ]


@pytest.mark.parametrize(
    "name",
    [
        "photo-woman-cap-back-view-backlit.jpg",
        "photo-woman-bathtub-hair-hides-face.jpg",
        # the face detector alone finds a "face" in the hair of a drawn back view
        "anime-schoolgirl-back-view-railway.jpg",
    ],
)
def test_a_real_head_seen_from_behind_or_hidden_by_hair_blocks(realset, name):
    import kling_prep

    result = kling_prep.check(
        kling_prep.CheckRequest(image=realset / "images" / name, keep_sound=False)
    )
    assert result.image is not None
    codes = {(f.code, f.severity) for f in result.image.findings}
    assert ("image.no_face", "block") in codes
    assert ("image.face_profile", "warn") not in codes


@pytest.mark.shared_media
def test_a_dancer_turning_her_back_has_no_face_in_the_timeline(shared_media):
    import kling_prep

    result = kling_prep.check(
        kling_prep.CheckRequest(video=shared_media / "dance-fullbody.mp4", keep_sound=False)
    )
    assert result.video is not None
    views = {round(s.time_s, 1): s.face_view for s in result.video.samples if s.pose_read}
    assert views[0.0] == "frontal"
    assert views[2.5] == "no_face"
