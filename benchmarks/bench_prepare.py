"""Benchmark `kling_prep.prepare`: a 60 s 1080p clip to a 30 s window, against the plain
`ffmpeg -ss -t -c:v libx264` command a user would otherwise write, timed in the same run and
interleaved (median of N rounds); and the stream-copy path as a multiple of real time.

Run: `.venv/bin/python benchmarks/bench_prepare.py [--rounds 3] [--workdir /tmp/kp-bench-prepare]`
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

from kling_prep.limits import get_profile
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.transcode import VideoTarget, normalize_video
from kling_prep.preflight import CheckRequest, check
from kling_prep.preparation import PrepareOptions, prepare

PROMPT = "A person moves in a plain studio, full body in view, soft even lighting"


def make_clip(path: Path, seconds: int) -> None:
    """60 s of 1080p (1920x1080, 30 fps) H.264 + AAC with a moving test pattern, keyframes
    every 2 s (so a 30 s window at a keyframe can be stream-copied)."""
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
         "-g", "60", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def plain_ffmpeg(src: Path, dest: Path, start_s: float, seconds: float) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-ss", f"{start_s}", "-t", f"{seconds}",
         "-i", str(src), "-c:v", "libx264", "-c:a", "aac", str(dest)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kp-bench-prepare-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip-60s-1080p.mp4"
    if not clip.is_file():
        make_clip(clip, 60)
    profile = get_profile()
    start_s, seconds = 12.0, 30.0  # 12 s is a keyframe (every 2 s): the copy path applies
    plain, full, encode_only, copy, analysis = [], [], [], [], []
    for n in range(args.rounds):
        # Interleaved: the plain command, then prepare's re-encode path (analysis of the input
        # and of the output included), then the encode alone, then the copy path.
        plain.append(plain_ffmpeg(clip, work / "plain.mp4", start_s + 0.5, seconds))
        t0 = time.perf_counter()
        result = prepare(PrepareOptions(
            video=clip, out_dir=work / f"prepared-{n}", start_s=start_s + 0.5,
            end_s=start_s + 0.5 + seconds, prompt=PROMPT, allow_stream_copy=False,
        ))  # fmt: skip
        full.append(time.perf_counter() - t0)
        assert result.path_taken == "re_encode"
        t0 = time.perf_counter()
        normalize_video(
            clip, work / "encode.mp4", VideoTarget(start_s + 0.5, start_s + 0.5 + seconds),
            profile=profile,
        )  # fmt: skip
        encode_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        copied = normalize_video(
            clip, work / "copy.mp4", VideoTarget(start_s, start_s + seconds), profile=profile
        )
        copy.append(time.perf_counter() - t0)
        assert copied.path_taken == "stream_copy"
        # The input's analysis, which choosing the window (instead of pinning it) adds.
        t0 = time.perf_counter()
        check(CheckRequest(video=clip))
        analysis.append(time.perf_counter() - t0)
    p, f, e, c, a = (statistics.median(x) for x in (plain, full, encode_only, copy, analysis))
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, ffmpeg {find_ffmpeg()}")  # fmt: skip
    print(f"clip: 60 s 1920x1080 30 fps H.264 (keyframes every 2 s) + AAC; window 30 s; "
          f"medians of {args.rounds} interleaved rounds")  # fmt: skip
    print(f"plain `ffmpeg -ss -t -i clip -c:v libx264 -c:a aac`: {p:.2f} s")
    print(f"prepare, re-encode path (pinned window; output check included): {f:.2f} s "
          f"= {f / p:.2f}x the plain command")  # fmt: skip
    print(f"  of which the encode (normalize_video alone): {e:.2f} s = {e / p:.2f}x")
    print(f"the input's analysis (check of the 60 s clip), added when the window is chosen: "
          f"{a:.2f} s; prepare with a chosen window ~ {(f + a) / p:.2f}x")  # fmt: skip
    print(f"normalize_video, stream-copy path: {c:.3f} s = {seconds / c:.0f}x real time")


if __name__ == "__main__":
    main()
