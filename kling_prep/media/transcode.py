"""Trimming and normalizing the reference video with the ffmpeg binary: a frame-accurate window
as H.264 (yuv420p, High profile) + AAC in MP4 with +faststart, constant frame rate, rotation
applied to the pixels, HDR tone-mapped to SDR BT.709, sides and bitrate within the API's
limits; or a stream copy when the input already complies. Written under a temporary name in
the destination folder and renamed only when complete."""

from __future__ import annotations

import functools
import itertools
import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Final, Literal

from kling_prep.errors import FFmpegFailedError, KlingPrepError, MediaDecodeError
from kling_prep.limits import ApiProfile
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.outputs import give_normal_mode
from kling_prep.media.probe import DEMUXER_WHITELIST, VideoProbe, open_media, probe_video

log = logging.getLogger(__name__)

PathTaken = Literal["stream_copy", "re_encode"]
ProgressSink = Callable[[float], None]

# H.264 profiles every decoder (browsers, phones, the API's pipeline) reads.
COMPLIANT_H264_PROFILES = frozenset({"baseline", "constrained baseline", "main", "high"})
HDR_TRANSFERS = {"arib-std-b67": "HLG", "smpte2084": "PQ"}
STANDARD_RATES = (
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(50), Fraction(60000, 1001), Fraction(60),
)  # fmt: skip
X264_PRESET = "veryfast"  # see docs/PREPARE.md: the analysis gets the time the encoder saves
X264_CRF = 18
AUDIO_BITRATE_BPS = 160_000
SIZE_MARGIN = 0.92  # aim for 92% of the size limit: the container and VBV overshoot need room
STDERR_TAIL_CHARS = 2000
OUTPUT_PLACEHOLDER = "\x00output\x00"  # replaced by the temporary path in _write

X264_THREAD_PARAMS: Final = "threads=4"
"""x264's frame threads, pinned: left to the CPUs the process may use, the same inputs encode to
other bytes on another machine or under another CPU limit (measured: `taskset -c 0` against both
cores of this one), and `submit --prepare` hashes the prepared files into the journal before it
pays, so a redo after a crash under other CPUs would not be recognised and would pay again. x264
is deterministic for a given thread count (`--non-deterministic` is off); 4 keeps 2-4 cores busy."""


@dataclass(frozen=True)
class Step:
    """One thing done to a prepared file, as data: what, why, and the values before and after."""

    action: str  # "trim", "stream_copy", "re_encode", "rotate", "tone_map", "scale", ...
    detail: str  # one sentence for people
    before: str | float | int | None = None
    after: str | float | int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "detail": self.detail,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class PacketScan:
    """The video's packets, read without decoding: keyframes, frame times, sizes."""

    keyframe_times_s: list[float]
    frame_times_s: list[float]  # presentation times, sorted, relative to the stream's start
    decode_order_s: list[float]  # the same times in decode (file) order
    is_vfr: bool
    interval_spread: float  # (max - min) frame interval / median interval
    sizes: list[tuple[float, int]]  # (time_s, bytes) of every packet, audio included
    # ffmpeg's `-ss` counts from the container's start (its earliest stream), these times from
    # the video's first frame: a clip joined with `-f concat -c copy` starts its video ~20 ms
    # after its audio, and a seek to a keyframe's time would land that much before it.
    seek_offset_s: float = 0.0

    def bytes_between(self, start_s: float, end_s: float) -> int:
        return sum(n for t, n in self.sizes if start_s - 1e-6 <= t < end_s)

    def clean_copy_end(self, start_s: float, end_s: float) -> tuple[int, float] | None:
        """The last point at or before `end_s` where a copy can stop cleanly: the first N
        packets from the keyframe at `start_s` (in decode order) are exactly the N earliest
        frames, so no B-frame is left without the frame it was predicted from.

        Returns (N frames, the end time) or None when no clean point exists.
        """
        order = self.decode_order_s
        first = next((i for i, t in enumerate(order) if abs(t - start_s) < 1e-6), None)
        if first is None:
            return None
        tail = order[first:]
        suffix_min = [math.inf] * (len(tail) + 1)
        for i in range(len(tail) - 1, -1, -1):
            suffix_min[i] = min(tail[i], suffix_min[i + 1])
        best: tuple[int, float] | None = None
        highest = -math.inf
        for n, t in enumerate(tail, start=1):
            highest = max(highest, t)
            if highest >= end_s - 1e-6:
                break
            if highest < suffix_min[n]:
                following = suffix_min[n] if math.isfinite(suffix_min[n]) else end_s
                best = (n, min(end_s, following))
        return best


