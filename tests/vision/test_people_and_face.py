"""People counting and face view on pictures with known answers."""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from kling_prep.media.synthetic import stand_on_floor, studio
from kling_prep.vision.face import angles_from_mesh, classify_yaw, yaw_from_keypoints
from kling_prep.vision.people import _FacedBox, _is_on_body_of, _is_same_person


def _count(kit, rgb: np.ndarray) -> int:
    return len(kit.people_finder.find(np.ascontiguousarray(rgb)))


def test_one_person_is_counted_once(kit, astronaut):
    assert _count(kit, astronaut) == 1


@pytest.mark.parametrize("copies", [2, 3])
def test_people_side_by_side_are_each_counted(kit, astronaut, copies):
    row = np.concatenate(
        [astronaut if i % 2 == 0 else astronaut[:, ::-1] for i in range(copies)], axis=1
    )
    assert _count(kit, row) == copies


def _on_a_wall(
    person: np.ndarray, mask: np.ndarray, size: tuple[int, int], actors: list[tuple[float, float]]
) -> np.ndarray:
    """The cut-out astronaut standing on the bottom edge of a plain wall, once per actor (centre
    x as a share of the width, height as a share of the frame's), every other one mirrored."""
    width, height = size
    frame = studio(width, height, (200, 196, 188)).astype(np.float32)
    mask = np.clip(mask, 0, 1).astype(np.float32)
    for i, (centre, share) in enumerate(actors):
        src, alpha = (person[:, ::-1], mask[:, ::-1]) if i % 2 else (person, mask)
        frame = stand_on_floor(frame, src, alpha, centre_x=centre * width, height_share=share)
    return np.clip(frame, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("aspect", "centres"),
    [
        (2.0, [0.18, 0.5, 0.82]),  # the benchmark's three-studio.jpg, at half its size
        (3.0, [0.25, 0.5, 0.75]),  # a group shoulder to shoulder in a wide shot
        (3.0, [1 / 6, 1 / 2, 5 / 6]),
        (3.0, [0.2, 0.4, 0.6, 0.8]),
        (3.0, [1 / 8, 3 / 8, 5 / 8, 7 / 8]),
    ],
    ids=["three-2:1", "three-3:1-group", "three-3:1-spread", "four-3:1-group", "four-3:1-spread"],
)
def test_same_size_people_side_by_side_on_a_wide_wall_are_each_counted(
    kit, astronaut, astronaut_mask, aspect, centres
):
    height = 450
    size = (round(aspect * height), height)
    wall = _on_a_wall(astronaut, astronaut_mask, size, [(x, 0.9) for x in centres])
    assert _count(kit, wall) == len(centres)


@pytest.mark.parametrize(
    ("size", "actors", "expected"),
    [
        ((360, 450), [(0.5, 0.9)], 1),
        ((800, 450), [(0.27, 0.9), (0.73, 0.9)], 2),
        ((675, 450), [(0.3, 0.9), (0.78, 0.33)], 2),  # the second at 37% of the first's height
    ],
    ids=["one", "two", "one-and-a-smaller-one"],
)
def test_people_on_a_wall_are_counted(kit, astronaut, astronaut_mask, size, actors, expected):
    assert _count(kit, _on_a_wall(astronaut, astronaut_mask, size, actors)) == expected


def test_a_person_in_front_of_another_with_a_face_is_counted(kit, astronaut, astronaut_mask):
    # The smaller astronaut stands in front of the larger one's chest: its head lies on the
    # larger one's own body, where a read of that body's part (a hand, a ball) would lie too;
    # its face is what tells it apart.
    picture = _on_a_wall(astronaut, astronaut_mask, (675, 450), [(0.5, 0.95), (0.4, 0.55)])
    people = kit.people_finder.find(picture)
    assert len(people) == 2
    assert _is_on_body_of(people[1], people[0])


def _sighting(hip_x: float, radius: float, face_x: float, face_box: float) -> _FacedBox:
    return _FacedBox(
        x=hip_x - radius, y=900 - radius, w=2 * radius, h=2 * radius, score=0.8, hip_x=hip_x,
        hip_y=900, body_radius_px=radius, face_x=face_x, face_y=370, face_w=face_box,
        face_h=face_box,
    )  # fmt: skip


def test_neighbours_are_told_apart_by_their_faces_not_their_hips():
    # Detections read off the 1800x900 three-studio image: the middle person seen in the whole
    # frame (face boxes 360 px) and the right-hand one in a tile (180 px). Their hips are 250 px
    # apart, under half a body radius; their faces 430 px.
    middle_whole = _sighting(hip_x=1020, radius=623, face_x=970, face_box=360)
    right_tile = _sighting(hip_x=1270, radius=747, face_x=1401, face_box=180)
    right_whole = _sighting(hip_x=1252, radius=725, face_x=1410, face_box=360)
    assert not _is_same_person(middle_whole, right_tile)
    assert _is_same_person(right_whole, right_tile)


