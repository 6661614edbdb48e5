"""The HTML rendering of a check: one self-contained file (pictures inlined as data URIs) with
the image's pose and face drawn, a contact sheet of the video and a timeline."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.checks.findings import SEVERITY_ORDER, Finding
from kling_prep.checks.image import ImageReport, backlight_of
from kling_prep.checks.video import SAMPLE_FPS, VideoReport, VideoSample
from kling_prep.media.outputs import write_atomically
from kling_prep.plan.window import NoWindow, Window
from kling_prep.preflight import CheckResult
from kling_prep.report.preview import preview_strip
from kling_prep.vision.pose import SKELETON

_COLORS = {"block": "#c62828", "warn": "#b7791f", "info": "#2b6cb0"}
_VIEW_COLORS = {
    "frontal": "#2f855a",
    "three_quarter": "#68d391",
    "profile": "#dd6b20",
    "no_face": "#c53030",
    None: "#cbd5e0",
}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:24px 0 8px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;color:#fff;font-weight:600}
.ready{background:#2f855a}.warnings{background:#b7791f}.blocked{background:#c62828}
table{border-collapse:collapse;width:100%} td,th{padding:4px 8px;border-bottom:1px solid #e2e8f0;
text-align:left;vertical-align:top} .sev{font-weight:600} img{max-width:100%;border:1px solid #cbd5e0}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px}
.kv td:first-child{color:#4a5568;white-space:nowrap} .legend span{margin-right:12px}
.strip{display:flex;flex-wrap:wrap;gap:6px} .strip img{height:300px;max-width:100%;object-fit:contain}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""


def _data_uri(bgr: NDArray[Any]) -> str:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def draw_image_overlay(report: ImageReport) -> NDArray[Any] | None:
    """The character image with every person's box, the pose skeleton and the face mesh."""
    art = report.artefacts
    if art is None:
        return None
    bgr = cv2.cvtColor(art.rgb, cv2.COLOR_RGB2BGR)
    thick = max(2, round(max(bgr.shape[:2]) / 400))
    boxes = [person.detection.box for person in art.people] + list(art.unread_boxes)
    for rank, (x, y, w, h) in enumerate(boxes):
        color = (60, 180, 60) if rank == 0 else (40, 40, 220)
        cv2.rectangle(bgr, (x, y), (x + w, y + h), color, thick)
    if art.pose is not None:
        pts = art.pose.points_px
        for a, b in SKELETON:
            if art.pose.visibility[a] >= 0.5 and art.pose.visibility[b] >= 0.5:
                cv2.line(
                    bgr,
                    tuple(int(v) for v in pts[a]),
                    tuple(int(v) for v in pts[b]),
                    (0, 220, 255),
                    thick,
                )
        for i, p in enumerate(pts[:29]):
            color = (0, 220, 255) if art.pose.visibility[i] >= 0.5 else (120, 120, 120)
            cv2.circle(bgr, (int(p[0]), int(p[1])), thick + 1, color, -1)
    face = art.face
    if face is not None and face.mesh_px is not None:
        for p in face.mesh_px[::3]:
            cv2.circle(bgr, (int(p[0]), int(p[1])), 1, (255, 200, 0), -1)
    if face is not None and face.box_px is not None:
        x, y, w, h = face.box_px
        cv2.rectangle(bgr, (x, y), (x + w, y + h), (255, 200, 0), max(1, thick // 2))
    return bgr


# How many of a finding's samples get a tile: as many as its message names (`_times` in
# checks/video.py shows six), so every time the user reads has its picture.
_TILES_PER_FINDING = 6
_BOX_COLORS = {"main": (60, 180, 60), "rival": (40, 40, 220), "background": (0, 140, 255)}


def finding_samples(report: VideoReport) -> list[tuple[Finding, list[int]]]:
    """Each finding of the video that names times, with the indices (into `report.samples`) of
    the samples it was raised on, or, for a cut or a transition, the sample nearest its time.

    The rules mirror the checks' own (`checks/video.py`), read back from the timeline, so the
    report shows the very samples a finding's message lists."""
    samples = report.samples
    present = [i for i, s in enumerate(samples) if s.people > 0 and s.pose_read]

    def nearest(time_s: float) -> int:
        return min(range(len(samples)), key=lambda i: abs(samples[i].time_s - time_s))

    named: dict[str, list[int]] = {
        "video.multiple_people": [i for i, s in enumerate(samples) if s.people > 1],
        "video.background_person": [i for i, s in enumerate(samples) if s.background_people > 0],
        "video.no_person": [i for i, s in enumerate(samples) if s.people == 0],
        "video.person_leaves_frame": [i for i in present if not samples[i].is_body_in_frame],
        "video.face_hidden": [i for i in present if samples[i].face_view == "no_face"],
    }
    if samples:
        named["video.scene_cut"] = [nearest(c.time_s) for c in report.cuts]
        named["video.transition"] = [
            nearest((tr.start_s + tr.end_s) / 2) for tr in report.transitions
        ]
    return [(f, named[f.code]) for f in report.findings if named.get(f.code)]


def sheet_picks(report: VideoReport, *, max_tiles: int = 12) -> list[int]:
    """The samples the contact sheet shows, in time order: up to `max_tiles` spread evenly over
    the samples whose pose was read (each tile shows a body and a face view), and every sample
    a finding names (up to `_TILES_PER_FINDING` a finding)."""
    count = len(report.artefacts.samples) if report.artefacts else 0
    pool = [i for i, s in enumerate(report.samples[:count]) if s.pose_read] or list(range(count))
    if not pool:
        return []
    spread = np.linspace(0, len(pool) - 1, min(max_tiles, len(pool))).round()
    picks = {pool[int(k)] for k in spread}
    for _, indices in finding_samples(report):
        picks.update(i for i in indices[:_TILES_PER_FINDING] if i < count)
    return sorted(picks)


def contact_sheet(
    report: VideoReport, *, columns: int = 4, max_tiles: int = 12
) -> NDArray[Any] | None:
    """The samples of `sheet_picks`, each with its time and every person's box: the main
    person green, a rival of comparable size red, a smaller background person orange; a tile a
    finding names is framed in the finding's colour and carries its code."""
    art = report.artefacts
    picks = sheet_picks(report, max_tiles=max_tiles)
    if art is None or not picks:
        return None
    tags: dict[int, list[Finding]] = {}
    for finding, indices in finding_samples(report):
        for i in indices[:_TILES_PER_FINDING]:
            tags.setdefault(i, []).append(finding)
    tiles = []
    tile_w = 320
    for i in picks:
        sample = art.samples[i]
        bgr = cv2.cvtColor(sample.rgb, cv2.COLOR_RGB2BGR)
        timeline = report.samples[i]
        boxes = [("main", timeline.main_box)] if timeline.main_box is not None else []
        # A crowd seen without a main person (the crowd look) is all rivals.
        rivals = timeline.people - 1 if timeline.main_box is not None else timeline.people
        boxes += [
            ("rival" if k < rivals else "background", b) for k, b in enumerate(timeline.other_boxes)
        ]
        thick = max(2, round(bgr.shape[1] / 200))
        for kind, (x, y, w, h) in boxes:
            cv2.rectangle(bgr, (x, y), (x + w, y + h), _BOX_COLORS[kind], thick)
        scale = tile_w / bgr.shape[1]
        bgr = cv2.resize(
            bgr, (tile_w, max(2, round(bgr.shape[0] * scale))), interpolation=cv2.INTER_AREA
        )
        label = f"{sample.time_s:.1f}s  people {timeline.people}"
        if timeline.background_people:
            label += f" +{timeline.background_people} small"
        label += f"  {timeline.face_view or '-'}"
        _banner(bgr, label, 0, (0, 0, 0))
        found = tags.get(i, [])
        if found:
            worst = min(found, key=lambda f: SEVERITY_ORDER[f.severity])
            color = _bgr(_COLORS[worst.severity])
            text = ", ".join(dict.fromkeys(f.code.removeprefix("video.") for f in found))
            _banner(bgr, text, bgr.shape[0] - 20, color)
            cv2.rectangle(bgr, (0, 0), (bgr.shape[1] - 1, bgr.shape[0] - 1), color, 4)
        tiles.append(bgr)
    tile_h = max(t.shape[0] for t in tiles)
    tiles = [
        cv2.copyMakeBorder(t, 0, tile_h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT) for t in tiles
    ]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r : r + columns]) for r in range(0, len(tiles), columns)]
    return np.vstack(rows)


