"""The video checks on generated clips with known answers: people over time, cuts, length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kling_prep.checks.thresholds import Thresholds
from kling_prep.checks.video import check_video
from kling_prep.limits import get_profile
from kling_prep.media.synthetic import FPS, studio, sway_frames, write_mp4


def _check(path: Path, kit, orientation="video", keep_sound=True):
    return check_video(
        path, profile=get_profile(), thresholds=Thresholds(), kit=kit,
        orientation=orientation, keep_sound=keep_sound,
    )  # fmt: skip


def _codes(report) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}


@pytest.fixture(scope="module")
def sway(astronaut, astronaut_mask):
    return sway_frames(astronaut, astronaut_mask, 4.0, (360, 480))


def test_one_swaying_person_passes(kit, samples):
    report = _check(samples / "reference.mp4", kit)
    assert report.people_per_second == [1] * 6
    assert report.cuts == []
    assert report.transitions == []
    assert "block" not in _codes(report).values()
    assert report.motion.range_of_motion is not None
    assert report.motion.range_of_motion > Thresholds().low_motion_range


def test_a_cut_is_found_at_its_frame(kit, samples):
    report = _check(samples / "bad" / "cut.mp4", kit)
    assert len(report.cuts) == 1
    assert abs(report.cuts[0].frame - 3 * FPS) <= 2
    assert _codes(report)["video.scene_cut"] == "block"


def test_length_limits_follow_the_orientation(kit, sway, clip_dir):
    path = clip_dir / "twelve.mp4"
    write_mp4(path, sway * 3, with_audio=False)  # 12 s
    assert "video.too_long" not in _codes(_check(path, kit, "video", keep_sound=False))
    assert _codes(_check(path, kit, "image", keep_sound=False))["video.too_long"] == "block"


def test_a_clip_under_three_seconds_is_too_short(kit, sway, clip_dir):
    path = clip_dir / "short.mp4"
    write_mp4(path, sway[: 2 * FPS])
    assert _codes(_check(path, kit))["video.too_short"] == "block"


def test_missing_audio_warns_only_when_sound_is_kept(kit, sway, clip_dir):
    path = clip_dir / "silent.mp4"
    write_mp4(path, sway, with_audio=False)
    assert _codes(_check(path, kit, keep_sound=True))["video.no_audio"] == "warn"
    assert "video.no_audio" not in _codes(_check(path, kit, keep_sound=False))


def test_a_second_person_entering_blocks_and_is_timed(kit, astronaut, astronaut_mask, clip_dir):
    alone = sway_frames(astronaut, astronaut_mask, 2.0, (360, 480))
    pair = [
        np.concatenate([f, f[:, ::-1]], axis=1)
        for f in sway_frames(astronaut, astronaut_mask, 2.0, (360, 480))
    ]
    alone = [np.concatenate([f, studio(360, 480, (200, 196, 188))], axis=1) for f in alone]
    path = clip_dir / "second-person.mp4"
    write_mp4(path, alone + pair)
    report = _check(path, kit)
    assert _codes(report)["video.multiple_people"] == "block"
    assert report.people_per_second[:2] == [1, 1]
    assert report.people_per_second[2:] == [2, 2]
    # The pose is read once a second and wherever the people change; in between, the one
    # person confirmed half a second before is counted, and nothing else is claimed.
    first_pair = next(s for s in report.samples if s.people == 2)
    assert first_pair.pose_read
    assert all(s.pose_read for s in report.samples[::2])
    skipped = [s for s in report.samples if not s.pose_read]
    assert skipped
    for s in skipped:
        assert s.people == 1
        assert (s.face_view, s.yaw_deg, s.is_body_in_frame) == (None, None, None)


def test_nobody_in_half_the_clip_blocks(kit, sway, clip_dir):
    empty = [studio(360, 480, (200, 196, 188))] * (2 * FPS)
    path = clip_dir / "empty-half.mp4"
    write_mp4(path, sway[: 2 * FPS] + empty)
    report = _check(path, kit)
    assert _codes(report)["video.no_person"] == "block"
    assert report.people_per_second[-1] == 0


def test_a_still_person_is_low_motion(kit, astronaut, astronaut_mask, clip_dir):
    still = sway_frames(astronaut, astronaut_mask, 0.05, (360, 480))[:1] * (4 * FPS)
    path = clip_dir / "still.mp4"
    write_mp4(path, still)
    assert _codes(_check(path, kit))["video.low_motion"] == "warn"


@pytest.mark.shared_media
@pytest.mark.parametrize("name", ["talk-gestures.mp4", "boy-walking.mp4", "dance-fullbody.mp4"])
def test_real_footage_shows_one_person_and_no_cut(kit, shared_media, name):
    report = _check(shared_media / name, kit)
    assert set(report.people_per_second) == {1}
    assert report.cuts == []
    codes = _codes(report)
    assert "video.multiple_people" not in codes
    assert "video.scene_cut" not in codes


def test_a_failing_analysis_stops_the_decoder_and_leaves_no_thread(
    kit, sway, clip_dir, monkeypatch
):
    import threading

    import kling_prep.checks.video as video_check
    from kling_prep.checks.video import VideoDecoding

    path = clip_dir / "for-failure.mp4"
    write_mp4(path, sway)

    def broken(*args, **kwargs):
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(video_check, "_analyse_sample", broken)
    decoding = VideoDecoding(path, kit)
    with pytest.raises(RuntimeError, match="analysis failed"):
        check_video(
            path, profile=get_profile(), thresholds=Thresholds(), kit=kit, orientation="video",
            keep_sound=False, decoding=decoding,
        )  # fmt: skip
    names = {t.name for t in threading.enumerate()}
    assert not names & {"kling-prep-decode", "kling-prep-detect"}


def test_the_decode_and_the_analysis_report_progress_to_the_end(kit, sway, clip_dir):
    from kling_prep.preflight import check

    path = clip_dir / "progress.mp4"
    write_mp4(path, sway)
    seen: dict[str, list[float]] = {}
    check(
        video=path,
        kit=kit,
        on_progress=lambda stage, share: seen.setdefault(stage, []).append(share),
    )
    assert seen["decoding"][-1] == 1.0
    assert seen["video"][-1] == 1.0
    assert seen["video"] == sorted(seen["video"])
