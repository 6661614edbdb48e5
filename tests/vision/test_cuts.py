"""Cut, fade and dissolve detection on generated clips with known answers, and on real clips."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from kling_prep.media.frames import ScanSpec, decode_thumbs, scan_video
from kling_prep.media.synthetic import stand_on_floor
from kling_prep.vision.cuts import CutDetector, CutScan, change_score, locate_cut

SHARED_MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
needs_shared_media = pytest.mark.skipif(
    not SHARED_MEDIA.is_dir(), reason=f"shared media folder {SHARED_MEDIA} is absent"
)

FPS = 30.0
THUMB_SIZE = (64, 36)
Canvas = npt.NDArray[np.float32]
Thumb = npt.NDArray[np.uint8]


def make_scene(seed: int) -> Canvas:
    """A 640x360 colour scene: a noise pyramid (texture at every scale) and sharp shapes."""
    rng = np.random.default_rng(seed)
    width, height = 640, 360
    base = rng.uniform(50, 200, 3)
    canvas = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((4, 60), (8, 40), (16, 30), (32, 20), (64, 12)):
        noise = rng.normal(0, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        canvas += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas += base.astype(np.float32)
    for _ in range(40):
        colour = tuple(float(c) for c in np.clip(base + rng.normal(0, 60, 3), 0, 255))
        x, y = (int(v) for v in rng.integers(0, (width, height)))
        if rng.random() < 0.5:
            w, h = (int(v) for v in rng.integers(10, 120, 2))
            cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.circle(canvas, (x, y), int(rng.integers(5, 60)), colour, -1)
    # Pre-blur so that sampling it down to a thumbnail does not alias.
    return np.asarray(cv2.GaussianBlur(np.clip(canvas, 0, 255), (0, 0), 1.5), np.float32)


def camera_view(
    canvas: Canvas, cx: float, cy: float, zoom: float = 1.0, angle_deg: float = 0.0
) -> Canvas:
    """What a camera centred on (cx, cy) of the canvas sees, as a float thumbnail."""
    scale = THUMB_SIZE[0] / (256.0 / zoom)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle_deg, scale)
    matrix[0, 2] += THUMB_SIZE[0] / 2 - cx
    matrix[1, 2] += THUMB_SIZE[1] / 2 - cy
    return np.asarray(
        cv2.warpAffine(canvas, matrix, THUMB_SIZE, borderMode=cv2.BORDER_REFLECT), np.float32
    )


def to_thumb(view: Canvas, rng: np.random.Generator) -> Thumb:
    """Add sensor noise and quantise, as a decoder would hand it over."""
    return np.clip(view + rng.normal(0, 2.0, view.shape), 0, 255).astype(np.uint8)


SCENE_A = make_scene(1)
SCENE_B = make_scene(2)


def cut_clip(
    cut_frame: int = 45, frames: int = 90, *, pan_px: float = 0.0, scene_b: Canvas = SCENE_B
) -> list[Thumb]:
    rng = np.random.default_rng(0)
    return [
        to_thumb(camera_view(SCENE_A if i < cut_frame else scene_b, 200 + i * pan_px, 180), rng)
        for i in range(frames)
    ]


def pan_clip(px_per_frame: float = 12.0, frames: int = 90) -> list[Thumb]:
    # 12 canvas px a frame is 3 thumbnail px: 140 % of the frame width per second at 30 fps.
    rng = np.random.default_rng(1)
    return [to_thumb(camera_view(SCENE_A, 100 + i * px_per_frame, 180), rng) for i in range(frames)]


def shake_clip(frames: int = 90) -> list[Thumb]:
    # Handheld: a wandering aim plus frame-to-frame jitter of ~3 % of the width, and roll.
    rng = np.random.default_rng(2)
    aim = np.cumsum(rng.normal(0, 3, (frames, 2)), axis=0) + rng.normal(0, 8, (frames, 2))
    return [
        to_thumb(camera_view(SCENE_A, 320 + dx, 180 + dy, angle_deg=rng.normal(0, 2)), rng)
        for dx, dy in aim
    ]


def zoom_clip(frames: int = 90) -> list[Thumb]:
    rng = np.random.default_rng(3)
    return [to_thumb(camera_view(SCENE_A, 320, 180, zoom=1.02**i), rng) for i in range(frames)]


def walker_clip(frames: int = 90) -> list[Thumb]:
    """A textured 'person' walking at a panning camera, growing to fill half the frame."""
    rng = np.random.default_rng(4)
    person = make_scene(9)[100:300, 200:300]
    clip = []
    for i in range(frames):
        view = camera_view(SCENE_A, 250 + i * 2.0, 180)
        height = int(12 + i * 0.25)
        width = max(4, height // 2)
        figure = cv2.resize(person, (width, height))
        x = 32 - width // 2 + int(3 * np.sin(i / 4))
        y0 = max(0, 36 - height)
        view[y0:36, x : x + width] = figure[: 36 - y0, : max(0, min(width, 64 - x))]
        clip.append(to_thumb(view, rng))
    return clip


def fade_clip() -> list[Thumb]:
    """Scene A, a 1 s fade to black (frames 30-59), then a 1 s fade in to scene B (60-89)."""
    rng = np.random.default_rng(5)
    clip = []
    for i in range(120):
        view = camera_view(SCENE_A if i < 60 else SCENE_B, 320, 180)
        if 30 <= i < 60:
            view = view * (1 - (i - 30) / 29)
        elif 60 <= i < 90:
            view = view * ((i - 60) / 29)
        clip.append(to_thumb(view, rng))
    return clip


def dissolve_clip() -> list[Thumb]:
    """Scene A (panning) dissolves into scene B (tilting) over 1 s, frames 45-75."""
    rng = np.random.default_rng(6)
    clip = []
    for i in range(120):
        alpha = float(np.clip((i - 45) / 30, 0, 1))
        a = camera_view(SCENE_A, 300 + i, 180)
        b = camera_view(SCENE_B, 320, 180 - 0.5 * i)
        clip.append(to_thumb((1 - alpha) * a + alpha * b, rng))
    return clip


def scan(thumbs: list[Thumb], step: int = 1) -> CutScan:
    detector = CutDetector(FPS)
    for index in range(0, len(thumbs), step):
        detector.push(index, index / FPS, thumbs[index])
    return detector.finish()


# A cut-out figure rocking in front of a plain wall, as in the accuracy benchmark: portrait
# thumbnails, 24 fps, the figure filling most of the frame and moving across a good part of it.
FIGURE_FPS = 24.0
FIGURE_CANVAS = (256, 340)  # width, height; thumbnails are a quarter: 64x85
GREY_WALL = (188, 196, 200)  # BGR
BLUE_WALL = (160, 110, 70)
GREEN_WALL = (110, 160, 120)


@cache
def figure() -> tuple[Canvas, Canvas]:
    """A textured, high-contrast figure (a head on a bell-shaped body) and its soft mask."""
    texture = make_scene(5)[60:260, 180:340]
    texture = np.clip(128 + 3.0 * (texture - texture.mean()), 0, 255).astype(np.float32)
    mask = np.zeros(texture.shape[:2], np.float32)
    cv2.circle(mask, (80, 38), 32, 1.0, -1)
    cv2.ellipse(mask, (80, 200), (78, 135), 0, 180, 360, 1.0, -1)
    return texture, np.asarray(cv2.GaussianBlur(mask, (0, 0), 1.5), np.float32)


def figure_view(
    wall_bgr: tuple[int, int, int],
    x: float,
    angle_deg: float = 0.0,
    height_share: float = 1.0,
    mirror: bool = False,
) -> Canvas:
    """The figure standing at x (canvas px), tilted about its feet, on a wall with a soft
    vertical gradient and a darker floor, as a float thumbnail."""
    texture, mask = figure()
    if mirror:
        texture, mask = texture[:, ::-1], mask[:, ::-1]
    width, height = FIGURE_CANVAS
    ramp = np.linspace(1.0, 0.75, height, dtype=np.float32)[:, None, None]
    wall = np.ones((height, width, 3), np.float32) * np.array(wall_bgr, np.float32) * ramp
    wall[int(height * 0.86) :] *= 0.7
    frame = stand_on_floor(
        wall, texture, mask, centre_x=x, height_share=height_share, angle_deg=angle_deg
    )
    size = (width // 4, height // 4)
    return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.float32)


@cache
def rocking_shot(
    frames: int, wall_bgr: tuple[int, int, int], mirror: bool = False
) -> tuple[Canvas, ...]:
    """The figure rocking +-12 degrees about its feet (0.8 Hz) and swaying sideways by 6 % of
    the width (0.3 Hz)."""
    width = FIGURE_CANVAS[0]
    return tuple(
        figure_view(
            wall_bgr,
            width / 2 + 0.06 * width * np.sin(2 * np.pi * 0.3 * i / FIGURE_FPS),
            12.0 * np.sin(2 * np.pi * 0.8 * i / FIGURE_FPS),
            mirror=mirror,
        )
        for i in range(frames)
    )


def rocking_dissolve_clip(start: int = 60, frames: int = 24, after: int = 72) -> list[Thumb]:
    """The figure on a grey wall cross-dissolving, over frames start .. start + frames - 1, into
    the mirrored figure on a blue wall (both keep rocking), as make_bench_media's dissolve():
    frame start + k is (k + 1) / (frames + 1) of the new shot. The blend leaves the old shot
    after frame start - 1 and reaches the new one at frame start + frames."""
    a = rocking_shot(start + frames, GREY_WALL)
    b = rocking_shot(frames + after, BLUE_WALL, mirror=True)
    rng = np.random.default_rng(12)
    clip = []
    for i in range(start + frames + after):
        if i < start:
            view = a[i]
        elif i >= start + frames:
            view = b[i - start]
        else:
            weight = (i - start + 1) / (frames + 1)
            view = (1 - weight) * a[i] + weight * b[i - start]
        clip.append(to_thumb(view, rng))
    return clip


def scan_figure(thumbs: list[Thumb], pattern: str) -> CutScan:
    """Push the thumbnails of the frames a decoder would hand over: every frame ("all"), every
    2nd or 3rd ("2nd", "3rd"), or, like H.264 reference frames only, gaps of 2, 2 and 1."""
    if pattern == "refs":
        indices = [i for i in range(len(thumbs)) if i % 5 in (0, 2, 4)]
    else:
        indices = list(range(0, len(thumbs), {"all": 1, "2nd": 2, "3rd": 3}[pattern]))
    detector = CutDetector(FIGURE_FPS)
    for index in indices:
        detector.push(index, index / FIGURE_FPS, thumbs[index])
    return detector.finish()


PUSH_PATTERNS = ["all", "2nd", "3rd", "refs"]


@pytest.mark.parametrize("cut_frame", [45, 61])
def test_hard_cut_is_found_on_its_frame_when_every_frame_is_pushed(cut_frame: int) -> None:
    result = scan(cut_clip(cut_frame))
    assert [(c.frame, c.frame_before) for c in result.cuts] == [(cut_frame, cut_frame - 1)]
    assert result.cuts[0].time_s == pytest.approx(cut_frame / FPS)
    assert result.cuts[0].score > 0.3
    assert result.transitions == []


@pytest.mark.parametrize("cut_frame", [45, 46, 47])
def test_hard_cut_is_located_exactly_when_only_every_third_frame_is_pushed(
    cut_frame: int,
) -> None:
    thumbs = cut_clip(cut_frame)
    result = scan(thumbs, step=3)
    assert len(result.cuts) == 1
    cut = result.cuts[0]
    assert cut.frame_before < cut_frame <= cut.frame
    assert abs(cut.frame - cut_frame) <= 2
    between = list(range(cut.frame_before, cut.frame + 1))
    assert locate_cut(between, [thumbs[i] for i in between]) == cut_frame


def test_cut_during_a_camera_pan_is_found() -> None:
    result = scan(cut_clip(50, pan_px=6.0))
    assert [c.frame for c in result.cuts] == [50]


def test_cut_between_similar_coloured_scenes_is_still_found() -> None:
    # The same scene turned upside down: identical colour histogram, different picture.
    upside_down = np.ascontiguousarray(SCENE_A[::-1, ::-1])
    thumbs = cut_clip(40, scene_b=upside_down)
    assert change_score(thumbs[38], thumbs[39]) < 0.05
    assert change_score(thumbs[39], thumbs[40]) > 0.15
    for step in (1, 3):
        assert [c.frame for c in scan(thumbs, step=step).cuts] == [40 if step == 1 else 42]


@pytest.mark.parametrize(
    "make_clip",
    [pan_clip, shake_clip, zoom_clip, walker_clip],
    ids=["fast-pan", "handheld-shake", "zoom", "person-walking-at-panning-camera"],
)
@pytest.mark.parametrize("step", [1, 3])
def test_camera_motion_is_not_a_cut(make_clip: Callable[[], list[Thumb]], step: int) -> None:
    result = scan(make_clip(), step=step)
    assert result.cuts == []
    assert result.transitions == []


@pytest.mark.parametrize("step", [1, 3])
def test_fade_out_and_in_are_transitions_not_cuts(step: int) -> None:
    result = scan(fade_clip(), step=step)
    assert result.cuts == []
    kinds = [(t.kind, t.start_frame, t.end_frame) for t in result.transitions]
    assert [kind for kind, _, _ in kinds] == ["fade_out", "fade_in"]
    (_, out_start, out_end), (_, in_start, in_end) = kinds
    assert abs(out_start - 30) <= step
    assert 50 <= out_end <= 60  # near-black comes a little before full black
    assert 59 <= in_start <= 68
    assert abs(in_end - 89) <= step + 1
    assert result.transitions[0].start_s == pytest.approx(out_start / FPS)


@pytest.mark.parametrize("step", [1, 3])
def test_one_second_dissolve_is_a_transition_not_a_cut(step: int) -> None:
    result = scan(dissolve_clip(), step=step)
    assert result.cuts == []
    assert [t.kind for t in result.transitions] == ["dissolve"]
    dissolve = result.transitions[0]
    assert abs(dissolve.start_frame - 45) <= 3
    assert abs(dissolve.end_frame - 75) <= 3


@pytest.mark.parametrize("pattern", PUSH_PATTERNS)
@pytest.mark.parametrize("frames", [12, 24, 48], ids=["0.5s", "1s", "2s"])
def test_dissolve_between_two_rocking_figures_is_one_span_not_a_cut(
    frames: int, pattern: str
) -> None:
    # The benchmark's case: both shots move a lot (the whole-picture residual of the blend is
    # ~0.45), but the wall the figures do not sweep is a clean blend.
    result = scan_figure(rocking_dissolve_clip(60, frames), pattern)
    assert result.cuts == []
    assert [t.kind for t in result.transitions] == ["dissolve"]
    dissolve = result.transitions[0]
    # The span covers every blended frame (60 .. 60 + frames - 1) and ends within a couple of
    # frames (or one pushed frame) of the true ends, 59 and 60 + frames.
    assert 57 <= dissolve.start_frame <= 59
    assert 60 + frames <= dissolve.end_frame <= 60 + frames + 3
    assert dissolve.start_s == pytest.approx(dissolve.start_frame / FIGURE_FPS)


@pytest.mark.parametrize("pattern", PUSH_PATTERNS)
def test_hard_cut_between_two_rocking_figures_is_a_cut_not_a_dissolve(pattern: str) -> None:
    rng = np.random.default_rng(13)
    views = rocking_shot(72, GREY_WALL) + rocking_shot(72, BLUE_WALL, mirror=True)
    result = scan_figure([to_thumb(view, rng) for view in views], pattern)
    assert result.transitions == []
    assert len(result.cuts) == 1
    assert result.cuts[0].frame_before < 72 <= result.cuts[0].frame


@pytest.mark.parametrize("pattern", PUSH_PATTERNS)
def test_rocking_figure_alone_is_neither_cut_nor_transition(pattern: str) -> None:
    rng = np.random.default_rng(14)
    result = scan_figure([to_thumb(view, rng) for view in rocking_shot(144, GREY_WALL)], pattern)
    assert result.cuts == []
    assert result.transitions == []


@pytest.mark.parametrize("pattern", PUSH_PATTERNS)
def test_figure_walking_in_and_stopping_is_not_a_dissolve(pattern: str) -> None:
    # In front of a still wall, each pixel the figure comes to cover switches from wall to
    # figure at its own moment: the pixels are still before and after, but no frame between is
    # a mix of the two pictures.
    rng = np.random.default_rng(16)
    width = FIGURE_CANVAS[0]
    xs = np.interp(np.arange(150), [60, 84], [1.4 * width, 0.5 * width])
    thumbs = [to_thumb(figure_view(GREY_WALL, x, height_share=0.8), rng) for x in xs]
    result = scan_figure(thumbs, pattern)
    assert result.transitions == []
    assert result.cuts == []


@pytest.mark.parametrize("pattern", PUSH_PATTERNS)
def test_no_cut_is_reported_inside_a_dissolve_and_a_later_cut_is_kept(pattern: str) -> None:
    # A dissolve over frames 60-83, then a hard cut at frame 132 to a third shot.
    rng = np.random.default_rng(15)
    thumbs = rocking_dissolve_clip(60, 24, after=48)
    thumbs += [to_thumb(view, rng) for view in rocking_shot(60, GREEN_WALL)]
    result = scan_figure(thumbs, pattern)
    assert [t.kind for t in result.transitions] == ["dissolve"]
    dissolve = result.transitions[0]
    assert dissolve.start_frame <= 59
    assert dissolve.end_frame >= 84
    assert all(not dissolve.start_frame < cut.frame <= dissolve.end_frame for cut in result.cuts)
    assert len(result.cuts) == 1
    assert result.cuts[0].frame_before < 132 <= result.cuts[0].frame


def test_still_clip_gives_nothing() -> None:
    rng = np.random.default_rng(7)
    view = camera_view(SCENE_A, 320, 180)
    result = scan([to_thumb(view, rng) for _ in range(60)])
    assert result.cuts == []
    assert result.transitions == []
    assert max(result.scores) < 0.05


def test_a_flash_is_not_a_cut() -> None:
    thumbs = cut_clip(cut_frame=10_000)  # no cut
    for i in (40, 41):
        thumbs[i] = np.full_like(thumbs[i], 250)
    assert scan(thumbs).cuts == []


def test_a_shot_shorter_than_the_minimum_keeps_only_the_stronger_cut() -> None:
    rng = np.random.default_rng(8)
    scene_c = make_scene(3)
    thumbs = [
        to_thumb(camera_view(SCENE_A if i < 40 else scene_c if i < 46 else SCENE_B, 320, 180), rng)
        for i in range(90)
    ]
    result = scan(thumbs)
    assert len(result.cuts) == 1
    assert result.cuts[0].frame in (40, 46)
    detector = CutDetector(FPS, min_shot_s=0.1)
    for i, thumb in enumerate(thumbs):
        detector.push(i, i / FPS, thumb)
    assert [c.frame for c in detector.finish().cuts] == [40, 46]


def test_scores_timeline_has_one_score_per_push() -> None:
    result = scan(cut_clip(45), step=3)
    assert result.frame_indices == list(range(0, 90, 3))
    assert len(result.scores) == len(result.frame_indices)
    assert result.scores[0] == 0.0
    assert int(np.argmax(result.scores)) == result.frame_indices.index(45)


def test_thumbnails_of_another_size_are_resized() -> None:
    thumbs = cut_clip(45)
    detector = CutDetector(FPS)
    for i, thumb in enumerate(thumbs):
        if i % 2:
            thumb = np.asarray(cv2.resize(thumb, (96, 54)), np.uint8)
        detector.push(i, i / FPS, thumb)
    assert [c.frame for c in detector.finish().cuts] == [45]


def test_invalid_input_raises_value_error() -> None:
    with pytest.raises(ValueError, match="fps"):
        CutDetector(0.0)
    detector = CutDetector(FPS)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        detector.push(0, 0.0, np.zeros((36, 64), np.uint8))
    detector.push(5, 0.1, np.zeros((36, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="does not follow"):
        detector.push(5, 0.2, np.zeros((36, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="locate_cut"):
        locate_cut([1], [np.zeros((36, 64, 3), np.uint8)])


def test_empty_and_single_frame_scans_are_empty() -> None:
    assert CutDetector(FPS).finish().cuts == []
    detector = CutDetector(FPS)
    detector.push(0, 0.0, np.zeros((36, 64, 3), np.uint8))
    assert detector.finish() == CutScan(cuts=[], transitions=[], frame_indices=[0], scores=[0.0])


@pytest.mark.shared_media
@needs_shared_media
@pytest.mark.parametrize("name", ["boy-walking.mp4", "talk-gestures.mp4", "dance-fullbody.mp4"])
@pytest.mark.parametrize("step", [1, 3])
def test_real_clips_have_no_cut(name: str, step: int) -> None:
    av = pytest.importorskip("av")
    detector = CutDetector(FPS)
    with av.open(str(SHARED_MEDIA / name)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        detector = CutDetector(fps)
        for index, frame in enumerate(container.decode(stream)):
            if index % step:
                continue
            image = frame.to_ndarray(format="bgr24")
            height, width = image.shape[:2]
            size = (64, round(64 * height / width)) if width >= height else (36, 64)
            thumb = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
            detector.push(index, index / fps, thumb)
    result = detector.finish()
    assert result.cuts == []
    assert result.transitions == []


def write_irregular_clip(path: Path, cut_frame: int, *, start_ms: int) -> list[int]:
    """An H.264 clip (B-frames, so the decoder reorders and skips frames) whose frames come in
    pairs 10 ms apart every 67 ms: its average rate (~30 fps) times a frame's time gives two
    frames one index. Scene A until `cut_frame`, scene B from it. Returns the frames' times in ms.
    """
    av = pytest.importorskip("av")
    rng = np.random.default_rng(21)
    scenes = [
        np.clip(cv2.resize(s, (160, 96)), 0, 255).astype(np.uint8) for s in (SCENE_A, SCENE_B)
    ]
    times_ms = [start_ms + 67 * (i // 2) + 10 * (i % 2) for i in range(48)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "2", "g": "24"}
        for i, time_ms in enumerate(times_ms):
            picture = scenes[int(i >= cut_frame)]
            noisy = np.clip(picture + rng.normal(0, 2, picture.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(noisy, format="bgr24")
            frame.pts, frame.time_base = time_ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return times_ms


@pytest.mark.parametrize("start_ms", [0, 3, 8333], ids=["start-0", "start-3ms", "start-8.3s"])
@pytest.mark.parametrize("skip_nonref", [False, True], ids=["all-frames", "reference-frames"])
def test_frames_are_indexed_in_order_from_the_first_whatever_their_timestamps(
    tmp_path: Path, start_ms: int, skip_nonref: bool
) -> None:
    path = tmp_path / "irregular.mp4"
    times_ms = write_irregular_clip(path, 23, start_ms=start_ms)
    pushed: list[tuple[int, float]] = []
    scan_video(
        path, ScanSpec(sample_fps=2.0, max_side_px=64, skip_nonref=skip_nonref),
        on_thumb=lambda index, time_s, _thumb: pushed.append((index, time_s)),
    )  # fmt: skip
    indices = [index for index, _ in pushed]
    assert indices == sorted(set(indices))
    assert indices[0] == 0
    if not skip_nonref:
        assert indices == list(range(len(times_ms)))
    # Each index names the frame shown at that time, counted from the first frame.
    for index, time_s in pushed:
        assert time_s == pytest.approx((times_ms[index] - start_ms) / 1000, abs=1e-6)


@pytest.mark.parametrize("start_ms", [0, 8333], ids=["start-0", "start-8.3s"])
def test_cut_in_a_clip_with_irregular_timestamps_is_found_on_its_frame(
    tmp_path: Path, start_ms: int
) -> None:
    path = tmp_path / "irregular.mp4"
    write_irregular_clip(path, 23, start_ms=start_ms)
    detector = CutDetector(30.0)
    scan_video(path, ScanSpec(sample_fps=2.0, max_side_px=64), on_thumb=detector.push)
    cuts = detector.finish().cuts
    assert len(cuts) == 1
    cut = cuts[0]
    assert cut.frame_before < 23 <= cut.frame
    between = decode_thumbs(path, cut.frame_before, cut.frame, fps=30.0)
    assert [index for index, _ in between] == list(range(cut.frame_before, cut.frame + 1))
    assert locate_cut([i for i, _ in between], [thumb for _, thumb in between]) == 23


def pale_room(seed: int) -> Canvas:
    """A 640x360 room: a pale, faintly shaded wall (near-grey, so its hue is noise) over a
    textured floor, with a pillar and a dark disc."""
    rng = np.random.default_rng(seed)
    height, width = 360, 640
    shading = rng.normal(0, 1, (9, 16)).astype(np.float32)
    wall = 205 + 8 * cv2.resize(shading, (width, height), interpolation=cv2.INTER_CUBIC)
    room = np.zeros((height, width, 3), np.float32)
    room[:] = wall[..., None] + np.float32([2, 0, -2])
    floor = make_scene(seed)[200:] * 0.5 + np.float32([40, 80, 120]) * 0.5
    room[220:] = cv2.resize(floor, (width, height - 220))
    x = int(rng.integers(300, 500))
    cv2.rectangle(room, (x, 60), (x + 30, 220), (150, 150, 150), -1)
    cv2.circle(room, (int(rng.integers(100, 250)), 120), 30, (60, 60, 60), -1)
    return np.asarray(cv2.GaussianBlur(room, (0, 0), 1.0), np.float32)


def write_low_bitrate_clip(
    path: Path, scenes: list[Canvas], *, cut_frame: int = 10_000, drift_px: float = 0.0
) -> None:
    """10 s at 30 fps and 320x180, H.264 with a keyframe every 150 frames at 30 kbit/s, as a
    phone or a surveillance camera encodes a still scene: each keyframe (and the rate control
    between them) changes the picture's quality (sharpness, noise, the wall's faint tint), not
    its content. The camera drifts by `drift_px` a frame; scenes[0] until `cut_frame`,
    scenes[1] from it."""
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    rng = np.random.default_rng(22)
    width, height = 320, 180
    scenes = [cv2.resize(scene, (width, height), interpolation=cv2.INTER_AREA) for scene in scenes]
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo",
        "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", "30", "-i", "-",
        "-c:v", "libx264", "-g", "150", "-b:v", "30k", "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.PIPE) as encoder:
        assert encoder.stdin is not None
        for i in range(300):
            shift = np.float32([[1, 0, -drift_px * i], [0, 1, 0]])
            scene = scenes[int(i >= cut_frame)]
            view = cv2.warpAffine(scene, shift, (width, height), borderMode=cv2.BORDER_REFLECT)
            noisy = np.clip(view + rng.normal(0, 3, view.shape), 0, 255).astype(np.uint8)
            encoder.stdin.write(noisy.tobytes())
        encoder.stdin.close()
    assert encoder.returncode == 0


def scan_file(path: Path) -> CutScan:
    detector = CutDetector(FPS)
    scan_video(path, ScanSpec(sample_fps=1.0, max_side_px=64), on_thumb=detector.push)
    return detector.finish()


@pytest.mark.parametrize("drift_px", [0.0, 0.05], ids=["still", "slow-drift"])
def test_keyframes_of_a_low_bitrate_still_scene_are_not_cuts(
    tmp_path: Path, drift_px: float
) -> None:
    path = tmp_path / "pumping.mp4"
    write_low_bitrate_clip(path, [pale_room(1)], drift_px=drift_px)
    assert scan_file(path).cuts == []


@pytest.mark.parametrize("scene_b", ["other-room", "textured-scene"])
def test_a_cut_in_a_low_bitrate_clip_is_still_found(tmp_path: Path, scene_b: str) -> None:
    path = tmp_path / "pumping-cut.mp4"
    other = pale_room(2) if scene_b == "other-room" else make_scene(2)
    write_low_bitrate_clip(path, [pale_room(1), other], cut_frame=200)
    assert [cut.frame for cut in scan_file(path).cuts] == [200]


def test_a_graphic_appearing_over_part_of_the_picture_is_not_a_cut() -> None:
    # A slide builds up: a textured panel a sixth of the frame appears over a still picture
    # (the colours of a sixth of the picture change at once, ratio and step tests pass).
    rng = np.random.default_rng(23)
    view = camera_view(SCENE_A, 320, 180)
    panel = camera_view(SCENE_B, 320, 180)[8:28, 36:60]
    thumbs = []
    for i in range(90):
        frame = view.copy()
        if i >= 45:
            frame[8:28, 36:60] = panel
        thumbs.append(to_thumb(frame, rng))
    assert change_score(thumbs[44], thumbs[45]) > 0.06
    assert scan(thumbs).cuts == []


def test_a_flash_followed_by_the_exposure_recovering_is_not_a_cut() -> None:
    # Two blown-out frames, then the camera's exposure takes 0.6 s to come back: the picture
    # before the flash returns in structure before it returns in colour.
    rng = np.random.default_rng(24)
    thumbs = []
    for i in range(120):
        view = camera_view(SCENE_A, 200 + i, 180)
        if i in (50, 51):
            view = 0.2 * view + 0.8 * 255
        elif 52 <= i < 70:
            view = view * (1 + 0.6 * (70 - i) / 18)
        thumbs.append(to_thumb(np.clip(view, 0, 255), rng))
    assert scan(thumbs).cuts == []


@pytest.mark.parametrize("bars", ["letterbox", "pillarbox"])
def test_a_cut_between_bars_and_under_a_fixed_logo_is_still_found(bars: str) -> None:
    # What stays through the cut, black bars (whose borders with the picture are edges every
    # frame shares) and a channel's logo in a corner, is a small share of the picture.
    rng = np.random.default_rng(25)
    thumbs = []
    for i in range(90):
        view = camera_view(SCENE_A if i < 45 else SCENE_B, 320, 180)
        if bars == "letterbox":
            view[:7] = view[-7:] = 16.0
        else:
            view[:, :12] = view[:, -12:] = 16.0
        cv2.putText(view, "TV", (38, 14), cv2.FONT_HERSHEY_PLAIN, 0.5, (235, 235, 235), 1)
        thumbs.append(to_thumb(view, rng))
    assert [cut.frame for cut in scan(thumbs).cuts] == [45]
