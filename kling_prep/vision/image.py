"""The measures of a character image: people, the character's pose and face view, how much of
the frame the body fills, and the lighting, in one typed `ImageAnalysis`. Nothing here judges:
checks/image.py compares the analysis with its thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.face import FaceView
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.lighting import LightingMetrics, measure_lighting
from kling_prep.vision.people import Person, UnreadPerson
from kling_prep.vision.pose import BodyPose
from kling_prep.vision.timeline import MeasureRules

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything measured in the character image, typed."""

    rgb: NDArray[Any] = field(repr=False)  # the analysed pixels (reduced)
    people: list[Person]  # each confirmed by a pose, the largest (the character) first
    face: FaceView | None  # None: nobody found
    person_height_share: float | None  # the character's seen extent / image height
    lighting: LightingMetrics
    # Where no pose-confirmed person was found: people whose shape and silhouette agree though
    # no body or face can be read on them (a face covered, hooded, hidden), largest first.
    unread: list[UnreadPerson] = field(default_factory=list)

    @property
    def pose(self) -> BodyPose | None:
        """The character's pose (None: nobody found)."""
        return self.people[0].pose if self.people else None


def analyse_image(rgb: NDArray[Any], kit: VisionKit, rules: MeasureRules) -> ImageAnalysis:
    """People (each confirmed by a pose; the largest is the character), the character's face
    view, the share of the height the body fills, and the lighting on the person's mask; where
    nobody's pose is read, the people seen without one (`ImageAnalysis.unread`)."""
    people, unread = kit.people_finder.find_all(rgb)
    pose = people[0].pose if people else None
    face = kit.face.estimate(rgb, pose) if people else None
    share = None
    person_box = None
    if pose is not None:
        x, y, w, h = pose.bbox_px(min_visibility=rules.landmark_min_visibility)
        top, bottom = max(0.0, y), min(float(rgb.shape[0]), y + h)
        share = max(0.0, bottom - top) / rgb.shape[0]
        # Blur is read on the whole person: smooth skin alone reads soft even when sharp.
        person_box = clip_box(x, y, w, h, rgb.shape[1], rgb.shape[0])
    mask = pose.mask if pose is not None else None
    if unread:
        # Judged on the person the shape and the silhouette agree on, not on the whole frame.
        mask, person_box = unread[0].mask, unread[0].detection.box
    lighting = measure_lighting(rgb, mask, tight_face_box(face), blur_box=person_box)
    return ImageAnalysis(rgb, people, face, share, lighting, unread)


def arms_away_from_body(pose: BodyPose | None, *, min_visibility: float) -> bool | None:
    """Whether a wrist stands clear of the torso (a distinctive pose), by over half a shoulder
    width from the shoulder-hip line on its side."""
    if pose is None:
        return None
    shoulder_w = pose.shoulder_width_px()
    if shoulder_w < 1:
        return None
    clear = False
    for wrist, shoulder, hip in ((15, 11, 23), (16, 12, 24)):
        if not pose.is_seen(wrist, min_visibility=min_visibility):
            continue
        a, b, p = pose.points_px[shoulder], pose.points_px[hip], pose.points_px[wrist]
        line = b - a
        length = float(np.linalg.norm(line))
        if length < 1:
            continue
        distance = abs(float(np.cross(line, p - a))) / length
        clear = clear or distance > 0.5 * shoulder_w
    return clear


def clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> Box | None:
    """The box cut to the image, None when under 8 px a side is left."""
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(x + w)), min(height, int(y + h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def tight_face_box(face: FaceView | None) -> Box | None:
    """The inner face (the mesh's extent less 15% a side: skin, not hair or background)."""
    if face is None or face.mesh_px is None:
        return None
    x0, y0 = face.mesh_px.min(0)
    x1, y1 = face.mesh_px.max(0)
    dx, dy = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    return (
        int(x0 + dx),
        int(y0 + dy),
        max(1, int(x1 - x0 - 2 * dx)),
        max(1, int(y1 - y0 - 2 * dy)),
    )
