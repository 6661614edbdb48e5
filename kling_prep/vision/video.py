"""The measures of a reference video, filled by one decode: `VideoDecoding` decodes the file and
proposes people in two threads, `analyse_video` pushes every sample to the measures (people,
pose and face view on the timeline; the person's motion; cuts; the camera) and returns one typed
`VideoAnalysis`. Nothing here judges: the checks compare the analysis with their thresholds.

This is the one module of vision/ that reads files (through media/): the decode loop belongs
with the measures it feeds.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from kling_prep.media.frames import (
    SampledFrame,
    ScanSpec,
    VideoScan,
    decode_thumbs,
    scan_video,
)
from kling_prep.media.probe import VideoProbe, probe_video
from kling_prep.vision.camera import CameraMotion
from kling_prep.vision.camera_shots import camera_of_shots
from kling_prep.vision.cuts import CutDetector, CutScan, Transition, locate_cut
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.motion import MotionMeter, MotionSummary
from kling_prep.vision.people import (
    Person,
    PersonBox,
    confirm_people,
    is_on_hand_of,
    relative_size,
)
from kling_prep.vision.pose import BodyPose, framing_of
from kling_prep.vision.timeline import (
    POSE_READS,
    SAMPLE_FPS,
    CutMark,
    MeasureRules,
    VideoSample,
)

TILES_EVERY: Final = 4
"""The tiled look for small people side by side, every this many samples (2 s): it costs two
more detector passes; the whole frame is read on every sample."""

CROWD_LOOKS: Final = 3
"""Where a tiled sample shows nobody, a finer grid looks for a crowd of small figures (see
`ImagePeopleFinder.find_crowd`): a few such looks place a crowd that stays in view, and cap the
cost on a clip with nobody in it (each look is about twenty detector passes)."""

SAMPLE_MAX_SIDE_PX: Final = 640
"""The samples are analysed at most this many pixels on the longer side: the detectors read
224-256 px."""

THUMB_WIDTH_PX: Final = 64
"""Every decoded frame's thumbnail for the cut detector is this wide."""

Proposed = tuple[SampledFrame, list[PersonBox]]  # a sample and the people proposed in it


