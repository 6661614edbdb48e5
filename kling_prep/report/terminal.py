"""The terminal renderings: a check (a findings table, scores, credits and the orientation),
the gate's one line, what prepare did, and a batch's summary. The CLI prints what these return;
plain lines are `str`, printed as they are (never wrapped), the rest rich renderables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kling_prep.plan.window import NoWindow, Window
from kling_prep.preflight import CheckResult

if TYPE_CHECKING:
    from rich.console import RenderableType

    from kling_prep.checks.image import ImageReport
    from kling_prep.report.prepared import PreparedView

_STYLE = {"block": "bold red", "warn": "yellow", "info": "cyan"}
_VERDICT = {
    "ready": "[bold green]READY[/]: worth the credits",
    "warnings": "[bold yellow]WARNINGS[/]: will run, but read the findings",
    "blocked": "[bold red]BLOCKED[/]: the API would reject it or waste the credits",
}


def render_check(result: CheckResult) -> Any:
    """A rich renderable of the whole result (the CLI prints it)."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = [_summary(result), _findings_table(result)]
    if any(f.code.startswith("prompt.") for f in result.findings) or not result.prompt:
        parts.append(Text(f"suggested prompt: {result.suggested_prompt}", style="dim"))
    parts.append(Text.from_markup(_VERDICT[result.verdict]))
    return Group(*parts)


def _summary(result: CheckResult) -> Any:
    """A grid of one row per input, then the window, the orientation and the credits."""
    from rich.table import Table

    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    if result.image:
        summary.add_row("image", _image_line(result.image))
    if result.video:
        v = result.video
        summary.add_row(
            "video",
            f"{v.path}  {v.width}x{v.height} {v.fps:g} fps {v.duration_s:.1f} s  "
            f"score {v.score}/100  people/s {_runs(v.people_per_second)}  cuts {len(v.cuts)}",
        )
    if isinstance(result.window, Window):
        w = result.window
        summary.add_row(
            "window", f"{w.start_s:.2f}-{w.end_s:.2f} s ({w.duration_s:.1f} s): {w.reason}"
        )
    elif isinstance(result.window, NoWindow):
        summary.add_row("window", f"none: {result.window.reason}")
    o = result.orientation
    chosen = (
        f" (you asked for {result.requested_orientation})" if result.requested_orientation else ""
    )
    summary.add_row("orientation", f"suggest [bold]{o.value}[/]{chosen}: " + "; ".join(o.reasons))
    summary.add_row(
        "credits",
        f"{result.credits} charged at submission, whatever the result"
        if result.credits is not None
        else f"not documented for profile {result.profile}",
    )
    return summary


def _image_line(im: ImageReport) -> str:
    """The image's summary: path, size, format, score, people, face view, framing, lighting."""
    face = im.face.view.replace("_", "-") if im.face else "-"
    if im.face and im.face.yaw_deg is not None:
        face += f" (yaw {im.face.yaw_deg:+.0f} deg)"
    light = f", lighting {im.lighting_score}/100" if im.lighting_score is not None else ""
    return (
        f"{im.path}  {im.width}x{im.height} {im.format.upper()}  score {im.score}/100  "
        f"people {len(im.people)}  face {face}  {im.framing.replace('_', ' ')}{light}"
    )


def _findings_table(result: CheckResult) -> Any:
    """The findings, one row each with its severity in colour; "no findings" when none."""
    from rich.table import Table
    from rich.text import Text

    if not result.findings:
        return Text("no findings", style="green")
    table = Table(show_header=True, header_style="bold", expand=False, show_lines=False)
    table.add_column("severity")
    table.add_column("code")
    table.add_column("finding (measured; rule)", overflow="fold")
    for f in result.findings:
        table.add_row(Text(f.severity, style=_STYLE[f.severity]), f.code, f.message)
    return table


def _runs(values: list[int]) -> str:
    """[1,1,1,2,2,1] -> '1x3 2x2 1x1': the per-second person count, compactly."""
    if not values:
        return "-"
    out = []
    current, count = values[0], 0
    for v in values:
        if v == current:
            count += 1
        else:
            out.append(f"{current}x{count}")
            current, count = v, 1
    out.append(f"{current}x{count}")
    return " ".join(out)


_GATE_VERDICT = {"ready": "pass", "warnings": "warnings", "blocked": "blocked"}


def render_gate(result: CheckResult) -> str:
    """The gate's one line: the verdict, the codes that block or warn, the orientation."""
    parts = [_GATE_VERDICT[result.verdict]]
    for severity in ("block", "warn"):
        codes = sorted({f.code for f in result.findings if f.severity == severity})
        if codes:
            parts.append(f"{severity}: {', '.join(codes)}")
    parts.append(f"orientation: {result.orientation.value}")
    return "  ".join(parts)