@dataclass(frozen=True)
class VideoTarget:
    """What the prepared video should be."""

    start_s: float
    end_s: float
    max_height: int = 1080  # the shorter side's limit ("1080p" names it for portrait and landscape)
    keep_sound: bool = True
    # The longest the output may last (the API's limit for the orientation): putting the
    # window's ends on the frame grid must not add the frame that crosses it.
    max_duration_s: float | None = None


@dataclass(frozen=True)
class TranscodeResult:
    path: Path
    path_taken: PathTaken
    steps: list[Step]
    start_s: float
    end_s: float
    width: int
    height: int
    fps: float
    duration_s: float
    size_bytes: int
    copy_blockers: list[str] = field(default_factory=list)  # why a stream copy was not possible
    tone_map_method: str | None = None
    command: list[str] = field(default_factory=list, repr=False)


@functools.cache
def available_filters(binary: str) -> frozenset[str]:
    """The filter names this ffmpeg binary was built with (`ffmpeg -filters`)."""
    try:
        out = subprocess.run(
            [binary, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FFmpegFailedError(f"{binary} -filters could not run: {exc}") from exc
    names = set()
    for line in out.stdout.splitlines():
        match = re.match(r"^\s*[A-Z.|]{2,3}\s+(\S+)\s+\S+->\S+", line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def scan_packets(path: Path) -> PacketScan:
    """Demux (no decode) every packet: keyframe times, frame times, bytes per moment.

    Raises:
        MediaDecodeError: the container cannot be read.
    """
    import av

    times: list[float] = []
    order: list[float] = []
    keyframes: list[float] = []
    sizes: list[tuple[float, int]] = []
    try:
        with open_media(path) as container:
            video = container.streams.video[0]
            v_base = float(video.time_base or 0)
            v_start = float(video.start_time or 0) * v_base
            container_start_s = (container.start_time or 0) / 1e6
            streams = [video, *container.streams.audio[:1]]
            for packet in container.demux(streams):
                if packet.pts is None or packet.size == 0:
                    continue
                base = float(packet.time_base or 0)
                t = float(packet.pts) * base - v_start
                sizes.append((t, packet.size))
                if packet.stream.index == video.index:
                    times.append(t)
                    order.append(t)
                    if packet.is_keyframe:
                        keyframes.append(t)
    except av.error.FFmpegError as exc:
        raise MediaDecodeError(f"{path}: packets could not be read ({exc})") from exc
    times = sorted(times)
    intervals = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    spread = 0.0
    is_vfr = False
    if len(intervals) >= 2:
        median = intervals[len(intervals) // 2]
        spread = (intervals[-1] - intervals[0]) / median if median > 0 else 0.0
        # Container rounding moves a CFR frame by a tick at most; phones vary by 5-50%.
        off = sum(abs(d - median) > 0.1 * median for d in intervals)
        is_vfr = off > max(1, len(intervals) // 100)
    return PacketScan(
        sorted(keyframes), times, order, is_vfr, round(spread, 3), sizes,
        seek_offset_s=max(0.0, v_start - container_start_s),
    )  # fmt: skip


def output_size(
    width: int, height: int, *, max_short_px: int, profile: ApiProfile
) -> tuple[int, int]:
    """Even sides within the profile's range, the shorter side at most `max_short_px`."""
    short, long_ = min(width, height), max(width, height)
    # A side the profile does not bound (None) is bounded by nothing but max_short_px.
    least, most = profile.video_min_side_px or 0, profile.video_max_side_px or long_
    factor = min(1.0, max_short_px / short, most / long_)
    if short * factor < least:
        factor = least / short
    w = max(2, 2 * math.floor(width * factor / 2 + 0.5))
    h = max(2, 2 * math.floor(height * factor / 2 + 0.5))
    # Rounding to even must not fall under the minimum.
    if min(w, h) < least:
        w, h = (w + 2, h) if w < h else (w, h + 2)
    return w, h


def cfr_rate(fps: float) -> Fraction:
    """A constant rate for the output: the nearest standard rate within 3%, else the rounded."""
    for rate in STANDARD_RATES:
        if abs(float(rate) - fps) / float(rate) <= 0.03:
            return rate
    return Fraction(max(1, round(fps)))


def copy_blockers(
    probe: VideoProbe,
    scan: PacketScan,
    target: VideoTarget,
    profile: ApiProfile,
    h264_profile: str,
) -> list[str]:
    """Every reason why the window cannot be stream-copied; empty when it can."""
    reasons = []
    if probe.container not in ("mp4", "mov"):
        reasons.append(f"container {probe.container}")
    if probe.video_codec != "h264":
        reasons.append(f"codec {probe.video_codec}")
    elif h264_profile.lower() not in COMPLIANT_H264_PROFILES:
        reasons.append(f"H.264 profile {h264_profile}")
    if probe.pixel_format != "yuv420p":
        reasons.append(f"pixel format {probe.pixel_format}")
    if probe.rotation_deg:
        reasons.append(f"rotation {probe.rotation_deg} deg in metadata")
    if probe.color_transfer in HDR_TRANSFERS:
        reasons.append(f"HDR ({HDR_TRANSFERS[probe.color_transfer]})")
    if scan.is_vfr:
        reasons.append(f"variable frame rate (intervals spread {scan.interval_spread:.0%})")
    short, long_ = min(probe.width, probe.height), max(probe.width, probe.height)
    if short > target.max_height:
        reasons.append(f"shorter side {short} px over {target.max_height} px")
    least, most = profile.video_min_side_px, profile.video_max_side_px
    if (least is not None and short < least) or (most is not None and long_ > most):
        reasons.append(f"{probe.width}x{probe.height} px outside the API's range")
    if probe.width % 2 or probe.height % 2:
        reasons.append("odd side")
    if target.keep_sound and probe.has_audio and probe.audio_codec != "aac":
        reasons.append(f"audio {probe.audio_codec}")
    fps = probe.fps or 25.0
    if not any(abs(k - target.start_s) < 0.5 / fps for k in scan.keyframe_times_s):
        reasons.append(f"the window starts at {target.start_s:.3f} s, not on a keyframe")
    window_bytes = scan.bytes_between(target.start_s, target.end_s)
    if profile.video_max_bytes is not None and window_bytes > SIZE_MARGIN * profile.video_max_bytes:
        reasons.append(f"{window_bytes / 1e6:.0f} MB in the window")
    return reasons


def _tone_map_chain(stream: Any, transfer: str, filters: frozenset[str]) -> tuple[Any, str]:
    """HLG/PQ to SDR BT.709: zscale + tonemap (Hable) when the binary has them, else the
    `colorspace` filter reading the signal as BT.2020 SDR (HLG's lower range is SDR-compatible
    by design; PQ comes out flat and dim, said in the step)."""
    if {"zscale", "tonemap"} <= filters:
        stream = (
            stream.filter("zscale", t="linear", npl=100)
            .filter("format", "gbrpf32le")
            .filter("zscale", p="bt709")
            .filter("tonemap", tonemap="hable", desat=0)
            .filter("zscale", t="bt709", m="bt709", r="tv")
            .filter("format", "yuv420p")
        )
        return stream, "zscale+tonemap (Hable), to BT.709"
    stream = stream.filter(
        "colorspace", all="bt709", itrc="bt2020-10", iprimaries="bt2020", ispace="bt2020ncl",
        format="yuv420p", fast=0,
    )  # fmt: skip
    approx = "HLG read as BT.2020 SDR" if transfer == "arib-std-b67" else "PQ read as BT.2020 SDR"
    return stream, f"approximation: colorspace filter ({approx}; no zscale/tonemap in this ffmpeg)"


def _run(args: list[str], duration_s: float, on_progress: ProgressSink | None, label: str) -> None:
    """Run ffmpeg with its progress on a pipe; any failure (or interrupt) kills it."""
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as proc,
    ):
        try:
            _follow(proc.stdout, duration_s, on_progress)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            errors.seek(0)
            tail = errors.read().decode("utf-8", "replace")[-STDERR_TAIL_CHARS:].strip()
            why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            raise FFmpegFailedError(f"ffmpeg failed on {label} ({why}): {tail or 'no output'}")


def _follow(out: IO[bytes] | None, duration_s: float, on_progress: ProgressSink | None) -> None:
    if out is None:
        return
    for raw in out:
        line = raw.decode("ascii", "replace").strip()
        if on_progress is not None and line.startswith("out_time_us=") and duration_s > 0:
            value = line.split("=", 1)[1]
            if value.lstrip("-").isdigit():
                on_progress(max(0.0, min(1.0, int(value) / 1e6 / duration_s)))


def _finish(tmp: Path, final: Path) -> None:
    """Make the complete file durable and readable as the user's files are, then give it its
    final name in one rename."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    give_normal_mode(tmp)
    os.replace(tmp, final)


@dataclass(frozen=True)
class _Input:
    """What the input video is, read once before anything is written."""

    path: Path
    probe: VideoProbe
    scan: PacketScan
    h264_profile: str

    @property
    def fps(self) -> float:
        return self.probe.fps or 25.0


@dataclass(frozen=True)
class _Job:
    """The parts of one `normalize_video` call every path of it uses."""

    binary: str
    source: _Input
    dest: Path
    target: VideoTarget
    profile: ApiProfile
    on_progress: ProgressSink | None


@dataclass
class _CopyPlan:
    """The window a stream copy would take (its start moved onto the keyframe, its end to the
    last clean stopping point), the frames it holds, and every reason it cannot be made."""

    start_s: float
    end_s: float
    blockers: list[str]
    frames: int = 0
    steps: list[Step] = field(default_factory=list)


def normalize_video(
    source: Path,
    dest: Path,
    target: VideoTarget,
    *,
    profile: ApiProfile,
    allow_stream_copy: bool = True,
    on_progress: ProgressSink | None = None,
    ffmpeg: str | None = None,
) -> TranscodeResult:
    """Write the window [target.start_s, target.end_s) of `source` to `dest` as an MP4 the API
    takes: a stream copy when the input already complies and the window starts on a keyframe,
    else a re-encode. `dest` appears only when complete.

    Args:
        source: the input video (a local file; read with the `file` protocol only).
        dest: the .mp4 to write; its folder must exist.
        target: the window, the size cap and whether the sound is kept.
        profile: the API's limits (sides, size).
        allow_stream_copy: False forces a re-encode.
        on_progress: called with the share done, 0..1.
        ffmpeg: the binary to run (the settings' `ffmpeg`); None: found as `find_ffmpeg` says.

    Returns:
        The TranscodeResult, with the path taken and every step done.

    Raises:
        MediaDecodeError / UnsupportedMediaError: the input cannot be read.
        FFmpegNotFoundError: no ffmpeg binary.
        FFmpegFailedError: ffmpeg failed (its stderr tail in the message).
    """
    binary = find_ffmpeg(ffmpeg)
    # 1. What the input is.
    src = _Input(source, probe_video(source), scan_packets(source), _h264_profile(source))
    job = _Job(binary, src, dest, target, profile, on_progress)
    # 2. The window on the frame grid, and whether a copy can take it.
    window = _grid_window(src, target)
    plan = _copy_plan(src, target, profile, window, allow_stream_copy)
    has_audio = src.probe.has_audio and target.keep_sound
    audio_steps = []
    if src.probe.has_audio and not target.keep_sound:
        audio_steps.append(
            Step("drop_audio", "audio left out: keep_original_sound is off", "audio", None)
        )
    # 3. A copy, checked to decode frame for frame before it takes the final name; a copy
    # that does not is thrown away and the window re-encoded.
    if not plan.blockers:
        copied = _stream_copy(job, plan, has_audio, audio_steps)
        if isinstance(copied, TranscodeResult):
            return copied
        log.warning("%s: the stream copy was thrown away (%s); re-encoding", source, copied)
        plan.blockers.append(f"a stream copy from {plan.start_s:.3f} s did not decode ({copied})")
        plan.start_s, plan.end_s = window
    # 4. A re-encode.
    return _re_encode(job, (plan.start_s, plan.end_s), plan.blockers, has_audio, audio_steps)


def _grid_window(src: _Input, target: VideoTarget) -> tuple[float, float]:
    """The window on the frame grid (CFR) or as given (VFR); never past the end, and never a
    frame longer than the longest allowed."""
    fps_in = src.fps
    end_s = min(target.end_s, src.probe.duration_s)
    start_s = target.start_s
    start_frame = round(target.start_s * fps_in)
    end_frame = round(end_s * fps_in)
    if not src.scan.is_vfr and end_frame > start_frame:
        longest = target.max_duration_s
        if longest is not None and (end_frame - start_frame) / fps_in > longest + 1e-3:
            end_frame = start_frame + math.floor(longest * fps_in + 1e-6)
        start_s, end_s = start_frame / fps_in, end_frame / fps_in
    return start_s, end_s


def _copy_plan(
    src: _Input,
    target: VideoTarget,
    profile: ApiProfile,
    window: tuple[float, float],
    allow_stream_copy: bool,
) -> _CopyPlan:
    """What a stream copy of `window` would be: it starts exactly on the keyframe within half a
    frame of the window's start and stops where no B-frame loses its reference."""
    start_s, end_s = window
    fps_in = src.fps
    near = [k for k in src.scan.keyframe_times_s if abs(k - start_s) < 0.5 / fps_in]
    aligned = VideoTarget(start_s, end_s, target.max_height, target.keep_sound)
    blockers = copy_blockers(src.probe, src.scan, aligned, profile, src.h264_profile)
    if not allow_stream_copy:
        blockers.append("stream copy disabled")
    plan = _CopyPlan(start_s, end_s, blockers)
    if not blockers and near:
        plan.start_s = near[0]
        clean = src.scan.clean_copy_end(plan.start_s, end_s)
        if clean is None or clean[1] - plan.start_s < profile.video_min_duration_s:
            blockers.append("no point to stop a copy cleanly before the window's end")
        else:
            plan.frames, copy_end_s = clean
            if copy_end_s < end_s - 0.5 / fps_in:
                plan.steps.append(Step(
                    "copy_end", f"end moved from {end_s:.3f} s to {copy_end_s:.3f} s, the last "
                    "frame a copy can stop at without a B-frame losing its reference",
                    round(end_s, 3), round(copy_end_s, 3),
                ))  # fmt: skip
            plan.end_s = copy_end_s
    return plan


def _stream_copy(
    job: _Job, plan: _CopyPlan, has_audio: bool, audio_steps: list[Step]
) -> TranscodeResult | str:
    """The copy written to `job.dest`, or the fault that made it unusable (nothing written)."""
    src = job.source
    plan.steps.append(Step(
        "stream_copy", "streams copied, not re-encoded: the input already complies and the "
        "window starts on a keyframe",
    ))  # fmt: skip
    out_opts: dict[str, Any] = {"c": "copy", "frames:v": plan.frames}
    start_s, end_s = plan.start_s, plan.end_s
    inp = _input(src.path, start_s + src.scan.seek_offset_s, end_s - start_s)
    streams = [inp["v:0"], *([inp["a:0"]] if has_audio else [])]
    args = _command(job.binary, streams, out_opts)
    fault = _write(
        args, src.path, job.dest, end_s - start_s, job.on_progress,
        verify=lambda written: _copy_fault(written, plan.frames),
    )  # fmt: skip
    if fault is not None:
        return fault
    steps = [
        *_trim_step(start_s, end_s, src.probe.duration_s, src.fps),
        *plan.steps,
        *audio_steps,
    ]
    return _result(job.dest, "stream_copy", steps, (start_s, end_s), src.fps, args)


def _re_encode(
    job: _Job,
    window: tuple[float, float],
    blockers: list[str],
    has_audio: bool,
    audio_steps: list[Step],
) -> TranscodeResult:
    """`window` re-encoded to H.264 High yuv420p (+ AAC) at a constant rate, within the sides
    and the size the profile allows."""
    src = job.source
    start_s, end_s = window
    duration_s = end_s - start_s
    inp = _input(src.path, max(0.0, start_s + src.scan.seek_offset_s - 1e-4), duration_s)
    steps = [Step(
        "re_encode", f"re-encoded to H.264 High yuv420p{' + AAC' if has_audio else ''} "
        f"because: {'; '.join(blockers)}",
        src.probe.video_codec, "h264",
    )]  # fmt: skip
    video, fps_out, tone_method, out_opts = _video_chain(job, inp["v:0"], steps)
    # The bitrate cap keeps the file under the API's limit with room for the audio.
    streams = [video]
    out_opts.update(_encoder_options(job, duration_s, fps_out, has_audio))
    if has_audio:
        audio = inp["a:0"].filter("aresample", **{"async": 1, "first_pts": 0})
        streams.append(audio)
        out_opts.update({"c:a": "aac", "b:a": AUDIO_BITRATE_BPS, "ac": 2})
    steps.extend(audio_steps)
    args = _command(job.binary, streams, out_opts)
    _write(args, src.path, job.dest, duration_s, job.on_progress, verify=None)
    steps = [*_trim_step(start_s, end_s, src.probe.duration_s, src.fps), *steps]
    return _result(
        job.dest, "re_encode", steps, window, fps_out, args,
        blockers=blockers, tone_method=tone_method,
    )  # fmt: skip


def _video_chain(
    job: _Job, video: Any, steps: list[Step]
) -> tuple[Any, float, str | None, dict[str, Any]]:
    """The re-encode's video filters (constant rate, tone map, scale, yuv420p), each said in
    `steps`; with the output's rate, the tone-map method and the colour options it needs."""
    probe = job.source.probe
    out_opts: dict[str, Any] = {}
    tone_method: str | None = None
    if probe.rotation_deg:
        # ffmpeg's autorotate turns the pixels before the filters below and clears the tag.
        steps.append(Step(
            "rotate", f"rotation {probe.rotation_deg} deg applied to the pixels",
            probe.rotation_deg, 0,
        ))  # fmt: skip
    fps_out = _base_rate(job.source.path, job.source.fps)
    if job.source.scan.is_vfr:
        rate = cfr_rate(job.source.fps)
        fps_out = float(rate)
        video = video.filter("fps", fps=str(rate))
        steps.append(Step(
            "constant_frame_rate", f"variable frame rate (intervals spread "
            f"{job.source.scan.interval_spread:.0%}) converted to constant {fps_out:.3f} fps",
            "vfr", round(fps_out, 3),
        ))  # fmt: skip
    if probe.color_transfer in HDR_TRANSFERS:
        video, tone_method = _tone_map_chain(
            video, probe.color_transfer, available_filters(job.binary)
        )
        steps.append(Step(
            "tone_map", f"{HDR_TRANSFERS[probe.color_transfer]} {probe.pixel_format} tone-mapped "
            f"to 8-bit SDR BT.709 ({tone_method})",
            probe.color_transfer, "bt709",
        ))  # fmt: skip
        out_opts.update(colorspace="bt709", color_primaries="bt709", color_trc="bt709")
    video = _scaled(job, video, steps)
    return video.filter("format", "yuv420p"), fps_out, tone_method, out_opts


def _scaled(job: _Job, video: Any, steps: list[Step]) -> Any:
    """`video` resized to the sides the target and the profile allow, said in `steps`."""
    probe, target, profile = job.source.probe, job.target, job.profile
    width, height = output_size(
        probe.width, probe.height, max_short_px=target.max_height, profile=profile
    )
    if (width, height) != (probe.width, probe.height):
        video = video.filter("scale", width, height, flags="bicubic")
        steps.append(Step(
            "scale", f"resized {probe.width}x{probe.height} -> {width}x{height} px "
            f"(shorter side at most {target.max_height} px, sides "
            f"{profile.video_min_side_px or 'any'}-{profile.video_max_side_px or 'any'} px)",
            f"{probe.width}x{probe.height}", f"{width}x{height}",
        ))  # fmt: skip
    return video


def _encoder_options(
    job: _Job, duration_s: float, fps_out: float, has_audio: bool
) -> dict[str, Any]:
    """x264's options: the quality, the bitrate cap under the profile's size limit and the
    frame count that keeps the output within the longest allowed."""
    out_opts: dict[str, Any] = {
        "c:v": "libx264", "preset": X264_PRESET, "crf": X264_CRF, "profile:v": "high",
        "x264-params": X264_THREAD_PARAMS, "pix_fmt": "yuv420p", "fps_mode": "cfr",
    }  # fmt: skip
    profile, target = job.profile, job.target
    if profile.video_max_bytes is not None:  # no documented limit: the CRF alone decides
        budget_bps = SIZE_MARGIN * profile.video_max_bytes * 8 / max(duration_s, 1.0)
        video_cap = int(budget_bps - (AUDIO_BITRATE_BPS if has_audio else 0))
        out_opts.update({"maxrate": video_cap, "bufsize": 2 * video_cap})
    if target.max_duration_s is not None:
        # At a constant rate ffmpeg may duplicate a frame to fill a gap (joined clips have
        # them), so the frame count, not only -t, keeps the output within the longest allowed.
        frames = round(duration_s * fps_out)
        if frames / fps_out > target.max_duration_s + 1e-3:
            frames = math.floor(target.max_duration_s * fps_out + 1e-6)
        out_opts["frames:v"] = frames
    return out_opts


def _trim_step(start_s: float, end_s: float, full_s: float, fps: float) -> list[Step]:
    if start_s <= 1e-3 and end_s >= full_s - 0.5 / fps:
        return []
    duration_s = end_s - start_s
    return [Step(
        "trim", f"kept {start_s:.3f}-{end_s:.3f} s ({duration_s:.2f} s) of {full_s:.2f} s, "
        "frame-accurate",
        round(full_s, 3), round(duration_s, 3),
    )]  # fmt: skip


def _input(source: Path, seek_s: float, duration_s: float) -> Any:
    """The input read from `seek_s` on ffmpeg's clock (the container's start) for `duration_s`,
    through the `file` protocol and the demuxers `open_media` allows only, so a crafted playlist
    cannot pull other files or URLs."""
    import ffmpeg  # ffmpeg-python: builds the argument list

    return ffmpeg.input(
        f"file:{source.resolve()}", ss=f"{seek_s:.6f}", t=f"{duration_s:.6f}",
        protocol_whitelist="file", format_whitelist=DEMUXER_WHITELIST,
    )  # fmt: skip


def _command(binary: str, streams: list[Any], out_opts: dict[str, Any]) -> list[str]:
    """The argument list, writing to a placeholder `_write` replaces with a temporary path."""
    import ffmpeg

    out = ffmpeg.output(
        *streams, "file:" + OUTPUT_PLACEHOLDER, f="mp4", movflags="+faststart", map_metadata=-1,
        **out_opts,
    )  # fmt: skip
    compiled: list[str] = out.compile(cmd=binary, overwrite_output=True)
    return [
        compiled[0], "-hide_banner", "-nostdin", "-loglevel", "warning",
        "-progress", "pipe:1", "-nostats", *compiled[1:],
    ]  # fmt: skip


def _write(
    args: list[str],
    source: Path,
    dest: Path,
    duration_s: float,
    on_progress: ProgressSink | None,
    verify: Callable[[Path], str | None] | None,
) -> str | None:
    """Run ffmpeg into a temporary name beside `dest`, read the result back, and rename it to
    `dest` only when it is whole and `verify` finds no fault.

    Returns:
        None when `dest` was written, else the fault `verify` found (nothing is left behind).

    Raises:
        FFmpegFailedError: ffmpeg failed.
        MediaDecodeError: what ffmpeg wrote cannot be read; named by the user's file.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        run_args = [a.replace(OUTPUT_PLACEHOLDER, str(tmp)) for a in args]
        log.info("ffmpeg: %s", " ".join(run_args))
        _run(run_args, duration_s, on_progress, str(source))
        fault = verify(tmp) if verify is not None else None
        if fault is None:
            try:
                probe_video(tmp)
            except KlingPrepError as exc:
                # The temporary name means nothing to the user: say which input it came from.
                reason = str(exc).replace(f"{tmp}: ", "").replace(str(tmp), dest.name)
                raise MediaDecodeError(
                    f"{source}: the video prepared from it ({dest.name}) cannot be read back: "
                    f"{reason}"
                ) from exc
            _finish(tmp, dest)
            return None
        tmp.unlink()
        return fault
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_fault(path: Path, expected_frames: int) -> str | None:
    """Why a stream copy is unusable, or None: every copied frame must decode and be shown.

    A copy started before its keyframe carries the earlier group of pictures hidden by an edit
    list (fewer frames shown than copied), or frames that reference a picture it does not hold.
    The copy is decoded whole (about 3 s for 30 s of 1080p): a partial read would miss a
    broken group of pictures later on.
    """
    import av

    shown = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                shown += 1
    except (av.error.FFmpegError, IndexError) as exc:
        return f"it cannot be decoded after {shown} frames: {exc}"
    if shown != expected_frames:
        return f"{shown} of its {expected_frames} frames decode and are shown"
    return None


def _result(
    dest: Path,
    path_taken: PathTaken,
    steps: list[Step],
    window: tuple[float, float],
    fps: float,
    args: list[str],
    *,
    blockers: list[str] | None = None,
    tone_method: str | None = None,
) -> TranscodeResult:
    written = probe_video(dest)
    start_s, end_s = window
    return TranscodeResult(
        path=dest, path_taken=path_taken, steps=steps, start_s=round(start_s, 6),
        end_s=round(end_s, 6), width=written.width, height=written.height,
        fps=round(written.fps or fps, 3), duration_s=round(written.duration_s, 3),
        size_bytes=dest.stat().st_size, copy_blockers=[] if blockers is None else blockers,
        tone_map_method=tone_method, command=args,
    )  # fmt: skip


def _h264_profile(path: Path) -> str:

    with open_media(path) as container:
        return str(container.streams.video[0].codec_context.profile or "")


def _base_rate(path: Path, fps: float) -> float:
    """The rate ffmpeg gives a constant-frame-rate output by default: the stream's base rate
    (r_frame_rate), which a joined clip's average rate can fall short of."""

    with open_media(path) as container:
        rate = container.streams.video[0].base_rate
    return float(rate) if rate else fps
