"""Camera motion on generated backgrounds with a known pan, zoom and jitter, and on real clips."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from kling_prep.vision.camera import CameraMotion, estimate_camera_motion

SHARED_MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
needs_shared_media = pytest.mark.skipif(
    not SHARED_MEDIA.is_dir(), reason=f"shared media folder {SHARED_MEDIA} is absent"
)
REALSET_VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "realset" / "videos"
needs_realset = pytest.mark.skipif(
    not REALSET_VIDEOS.is_dir(), reason=f"real development set {REALSET_VIDEOS} is absent"
)

WIDTH, HEIGHT = 320, 180
SAMPLE_FPS = 4.0
Grey = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]


def make_background(seed: int = 0, width: int = 1600, height: int = 900) -> npt.NDArray[np.float32]:
    """A grey scene with texture at every scale: a noise pyramid and sharp shapes."""
    rng = np.random.default_rng(seed)
    canvas = np.full((height, width), 120.0, np.float32)
    for cells, amplitude in ((6, 40), (12, 30), (24, 25), (48, 20), (96, 15)):
        noise = rng.normal(0, 1, (max(2, cells * height // width), cells)).astype(np.float32)
        canvas += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(300):
        x, y = (int(v) for v in rng.integers(0, (width, height)))
        level = (float(rng.uniform(0, 255)),)
        if rng.random() < 0.5:
            w, h = (int(v) for v in rng.integers(5, 60, 2))
            cv2.rectangle(canvas, (x, y), (x + w, y + h), level, -1)
        else:
            cv2.circle(canvas, (x, y), int(rng.integers(3, 30)), level, -1)
    return np.asarray(cv2.GaussianBlur(np.clip(canvas, 0, 255), (0, 0), 1.0), np.float32)


BACKGROUND = make_background()


def camera_frame(
    cx: float, cy: float, scale: float = 1.0, rng: np.random.Generator | None = None
) -> Grey:
    """The 320x180 view centred on (cx, cy) of the background, magnified by `scale`."""
    matrix = np.array(
        [[scale, 0.0, WIDTH / 2 - scale * cx], [0.0, scale, HEIGHT / 2 - scale * cy]], np.float64
    )
    view = np.asarray(cv2.warpAffine(BACKGROUND, matrix, (WIDTH, HEIGHT)), np.float32)
    if rng is not None:
        view = view + rng.normal(0, 2.0, view.shape).astype(np.float32)
    return np.clip(view, 0, 255).astype(np.uint8)


def clip(positions: list[tuple[float, float, float]]) -> list[tuple[float, Grey]]:
    rng = np.random.default_rng(1)
    return [
        (i / SAMPLE_FPS, camera_frame(cx, cy, scale, rng))
        for i, (cx, cy, scale) in enumerate(positions)
    ]


def test_known_pan_is_measured_within_ten_percent() -> None:
    # The camera turns right at 10 % of the frame width a second: the view's centre moves right.
    speed_px_per_s = 0.10 * WIDTH
    frames = clip([(800 + speed_px_per_s * i / SAMPLE_FPS, 450, 1.0) for i in range(13)])
    motion = estimate_camera_motion(frames)
    assert motion.tracked_fraction == 1.0
    assert motion.pan_pct_per_s_median == pytest.approx(10.0, rel=0.1)
    assert motion.pan_pct_per_s_max == pytest.approx(10.0, rel=0.1)
    assert all(i.pan_pct_per_s == pytest.approx(10.0, rel=0.1) for i in motion.intervals)
    assert motion.intervals[0].method == "features"
    assert _small(motion.tilt_pct_per_s_median, 0.5)
    assert _small(motion.zoom_pct_per_s_median, 0.5)
    assert _small(motion.shake_pct, 0.1)


def test_known_tilt_and_pan_left_have_their_signs() -> None:
    frames = clip([(800 - 8.0 * i, 450 - 4.5 * i, 1.0) for i in range(9)])  # left and up
    motion = estimate_camera_motion(frames)
    assert motion.intervals[0].pan_pct_per_s == pytest.approx(-10.0, rel=0.1)
    assert motion.intervals[0].tilt_pct_per_s == pytest.approx(10.0, rel=0.1)
    assert motion.tilt_pct_per_s_median == pytest.approx(10.0, rel=0.1)


def test_known_zoom_is_measured() -> None:
    # Zoom in by 8 % a second (ln scale grows by 0.08 a second).
    frames = clip([(800, 450, math.exp(0.08 * i / SAMPLE_FPS)) for i in range(13)])
    motion = estimate_camera_motion(frames)
    assert motion.zoom_pct_per_s_median == pytest.approx(8.0, rel=0.1)
    assert motion.intervals[0].zoom_pct_per_s == pytest.approx(8.0, rel=0.1)
    assert _small(motion.pan_pct_per_s_median, 0.5)


def test_planted_jitter_gives_shake_and_no_pan() -> None:
    rng = np.random.default_rng(2)
    jitter_px = rng.normal(0, 4.0, (25, 2))  # 4 px RMS per axis around a fixed aim
    frames = clip([(800 + dx, 450 + dy, 1.0) for dx, dy in jitter_px])
    motion = estimate_camera_motion(frames)
    planted_pct = 100.0 * math.sqrt(2) * 4.0 / math.hypot(WIDTH, HEIGHT)  # 2-D RMS over diagonal
    assert motion.shake_pct == pytest.approx(planted_pct, rel=0.3)
    # The trend's speed stays far below the jitter's own apparent speed (~ 4 px x 4 fps).
    assert motion.pan_pct_per_s_median is not None
    assert motion.pan_pct_per_s_median < 3.0
    raw = [abs(i.pan_pct_per_s or 0.0) for i in motion.intervals]
    assert float(np.median(raw)) > 2 * motion.pan_pct_per_s_median


def test_static_camera_with_a_moving_person_gives_no_camera_motion() -> None:
    rng = np.random.default_rng(3)
    person = np.asarray(make_background(seed=5, width=80, height=140), np.uint8)
    frames, boxes = [], []
    for i in range(13):
        image = camera_frame(800, 450, 1.0, rng)
        x, y = 60 + 12 * i, 25 + int(6 * math.sin(i))
        image[y : y + 140, x : x + 80] = person  # the person walks right across the frame
        frames.append((i / SAMPLE_FPS, image))
        boxes.append((x, y, 80, 140))
    motion = estimate_camera_motion(frames, boxes)
    assert motion.tracked_fraction == 1.0
    assert _small(motion.pan_pct_per_s_max, 0.5)
    assert _small(motion.tilt_pct_per_s_max, 0.5)
    assert _small(motion.zoom_pct_per_s_max, 0.5)
    assert _small(motion.shake_pct, 0.1)


def test_still_background_beside_a_large_unmasked_subject_reads_still() -> None:
    # A subject covering the middle 75% of the frame slides right, and no box masks it: its
    # points outnumber the background's, but the background's stay put, so the camera is still.
    rng = np.random.default_rng(4)
    frames = []
    for i in range(9):
        image = camera_frame(800, 450, 1.0, rng)
        image[:, 40:280] = camera_frame(300 - 6.0 * i, 700, 1.0, rng)[:, 40:280]
        frames.append((i / SAMPLE_FPS, image))
    motion = estimate_camera_motion(frames)
    assert motion.tracked_fraction == 1.0
    assert _small(motion.pan_pct_per_s_max, 0.5)
    assert _small(motion.shake_pct, 0.1)


def test_a_still_logo_on_a_panning_camera_does_not_stop_the_pan() -> None:
    # A channel logo (compact, still) is no background: the pan is still measured.
    logo = np.asarray(make_background(seed=9, width=40, height=30), np.uint8)
    frames = []
    for t, image in clip([(800 + 8.0 * i, 450, 1.0) for i in range(9)]):
        image[10:40, 270:310] = logo
        frames.append((t, image))
    motion = estimate_camera_motion(frames)
    assert motion.pan_pct_per_s_median == pytest.approx(10.0, rel=0.1)


def test_a_second_person_is_masked_by_the_other_boxes() -> None:
    # Two people on a plain wall (no corners of its own): the second one sways in place. Its
    # points are the only ones left once the first is masked; masked too, nothing moves.
    wall = np.asarray(cv2.GaussianBlur(BACKGROUND, (0, 0), 25.0), np.float32)
    person = np.asarray(make_background(seed=5, width=80, height=140), np.uint8)
    frames, mains, others = [], [], []
    for i in range(9):
        image = np.asarray(cv2.resize(wall, (WIDTH, HEIGHT)), np.uint8)
        image[20:160, 30:110] = person
        x = 200 + (8 if i % 2 else -8)
        image[20:160, x : x + 80] = person
        frames.append((i / SAMPLE_FPS, image))
        mains.append((30, 20, 80, 140))
        others.append([(x, 20, 80, 140)])
    unmasked = estimate_camera_motion(frames, mains)
    assert unmasked.shake_pct is not None
    assert unmasked.shake_pct > 1.0
    motion = estimate_camera_motion(frames, mains, others)
    assert motion.tracked_fraction > 0.5  # measured still, not left unmeasured
    assert motion.shake_pct is None or motion.shake_pct < 0.1
    assert motion.pan_pct_per_s_max is None or motion.pan_pct_per_s_max < 0.5


def test_samples_between_pose_reads_take_the_nearest_read_box() -> None:
    from kling_prep.vision.camera_shots import person_boxes
    from kling_prep.vision.timeline import VideoSample

    def sample(time_s: float, read: bool, box: Box) -> VideoSample:
        return VideoSample(
            time_s=time_s, frame=int(30 * time_s), people=1, background_people=0,
            pose_read=read, face_view=None, yaw_deg=None, is_body_in_frame=None,
            framing="unknown", person_height_share=None, main_box=box,
        )  # fmt: skip

    landmarks = (100, 80, 120, 100)  # the pose's box: head and shoulders
    detector = (0, 0, 320, 320)  # the detector's square around the body: the whole frame
    timeline = [
        sample(0.0, True, landmarks),
        sample(0.5, False, detector),
        sample(1.0, False, detector),
        sample(4.0, False, detector),  # no read within 0.75 s: the detector's box stays
    ]
    assert person_boxes(timeline) == [landmarks, landmarks, detector, detector]


def test_featureless_background_is_untracked() -> None:
    frames = [(i / SAMPLE_FPS, np.full((HEIGHT, WIDTH), 90, np.uint8)) for i in range(5)]
    motion = estimate_camera_motion(frames)
    assert motion.tracked_fraction == 0.0
    assert motion.pan_pct_per_s_median is None
    assert motion.shake_pct is None
    assert [i.method for i in motion.intervals] == ["none"] * 4


def test_smooth_texture_falls_back_to_phase_correlation() -> None:
    smooth = np.asarray(cv2.GaussianBlur(BACKGROUND, (0, 0), 12.0), np.float32)
    frames = []
    for i in range(5):
        matrix = np.array([[1.0, 0, -(600 + 8.0 * i)], [0, 1.0, -300]], np.float64)
        frames.append(
            (i / SAMPLE_FPS, np.asarray(cv2.warpAffine(smooth, matrix, (WIDTH, HEIGHT)), np.uint8))
        )
    motion = estimate_camera_motion(frames)
    assert motion.tracked_fraction == 1.0
    assert motion.pan_pct_per_s_median == pytest.approx(10.0, rel=0.15)


def test_one_frame_or_none_gives_an_empty_result() -> None:
    motion = estimate_camera_motion([(0.0, camera_frame(800, 450))])
    assert motion.intervals == []
    assert motion.tracked_fraction == 0.0
    assert estimate_camera_motion([]).pan_pct_per_s_median is None


def test_invalid_input_raises_value_error() -> None:
    frame = camera_frame(800, 450)
    with pytest.raises(ValueError, match="subject boxes"):
        estimate_camera_motion([(0.0, frame), (0.5, frame)], [None])
    with pytest.raises(ValueError, match="increase"):
        estimate_camera_motion([(0.5, frame), (0.5, frame)])
    with pytest.raises(ValueError, match="size"):
        estimate_camera_motion([(0.0, frame), (0.5, frame[:100])])


def test_as_dict_is_plain_data() -> None:
    frames = clip([(800 + 8.0 * i, 450, 1.0) for i in range(3)])
    data = estimate_camera_motion(frames).as_dict()
    assert isinstance(data["intervals"][0], dict)
    assert data["intervals"][0]["method"] == "features"


def _small(value: float | None, limit: float) -> bool:
    return value is not None and abs(value) < limit


def _sample_clip(name: str, sample_fps: float = 4.0) -> list[tuple[float, Grey]]:
    av = pytest.importorskip("av")
    frames: list[tuple[float, Grey]] = []
    with av.open(str(SHARED_MEDIA / name)) as container:
        stream = container.streams.video[0]
        next_time_s = 0.0
        for frame in container.decode(stream):
            time_s = float(frame.time or 0.0)
            if time_s + 1e-6 < next_time_s:
                continue
            next_time_s += 1.0 / sample_fps
            image = frame.to_ndarray(format="gray")
            height, width = image.shape[:2]
            size = (320, round(320 * height / width))
            frames.append(
                (
                    time_s,
                    np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8),
                )
            )
    return frames


def _print_motion(name: str, motion: CameraMotion) -> None:
    print(  # noqa: T201 - the report quotes these values
        f"{name}: pan {motion.pan_pct_per_s_median}/{motion.pan_pct_per_s_max} %w/s, "
        f"tilt {motion.tilt_pct_per_s_median}/{motion.tilt_pct_per_s_max} %h/s, "
        f"zoom {motion.zoom_pct_per_s_median}/{motion.zoom_pct_per_s_max} %/s, "
        f"rot {motion.rotation_deg_per_s_median} deg/s, shake {motion.shake_pct} %diag, "
        f"tracked {motion.tracked_fraction}"
    )


@pytest.mark.shared_media
@needs_shared_media
def test_static_camera_clip_moves_less_than_moving_camera_clip() -> None:
    # No subject boxes (the person detector is not this module's): the person's motion is in the
    # measure too, and the static camera must still read small, the moving one clearly larger.
    static = estimate_camera_motion(_sample_clip("talk-gestures.mp4"))
    moving = estimate_camera_motion(_sample_clip("boy-walking.mp4"))
    _print_motion("talk-gestures", static)
    _print_motion("boy-walking", moving)
    assert static.tracked_fraction > 0.8
    assert moving.tracked_fraction > 0.8
    assert _largest_speed(static) < 2.0
    # boy-walking's camera moves (tilts and pushes in) during its first ~2.5 s only, so its
    # largest trend speed, not its median, tells it apart.
    assert _largest_speed(moving) > 2 * _largest_speed(static)


def _largest_speed(motion: CameraMotion) -> float:
    return max(
        motion.pan_pct_per_s_max or 0.0,
        motion.tilt_pct_per_s_max or 0.0,
        motion.zoom_pct_per_s_max or 0.0,
    )


def _realset_clip(name: str) -> list[tuple[float, Grey]]:
    """Two samples a second of a realset video at 320 px, as the check samples it."""
    av = pytest.importorskip("av")
    frames: list[tuple[float, Grey]] = []
    with av.open(str(REALSET_VIDEOS / name)) as container:
        next_time_s = 0.0
        for frame in container.decode(container.streams.video[0]):
            time_s = float(frame.time or 0.0)
            if time_s + 1e-6 < next_time_s:
                continue
            next_time_s += 0.5
            image = frame.to_ndarray(format="gray")
            size = (320, round(320 * image.shape[0] / image.shape[1]))
            frames.append((time_s, np.asarray(cv2.resize(image, size, cv2.INTER_AREA), np.uint8)))
    return frames


@pytest.mark.shared_media
@needs_realset
def test_real_static_camera_over_a_running_crowd_reads_still() -> None:
    # Dozens of runners move everywhere and nobody is masked: the road and the buildings stay
    # put, so the camera is tracked and still.
    motion = estimate_camera_motion(_realset_clip("marathon-crowd.mp4"))
    _print_motion("marathon-crowd", motion)
    assert motion.tracked_fraction > 0.8
    assert _largest_speed(motion) < 1.0
    assert _small(motion.shake_pct, 0.2)


@pytest.mark.shared_media
@needs_realset
def test_real_handheld_camera_reads_as_moving() -> None:
    from kling_prep.checks.thresholds import Thresholds

    t = Thresholds()
    motion = estimate_camera_motion(_realset_clip("basketball-two-players-pan.mp4"))
    _print_motion("basketball-two-players-pan", motion)
    assert motion.tracked_fraction >= t.camera_min_tracked_share
    assert motion.shake_pct is not None
    assert motion.shake_pct >= t.camera_shake_warn_pct
