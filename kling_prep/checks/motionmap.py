"""The video's pose mapped onto the character image, and what the mapped body measures there.

One similarity transform (a scale and a translation, no rotation) places the video's body on
the image's: from the two torsos (shoulders and hips seen in both), else from the two pairs of
shoulders, else from the two heads.
The pair check judges the measures (`checks/pair.py`); the report draws the mapped skeleton
(`report/preview.py`). Pure geometry on poses the checks already read: no model, no decode.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.pose import BODY_PARTS, SKELETON, BodyPose

Anchor = Literal["torso", "shoulders", "head"]
LIMBS = ("left_arm", "right_arm", "left_leg", "right_leg")
# The limb each skeleton segment belongs to (segments of the torso and the face belong to none).
SEGMENT_LIMB: dict[tuple[int, int], str] = {
    (11, 13): "left_arm", (13, 15): "left_arm", (12, 14): "right_arm", (14, 16): "right_arm",
    (23, 25): "left_leg", (25, 27): "left_leg", (27, 31): "left_leg",
    (24, 26): "right_leg", (26, 28): "right_leg", (28, 32): "right_leg",
}  # fmt: skip
# The point whose travel says whether the video moves a limb: its far end.
_LIMB_END = {"left_arm": 15, "right_arm": 16, "left_leg": 27, "right_leg": 28}
_TORSO = (11, 12, 23, 24)
_SHOULDERS = (11, 12)
_HEAD = BODY_PARTS["head"]
_LEG_POINTS = (25, 26, 27, 28)


@dataclass(frozen=True)
class PoseMapping:
    """Video-sample pixels to image pixels: `image = scale * video + offset`.

    Computed once, at the first read sample whose body shows the anchor: the generated clip
    starts from the image, so that moment of the video stands for the image's pose, and every
    later pose keeps its travel and its change of size relative to it (a dancer crossing the
    frame crosses the image; one walking toward the camera grows on it). A transform fitted
    anew at every sample would pin the body to the image's and hide exactly that.
    """

    anchor: Anchor
    scale: float  # image px per video-sample px
    offset_px: tuple[float, float]
    anchor_time_s: float

    def apply(self, points_px: NDArray[Any]) -> NDArray[np.float64]:
        scaled: NDArray[np.float64] = np.asarray(points_px, np.float64) * self.scale
        shifted: NDArray[np.float64] = scaled + np.asarray(self.offset_px, np.float64)
        return shifted


@dataclass(frozen=True)
class MappedPose:
    """One read sample's pose on the image."""

    time_s: float
    points_px: NDArray[np.float64]  # (33, 2) in the image's pixels
    segments: tuple[tuple[int, int], ...]  # skeleton segments seen at both ends in the video
    # Per segment of `segments`: it leaves the image's frame, or belongs to a limb the image
    # does not show (the model has to invent it): drawn in the warning colour.
    is_warned: tuple[bool, ...]
    length_px: float  # of the seen skeleton
    outside_px: float  # of that length outside the image's frame
    legs_seen: bool  # the video shows a knee or an ankle here

    @property
    def outside_pct(self) -> float:
        return 100.0 * self.outside_px / self.length_px if self.length_px > 0 else 0.0


@dataclass(frozen=True)
class MotionMap:
    """The video's poses on the character image and what they measure there."""

    mapping: PoseMapping
    image_size: tuple[int, int]  # width, height in the pixels of the image's pose
    poses: list[MappedPose]
    outside_pct: float  # share of the mapped skeleton's length outside the image, whole clip
    worst: tuple[float, float] | None  # (time_s, outside %) of the sample most outside
    sides: tuple[str, ...]  # the image's edges the mapped body crosses: left, right, top, bottom
    lacked_moved_limbs: tuple[str, ...]  # limbs the video moves that the image does not show
    # The longest run of read samples whose video shows no knee or ankle: a window where the
    # dancer stays in the upper body (start_s, end_s of the samples), None when there is none.
    upper_body_span: tuple[float, float] | None


def _seen(pose: BodyPose, index: int, min_visibility: float) -> bool:
    return pose.is_seen(index, min_visibility=min_visibility)


def _torso_length_px(pose: BodyPose) -> float:
    """Shoulder centre to hip centre (the same scale as the video check's motion measures)."""
    shoulders = (pose.points_px[11] + pose.points_px[12]) / 2
    hips = (pose.points_px[23] + pose.points_px[24]) / 2
    return float(np.linalg.norm(hips - shoulders))