@dataclass(frozen=True)
class VideoAnalysis:
    """Everything measured in one video, typed: what the checks judge and the report shows."""

    probe: VideoProbe
    samples: list[VideoSample]  # the timeline: people, pose, face view and framing
    poses: list[tuple[float, BodyPose | None]]  # every pose read, in the samples' pixels
    cuts: list[CutMark]
    transitions: list[Transition]  # fades and dissolves, as the cut detector found them
    cut_scores: list[tuple[float, float]]  # (time_s, change score) for every decoded frame
    camera: CameraMotion | None  # the shot whose camera moves most; None: no shot long enough
    motion: MotionSummary
    frames: list[SampledFrame] = field(repr=False)  # the samples' pixels, for the report


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
        self.thumb_width = THUMB_WIDTH_PX
        self.cut_detector = CutDetector(self.fps)
        self._kit = kit
        self._samples: queue.SimpleQueue[SampledFrame | None] = queue.SimpleQueue()
        self._proposals: queue.SimpleQueue[Proposed | BaseException | None]
        self._proposals = queue.SimpleQueue()
        self._stop = threading.Event()
        self._scan: VideoScan | None = None
        self._error: BaseException | None = None
        self._on_share = on_share
        self._threads = [
            threading.Thread(target=self._decode, name="kling-prep-decode", daemon=True),
            threading.Thread(target=self._detect, name="kling-prep-detect", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _decode(self) -> None:
        try:
            spec = ScanSpec(
                sample_fps=SAMPLE_FPS, max_side_px=SAMPLE_MAX_SIDE_PX,
                thumb_width=self.thumb_width, rotation_deg=self.probe.rotation_deg,
            )  # fmt: skip
            self._scan = scan_video(
                self.path,
                spec,
                on_thumb=self.cut_detector.push,
                on_progress=self._on_share,
                on_sample=self._samples.put,
                stop=self._stop,
            )
        except BaseException as exc:  # re-raised in the analysing thread by result()
            self._error = exc
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

    def proposals(self) -> Iterator[Proposed]:
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
        if self._error is not None:
            raise self._error
        assert self._scan is not None  # the decode thread set one or the other
        return self._scan

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


def analyse_video(
    decoding: VideoDecoding,
    kit: VisionKit,
    rules: MeasureRules,
    on_progress: Callable[[float], None] | None = None,
) -> VideoAnalysis:
    """Measure the video `decoding` decodes: every sample to the people timeline as it
    arrives, then cuts, the camera shot by shot, and the person's motion. Closes `decoding`.

    Raises:
        MediaDecodeError: nothing could be decoded.
    """
    with decoding:
        people = PeopleTimeline(kit, rules)
        expected = decoding.expected_samples
        for proposed in decoding.proposals():
            people.push(proposed)
            if on_progress is not None:
                on_progress(min(0.95, 0.95 * len(people.samples) / expected))
        scan = decoding.result()
    cut_scan = decoding.cut_detector.finish()
    cuts = locate_cuts(decoding.path, cut_scan, decoding.fps, decoding.thumb_width)
    motion = MotionMeter(rules)
    for pose in people.poses:
        motion.push(pose)
    analysis = VideoAnalysis(
        probe=decoding.probe, samples=people.samples, poses=people.poses, cuts=cuts,
        transitions=cut_scan.transitions,
        cut_scores=[
            (round(i / decoding.fps, 3), round(sc, 4))
            for i, sc in zip(cut_scan.frame_indices, cut_scan.scores, strict=False)
        ],
        camera=camera_of_shots(scan.samples, people.samples, people.proposals, cuts),
        motion=motion.finish(), frames=scan.samples,
    )  # fmt: skip
    if on_progress is not None:
        on_progress(1.0)
    return analysis


def locate_cuts(path: Path, scan: CutScan, fps: float, thumb_width: int) -> list[CutMark]:
    """Each cut placed on its frame: where the detector saw it between two frames further
    apart than one, the frames between are decoded again and the cut found among them."""
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


class PeopleTimeline:
    """People, pose and face view over the samples, in the manner of `CutDetector`: `push`
    each sample with its proposed people, in order; the timeline grows as they come.

    The pose and face view are read on the samples `POSE_READS` marks and wherever the people
    change; in between, one proposal where the last person stood is that person (see
    `POSE_READS`). Where the people change, the sample before is read too, so the change is
    placed within half a second. Where a tiled sample shows nobody, a finer grid looks for a
    crowd (at most `CROWD_LOOKS` times).
    """

    def __init__(self, kit: VisionKit, rules: MeasureRules) -> None:
        self._kit = kit
        self._rules = rules
        self.samples: list[VideoSample] = []
        self.poses: list[tuple[float, BodyPose | None]] = []  # every pose read
        self.proposals: list[list[PersonBox]] = []  # every sample's people, for the camera
        self._crowd_looks = 0
        self._last: PersonBox | None = None  # the main person confirmed in the sample before
        self._before: Proposed | None = None  # that sample, if it was not read

    def push(self, proposed: Proposed) -> None:
        frame, people = proposed
        n = len(self.proposals)
        self.proposals.append(people)
        is_still_there = _is_still_there(people, self._last)
        if not POSE_READS[n % len(POSE_READS)] and is_still_there:
            self.samples.append(_person_only_sample(frame, people[0]))
            self._last, self._before = people[0], proposed
            return
        if not is_still_there and self._before is not None:
            # The people changed here: read the sample before too.
            self.samples[-1], earlier, _ = _analyse_sample(*self._before, self._kit, self._rules)
            self.poses.append((self._before[0].time_s, earlier))
        sample, pose, self._last = _analyse_sample(frame, people, self._kit, self._rules)
        if sample.people == 0 and n % TILES_EVERY == 0 and self._crowd_looks < CROWD_LOOKS:
            sample = self._look_for_crowd(frame, sample)
        self.poses.append((frame.time_s, pose))
        self.samples.append(sample)
        self._before = None

    def _look_for_crowd(self, frame: SampledFrame, sample: VideoSample) -> VideoSample:
        self._crowd_looks += 1
        crowd = self._kit.people_finder.find_crowd(frame.rgb)
        if not crowd:
            return sample
        boxes = tuple(p.detection.box for p in crowd)
        return replace(sample, people=len(crowd), other_boxes=boxes)


def _analyse_sample(
    frame: SampledFrame, proposed: list[PersonBox], kit: VisionKit, t: MeasureRules
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
    people: list[Person], main: Person, t: MeasureRules
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
