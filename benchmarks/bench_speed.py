"""Speed of `kling-prep check` on a 30 s 1080p30 H.264 clip plus an image, as whole processes,
against one full decode of the same clip by the ffmpeg binary timed in the same run.

Measured, interleaved round by round (a b c d e, a b c d e, ...) after one warm-up round:
  (a) `ffmpeg -threads 0 -i clip.mp4 -f null -` with the imageio-ffmpeg wheel's binary: baseline
  (b) `kling-prep check --image astronaut.jpg --video clip.mp4 --json`, end to end
  (c) PySceneDetect's ContentDetector alone on the clip (benchmarks/scenedetect_content.py)
  (d) every frame at full size through MediaPipe Pose (benchmarks/naive_pose.py), run on the
      first --naive-seconds of the clip and extrapolated to the whole clip (per-frame cost x
      every frame, plus the measured start-up)
  (e) `kling-prep --help` start-up (target < 0.3 s)
Peak memory is each child's own maximum RSS (os.wait4's rusage; children of children are not
counted, and none of these spawns any).

Run: `.venv/bin/python benchmarks/bench_speed.py [MEDIA_DIR] [--rounds 5]` (default
/tmp/kp-bench; makes the media first when the clip is absent). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
DEFAULT_MEDIA = Path("/tmp/kp-bench")


@dataclass
class Runs:
    label: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ok_codes: tuple[int, ...] = (0,)


def run_once(command: list[str], ok_codes: tuple[int, ...]) -> tuple[float, int, str]:
    """Wall time, the child's peak RSS (kB) and its stdout."""
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    assert child.stdout is not None
    stdout = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}:\n{stdout[-2000:]}")
    return elapsed, int(usage.ru_maxrss), stdout


def machine() -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{platform.machine()} {cpu}, {os.cpu_count()} cores (nproc), Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}, "
        f"repo at {commit or '?'} (working tree as found)"
    )


