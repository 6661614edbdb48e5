"""Stream copies that must start on a keyframe that decodes: a clip made by concatenating one
clip several times (`-f concat -c copy`) starts its video a little after its audio, so a keyframe
time read from the video stream is not the time ffmpeg's `-ss` seeks to; a copy that does not
decode falls back to a re-encode; errors name the user's file, never a temporary one."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import av
import pytest

from kling_prep.errors import KlingPrepError
from kling_prep.limits import get_profile
from kling_prep.media import transcode
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.transcode import VideoTarget, normalize_video

PROFILE = get_profile()
CLIP_FPS = 30
GOP_FRAMES = 30  # a keyframe every second


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def concatenated(clip_dir: Path) -> Path:
    """A 2 s H.264 (B-frames, a keyframe a second) + AAC clip, concatenated four times with
    the concat demuxer and `-c copy`, as a user joins clips: 8 s, the video starting about
    20 ms after the audio."""
    part = clip_dir / "part.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=360x480:rate={CLIP_FPS}",
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000", "-t", "2",
        "-c:v", "libx264", "-preset", "veryfast", "-g", str(GOP_FRAMES), "-bf", "2",
        "-pix_fmt", "yuv420p", "-c:a", "aac", str(part),
    )  # fmt: skip
    listing = clip_dir / "parts.txt"
    listing.write_text("".join(f"file '{part}'\n" for _ in range(4)))
    path = clip_dir / "long-part.mp4"
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path))
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert float((video.start_time or 0) * video.time_base) > 0.005, "no offset to test"
    return path


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_copy_of_a_concatenated_clip_starts_on_its_keyframe_and_keeps_every_frame(
    concatenated, tmp_path
):
    result = normalize_video(
        concatenated, tmp_path / "out.mp4", VideoTarget(4.0, 7.5), profile=PROFILE
    )
    assert result.path_taken == "stream_copy"
    assert abs(result.start_s - 4.0) < 0.5 / CLIP_FPS
    # The end may move back a few frames so no B-frame loses its reference (a step says so).
    assert 3.5 - 3 / CLIP_FPS <= result.end_s - result.start_s <= 3.5
    # Every copied frame is shown: none from the keyframe before the window (hidden by an edit
    # list, and counted against the frames asked for), and none missing.
    kept_frames = round((result.end_s - result.start_s) * CLIP_FPS)
    assert _decoded_frames(result.path) == kept_frames
    assert abs(result.duration_s - kept_frames / CLIP_FPS) < 0.5 / CLIP_FPS


def test_a_copy_that_does_not_decode_falls_back_to_a_re_encode(concatenated, tmp_path, monkeypatch):
    # A scan that misplaces the keyframes by the audio's head start (as this module did before
    # it knew of it): the copy then starts just before the keyframe, so ffmpeg copies from the
    # keyframe before it, and the check of the copy must catch the frames it hides.
    real_scan = transcode.scan_packets

    def misplacing_scan(path: Path) -> transcode.PacketScan:
        return dataclasses.replace(real_scan(path), seek_offset_s=0.0)

    monkeypatch.setattr(transcode, "scan_packets", misplacing_scan)
    result = normalize_video(
        concatenated, tmp_path / "out.mp4", VideoTarget(4.0, 7.5), profile=PROFILE
    )
    assert result.path_taken == "re_encode"
    assert any("stream copy" in reason and "decode" in reason for reason in result.copy_blockers)
    assert abs(_decoded_frames(result.path) - 3.5 * CLIP_FPS) <= 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_an_output_that_does_not_decode_is_named_by_the_users_file(
    concatenated, tmp_path, monkeypatch
):
    def broken_ffmpeg(args: list[str], *_: object) -> None:
        output = [a for a in args if a.startswith("file:")][-1]
        Path(output.removeprefix("file:")).write_bytes(b"\0" * 1000)

    monkeypatch.setattr(transcode, "_run", broken_ffmpeg)
    with pytest.raises(KlingPrepError) as caught:
        normalize_video(concatenated, tmp_path / "out.mp4", VideoTarget(1.3, 5.0), profile=PROFILE)
    message = str(caught.value)
    assert concatenated.name in message
    assert ".part" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_re_encoded_window_never_lasts_longer_than_the_longest_asked(concatenated, tmp_path):
    # 29.97 fps: a 3.5 s window rounded start and end apart would last one frame longer.
    source = tmp_path / "ntsc.mp4"
    _ffmpeg("-i", str(concatenated), "-r", "30000/1001", "-c:v", "libx264", "-preset",
            "veryfast", "-c:a", "copy", str(source))  # fmt: skip
    result = normalize_video(
        source, tmp_path / "out.mp4",
        VideoTarget(1.25, 4.75, max_duration_s=3.5), profile=PROFILE, allow_stream_copy=False,
    )  # fmt: skip
    assert result.duration_s <= 3.5 + 1e-3
