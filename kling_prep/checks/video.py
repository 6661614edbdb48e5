"""Checks of the reference video: the API's limits, people over time, face view over time,
body in frame, cuts and transitions, the camera's own motion, and the person's motion."""

from __future__ import annotations

import contextlib
import itertools
import math
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.checks.findings import Finding, file_limit_findings, score_from
from kling_prep.checks.image import framing_of
from kling_prep.checks.thresholds import Thresholds
from kling_prep.limits import ApiProfile, Orientation
from kling_prep.media.frames import SampledFrame, VideoScan, decode_thumbs, scan_video
from kling_prep.media.probe import VideoProbe, probe_video
from kling_prep.vision.cuts import CutDetector, CutScan, locate_cut
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.people import (
    Person,
    PersonBox,
    confirm_people,
    is_on_hand_of,
    relative_size,
)
from kling_prep.vision.pose import BodyPose

SAMPLE_FPS = 2.0  # analysis samples a second: people and the camera
# The pose and the face view are read on the samples this pattern marks, repeated (pairs half a
# second apart, every 2 s), and on any sample whose people are not the one person of the sample
# before: in between, a single proposal where the last person stood is that person, already
# seen half a second before. Reads exactly once a second would see a limb swinging at 1 Hz (a
# stride, a 120 bpm step) at one phase, always the same, and take it for still; the 0.5 s and
# 1.5 s gaps of the pairs see it at two.
POSE_READS = (True, True, False, False)
MOTION_MAX_GAP_S = 1.5 / SAMPLE_FPS  # speeds between neighbouring samples only
TILES_EVERY = 4  # the tiled look for small people side by side: every 2 s
# Where a tiled sample shows nobody, a finer grid looks for a crowd of small figures (see
# `ImagePeopleFinder.find_crowd`): a few such looks place a crowd that stays in view, and cap
# the cost on a clip with nobody in it (each look is about twenty detector passes).
CROWD_LOOKS = 3
SAMPLE_MAX_SIDE_PX = 640
CAMERA_WIDTH_PX = 320  # the background's motion is measured at about this width
_LIMBS = (13, 14, 15, 16, 25, 26, 27, 28)  # elbows, wrists, knees, ankles
_EXTREMITIES = (15, 16, 27, 28)  # wrists, ankles


@dataclass(frozen=True)
class VideoSample:
    """One analysed moment of the video: an entry of the timeline."""

    time_s: float
    frame: int
    people: int  # people of comparable size (the main person and rivals)
    background_people: int  # smaller people, down to the warn ratio
    pose_read: bool  # the pose and face view were read here (see `POSE_READS`)
    face_view: str | None  # frontal, three_quarter, profile, no_face; None: nobody or not read
    yaw_deg: float | None
    is_body_in_frame: bool | None  # head and shoulders inside the frame; None: not read
    framing: str  # "unknown" when nobody or not read
    person_height_share: float | None
    main_box: tuple[int, int, int, int] | None  # in the sample's pixels
    # The other people counted (rivals, then background people), in the sample's pixels: the
    # report draws them where a finding names this sample.
    other_boxes: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class CutMark:
    time_s: float
    frame: int


@dataclass(frozen=True)
class TransitionSpan:
    kind: str
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class MotionSummary:
    """The person's own motion: limbs relative to the shoulders, in torso lengths.

    Speeds between poses read half a second apart alias a periodic motion (a 2 Hz swing
    sampled at 2 Hz looks still), so how much the person moves is judged on the range of
    motion: the spread of each limb's position over the clip, which poses read at several
    phases reveal (`POSE_READS`). Speeds serve for the fast-motion warning (aliasing can only
    under-read them) and the timeline; they are taken only between poses at most
    `MOTION_MAX_GAP_S` apart, since a longer gap averages a swing out.
    """

    median_speed: float | None  # median over intervals of the median limb speed, torso/s
    range_of_motion: float | None  # median over limbs of the RMS spread of position, torso
    fast_share: float | None  # share of intervals whose fastest wrist/ankle exceeds the limit
    intervals: list[tuple[float, float]]  # (time_s, median limb speed) for the timeline