def _anchor_of(pose: BodyPose, anchor: Anchor) -> tuple[NDArray[Any], float]:
    """The anchor's centre and size in the pose's pixels."""
    if anchor == "torso":
        return np.asarray(pose.points_px[list(_TORSO)].mean(0)), _torso_length_px(pose)
    if anchor == "shoulders":
        return np.asarray(pose.points_px[list(_SHOULDERS)].mean(0)), pose.shoulder_width_px()
    return np.asarray(pose.head_center_px()), pose.head_size_px()


def _shows(pose: BodyPose, anchor: Anchor, min_visibility: float) -> bool:
    points = {"torso": _TORSO, "shoulders": _SHOULDERS, "head": _HEAD}[anchor]
    if not all(_seen(pose, i, min_visibility) for i in points):
        return False
    # A torso folded or shoulders seen edge-on have no length to scale by.
    if anchor == "torso":
        return _torso_length_px(pose) >= 4.0
    return anchor == "head" or pose.shoulder_width_px() >= 4.0


def fit_mapping(
    image_pose: BodyPose, video_poses: list[tuple[float, BodyPose | None]], min_visibility: float
) -> PoseMapping | None:
    """The transform from the video's first read body showing the anchor to the image's body:
    torsos where the image shows shoulders and hips and the video does somewhere, else the
    shoulders (their width and centre: a half-body image cut above the hips), else heads (the
    head's size and centre). None when no anchor is seen in both."""
    anchors: tuple[Anchor, ...] = ("torso", "shoulders", "head")
    for anchor in anchors:
        if not _shows(image_pose, anchor, min_visibility):
            continue
        first = next(
            ((t, p) for t, p in video_poses if p is not None and _shows(p, anchor, min_visibility)),
            None,
        )
        if first is None:
            continue
        time_s, video_pose = first
        image_centre, image_size = _anchor_of(image_pose, anchor)
        video_centre, video_size = _anchor_of(video_pose, anchor)
        scale = image_size / max(video_size, 1e-6)
        offset = image_centre - scale * video_centre
        return PoseMapping(anchor, scale, (float(offset[0]), float(offset[1])), time_s)
    return None


def inside_fraction(
    a: NDArray[Any], b: NDArray[Any], width: float, height: float
) -> float:  # fmt: skip
    """The share of segment a-b inside the rectangle [0, width] x [0, height] (Liang-Barsky)."""
    d = b - a
    low, high = 0.0, 1.0
    for p, q in ((-d[0], a[0]), (d[0], width - a[0]), (-d[1], a[1]), (d[1], height - a[1])):
        if abs(p) < 1e-12:
            if q < 0:
                return 0.0
            continue
        r = q / p
        if p < 0:
            low = max(low, r)
        else:
            high = min(high, r)
        if low > high:
            return 0.0
    return high - low


def _edges_crossed(points: NDArray[Any], width: int, height: int) -> set[str]:
    out = set()
    if (points[:, 0] < 0).any():
        out.add("left")
    if (points[:, 0] > width).any():
        out.add("right")
    if (points[:, 1] < 0).any():
        out.add("top")
    if (points[:, 1] > height).any():
        out.add("bottom")
    return out


def moved_limbs(
    video_poses: list[tuple[float, BodyPose | None]], min_visibility: float, min_range: float
) -> tuple[str, ...]:
    """Limbs whose far end (wrist, ankle) the video moves: its position relative to the
    shoulder centre spreads at least `min_range` torso lengths (RMS) over the samples where the
    whole limb is seen (at least three, so a spread exists)."""
    out = []
    for limb in LIMBS:
        end = _LIMB_END[limb]
        rel = []
        for _, pose in video_poses:
            if pose is None or not all(_seen(pose, i, min_visibility) for i in BODY_PARTS[limb]):
                continue
            torso = _torso_length_px(pose)
            if not all(_seen(pose, i, min_visibility) for i in (23, 24)) or torso < 4.0:
                torso = 1.25 * pose.shoulder_width_px()  # hips unseen: about 1.25 shoulder widths
            if torso < 4.0:
                continue
            centre = (pose.points_px[11] + pose.points_px[12]) / 2
            rel.append((pose.points_px[end] - centre) / torso)
        if len(rel) >= 3:
            points = np.asarray(rel)
            spread = float(np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean()))
            if spread >= min_range:
                out.append(limb)
    return tuple(out)


