"""The video checks on generated clips with known answers: people over time, cuts, length."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from kling_prep.checks.thresholds import Thresholds
from kling_prep.checks.video import check_video
from kling_prep.media.synthetic import FPS, studio, sway_frames, write_mp4
from kling_prep.settings import Settings
from kling_prep.vision.motion import measure_motion
from kling_prep.vision.pose import BodyPose
from kling_prep.vision.timeline import MOTION_MAX_GAP_S, POSE_READS


def _check(path: Path, kit, orientation="video", keep_sound=True):
    return check_video(
        path, settings=Settings(), kit=kit, orientation=orientation, keep_sound=keep_sound
    )


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
    # The pose is read on the samples `POSE_READS` marks and wherever the people change; in
    # between, the one person seen half a second before is counted, and nothing else is claimed.
    first_pair = next(s for s in report.samples if s.people == 2)
    assert first_pair.pose_read
    marked = [s for i, s in enumerate(report.samples) if POSE_READS[i % len(POSE_READS)]]
    assert all(s.pose_read for s in marked)
    skipped = [s for s in report.samples if not s.pose_read]
    assert skipped
    for s in skipped:
        assert s.people == 1
        assert (s.face_view, s.yaw_deg, s.is_body_in_frame) == (None, None, None)


def _swinging_pose(time_s: float, phase: float, amplitude: float) -> BodyPose:
    """A standing body 100 px from shoulders to hips whose elbows, wrists, knees and ankles
    swing sideways by `amplitude` torso lengths at 1 Hz (a walking stride), `phase` cycles in."""
    points = np.zeros((33, 2), np.float32)
    points[[11, 12]] = [[190, 100], [210, 100]]  # shoulders
    points[[23, 24]] = [[192, 200], [208, 200]]  # hips
    rest = {13: (180, 150), 14: (220, 150), 15: (175, 195), 16: (225, 195),
            25: (190, 260), 26: (210, 260), 27: (190, 320), 28: (210, 320)}  # fmt: skip
    swing = amplitude * 100 * np.sin(2 * np.pi * (time_s + phase))
    for i, (x, y) in rest.items():
        points[i] = (x + swing * (1 if i % 2 else -1), y)
    ones = np.ones(33, np.float32)
    return BodyPose(points, ones, ones, np.zeros((33, 3), np.float32), 400, 400)


def test_poses_are_read_at_times_that_do_not_hide_a_stride(kit, sway, clip_dir):
    """Limbs swinging at 1 Hz by 0.3 torso lengths, at eight phases around the cycle. Read at
    the times the check reads poses (pairs half a second apart), the swing shows at most
    phases: the two reads of a pair see it half a cycle apart, so only a swing that crosses
    its middle at those very instants hides. Read exactly once a second it hides at every
    phase: each read sees the same point of the cycle."""
    path = clip_dir / "sway-reads.mp4"
    write_mp4(path, sway)
    report = _check(path, kit)
    times = [s.time_s for s in report.samples if s.pose_read]
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(times)}
    assert min(gaps) == pytest.approx(0.5, abs=0.05)
    t = Thresholds()

    def shows(read_times: list[float], phase: float) -> bool:
        motion = measure_motion([(ts, _swinging_pose(ts, phase, 0.3)) for ts in read_times], t)
        assert motion.range_of_motion is not None
        return motion.range_of_motion >= t.low_motion_range

    phases = [k / 8 for k in range(8)]
    assert sum(shows(times, phase) for phase in phases) >= 6
    assert sum(shows([0.0, 1.0, 2.0, 3.0], phase) for phase in phases) == 0
    # Speeds come from the half-second gaps only.
    seen = measure_motion([(ts, _swinging_pose(ts, 0.25, 0.3)) for ts in times], t)
    read_before = dict(zip(times[1:], times, strict=False))
    assert seen.intervals
    assert all(end - read_before[end] <= MOTION_MAX_GAP_S for end, _ in seen.intervals)


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


@pytest.mark.shared_media
def test_a_walking_cartoon_is_read_on_its_own_body(kit, shared_media):
    """The boy's pose is read on the crop of the body the detector found: read on the whole
    frame, or tracked from such a read, his skeleton shrank onto his large head (torso half its
    length) and its jitter passed for limbs swinging 1.6 torso lengths. A walk swings wrists
    and ankles by a few tenths of a torso length (RMS spread half that), so the median limb's
    spread stays well under one."""
    report = _check(shared_media / "boy-walking.mp4", kit)
    assert report.motion.range_of_motion is not None
    assert report.motion.range_of_motion < 0.6
    assert "video.low_motion" not in _codes(report)


def test_a_failing_analysis_stops_the_decoder_and_leaves_no_thread(
    kit, sway, clip_dir, monkeypatch
):
    import threading

    import kling_prep.vision.video as video_measures
    from kling_prep.vision.video import VideoDecoding

    path = clip_dir / "for-failure.mp4"
    write_mp4(path, sway)

    def broken(*args, **kwargs):
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(video_measures, "_analyse_sample", broken)
    decoding = VideoDecoding(path, kit)
    with pytest.raises(RuntimeError, match="analysis failed"):
        check_video(
            path, settings=Settings(), kit=kit, orientation="video", keep_sound=False,
            decoding=decoding,
        )  # fmt: skip
    names = {t.name for t in threading.enumerate()}
    assert not names & {"kling-prep-decode", "kling-prep-detect"}


def test_the_decode_and_the_analysis_report_progress_to_the_end(kit, sway, clip_dir):
    from kling_prep.preflight import CheckRequest, check

    path = clip_dir / "progress.mp4"
    write_mp4(path, sway)
    seen: dict[str, list[float]] = {}
    check(
        CheckRequest(video=path),
        kit=kit,
        on_progress=lambda stage, share: seen.setdefault(stage, []).append(share),
    )
    assert seen["decoding"][-1] == 1.0
    assert seen["video"][-1] == 1.0
    assert seen["video"] == sorted(seen["video"])


@pytest.mark.shared_media
def test_a_raised_hand_is_never_a_background_person(kit, shared_media):
    """A talk-show host holds an open hand up beside his face: the tiled look (every 2 s)
    anchored a face on the hand in 11 of the clip's 106 frames and the landmarker drew a small
    body from it, so whether `video.background_person` came out depended on which frames the
    tiled samples hit (a window cut a few frames earlier or later, copied or re-encoded, said
    otherwise). Every frame is looked at here, so no sampling phase can hide the answer."""
    import av
    import cv2

    from kling_prep.media.frames import SampledFrame
    from kling_prep.vision.video import SAMPLE_MAX_SIDE_PX, _analyse_sample

    t = Thresholds()
    with av.open(str(shared_media / "talk-gestures.mp4")) as container:
        for index, decoded in enumerate(itertools.islice(container.decode(video=0), 48)):
            rgb = decoded.to_ndarray(format="rgb24")
            scale = SAMPLE_MAX_SIDE_PX / max(rgb.shape[:2])
            size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
            rgb = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
            frame = SampledFrame(index=index, time_s=index / 30, rgb=rgb)
            proposed = kit.video_detector.detect(rgb, use_tiles=True)
            sample, _, _ = _analyse_sample(frame, proposed, kit, t)
            assert (sample.people, sample.background_people) == (1, 0), f"frame {index}"


def test_a_smaller_person_beside_the_character_is_still_reported(
    kit, astronaut, astronaut_mask, clip_dir
):
    # The same figure at a third of the main one's height, standing apart on the right, for
    # 6 s: a real background person, whom the raised-hand rule must not hide. (Sizes are
    # compared by the detector's body radius, which swings with the sway: some samples may
    # rank it a rival; most must see it as the smaller person it is.)
    main = sway_frames(astronaut, astronaut_mask, 6.0, (360, 480))
    small = sway_frames(astronaut, astronaut_mask, 6.0, (120, 160), mirror=True)
    frames = []
    for big, little in zip(main, small, strict=True):
        right = studio(360, 480, (200, 196, 188))
        right[480 - 160 :, 100:220] = little
        frames.append(np.concatenate([big, right], axis=1))
    path = clip_dir / "background-person.mp4"
    write_mp4(path, frames, with_audio=False)
    report = _check(path, kit, keep_sound=False)
    assert _codes(report)["video.background_person"] == "warn"
    seen = [s for s in report.samples if s.background_people]
    assert len(seen) >= 3
    assert all(s.other_boxes for s in seen)
