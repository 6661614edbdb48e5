"""Where the time of one `kling-prep check` goes: a timeline of its stages and the CPU they use.

The speed target compares the check with one ffmpeg decode (bench_speed.py); this script says
why the check takes what it takes, so a change can aim at the part that matters. Each run is a
fresh process (`--child`) that wraps a few of the check's own functions with timers, then runs
the CLI as a user would:
  - the video's decode (`scan_video`, in its own thread), the image check (`check_image`),
    the video's analysis (`analyse_video`) and, after the decode, the cut detector's finish,
    the cuts' placement and the camera measure (`camera_of_shots`);
  - for each, when it starts and ends (seconds since the child's first line ran; the
    interpreter's own start-up, about 0.03 s, comes before), its thread's CPU and the whole
    process's CPU (every thread: the models run in MediaPipe's and OpenCV's threads);
  - the cores busy while the video decodes (process CPU over wall time): 2.0 on a 2-core
    machine means the check is bound by the total work, not by waiting.
The wrapped names are internal: when one is renamed, this script says which and stops.

Run: `.venv/bin/python benchmarks/profile_check.py IMAGE VIDEO [--runs 3]`
(e.g. /tmp/kp-bench/speed/astronaut.jpg /tmp/kp-bench/speed/clip.mp4, made by
make_bench_media.py). Prints a markdown table of each stage's median over the runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WRAPPED = (
    ("kling_prep.vision.video", "scan_video"),
    ("kling_prep.preflight", "check_image"),
    ("kling_prep.checks.video", "analyse_video"),
    ("kling_prep.vision.video", "locate_cuts"),
    ("kling_prep.vision.video", "camera_of_shots"),
)


def child(argv: list[str]) -> None:
    """Run the check once with the stages timed; print one JSON line of stages to stdout."""
    started = time.perf_counter()
    import importlib
    import threading

    stages: list[dict[str, Any]] = []

    def wrap(module: Any, name: str, label: str) -> None:
        inner = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                stages.append({
                    "stage": label, "thread": threading.current_thread().name,
                    "start_s": t0 - started, "end_s": time.perf_counter() - started,
                    "thread_cpu_s": time.thread_time() - c0,
                    "process_cpu_s": time.process_time() - p0,
                })  # fmt: skip

        setattr(module, name, timed)

    for module_name, name in WRAPPED:
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            sys.exit(f"profile_check: {module_name}.{name} is gone; update WRAPPED")
        wrap(module, name, name)
    from kling_prep.vision.cuts import CutDetector

    wrap(CutDetector, "finish", "cut finish")
    imported = time.perf_counter() - started
    from kling_prep.cli import main

    # The report's JSON is not ours: only this script's line goes to stdout.
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.suppress(SystemExit),
    ):
        main([*argv, "--json"])
    total = {
        "stage": "whole check", "thread": "-", "start_s": 0.0,
        "end_s": time.perf_counter() - started, "thread_cpu_s": None,
        "process_cpu_s": time.process_time(),
    }  # fmt: skip
    print(json.dumps({"imports_s": imported, "stages": [*stages, total]}))


def run(image: str, video: str) -> dict[str, Any]:
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, __file__, "--child", "check", "--image", image, "--video", video]
    out = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=ROOT, check=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _median(values: list[float | None]) -> str:
    kept = [v for v in values if v is not None]
    return f"{statistics.median(kept):.2f}" if kept else "-"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image")
    parser.add_argument("video")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.image, args.video) for _ in range(args.runs)]
    labels = [s["stage"] for s in runs[0]["stages"]]
    print(f"`kling-prep check --image {args.image} --video {args.video} --json`, {args.runs} runs,")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; medians.\n")
    print("| stage | thread | start s | end s | wall s | thread CPU s | process CPU s |")
    print("|---|---|---|---|---|---|---|")
    for label in labels:
        rows = [next(s for s in r["stages"] if s["stage"] == label) for r in runs]
        wall = [s["end_s"] - s["start_s"] for s in rows]
        print(
            f"| {label} | {rows[0]['thread']} | {_median([s['start_s'] for s in rows])} "
            f"| {_median([s['end_s'] for s in rows])} | {_median(list(wall))} "
            f"| {_median([s['thread_cpu_s'] for s in rows])} "
            f"| {_median([s['process_cpu_s'] for s in rows])} |"
        )
    decode = [next(s for s in r["stages"] if s["stage"] == "scan_video") for r in runs]
    busy = [s["process_cpu_s"] / max(1e-9, s["end_s"] - s["start_s"]) for s in decode]
    print(f"\nImports before the CLI runs: {_median([r['imports_s'] for r in runs])} s.")
    print(f"Cores busy while the video decodes: {_median(list(busy))}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
