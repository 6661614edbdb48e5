"""Body pose of one person: BlazePose landmarks (33 points) on a crop around a detection.

The legacy Pose solution follows only the first person it finds, so each detected person gets
its own crop; the landmarks are mapped back to the frame's pixels. The same landmarks tell which
limbs are in frame and give the head's crop for the face view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.graphs import normalized_rect, pose_landmarker, pose_landmarks_by_roi_graph

# BlazePose landmark indices.
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 2, 5, 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW = 11, 12, 13, 14
LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, RIGHT_HIP = 15, 16, 23, 24
LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 25, 26, 27, 28

# The body parts a user cares about, each a set of landmarks that must all be seen.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (NOSE, LEFT_EYE, RIGHT_EYE),
    "left_arm": (LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST),
    "right_arm": (RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST),
    "shoulders": (LEFT_SHOULDER, RIGHT_SHOULDER),
    "hips": (LEFT_HIP, RIGHT_HIP),
    "left_leg": (LEFT_HIP, LEFT_KNEE, LEFT_ANKLE),
    "right_leg": (RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE),
}
UPPER_BODY_PARTS = ("head", "left_arm", "right_arm", "shoulders")

SEEN_VISIBILITY: Final = 0.5
"""BlazePose visibility at which vision's own steps take a landmark as seen (whether a proposal
is a body, a head's size, a face to look for, the trunk on the mask): the model's own even odds.
A measurement parameter, fixed; the checks' reading of a pose uses the thresholds table's
`landmark_min_visibility` (the same 0.5 by default), which kling-prep.toml can override."""

# BlazePose's skeleton, for drawing.
SKELETON: tuple[tuple[int, int], ...] = (
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24),
    (23, 25), (25, 27), (24, 26), (26, 28), (27, 31), (28, 32), (0, 2), (0, 5), (2, 7), (5, 8),
)  # fmt: skip


@dataclass(frozen=True)
class BodyPose:
    """33 landmarks of one person in frame pixels, with the model's per-point confidences."""

    points_px: NDArray[Any]  # (33, 2) x, y in frame pixels (may lie outside the frame)
    visibility: NDArray[Any]  # (33,) 0..1: the model's belief the point is visible
    presence: NDArray[Any]  # (33,) 0..1: the model's belief the point lies in the frame
    world_m: NDArray[Any]  # (33, 3) metres, origin between the hips, y down, z toward the camera
    frame_width: int
    frame_height: int
    mask: NDArray[Any] | None = None  # HxW float 0..1 person mask in frame pixels, when asked

    def is_in_frame(self, index: int, *, margin_px: float = 0.0) -> bool:
        x, y = self.points_px[index]
        return bool(
            -margin_px <= x < self.frame_width + margin_px
            and -margin_px <= y < self.frame_height + margin_px
        )

    def is_seen(self, index: int, *, min_visibility: float = SEEN_VISIBILITY) -> bool:
        """The point lies in the frame and the model believes it is visible."""
        return self.is_in_frame(index) and float(self.visibility[index]) >= min_visibility

    def out_of_frame_parts(self) -> list[str]:
        """Parts with a landmark outside the frame: cut off by the framing."""
        return [
            part
            for part, points in BODY_PARTS.items()
            if not all(self.is_in_frame(i) for i in points)
        ]

    def visible_parts(self, *, min_visibility: float = SEEN_VISIBILITY) -> dict[str, bool]:
        return {
            part: all(self.is_seen(i, min_visibility=min_visibility) for i in points)
            for part, points in BODY_PARTS.items()
        }

    def shoulder_width_px(self) -> float:
        return float(np.linalg.norm(self.points_px[LEFT_SHOULDER] - self.points_px[RIGHT_SHOULDER]))

    def head_center_px(self) -> NDArray[Any]:
        return np.asarray(self.points_px[[NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR]].mean(0))

    def head_size_px(self) -> float:
        """About the head's width: the ear-to-ear distance, or a share of the shoulders."""
        ears = float(np.linalg.norm(self.points_px[LEFT_EAR] - self.points_px[RIGHT_EAR]))
        eye_nose = float(np.linalg.norm(self.points_px[LEFT_EYE] - self.points_px[RIGHT_EYE]))
        return max(ears, 2.5 * eye_nose, 0.45 * self.shoulder_width_px(), 8.0)

    def bbox_px(
        self, *, min_visibility: float = SEEN_VISIBILITY
    ) -> tuple[float, float, float, float]:
        """x, y, w, h around the seen landmarks (all landmarks when none is seen)."""
        seen = self.visibility >= min_visibility
        pts = self.points_px[seen] if seen.any() else self.points_px
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