def test_an_empty_wall_has_nobody(kit):
    wall = np.full((480, 640, 3), 180, np.uint8)
    wall[:, :, 2] = 150
    assert _count(kit, wall) == 0


def test_a_small_person_still_counts(kit, astronaut):
    small = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)
    assert _count(kit, small) == 1


def _rotated_face(yaw_deg: float, pitch_deg: float = 0.0) -> np.ndarray:
    """Four FaceMesh landmarks of a face turned by known angles (x right, y down, z away)."""
    points = np.zeros((468, 3))
    points[33] = (-40, 0, 0)  # subject's right eye, outer corner
    points[263] = (40, 0, 0)
    points[10] = (0, -80, 10)  # forehead top
    points[152] = (0, 90, 10)  # chin
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    # Turning the nose toward the image's right rotates the face about the vertical axis.
    ry = np.array(
        [[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]]
    )
    rx = np.array(
        [[1, 0, 0], [0, math.cos(pitch), math.sin(pitch)], [0, -math.sin(pitch), math.cos(pitch)]]
    )
    return points @ (ry @ rx).T


@pytest.mark.parametrize("yaw", [-75.0, -40.0, 0.0, 15.0, 50.0, 80.0])
def test_yaw_is_read_back_from_a_turned_mesh(yaw):
    measured, _ = angles_from_mesh(_rotated_face(-yaw))
    assert measured == pytest.approx(yaw, abs=8.0)


def test_views_are_named_by_the_nearest_canonical_angle():
    bounds = {"frontal_max_deg": 22.5, "three_quarter_max_deg": 67.5}
    assert classify_yaw(10, **bounds) == "frontal"
    assert classify_yaw(-45, **bounds) == "three_quarter"
    assert classify_yaw(80, **bounds) == "profile"


def test_keypoint_yaw_is_zero_when_the_nose_is_between_the_ears():
    assert yaw_from_keypoints(0.5, 0.6, 0.4) == pytest.approx(0.0)
    # A rigid head turned 45 deg puts the nose 1.45 * tan(45) half ear-spans off centre.
    turned = yaw_from_keypoints(0.5 + 0.1 * 1.45, 0.6, 0.4)
    assert turned == pytest.approx(45.0, abs=0.5)


def test_the_astronaut_faces_the_camera_and_mirroring_flips_the_yaw(kit, astronaut):
    pose = kit.people_finder.find(astronaut)[0].pose
    view = kit.face.estimate(astronaut, pose)
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    view_m = kit.face.estimate(mirrored, kit.people_finder.find(mirrored)[0].pose)
    assert view.view == "frontal"
    assert view.source == "face_mesh"
    assert view.yaw_deg is not None
    assert view_m.yaw_deg is not None
    assert abs(view.yaw_deg + view_m.yaw_deg) < 4.0


def test_a_face_hidden_under_a_patch_is_not_frontal(kit, astronaut):
    pose = kit.people_finder.find(astronaut)[0].pose
    hidden = astronaut.copy()
    cx, cy = pose.head_center_px().astype(int)
    size = int(pose.head_size_px() * 1.2)
    hidden[max(0, cy - size) : cy + size, max(0, cx - size) : cx + size] = (120, 90, 60)
    view = kit.face.estimate(hidden, pose)
    assert view.view == "no_face"


@pytest.mark.shared_media
@pytest.mark.parametrize("name", ["elf-character.jpeg", "robed-man.jpeg", "dancer-photo.jpg"])
def test_real_characters_are_one_frontal_person(kit, shared_media, name):
    rgb = cv2.cvtColor(cv2.imread(str(shared_media / name)), cv2.COLOR_BGR2RGB)
    people = kit.people_finder.find(rgb)
    assert len(people) == 1
    assert kit.face.estimate(rgb, people[0].pose).view == "frontal"


def test_the_models_load_without_matplotlib_or_the_tasks_api_and_mediapipe_stays_whole():
    """The check's graphs import only the submodules they need; a caller who then uses
    mediapipe as the whole package, in the same process, still gets all of it."""
    code = (
        "import sys, numpy as np\n"
        "from kling_prep.vision.kit import VisionKit\n"
        "with VisionKit(frontal_max_deg=22.5, three_quarter_max_deg=67.5) as kit:\n"
        "    frame = np.zeros((360, 640, 3), np.uint8)\n"
        "    kit.video_detector.detect(frame); kit.pose.estimate(frame); kit.face.estimate(frame, None)\n"
        "    print(sorted(m for m in ('matplotlib', 'mediapipe.tasks') if m in sys.modules))\n"
        "import mediapipe as mp\n"
        "print(mp.__version__, mp.solutions.drawing_utils.__name__, mp.tasks.__name__,"
        " mp.Image.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]",
        "0.10.21 mediapipe.python.solutions.drawing_utils mediapipe.tasks.python Image",
    ]