def render_prepare(result: PreparedView) -> list[RenderableType]:
    """What prepare did, in order: the refusal, or the files removed or kept in the folder, the
    window, each prepared file with its steps, the check of the prepared files (a renderable)
    and the report's line. Every `str` is one plain line."""
    if result.refusal is not None:
        return [
            f"refused: {result.refusal.message}",
            f"  rule: {result.refusal.rule}; nothing was written",
        ]
    parts: list[RenderableType] = [*_out_dir_lines(result), *_window_lines(result)]
    parts += _file_lines("video", result.video_path, result)
    parts += _file_lines("image", result.image_path, result)
    if result.check is not None:
        parts.append(render_check(result.check))
    parts.append(f"report  {result.report_path}  (verdict: {result.verdict})")
    return parts


def _out_dir_lines(result: PreparedView) -> list[str]:
    """With --force: what an earlier prepare wrote there and was removed, and what was kept."""
    lines = []
    if result.removed_paths:
        names = ", ".join(p.name for p in result.removed_paths)
        lines.append(f"removed {names} (written by an earlier prepare)")
    if result.kept_paths:
        names = ", ".join(p.name for p in result.kept_paths)
        lines.append(f"kept    {names} (not written by kling-prep: not in report.json)")
    return lines


def _window_lines(result: PreparedView) -> list[str]:
    if result.window is None:
        return []
    w = result.window
    return [
        f"window  {w.start_s:.2f}-{w.end_s:.2f} s ({w.duration_s:.1f} s, "
        f"{result.window_source}): {w.reason}"
    ]


def _file_lines(label: str, path: Path | None, result: PreparedView) -> list[str]:
    """A prepared file (the video with the path taken: copied or re-encoded) and its steps."""
    if path is None:
        return []
    taken = f" [{result.path_taken}]" if label == "video" else ""
    steps = result.video_steps if label == "video" else result.image_steps
    return [f"{label}   {path}{taken}", *(f"  - {s.action}: {s.detail}" for s in steps)]


# Failed rows named on the terminal; the rest are in summary.html.
MAX_FAILURES_SHOWN = 20


def render_batch_summary(
    summary: dict[str, Any],
    *,
    rows_skipped: int,
    executor: str,
    results_path: Path,
    summary_path: Path,
    html_path: Path,
) -> list[str]:
    """A batch's summary.json data as the table `batch` prints: rows, failures, verdicts,
    blocks, submissions, credits, throughput and where the files are."""
    s = summary
    rows, credits, speed = s["rows"], s["credits"], s["throughput"]
    blocks = {code: n["block"] for code, n in s["findings"].items() if n.get("block")}
    lines = [
        f"rows        {rows['total']}: {rows['done']} done, {rows['failed']} failed, "
        f"{rows['to_retry']} to retry, {rows['not_run']} not run, {rows['duplicates']} "
        f"duplicates ({rows_skipped} already done before this run)",
        *_failure_lines(s["failures"], html_path),
        "verdicts    " + (", ".join(f"{k} {n}" for k, n in s["verdicts"].items()) or "-"),
        "blocks      " + (", ".join(f"{k} {n}" for k, n in blocks.items()) or "-"),
    ]
    if s["submissions"]:
        lines.append("submitted   " + ", ".join(f"{k} {n}" for k, n in s["submissions"].items()))
    lines.append(
        f"credits     {credits['spent']} spent, {credits['possibly_spent']} possibly spent, "
        f"{credits['saved']} saved ({credits['per_job']} per blocked row)"
    )
    if speed["rows_per_min"] is not None:
        lines.append(
            f"throughput  {speed['rows_per_min']} rows/min ({speed['rows_run']} rows in "
            f"{speed['wall_s']} s, {executor}, {speed['workers'] or 'auto'} workers)"
        )
    lines.append(f"results     {results_path}")
    lines.append(f"summary     {summary_path}  {html_path}")
    return lines


def _failure_lines(failures: list[dict[str, Any]], html_path: Path) -> list[str]:
    """Each failed row, its line in the manifest, why, and whether a re-run retries it."""
    lines = []
    for f in failures[:MAX_FAILURES_SHOWN]:
        where = f"row {f['row']}" + (f" (line {f['line']})" if f.get("line") else "")
        then = "retried on the next run" if f["retried"] else "fix it, then run again"
        lines.append(f"failed      {where}: {f['reason']} [{then}]")
    if len(failures) > MAX_FAILURES_SHOWN:
        lines.append(f"failed      ... and {len(failures) - MAX_FAILURES_SHOWN} more: {html_path}")
    return lines
