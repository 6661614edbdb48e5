"""Counting people: BlazePose's person detector on the whole frame and on overlapping tiles.

The detector sees a 224x224 letterboxed view, so a person in a wide frame (two people side by
side, a 2.4:1 still) may shrink below what it finds; square tiles along the long side keep every
person at a useful size, and detections seen twice are merged. The detector anchors each body
on a face; people are told apart, and each given a crop of its own, by their faces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
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


# The detector's own non-max suppression merges two of its detections whose face boxes overlap
# by more than this IoU (`PoseDetectionCpu` in the mediapipe wheel: `min_suppression_threshold`).
_DETECTOR_NMS_IOU = 0.3


@dataclass(frozen=True)
class _FacedBox(PersonBox):
    """A detected person with the face box the detector anchored it on (frame pixels).

    BlazePose's detector finds faces and regresses the body from them (the hips, the body's
    circle), so the face is what it places best. Its face box has a fixed size, a fifth of the
    pass's letterboxed input: the centre says where the face is, the size only which pass.
    """

    face_x: float  # face box centre
    face_y: float
    face_w: float
    face_h: float


def _is_same_person(a: _FacedBox, b: _FacedBox) -> bool:
    """Two sightings of one person, from two passes: their faces overlap as much as the
    detector's own duplicates do within a pass.

    Sightings of one person from the whole frame and from a tile agree on the face within a few
    pixels. Hips would not do: they are extrapolated (below the frame for a person cut at the
    waist) and lean with the body, and a body radius is several head widths, so neighbours
    standing shoulder to shoulder can have hips closer than half a radius. Both face boxes take
    the finer pass's size, so people that pass tells apart stay apart.
    """
    w, h = min(a.face_w, b.face_w), min(a.face_h, b.face_h)
    overlap_x = max(0.0, w - abs(a.face_x - b.face_x))
    overlap_y = max(0.0, h - abs(a.face_y - b.face_y))
    inter = overlap_x * overlap_y
    union = 2 * w * h - inter
    return union > 0 and inter / union > _DETECTOR_NMS_IOU


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
    ) -> list[_FacedBox]:
        """Detections whose face centre and hip centre both lie in `core` (x0, y0, x1, y1 in
        the tile's pixels).

        A tile cuts through people at its inner edges, and the detector then guesses from a part
        of one; with overlapping tiles every point lies in the core of one tile (the cores meet
        halfway through each overlap), so only core detections are kept. A detection rests on
        two points: the face it anchors on and the hips it regresses from it. With the face in
        the core its box lies wholly inside the tile (tiles overlap by at least a fifth of a
        side, and the box is a fifth of the detector's input), so no waistband or hand cut by
        the edge is taken for a face; with the hips there too, the body is not guessed across
        the cut. A person whose face and hips fall in two tiles' cores is left to the whole
        frame.
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
            face = detection.location_data.relative_bounding_box
            face_x = (face.xmin + face.width / 2) * width
            face_y = (face.ymin + face.height / 2) * height
            anchors = ((face_x, face_y), (hip_x, hip_y))
            if not all(core[0] <= x < core[2] and core[1] <= y < core[3] for x, y in anchors):
                continue
            found.append(
                _FacedBox(
                    x=hip_x - radius + dx,
                    y=hip_y - radius + dy,
                    w=2 * radius,
                    h=2 * radius,
                    score=score,
                    hip_x=hip_x + dx,
                    hip_y=hip_y + dy,
                    body_radius_px=radius,
                    face_x=face_x + dx,
                    face_y=face_y + dy,
                    face_w=face.width * width,
                    face_h=face.height * height,
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
        kept: list[_FacedBox] = []
        for person in candidates:
            if not any(_is_same_person(person, other) for other in kept):
                kept.append(person)
        clipped: list[PersonBox] = [_clip(p, width, height) for p in kept]
        return sorted(clipped, key=lambda p: p.body_radius_px, reverse=True)


def _clip(person: _FacedBox, width: int, height: int) -> _FacedBox:
    x0, y0 = max(0.0, person.x), max(0.0, person.y)
    x1, y1 = min(float(width), person.x + person.w), min(float(height), person.y + person.h)
    return replace(person, x=x0, y=y0, w=max(0.0, x1 - x0), h=max(0.0, y1 - y0))


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
    use_tiles: bool = True,
) -> list[Person]:
    """The people in a still image, largest first, each confirmed by its own pose: the
    detector's proposals (whole frame and tiles) passed to `confirm_people`."""
    proposals = detector.detect(image_rgb, use_tiles=use_tiles)
    return confirm_people(image_rgb, proposals, estimator)


def confirm_people(
    image_rgb: NDArray[Any],
    proposals: list[PersonBox],
    estimator: PoseEstimator | Callable[[], PoseEstimator],
    *,
    read_one_on_crop: bool = False,
) -> list[Person]:
    """The proposed people that a pose confirms, largest first.

    1. The detector has proposed bodies (`PersonDetector.detect`, largest first).
    2. One proposal in a still image: the landmarker reads the whole frame (its best view of a
       single person). Several, or one with `read_one_on_crop` (a video's samples): each gets
       a landmarker pass on a narrow crop around its hips, so a neighbour does not take its
       place. A video's lone person is read on its crop because the whole-frame read can shrink
       a stylised body onto its head (a cartoon boy's torso read at half its length on
       ../shared/media/boy-walking.mp4), and nothing checks the whole-frame pose against the
       detector's body, while the crop is that body. A proposal the landmarker finds no body in is dropped (the
       detector alone sees people in rockets, posters, hands and hats), and any proposal but
       the largest must also show a head and both shoulders.
    3. A crop a body wide can hold a neighbour's face too, and the landmarker follows the first
       body its own detector finds there. When it reads a head nearer another proposal's face
       than this one's, the proposal is read once more in its own part of the crop: cut halfway
       to each other proposal's face. Reading nobody is not retried: it is the evidence that
       drops false proposals (a hand beside a face, with that face cut away, can pass for a
       small body).
    4. Proposals whose heads land on a person already kept are the same person.
    """
    if not proposals:
        return []
    # The landmarker (a graph of its own) is only built when it is needed.
    if not isinstance(estimator, PoseEstimator):
        estimator = estimator()
    if len(proposals) == 1 and not read_one_on_crop:
        pose = estimator.estimate(image_rgb)
        return [] if pose is None else [Person(detection=proposals[0], pose=pose)]
    people: list[Person] = []
    for rank, box in enumerate(proposals):
        r = box.body_radius_px
        region = (box.hip_x - 0.75 * r, box.hip_y - 1.25 * r, box.hip_x + 0.75 * r, box.hip_y + r)
        pose = estimator.estimate(image_rgb, region)
        if pose is not None and not _is_own_pose(pose, box, proposals):
            own = _own_region(region, box, proposals)
            if own != region:
                pose = estimator.estimate(image_rgb, own)
        if pose is None:
            continue
        if any(_is_same_body(pose, kept.pose) for kept in people):
            continue
        if rank > 0 and not _is_confident_body(pose):
            continue
        people.append(Person(detection=box, pose=pose))
    return people


def _is_own_pose(pose: BodyPose, box: PersonBox, boxes: list[PersonBox]) -> bool:
    """The pose's head is nearer this proposal's face than any other proposal's (true when
    faces are unknown: boxes not made by `PersonDetector.detect`)."""
    if not isinstance(box, _FacedBox):
        return True
    head = pose.head_center_px()
    own = math.dist(head.tolist(), (box.face_x, box.face_y))
    others = [b for b in boxes if isinstance(b, _FacedBox) and b is not box]
    return all(own <= math.dist(head.tolist(), (b.face_x, b.face_y)) for b in others)


def _own_region(
    region: tuple[float, float, float, float], box: PersonBox, boxes: list[PersonBox]
) -> tuple[float, float, float, float]:
    """The crop cut halfway between this proposal's face and every other proposal's, across the
    axis they are furthest apart on (people side by side: a vertical cut), so the only face left
    whole for the landmarker's detector is this one. A neighbour's face at the crop's edge is
    cut off too; a cut beyond the crop changes nothing."""
    if not isinstance(box, _FacedBox):
        return region
    x0, y0, x1, y1 = region
    for other in boxes:
        if not isinstance(other, _FacedBox) or other is box:
            continue
        dx, dy = other.face_x - box.face_x, other.face_y - box.face_y
        if abs(dx) >= abs(dy):
            mid = box.face_x + dx / 2
            x0, x1 = (x0, min(x1, mid)) if dx > 0 else (max(x0, mid), x1)
        else:
            mid = box.face_y + dy / 2
            y0, y1 = (y0, min(y1, mid)) if dy > 0 else (max(y0, mid), y1)
    return (x0, y0, x1, y1)


def _is_same_body(a: BodyPose, b: BodyPose) -> bool:
    distance = float(np.linalg.norm(a.head_center_px() - b.head_center_px()))
    return distance < 0.5 * max(a.head_size_px(), b.head_size_px())


def _is_confident_body(pose: BodyPose) -> bool:
    # The head and both shoulders seen with confidence: a body, not a stray limb.
    upper = [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER]
    return bool(np.all(pose.visibility[upper] >= 0.5))
