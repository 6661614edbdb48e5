"""Accuracy of `kling_prep.check(...)` on the labelled set of make_bench_media.py.

Reports, as markdown tables: precision and recall per finding code (a code counts as found at
any severity; each case lists the codes it must raise, and the codes it may or may not raise
are left out of the count), verdict errors (false "ready" on cases that must be flagged or
blocked, false blocks among the cases that must not be blocked), person count and face view,
and hard-cut detection (a cut is found when reported within +-2 frames) for kling_prep against
PySceneDetect's AdaptiveDetector (and ContentDetector) on the same videos. Fades and dissolves
are not hard cuts: those clips are left out of the cut F1 and listed apart.

Run: `.venv/bin/python benchmarks/bench_accuracy.py [MEDIA_DIR]` (default /tmp/kp-bench; makes
the media first when labels.json is absent). Every case runs with keep_sound=False (the
generated clips carry no audio). Writes MEDIA_DIR/accuracy-results.json too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cut_scoring import (  # benchmarks/ is the script's own folder
    CUT_TOLERANCE_FRAMES,
    match_cuts,
    prf,
)

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_MEDIA = Path("/tmp/kp-bench")
RANK = {"ready": 0, "warnings": 1, "blocked": 2}
# The finding codes measured: each can be labelled on every case of its subject.
CODES = (
    "image.no_person", "image.multiple_people", "image.background_person", "image.no_face",
    "image.underexposed", "image.overexposed", "image.backlit", "image.blurry",
    "image.too_small", "image.aspect_ratio",
    "video.no_person", "video.multiple_people", "video.scene_cut", "video.transition",
    "video.low_motion", "video.too_long", "video.too_short",
    "prompt.missing",
)  # fmt: skip


def applies(code: str, case: dict[str, Any]) -> bool:
    subject = code.split(".")[0]
    if subject == "prompt":
        return bool(case["image"] and case["video"])
    return bool(case[subject])


def resolve(media: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else media / path)


def run_case(media: Path, case: dict[str, Any]) -> dict[str, Any]:
    import kling_prep

    started = time.perf_counter()
    request = kling_prep.CheckRequest(
        image=resolve(media, case["image"]),
        video=resolve(media, case["video"]),
        prompt=case["prompt"],
        keep_sound=False,
        is_submission=case.get("is_submission", False),  # labels made before it: False
    )
    result = kling_prep.check(request)
    elapsed = time.perf_counter() - started
    findings = [
        {"code": f.code, "severity": f.severity, "measured": f.measured, "threshold": f.threshold}
        for f in result.findings
    ]
    out: dict[str, Any] = {"verdict": result.verdict, "seconds": round(elapsed, 2)}
    out["findings"] = findings
    if result.image is not None:
        out["image_people"] = sum(p.size_ratio >= 0.5 for p in result.image.people)
        out["image_people_all"] = len(result.image.people)
        out["face_view"] = result.image.face.view if result.image.face else None
        out["yaw_deg"] = result.image.face.yaw_deg if result.image.face else None
        lighting = result.image.lighting
        if lighting is not None:
            out["lighting"] = {
                "exposure_stops": round(lighting.exposure_stops, 2),
                "face_exposure_stops": None
                if lighting.face_exposure_stops is None
                else round(lighting.face_exposure_stops, 2),
                "backlight_stops": None
                if lighting.backlight_stops is None
                else round(lighting.backlight_stops, 2),
                "background_exposure_stops": None
                if lighting.background_exposure_stops is None
                else round(lighting.background_exposure_stops, 2),
                "clipped_pct": round(lighting.clipped_highlights_pct, 2),
                "blur_sigma_px": None
                if lighting.blur is None
                else round(lighting.blur.blur_sigma_px_equiv, 2),
            }
    if result.video is not None:
        v = result.video
        out["video_people_per_second"] = v.people_per_second
        out["cuts"] = [c.frame for c in v.cuts]
        out["transitions"] = [[t.kind, t.start_frame, t.end_frame] for t in v.transitions]
        out["motion_median"] = v.motion.median_speed
        out["fps"] = v.fps
    return out


def scenedetect_cuts(path: str, detector_name: str) -> list[int]:
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    detector = AdaptiveDetector() if detector_name == "adaptive" else ContentDetector()
    scenes = detect(path, detector)
    return [int(start.frame_num) for start, _ in scenes[1:]]


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def codes_of(res: dict[str, Any]) -> dict[str, str]:
    worst: dict[str, str] = {}
    for f in res["findings"]:
        if f["code"] not in worst or f["severity"] == "block":
            worst[f["code"]] = f["severity"]
    return worst


def evaluate(cases: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> str:
    out: list[str] = []
    # 1. Per finding code.
    rows = []
    misses: list[str] = []
    for code in CODES:
        tp = fp = fn = 0
        for case in cases:
            if not applies(code, case) or code in case["dont_care"]:
                continue
            found = code in codes_of(results[case["id"]])
            wanted = code in case["expect"]
            tp += found and wanted
            fp += found and not wanted
            fn += wanted and not found
            if found != wanted:
                misses.append(f"{case['id']}: {code} {'missed' if wanted else 'raised wrongly'}")
        if tp + fp + fn:
            p, r, _ = prf(tp, fp, fn)
            rows.append([f"`{code}`", tp + fn, tp, fp, fn, p, r])
    out.append("### Findings per code (found at any severity)\n")
    out.append(table(["code", "cases with it", "TP", "FP", "FN", "precision", "recall"], rows))
    if misses:
        out.append("\nDisagreements: " + "; ".join(misses))
    # 2. Verdicts.
    good = [c for c in cases if c["max_verdict"] != "blocked"]
    must_flag = [c for c in cases if c["min_verdict"] != "ready"]
    must_block = [c for c in cases if c["min_verdict"] == "blocked"]
    false_blocks = [c for c in good if results[c["id"]]["verdict"] == "blocked"]
    false_ready = [c for c in must_flag if results[c["id"]]["verdict"] == "ready"]
    under = [c for c in must_block if results[c["id"]]["verdict"] != "blocked"]
    missed_warn = [c for c in cases if RANK[results[c["id"]]["verdict"]] < RANK[c["min_verdict"]]]
    out.append("\n### Verdicts\n")
    out.append(table(
        ["measure", "value", "target", "cases"],
        [
            ["false blocks among cases that must not be blocked", f"{len(false_blocks)} / {len(good)}",
             f"<= {len(good) / 20:.1f} (1 in 20)", ", ".join(c["id"] for c in false_blocks) or "-"],
            ["false \"ready\" among cases that must be flagged or blocked", f"{len(false_ready)} / {len(must_flag)}",
             "0", ", ".join(c["id"] for c in false_ready) or "-"],
            ["must be blocked, came back not blocked", f"{len(under)} / {len(must_block)}", "0",
             ", ".join(f"{c['id']} ({results[c['id']]['verdict']})" for c in under) or "-"],
            ["verdict under the label's minimum (any)", f"{len(missed_warn)} / {len(cases)}", "0",
             ", ".join(c["id"] for c in missed_warn) or "-"],
        ],
    ))  # fmt: skip
    # 3. People and face view.
    people_rows = []
    for case in cases:
        res = results[case["id"]]
        if case["people"] is None:
            continue
        if case["image"] and not case["video"]:
            people_rows.append((case, res.get("image_people"), "image"))
        elif case["video"] and not case["image"]:
            pps = res.get("video_people_per_second") or [0]
            people_rows.append((case, max(pps), "video (max per second)"))
    right = [r for r in people_rows if r[1] == r[0]["people"]]
    faces = [c for c in cases if c["face_view"] and not c["video"]]
    face_right = [c for c in faces if results[c["id"]].get("face_view") == c["face_view"]]
    out.append("\n### Person count and face view\n")
    wrong_people = [
        f"{c['id']}: {n} for {c['people']}" for c, n, _ in people_rows if n != c["people"]
    ]
    wrong_faces = [
        f"{c['id']}: {results[c['id']].get('face_view')} (yaw {results[c['id']].get('yaw_deg')})"
        for c in faces if c not in face_right
    ]  # fmt: skip
    out.append(table(
        ["measure", "right", "wrong"],
        [
            ["person count (comparable size, >= 0.5x)", f"{len(right)} / {len(people_rows)}",
             "; ".join(wrong_people) or "-"],
            ["face view class (all labelled frontal)", f"{len(face_right)} / {len(faces)}",
             "; ".join(wrong_faces) or "-"],
        ],
    ))  # fmt: skip
    return "\n".join(out)


def cut_report(cases: list[dict[str, Any]], media: Path, results: dict[str, dict[str, Any]]) -> str:
    videos = {}
    for case in cases:
        if case["video"] and case["cuts"] is not None:
            videos.setdefault(case["video"], case)  # pairs reuse clips: count each clip once
    detectors: dict[str, Callable[[str, dict[str, Any]], list[int]]] = {
        "kling_prep": lambda _path, case: results[case["id"]]["cuts"],
        "PySceneDetect AdaptiveDetector": lambda path, _case: scenedetect_cuts(path, "adaptive"),
        "PySceneDetect ContentDetector": lambda path, _case: scenedetect_cuts(path, "content"),
    }
    totals = {name: [0, 0, 0] for name in detectors}
    detail = []
    gradual = []
    for video, case in videos.items():
        path = resolve(media, video)
        assert path is not None
        is_gradual = "video.transition" in case["expect"]
        found = {name: fn(path, case) for name, fn in detectors.items()}
        row = [case["id"], case["cuts"], *(found[n] for n in detectors)]
        if is_gradual:
            gradual.append([*row, results[case["id"]].get("transitions")])
            continue
        detail.append(row)
        for name in detectors:
            tp, false_pos, missed = match_cuts(case["cuts"], found[name])
            fp, fn = len(false_pos), len(missed)
            totals[name][0] += tp
            totals[name][1] += fp
            totals[name][2] += fn
    out = [
        f"### Hard cuts, within +-{CUT_TOLERANCE_FRAMES} frames ({len(detail)} clips, "
        f"{sum(len(r[1]) for r in detail)} cuts)\n"
    ]
    out.append(table(
        ["detector", "TP", "FP", "FN", "precision", "recall", "F1"],
        [[name, *t, *prf(*t)] for name, t in totals.items()],
    ))  # fmt: skip
    out.append("\nPer clip (frames of the first frame of each new shot):\n")
    out.append(table(["clip", "truth", *detectors], detail))
    out.append("\nFades and dissolves (no hard cut; kling_prep should report a transition):\n")
    out.append(table(["clip", "truth", *detectors, "kling_prep transitions"], gradual))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=DEFAULT_MEDIA)
    parser.add_argument("--only", help="run only the cases whose id contains this text")
    args = parser.parse_args(argv)
    media: Path = args.media.resolve()
    labels_path = media / "labels.json"
    if not labels_path.is_file():
        subprocess.run([sys.executable, str(HERE / "make_bench_media.py"), str(media)], check=True)
    labels = json.loads(labels_path.read_text())
    cases = [c for c in labels["cases"] if not args.only or args.only in c["id"]]
    cases = [
        c for c in cases
        if all(Path(resolve(media, p) or "").is_file() for p in (c["image"], c["video"]) if p)
    ]  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for case in cases:
        results[case["id"]] = run_case(media, case)
        res = results[case["id"]]
        codes = ", ".join(f"{k}:{v}" for k, v in sorted(codes_of(res).items()))
        print(
            f"  {case['id']:<28} {res['verdict']:<9} {res['seconds']:5.1f} s  {codes}",
            file=sys.stderr,
        )
    check_s = time.perf_counter() - started
    good = sum(c["max_verdict"] != "blocked" for c in cases)
    print(f"## Accuracy of kling_prep.check ({len(cases)} cases, {good} must not be blocked)\n")
    print(evaluate(cases, results))
    print()
    print(cut_report(cases, media, results))
    print(f"\nkling_prep.check on all cases: {check_s:.0f} s.")
    (media / "accuracy-results.json").write_text(
        json.dumps({"cases": cases, "results": results}, indent=1, default=str)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