@dataclass(frozen=True)
class VideoArtefacts:
    """Frames for the HTML report; never in the JSON."""

    samples: list[SampledFrame]
    cut_scores: list[tuple[float, float]]  # (time_s, change score) for every decoded frame
    # The pose at every sample it was read on (None: nobody found there), in the samples'
    # pixels: the motion preview maps these onto the image without decoding the video again.
    poses: list[tuple[float, BodyPose | None]] = field(default_factory=list)


@dataclass(frozen=True)
class VideoReport:
    path: str
    container: str
    video_codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    size_bytes: int
    has_audio: bool
    rotation_deg: int
    color_transfer: str
    people_per_second: list[int]
    samples: list[VideoSample]
    cuts: list[CutMark]
    transitions: list[TransitionSpan]
    camera: dict[str, Any] | None
    motion: MotionSummary
    body_in_frame_share: float | None
    framing: str
    person_height_share: float | None
    findings: list[Finding]
    score: int
    artefacts: VideoArtefacts | None = field(default=None, repr=False, compare=False)


def _limit_findings(
    probe: VideoProbe, profile: ApiProfile, orientation: Orientation, keep_sound: bool
) -> list[Finding]:
    """The profile's documented video rules; a rule it leaves undocumented (None) is skipped."""
    name = probe.path.name
    out = file_limit_findings(
        "video", name, file_format=probe.container, shown_format=probe.container,
        accepted=profile.video_containers, size_bytes=probe.size_bytes,
        max_bytes=profile.video_max_bytes,
        format_note=profile.provenance("video_containers"),
        size_note=profile.provenance("video_max_bytes"),
    )  # fmt: skip
    longest = profile.max_duration_s(orientation)
    if probe.duration_s > longest + 1e-3:
        out.append(Finding(
            "video.too_long", "block",
            f"{name} lasts {probe.duration_s:.1f} s; with orientation {orientation} the API takes "
            f"at most {longest:.0f} s (prepare trims it to the best window)",
            round(probe.duration_s, 3), longest, "s",
        ))  # fmt: skip
    if probe.duration_s < profile.video_min_duration_s - 1e-3:
        out.append(Finding(
            "video.too_short", "block",
            f"{name} lasts {probe.duration_s:.2f} s; the API needs at least "
            f"{profile.video_min_duration_s:.0f} s{profile.provenance('video_min_duration_s')}",
            round(probe.duration_s, 3), profile.video_min_duration_s, "s",
        ))  # fmt: skip
    short, long_ = min(probe.width, probe.height), max(probe.width, probe.height)
    least, most = profile.video_min_side_px, profile.video_max_side_px
    if (least is not None and short < least) or (most is not None and long_ > most):
        rule = f"{least or 0}-{most}" if most is not None else f"at least {least}"
        out.append(Finding(
            "video.resolution", "block",
            f"{name} is {probe.width}x{probe.height} px; each side must be {rule} px"
            f"{profile.provenance('video_min_side_px', 'video_max_side_px')}",
            f"{probe.width}x{probe.height}", rule, "px",
        ))  # fmt: skip
    if keep_sound and not probe.has_audio:
        out.append(Finding(
            "video.no_audio", "warn",
            f"{name} has no audio track but keep_original_sound is on (use --no-sound)",
            "no audio", "an audio track",
        ))  # fmt: skip
    return out


def _torso_length(pose: BodyPose) -> float:
    shoulders = (pose.points_px[11] + pose.points_px[12]) / 2
    hips = (pose.points_px[23] + pose.points_px[24]) / 2
    if pose.visibility[23] >= 0.5 and pose.visibility[24] >= 0.5:
        return max(1.0, float(np.linalg.norm(hips - shoulders)))
    # Shoulder centre to hip centre is about 1.25 shoulder widths in adults.
    return max(1.0, 1.25 * pose.shoulder_width_px())


