"""Counting people: BlazePose's person detector on the whole frame and on overlapping tiles.

The detector sees a 224x224 letterboxed view, so a person in a wide frame (two people side by
side, a 2.4:1 still) may shrink below what it finds; square tiles along the long side keep every
person at a useful size, and detections seen twice are merged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.graphs import pose_detection_graph
from kling_prep.vision.pose import LEFT_SHOULDER, NOSE, RIGHT_SHOULDER, BodyPose, PoseEstimator


@dataclass(frozen=True)
class PersonBox:
    """One detected person, in pixels of the analysed frame."""

    x: float  # full-body square around the hips' centre, clipped to the frame
    y: float
    w: float
    h: float
    score: float  # detector confidence 0..1
    hip_x: float
    hip_y: float
    body_radius_px: float  # radius of the circle BlazePose draws around the whole body

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (int(self.x), int(self.y), int(self.w), int(self.h))


def _iou(a: PersonBox, b: PersonBox) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def _is_same_person(a: PersonBox, b: PersonBox) -> bool:
    # Two detections of one body: their hip centres lie within half the smaller body radius.
    distance = math.hypot(a.hip_x - b.hip_x, a.hip_y - b.hip_y)
    return distance < 0.5 * min(a.body_radius_px, b.body_radius_px) or _iou(a, b) > 0.6


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) covering a frame whose aspect ratio exceeds 1.3, overlapping by
    at least a fifth of a tile, so that a person cut by one tile's inner edge lies in the core
    of the next (16:9 takes two tiles, 2.4:1 three)."""
    side = min(width, height)
    long_side = max(width, height)
    if long_side <= 1.3 * side:
        return []
    count = math.ceil((long_side - side) / (0.8 * side)) + 1
    step = (long_side - side) / (count - 1)
    tiles = []
    for i in range(count):
        offset = round(i * step)
        tiles.append((offset, 0, side) if width >= height else (0, offset, side))
    return tiles


class PersonDetector:
    """Every person in a frame, whatever the style: photographs, 3D renders, drawings."""

    def __init__(self, *, min_score: float = 0.5) -> None:
        self._graph: Any = pose_detection_graph()
        self._min_score = min_score

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> PersonDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _detect_once(
        self, image_rgb: NDArray[Any], dx: int, dy: int, core: tuple[float, float, float, float]
    ) -> list[PersonBox]:
        """Detections whose hip centre lies in `core` (x0, y0, x1, y1 in the tile's pixels).

        A tile cuts through people at its inner edges, and the detector then guesses a body
        from a part of one; with overlapping tiles every point lies in the core of one tile
        (the cores meet halfway through each overlap), so only core detections are kept.
        """
        height, width = image_rgb.shape[:2]
        result = self._graph.process({"image": np.ascontiguousarray(image_rgb)})
        found = []
        for detection in result.detections or []:
            score = float(detection.score[0])
            if score < self._min_score:
                continue
            points = detection.location_data.relative_keypoints
            hip_x, hip_y = points[0].x * width, points[0].y * height
            rim_x, rim_y = points[1].x * width, points[1].y * height
            radius = math.hypot(rim_x - hip_x, rim_y - hip_y)
            if not (core[0] <= hip_x < core[2] and core[1] <= hip_y < core[3]):
                continue
            found.append(
                PersonBox(
                    x=hip_x - radius + dx,
                    y=hip_y - radius + dy,
                    w=2 * radius,
                    h=2 * radius,
                    score=score,
                    hip_x=hip_x + dx,
                    hip_y=hip_y + dy,
                    body_radius_px=radius,
                )
            )
        return found

    def detect(self, image_rgb: NDArray[Any], *, use_tiles: bool = True) -> list[PersonBox]:
        """Every person found, largest first.

        Args:
            image_rgb: HxWx3 uint8 RGB frame.
            use_tiles: also look in square tiles along the long side (small people side by
                side); off, only the whole frame is read.

        Returns:
            One box per person, duplicates across tiles merged, largest body first.
        """
        height, width = image_rgb.shape[:2]
        everywhere = (-math.inf, -math.inf, math.inf, math.inf)
        candidates = self._detect_once(image_rgb, 0, 0, everywhere)
        tiles = _tiles(width, height) if use_tiles else []
        for i, (x, y, side) in enumerate(tiles):
            offset = x if width >= height else y
            prev_end = tiles[i - 1][0 if width >= height else 1] + side if i > 0 else 0
            next_start = tiles[i + 1][0 if width >= height else 1] if i + 1 < len(tiles) else 0
            # The cores meet in the middle of each overlap, in this tile's own pixels.
            lo = -math.inf if i == 0 else (offset + prev_end) / 2 - offset
            hi = math.inf if i == len(tiles) - 1 else (next_start + offset + side) / 2 - offset
            core = (
                (lo, -math.inf, hi, math.inf) if width >= height else (-math.inf, lo, math.inf, hi)
            )
            candidates += self._detect_once(image_rgb[y : y + side, x : x + side], x, y, core)
        candidates.sort(key=lambda p: p.score, reverse=True)
        kept: list[PersonBox] = []
        for person in candidates:
            if not any(_is_same_person(person, other) for other in kept):
                kept.append(person)
        clipped = [_clip(p, width, height) for p in kept]
        return sorted(clipped, key=lambda p: p.body_radius_px, reverse=True)


