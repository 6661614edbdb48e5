"""The video's pose placed on the character image (checks/motionmap.py) and the pair's measures
(checks/pair.py), on poses of known answer: two matching full bodies, a half-body image driven
by a full-body walk, a character at the image's edge driven by a walk across the frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kling_prep.checks.motionmap import fit_mapping, inside_fraction, map_motion
from kling_prep.checks.pair import motion_findings
from kling_prep.checks.thresholds import Thresholds
from kling_prep.vision.pose import BodyPose

# A standing adult in body heights from the top of the head, x from the body's centre line
# (BlazePose's left is the person's left: the image's right for a person facing the camera).
_STANDING: dict[int, tuple[float, float]] = {
    0: (0.0, 0.06), 1: (0.02, 0.045), 2: (0.03, 0.045), 3: (0.04, 0.045), 4: (-0.02, 0.045),
    5: (-0.03, 0.045), 6: (-0.04, 0.045), 7: (0.06, 0.055), 8: (-0.06, 0.055), 9: (0.015, 0.08),
    10: (-0.015, 0.08), 11: (0.12, 0.18), 12: (-0.12, 0.18), 13: (0.15, 0.33), 14: (-0.15, 0.33),
    15: (0.16, 0.47), 16: (-0.16, 0.47), 17: (0.16, 0.5), 18: (-0.16, 0.5), 19: (0.16, 0.5),
    20: (-0.16, 0.5), 21: (0.16, 0.49), 22: (-0.16, 0.49), 23: (0.08, 0.5), 24: (-0.08, 0.5),
    25: (0.08, 0.73), 26: (-0.08, 0.73), 27: (0.08, 0.95), 28: (-0.08, 0.95), 29: (0.08, 0.98),
    30: (-0.08, 0.98), 31: (0.1, 1.0), 32: (-0.1, 1.0),
}  # fmt: skip


def _pose(
    centre_x: float, top_y: float, height_px: float, frame: tuple[int, int], step: float = 0.0
) -> BodyPose:
    """The standing figure, its ankles and wrists swung forward and back by `step` (body
    heights): a walk seen from the front moves them up and down the frame a little and the
    feet apart; here the feet and hands swing sideways, which the measures treat alike."""
    points = np.array([_STANDING[i] for i in range(33)], np.float32)
    for i, sign in ((27, 1), (28, -1), (29, 1), (30, -1), (31, 1), (32, -1), (25, 0.5), (26, -0.5)):
        points[i, 0] += sign * step
    for i, sign in ((15, -1), (16, 1), (13, -0.5), (14, 0.5)):
        points[i, 0] += sign * step
    px = np.stack([centre_x + points[:, 0] * height_px, top_y + points[:, 1] * height_px], 1)
    return BodyPose(
        points_px=px.astype(np.float32), visibility=np.ones(33, np.float32),
        presence=np.ones(33, np.float32), world_m=np.zeros((33, 3), np.float32),
        frame_width=frame[0], frame_height=frame[1],
    )  # fmt: skip


def _walk(
    frame: tuple[int, int], *, centre_x: list[float], height_px: float, top_y: float
) -> list[tuple[float, BodyPose | None]]:
    """A full body read every half second, striding (ankles swinging 0.12 body heights)."""
    return [
        (0.5 * k, _pose(x, top_y, height_px, frame, 0.12 * math.sin(k * 1.3)))
        for k, x in enumerate(centre_x)
    ]


T = Thresholds()


def _map(image: BodyPose, video: list[tuple[float, BodyPose | None]]):  # type: ignore[no-untyped-def]
    return map_motion(
        image, video, min_visibility=T.landmark_min_visibility,
        limb_moves_range=T.limb_moves_range,
    )  # fmt: skip


def test_a_segment_half_outside_the_frame_is_half_inside():
    a, b = np.array([50.0, 10.0]), np.array([150.0, 10.0])
    assert inside_fraction(a, b, 100, 100) == pytest.approx(0.5)
    assert inside_fraction(np.array([-5.0, -5.0]), np.array([-1.0, -9.0]), 100, 100) == 0.0
    assert inside_fraction(np.array([5.0, 5.0]), np.array([9.0, 90.0]), 100, 100) == 1.0


def test_two_matching_full_bodies_map_inside_the_image_with_nothing_to_invent():
    image = _pose(360, 100, 1000, (720, 1280))
    video = _walk((576, 1024), centre_x=[288] * 6, height_px=800, top_y=100)
    motion = _map(image, video)
    assert motion is not None
    assert motion.mapping.anchor == "torso"
    assert motion.mapping.scale == pytest.approx(1000 / 800, rel=1e-3)
    assert motion.outside_pct < 1.0
    assert motion.lacked_moved_limbs == ()
    assert motion_findings(motion, T) == []


def test_a_half_body_image_driven_by_a_full_body_walk_lacks_the_legs():
    # The image ends just under the hips: knees and ankles fall below its bottom edge.
    image = _pose(640, 60, 1200, (1280, 720))
    video = _walk((576, 1024), centre_x=[288] * 6, height_px=800, top_y=100)
    motion = _map(image, video)
    assert motion is not None
    assert set(motion.lacked_moved_limbs) == {"left_leg", "right_leg"}
    assert motion.outside_pct > T.framing_outside_warn_pct
    assert "bottom" in motion.sides
    findings = motion_findings(motion, T)
    assert [f.code for f in findings] == ["pair.framing_mismatch"] * 2
    assert all(f.severity == "warn" for f in findings)
    limbs = next(f for f in findings if f.unit == "limbs")
    assert limbs.measured == "left_leg,right_leg"
    assert "full-body image" in limbs.message
    # The legs leave by the bottom edge only: the advice is about the legs, not about room.
    outside = next(f for f in findings if f.unit != "limbs")
    assert "full-body image" in outside.message
    assert "orientation image" not in outside.message


def test_a_character_at_the_edge_driven_across_the_frame_leaves_by_that_edge():
    # The character stands at the image's right edge; the dancer crosses to the frame's right.
    image = _pose(1180, 60, 600, (1280, 720))
    video = _walk((1280, 720), centre_x=[640, 760, 880, 1000, 1120, 1180], height_px=600, top_y=60)
    motion = _map(image, video)
    assert motion is not None
    assert motion.mapping.anchor_time_s == 0.0
    assert "right" in motion.sides
    assert motion.worst is not None
    # At the start the body stands where the image's does (inside); a step right takes part
    # of it off the image, and from 1.0 s on the whole of it.
    shares = [p.outside_pct for p in motion.poses]
    assert shares[0] < 1.0
    assert 10.0 < shares[1] < 100.0
    assert shares[2:] == pytest.approx([100.0] * 4)
    assert motion.outside_pct > T.framing_outside_warn_pct
    [finding] = motion_findings(motion, T)
    assert finding.unit == "% of the mapped skeleton"
    assert finding.measured == pytest.approx(round(motion.outside_pct, 1))
    assert "orientation image" in finding.message


def test_the_mapping_is_fixed_at_the_first_read_body_so_travel_shows():
    image = _pose(640, 60, 600, (1280, 720))
    video = _walk((1280, 720), centre_x=[400, 500], height_px=300, top_y=100)
    video.insert(0, (0.0, None))  # nobody found at the first read sample
    motion = _map(image, video)
    assert motion is not None
    assert motion.mapping.anchor_time_s == 0.0  # the first sample with a body (time 0 too)
    first, second = motion.poses
    # 100 px of travel in the video is 200 px on the image at twice the size.
    shift = second.points_px[11, 0] - first.points_px[11, 0]
    assert shift == pytest.approx(200, abs=1.0)


def test_only_a_head_in_the_image_places_the_body_by_the_heads():
    image = _pose(640, 100, 3000, (1280, 720))  # the head fills the frame, shoulders below it
    for i in range(11, 33):
        image.visibility[i] = 0.1
    video = _walk((576, 1024), centre_x=[288] * 4, height_px=800, top_y=100)
    mapping = fit_mapping(image, video, T.landmark_min_visibility)
    assert mapping is not None
    assert mapping.anchor == "head"
    assert mapping.scale == pytest.approx(3000 / 800, rel=0.05)


def test_no_mapping_without_a_pose_in_the_image_or_a_body_in_the_video():
    video = _walk((576, 1024), centre_x=[288] * 3, height_px=800, top_y=100)
    assert _map(None, video) is None  # type: ignore[arg-type]
    assert _map(_pose(360, 100, 1000, (720, 1280)), [(0.0, None), (0.5, None)]) is None
