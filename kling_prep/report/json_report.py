"""The JSON renderings: a check (a stable, versioned schema, kling_prep/report/schema.json),
prepare's report.json (the check of the prepared files plus a `prepare` section), the gate's
one line and a batch's summary.json as printed.

Fields are only ever added within a major schema version; renaming or removing one bumps it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kling_prep.checks.findings import Finding
from kling_prep.checks.image import ImageReport, backlight_of
from kling_prep.checks.video import VideoReport
from kling_prep.plan.window import NoWindow, Window
from kling_prep.preflight import CheckResult
from kling_prep.report.prepared import PreparedView

SCHEMA_PATH = Path(__file__).with_name("schema.json")


def _num(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "message": f.message,
        "measured": f.measured,
        "threshold": f.threshold,
        "unit": f.unit,
        "fixable_by_prepare": f.is_fixable,
    }


def _image_json(r: ImageReport) -> dict[str, Any]:
    lighting = None
    if r.lighting is not None:
        m = r.lighting
        lighting = {
            "score": r.lighting_score,
            "exposure_stops": _num(m.exposure_stops),
            "face_exposure_stops": _num(m.face_exposure_stops),
            "clipped_highlights_pct": _num(m.clipped_highlights_pct),
            "crushed_shadows_pct": _num(m.crushed_shadows_pct),
            "contrast_stops": _num(m.contrast_stops),
            "backlight_stops": _num(backlight_of(m)),
            "background_exposure_stops": _num(m.background_exposure_stops),
            "color_cast": {
                "a_star": _num(m.color_cast.a_star),
                "b_star": _num(m.color_cast.b_star),
                "chroma_lab": _num(m.color_cast.chroma_lab),
                "hue": m.color_cast.hue_name,
            },
            "blur_index": _num(m.blur.blur) if m.blur else None,
            "blur_sigma_px": _num(m.blur.blur_sigma_px_equiv) if m.blur else None,
        }
    face = None
    if r.face is not None:
        face = {
            "view": r.face.view,
            "yaw_deg": _num(r.face.yaw_deg, 1),
            "pitch_deg": _num(r.face.pitch_deg, 1),
            "source": r.face.source,
        }
    return {
        "path": r.path,
        "format": r.format,
        "width": r.width,
        "height": r.height,
        "size_bytes": r.size_bytes,
        "score": r.score,
        "people_count": len(r.people),
        "people": [
            {"box": list(p.box), "size_ratio": p.size_ratio, "score": _num(p.score)}
            for p in r.people
        ],
        "face": face,
        "framing": r.framing,
        "visible_parts": r.visible_parts,
        "person_height_share": r.person_height_share,
        "arms_away_from_body": r.has_arms_away_from_body,
        "lighting": lighting,
        "findings": [finding_json(f) for f in r.findings],
    }


def _video_json(r: VideoReport) -> dict[str, Any]:
    return {
        "path": r.path,
        "container": r.container,
        "video_codec": r.video_codec,
        "width": r.width,
        "height": r.height,
        "fps": r.fps,
        "duration_s": r.duration_s,
        "frame_count": r.frame_count,
        "size_bytes": r.size_bytes,
        "has_audio": r.has_audio,
        "rotation_deg": r.rotation_deg,
        "color_transfer": r.color_transfer,
        "score": r.score,
        "people_per_second": r.people_per_second,
        "cuts": [{"time_s": c.time_s, "frame": c.frame} for c in r.cuts],
        "transitions": [
            {
                "kind": t.kind,
                "start_s": t.start_s,
                "end_s": t.end_s,
                "start_frame": t.start_frame,
                "end_frame": t.end_frame,
            }
            for t in r.transitions
        ],
        "timeline": [
            {
                "time_s": s.time_s,
                "frame": s.frame,
                "people": s.people,
                "background_people": s.background_people,
                "pose_read": s.pose_read,
                "face_view": s.face_view,
                "yaw_deg": s.yaw_deg,
                "body_in_frame": s.is_body_in_frame,
                "framing": s.framing,
            }
            for s in r.samples
        ],
        "camera": {
            k: (_num(v) if isinstance(v, float) else v)
            for k, v in r.camera.as_dict().items()
            if isinstance(v, (int, float, str)) or v is None
        }
        if r.camera
        else None,
        "motion": {
            "median_limb_speed": _num(r.motion.median_speed),
            "range_of_motion": _num(r.motion.range_of_motion),
            "fast_share": _num(r.motion.fast_share),
            "unit": "torso lengths (per second for speeds)",
        },
        "body_in_frame_share": r.body_in_frame_share,
        "framing": r.framing,
        "person_height_share": r.person_height_share,
        "findings": [finding_json(f) for f in r.findings],
    }


def window_json(w: Window | NoWindow | None) -> dict[str, Any] | None:
    """A trim window (or why there is none) as JSON data: the check's and prepare's."""
    if w is None:
        return None
    if isinstance(w, NoWindow):
        return {"found": False, "reason": w.reason}
    return {
        "found": True,
        "start_s": round(w.start_s, 3),
        "end_s": round(w.end_s, 3),
        "duration_s": round(w.duration_s, 3),
        "motion_score": w.motion_score,
        "reason": w.reason,
        "candidates": [
            {"start_s": a, "end_s": b, "motion_score": round(m, 3)} for a, b, m in w.candidates
        ],
    }


def to_json_dict(result: CheckResult) -> dict[str, Any]:
    """The result as plain JSON data, following schema.json."""
    return {
        "schema_version": result.schema_version,
        "tool": {"name": "kling-prep", "version": result.tool_version},
        "profile": result.profile,
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "credits": result.credits,
        "orientation": {
            "requested": result.requested_orientation,
            "suggested": result.orientation.value,
            "forced": result.orientation.is_forced,
            "reasons": result.orientation.reasons,
        },
        "keep_original_sound": result.keep_sound,
        "prompt": result.prompt,
        "suggested_prompt": result.suggested_prompt,
        "image": _image_json(result.image) if result.image else None,
        "video": _video_json(result.video) if result.video else None,
        "window": window_json(result.window),
        "pair_findings": [finding_json(f) for f in result.pair_findings],
        "prompt_findings": [finding_json(f) for f in result.prompt_findings],
        "findings": [finding_json(f) for f in result.findings],
        "sources": result.sources,
    }


def to_json(result: CheckResult) -> str:
    return json.dumps(to_json_dict(result), indent=2, ensure_ascii=False)


def to_json_line(result: CheckResult) -> str:
    """The same JSON on one line (the gate's output, for pipelines)."""
    return json.dumps(to_json_dict(result), ensure_ascii=False, separators=(",", ":"))


def _window_dict(result: PreparedView) -> dict[str, Any] | None:
    window = window_json(result.window)
    return None if window is None else {"source": result.window_source, **window}


def prepare_dict(result: PreparedView) -> dict[str, Any]:
    """The `prepare` section of report.json: what was done, as data."""
    t = result.transcode
    f = result.image_fix
    before = result.input_check
    return {
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "refusal": result.refusal.as_dict() if result.refusal else None,
        "window": _window_dict(result),
        "video": None
        if t is None
        else {
            "path": str(t.path),
            "path_taken": t.path_taken,
            "copy_blockers": t.copy_blockers,
            "start_s": t.start_s,
            "end_s": t.end_s,
            "duration_s": t.duration_s,
            "width": t.width,
            "height": t.height,
            "fps": t.fps,
            "size_bytes": t.size_bytes,
            "tone_map_method": t.tone_map_method,
            "steps": [s.as_dict() for s in t.steps],
        },
        "image": None
        if f is None
        else {
            "path": str(f.path),
            "format": f.format,
            "width": f.width,
            "height": f.height,
            "size_bytes": f.size_bytes,
            "steps": [s.as_dict() for s in f.steps],
        },
        "input_findings": [finding_json(x) for x in before.findings] if before else [],
    }


def report_dict(result: PreparedView) -> dict[str, Any]:
    """report.json: the check's JSON of the prepared files plus a `prepare` section."""
    base = to_json_dict(result.check) if result.check is not None else {}
    return {**base, "prepare": prepare_dict(result)}


def prepare_json(result: PreparedView) -> str:
    """report.json's text (without the final newline the file has)."""
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False)


def batch_summary_json(summary: dict[str, Any]) -> str:
    """A batch's summary.json data as `batch --json` prints it."""
    return json.dumps(summary, indent=2, ensure_ascii=False)
