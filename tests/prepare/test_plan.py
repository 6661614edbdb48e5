"""The trim window and the orientation suggestion, on timelines with known answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kling_prep.checks.video import CutMark, MotionSummary, VideoReport, VideoSample
from kling_prep.limits import get_profile
from kling_prep.plan.orientation import suggest_orientation
from kling_prep.plan.window import NoWindow, Window, choose_window, usable_spans


def _video(
    duration_s: float, *, people: dict[float, int] | None = None, cuts=(), speed=0.5
) -> VideoReport:
    people = people or {}
    samples = []
    t = 0.0
    while t < duration_s:
        count = next((n for start, n in sorted(people.items(), reverse=True) if t >= start), 1)
        samples.append(
            VideoSample(
                t, round(t * 30), count, 0, True, "frontal", 0.0, True, "upper_body", 0.6, None
            )
        )
        t = round(t + 0.5, 3)
    motion = MotionSummary(speed, 0.3, 0.0, [(s.time_s, speed) for s in samples])
    return VideoReport(
        path="x.mp4", container="mp4", video_codec="h264", width=720, height=1280, fps=30.0,
        duration_s=duration_s, frame_count=round(duration_s * 30), size_bytes=1, has_audio=True,
        rotation_deg=0, color_transfer="bt709", people_per_second=[], samples=samples,
        cuts=[CutMark(c, round(c * 30)) for c in cuts], transitions=[], camera=None,
        motion=motion, body_in_frame_share=1.0, framing="upper_body", person_height_share=0.6,
        findings=[], score=100,
    )  # fmt: skip


def test_the_window_never_contains_a_cut_and_avoids_a_second_person():
    # 45 s: a cut at 12 s, a second person from 38 s.
    video = _video(45.0, people={38.0: 2}, cuts=(12.0,))
    window = choose_window(video, max_s=30.0, min_s=3.0)
    assert isinstance(window, Window)
    assert window.start_s >= 12.0
    assert window.end_s <= 38.0
    assert window.duration_s >= 25.0


def test_a_cut_splits_shots_without_eating_them():
    spans = usable_spans(_video(6.0, cuts=(3.0,)))
    assert spans == [(0.0, 3.0), (3.0, 6.0)]


def test_no_window_when_no_stretch_is_long_enough():
    video = _video(8.0, people={2.0: 2, 2.5: 1, 5.0: 2})
    window = choose_window(video, max_s=30.0, min_s=3.0)
    assert isinstance(window, NoWindow)
    assert "3 s" in window.reason


def test_orientation_image_allows_only_ten_seconds():
    window = choose_window(_video(20.0), max_s=10.0, min_s=3.0)
    assert isinstance(window, Window)
    assert window.duration_s == pytest.approx(10.0)


def test_a_video_over_ten_seconds_forces_orientation_video():
    suggestion = suggest_orientation(None, _video(12.0), get_profile())
    assert suggestion.value == "video"
    assert suggestion.is_forced


def test_a_moving_camera_argues_for_orientation_image():
    from kling_prep.checks.findings import Finding

    moving = replace(_video(8.0), findings=[Finding("video.camera_motion", "warn", "pans")])
    suggestion = suggest_orientation(None, moving, get_profile())
    assert suggestion.value == "image"
    assert not suggestion.is_forced