def measure_motion(poses: list[tuple[float, BodyPose | None]], t: Thresholds) -> MotionSummary:
    """Limb speeds relative to the torso between consecutive samples (camera motion and the
    body's own travel cancel out), in torso lengths per second."""
    medians: list[float] = []
    fast = 0
    timeline: list[tuple[float, float]] = []
    for (t0, a), (t1, b) in itertools.pairwise(poses):
        if a is None or b is None or not 0 < t1 - t0 <= MOTION_MAX_GAP_S:
            continue
        centre_a = (a.points_px[11] + a.points_px[12]) / 2
        centre_b = (b.points_px[11] + b.points_px[12]) / 2
        scale = (_torso_length(a) + _torso_length(b)) / 2
        speeds = {}
        for i in _LIMBS:
            if (
                a.visibility[i] < t.landmark_min_visibility
                or b.visibility[i] < t.landmark_min_visibility
            ):
                continue
            moved = (b.points_px[i] - centre_b) - (a.points_px[i] - centre_a)
            speeds[i] = float(np.linalg.norm(moved)) / scale / (t1 - t0)
        if not speeds:
            continue
        median = float(np.median(list(speeds.values())))
        medians.append(median)
        timeline.append((round(t1, 3), round(median, 3)))
        extremities = [speeds[i] for i in _EXTREMITIES if i in speeds]
        if extremities and max(extremities) > t.fast_motion_speed:
            fast += 1
    spread = _range_of_motion(poses, t)
    if not medians:
        return MotionSummary(None, spread, None, timeline)
    return MotionSummary(float(np.median(medians)), spread, fast / len(medians), timeline)


def _range_of_motion(poses: list[tuple[float, BodyPose | None]], t: Thresholds) -> float | None:
    """Median over limb points of the RMS distance from their mean position (relative to the
    shoulder centre, in torso lengths), over the samples where each point is seen."""
    spreads = []
    for i in _LIMBS:
        rel = [
            (p.points_px[i] - (p.points_px[11] + p.points_px[12]) / 2) / _torso_length(p)
            for _, p in poses
            if p is not None and p.visibility[i] >= t.landmark_min_visibility
        ]
        if len(rel) >= 3:
            points = np.asarray(rel)
            spreads.append(float(np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())))
    return float(np.median(spreads)) if spreads else None


def _locate_cuts(path: Path, scan: CutScan, fps: float, thumb_width: int) -> list[CutMark]:
    marks = []
    for cut in scan.cuts:
        frame = cut.frame
        if cut.frame - cut.frame_before > 1:
            frames = decode_thumbs(
                path, cut.frame_before, cut.frame, fps=fps, thumb_width=thumb_width
            )
            if len(frames) >= 2:
                frame = locate_cut([i for i, _ in frames], [th for _, th in frames])
        marks.append(CutMark(time_s=round(frame / fps, 3), frame=frame))
    return marks


def _camera(
    samples: list[SampledFrame],
    timeline: list[VideoSample],
    proposals: list[list[PersonBox]],
    cuts: list[CutMark],
) -> dict[str, Any] | None:
    """The camera's motion in each shot (tracking across a cut means nothing); the shot whose
    camera moves most is reported. The person is masked out by the box of their landmarks
    where the pose was read, widened so that hair, loose clothing and limbs outside the seen
    landmarks do not pass for background; a sample between reads takes the box of the nearest
    read within `MOTION_MAX_GAP_S`, since the detector's own box (a square around the whole
    body's circle) covers most of a close shot and would leave no background to track. Other
    people proposed by the detector are masked by their own boxes; a proposal centred inside
    the main person's widened box is that person again."""
    from kling_prep.vision.camera import estimate_camera_motion

    boxes = _person_boxes(timeline)
    bounds = [0.0, *(c.time_s for c in cuts), math.inf]
    worst: dict[str, Any] | None = None
    worst_speed = -1.0
    for start, end in itertools.pairwise(bounds):
        shot = [
            (s, b, p)
            for s, b, p in zip(samples, boxes, proposals, strict=False)
            if start <= s.time_s < end
        ]
        if len(shot) < 3:
            continue
        # The background is tracked at about 320 px wide: its measures are shares of the frame,
        # so the size changes nothing but the cost.
        scale = min(1.0, CAMERA_WIDTH_PX / shot[0][0].rgb.shape[1])
        frames = [(s.time_s, _grey(s.rgb, scale)) for s, _, _ in shot]
        mains = [_widen(b, s.rgb.shape[1], s.rgb.shape[0]) for s, b, _ in shot]
        others = [
            [_scaled_box(p.box, scale) for p in people if not _centred_in(p, main)]
            for (_, _, people), main in zip(shot, mains, strict=True)
        ]
        motion = estimate_camera_motion(
            frames, [_scaled(b, scale) for b in mains], others
        ).as_dict()
        speed = max(
            abs(float(motion.get("pan_pct_per_s_median") or 0.0)),
            abs(float(motion.get("tilt_pct_per_s_median") or 0.0)),
            abs(float(motion.get("zoom_pct_per_s_median") or 0.0)),
        )
        if speed > worst_speed:
            worst, worst_speed = motion, speed
    return worst


