"""The person's own motion in a video: limb speeds and range of motion relative to the torso.

`MotionMeter` has the shape of `CutDetector`: `push` each sample's pose (None where nobody was
read), `finish` for the typed `MotionSummary`. Pure measurement (numpy); the checks judge it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from kling_prep.vision.pose import BodyPose
from kling_prep.vision.timeline import MOTION_MAX_GAP_S, MeasureRules

LIMBS = (13, 14, 15, 16, 25, 26, 27, 28)  # elbows, wrists, knees, ankles
EXTREMITIES = (15, 16, 27, 28)  # wrists, ankles
TimedPose = tuple[float, BodyPose | None]


@dataclass(frozen=True)
class MotionSummary:
    """The person's own motion: limbs relative to the shoulders, in torso lengths.

    Speeds between poses read half a second apart alias a periodic motion (a 2 Hz swing
    sampled at 2 Hz looks still), so how much the person moves is judged on the range of
    motion: the spread of each limb's position over the clip, which poses read at several
    phases reveal (`POSE_READS`). Speeds serve for the fast-motion warning (aliasing can only
    under-read them) and the timeline; they are taken only between poses at most
    `MOTION_MAX_GAP_S` apart, since a longer gap averages a swing out.
    """

    median_speed: float | None  # median over intervals of the median limb speed, torso/s
    range_of_motion: float | None  # median over limbs of the RMS spread of position, torso
    fast_share: float | None  # share of intervals whose fastest wrist/ankle exceeds the limit
    intervals: list[tuple[float, float]]  # (time_s, median limb speed) for the timeline


@dataclass
class MotionMeter:
    """Collects the poses read in time order; `finish` measures the motion between them."""

    rules: MeasureRules
    poses: list[TimedPose] = field(default_factory=list)

    def push(self, pose: TimedPose) -> None:
        self.poses.append(pose)

    def finish(self) -> MotionSummary:
        return measure_motion(self.poses, self.rules)


def torso_length(pose: BodyPose, min_visibility: float) -> float:
    """Shoulder centre to hip centre, in pixels; from the shoulders' width where a hip is
    unseen (about 1.25 shoulder widths in adults)."""
    shoulders = (pose.points_px[11] + pose.points_px[12]) / 2
    hips = (pose.points_px[23] + pose.points_px[24]) / 2
    if pose.visibility[23] >= min_visibility and pose.visibility[24] >= min_visibility:
        return max(1.0, float(np.linalg.norm(hips - shoulders)))
    return max(1.0, 1.25 * pose.shoulder_width_px())


def _limb_speeds(a: BodyPose, b: BodyPose, gap_s: float, rules: MeasureRules) -> dict[int, float]:
    """Each limb point seen in both poses: its speed relative to the shoulder centre (camera
    motion and the body's own travel cancel out), in torso lengths per second."""
    seen = rules.landmark_min_visibility
    centre_a = (a.points_px[11] + a.points_px[12]) / 2
    centre_b = (b.points_px[11] + b.points_px[12]) / 2
    scale = (torso_length(a, seen) + torso_length(b, seen)) / 2
    speeds = {}
    for i in LIMBS:
        if a.visibility[i] < seen or b.visibility[i] < seen:
            continue
        moved = (b.points_px[i] - centre_b) - (a.points_px[i] - centre_a)
        speeds[i] = float(np.linalg.norm(moved)) / scale / gap_s
    return speeds


def measure_motion(poses: list[TimedPose], t: MeasureRules) -> MotionSummary:
    """Limb speeds relative to the torso between consecutive samples (camera motion and the
    body's own travel cancel out), in torso lengths per second."""
    medians: list[float] = []
    fast = 0
    timeline: list[tuple[float, float]] = []
    for (t0, a), (t1, b) in itertools.pairwise(poses):
        if a is None or b is None or not 0 < t1 - t0 <= MOTION_MAX_GAP_S:
            continue
        speeds = _limb_speeds(a, b, t1 - t0, t)
        if not speeds:
            continue
        median = float(np.median(list(speeds.values())))
        medians.append(median)
        timeline.append((round(t1, 3), round(median, 3)))
        extremities = [speeds[i] for i in EXTREMITIES if i in speeds]
        if extremities and max(extremities) > t.fast_motion_speed:
            fast += 1
    spread = range_of_motion(poses, t)
    if not medians:
        return MotionSummary(None, spread, None, timeline)
    return MotionSummary(float(np.median(medians)), spread, fast / len(medians), timeline)


def range_of_motion(poses: list[TimedPose], t: MeasureRules) -> float | None:
    """Median over limb points of the RMS distance from their mean position (relative to the
    shoulder centre, in torso lengths), over the samples where each point is seen."""
    seen = t.landmark_min_visibility
    spreads = []
    for i in LIMBS:
        rel = [
            (p.points_px[i] - (p.points_px[11] + p.points_px[12]) / 2) / torso_length(p, seen)
            for _, p in poses
            if p is not None and p.visibility[i] >= seen
        ]
        if len(rel) >= 3:
            points = np.asarray(rel)
            spreads.append(float(np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())))
    return float(np.median(spreads)) if spreads else None
