"""The video's judgement from a hand-built analysis: no model, no file, no decode.

`video_findings` is a pure function of a `VideoAnalysis` and the thresholds, so each rule is
tested here on the values it reads, with the threshold table's own numbers on either side.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kling_prep.checks.thresholds import Thresholds
from kling_prep.checks.video import video_findings, video_report
from kling_prep.media.probe import VideoProbe
from kling_prep.vision.camera import CameraMotion
from kling_prep.vision.cuts import Transition
from kling_prep.vision.motion import MotionSummary
from kling_prep.vision.timeline import CutMark, VideoSample
from kling_prep.vision.video import VideoAnalysis

PROBE = VideoProbe(
    path=Path("clip.mp4"), container="mp4", size_bytes=1_000_000, duration_s=4.0, width=720,
    height=1280, coded_width=720, coded_height=1280, rotation_deg=0, fps=30.0, frame_count=120,
    video_codec="h264", pixel_format="yuv420p", color_transfer="bt709", has_audio=False,
    audio_codec="",
)  # fmt: skip


def sample(time_s: float, people: int = 1, **changes: object) -> VideoSample:
    base = VideoSample(
        time_s=time_s, frame=round(30 * time_s), people=people, background_people=0,
        pose_read=True, face_view="frontal" if people else None, yaw_deg=0.0 if people else None,
        is_body_in_frame=bool(people), framing="upper_body" if people else "unknown",
        person_height_share=0.6 if people else None, main_box=(100, 100, 200, 400) if people else None,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def camera(pan: float, tracked: float, shake: float = 0.1) -> CameraMotion:
    return CameraMotion(
        pan_pct_per_s_median=pan, pan_pct_per_s_max=pan, tilt_pct_per_s_median=0.0,
        tilt_pct_per_s_max=0.0, zoom_pct_per_s_median=0.0, zoom_pct_per_s_max=0.0,
        rotation_deg_per_s_median=0.0, rotation_deg_per_s_max=0.0, shake_pct=shake,
        tracked_fraction=tracked, intervals=[],
    )  # fmt: skip


def analysis(**changes: object) -> VideoAnalysis:
    """A still, well-framed, one-person clip that breaks no rule; `changes` break some."""
    base = VideoAnalysis(
        probe=PROBE, samples=[sample(i / 2) for i in range(8)], poses=[], cuts=[],
        transitions=[], cut_scores=[], camera=camera(0.0, 1.0),
        motion=MotionSummary(0.5, 0.3, 0.0, []), frames=[],
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def codes(a: VideoAnalysis, t: Thresholds | None = None) -> dict[str, str]:
    return {f.code: f.severity for f in video_findings(a, "clip.mp4", t or Thresholds())}


def test_a_clean_analysis_has_no_finding() -> None:
    assert codes(analysis()) == {}


def test_fast_motion_warns_over_the_tables_share_and_follows_an_override() -> None:
    t = Thresholds()
    over = analysis(motion=MotionSummary(1.0, 0.3, t.fast_motion_warn_share + 0.05, []))
    at = analysis(motion=MotionSummary(1.0, 0.3, t.fast_motion_warn_share, []))
    assert codes(over) == {"video.fast_motion": "warn"}
    assert codes(at) == {}
    lenient = t.with_overrides({"fast_motion_warn_share": 0.5})
    assert codes(over, lenient) == {}
    (finding,) = video_findings(over, "clip.mp4", t)
    assert finding.threshold == t.fast_motion_warn_share


def test_low_motion_warns_under_the_range() -> None:
    still = analysis(motion=MotionSummary(0.1, Thresholds().low_motion_range - 0.01, 0.0, []))
    assert codes(still) == {"video.low_motion": "warn"}


@pytest.mark.parametrize(
    ("pan", "tracked", "expected"),
    [
        (6.0, 0.8, {"video.camera_motion": "warn"}),  # a pan, well tracked
        (6.0, 0.4, {}),  # the same pan, tracked in under half the intervals: unsaid
        (4.0, 0.8, {}),  # under 5 %/s
    ],
)
def test_camera_motion_is_judged_on_a_well_tracked_background(
    pan: float, tracked: float, expected: dict[str, str]
) -> None:
    assert codes(analysis(camera=camera(pan, tracked))) == expected


def test_no_camera_measure_says_nothing() -> None:
    assert codes(analysis(camera=None)) == {}


def test_people_over_time() -> None:
    two = [sample(i / 2, people=2 if i in (3, 4) else 1) for i in range(8)]
    one = [sample(i / 2, people=2 if i == 3 else 1) for i in range(8)]
    nobody = [sample(i / 2, people=0 if i < 2 else 1) for i in range(8)]
    assert codes(analysis(samples=two)) == {"video.multiple_people": "block"}
    assert codes(analysis(samples=one)) == {"video.multiple_people": "warn"}
    # Two of eight samples (25 %) with nobody: over the 20 % that blocks.
    assert codes(analysis(samples=nobody)) == {"video.no_person": "block"}


def test_cuts_and_transitions_block() -> None:
    fade = Transition("fade_out", 30, 45, 1.0, 1.5)
    found = codes(analysis(cuts=[CutMark(2.0, 60)], transitions=[fade]))
    assert found == {"video.scene_cut": "block", "video.transition": "block"}


def test_the_report_summarises_the_analysis() -> None:
    a = analysis(samples=[sample(i / 2, people=2 if i == 7 else 1) for i in range(8)])
    report = video_report(PROBE.path, a, video_findings(a, "clip.mp4", Thresholds()))
    assert report.people_per_second == [1, 1, 1, 2]
    assert report.camera == a.camera
    assert report.framing == "upper_body"
    assert report.score == 88  # one warning
