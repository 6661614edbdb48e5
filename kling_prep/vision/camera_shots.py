"""The camera's motion in a video, shot by shot, with the people masked out.

`estimate_camera_motion` (vision/camera.py) reads one run of frames; this module cuts the video
at its hard cuts (tracking across a cut means nothing), builds each frame's masks from the
timeline's boxes and returns the shot whose camera moves most.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Final, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.camera import CameraMotion, estimate_camera_motion
from kling_prep.vision.people import PersonBox
from kling_prep.vision.timeline import MOTION_MAX_GAP_S, Box, CutMark, VideoSample

CAMERA_WIDTH_PX: Final = 320
"""The background's motion is measured at about this width: its measures are shares of the
frame, so the size changes nothing but the cost."""


class Frame(Protocol):
    """A sampled frame: its time and its pixels (HxWx3 RGB)."""

    @property
    def time_s(self) -> float: ...
    @property
    def rgb(self) -> NDArray[Any]: ...


def camera_of_shots(
    frames: Sequence[Frame],
    timeline: list[VideoSample],
    proposals: list[list[PersonBox]],
    cuts: list[CutMark],
) -> CameraMotion | None:
    """The camera's motion in each shot; the shot whose camera moves most is reported. The
    person is masked out by the box of their landmarks where the pose was read, widened so
    that hair, loose clothing and limbs outside the seen landmarks do not pass for background;
    a sample between reads takes the box of the nearest read within `MOTION_MAX_GAP_S`, since
    the detector's own box (a square around the whole body's circle) covers most of a close
    shot and would leave no background to track. Other people proposed by the detector are
    masked by their own boxes; a proposal centred inside the main person's widened box is that
    person again."""
    boxes = person_boxes(timeline)
    bounds = [0.0, *(c.time_s for c in cuts), math.inf]
    worst: CameraMotion | None = None
    worst_speed = -1.0
    for start, end in itertools.pairwise(bounds):
        shot = [
            (s, b, p)
            for s, b, p in zip(frames, boxes, proposals, strict=False)
            if start <= s.time_s < end
        ]
        if len(shot) < 3:
            continue
        motion = _shot_motion(shot)
        speed = max(
            abs(motion.pan_pct_per_s_median or 0.0),
            abs(motion.tilt_pct_per_s_median or 0.0),
            abs(motion.zoom_pct_per_s_median or 0.0),
        )
        if speed > worst_speed:
            worst, worst_speed = motion, speed
    return worst


def _shot_motion(shot: list[tuple[Frame, Box | None, list[PersonBox]]]) -> CameraMotion:
    # The background is tracked at about 320 px wide: its measures are shares of the frame,
    # so the size changes nothing but the cost.
    scale = min(1.0, CAMERA_WIDTH_PX / shot[0][0].rgb.shape[1])
    frames = [(s.time_s, _grey(s.rgb, scale)) for s, _, _ in shot]
    mains = [_widen(b, s.rgb.shape[1], s.rgb.shape[0]) for s, b, _ in shot]
    others = [
        [_scaled_box(p.box, scale) for p in people if not _centred_in(p, main)]
        for (_, _, people), main in zip(shot, mains, strict=True)
    ]
    return estimate_camera_motion(frames, [_scaled(b, scale) for b in mains], others)


def person_boxes(timeline: list[VideoSample]) -> list[Box | None]:
    """Per sample, the main person's landmark box: its own where the pose was read, else the
    nearest read one within `MOTION_MAX_GAP_S` (the same person, seen still there), else the
    detector's box."""
    read = [(s.time_s, s.main_box) for s in timeline if s.pose_read and s.main_box is not None]
    out: list[Box | None] = []
    for s in timeline:
        if s.pose_read or s.main_box is None or not read:
            out.append(s.main_box)
            continue
        gap_s, box = min((abs(t - s.time_s), b) for t, b in read)
        out.append(box if gap_s <= MOTION_MAX_GAP_S else s.main_box)
    return out


def _centred_in(person: PersonBox, box: Box | None) -> bool:
    if box is None:
        return False
    x, y, w, h = box
    return x <= person.x + person.w / 2 <= x + w and y <= person.y + person.h / 2 <= y + h


def _scaled_box(box: Box, scale: float) -> Box:
    return (int(box[0] * scale), int(box[1] * scale), int(box[2] * scale), int(box[3] * scale))


def _grey(rgb: NDArray[Any], scale: float) -> NDArray[np.uint8]:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.asarray(grey, dtype=np.uint8)


def _scaled(box: Box | None, scale: float) -> Box | None:
    return None if box is None else _scaled_box(box, scale)


def _widen(box: Box | None, width: int, height: int) -> Box | None:
    """The box grown by half its size on each side and down to the frame's bottom edge; upwards
    by half its larger side, since a head-and-shoulders box ends at the eyes and the hair above
    reaches about half the shoulders' width."""
    if box is None:
        return None
    x, y, w, h = box
    x0, y0 = max(0, int(x - 0.5 * w)), max(0, int(y - 0.5 * max(w, h)))
    x1 = min(width, int(x + 1.5 * w))
    return (x0, y0, max(1, x1 - x0), max(1, height - y0))