def _person_boxes(timeline: list[VideoSample]) -> list[tuple[int, int, int, int] | None]:
    """Per sample, the main person's landmark box: its own where the pose was read, else the
    nearest read one within `MOTION_MAX_GAP_S` (the same person, seen still there), else the
    detector's box."""
    read = [(s.time_s, s.main_box) for s in timeline if s.pose_read and s.main_box is not None]
    out: list[tuple[int, int, int, int] | None] = []
    for s in timeline:
        if s.pose_read or s.main_box is None or not read:
            out.append(s.main_box)
            continue
        gap_s, box = min((abs(t - s.time_s), b) for t, b in read)
        out.append(box if gap_s <= MOTION_MAX_GAP_S else s.main_box)
    return out


def _centred_in(person: PersonBox, box: tuple[int, int, int, int] | None) -> bool:
    if box is None:
        return False
    x, y, w, h = box
    return x <= person.x + person.w / 2 <= x + w and y <= person.y + person.h / 2 <= y + h


def _scaled_box(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    return (int(box[0] * scale), int(box[1] * scale), int(box[2] * scale), int(box[3] * scale))


def _grey(rgb: NDArray[Any], scale: float) -> NDArray[np.uint8]:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.asarray(grey, dtype=np.uint8)


def _scaled(
    box: tuple[int, int, int, int] | None, scale: float
) -> tuple[int, int, int, int] | None:
    return None if box is None else _scaled_box(box, scale)


def _widen(
    box: tuple[int, int, int, int] | None, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The box grown by half its size on each side and down to the frame's bottom edge; upwards
    by half its larger side, since a head-and-shoulders box ends at the eyes and the hair above
    reaches about half the shoulders' width."""
    if box is None:
        return None
    x, y, w, h = box
    x0, y0 = max(0, int(x - 0.5 * w)), max(0, int(y - 0.5 * max(w, h)))
    x1 = min(width, int(x + 1.5 * w))
    return (x0, y0, max(1, x1 - x0), max(1, height - y0))


def _analyse_sample(
    frame: SampledFrame, proposed: list[PersonBox], kit: VisionKit, t: Thresholds
) -> tuple[VideoSample, BodyPose | None, PersonBox | None]:
    """People (from the detector's proposals), pose, face view and framing of one sample."""
    people = confirm_people(frame.rgb, proposed, lambda: kit.pose)
    main = people[0] if people else None
    pose = main.pose if main else None
    others = [] if main is None else _counted_others(people[1:], main, t)
    ratios = [r for _, r in others]
    face = kit.face.estimate(frame.rgb, pose) if main is not None else None
    share = None
    box = main.detection.box if main else None
    if pose is not None:
        x, y, w, h = pose.bbox_px(min_visibility=t.landmark_min_visibility)
        share = max(0.0, min(frame.rgb.shape[0], y + h) - max(0.0, y)) / frame.rgb.shape[0]
        box = (int(x), int(y), int(w), int(h))
    sample = VideoSample(
        time_s=round(frame.time_s, 3), frame=frame.index,
        people=0 if main is None else 1 + sum(r >= t.other_person_block_ratio for r in ratios),
        background_people=sum(t.other_person_warn_ratio <= r < t.other_person_block_ratio for r in ratios),
        pose_read=True,
        face_view=face.view if face else None,
        yaw_deg=None if face is None or face.yaw_deg is None else round(face.yaw_deg, 1),
        is_body_in_frame=pose is not None and not {"head", "shoulders"} & set(pose.out_of_frame_parts()),
        framing=framing_of(pose, min_visibility=t.landmark_min_visibility),
        person_height_share=None if share is None else round(share, 3),
        main_box=box,
        other_boxes=tuple(p.detection.box for p, _ in others),
    )  # fmt: skip
    return sample, pose, main.detection if main else None


def _counted_others(
    people: list[Person], main: Person, t: Thresholds
) -> list[tuple[Person, float]]:
    """The people counted beside the main one, with their size beside it: rivals, and smaller
    people down to the warn ratio. A smaller person whose head is the main person's own hand
    is that hand (`is_on_hand_of`); a rival of comparable size is never dropped by that rule."""
    out = []
    for person in people:
        ratio = relative_size(person, main)
        if ratio >= t.other_person_block_ratio or (
            ratio >= t.other_person_warn_ratio
            and not is_on_hand_of(person, main, t.landmark_min_visibility)
        ):
            out.append((person, ratio))
    return out


def _is_still_there(proposed: list[PersonBox], last: PersonBox | None) -> bool:
    """One proposal, where the person confirmed in the sample before stood: half a second
    later the hips have moved less than a body radius and the body's size by under half."""
    if last is None or len(proposed) != 1:
        return False
    now = proposed[0]
    moved = math.hypot(now.hip_x - last.hip_x, now.hip_y - last.hip_y)
    grown = now.body_radius_px / max(1e-6, last.body_radius_px)
    return moved < last.body_radius_px and 2 / 3 <= grown <= 1.5


def _person_only_sample(frame: SampledFrame, person: PersonBox) -> VideoSample:
    return VideoSample(
        time_s=round(frame.time_s, 3), frame=frame.index, people=1, background_people=0,
        pose_read=False, face_view=None, yaw_deg=None, is_body_in_frame=None, framing="unknown",
        person_height_share=None, main_box=person.box,
    )  # fmt: skip


class VideoDecoding:
    """The one decode of a video and the people proposed in each sample, started in two
    threads ahead of the rest of the analysis.

    Starting them first lets the decoder and the person detector run while the caller loads
    the other models and checks the image (the detector here is a graph of its own, so the
    image check can use the kit's). The detector and the pose landmarker release the GIL, so
    proposing people for the next samples while the landmarker reads this one keeps both cores
    busy. Tiles (small people side by side, `TILES_EVERY`) cost two more detector passes, so
    they are looked at every 2 s; the whole frame is read on every sample. `close()` stops
    both threads and waits for them, whatever happened.
    """

    def __init__(
        self, path: Path, kit: VisionKit, *, on_share: Callable[[float], None] | None = None
    ) -> None:
        """Probe the video and start decoding it and proposing people.

        Raises:
            UnsupportedMediaError: no video stream.
        """
        self.path = path
        self.probe = probe_video(path)
        self.fps = self.probe.fps or 25.0
        self.thumb_width = 64
        self.cut_detector = CutDetector(self.fps)
        self._kit = kit
        self._samples: queue.SimpleQueue[SampledFrame | None] = queue.SimpleQueue()
        self._proposals: queue.SimpleQueue[
            tuple[SampledFrame, list[PersonBox]] | BaseException | None
        ]
        self._proposals = queue.SimpleQueue()
        self._stop = threading.Event()
        self._outcome: dict[str, Any] = {}
        self._on_share = on_share
        self._threads = [
            threading.Thread(target=self._decode, name="kling-prep-decode", daemon=True),
            threading.Thread(target=self._detect, name="kling-prep-detect", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _decode(self) -> None:
        try:
            self._outcome["scan"] = scan_video(
                self.path, sample_fps=SAMPLE_FPS, max_side_px=SAMPLE_MAX_SIDE_PX,
                thumb_width=self.thumb_width, on_thumb=self.cut_detector.push,
                on_progress=self._on_share, rotation_deg=self.probe.rotation_deg,
                on_sample=self._samples.put, stop=self._stop,
            )  # fmt: skip
        except BaseException as exc:  # re-raised in the analysing thread by result()
            self._outcome["error"] = exc
        finally:
            self._samples.put(None)

    def _detect(self) -> None:
        try:
            detector = self._kit.video_detector
            n = 0
            while (frame := self._samples.get()) is not None:
                if self._stop.is_set():
                    continue  # drain to the decoder's end mark
                boxes = detector.detect(frame.rgb, use_tiles=n % TILES_EVERY == 0)
                self._proposals.put((frame, boxes))
                n += 1
        except BaseException as exc:  # re-raised in the consuming thread
            self._stop.set()
            self._proposals.put(exc)
        finally:
            self._proposals.put(None)

    def proposals(self) -> Iterator[tuple[SampledFrame, list[PersonBox]]]:
        """Each sample in order with the people proposed in it, as soon as both are ready."""
        while (item := self._proposals.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def result(self) -> VideoScan:
        """The finished scan.

        Raises:
            MediaDecodeError: nothing could be decoded.
        """
        for thread in self._threads:
            thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        scan: VideoScan = self._outcome["scan"]
        return scan

    @property
    def expected_samples(self) -> int:
        return max(1, math.ceil(self.probe.duration_s * SAMPLE_FPS))

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> VideoDecoding:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_video(
    path: Path,
    *,
    profile: ApiProfile,
    thresholds: Thresholds,
    kit: VisionKit,
    orientation: Orientation,
    keep_sound: bool,
    allow_no_face: bool = False,
    on_progress: Callable[[float], None] | None = None,
    display_name: str | None = None,
    decoding: VideoDecoding | None = None,
) -> VideoReport:
    """Probe, decode once, analyse and judge a reference video.

    Args:
        decoding: the video's decode and person proposals, already started (see
            `VideoDecoding`); started here when None. Either way it is closed here.

    Raises:
        UnsupportedMediaError: no video stream.
        MediaDecodeError: nothing could be decoded.
    """
    t = thresholds
    name = display_name or path.name
    with contextlib.ExitStack() as stack:
        # 1. Probe and decode once (a thread): every frame's thumbnail to the cut detector,
        #    samples to the analysis as they arrive.
        if decoding is None:
            decoding = VideoDecoding(path, kit)
        stack.callback(decoding.close)
        probe = decoding.probe
        fps = decoding.fps
        findings = _limit_findings(probe, profile, orientation, keep_sound)
        # 2. People proposed in a thread of their own; poses and face views read here.
        samples: list[VideoSample] = []
        poses: list[tuple[float, BodyPose | None]] = []
        expected = decoding.expected_samples
        crowd_looks = 0
        last: PersonBox | None = None  # the main person confirmed in the sample before
        before: tuple[SampledFrame, list[PersonBox]] | None = None  # that sample, unread
        proposals: list[list[PersonBox]] = []  # every sample's people, for the camera's mask
        for n, (frame, proposed) in enumerate(decoding.proposals()):
            proposals.append(proposed)
            is_still_there = _is_still_there(proposed, last)
            if not POSE_READS[n % len(POSE_READS)] and is_still_there:
                sample, pose, last = _person_only_sample(frame, proposed[0]), None, proposed[0]
                samples.append(sample)
                before = (frame, proposed)
            else:
                if not is_still_there and before is not None:
                    # The people changed here: read the sample before too, so the change is
                    # placed within half a second, not within the gap since the last read.
                    samples[-1], earlier, _ = _analyse_sample(*before, kit, t)
                    poses.append((before[0].time_s, earlier))
                sample, pose, last = _analyse_sample(frame, proposed, kit, t)
                if sample.people == 0 and n % TILES_EVERY == 0 and crowd_looks < CROWD_LOOKS:
                    crowd_looks += 1
                    crowd = kit.people_finder.find_crowd(frame.rgb)
                    if crowd:
                        boxes = tuple(p.detection.box for p in crowd)
                        sample = replace(sample, people=len(crowd), other_boxes=boxes)
                poses.append((frame.time_s, pose))
                samples.append(sample)
                before = None
            if on_progress is not None:
                on_progress(min(0.95, 0.95 * len(samples) / expected))
        scan = decoding.result()
    cut_scan = decoding.cut_detector.finish()
    cuts = _locate_cuts(path, cut_scan, fps, decoding.thumb_width)
    # 3. Camera and the person's own motion.
    camera = _camera(scan.samples, samples, proposals, cuts)
    motion = measure_motion(poses, t)
    if on_progress is not None:
        on_progress(1.0)
    # 4. Findings.
    findings += _timeline_findings(name, samples, t, allow_no_face)
    findings += _cut_findings(name, cuts, cut_scan)
    findings += _motion_findings(name, motion, camera, t)
    seconds = math.ceil(probe.duration_s) or 1
    per_second = [0] * seconds
    for s in samples:
        second = min(seconds - 1, int(s.time_s))
        per_second[second] = max(per_second[second], s.people)
    with_person = [s for s in samples if s.people > 0 and s.pose_read]
    framings = Counter(s.framing for s in with_person)
    heights = [s.person_height_share for s in with_person if s.person_height_share is not None]
    return VideoReport(
        path=str(path), container=probe.container, video_codec=probe.video_codec,
        width=probe.width, height=probe.height, fps=round(probe.fps, 3),
        duration_s=round(probe.duration_s, 3), frame_count=probe.frame_count,
        size_bytes=probe.size_bytes, has_audio=probe.has_audio, rotation_deg=probe.rotation_deg,
        color_transfer=probe.color_transfer, people_per_second=per_second, samples=samples,
        cuts=cuts,
        transitions=[
            TransitionSpan(tr.kind, round(tr.start_s, 3), round(tr.end_s, 3), tr.start_frame, tr.end_frame)
            for tr in cut_scan.transitions
        ],
        camera=camera, motion=motion,
        body_in_frame_share=(
            round(sum(bool(s.is_body_in_frame) for s in with_person) / len(with_person), 3)
            if with_person else None
        ),
        framing=framings.most_common(1)[0][0] if framings else "unknown",
        person_height_share=round(float(np.median(heights)), 3) if heights else None,
        findings=findings, score=score_from(findings),
        artefacts=VideoArtefacts(
            samples=scan.samples,
            cut_scores=[
                (round(i / fps, 3), round(sc, 4))
                for i, sc in zip(cut_scan.frame_indices, cut_scan.scores, strict=False)
            ],
            poses=poses,
        ),
    )  # fmt: skip


def _timeline_findings(
    name: str, samples: list[VideoSample], t: Thresholds, allow_no_face: bool
) -> list[Finding]:
    out: list[Finding] = []
    if not samples:
        return out
    total = len(samples)
    multi = [s for s in samples if s.people > 1]
    if len(multi) >= t.multi_person_min_samples:
        out.append(Finding(
            "video.multiple_people", "block",
            f"{name}: {max(s.people for s in multi)} people of comparable size at "
            f"{_times(multi)}; the API wants one person throughout",
            len(multi), t.multi_person_min_samples, "samples",
        ))  # fmt: skip
    elif multi:
        out.append(Finding(
            "video.multiple_people", "warn",
            f"{name}: a second person of comparable size in one sample, at {_times(multi)}",
            1, t.multi_person_min_samples, "samples",
        ))  # fmt: skip
    background = [s for s in samples if s.background_people > 0]
    if len(background) >= t.multi_person_min_samples:
        out.append(Finding(
            "video.background_person", "warn",
            f"{name}: a smaller person in the background at {_times(background)}",
            len(background), 1, "samples",
        ))  # fmt: skip
    nobody = [s for s in samples if s.people == 0]
    if nobody:
        share = len(nobody) / total
        out.append(Finding(
            "video.no_person", "block" if share >= t.no_person_block_share else "warn",
            f"{name}: nobody in {share:.0%} of the samples, at {_times(nobody)} (blocks from "
            f"{t.no_person_block_share:.0%})",
            round(share, 3), t.no_person_block_share, "share of samples",
        ))  # fmt: skip
    # Body and face are judged on the samples where the pose was read.
    present = [s for s in samples if s.people > 0 and s.pose_read]
    outside = [s for s in present if not s.is_body_in_frame]
    if present and len(outside) / len(present) >= t.leaves_frame_warn_share:
        share = len(outside) / len(present)
        out.append(Finding(
            "video.person_leaves_frame", "warn",
            f"{name}: the head or shoulders are out of frame in {share:.0%} of the samples, at "
            f"{_times(outside)} (warn from {t.leaves_frame_warn_share:.0%})",
            round(share, 3), t.leaves_frame_warn_share, "share of samples",
        ))  # fmt: skip
    hidden = [s for s in present if s.face_view == "no_face"]
    if present and len(hidden) / len(present) > t.video_face_hidden_warn_share:
        share = len(hidden) / len(present)
        out.append(Finding(
            "video.face_hidden", "warn",
            f"{name}: no face seen in {share:.0%} of the samples (warn over "
            f"{t.video_face_hidden_warn_share:.0%})",
            round(share, 3), t.video_face_hidden_warn_share, "share of samples",
        ))  # fmt: skip
    return out


def _cut_findings(name: str, cuts: list[CutMark], scan: CutScan) -> list[Finding]:
    out = []
    if cuts:
        out.append(Finding(
            "video.scene_cut", "block",
            f"{name}: {len(cuts)} hard cut(s) at "
            f"{', '.join(f'{c.time_s:.2f} s (frame {c.frame})' for c in cuts)}; the API wants "
            "one continuous shot (prepare picks a window without a cut)",
            len(cuts), 0, "cuts",
        ))  # fmt: skip
    if scan.transitions:
        spans = ", ".join(f"{tr.kind} {tr.start_s:.2f}-{tr.end_s:.2f} s" for tr in scan.transitions)
        out.append(Finding(
            "video.transition", "block",
            f"{name}: gradual transition(s): {spans}; the API wants one continuous shot",
            len(scan.transitions), 0, "transitions",
        ))  # fmt: skip
    return out


def _motion_findings(
    name: str, motion: MotionSummary, camera: dict[str, Any] | None, t: Thresholds
) -> list[Finding]:
    out = []
    if motion.range_of_motion is not None and motion.range_of_motion < t.low_motion_range:
        out.append(Finding(
            "video.low_motion", "warn",
            f"{name}: the limbs stay within {motion.range_of_motion:.2f} torso lengths of their "
            f"mean position (RMS; warn under {t.low_motion_range:.2f}): little motion to transfer",
            round(motion.range_of_motion, 3), t.low_motion_range, "torso lengths",
        ))  # fmt: skip
    if motion.fast_share is not None and motion.fast_share > 0.25:
        out.append(Finding(
            "video.fast_motion", "warn",
            f"{name}: hands or feet faster than {t.fast_motion_speed:.0f} torso lengths/s in "
            f"{motion.fast_share:.0%} of the intervals: fast action is followed poorly",
            round(motion.fast_share, 3), 0.25, "share of intervals",
        ))  # fmt: skip
    # A background tracked in under half the intervals (plain walls) says nothing reliable.
    tracked = float(camera.get("tracked_fraction") or 0.0) if camera else 0.0
    if camera and tracked >= t.camera_min_tracked_share:
        parts = []
        # Medians: a camera that moves most of the time, not one bump.
        pan = float(camera.get("pan_pct_per_s_median") or 0.0)
        tilt = float(camera.get("tilt_pct_per_s_median") or 0.0)
        zoom = float(camera.get("zoom_pct_per_s_median") or 0.0)
        shake = float(camera.get("shake_pct") or 0.0)
        if max(abs(pan), abs(tilt)) >= t.camera_pan_warn_pct_per_s:
            parts.append(f"pans/tilts {max(abs(pan), abs(tilt)):.0f}% of the frame a second")
        if abs(zoom) >= t.camera_zoom_warn_pct_per_s:
            parts.append(f"zooms {zoom:+.0f}%/s")
        if shake >= t.camera_shake_warn_pct:
            parts.append(f"shakes {shake:.1f}% of the diagonal")
        if parts:
            out.append(Finding(
                "video.camera_motion", "warn",
                f"{name}: the camera {', '.join(parts)} (warn from {t.camera_pan_warn_pct_per_s:.0f}"
                f"%/s pan, {t.camera_zoom_warn_pct_per_s:.0f}%/s zoom, {t.camera_shake_warn_pct}% "
                "shake); consider orientation image",
                round(max(abs(pan), abs(tilt)), 2), t.camera_pan_warn_pct_per_s, "% of frame/s",
            ))  # fmt: skip
    return out


def _times(samples: list[VideoSample]) -> str:
    shown = ", ".join(f"{s.time_s:.1f} s" for s in samples[:6])
    return shown + (f" and {len(samples) - 6} more" if len(samples) > 6 else "")
