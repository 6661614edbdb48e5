"""Judgement of the reference video: the API's limits, people over time, face view over time,
body in frame, cuts and transitions, the camera's own motion, and the person's motion.

vision/video.py measures the video into one typed `VideoAnalysis`; the functions here compare
it with the thresholds and say what is wrong (`video_findings`), testable from a hand-built
analysis without any model.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kling_prep.checks.findings import Finding, file_limit_findings, score_from
from kling_prep.checks.thresholds import Thresholds
from kling_prep.limits import ApiProfile, Orientation
from kling_prep.media.frames import SampledFrame
from kling_prep.media.probe import VideoProbe
from kling_prep.vision.camera import CameraMotion
from kling_prep.vision.cuts import Transition
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.motion import MotionSummary, measure_motion
from kling_prep.vision.pose import BodyPose
from kling_prep.vision.timeline import (
    MOTION_MAX_GAP_S,
    POSE_READS,
    SAMPLE_FPS,
    CutMark,
    TransitionSpan,
    VideoSample,
)
from kling_prep.vision.video import VideoAnalysis, VideoDecoding, analyse_video

if TYPE_CHECKING:
    from kling_prep.settings import Settings

# Re-exported: the plan, the report and their tests read these names here.
__all__ = [
    "MOTION_MAX_GAP_S",
    "POSE_READS",
    "SAMPLE_FPS",
    "CutMark",
    "MotionSummary",
    "TransitionSpan",
    "VideoArtefacts",
    "VideoReport",
    "VideoSample",
    "check_video",
    "measure_motion",
    "video_findings",
]


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
    camera: CameraMotion | None
    motion: MotionSummary
    body_in_frame_share: float | None
    framing: str
    person_height_share: float | None
    findings: list[Finding]
    score: int
    artefacts: VideoArtefacts | None = field(default=None, repr=False, compare=False)


def check_video(
    path: Path,
    *,
    settings: Settings,
    kit: VisionKit,
    orientation: Orientation,
    keep_sound: bool,
    on_progress: Callable[[float], None] | None = None,
    decoding: VideoDecoding | None = None,
) -> VideoReport:
    """Probe, decode once, analyse and judge a reference video (its findings name it by
    `path`'s file name).

    Args:
        settings: the profile (the API's file rules) and the thresholds.
        decoding: the video's decode and person proposals, already started (see
            `VideoDecoding`); started here when None. Either way it is closed here.

    Raises:
        UnsupportedMediaError: no video stream.
        MediaDecodeError: nothing could be decoded.
    """
    thresholds = settings.thresholds
    analysis = analyse_video(decoding or VideoDecoding(path, kit), kit, thresholds, on_progress)
    findings = _limit_findings(analysis.probe, settings.profile, orientation, keep_sound)
    findings += video_findings(analysis, path.name, thresholds)
    return video_report(path, analysis, findings)


def video_findings(analysis: VideoAnalysis, name: str, t: Thresholds) -> list[Finding]:
    """What the analysis breaks of the thresholds (the API's file rules apart): people and
    face over time, cuts and transitions, the person's and the camera's motion."""
    return [
        *_timeline_findings(name, analysis.samples, t),
        *_cut_findings(name, analysis.cuts, analysis.transitions),
        *_motion_findings(name, analysis.motion, t),
        *_camera_findings(name, analysis.camera, t),
    ]


def video_report(path: Path, analysis: VideoAnalysis, findings: list[Finding]) -> VideoReport:
    """The report of a judged analysis: the probe's facts, the timeline and its summaries."""
    probe, samples = analysis.probe, analysis.samples
    with_person = [s for s in samples if s.people > 0 and s.pose_read]
    framings = Counter(s.framing for s in with_person)
    heights = [s.person_height_share for s in with_person if s.person_height_share is not None]
    return VideoReport(
        path=str(path), container=probe.container, video_codec=probe.video_codec,
        width=probe.width, height=probe.height, fps=round(probe.fps, 3),
        duration_s=round(probe.duration_s, 3), frame_count=probe.frame_count,
        size_bytes=probe.size_bytes, has_audio=probe.has_audio, rotation_deg=probe.rotation_deg,
        color_transfer=probe.color_transfer,
        people_per_second=_people_per_second(probe, samples), samples=samples,
        cuts=analysis.cuts, transitions=[_span(tr) for tr in analysis.transitions],
        camera=analysis.camera, motion=analysis.motion,
        body_in_frame_share=(
            round(sum(bool(s.is_body_in_frame) for s in with_person) / len(with_person), 3)
            if with_person else None
        ),
        framing=framings.most_common(1)[0][0] if framings else "unknown",
        person_height_share=round(float(np.median(heights)), 3) if heights else None,
        findings=findings, score=score_from(findings),
        artefacts=VideoArtefacts(
            samples=analysis.frames, cut_scores=analysis.cut_scores, poses=analysis.poses
        ),
    )  # fmt: skip


def _people_per_second(probe: VideoProbe, samples: list[VideoSample]) -> list[int]:
    """The most people of comparable size seen in each second of the video."""
    seconds = math.ceil(probe.duration_s) or 1
    per_second = [0] * seconds
    for s in samples:
        second = min(seconds - 1, int(s.time_s))
        per_second[second] = max(per_second[second], s.people)
    return per_second


def _span(tr: Transition) -> TransitionSpan:
    return TransitionSpan(
        tr.kind, round(tr.start_s, 3), round(tr.end_s, 3), tr.start_frame, tr.end_frame
    )


def _limit_findings(
    probe: VideoProbe, profile: ApiProfile, orientation: Orientation, keep_sound: bool
) -> list[Finding]:
    """The profile's documented video rules; a rule it leaves undocumented (None) is skipped."""
    name = probe.path.name
    out = file_limit_findings(
        "video", name, file_format=probe.container, shown_format=probe.container,
        size_bytes=probe.size_bytes, profile=profile,
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


def _timeline_findings(name: str, samples: list[VideoSample], t: Thresholds) -> list[Finding]:
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


def _cut_findings(name: str, cuts: list[CutMark], transitions: list[Transition]) -> list[Finding]:
    out = []
    if cuts:
        out.append(Finding(
            "video.scene_cut", "block",
            f"{name}: {len(cuts)} hard cut(s) at "
            f"{', '.join(f'{c.time_s:.2f} s (frame {c.frame})' for c in cuts)}; the API wants "
            "one continuous shot (prepare picks a window without a cut)",
            len(cuts), 0, "cuts",
        ))  # fmt: skip
    if transitions:
        spans = ", ".join(f"{tr.kind} {tr.start_s:.2f}-{tr.end_s:.2f} s" for tr in transitions)
        out.append(Finding(
            "video.transition", "block",
            f"{name}: gradual transition(s): {spans}; the API wants one continuous shot",
            len(transitions), 0, "transitions",
        ))  # fmt: skip
    return out


def _motion_findings(name: str, motion: MotionSummary, t: Thresholds) -> list[Finding]:
    out = []
    if motion.range_of_motion is not None and motion.range_of_motion < t.low_motion_range:
        out.append(Finding(
            "video.low_motion", "warn",
            f"{name}: the limbs stay within {motion.range_of_motion:.2f} torso lengths of their "
            f"mean position (RMS; warn under {t.low_motion_range:.2f}): little motion to transfer",
            round(motion.range_of_motion, 3), t.low_motion_range, "torso lengths",
        ))  # fmt: skip
    if motion.fast_share is not None and motion.fast_share > t.fast_motion_warn_share:
        out.append(Finding(
            "video.fast_motion", "warn",
            f"{name}: hands or feet faster than {t.fast_motion_speed:.0f} torso lengths/s in "
            f"{motion.fast_share:.0%} of the intervals: fast action is followed poorly",
            round(motion.fast_share, 3), t.fast_motion_warn_share, "share of intervals",
        ))  # fmt: skip
    return out


def _camera_findings(name: str, camera: CameraMotion | None, t: Thresholds) -> list[Finding]:
    # A background tracked in under half the intervals (plain walls) says nothing reliable.
    if camera is None or camera.tracked_fraction < t.camera_min_tracked_share:
        return []
    # Medians: a camera that moves most of the time, not one bump.
    pan = camera.pan_pct_per_s_median or 0.0
    tilt = camera.tilt_pct_per_s_median or 0.0
    zoom = camera.zoom_pct_per_s_median or 0.0
    shake = camera.shake_pct or 0.0
    parts = []
    if max(abs(pan), abs(tilt)) >= t.camera_pan_warn_pct_per_s:
        parts.append(f"pans/tilts {max(abs(pan), abs(tilt)):.0f}% of the frame a second")
    if abs(zoom) >= t.camera_zoom_warn_pct_per_s:
        parts.append(f"zooms {zoom:+.0f}%/s")
    if shake >= t.camera_shake_warn_pct:
        parts.append(f"shakes {shake:.1f}% of the diagonal")
    if not parts:
        return []
    return [Finding(
        "video.camera_motion", "warn",
        f"{name}: the camera {', '.join(parts)} (warn from {t.camera_pan_warn_pct_per_s:.0f}"
        f"%/s pan, {t.camera_zoom_warn_pct_per_s:.0f}%/s zoom, {t.camera_shake_warn_pct}% "
        "shake); consider orientation image",
        round(max(abs(pan), abs(tilt)), 2), t.camera_pan_warn_pct_per_s, "% of frame/s",
    )]  # fmt: skip


def _times(samples: list[VideoSample]) -> str:
    shown = ", ".join(f"{s.time_s:.1f} s" for s in samples[:6])
    return shown + (f" and {len(samples) - 6} more" if len(samples) > 6 else "")
