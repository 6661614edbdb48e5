"""The naive baseline of bench_speed.py: decode every frame at full size and run MediaPipe Pose
(legacy solution, model complexity 1, video mode) on each, as a first attempt would.

Run: `.venv/bin/python benchmarks/naive_pose.py CLIP [--seconds N]`. With --seconds it stops
after the first N seconds of frames; it prints one JSON line with the frames done, the clip's
frame count, the set-up time and the loop time, so the caller can extrapolate to the whole clip
(per-frame cost x all frames).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("GLOG_minloglevel", "2")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N s of frames")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    import av
    from mediapipe.python.solutions import pose

    model = pose.Pose(static_image_mode=False, model_complexity=1)
    with av.open(args.clip) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 30)
        total = stream.frames or 0
        limit = None if args.seconds is None else round(args.seconds * fps)
        setup_s = time.perf_counter() - started
        loop_start = time.perf_counter()
        done = found = 0
        for frame in container.decode(stream):
            result = model.process(frame.to_ndarray(format="rgb24"))
            found += result.pose_landmarks is not None
            done += 1
            if limit is not None and done >= limit:
                break
        loop_s = time.perf_counter() - loop_start
    model.close()
    print(json.dumps({
        "frames": done, "total_frames": total or done, "with_pose": found,
        "setup_s": round(setup_s, 3), "loop_s": round(loop_s, 3),
        "per_frame_ms": round(1000 * loop_s / max(1, done), 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