def _clip(person: PersonBox, width: int, height: int) -> PersonBox:
    x0, y0 = max(0.0, person.x), max(0.0, person.y)
    x1, y1 = min(float(width), person.x + person.w), min(float(height), person.y + person.h)
    return PersonBox(
        x=x0,
        y=y0,
        w=max(0.0, x1 - x0),
        h=max(0.0, y1 - y0),
        score=person.score,
        hip_x=person.hip_x,
        hip_y=person.hip_y,
        body_radius_px=person.body_radius_px,
    )


@dataclass(frozen=True)
class Person:
    """A person confirmed by two models: the detector found a body, the landmarker its pose."""

    detection: PersonBox
    pose: BodyPose  # every person is confirmed by a pose

    @property
    def size_px(self) -> float:
        """A body scale that does not depend on framing: the detector's body radius."""
        return self.detection.body_radius_px


def find_people(
    image_rgb: NDArray[Any],
    detector: PersonDetector,
    estimator: PoseEstimator | Callable[[], PoseEstimator],
    *,
    tracker: PoseEstimator | None = None,
    use_tiles: bool = True,
) -> list[Person]:
    """The people in a frame, largest first, each confirmed by its own pose: the detector's
    proposals (whole frame and tiles) passed to `confirm_people`."""
    proposals = detector.detect(image_rgb, use_tiles=use_tiles)
    return confirm_people(image_rgb, proposals, estimator, tracker=tracker)


def confirm_people(
    image_rgb: NDArray[Any],
    proposals: list[PersonBox],
    estimator: PoseEstimator | Callable[[], PoseEstimator],
    *,
    tracker: PoseEstimator | None = None,
) -> list[Person]:
    """The proposed people that a pose confirms, largest first.

    1. The detector has proposed bodies (`PersonDetector.detect`, largest first).
    2. One proposal: the landmarker reads the whole frame (its best view of a single person).
       Several: each gets a landmarker pass on a narrow crop around its hips, so a neighbour
       does not take its place. A proposal the landmarker finds no body in is dropped (the
       detector alone sees people in rockets, posters, hands and hats), and any proposal but
       the largest must also show a head and both shoulders.
    3. Proposals whose heads land on a person already kept are the same person.
    """
    boxes = proposals
    if not boxes:
        return []
    if len(boxes) == 1 and tracker is not None:
        # In a video, a tracking landmarker reuses the last frame's body region and skips its own
        # detector; it is only trusted while its head lands inside the one detected body.
        tracked = tracker.estimate(image_rgb)
        if tracked is not None and _is_inside(tracked, boxes[0]):
            return [Person(detection=boxes[0], pose=tracked)]
    # The still-image landmarker (a graph of its own) is only built when it is needed.
    if not isinstance(estimator, PoseEstimator):
        estimator = estimator()
    if len(boxes) == 1:
        pose = estimator.estimate(image_rgb)
        return [] if pose is None else [Person(detection=boxes[0], pose=pose)]
    people: list[Person] = []
    for rank, box in enumerate(boxes):
        r = box.body_radius_px
        region = (box.hip_x - 0.75 * r, box.hip_y - 1.25 * r, box.hip_x + 0.75 * r, box.hip_y + r)
        pose = estimator.estimate(image_rgb, region)
        if pose is None:
            continue
        if any(_is_same_body(pose, kept.pose) for kept in people):
            continue
        if rank > 0 and not _is_confident_body(pose):
            continue
        people.append(Person(detection=box, pose=pose))
    return people


def _is_inside(pose: BodyPose, box: PersonBox) -> bool:
    x, y = pose.head_center_px().tolist()
    return bool(box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h)


def _is_same_body(a: BodyPose, b: BodyPose) -> bool:
    distance = float(np.linalg.norm(a.head_center_px() - b.head_center_px()))
    return distance < 0.5 * max(a.head_size_px(), b.head_size_px())


def _is_confident_body(pose: BodyPose) -> bool:
    # The head and both shoulders seen with confidence: a body, not a stray limb.
    upper = [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER]
    return bool(np.all(pose.visibility[upper] >= 0.5))
