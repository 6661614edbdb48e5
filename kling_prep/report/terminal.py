"""The terminal rendering of a check: a findings table, scores, credits and the orientation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kling_prep.plan.window import NoWindow, Window
from kling_prep.preflight import CheckResult

if TYPE_CHECKING:
    from kling_prep.checks.image import ImageReport

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