def image_lacks(pose: BodyPose, limb: str, min_visibility: float) -> bool:
    """The image does not show the limb: its middle joint or far end lies outside the frame
    (cut off by the framing), or neither is seen (hidden). One of the two seen is enough: an
    arm held along the body often leaves the wrist under the visibility the checks ask."""
    _, middle, end = BODY_PARTS[limb]
    if not (pose.is_in_frame(middle) and pose.is_in_frame(end)):
        return True
    return max(float(pose.visibility[middle]), float(pose.visibility[end])) < min_visibility


def _upper_body_span(poses: list[MappedPose]) -> tuple[float, float] | None:
    best: tuple[float, float] | None = None
    for is_legless, run in itertools.groupby(poses, key=lambda p: not p.legs_seen):
        times = [p.time_s for p in run]
        if (
            is_legless
            and len(times) >= 2
            and (best is None or times[-1] - times[0] > best[1] - best[0])
        ):
            best = (times[0], times[-1])
    return best


def _mapped_pose(
    mapping: PoseMapping,
    time_s: float,
    pose: BodyPose,
    size: tuple[int, int],
    min_visibility: float,
    lacked: tuple[str, ...],
) -> tuple[MappedPose, set[str]] | None:
    """One video pose on the image of `size` (width, height), with the image's edges its seen
    points cross; None when no skeleton segment is seen at both ends."""
    width, height = size
    points = mapping.apply(pose.points_px)
    seen = [_seen(pose, i, min_visibility) for i in range(len(pose.points_px))]
    segments = tuple((a, b) for a, b in SKELETON if seen[a] and seen[b])
    warned, total, outside = [], 0.0, 0.0
    for a, b in segments:
        length = float(np.linalg.norm(points[b] - points[a]))
        inside = inside_fraction(points[a], points[b], width, height)
        total += length
        outside += length * (1.0 - inside)
        warned.append(inside < 1.0 or SEGMENT_LIMB.get((a, b)) in lacked)
    if not segments:
        return None
    seen_points = points[[i for i, s in enumerate(seen) if s]]
    sides = _edges_crossed(seen_points, width, height)
    legs_seen = any(seen[i] for i in _LEG_POINTS)
    return MappedPose(time_s, points, segments, tuple(warned), total, outside, legs_seen), sides


def map_motion(
    image_pose: BodyPose | None,
    video_poses: list[tuple[float, BodyPose | None]],
    *,
    min_visibility: float,
    limb_moves_range: float,
) -> MotionMap | None:
    """The video's read poses on the character image, with the measures the pair check judges.

    Args:
        image_pose: the image's main person (its pixels are the map's pixels).
        video_poses: (time_s, pose or None) at every read sample, in the samples' pixels.
        min_visibility: a landmark counts as seen from this BlazePose visibility.
        limb_moves_range: a limb moves from this spread of its far end (torso lengths, RMS).

    Returns:
        None when the image has no pose or no anchor is seen in both.
    """
    if image_pose is None:
        return None
    mapping = fit_mapping(image_pose, video_poses, min_visibility)
    if mapping is None:
        return None
    width, height = image_pose.frame_width, image_pose.frame_height
    moved = moved_limbs(video_poses, min_visibility, limb_moves_range)
    lacked = tuple(limb for limb in moved if image_lacks(image_pose, limb, min_visibility))
    mapped: list[MappedPose] = []
    sides: set[str] = set()
    for time_s, pose in video_poses:
        if pose is None:
            continue
        one = _mapped_pose(mapping, time_s, pose, (width, height), min_visibility, lacked)
        if one is not None:
            mapped.append(one[0])
            sides |= one[1]
    total = sum(p.length_px for p in mapped)
    outside_pct = 100.0 * sum(p.outside_px for p in mapped) / total if total > 0 else 0.0
    worst = max(mapped, key=lambda p: p.outside_pct, default=None)
    return MotionMap(
        mapping=mapping,
        image_size=(width, height),
        poses=mapped,
        outside_pct=outside_pct,
        worst=(worst.time_s, worst.outside_pct) if worst is not None else None,
        sides=tuple(s for s in ("left", "right", "top", "bottom") if s in sides),
        lacked_moved_limbs=lacked,
        upper_body_span=_upper_body_span(mapped),
    )