def fmt_s(values: list[float]) -> tuple[str, str]:
    return (
        f"{statistics.median(values):.2f} s",
        f"{min(values):.2f}-{max(values):.2f} s",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=DEFAULT_MEDIA)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up")
    parser.add_argument("--naive-seconds", type=float, default=5.0)
    parser.add_argument("--help-runs", type=int, default=3, help="--help runs per round")
    args = parser.parse_args(argv)
    media: Path = args.media.resolve()
    clip, image = media / "speed" / "clip.mp4", media / "speed" / "astronaut.jpg"
    if not clip.is_file():
        subprocess.run([sys.executable, str(HERE / "make_bench_media.py"), str(media)], check=True)
    from kling_prep.media.ffmpeg import find_ffmpeg

    ffmpeg = find_ffmpeg()
    python, kling = str(BIN / "python"), str(BIN / "kling-prep")
    runs = {
        "a": Runs(
            "(a) ffmpeg -threads 0 -i clip -f null - (baseline)",
            [
                ffmpeg,
                "-nostdin",
                "-v",
                "error",
                "-threads",
                "0",
                "-i",
                str(clip),
                "-f",
                "null",
                "-",
            ],
        ),
        "b": Runs(
            "(b) kling-prep check --image --video --json",
            [kling, "check", "--image", str(image), "--video", str(clip), "--json"],
            ok_codes=(0, 1, 2),
        ),
        "c": Runs(
            "(c) PySceneDetect ContentDetector alone",
            [python, str(HERE / "scenedetect_content.py"), str(clip)],
        ),
        "d": Runs(
            f"(d) naive: MediaPipe Pose on every full-size frame (first {args.naive_seconds:g} s)",
            [python, str(HERE / "naive_pose.py"), str(clip), "--seconds", str(args.naive_seconds)],
        ),
        "e": Runs("(e) kling-prep --help", [kling, "--help"]),
    }
    print(f"Machine: {machine()}", file=sys.stderr)
    for round_no in range(args.rounds + 1):
        warm = round_no == 0
        for key, r in runs.items():
            for _ in range(args.help_runs if key == "e" else 1):
                seconds, rss, stdout = run_once(r.command, r.ok_codes)
                if not warm:
                    r.seconds.append(seconds)
                    r.rss_kb.append(rss)
                    r.outputs.append(stdout)
                print(
                    f"  {'warm-up' if warm else f'round {round_no}'} {key}: {seconds:.2f} s, "
                    f"{rss / 1024:.0f} MB",
                    file=sys.stderr,
                )
    base = statistics.median(runs["a"].seconds)
    naive = [json.loads(o.strip().splitlines()[-1]) for o in runs["d"].outputs]
    naive_total = [
        wall - n["loop_s"] + n["loop_s"] / n["frames"] * n["total_frames"]
        for wall, n in zip(runs["d"].seconds, naive, strict=True)
    ]
    report = json.loads(runs["b"].outputs[-1])
    video = report["video"]
    print(f"## Speed: `kling-prep check` on a {video['duration_s']:.0f} s "
          f"{video['width']}x{video['height']} {video['fps']:g} fps H.264 clip\n")  # fmt: skip
    print(f"Machine: {machine()}.  ")
    print(f"Clip: {clip} ({clip.stat().st_size / 1e6:.1f} MB, "
          f"{8 * clip.stat().st_size / video['duration_s'] / 1e6:.2f} Mbit/s, "
          f"{video['frame_count']} frames); ffmpeg: {ffmpeg}.  ")  # fmt: skip
    print(f"{args.rounds} interleaved rounds after a warm-up ({args.help_runs} `--help` runs a "
          "round); wall time of the whole process; peak RSS of the process.\n")  # fmt: skip
    print("| run | median | min-max | x (a) | peak RSS (median) |")
    print("|---|---|---|---|---|")
    for r in runs.values():
        med, span = fmt_s(r.seconds)
        rss = statistics.median(r.rss_kb) / 1024
        print(f"| {r.label} | {med} | {span} | {statistics.median(r.seconds) / base:.2f}x "
              f"| {rss:.0f} MB |")  # fmt: skip
    med, span = fmt_s(naive_total)
    per_frame = statistics.median(n["per_frame_ms"] for n in naive)
    print(f"| (d) extrapolated to all {naive[0]['total_frames']} frames "
          f"({per_frame:.1f} ms a frame) | {med} | {span} | "
          f"{statistics.median(naive_total) / base:.2f}x | - |")  # fmt: skip
    check_s = statistics.median(runs["b"].seconds)
    scd_s = statistics.median(runs["c"].seconds)
    help_s = statistics.median(runs["e"].seconds)
    print("\n| target | measured | met |")
    print("|---|---|---|")
    print(
        f"| check <= 1.5x one ffmpeg decode | {check_s / base:.2f}x "
        f"({check_s:.2f} s vs {base:.2f} s) | {'yes' if check_s <= 1.5 * base else 'no'} |"
    )
    print(
        f"| check faster than ContentDetector alone | {check_s / scd_s:.2f}x of it "
        f"({check_s:.2f} s vs {scd_s:.2f} s) | {'yes' if check_s < scd_s else 'no'} |"
    )
    print(f"| `kling-prep --help` < 0.3 s | {help_s:.3f} s (median of "
          f"{len(runs['e'].seconds)}) | {'yes' if help_s < 0.3 else 'no'} |")  # fmt: skip
    codes = ", ".join(f"{f['code']} ({f['severity']})" for f in report["findings"])
    print(f"\nThe check's verdict on this pair: {report['verdict']}: {codes} "
          f"(no prompt is given, as in the brief's command).")  # fmt: skip
    print(f"ContentDetector's cuts: {runs['c'].outputs[-1].strip()}; kling_prep's: "
          f"{video['cuts']}.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
