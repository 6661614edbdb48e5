"""Face view of the character: yaw and pitch in degrees, classed frontal, three-quarter, profile
or no face.

The legacy FaceMesh misses stylised faces when it looks at a whole frame, so it gets a crop
around the head that the pose (or full-range face detection) found. When the mesh still finds
nothing, cheaper evidence is used and named as the source: face-detection keypoints, then the
body pose's head landmarks. A head turned past `away_min_deg` shows its back, not a face: no face;
so does a profile read from the pose alone where no skin shows at the face's landmarks (hair, a
hood or a hand where the face should be).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.vision.graphs import face_detector, face_mesh
from kling_prep.vision.pose import LEFT_EAR, NOSE, RIGHT_EAR, SEEN_VISIBILITY, BodyPose

FaceViewClass = Literal["frontal", "three_quarter", "profile", "no_face"]
FaceSource = Literal["face_mesh", "face_detection", "pose", "none"]

# FaceMesh indices: outer eye corners (subject's right, left), forehead top, chin.
_MESH_RIGHT_EYE, _MESH_LEFT_EYE, _MESH_FOREHEAD, _MESH_CHIN = 33, 263, 10, 152
# Head geometry for keypoint yaw: the nose tip stands about 1.45 half-ear-spans in front of the
# line between the ears (bitragion breadth ~145 mm, tragion to nose tip ~105 mm).
_NOSE_DEPTH_PER_HALF_EAR_SPAN = 1.45
_MESH_MIN_SIDE_PX = 256
# The default of `Thresholds.face_away_min_yaw_deg` (vision does not import the checks): past
# 110 deg the nose tip and the near eye sit behind the cheek's outline, so the camera sees an
# ear and the back of the head; a profile is 90 deg give or take 20.
AWAY_MIN_YAW_DEG = 110.0
# The default of `Thresholds.face_min_skin_share`: in a profile about half the disks around the
# pose's face landmarks fall on the near cheek, nose and lips (the far eye and mouth corner sit on
# the outline); under a quarter, hair or a cover lies where the face should be.
MIN_FACE_SKIN_SHARE = 0.25
# Skin is told by its chroma (YCrCb, Cr 133-173 and Cb 77-127: the skin cluster of Chai and Ngan,
# 1999, which holds from pale to dark skin because it leaves luma out).
_SKIN_CR, _SKIN_CB = (133, 173), (77, 127)
# A head whose chroma stays within this many 8-bit units of neutral (128) has no colour to read
# skin from (a black-and-white photo, a pencil drawing): compression noise is about this size.
_NEUTRAL_CHROMA = 4.0
# Skin is judged on heads at least this wide: JPEG and 4:2:0 video keep one colour sample per 2x2
# pixels, so a smaller head has under 16 across, and the disks a handful: hair or skin by chance.
_MIN_SKIN_HEAD_PX = 32.0
# BlazePose's face landmarks: the nose, each eye (inner corner, centre, outer corner), the mouth.
_FACE_LANDMARKS = (0, 1, 2, 3, 4, 5, 6, 9, 10)


@dataclass(frozen=True)
class FaceView:
    """Where the face points, measured on one frame."""

    view: FaceViewClass
    yaw_deg: float | None  # 0 facing the camera; positive = nose toward the image's right
    pitch_deg: float | None  # positive = looking up
    source: FaceSource
    box_px: tuple[int, int, int, int] | None  # x, y, w, h of the head crop that was read
    mesh_px: NDArray[Any] | None = None  # (468, 2) FaceMesh points in frame pixels, for drawing


def classify_yaw(
    yaw_deg: float,
    *,
    frontal_max_deg: float,
    three_quarter_max_deg: float,
    away_min_deg: float = AWAY_MIN_YAW_DEG,
) -> FaceViewClass:
    """The named view nearest the measured yaw (|yaw| against the boundaries); a head turned
    past `away_min_deg` faces away from the camera and shows no face."""
    magnitude = abs(yaw_deg)
    if magnitude <= frontal_max_deg:
        return "frontal"
    if magnitude <= three_quarter_max_deg:
        return "three_quarter"
    if magnitude <= away_min_deg:
        return "profile"
    return "no_face"


def angles_from_mesh(points_xyz: NDArray[Any]) -> tuple[float, float]:
    """Yaw and pitch in degrees from FaceMesh landmarks (x, y, z in one pixel scale, z away).

    The face's normal is the cross product of its left-right axis (outer eye corners) and its
    up-down axis (forehead to chin).
    """
    across = points_xyz[_MESH_LEFT_EYE] - points_xyz[_MESH_RIGHT_EYE]
    down = points_xyz[_MESH_CHIN] - points_xyz[_MESH_FOREHEAD]
    normal = np.cross(across, down)
    norm = float(np.linalg.norm(normal))
    if norm == 0:
        return 0.0, 0.0
    nx, ny, nz = (normal / norm).tolist()
    yaw = math.degrees(math.atan2(-nx, nz))
    pitch = math.degrees(math.atan2(ny, math.hypot(nx, nz)))
    return yaw, pitch


def yaw_from_keypoints(nose_x: float, left_ear_x: float, right_ear_x: float) -> float | None:
    """Yaw from the nose's offset against the ears' midpoint (a rigid head model), degrees."""
    half_span = abs(left_ear_x - right_ear_x) / 2
    if half_span < 1e-6:
        return None
    offset = nose_x - (left_ear_x + right_ear_x) / 2
    return math.degrees(math.atan2(offset, _NOSE_DEPTH_PER_HALF_EAR_SPAN * half_span))


def yaw_from_pose(pose: BodyPose) -> float:
    """Yaw of the head from the pose's 3D ear axis (metres), degrees, -180..180: near 0 facing
    the camera, near 180 seen from behind."""
    axis = pose.world_m[LEFT_EAR] - pose.world_m[RIGHT_EAR]
    # Facing the camera, the subject's left ear is on the image's right: axis ~ +x; from
    # behind it is on the image's left: axis ~ -x, a yaw near 180 whatever the depth's sign.
    return math.degrees(math.atan2(float(axis[2]), float(axis[0])))


def face_scale_px(pose: BodyPose) -> float:
    """About the head's width in pixels, in any view: the pose's head size, or the nose-to-ear
    distance over 0.72 (tragion to nose tip ~105 mm of a ~145 mm breadth), which a profile keeps
    while its ears and eyes fall on one another."""
    nose_to_ear_px = max(
        float(np.linalg.norm(pose.points_px[NOSE] - pose.points_px[ear]))
        for ear in (LEFT_EAR, RIGHT_EAR)
    )
    return max(pose.head_size_px(), nose_to_ear_px / 0.72)


def skin_share_at_face(image_rgb: NDArray[Any], pose: BodyPose) -> float | None:
    """The share of skin-coloured pixels in disks around the pose's face landmarks (a radius of
    a fifth of the head's width), or None when the head is too small or shows no colour to judge
    skin by."""
    scale_px = face_scale_px(pose)
    if scale_px < _MIN_SKIN_HEAD_PX:
        return None
    radius_px = round(0.2 * scale_px)
    disks = np.zeros(image_rgb.shape[:2], np.uint8)
    for index in _FACE_LANDMARKS:
        x, y = pose.points_px[index]
        cv2.circle(disks, (round(float(x)), round(float(y))), radius_px, (1,), -1)
    inside = disks > 0
    if not inside.any():
        return None
    ycc = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2YCrCb)
    cr = ycc[..., 1][inside].astype(np.float32)
    cb = ycc[..., 2][inside].astype(np.float32)
    if float(np.median(np.abs(cr - 128) + np.abs(cb - 128))) < _NEUTRAL_CHROMA:
        return None
    is_skin = (cr >= _SKIN_CR[0]) & (cr <= _SKIN_CR[1]) & (cb >= _SKIN_CB[0]) & (cb <= _SKIN_CB[1])
    return float(is_skin.mean())


class FaceViewEstimator:
    """Reads the face view of the person a pose (or a face detection) points at."""

    def __init__(
        self,
        *,
        frontal_max_deg: float = 22.5,
        three_quarter_max_deg: float = 67.5,
        away_min_deg: float = AWAY_MIN_YAW_DEG,
        min_skin_share: float = MIN_FACE_SKIN_SHARE,
    ):
        self._mesh: Any = face_mesh()
        self._detector: Any = face_detector()
        self._frontal_max_deg = frontal_max_deg
        self._three_quarter_max_deg = three_quarter_max_deg
        self._away_min_deg = away_min_deg
        self._min_skin_share = min_skin_share

    @property
    def face_graphs(self) -> tuple[Any, Any]:
        """Its full-range face detector and FaceMesh graphs, for others in the same thread."""
        return self._detector, self._mesh

    def close(self) -> None:
        self._mesh.close()
        self._detector.close()

    def __enter__(self) -> FaceViewEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _classify(self, yaw: float) -> FaceViewClass:
        return classify_yaw(
            yaw,
            frontal_max_deg=self._frontal_max_deg,
            three_quarter_max_deg=self._three_quarter_max_deg,
            away_min_deg=self._away_min_deg,
        )

    def _head_box(
        self, image_rgb: NDArray[Any], pose: BodyPose | None
    ) -> tuple[int, int, int, int] | None:
        height, width = image_rgb.shape[:2]
        if pose is not None:
            cx, cy = pose.head_center_px().tolist()
            side = 2.6 * pose.head_size_px()
        else:
            found = self._detector.process(np.ascontiguousarray(image_rgb)).detections or []
            if not found:
                return None
            best = max(found, key=lambda d: d.score[0])
            rel = best.location_data.relative_bounding_box
            cx = (rel.xmin + rel.width / 2) * width
            cy = (rel.ymin + rel.height / 2) * height
            side = 2.0 * max(rel.width * width, rel.height * height)
        x0 = int(max(0, cx - side / 2))
        y0 = int(max(0, cy - side / 2))
        x1 = int(min(width, cx + side / 2))
        y1 = int(min(height, cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        return (x0, y0, x1 - x0, y1 - y0)

    def estimate(self, image_rgb: NDArray[Any], pose: BodyPose | None = None) -> FaceView:
        """The face view of the person whose pose is given (else of the most confident face).

        Args:
            image_rgb: HxWx3 uint8 RGB frame.
            pose: the person's body pose in the same frame, when known.
        """
        box = self._head_box(image_rgb, pose)
        if box is not None:
            x, y, w, h = box
            crop = image_rgb[y : y + h, x : x + w]
            scale = max(1.0, _MESH_MIN_SIDE_PX / max(w, h))
            if scale > 1.0:
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            crop = np.ascontiguousarray(crop)
            # 1. The mesh: 468 points in 3D, the most precise angles.
            meshes = self._mesh.process(crop).multi_face_landmarks
            if meshes:
                ch, cw = crop.shape[:2]
                marks = meshes[0].landmark
                xyz = np.array([[m.x * cw, m.y * ch, m.z * cw] for m in marks], dtype=np.float64)
                yaw, pitch = angles_from_mesh(xyz)
                mesh_px = np.stack([xyz[:, 0] / scale + x, xyz[:, 1] / scale + y], axis=1)
                return FaceView(self._classify(yaw), yaw, pitch, "face_mesh", box, mesh_px)
            # 2. Face detection keypoints: eyes, nose, mouth and ears.
            found = self._detector.process(crop).detections or []
            if found:
                points = max(found, key=lambda d: d.score[0]).location_data.relative_keypoints
                kp_yaw = yaw_from_keypoints(points[2].x, points[5].x, points[4].x)
                # The detector alone (the mesh found no face) also fires on the back of a
                # head, hair where the face would be: it must show skin there too.
                skin = None if pose is None else skin_share_at_face(image_rgb, pose)
                if kp_yaw is not None and (skin is None or skin >= self._min_skin_share):
                    return FaceView(self._classify(kp_yaw), kp_yaw, None, "face_detection", box)
        # 3. The pose alone. Neither face model saw a face, which a profile explains (both are
        #    trained on faces showing two eyes) and so does a head turned away or a face hidden:
        #    a head turned past three-quarter reads as profile if skin shows where its face
        #    should be, past `away_min_deg` as its back (no face). A head that faces the camera
        #    but shows no face is hidden.
        if pose is not None and pose.visibility[NOSE] >= SEEN_VISIBILITY:
            pose_yaw = yaw_from_pose(pose)
            view = self._classify(pose_yaw)
            if view == "profile":
                skin = skin_share_at_face(image_rgb, pose)
                if skin is not None and skin < self._min_skin_share:
                    view = "no_face"
            if view in ("profile", "no_face"):
                return FaceView(view, pose_yaw, None, "pose", box)
        return FaceView("no_face", None, None, "none" if pose is None else "pose", box)