def _banner(bgr: NDArray[Any], text: str, y: int, color: tuple[int, int, int]) -> None:
    cv2.rectangle(bgr, (0, y), (bgr.shape[1], y + 20), color, -1)
    cv2.putText(
        bgr, text, (4, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA
    )


def _bgr(hex_color: str) -> tuple[int, int, int]:
    r, g, b = (int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
    return (b, g, r)


@dataclass(frozen=True)
class _Axis:
    """The timeline's geometry: the x of a time, each row's top, the picture's height."""

    dur: float
    rows_y: dict[str, int]
    height: int
    width: int = 1000
    left: int = 90
    row: int = 26
    marks_h: int = 14  # one lane of marks a finding

    def x(self, t: float) -> float:
        return self.left + (self.width - self.left - 10) * min(max(t, 0.0), self.dur) / self.dur


def timeline_svg(report: VideoReport, window: Window | NoWindow | None) -> str:
    """Rows over time: people, face view, the change score with cuts, the findings' samples,
    the usable window."""
    row = _Axis.row
    rows_y = {"people": 10, "face": 10 + row + 6, "change": 10 + 2 * (row + 6)}
    rows_y["findings"] = rows_y["change"] + 2 * row + 6
    timed = finding_samples(report)
    height = rows_y["findings"] + _Axis.marks_h * max(1, len(timed)) + 30
    ax = _Axis(max(report.duration_s, 1e-3), rows_y, height)
    width, x = ax.width, ax.x
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline">']  # fmt: skip
    if isinstance(window, Window):
        out.append(f'<rect x="{x(window.start_s):.1f}" y="4" width="{x(window.end_s) - x(window.start_s):.1f}" '
                   f'height="{height - 24}" fill="#c6f6d5" opacity="0.6"><title>usable window '
                   f'{window.start_s:.2f}-{window.end_s:.2f} s</title></rect>')  # fmt: skip
    for label, y in (
        ("people", rows_y["people"]),
        ("face view", rows_y["face"]),
        ("change", rows_y["change"]),
    ):
        out.append(f'<text x="4" y="{y + 17}" font-size="12" fill="#4a5568">{label}</text>')
    out += _sample_cells(report, ax)
    scores = report.artefacts.cut_scores if report.artefacts else []
    if scores:
        base = rows_y["change"] + 2 * row
        pts = " ".join(f"{x(t):.1f},{base - 2 * row * min(1.0, s):.1f}" for t, s in scores)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#4a5568" stroke-width="1"/>')
    out += _finding_marks(report, timed, ax)
    out += _cuts_and_ticks(report, ax)
    out.append("</svg>")
    return "".join(out)


def _sample_cells(report: VideoReport, ax: _Axis) -> list[str]:
    """The people and face-view rows: a coloured cell a sample."""
    # Each sample's cell reaches halfway to its neighbours (people are counted on every sample,
    # the face view read on those with `pose_read`); the first from the start, the last to the
    # end of what was decoded: one sampling step past the last sample.
    read = [s for s in report.samples if s.pose_read]
    decoded_end_s = report.samples[-1].time_s + 1.0 / SAMPLE_FPS if report.samples else ax.dur
    out = []
    for row_name, row_samples in (("people", report.samples), ("face", read)):
        for i, s in enumerate(row_samples):
            t0 = (row_samples[i - 1].time_s + s.time_s) / 2 if i else 0.0
            if i + 1 < len(row_samples):
                t1 = (row_samples[i + 1].time_s + s.time_s) / 2
            else:
                t1 = decoded_end_s
            x0, x1 = ax.x(t0), ax.x(t1)
            color, title = _cell_look(row_name, s)
            out.append(f'<rect x="{x0:.1f}" y="{ax.rows_y[row_name]}" width="{max(1.0, x1 - x0):.1f}" '
                       f'height="{ax.row}" fill="{color}"><title>{title}</title></rect>')  # fmt: skip
    return out


def _cell_look(row_name: str, s: VideoSample) -> tuple[str, str]:
    """A sample's cell in the people or the face row: its colour and its title."""
    if row_name == "people":
        color = {0: "#a0aec0", 1: "#2f855a"}.get(s.people, "#c62828")
        if s.people == 1 and s.background_people:
            color = "#dd6b20"
        small = f" and {s.background_people} smaller" if s.background_people else ""
        return color, f"{s.time_s:.1f} s: {s.people} people{small}"
    color = _VIEW_COLORS.get(s.face_view, "#cbd5e0")
    yaw = "" if s.yaw_deg is None else f" {s.yaw_deg:+.0f} deg"
    return color, f"{s.time_s:.1f} s: {(s.face_view or 'nobody').replace('_', '-')}{yaw}"


def _finding_marks(
    report: VideoReport, timed: list[tuple[Finding, list[int]]], ax: _Axis
) -> list[str]:
    """A mark at every sample a finding was raised on, one lane a finding, in its colour."""
    out = []
    for lane, (finding, indices) in enumerate(timed):
        y = ax.rows_y["findings"] + lane * ax.marks_h
        color = _COLORS[finding.severity]
        for i in indices:
            s = report.samples[i]
            out.append(f'<rect class="mark" x="{ax.x(s.time_s) - 4:.1f}" y="{y}" width="8" '
                       f'height="{ax.marks_h - 3}" fill="{color}"><title>{html.escape(finding.code)} '
                       f'at {s.time_s:.1f} s</title></rect>')  # fmt: skip
        name = finding.code.removeprefix("video.").replace("_", " ")
        out.append(f'<text x="{ax.left - 8}" y="{y + 10}" font-size="8" fill="{color}" text-anchor="end">'
                   f"{html.escape(name)}</text>")  # fmt: skip
    return out


def _cuts_and_ticks(report: VideoReport, ax: _Axis) -> list[str]:
    """The transitions and the cuts across all rows, and the seconds along the bottom."""
    x, height, dur = ax.x, ax.height, ax.dur
    out = []
    for tr in report.transitions:
        out.append(f'<rect x="{x(tr.start_s):.1f}" y="4" width="{max(2.0, x(tr.end_s) - x(tr.start_s)):.1f}" '
                   f'height="{height - 24}" fill="#fbd38d" opacity="0.7"><title>{tr.kind} '
                   f'{tr.start_s:.2f}-{tr.end_s:.2f} s</title></rect>')  # fmt: skip
    for cut in report.cuts:
        out.append(f'<line x1="{x(cut.time_s):.1f}" x2="{x(cut.time_s):.1f}" y1="4" y2="{height - 20}" '
                   f'stroke="#c62828" stroke-width="2"><title>cut at {cut.time_s:.2f} s (frame {cut.frame})'
                   f'</title></line>')  # fmt: skip
    for sec in range(int(dur) + 1):
        if dur > 20 and sec % 5:
            continue
        out.append(f'<text x="{x(sec):.1f}" y="{height - 6}" font-size="10" fill="#718096" '
                   f'text-anchor="middle">{sec}s</text>')  # fmt: skip
    return out


def findings_table(findings: list[Finding]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f'<tr><td class="sev" style="color:{_COLORS[f.severity]}">{f.severity}</td>'
        f"<td><code>{html.escape(f.code)}</code></td><td>{html.escape(f.message)}</td></tr>"
        for f in findings
    )
    return f"<table><tr><th>severity</th><th>code</th><th>finding</th></tr>{rows}</table>"


def _image_section(im: ImageReport) -> str:
    overlay = draw_image_overlay(im)
    picture = (
        f'<img alt="character image with pose and face" src="{_data_uri(overlay)}">'
        if overlay is not None
        else "<p>(not decodable)</p>"
    )
    face = im.face
    verdict = "no face" if face is None else face.view.replace("_", "-")
    if face is not None and face.yaw_deg is not None:
        verdict += f", yaw {face.yaw_deg:+.0f} deg"
        if face.pitch_deg is not None:
            verdict += f", pitch {face.pitch_deg:+.0f} deg"
        verdict += f" ({face.source.replace('_', ' ')})"
    light = im.lighting
    rows = [
        (
            "file",
            f"{im.path} ({im.width}x{im.height} {im.format.upper()}, {im.size_bytes / 1e6:.2f} MB)",
        ),
        ("score", f"{im.score}/100"),
        ("people", str(len(im.people))),
        ("face view", verdict),
        ("framing", im.framing.replace("_", " ")),
        ("visible", ", ".join(k for k, v in im.visible_parts.items() if v) or "-"),
    ]
    if light is not None:
        ev = (
            light.face_exposure_stops
            if light.face_exposure_stops is not None
            else light.exposure_stops
        )
        rows += [
            ("lighting", f"{im.lighting_score}/100"),
            (
                "exposure",
                f"{ev:+.2f} stops ({'face' if light.face_exposure_stops is not None else 'person'})",
            ),
            ("clipped", f"{light.clipped_highlights_pct:.1f}%"),
            ("contrast", f"{light.contrast_stops:.1f} stops"),
            (
                "backlight",
                "-" if backlight_of(light) is None else f"{backlight_of(light) or 0.0:+.1f} stops",
            ),
            ("colour cast", f"{light.color_cast.hue_name}, {light.color_cast.chroma_lab:.1f} Lab"),
            (
                "blur",
                "-" if light.blur is None else f"{light.blur.blur_sigma_px_equiv:.1f} px equiv.",
            ),
        ]
    kv = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (f'<h2>Character image</h2><div class="grid"><div>{picture}</div>'
            f'<div><table class="kv">{kv}</table></div></div>{findings_table(im.findings)}')  # fmt: skip


def _video_section(v: VideoReport, window: Window | NoWindow | None) -> str:
    sheet = contact_sheet(v)
    picture = (
        f'<img alt="contact sheet of the video" src="{_data_uri(sheet)}">'
        if sheet is not None
        else ""
    )
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{html.escape(str(k or "nobody"))}</span>'
        for k, c in _VIEW_COLORS.items()
    )
    if isinstance(window, Window):
        win = f"usable window {window.start_s:.2f}-{window.end_s:.2f} s ({window.reason})"
    elif isinstance(window, NoWindow):
        win = f"no usable window: {window.reason}"
    else:
        win = ""
    cuts = ", ".join(f"{c.time_s:.2f} s (frame {c.frame})" for c in v.cuts) or "none"
    info = (f"{v.path}: {v.width}x{v.height}, {v.fps:g} fps, {v.duration_s:.2f} s, {v.video_codec}, "
            f"{'audio' if v.has_audio else 'no audio'}; score {v.score}/100; cuts: {cuts}")  # fmt: skip
    return (f"<h2>Reference video</h2><p>{html.escape(info)}</p>{picture}"
            f"<h2>Timeline</h2><p>{html.escape(win)}</p>{timeline_svg(v, window)}"
            f'<p class="legend">face view: {legend}</p><p class="legend">people: green one, red '
            f"more, orange one and a smaller person, grey none; red lines: cuts; orange bands: "
            f"fades/dissolves; green band: usable window; below the change curve, a lane a "
            f"finding with a mark at each sample it names (its tile above is framed in its "
            f"colour). Boxes on the tiles: green the main person, red a person of comparable "
            f"size, orange a smaller person</p>"
            f"{findings_table(v.findings)}")  # fmt: skip


def _preview_section(result: CheckResult) -> str:
    """The video's skeleton on the character image at a few read samples (see
    `report/preview.py`), with the pair's findings."""
    motion = result.motion_map
    strip = preview_strip(result)
    if motion is None or not strip:
        return ""
    how = {"torso": "torsos", "shoulders": "shoulders", "head": "heads"}[motion.mapping.anchor]
    note = (
        f"The video's pose at the samples the check read, placed on the character image by the "
        f"two {how} at {motion.mapping.anchor_time_s:.1f} s (one scale and shift for the whole "
        f"clip, so the dancer's travel and change of size show). Orange: a limb outside the "
        f"image's frame or one the image does not show; cyan: the rest. Right of each frame: "
        f"the video's own sample. Over the clip {motion.outside_pct:.0f}% of the "
        f"skeleton falls outside the image."
    )
    tiles = "".join(
        f'<img alt="the video\'s skeleton on the character image at {time_s:.1f} s" '
        f'src="{_data_uri(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))}">'
        for time_s, rgb in strip
    )
    return (f'<h2>Motion preview</h2><p>{html.escape(note)}</p><div class="strip">{tiles}</div>'
            f"{findings_table(result.pair_findings)}")  # fmt: skip


def render_html(result: CheckResult) -> str:
    o = result.orientation
    head = (f'<h1>kling-prep pre-flight report</h1><p><span class="verdict {result.verdict}">'
            f"{result.verdict.upper()}</span> &nbsp; {'?' if result.credits is None else result.credits} credits at submission &nbsp; "
            f"suggested orientation <b>{o.value}</b>: {html.escape('; '.join(o.reasons))}</p>")  # fmt: skip
    body = [head, "<h2>All findings</h2>", findings_table(result.findings)]
    if result.image is not None:
        body.append(_image_section(result.image))
    if result.video is not None:
        body.append(_video_section(result.video, result.window))
    body.append(_preview_section(result))
    body.append(f"<h2>Prompt</h2><p>given: {html.escape(result.prompt or '(none)')}</p>"
                f"<p>suggested: {html.escape(result.suggested_prompt)}</p>")  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>kling-prep report</title>'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")  # fmt: skip


def write_html(result: CheckResult, path: Path) -> None:
    """Write the report atomically: a temporary file in the same folder, renamed when complete."""
    write_atomically(render_html(result).encode("utf-8"), path)
