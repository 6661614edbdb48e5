"""Counting people: BlazePose's person detector on the whole frame and on overlapping tiles,
and, in still images, three independent cues read by the pose landmark model.

The detector sees a 224x224 letterboxed view, so a person in a wide frame (two people side by
side, a 2.4:1 still) may shrink below what it finds; square tiles along the long side keep every
person at a useful size, and detections seen twice are merged. The detector anchors each body
on a face; people are told apart, and each given a crop of its own, by their faces. A still
image is also searched by faces and by the selfie-segmentation silhouette (`ImagePeopleFinder`),
which find the people whose face the detector misses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.graphs import (
    face_detector,
    face_mesh,
    pose_detection_graph,
    selfie_segmenter,
)
from kling_prep.vision.objects import ObjectBox, ObjectPersonDetector
from kling_prep.vision.pose import (
    LEFT_EAR,
    LEFT_EYE,
    LEFT_HIP,
    LEFT_SHOULDER,
    LEFT_WRIST,
    NOSE,
    RIGHT_EAR,
    RIGHT_EYE,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    SEEN_VISIBILITY,
    BodyPose,
    BodyRoi,
    PoseEstimator,
    PoseRoiReader,
)


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
    rotation_rad: float = 0.0  # turns the body upright (hips below the head), as BlazePose's ROI


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


Core = tuple[float, float, float, float]  # x0, y0, x1, y1 in a tile's own pixels
_Box = TypeVar("_Box", bound="PersonBox")


def _tiles(width: int, height: int) -> list[tuple[int, int, int, Core]]:
    """Square tiles (x, y, side, core) covering a frame whose aspect ratio exceeds 1.3,
    overlapping by at least a fifth of a tile, so that a person cut by one tile's inner edge
    lies in the core of the next (16:9 takes two tiles, 2.4:1 three). The cores meet in the
    middle of each overlap, so every point lies in one core."""
    side = min(width, height)
    long_side = max(width, height)
    if long_side <= 1.3 * side:
        return []
    tiles = []
    for offset, lo, hi in _axis_tiles(long_side, side):
        if width >= height:
            tiles.append((offset, 0, side, (lo, -math.inf, hi, math.inf)))
        else:
            tiles.append((0, offset, side, (-math.inf, lo, math.inf, hi)))
    return tiles


def fine_tiles(width: int, height: int) -> list[tuple[int, int, int, Core]]:
    """A grid of square tiles a third of the short side wide, overlapping by at least a fifth,
    each with its core (x0, y0, x1, y1 in the tile's pixels; the cores meet halfway through
    each overlap, so every point lies in one core). A person a tenth of the frame tall fills a
    third of such a tile, large enough for a detector that sees 224 px. Empty when the tiles
    would be under 96 px."""
    side = min(width, height) // 3
    if side < 96:
        return []
    grid = []
    for ox, xlo, xhi in _axis_tiles(width, side):
        for oy, ylo, yhi in _axis_tiles(height, side):
            grid.append((ox, oy, side, (xlo, ylo, xhi, yhi)))
    return grid


def _axis_tiles(length: int, side: int) -> list[tuple[int, float, float]]:
    """(offset, core start, core end) of tiles of `side` along one axis of `length`."""
    count = math.ceil((length - side) / (0.8 * side)) + 1 if length > side else 1
    step = (length - side) / (count - 1) if count > 1 else 0.0
    offsets = [round(i * step) for i in range(count)]
    out = []
    for i, offset in enumerate(offsets):
        lo = -math.inf if i == 0 else (offsets[i - 1] + side + offset) / 2 - offset
        hi = math.inf if i == count - 1 else (offset + side + offsets[i + 1]) / 2 - offset
        out.append((offset, lo, hi))
    return out


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
        self,
        image_rgb: NDArray[Any],
        dx: int,
        dy: int,
        core: tuple[float, float, float, float],
        *,
        hips_in_core: bool = True,
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
            # BlazePose's own ROI rule: the hips-to-rim vector turned to point straight up.
            rotation = _normalized_rad(math.pi / 2 - math.atan2(-(rim_y - hip_y), rim_x - hip_x))
            face_x = (face.xmin + face.width / 2) * width
            face_y = (face.ymin + face.height / 2) * height
            anchors = ((face_x, face_y), (hip_x, hip_y)) if hips_in_core else ((face_x, face_y),)
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
                    rotation_rad=rotation,
                )
            )
        return found

    def detect_small(self, image_rgb: NDArray[Any]) -> list[PersonBox]:
        """People a tenth of the frame tall (a crowd seen from afar), found in `fine_tiles`,
        sightings in neighbouring tiles merged; largest first."""
        height, width = image_rgb.shape[:2]
        candidates: list[_FacedBox] = []
        for x, y, side, core in fine_tiles(width, height):
            # A small person's hips often fall in the tile below its face's: the face alone
            # decides which tile's sighting is kept (the body is what the pose read checks).
            crop = image_rgb[y : y + side, x : x + side]
            candidates += self._detect_once(crop, x, y, core, hips_in_core=False)
        return _merged(candidates, width, height)

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
        for x, y, side, core in _tiles(width, height) if use_tiles else []:
            candidates += self._detect_once(image_rgb[y : y + side, x : x + side], x, y, core)
        return _merged(candidates, width, height)


def _merged(candidates: list[_FacedBox], width: int, height: int) -> list[PersonBox]:
    """One box per person (the most confident sighting of each), clipped to the frame,
    largest body first."""
    candidates = sorted(candidates, key=lambda p: p.score, reverse=True)
    kept: list[_FacedBox] = []
    for person in candidates:
        if not any(_is_same_person(person, other) for other in kept):
            kept.append(person)
    clipped: list[PersonBox] = [_clip(p, width, height) for p in kept]
    return sorted(clipped, key=lambda p: p.body_radius_px, reverse=True)


def _clip(person: _Box, width: int, height: int) -> _Box:
    x0, y0 = max(0.0, person.x), max(0.0, person.y)
    x1, y1 = min(float(width), person.x + person.w), min(float(height), person.y + person.h)
    return replace(person, x=x0, y=y0, w=max(0.0, x1 - x0), h=max(0.0, y1 - y0))


def _normalized_rad(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


@dataclass(frozen=True)
class Person:
    """A person confirmed by a pose: the landmarker read a body where a detector proposed one."""

    detection: PersonBox
    # The person's own pose, read by the landmark model; for a person seen only by its face and
    # the silhouette (`is_pose_own` false) a stand-in: the main person's, never read for it.
    pose: BodyPose
    # How large the person looks, in pixels, to compare people with: the detector's body radius
    # in a video's samples, the head's size in a still image (see `ImagePeopleFinder`).
    scale_px: float = 0.0
    cues: tuple[str, ...] = ()  # the independent cues that agree on this person (still images)
    # The person's visible height in pixels (the seen landmarks' extent, head to lowest seen
    # point), when a pose of its own was read; 0 when unknown.
    extent_px: float = 0.0
    is_pose_own: bool = True

    @property
    def size_px(self) -> float:
        """The scale people are compared by (the body radius when none was given)."""
        return self.scale_px or self.detection.body_radius_px


def relative_size(person: Person, main: Person) -> float:
    """How large `person` looks beside `main`, 0..1+: the larger of the two ratios of their
    heads and of their visible heights, where both are known.

    Heads alone undersell a photographed adult beside a drawn character (a cartoon's head is a
    third of its height, a person's an eighth), and visible heights alone undersell a person
    cut by the frame or seated; a second person large by either measure competes for the
    model's attention.
    """
    ratio = person.size_px / max(1e-6, main.size_px)
    if person.extent_px > 0 and main.extent_px > 0:
        ratio = max(ratio, person.extent_px / main.extent_px)
    return ratio


# BlazePose's hand landmarks: wrists, pinky, index and thumb knuckles (15 to 22).
_HAND_POINTS = tuple(range(LEFT_WRIST, 23))


def is_on_hand_of(person: Person, main: Person, min_visibility: float) -> bool:
    """The person's head lies within one of the main person's head sizes of the main person's
    seen hand: an open hand held up, fingers spread, that the detector took for a face and the
    landmarker drew a small body from (a talk-show host gesturing).

    A hand with its fingers reaches about one head length past the wrist, so a head within a
    head size of the hand's landmarks lies on that hand; a real person's face there would be
    hidden by the hand in front of it.
    """
    reach_px = main.pose.head_size_px()
    head = person.pose.head_center_px()
    return any(
        main.pose.is_seen(i, min_visibility=min_visibility)
        and math.dist(head.tolist(), main.pose.points_px[i].tolist()) < reach_px
        for i in _HAND_POINTS
    )


def confirm_people(
    image_rgb: NDArray[Any],
    proposals: list[PersonBox],
    estimator: PoseEstimator | Callable[[], PoseEstimator],
) -> list[Person]:
    """The people proposed in a video's sample that a pose confirms, largest first.

    1. The detector has proposed bodies (`PersonDetector.detect`, largest first).
    2. Each gets a landmarker pass on a narrow crop around its hips, so a neighbour does not
       take its place; a lone person too, because a whole-frame read can shrink a stylised
       body onto its head (a cartoon boy's torso read at half its length on
       ../shared/media/boy-walking.mp4), while the crop is the detector's body. A proposal the
       landmarker finds no body in is dropped (the detector alone sees people in rockets,
       posters, hands and hats), and any proposal but the largest must also show a head and
       both shoulders.
    3. A crop a body wide can hold a neighbour's face too, and the landmarker follows the first
       body its own detector finds there. When it reads a head nearer another proposal's face
       than this one's, the proposal is read once more in its own part of the crop: cut halfway
       to each other proposal's face. Reading nobody is not retried: it is the evidence that
       drops false proposals (a hand beside a face, with that face cut away, can pass for a
       small body).
    4. Proposals read as a body already kept are the same person: their heads coincide, or
       most of one trunk's box lies inside the other's (two reads of one close-up face, the
       second pulled down to a finger held to the lips).
    """
    if not proposals:
        return []
    # The landmarker (a graph of its own) is only built when it is needed.
    if not isinstance(estimator, PoseEstimator):
        estimator = estimator()
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
        if any(_is_same_person_read(pose, kept.pose) for kept in people):
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


def _is_same_person_read(a: BodyPose, b: BodyPose) -> bool:
    """Two reads of one body: their heads coincide, or most of one trunk's box lies inside the
    other's (a read turned upside down by a bad ROI puts the head at the feet). People side by
    side, one behind the other or carried share at most a part of their trunks' boxes."""
    if _is_same_body(a, b):
        return True
    return _trunk_overlap(a, b) > 0.6


def _trunk_overlap(a: BodyPose, b: BodyPose) -> float:
    """The intersection of the two trunks' boxes over the smaller box."""

    def box(pose: BodyPose) -> tuple[float, float, float, float]:
        pts = pose.points_px[list(_TRUNK)]
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )

    ax0, ay0, ax1, ay1 = box(a)
    bx0, by0, bx1, by1 = box(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return inter / smaller if smaller > 0 else 0.0


def _is_confident_body(pose: BodyPose) -> bool:
    # The head and both shoulders seen with confidence: a body, not a stray limb.
    upper = [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER]
    return bool(np.all(pose.visibility[upper] >= SEEN_VISIBILITY))


# --- Still images: people from three independent cues -------------------------------------

# A body is about 4 heads from the top of the head to the hips' centre and the face box of the
# full-range detector spans about two thirds of a head's height (brow to chin), so from a face
# alone the hips lie ~3.5 face heights below its centre and the body's circle has a radius of
# ~4.5 face heights: the ROI BlazePose's detector would have given that body.
_HIPS_BELOW_FACE = 3.5
_BODY_RADIUS_PER_FACE = 4.5
_ROI_PER_RADIUS = 2.5  # BlazePose's ROI: 1.25 x the body circle's diameter
_MIN_FACE_SCORE = 0.5  # the full-range detector's own default confidence
_MIN_SILHOUETTE_SHARE = 0.02  # a silhouette under 2% of the frame is left to the other cues
_MASK_PERSON = 0.5  # segmentation confidence at which a pixel is the person's
_MAX_READS = 12  # landmark reads per image: two people found already block, a crowd is a crowd
_CUES_NEEDED = 2
CROWD_MIN_PEOPLE = 3  # small figures confirmed one by one that make a crowd (see find_crowd)
_MAX_CROWD_READS = 16
# A person-shape box the silhouette covers this share of is a body there: a body fills about half
# of its own box, and the silhouette model may miss half of it (dark clothes, a drawn figure).
_MIN_SHAPE_SILHOUETTE = 0.25
# The landmarks whose place on the silhouette says the silhouette is this body's: the head and
# the trunk (limbs may stray outside a loose mask).
_TRUNK = (NOSE, LEFT_EYE, RIGHT_EYE, LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)


@dataclass(frozen=True)
class UnreadPerson:
    """A person two cues agree on, its shape (the person-shape detector's box) and its
    silhouette, whose body the landmark model does not read: a face covered, hooded or hidden
    behind a phone leaves BlazePose nothing to start from. No pose, so no face view or limbs."""

    detection: PersonBox
    mask: NDArray[Any] = field(repr=False)  # the silhouette inside its box, HxW float 0..1


@dataclass(frozen=True)
class FaceSighting:
    """A face found by the full-range face detector, in frame pixels."""

    x: float  # centre
    y: float
    size_px: float  # the larger side of its box
    score: float


class ImagePeopleFinder:
    """Every person in a still image, photographs, paintings, renders and drawings alike.

    BlazePose's person detector anchors every body on a face, so a body whose face it misses
    (seen from behind, hooded, dark, drawn, in profile, small) is not proposed at all, and it
    proposes bodies in furniture and statues. Four models that fail in different ways are
    combined instead:

    1. Cues: the person detector (whole frame and tiles), the full-range face detector (whole
       frame and tiles), the selfie-segmentation silhouette (body appearance, no face), and
       the person-shape detector (COCO's SSD, `vision/objects.py`: the whole body's shape).
    2. Every cue proposes a region (a face proposes the body below it; a shape or a
       silhouette its own box), and BlazePose's landmark model reads each region on its own:
       it returns a body only when its own presence score says one is there. Reads whose heads
       coincide are one person.
    3. A person is kept when at least two of the four cues agree on it: a detection anchored
       on its head, a face at its head, its head and trunk on the silhouette, its head in a
       person-shape box. One model alone is fooled by its own kind of picture (the detector by
       a shelf, the segmenter by a plush doll, the face detector by the back of a head, the
       shape detector by a statue); two rarely are at once.
    4. People are compared by the size of their heads, which is in view whenever a person is
       (a body may be cut by the frame, sitting or hidden behind another).
    """

    def __init__(
        self,
        detector: PersonDetector,
        face_graphs: tuple[Any, Any] | None = None,
        shapes: ObjectPersonDetector | None = None,
    ) -> None:
        """Args:
        detector: the person detector (used from this finder's thread only).
        face_graphs: a full-range face detector and a FaceMesh graph to share (the face-view
            estimator's, used in the same thread); built here, and closed here, when None.
        shapes: the person-shape detector to share (its graph read early); built here, and
            closed here, when None.
        """
        self._detector = detector
        self._owns_face_graphs = face_graphs is None
        self._faces, self._mesh = face_graphs or (face_detector(), face_mesh())
        self._owns_shapes = shapes is None
        self._shapes = shapes or ObjectPersonDetector()
        self._segmenter: Any = selfie_segmenter()
        self._reader = PoseRoiReader(with_segmentation=True)

    def close(self) -> None:
        if self._owns_shapes:
            self._shapes.close()
        if self._owns_face_graphs:
            self._faces.close()
            self._mesh.close()
        self._segmenter.close()
        self._reader.close()

    def __enter__(self) -> ImagePeopleFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find_faces(self, image_rgb: NDArray[Any]) -> list[FaceSighting]:
        """Faces on the whole frame and on the tiles of a wide frame, duplicates merged."""
        height, width = image_rgb.shape[:2]
        views = [(0, 0, width, height)]
        views += [(x, y, side, side) for x, y, side, _ in _tiles(width, height)]
        found: list[FaceSighting] = []
        for x, y, w, h in views:
            crop = np.ascontiguousarray(image_rgb[y : y + h, x : x + w])
            for detection in self._faces.process(crop).detections or []:
                score = float(detection.score[0])
                if score < _MIN_FACE_SCORE:
                    continue
                box = detection.location_data.relative_bounding_box
                face = FaceSighting(
                    x=x + (box.xmin + box.width / 2) * w,
                    y=y + (box.ymin + box.height / 2) * h,
                    size_px=max(box.width * w, box.height * h),
                    score=score,
                )
                if not any(_same_face(face, other) for other in found):
                    found.append(face)
        return sorted(found, key=lambda f: f.size_px, reverse=True)

    def _is_face(self, image_rgb: NDArray[Any], face: FaceSighting) -> bool:
        """FaceMesh, a second face model (its own short-range detector, then 468 landmarks),
        also finds a face in a crop twice the sighting's size: a ball or a logo the full-range
        detector took for a face does not pass both."""
        height, width = image_rgb.shape[:2]
        half = face.size_px
        x0, y0 = max(0, int(face.x - half)), max(0, int(face.y - half))
        x1, y1 = min(width, int(face.x + half)), min(height, int(face.y + half))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return False
        crop = image_rgb[y0:y1, x0:x1]
        if max(crop.shape[:2]) < 192:  # the mesh's detector sees 128 px: small faces upscaled
            scale = 192 / max(crop.shape[:2])
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        return bool(self._mesh.process(np.ascontiguousarray(crop)).multi_face_landmarks)

    def silhouette(self, image_rgb: NDArray[Any]) -> NDArray[Any]:
        """The selfie-segmentation mask, HxW float 0..1."""
        mask = self._segmenter.process(np.ascontiguousarray(image_rgb)).segmentation_mask
        return np.asarray(mask, dtype=np.float32)

    def find(self, image_rgb: NDArray[Any]) -> list[Person]:
        """The people in the image, largest head first, each with the cues that agree on it.

        The first person carries the landmark model's segmentation mask (for lighting). Where
        nobody is found, the image is searched once more for a crowd (`find_crowd`).
        """
        return self.find_all(image_rgb)[0]

    def find_all(self, image_rgb: NDArray[Any]) -> tuple[list[Person], list[UnreadPerson]]:
        """`find`'s people and, where it found nobody, the people seen without a pose (see
        `_unread`): the silhouette and the person-shape detector's look are made once for the
        three searches."""
        mask = self.silhouette(image_rgb)
        shapes = self._shapes.detect(image_rgb)
        people = self._find(image_rgb, mask, shapes) or self.find_crowd(image_rgb, mask, shapes)
        return people, [] if people else _unread(mask, shapes)

    def find_crowd(
        self,
        image_rgb: NDArray[Any],
        mask: NDArray[Any] | None = None,
        shapes: list[ObjectBox] | None = None,
    ) -> list[Person]:
        """People too small for the whole frame's look (a tenth of its height: a crowd seen
        from afar), each confirmed by a pose read on its own region; kept only when at least
        `CROWD_MIN_PEOPLE` are, since such small figures carry no face or silhouette to agree
        with: one or two stray detections in furniture or foliage happen, several at once are
        people. `mask` and `shapes` are the image's silhouette and person shapes when already
        made."""
        height, width = image_rgb.shape[:2]
        tile_px = min(height, width) // 3  # the side of `fine_tiles`
        regions = [(_body_roi(body), body) for body in self._detector.detect_small(image_rgb)]
        regions += [
            (_box_roi(shape.x, shape.y, shape.w, shape.h), _shape_box(shape))
            for shape in (self._shapes.detect(image_rgb) if shapes is None else shapes)
            if shape.h <= tile_px
        ]
        if len(regions) < CROWD_MIN_PEOPLE:
            return []
        if mask is None:
            mask = self.silhouette(image_rgb)
        people: list[Person] = []
        for roi, body in regions[:_MAX_CROWD_READS]:
            pose = self._reader.read(image_rgb, roi)
            if pose is None or not _is_confident_body(pose):
                continue
            # A figure a fine tile holds whole is at most a tile tall and its head at most a
            # third of that (even a drawn figure is three heads tall); a larger read is a large
            # body read from one of its parts, which the whole frame's look has judged already.
            if _visible_height_px(pose) > tile_px or apparent_head_px(pose) > tile_px / 3:
                continue
            # The silhouette model sees people large enough to matter, not a far crowd: a head
            # on the silhouette belongs to a large body the whole frame's look has judged.
            hx, hy = pose.head_center_px().tolist()
            if 0 <= hx < width and 0 <= hy < height and mask[int(hy), int(hx)] >= _MASK_PERSON:
                continue
            if any(_is_same_person_read(pose, kept.pose) for kept in people):
                continue
            people.append(
                Person(
                    detection=body, pose=pose, scale_px=apparent_head_px(pose),
                    cues=("body_detection",), extent_px=_visible_height_px(pose),
                )
            )  # fmt: skip
        if len(people) < CROWD_MIN_PEOPLE:
            return []
        return sorted(people, key=lambda p: p.size_px, reverse=True)

    def _find(
        self, image_rgb: NDArray[Any], mask: NDArray[Any], shapes: list[ObjectBox]
    ) -> list[Person]:
        height, width = image_rgb.shape[:2]
        # 1. Cues (the silhouette and the person shapes are given).
        bodies = self._detector.detect(image_rgb, use_tiles=True)
        faces = self.find_faces(image_rgb)
        # 2. Read each region (`_regions`); one person per body.
        people: list[Person] = []
        read: list[BodyPose] = []
        for roi, proposal, blob in _regions(bodies, faces, shapes, mask)[:_MAX_READS]:
            if blob is not None and any(_head_inside(pose, blob) for pose in read):
                continue
            pose = self._reader.read(image_rgb, roi)
            if pose is None or any(_is_same_person_read(pose, kept.pose) for kept in people):
                continue
            read.append(pose)
            cues = _cues(pose, bodies, faces, mask, shapes)
            if len(cues) < _CUES_NEEDED:
                continue
            box = proposal if proposal is not None else _box_from_pose(pose, width, height)
            people.append(
                Person(
                    detection=box, pose=pose, scale_px=apparent_head_px(pose), cues=cues,
                    extent_px=_visible_height_px(pose),
                )
            )  # fmt: skip
        people += self._faces_without_pose(image_rgb, mask, faces, people)
        # The character is a person whose pose was read: those come first, largest first.
        people.sort(key=lambda p: (p.is_pose_own, p.size_px), reverse=True)
        return self._without_parts(image_rgb, people)

    def _faces_without_pose(
        self,
        image_rgb: NDArray[Any],
        mask: NDArray[Any],
        faces: list[FaceSighting],
        people: list[Person],
    ) -> list[Person]:
        """A face on the silhouette whose body no read found (the landmark model reads the
        most prominent body in a region, so in a hug or a group it returns a neighbour) is a
        person too: two cues agree, though without a pose of its own. The character itself
        needs a pose, so faces only add people beside one that was read."""
        height, width = image_rgb.shape[:2]
        out: list[Person] = []
        for face in faces:
            known = [*people, *out]
            if not known or any(_is_head_of(face, person.pose) for person in known):
                continue
            row = min(height - 1, max(0, int(face.y)))
            if mask[row, min(width - 1, max(0, int(face.x)))] < _MASK_PERSON:
                continue
            if not self._is_face(image_rgb, face):
                continue
            out.append(_face_person(face, known[0].pose, width, height))
        return out

    def _without_parts(self, image_rgb: NDArray[Any], people: list[Person]) -> list[Person]:
        """The people less the reads of a larger person's own body part.

        The landmark model draws a small body from anything a region centres on, and the
        silhouette under it is the larger person's: a basketball held against the chest (the
        face detector took it for a face), a hand, a knee. Such a read has its head on the
        larger person's own body, as that person's read segments it (the landmark model's
        mask, one body, not the silhouette of everyone). A second person whose head lies
        there is in front of that body or behind it, so its face shows, unless hidden: kept
        only when FaceMesh, the second face model, finds a face at its head."""
        kept: list[Person] = []
        for person in people:
            if (
                person.is_pose_own
                and any(_is_on_body_of(person, larger) for larger in kept)
                and not self._has_face_at_head(image_rgb, person)
            ):
                continue
            kept.append(person)
        return kept

    def _has_face_at_head(self, image_rgb: NDArray[Any], person: Person) -> bool:
        x, y = person.pose.head_center_px().tolist()
        size = apparent_head_px(person.pose) / _HEAD_PER_FACE_BOX
        return self._is_face(image_rgb, FaceSighting(x=x, y=y, size_px=size, score=1.0))


def _unread(mask: NDArray[Any], shapes: list[ObjectBox]) -> list[UnreadPerson]:
    """Where `find` found nobody: the people whose shape and silhouette agree though no pose
    can be read, largest first. A box that lies mostly inside a larger one is a part of that
    body (the shape detector also boxes an upper half) and is dropped."""
    height, width = mask.shape[:2]
    found: list[UnreadPerson] = []
    for shape in shapes:
        x0, y0 = max(0, int(shape.x)), max(0, int(shape.y))
        x1, y1 = min(width, int(shape.x + shape.w)), min(height, int(shape.y + shape.h))
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        if float(np.mean(mask[y0:y1, x0:x1] >= _MASK_PERSON)) < _MIN_SHAPE_SILHOUETTE:
            continue
        box = _shape_box(shape)
        if any(_inside_share(box, kept.detection) >= 0.6 for kept in found):
            continue
        own = np.zeros_like(mask)
        own[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        found.append(UnreadPerson(detection=box, mask=own))
    return found


def relative_height(person: UnreadPerson, main: UnreadPerson) -> float:
    """How tall `person`'s shape box is beside `main`'s (no pose: no heads to compare)."""
    return person.detection.h / max(1e-6, main.detection.h)


def _is_on_body_of(person: Person, larger: Person) -> bool:
    """The person's head lies on the larger person's own body: inside the mask the landmark
    model drew for that body's read."""
    mask = larger.pose.mask
    if mask is None or not larger.is_pose_own:
        return False
    x, y = person.pose.head_center_px().tolist()
    height, width = mask.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        return False
    return bool(mask[int(y), int(x)] >= _MASK_PERSON)


_Region = tuple[BodyRoi, PersonBox | None, tuple[int, int, int, int] | None]


def _regions(
    bodies: list[PersonBox],
    faces: list[FaceSighting],
    shapes: list[ObjectBox],
    mask: NDArray[Any],
) -> list[_Region]:
    """The regions the landmark model reads, in order, each with the detection proposing it
    and the box a read's head must not already lie in (a region read only where no body read so
    far has its head).

    Bodies first (their ROI is the one BlazePose itself would read), then faces no body is
    anchored on (the body below each), then the person-shape detector's boxes and last the
    silhouette's parts: a face the landmark model found no body under, a hood or a phone held
    over the face, leave one of those.
    """
    regions: list[_Region] = [(_body_roi(b), b, None) for b in bodies]
    for face in faces:
        if any(_is_anchored_on(body, face.x, face.y) for body in bodies):
            continue
        radius = _BODY_RADIUS_PER_FACE * face.size_px
        roi = BodyRoi(face.x, face.y + _HIPS_BELOW_FACE * face.size_px, _ROI_PER_RADIUS * radius)
        regions.append((roi, None, None))
    regions += [(_box_roi(shape.x, shape.y, shape.w, shape.h), None, shape.box) for shape in shapes]
    regions += [
        (_box_roi(x, y, w, h), None, (x, y, w, h)) for x, y, w, h in _silhouette_boxes(mask)
    ]
    return regions


def _shape_box(shape: ObjectBox) -> PersonBox:
    """The shape detector's box as a person box (its body radius half the longer side)."""
    return PersonBox(
        x=shape.x, y=shape.y, w=shape.w, h=shape.h, score=shape.score,
        hip_x=shape.x + shape.w / 2, hip_y=shape.y + shape.h / 2,
        body_radius_px=max(shape.w, shape.h) / 2,
    )  # fmt: skip


def _inside_share(box: PersonBox, other: PersonBox) -> float:
    """The share of `box`'s area inside `other`."""
    w = min(box.x + box.w, other.x + other.w) - max(box.x, other.x)
    h = min(box.y + box.h, other.y + other.h) - max(box.y, other.y)
    return max(0.0, w) * max(0.0, h) / max(1e-6, box.w * box.h)


def _box_roi(x: float, y: float, w: float, h: float) -> BodyRoi:
    """The landmark model's region for a body known only by its box (a person shape, a part of
    the silhouette): the box's centre (about the hips of a standing body), a side 1.25 times its
    longer one, as BlazePose pads its own."""
    return BodyRoi(x + w / 2, y + h / 2, 1.25 * max(w, h))


def _body_roi(body: PersonBox) -> BodyRoi:
    """The ROI BlazePose itself reads for a detected body: around the hips, upright."""
    rotation = body.rotation_rad if isinstance(body, _FacedBox) else 0.0
    return BodyRoi(body.hip_x, body.hip_y, _ROI_PER_RADIUS * body.body_radius_px, rotation)


def apparent_head_px(pose: BodyPose) -> float:
    """How large a head looks in the picture, in pixels, whichever way it is turned.

    The ear-to-ear span shrinks to nothing in profile and the shoulders' width when the body
    turns side-on, so the largest of several measures that each hold in some view is taken: the
    ears' span, twice the nose-to-far-ear distance (a profile), 0.45 x the shoulders' width
    (a head is about that share of a shoulder span) and 0.45 x the torso's length when the hips
    are seen (shoulders to hips is about 2.2 head heights).
    """
    points = pose.points_px
    ears = float(np.linalg.norm(points[LEFT_EAR] - points[RIGHT_EAR]))
    nose_to_ear = max(
        float(np.linalg.norm(points[NOSE] - points[LEFT_EAR])),
        float(np.linalg.norm(points[NOSE] - points[RIGHT_EAR])),
    )
    measures = [ears, 2 * nose_to_ear, 0.45 * pose.shoulder_width_px()]
    if (
        pose.visibility[LEFT_HIP] >= SEEN_VISIBILITY
        and pose.visibility[RIGHT_HIP] >= SEEN_VISIBILITY
    ):
        shoulders = (points[LEFT_SHOULDER] + points[RIGHT_SHOULDER]) / 2
        hips = (points[LEFT_HIP] + points[RIGHT_HIP]) / 2
        measures.append(0.45 * float(np.linalg.norm(shoulders - hips)))
    return max(*measures, 8.0)


def _visible_height_px(pose: BodyPose) -> float:
    """From the top of the head (half a head above the eyes' line) to the lowest landmark seen
    inside the frame."""
    seen = [
        i
        for i in range(len(pose.points_px))
        if pose.visibility[i] >= SEEN_VISIBILITY and pose.is_in_frame(i)
    ]
    if not seen:
        return 0.0
    top = float(pose.head_center_px()[1]) - 0.5 * apparent_head_px(pose)
    bottom = float(pose.points_px[seen, 1].max())
    return max(0.0, min(bottom, pose.frame_height) - max(0.0, top))


def _head_inside(pose: BodyPose, box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    hx, hy = pose.head_center_px().tolist()
    return bool(x <= hx < x + w and y <= hy < y + h)


# The full-range detector's face box spans the face, eyes to mouth with a margin: about four
# fifths of the head's width, the scale `apparent_head_px` gives a body's head.
_HEAD_PER_FACE_BOX = 1.25


def _is_head_of(face: FaceSighting, pose: BodyPose) -> bool:
    """The pose's head lies on the face: within about half a head of its centre (a read that
    merged two people puts its head between their faces)."""
    reach = 0.6 * max(apparent_head_px(pose), face.size_px)
    return math.dist((face.x, face.y), pose.head_center_px().tolist()) <= reach


def _face_person(face: FaceSighting, pose: BodyPose, width: int, height: int) -> Person:
    """A person seen by its face and the silhouette only; `pose` is a stand-in (the main
    person's), never read for this person's body."""
    size = _HEAD_PER_FACE_BOX * face.size_px
    radius = _BODY_RADIUS_PER_FACE * face.size_px
    hip_y = face.y + _HIPS_BELOW_FACE * face.size_px
    # The box shows what was seen, the head and the shoulders below it (the body is unknown).
    x0, x1 = max(0.0, face.x - 1.5 * face.size_px), min(float(width), face.x + 1.5 * face.size_px)
    y0, y1 = max(0.0, face.y - face.size_px), min(float(height), face.y + 2.5 * face.size_px)
    box = PersonBox(
        x=x0, y=y0, w=max(0.0, x1 - x0), h=max(0.0, y1 - y0), score=face.score,
        hip_x=face.x, hip_y=hip_y, body_radius_px=radius,
    )  # fmt: skip
    return Person(
        detection=box, pose=pose, scale_px=size, cues=("face", "silhouette"), is_pose_own=False
    )


def _same_face(a: FaceSighting, b: FaceSighting) -> bool:
    return math.dist((a.x, a.y), (b.x, b.y)) < 0.5 * max(a.size_px, b.size_px)


def _is_anchored_on(body: PersonBox, x: float, y: float) -> bool:
    """The detector anchored this body on a face at (x, y): within its fixed-size face box."""
    if not isinstance(body, _FacedBox):
        return False
    return abs(x - body.face_x) <= body.face_w / 2 and abs(y - body.face_y) <= body.face_h / 2


def _silhouette_boxes(mask: NDArray[Any]) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of the silhouette's parts that cover at least 2% of the frame."""
    binary = (mask >= _MASK_PERSON).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary)
    floor = _MIN_SILHOUETTE_SHARE * mask.shape[0] * mask.shape[1]
    boxes = [
        (int(stats[i][0]), int(stats[i][1]), int(stats[i][2]), int(stats[i][3]))
        for i in range(1, count)
        if stats[i][4] >= floor
    ]
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


def _cues(
    pose: BodyPose,
    bodies: list[PersonBox],
    faces: list[FaceSighting],
    mask: NDArray[Any],
    shapes: list[ObjectBox],
) -> tuple[str, ...]:
    """Which independent cues agree that this pose is a person."""
    head = pose.head_center_px().tolist()
    reach = apparent_head_px(pose)
    cues = []
    # The detector's face box has a fixed size (a fifth of its input), far larger than a small
    # head: the head lies inside it, give or take a head.
    if any(
        isinstance(b, _FacedBox)
        and abs(head[0] - b.face_x) <= b.face_w / 2 + reach
        and abs(head[1] - b.face_y) <= b.face_h / 2 + reach
        for b in bodies
    ):
        cues.append("body_detection")
    if any(math.dist(head, (f.x, f.y)) <= max(reach, f.size_px) for f in faces):
        cues.append("face")
    height, width = mask.shape[:2]
    on = []
    for i in _TRUNK:
        x, y = pose.points_px[i]
        if pose.visibility[i] >= SEEN_VISIBILITY and 0 <= x < width and 0 <= y < height:
            on.append(mask[int(y), int(x)] >= _MASK_PERSON)
    if on and sum(on) / len(on) >= 0.5:
        cues.append("silhouette")
    # The SSD's box holds the whole person, head included, give or take a head.
    if any(shape.contains(head[0], head[1], reach) for shape in shapes):
        cues.append("person_shape")
    return tuple(cues)


def _box_from_pose(pose: BodyPose, width: int, height: int) -> PersonBox:
    """A detector-like box for a person no detection proposed: around its hips, a radius
    reaching its farthest landmark."""
    hips = (pose.points_px[LEFT_HIP] + pose.points_px[RIGHT_HIP]) / 2
    radius = float(np.max(np.linalg.norm(pose.points_px - hips, axis=1)))
    box = PersonBox(
        x=float(hips[0]) - radius, y=float(hips[1]) - radius, w=2 * radius, h=2 * radius,
        score=float(np.mean(pose.visibility[list(_TRUNK)])), hip_x=float(hips[0]),
        hip_y=float(hips[1]), body_radius_px=radius,
    )  # fmt: skip
    return _clip(box, width, height)
