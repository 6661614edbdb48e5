"""Trimming and normalizing the video (kling_prep.media.transcode) on generated clips whose
answers are known: rotation, variable frame rate with audio sync, 10-bit HLG, stream copy or
not, and failures that leave no file under the final name."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from kling_prep.errors import FFmpegFailedError
from kling_prep.limits import get_profile
from kling_prep.media import transcode
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.probe import probe_video
from kling_prep.media.synthetic import FPS, sway_frames, write_mp4
from kling_prep.media.transcode import VideoTarget, normalize_video

PROFILE = get_profile()


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            out.append((float(frame.pts * frame.time_base), frame.to_ndarray(format="rgb24")))
    return out


def _audio(path: Path) -> tuple[int, np.ndarray]:
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            chunks.append(frame.to_ndarray().reshape(frame.to_ndarray().shape[0], -1)[0])
    return rate, np.concatenate(chunks)


@pytest.fixture(scope="module")
def compliant(astronaut, astronaut_mask, clip_dir) -> Path:
    """4 s, 360x480, 24 fps H.264 High yuv420p + AAC: what the API takes as it is."""
    path = clip_dir / "compliant.mp4"
    write_mp4(path, sway_frames(astronaut, astronaut_mask, 4.0, (360, 480)))
    return path


def test_a_compliant_clip_from_a_keyframe_is_stream_copied(compliant, tmp_path):
    result = normalize_video(
        compliant, tmp_path / "out.mp4", VideoTarget(0.0, 4.0), profile=PROFILE
    )
    assert result.path_taken == "stream_copy"
    assert result.copy_blockers == []
    assert "stream_copy" in [s.action for s in result.steps]
    probe = probe_video(result.path)
    assert (probe.width, probe.height, probe.video_codec) == (360, 480, "h264")
    assert probe.has_audio
    assert abs(probe.duration_s - 4.0) <= 1 / FPS + 1e-3


@pytest.mark.parametrize("window", [(0.0, 4.0), (1.3, 4.0)], ids=["stream-copy", "re-encode"])
def test_a_prepared_video_gets_the_users_normal_file_mode(compliant, tmp_path, window):
    umask = os.umask(0o022)
    try:
        result = normalize_video(
            compliant, tmp_path / "out.mp4", VideoTarget(*window), profile=PROFILE
        )
    finally:
        os.umask(umask)
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o644


def test_a_window_between_keyframes_is_re_encoded_frame_accurately(compliant, tmp_path):
    result = normalize_video(
        compliant, tmp_path / "out.mp4", VideoTarget(1.3, 4.0), profile=PROFILE
    )
    assert result.path_taken == "re_encode"
    assert any("not on a keyframe" in b for b in result.copy_blockers)
    frames = _frames(result.path)
    # The window starts on frame round(1.3 * 24) = 31 and runs to the end: 96 - 31 frames.
    assert len(frames) == 96 - 31
    source = _frames(compliant)
    diff = np.abs(frames[0][1].astype(int) - source[31][1].astype(int)).mean()
    neighbour = np.abs(frames[0][1].astype(int) - source[33][1].astype(int)).mean()
    assert diff < neighbour


def test_a_rotated_phone_clip_comes_out_upright(compliant, clip_dir, tmp_path):
    rotated = clip_dir / "rotated.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-display_rotation", "90", "-i", str(compliant),
         "-c", "copy", str(rotated)],
        check=True,
    )  # fmt: skip
    probe = probe_video(rotated)
    assert probe.rotation_deg in (90, 270)
    assert (probe.width, probe.height) == (480, 360)
    result = normalize_video(rotated, tmp_path / "up.mp4", VideoTarget(0.0, 4.0), profile=PROFILE)
    assert result.path_taken == "re_encode"
    assert "rotate" in [s.action for s in result.steps]
    out = probe_video(result.path)
    assert out.rotation_deg == 0
    assert (out.width, out.height) == (480, 360)
    # The pixels are what a player shows for the rotated clip: the coded frame turned.
    coded = _frames(compliant)[0][1]
    turned = np.rot90(coded, k=1 if probe.rotation_deg == 90 else -1)
    shown = _frames(result.path)[0][1]
    assert np.abs(shown.astype(int) - turned.astype(int)).mean() < 8
    assert np.abs(shown.astype(int) - turned[::-1, ::-1].astype(int)).mean() > 20


def _vfr_clip(path: Path) -> list[float]:
    """3.5 s of grey with white flashes, frames 25 or 50 ms apart, and a click in the audio at
    each flash's exact time. Returns the flash times."""
    flashes = [1.0, 2.5]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 480, 360, "yuv420p"
        video.time_base = Fraction(1, 1000)
        video.codec_context.time_base = Fraction(1, 1000)
        audio = out.add_stream("aac", rate=48000)
        t_ms, i = 0, 0
        while t_ms < 3500:
            is_flash = any(abs(t_ms - f * 1000) < 1 for f in flashes)
            rgb = np.full((360, 480, 3), 255 if is_flash else 60, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
            i += 1
            t_ms += 25 if i % 3 else 50
            for f in flashes:  # land a frame exactly on each flash
                if t_ms < f * 1000 < t_ms + 50:
                    t_ms = int(f * 1000)
        for packet in video.encode():
            out.mux(packet)
        rate = 48000
        sound = np.zeros(int(rate * 3.5), np.float32)
        for f in flashes:
            sound[int(f * rate) : int(f * rate) + 480] = 0.8
        for start in range(0, len(sound), 1024):
            chunk = av.AudioFrame.from_ndarray(
                sound[start : start + 1024][None, :], format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return flashes


def test_a_vfr_clip_comes_out_cfr_with_audio_in_sync(clip_dir, tmp_path):
    source = clip_dir / "vfr.mp4"
    _vfr_clip(source)
    assert transcode.scan_packets(source).is_vfr
    start = 0.3
    result = normalize_video(
        source, tmp_path / "cfr.mp4", VideoTarget(start, 3.45), profile=PROFILE
    )
    assert result.path_taken == "re_encode"
    assert "constant_frame_rate" in [s.action for s in result.steps]
    scan = transcode.scan_packets(result.path)
    assert not scan.is_vfr
    intervals = np.diff(scan.frame_times_s)
    assert intervals.max() - intervals.min() < 1e-3
    frame_s = float(np.median(intervals))
    # The flash's frame and the click must line up within one frame.
    frames = _frames(result.path)
    flash_times = [t for t, rgb in frames if rgb.mean() > 200]
    rate, sound = _audio(result.path)
    loud = np.flatnonzero(np.abs(sound) > 0.3) / rate
    clicks = [loud[0], *(b for a, b in itertools.pairwise(loud) if b - a > 0.5)]
    assert len(flash_times) >= 2
    assert len(clicks) == 2
    offsets = [abs(clicks[0] - flash_times[0]), abs(clicks[1] - flash_times[-1])]
    assert max(offsets) < frame_s, offsets
    assert abs(flash_times[0] - (1.0 - start)) < 1.5 * frame_s


@pytest.fixture(scope="module")
def hlg(clip_dir) -> Path:
    """3 s of FFmpeg's test pattern as 10-bit HEVC tagged BT.2020 HLG (libx265 in the wheel)."""
    path = clip_dir / "hlg.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=480x360:rate=24:duration=3", "-c:v", "libx265", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67",
         "-colorspace", "bt2020nc", "-x265-params",
         "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
         "-tag:v", "hvc1", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("filters", ["as built", "without zscale"])
def test_a_10_bit_hlg_clip_comes_out_8_bit_bt709(hlg, tmp_path, monkeypatch, filters):
    probe = probe_video(hlg)
    assert (probe.color_transfer, probe.pixel_format) == ("arib-std-b67", "yuv420p10le")
    if filters == "without zscale":
        monkeypatch.setattr(transcode, "available_filters", lambda _binary: frozenset({"scale"}))
    result = normalize_video(hlg, tmp_path / "sdr.mp4", VideoTarget(0.0, 3.0), profile=PROFILE)
    out = probe_video(result.path)
    assert (out.video_codec, out.pixel_format, out.color_transfer) == ("h264", "yuv420p", "bt709")
    step = next(s for s in result.steps if s.action == "tone_map")
    assert ("approximation" in step.detail) == (filters == "without zscale")
    rgb = _frames(result.path)[12][1]
    assert 40 < rgb.mean() < 200  # a picture, neither black nor blown out
    assert rgb.std() > 30


def test_a_4k_clip_is_downscaled_to_1080p(clip_dir, tmp_path):
    big = clip_dir / "uhd.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=2160x3840:rate=12:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", str(big)],
        check=True,
    )  # fmt: skip
    result = normalize_video(big, tmp_path / "small.mp4", VideoTarget(0.0, 1.0), profile=PROFILE)
    assert result.path_taken == "re_encode"
    assert (result.width, result.height) == (1080, 1920)


