"""Accuracy of `kling_prep.check(...)` on real footage: the labelled set in ../shared/realset.

The realset holds real photos, paintings, renders, drawings and video clips from public
repositories, each labelled by eye (its README says what every label means). Each image and each
video is checked alone, and the check's findings are scored the way the labels were made:

- person count: 0 is right for 0, 1 for 1, "two or more" for 2, 3, ... or "many". The check
  says 2+ when it raises `*.multiple_people` or `*.background_person`, 0 when it raises
  `image.no_person` (for a video: nobody in any sample), else 1.
- face view (one-person images): frontal and three-quarter pass (no face finding), profile
  warns (`image.face_profile`), none blocks (`image.no_face`).
- lighting: right when a lighting finding (`image.underexposed`, `image.overexposed`,
  `image.backlit`) is raised exactly for the labels dark, backlit and overexposed; the table
  also says whether its kind matches.
- hard cuts: found when a reported cut lies within 2 frames of a labelled one, each label matched
  once; beside PySceneDetect's AdaptiveDetector and TransNetV2 on the same files in the same run
  (benchmarks/cut_anchors.py; `make bench` installs them; an anchor that is not installed is
  reported as such).
- camera motion: right when `video.camera_motion` is raised exactly for clips labelled moving.
- verdicts: inputs whose label says they must be stopped (not one person, face none or profile,
  lighting not ok, a cut or a transition) that came out `ready`; and inputs with nothing wrong
  in their labels that came out blocked.

Labels marked `uncertain` are left out of the scores (the README's advice) and listed apart.

Run: `.venv/bin/python benchmarks/bench_realset.py [REALSET_DIR] [--only TEXT] [--no-anchors]`
(default ../shared/realset beside the project). Prints markdown; writes the per-file results to
`--out` (default /tmp/kp-realset-results.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter
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
DEFAULT_REALSET = HERE.parent.parent / "shared" / "realset"
LIGHTING_CODES = {
    "image.underexposed": "dark",
    "image.overexposed": "overexposed",
    "image.backlit": "backlit",
}
# The API's file rules (format, size, sides, duration): right by construction and about the
# file, not the picture, so the labels say nothing of them; they are left out of "false block".
LIMIT_CODES = {
    "image.format", "image.too_large", "image.too_small", "image.aspect_ratio",
    "video.format", "video.too_large", "video.too_long", "video.too_short", "video.resolution",
}  # fmt: skip
VIEW_VERDICT = {"frontal": "pass", "three_quarter": "pass", "profile": "warn", "none": "block"}


def people_class(value: int | str | None) -> str | None:
    if value is None:
        return None
    if value == "many" or (isinstance(value, int) and value >= 2):
        return "2+"
    return str(value)


def _checked(**inputs: str) -> tuple[Any, dict[str, Any]]:
    """The check of one input alone, and the verdict, time and finding codes every result has."""
    import kling_prep

    started = time.perf_counter()
    result = kling_prep.check(kling_prep.CheckRequest(**inputs, keep_sound=False))
    out: dict[str, Any] = {"verdict": result.verdict}
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["codes"] = _codes(result.findings)
    return result, out


def run_image(path: Path) -> dict[str, Any]:
    result, out = _checked(image=str(path))
    report = result.image
    assert report is not None
    out["people"] = [p.size_ratio for p in report.people]
    face = report.face
    out["face"] = None if face is None else {
        "view": face.view, "yaw_deg": None if face.yaw_deg is None else round(face.yaw_deg, 1),
        "source": face.source,
    }  # fmt: skip
    light = report.lighting
    if light is not None:
        out["lighting"] = {
            "exposure_stops": round(light.exposure_stops, 2),
            "face_exposure_stops": _round(light.face_exposure_stops),
            "backlight_stops": _round(light.backlight_stops),
            "background_exposure_stops": _round(light.background_exposure_stops),
            "clipped_pct": round(light.clipped_highlights_pct, 2),
        }
    return out


def run_video(path: Path) -> dict[str, Any]:
    result, out = _checked(video=str(path))
    report = result.video
    assert report is not None
    out["people_per_second"] = report.people_per_second
    out["cuts"] = [c.frame for c in report.cuts]
    out["transitions"] = [[t.kind, t.start_s, t.end_s] for t in report.transitions]
    out["camera"] = None if report.camera is None else report.camera.as_dict()
    out["face_views"] = [s.face_view for s in report.samples if s.pose_read]
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _codes(findings: list[Any]) -> dict[str, str]:
    worst: dict[str, str] = {}
    rank = {"info": 0, "warn": 1, "block": 2}
    for f in findings:
        if f.code not in worst or rank[f.severity] > rank[worst[f.code]]:
            worst[f.code] = f.severity
    return worst


def said_people(kind: str, res: dict[str, Any]) -> str:
    codes = res["codes"]
    if f"{kind}.multiple_people" in codes or f"{kind}.background_person" in codes:
        return "2+"
    if kind == "image":
        return "0" if "image.no_person" in codes else "1"
    return "0" if max(res["people_per_second"] or [0]) == 0 else "1"


def said_view(res: dict[str, Any]) -> str:
    codes = res["codes"]
    if "image.no_person" in codes:
        return "no person found"
    if "image.no_face" in codes:
        return "block"
    if "image.face_profile" in codes:
        return "warn"
    return "pass"


def said_lighting(res: dict[str, Any]) -> list[str]:
    return sorted(LIGHTING_CODES[c] for c in res["codes"] if c in LIGHTING_CODES)


def must_stop(label: dict[str, Any]) -> list[str]:
    """Why the label says the input must not come out `ready` (empty: nothing wrong)."""
    why = []
    if people_class(label["persons"]) != "1":
        why.append(f"persons {label['persons']}")
    if label["kind"] == "image":
        if label.get("face_view") in ("profile", "none"):
            why.append(f"face {label['face_view']}")
        if label.get("lighting") not in (None, "ok"):
            why.append(f"lighting {label['lighting']}")
    else:
        if not label["one_person_throughout"]:
            why.append("not one person throughout")
        if label["cut_frames"]:
            why.append("cut")
        if label["gradual"]:
            why.append("transition")
    return why


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def confusion(pairs: list[tuple[str, str]], truths: list[str], saids: list[str]) -> str:
    counts = Counter(pairs)
    rows = [[f"**{t}**", *(counts.get((t, s), 0) or "." for s in saids)] for t in truths]
    return table(["label \\ said", *saids], rows)


def score(
    labels: list[dict[str, Any]], results: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    out: list[str] = []
    summary: dict[str, Any] = {}
    done = [lab for lab in labels if lab["file"] in results and "error" not in results[lab["file"]]]
    crashed = [lab["file"] for lab in labels if "error" in results.get(lab["file"], {})]
    certain = [lab for lab in done if not lab["uncertain"]]
    # 1. People.
    people = [
        (people_class(lab["persons"]) or "?", said_people(lab["kind"], results[lab["file"]]), lab)
        for lab in certain
    ]
    right = [p for p in people if p[0] == p[1]]
    summary["people"] = (len(right), len(people))
    out.append(f"### People (0 / 1 / 2+), certain labels: {len(right)} / {len(people)} right\n")
    for kind in ("image", "video"):
        pairs = [(t, s) for t, s, lab in people if lab["kind"] == kind]
        ok = sum(t == s for t, s in pairs)
        out.append(f"{kind}s: {ok} / {len(pairs)}\n")
        out.append(confusion(pairs, ["0", "1", "2+"], ["0", "1", "2+"]) + "\n")
    wrong = [f"`{Path(lab['file']).name}` {t} said {s}" for t, s, lab in people if t != s]
    out.append("Wrong: " + ("; ".join(wrong) or "-") + "\n")
    # 2. Face view of one-person images.
    faces = [
        lab
        for lab in certain
        if lab["kind"] == "image" and lab["persons"] == 1 and lab["face_view"]
    ]
    pairs = [(lab["face_view"], said_view(results[lab["file"]])) for lab in faces]
    right_faces = sum(VIEW_VERDICT[t] == s for t, s in pairs)
    summary["face_view"] = (right_faces, len(pairs))
    out.append(
        f"### Face view of one-person images, certain labels: {right_faces} / {len(pairs)} right\n"
    )
    out.append(
        confusion(
            pairs,
            ["frontal", "three_quarter", "profile", "none"],
            ["pass", "warn", "block", "no person found"],
        )
        + "\n"
    )
    wrong = []
    for lab, (t, s) in zip(faces, pairs, strict=True):
        if VIEW_VERDICT[t] != s:
            face = results[lab["file"]].get("face") or {}
            wrong.append(
                f"`{Path(lab['file']).name}` {t} said {s} ({face.get('view')}, yaw {face.get('yaw_deg')}, {face.get('source')})"
            )
    out.append("Wrong: " + ("; ".join(wrong) or "-") + "\n")
    # 3. Lighting of one-person images (and all images).
    for scope, subset in (
        (
            "one-person images",
            [lab for lab in certain if lab["kind"] == "image" and lab["persons"] == 1],
        ),
        ("all images", [lab for lab in certain if lab["kind"] == "image"]),
    ):
        pairs = []
        kind_right = 0
        wrong = []
        for lab in subset:
            said = said_lighting(results[lab["file"]])
            shown = "+".join(said) or "none"
            pairs.append((lab["lighting"], shown))
            is_right = (lab["lighting"] == "ok") == (not said)
            kind_right += (lab["lighting"] == "ok" and not said) or lab["lighting"] in said
            if not is_right:
                light = results[lab["file"]].get("lighting") or {}
                wrong.append(f"`{Path(lab['file']).name}` {lab['lighting']} said {shown} ({light})")
        right_light = len(subset) - len(wrong)
        summary[f"lighting {scope}"] = (right_light, len(subset))
        summary[f"lighting kind {scope}"] = (kind_right, len(subset))
        saids = sorted({s for _, s in pairs}, key=lambda s: (s != "none", s))
        out.append(
            f"### Lighting, {scope}, certain labels: {right_light} / {len(subset)} right "
            f"(kind also right: {kind_right})\n"
        )
        out.append(confusion(pairs, ["ok", "dark", "backlit", "overexposed"], saids) + "\n")
        out.append("Wrong: " + ("; ".join(wrong) or "-") + "\n")
    # 4. Verdicts.
    stopped = [(lab, must_stop(lab)) for lab in certain]
    false_ready = [
        f"`{Path(lab['file']).name}` ({', '.join(why)})"
        for lab, why in stopped
        if why and results[lab["file"]]["verdict"] == "ready"
    ]
    good = [lab for lab, why in stopped if not why]
    judged_blocks = {
        lab["file"]: [
            c
            for c, sev in results[lab["file"]]["codes"].items()
            if sev == "block" and c not in LIMIT_CODES
        ]
        for lab in good
    }
    false_block = [
        f"`{Path(f).name}` ({', '.join(codes)})" for f, codes in judged_blocks.items() if codes
    ]
    summary["false_ready"] = (len(false_ready), sum(bool(w) for _, w in stopped))
    summary["false_block"] = (len(false_block), len(good))
    out.append("### Verdicts, certain labels\n")
    out.append(
        table(
            ["measure", "count", "files"],
            [
                [
                    "must be stopped, came out `ready`",
                    f"{len(false_ready)} / {summary['false_ready'][1]}",
                    "; ".join(false_ready) or "-",
                ],
                [
                    "nothing wrong in the label, came out blocked",
                    f"{len(false_block)} / {len(good)}",
                    "; ".join(false_block) or "-",
                ],
                [
                    "crashed (any label)",
                    f"{len(crashed)}",
                    "; ".join(f"`{Path(f).name}`" for f in crashed) or "-",
                ],
            ],
        )
        + "\n"
    )
    # 5. Camera motion (videos).
    videos = [lab for lab in certain if lab["kind"] == "video"]
    cam = [(lab, "video.camera_motion" in results[lab["file"]]["codes"]) for lab in videos]
    cam_right = sum(lab["camera_motion"] == said for lab, said in cam)
    summary["camera"] = (cam_right, len(cam))
    wrong = [
        f"`{Path(lab['file']).name}` {'moving' if lab['camera_motion'] else 'still'} said {'moving' if s else 'still'}"
        for lab, s in cam
        if lab["camera_motion"] != s
    ]
    out.append(f"### Camera motion, certain labels: {cam_right} / {len(cam)} right\n")
    out.append("Wrong: " + ("; ".join(wrong) or "-") + "\n")
    # 6. Per finding code: precision and recall where a label says what the code means.
    out.append("### Per finding code, certain labels (found at any severity)\n")
    rows = []
    for code, wanted, applies in _code_rules():
        tp = fp = fn = 0
        for lab in certain:
            if not applies(lab):
                continue
            found = code in results[lab["file"]]["codes"]
            want = wanted(lab)
            tp += found and want
            fp += found and not want
            fn += want and not found
        rows.append([f"`{code}`", tp + fn, tp, fp, fn, *prf(tp, fp, fn)[:2]])
    out.append(table(["code", "labelled", "TP", "FP", "FN", "precision", "recall"], rows) + "\n")
    out.append(f"Uncertain labels left out: {len(done) - len(certain)}.\n")
    return "\n".join(out), summary


def _code_rules() -> list[
    tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], bool]]
]:
    def is_image(lab: dict[str, Any]) -> bool:
        return bool(lab["kind"] == "image")

    def is_video(lab: dict[str, Any]) -> bool:
        return bool(lab["kind"] == "video")

    def one_person_image(lab: dict[str, Any]) -> bool:
        return bool(lab["kind"] == "image" and lab["persons"] == 1)

    def several(lab: dict[str, Any]) -> bool:
        return people_class(lab["persons"]) == "2+"

    return [
        ("image.no_person", lambda lab: lab["persons"] == 0, is_image),
        ("image.multiple_people", several, is_image),
        ("image.no_face", lambda lab: lab["face_view"] == "none", one_person_image),
        ("image.face_profile", lambda lab: lab["face_view"] == "profile", one_person_image),
        ("image.underexposed", lambda lab: lab["lighting"] == "dark", one_person_image),
        ("image.overexposed", lambda lab: lab["lighting"] == "overexposed", one_person_image),
        ("image.backlit", lambda lab: lab["lighting"] == "backlit", one_person_image),
        ("video.no_person", lambda lab: lab["persons"] == 0 or (not lab["one_person_throughout"] and lab["persons"] == 1), is_video),
        ("video.multiple_people", several, is_video),
        ("video.scene_cut", lambda lab: bool(lab["cut_frames"]), is_video),
        ("video.transition", lambda lab: bool(lab["gradual"]), is_video),
        ("video.camera_motion", lambda lab: bool(lab["camera_motion"]), is_video),
    ]  # fmt: skip


def cut_report(
    labels: list[dict[str, Any]],
    realset: Path,
    results: dict[str, dict[str, Any]],
    use_anchors: bool,
) -> tuple[str, dict[str, Any]]:
    videos = [
        lab
        for lab in labels
        if lab["kind"] == "video" and "error" not in results.get(lab["file"], {"error": 1})
    ]
    detectors: dict[str, Callable[[str], list[int]] | None] = {"kling_prep": None}
    notes = []
    if use_anchors:
        sys.path.insert(0, str(HERE))
        try:
            import cut_anchors  # type: ignore[import-not-found]
        except ImportError as exc:
            notes.append(f"anchors not run: {exc}")
        else:
            why_not = cut_anchors.available()
            for name, fn in (
                ("PySceneDetect AdaptiveDetector", cut_anchors.adaptive_cuts),
                ("TransNetV2", cut_anchors.transnetv2_cuts),
            ):
                key = "adaptive" if name.startswith("PySceneDetect") else "transnetv2"
                if why_not.get(key) is None:
                    detectors[name] = fn
                else:
                    notes.append(f"{name} not run: {why_not[key]}")
    found: dict[str, dict[str, list[int]]] = {name: {} for name in detectors}
    seconds: dict[str, float] = dict.fromkeys(detectors, 0.0)
    for lab in videos:
        path = str(realset / lab["file"])
        for name, fn in detectors.items():
            if fn is None:
                found[name][lab["file"]] = results[lab["file"]]["cuts"]
                seconds[name] += results[lab["file"]]["seconds"]
            else:
                started = time.perf_counter()
                found[name][lab["file"]] = fn(path)
                seconds[name] += time.perf_counter() - started
    out = []
    summary: dict[str, Any] = {}
    for scope, subset in (
        ("all videos", videos),
        ("certain labels", [lab for lab in videos if not lab["uncertain"]]),
    ):
        rows = []
        for name in detectors:
            tp = fp = fn_ = 0
            for lab in subset:
                a, false_pos, missed = match_cuts(lab["cut_frames"], found[name][lab["file"]])
                b, c = len(false_pos), len(missed)
                tp, fp, fn_ = tp + a, fp + b, fn_ + c
            p, r, f1 = prf(tp, fp, fn_)
            summary[f"{name} {scope}"] = {
                "tp": tp,
                "fp": fp,
                "fn": fn_,
                "precision": p,
                "recall": r,
                "f1": f1,
            }
            rows.append(
                [
                    name,
                    tp,
                    fp,
                    fn_,
                    p,
                    r,
                    f1,
                    f"{seconds[name]:.0f} s" if scope == "all videos" else "",
                ]
            )
        cuts = sum(len(lab["cut_frames"]) for lab in subset)
        out.append(
            f"### Hard cuts within {CUT_TOLERANCE_FRAMES} frames, {scope} ({len(subset)} clips, {cuts} cuts)\n"
        )
        out.append(
            table(
                ["detector", "TP", "FP", "FN", "precision", "recall", "F1", "time (all clips)"],
                rows,
            )
            + "\n"
        )
    detail = [
        [
            f"`{Path(lab['file']).name}`" + (" (uncertain)" if lab["uncertain"] else ""),
            lab["cut_frames"],
            *(found[name][lab["file"]] for name in detectors),
        ]
        for lab in videos
        if lab["cut_frames"] or any(found[n][lab["file"]] for n in detectors)
    ]
    out.append(
        "Per clip with a cut in the label or in any detector's answer (frames of the first frame of each new shot):\n"
    )
    out.append(table(["clip", "truth", *detectors], detail) + "\n")
    out.extend(f"{note}\n" for note in notes)
    return "\n".join(out), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realset", nargs="?", type=Path, default=DEFAULT_REALSET)
    parser.add_argument("--only", help="run only the files whose name contains this text")
    parser.add_argument(
        "--no-anchors", action="store_true", help="skip PySceneDetect and TransNetV2"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/kp-realset-results.json"))
    args = parser.parse_args(argv)
    realset: Path = args.realset.resolve()
    if not (realset / "labels-images.json").is_file():
        print(f"no realset at {realset} (labels-images.json missing)", file=sys.stderr)
        return 3
    labels = json.loads((realset / "labels-images.json").read_text())
    labels += json.loads((realset / "labels-videos.json").read_text())
    labels = [lab for lab in labels if not args.only or args.only in lab["file"]]
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for lab in labels:
        path = realset / lab["file"]
        try:
            res = run_image(path) if lab["kind"] == "image" else run_video(path)
        except Exception as exc:  # a crash is a result to report, not the end of the run
            res = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=4)}
            print(f"  {lab['file']:<55} CRASH {res['error']}", file=sys.stderr)
        else:
            codes = ", ".join(f"{k}:{v}" for k, v in sorted(res["codes"].items()))
            print(
                f"  {lab['file']:<55} {res['verdict']:<9} {res['seconds']:5.1f} s  {codes}",
                file=sys.stderr,
            )
        results[lab["file"]] = res
    check_s = time.perf_counter() - started
    text, summary = score(labels, results)
    cuts_text, cut_summary = cut_report(labels, realset, results, not args.no_anchors)
    print(f"## kling_prep.check on the realset ({len(labels)} files, {check_s:.0f} s)\n")
    print(text)
    print(cuts_text)
    summary.update(cut_summary)
    args.out.write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
