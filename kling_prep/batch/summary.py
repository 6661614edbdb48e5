"""The batch summary: counts per verdict and finding code, credits spent and saved, throughput and
the per-row cost by stage, as `summary.json` data; and `summary.html`, one self-contained page
with a contact sheet per blocked row."""

from __future__ import annotations

import base64
import html
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kling_prep.batch.row import BLOCKED_VERDICTS

SUMMARY_VERSION = "1.0"
# Pictures inlined in summary.html; beyond this the page links to the files in sheets/.
MAX_INLINE_SHEETS = 200


@dataclass(frozen=True)
class RunStats:
    """This run's own figures: what it did and how long it took."""

    executor: str
    workers: int
    rows_run: int
    rows_skipped: int
    wall_s: float


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def cost_split(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean seconds per row, by stage, over rows that were checked.

    decode: the video's single decode pass; analysis: what the check takes beyond the decode
    (the image, people, pose and face run beside the decoder; this is what outlasts it, plus
    the plan) and prepare's own checks; encode: prepare's video encode;
    io: fetching URLs and building the models; submit: upload and POST; cpu: processor time of
    the worker (all its threads) per row, which can exceed total when MediaPipe runs threads.
    """
    checked = [line["timings_s"] for line in lines if line.get("check") and line.get("timings_s")]
    decode, analysis, encode, io, submit, total, cpu = [], [], [], [], [], [], []
    for t in checked:
        check_s = t.get("check_s", 0.0)
        d = t.get("video_decode_s", 0.0)
        e = t.get("encode_s", 0.0)
        f = t.get("fetch_s", 0.0)
        decode.append(d)
        io.append(f)
        analysis.append(max(0.0, check_s - d - f) + max(0.0, t.get("prepare_s", 0.0) - e))
        encode.append(e)
        submit.append(t.get("submit_s", 0.0))
        total.append(t.get("total_s", 0.0))
        cpu.append(t.get("cpu_s", 0.0))
    return {
        "rows": len(checked),
        "decode_s": _mean(decode),
        "analysis_s": _mean(analysis),
        "encode_s": _mean(encode),
        "io_s": _mean(io),
        "submit_s": _mean(submit),
        "total_s": _mean(total),
        "cpu_s": _mean(cpu),
    }


# A submission that ended in these failed its row, even where the check passed.
_FAILED_SUBMISSIONS = ("error", "rejected")


def failures(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row that failed and why, by row: a row error (a bad manifest row, a missing input, a
    worker that died) or a submission that errored or was rejected. `retried` says whether
    the next run tries it again (else the manifest or the input must be fixed)."""
    out = []
    for line in lines:
        sub = line.get("submission") or {}
        if line["status"] == "error":
            error = line.get("error") or {}
            reason = str(error.get("message") or error.get("type") or "unknown error")
        elif sub.get("status") in _FAILED_SUBMISSIONS:
            reason = f"submission {sub['status']}: {sub.get('reason', '')}".rstrip(": ")
        else:
            continue
        out.append({
            "row": line["row"], "line": line.get("line"), "reason": reason,
            "retried": not line.get("final"),
        })  # fmt: skip
    return sorted(out, key=lambda f: f["row"])


def build_summary(
    lines: list[dict[str, Any]],
    *,
    rows: int,
    duplicates: list[dict[str, int]],
    manifest: str,
    out_dir: Path,
    credits_per_job: int | None,
    budget_credits: int | None,
    run: RunStats,
) -> dict[str, Any]:
    """summary.json's content.

    Args:
        lines: the current result of each manifest row (one per key, last line wins).
        rows: the manifest's row count, bad rows included.
        duplicates: rows that repeat an earlier row's inputs (`{"row", "same_as"}`).
        run: this run's figures, for throughput.
    """
    tally = _Tally.of(lines, credits_per_job)
    failed = failures(lines)
    return {
        "summary_version": SUMMARY_VERSION,
        "manifest": manifest,
        "out_dir": str(out_dir),
        "rows": _row_counts(lines, rows=rows, duplicates=len(duplicates), failed=failed),
        "verdicts": dict(sorted(tally.verdicts.items())),
        "findings": {code: dict(c) for code, c in sorted(tally.findings.items())},
        "submissions": dict(sorted(tally.submissions.items())),
        "credits": {
            "per_job": credits_per_job,
            "spent": tally.spent,
            "possibly_spent": tally.possibly,
            # None: the profile's provider documents no price (nothing was submitted then).
            "saved": None if credits_per_job is None else tally.blocked * credits_per_job,
            "saved_rule": "blocked rows x credits per job: jobs the check kept from being paid for",
            "budget": budget_credits,
        },
        "throughput": _throughput(run),
        "cost_per_row_s": cost_split(lines),
        "duplicates": duplicates,
        "failures": failed,
    }


@dataclass
class _Tally:
    """Counts over the rows' lines: verdicts, findings by code and severity, submissions by
    status, and the credits spent (charged) or possibly spent (outcome unknown)."""

    verdicts: Counter[str] = field(default_factory=Counter)
    findings: dict[str, Counter[str]] = field(default_factory=dict)
    submissions: Counter[str] = field(default_factory=Counter)
    spent: int = 0
    possibly: int = 0

    @property
    def blocked(self) -> int:
        return sum(self.verdicts[v] for v in BLOCKED_VERDICTS)

    @classmethod
    def of(cls, lines: list[dict[str, Any]], credits_per_job: int | None) -> _Tally:
        tally = cls()
        for line in lines:
            tally.verdicts[line["verdict"] if line["status"] == "done" else "error"] += 1
            for f in (line.get("check") or {}).get("findings", []):
                tally.findings.setdefault(f["code"], Counter())[f["severity"]] += 1
            sub = line.get("submission")
            if sub:
                tally.submissions[sub["status"]] += 1
                if sub["status"] == "submitted":
                    tally.spent += sub.get("credits_charged") or credits_per_job or 0
                elif sub["status"] == "unknown":
                    tally.possibly += sub.get("intended_credits") or credits_per_job or 0
        return tally


def _row_counts(
    lines: list[dict[str, Any]], *, rows: int, duplicates: int, failed: list[dict[str, Any]]
) -> dict[str, int]:
    final = sum(1 for line in lines if line.get("final"))
    return {
        "total": rows,
        # Done: a final result that is not a failure (a bad manifest row is final, yet not done).
        "done": final - sum(1 for f in failed if not f["retried"]),
        "failed": len(failed),  # final or not: a row error or a failed submission
        "to_retry": len(lines) - final,
        "not_run": rows - len(lines) - duplicates,
        "duplicates": duplicates,
    }


def _throughput(run: RunStats) -> dict[str, Any]:
    minutes = run.wall_s / 60
    return {
        "executor": run.executor,
        "workers": run.workers,
        "rows_run": run.rows_run,
        "rows_skipped": run.rows_skipped,
        "wall_s": round(run.wall_s, 2),
        "rows_per_min": round(run.rows_run / minutes, 2) if run.rows_run and minutes else None,
    }


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} h3{font-size:15px;margin:0}
table{border-collapse:collapse} td,th{padding:4px 10px;border-bottom:1px solid #e2e8f0;
text-align:left;vertical-align:top} .num{text-align:right} .sev{font-weight:600}
.row{border:1px solid #cbd5e0;border-radius:6px;padding:12px;margin:12px 0}
.row img{max-width:100%;border:1px solid #cbd5e0;margin-top:8px} .muted{color:#4a5568}
.pics{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr);gap:12px}
.verdict{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:600}
.ready,.fixed{background:#2f855a}.warnings{background:#b7791f}.blocked,.refused{background:#c62828}
.error{background:#4a5568} code{font-size:13px}
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _findings_of(line: dict[str, Any]) -> list[Any]:
    from kling_prep.checks.findings import CODES, Finding

    found = [*(line.get("check") or {}).get("findings", [])]
    found += (line.get("prepare") or {}).get("findings", [])
    out = []
    for f in found:
        if f["code"] in CODES and f["severity"] != "info":
            out.append(Finding(f["code"], f["severity"], f["message"], f.get("measured"),
                               f.get("threshold"), f.get("unit", "")))  # fmt: skip
    return out


def _picture(out_dir: Path, relative: str | None, alt: str, inline: bool) -> str:
    if relative is None or not (out_dir / relative).is_file():
        return ""
    if inline:
        data = base64.b64encode((out_dir / relative).read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{data}">'
    return f'<p><a href="{html.escape(relative)}">{html.escape(alt)}</a></p>'


def _blocked_row(line: dict[str, Any], out_dir: Path, inline: bool) -> str:
    from kling_prep.report.html import findings_table

    inputs = line.get("inputs", {})
    pics = line.get("pictures", {})
    image = _picture(out_dir, pics.get("image"), "character image", inline)
    video = _picture(out_dir, pics.get("video"), "contact sheet", inline)
    title = (f'<h3>row {line["row"]} <span class="verdict {line["verdict"]}">{line["verdict"]}'
             f"</span></h3><p class=muted>{html.escape(str(inputs.get('image')))}<br>"
             f"{html.escape(str(inputs.get('video')))}</p>")  # fmt: skip
    return (f'<div class="row">{title}{findings_table(_findings_of(line))}'
            f'<div class="pics"><div>{image}</div><div>{video}</div></div></div>')  # fmt: skip


def render_summary_html(summary: dict[str, Any], lines: list[dict[str, Any]], out_dir: Path) -> str:
    """summary.html: the figures, the findings by code, the errors, and each blocked row with
    its findings, its image overlay and its video's contact sheet (inlined: one file)."""
    from kling_prep.checks.findings import CODES

    esc = html.escape
    rows, credits, speed = summary["rows"], summary["credits"], summary["throughput"]
    cost = summary["cost_per_row_s"]
    head = (f"<h1>kling-prep batch</h1><p class=muted>{esc(summary['manifest'])} &rarr; "
            f"{esc(summary['out_dir'])}</p>")  # fmt: skip
    figures = _table(["", ""], [
        ["rows", f"{rows['total']} ({rows['done']} done, {rows['failed']} failed, "
                 f"{rows['to_retry']} to retry, "
                 f"{rows['not_run']} not run, {rows['duplicates']} duplicates)"],
        ["verdicts", ", ".join(f'<span class="verdict {esc(v)}">{esc(v)}</span> {n}'
                               for v, n in summary["verdicts"].items()) or "-"],
        ["credits", f"{credits['spent']} spent, {credits['possibly_spent']} possibly spent, "
                    f"<b>{'?' if credits['saved'] is None else credits['saved']} saved</b> ({esc(credits['saved_rule'])})"
                    + (f"; budget {credits['budget']}" if credits["budget"] is not None else "")],
        ["submissions", ", ".join(f"{esc(k)} {n}" for k, n in summary["submissions"].items()) or "-"],
        ["throughput", f"{speed['rows_per_min'] or '-'} rows/min ({speed['rows_run']} rows in "
                       f"{speed['wall_s']} s, {speed['workers']} {esc(speed['executor'])} workers; "
                       f"{speed['rows_skipped']} already done)"],
        ["cost per row", ", ".join(f"{k.removesuffix('_s')} {v} s" for k, v in cost.items()
                                   if k.endswith("_s") and v is not None) or "-"],
    ])  # fmt: skip
    code_rows = [
        [f"<code>{esc(code)}</code>", esc(CODES[code].meaning if code in CODES else ""),
         *(f'<span class="num">{counts.get(s, 0)}</span>' for s in ("block", "warn", "info"))]
        for code, counts in summary["findings"].items()
    ]  # fmt: skip
    findings = _table(["code", "meaning", "block", "warn", "info"], code_rows)
    errors = summary["failures"]
    error_rows = [
        [str(f["row"]), esc(f["reason"]),
         "the next run retries it" if f["retried"] else "fix the row, then run again"]
        for f in errors
    ]  # fmt: skip
    blocked = sorted(
        (line for line in lines if line.get("verdict") in BLOCKED_VERDICTS), key=lambda x: x["row"]
    )
    cards = "".join(
        _blocked_row(line, out_dir, i < MAX_INLINE_SHEETS) for i, line in enumerate(blocked)
    )
    body = [
        head, figures, "<h2>Findings by code (rows)</h2>", findings,
        f"<h2>Failed rows ({len(errors)})</h2>",
        _table(["row", "why", "next"], error_rows) if errors else "<p>None.</p>",
        f"<h2>Blocked rows ({len(blocked)})</h2>", cards or "<p>None.</p>",
    ]  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>kling-prep batch'
            f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>")  # fmt: skip