def test_ctrl_c_during_the_encode_leaves_no_file(compliant, tmp_path):
    def interrupt(_share: float) -> None:
        raise KeyboardInterrupt

    dest = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        normalize_video(
            compliant, dest, VideoTarget(1.3, 4.0), profile=PROFILE, on_progress=interrupt
        )
    assert list(tmp_path.iterdir()) == []


def _fake_ffmpeg(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-ffmpeg"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_a_killed_ffmpeg_leaves_no_file_under_the_final_name(compliant, tmp_path):
    # Writes half a file under the temporary name, then is killed (SIGKILL), as by the OOM
    # killer or `kill -9`.
    fake = _fake_ffmpeg(tmp_path, (
        'for a in "$@"; do case "$a" in file:*.part) out="${a#file:}";; esac; done\n'
        'head -c 50000 /dev/urandom > "$out"\nkill -9 $$\n'
    ))  # fmt: skip
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(FFmpegFailedError, match="killed by signal 9"):
        normalize_video(
            compliant, out_dir / "out.mp4", VideoTarget(1.3, 4.0), profile=PROFILE, ffmpeg=fake
        )
    assert list(out_dir.iterdir()) == []


def test_an_ffmpeg_failure_carries_its_stderr_tail(compliant, tmp_path):
    fake = _fake_ffmpeg(tmp_path, 'echo "No space left on device" >&2\nexit 1\n')
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(FFmpegFailedError, match="No space left on device"):
        normalize_video(
            compliant, out_dir / "out.mp4", VideoTarget(0.0, 4.0), profile=PROFILE, ffmpeg=fake
        )
    assert list(out_dir.iterdir()) == []


def test_the_input_is_read_with_the_file_protocol_only(compliant, tmp_path):
    result = normalize_video(
        compliant, tmp_path / "out.mp4", VideoTarget(1.3, 4.0), profile=PROFILE
    )
    i = result.command.index("-protocol_whitelist")
    assert result.command[i + 1] == "file"
    assert result.command[result.command.index("-i") + 1].startswith("file:")


def test_without_sound_the_audio_is_left_out(compliant, tmp_path):
    result = normalize_video(
        compliant, tmp_path / "out.mp4", VideoTarget(0.0, 4.0, keep_sound=False), profile=PROFILE
    )
    assert result.path_taken == "stream_copy"
    assert not probe_video(result.path).has_audio
    assert "drop_audio" in [s.action for s in result.steps]