class PoseEstimator:
    """BlazePose landmarks of the person around a given centre (complexity 1, bundled)."""

    def __init__(self, *, with_segmentation: bool = False) -> None:
        self._with_segmentation = with_segmentation
        self._pose: Any = pose_landmarker(with_segmentation=with_segmentation)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def estimate(
        self, image_rgb: NDArray[Any], region: tuple[float, float, float, float] | None = None
    ) -> BodyPose | None:
        """Landmarks of the person in a region of the frame, in the frame's pixels.

        Args:
            image_rgb: HxWx3 uint8 RGB frame.
            region: x0, y0, x1, y1 in pixels, clipped to the frame; None for the whole frame.
                The crop is never padded: BlazePose misreads bodies next to black borders.

        Returns:
            The pose, or None when the landmarker finds nobody there.
        """
        height, width = image_rgb.shape[:2]
        x0, y0, x1, y1 = 0, 0, width, height
        if region is not None:
            x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
            x1, y1 = min(width, int(np.ceil(region[2]))), min(height, int(np.ceil(region[3])))
            if x1 - x0 < 16 or y1 - y0 < 16:
                return None
        crop = np.ascontiguousarray(image_rgb[y0:y1, x0:x1])
        result = self._pose.process(crop)
        if result.pose_landmarks is None:
            return None
        cw, ch = x1 - x0, y1 - y0
        marks = result.pose_landmarks.landmark
        points = np.array([[m.x * cw + x0, m.y * ch + y0] for m in marks], dtype=np.float32)
        visibility = np.array([m.visibility for m in marks], dtype=np.float32)
        presence = np.array([m.presence for m in marks], dtype=np.float32)
        world = np.array(
            [[m.x, m.y, m.z] for m in result.pose_world_landmarks.landmark], dtype=np.float32
        )
        mask = None
        if self._with_segmentation and result.segmentation_mask is not None:
            mask = np.zeros((height, width), dtype=np.float32)
            mask[y0:y1, x0:x1] = result.segmentation_mask
        return BodyPose(
            points_px=points,
            visibility=visibility,
            presence=presence,
            world_m=world,
            frame_width=width,
            frame_height=height,
            mask=mask,
        )


@dataclass(frozen=True)
class BodyRoi:
    """A square region around one body, in frame pixels, the way BlazePose's landmark model
    is fed: centred on the hips, a side of 2.5 body radii, turned so the body stands upright."""

    x_center_px: float
    y_center_px: float
    side_px: float
    rotation_rad: float = 0.0


class PoseRoiReader:
    """BlazePose landmarks read on a region we choose (no detector): see
    `graphs.pose_landmarks_by_roi_graph`."""

    def __init__(self, *, with_segmentation: bool = False) -> None:
        self._with_segmentation = with_segmentation
        self._graph: Any = pose_landmarks_by_roi_graph(with_segmentation=with_segmentation)

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> PoseRoiReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, image_rgb: NDArray[Any], roi: BodyRoi) -> BodyPose | None:
        """The pose of the body in `roi`, in the frame's pixels, or None when the landmark
        model says no body is there (its presence score under 0.5).

        Args:
            image_rgb: HxWx3 uint8 RGB frame.
            roi: the region; it may reach outside the frame (the model pads it).
        """
        height, width = image_rgb.shape[:2]
        if roi.side_px < 16:
            return None
        rect = normalized_rect(
            roi.x_center_px / width, roi.y_center_px / height,
            roi.side_px / width, roi.side_px / height, roi.rotation_rad,
        )  # fmt: skip
        result = self._graph.process({"image": np.ascontiguousarray(image_rgb), "roi": rect})
        if result.landmarks is None or result.world_landmarks is None:
            return None
        marks = result.landmarks.landmark
        mask = None
        if self._with_segmentation and result.segmentation_mask is not None:
            mask = np.asarray(result.segmentation_mask, dtype=np.float32).reshape(height, width)
        return BodyPose(
            points_px=np.array([[m.x * width, m.y * height] for m in marks], dtype=np.float32),
            visibility=np.array([m.visibility for m in marks], dtype=np.float32),
            presence=np.array([m.presence for m in marks], dtype=np.float32),
            world_m=np.array(
                [[m.x, m.y, m.z] for m in result.world_landmarks.landmark], dtype=np.float32
            ),
            frame_width=width,
            frame_height=height,
            mask=mask,
        )


def framing_of(pose: BodyPose | None, *, min_visibility: float) -> str:
    """How much of the body the frame shows, from which landmarks are seen."""
    if pose is None:
        return "unknown"
    seen = pose.visible_parts(min_visibility=min_visibility)
    if seen["left_leg"] or seen["right_leg"]:
        return "full_body"
    if seen["hips"]:
        return "upper_body"
    if pose.is_seen(11, min_visibility=min_visibility) or pose.is_seen(
        12, min_visibility=min_visibility
    ):
        return "head_and_shoulders"
    return "unknown"
