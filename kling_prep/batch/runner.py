"""A batch from start to end: read the manifest, skip the rows already done, run the rest on an
executor, write each result as it ends, then the summary (also after Ctrl-C).

    result = run_batch(Path("manifest.csv"), Path("out"), options=BatchOptions(prepare=True))
    result.summary["verdicts"], result.summary_path, result.html_path
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from kling_prep.batch.manifest import Manifest, read_manifest
from kling_prep.batch.results import ResultStore, latest_by_key
from kling_prep.batch.row import (
    BatchOptions,
    RowOutcome,
    RowTask,
    WorkerConfig,
    error_line,
    row_key,
)
from kling_prep.batch.summary import RunStats, build_summary, render_summary_html
from kling_prep.errors import ConfigError, KlingPrepError
from kling_prep.identity import identity
from kling_prep.media.outputs import write_atomically
from kling_prep.settings import Settings

log = logging.getLogger(__name__)

Executor = Literal["local", "ray"]
EXECUTORS: tuple[Executor, ...] = ("local", "ray")
SUMMARY_JSON = "summary.json"
SUMMARY_HTML = "summary.html"
PREPARED_DIR = "prepared"
# Called once the rows to run are known (line None), then after each row this run finishes:
# (rows finished, rows to run, the row's JSON line).
ProgressSink = Callable[[int, int, dict[str, Any] | None], None]


@dataclass(frozen=True)
class BatchPlan:
    """What a run will do: the rows to run, and what it already knows about the others."""

    manifest: Manifest
    tasks: list[RowTask]
    keys: dict[int, str]  # manifest row -> result key, for every row that has one
    skipped: int  # rows whose result is already final
    duplicates: list[dict[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    """What `run_batch` did and where it wrote."""

    out_dir: Path
    results_path: Path
    summary_path: Path
    html_path: Path
    summary: dict[str, Any]
    rows_run: int
    rows_skipped: int

    @property
    def exit_code(self) -> int:
        """0: every row has its final result and none failed; 1: some rows failed (a bad
        manifest row, a missing input, a failed submission) or were not run."""
        rows = self.summary["rows"]
        clean = rows["failed"] == 0 and rows["to_retry"] == 0 and rows["not_run"] == 0
        return 0 if clean else 1


def _raw_key(*parts: Any) -> str:
    """The key of a row that cannot run, by what it says (ASCII-escaped: see kling_prep.identity)."""
    return identity(list(parts), ascii_only=True)


def plan_batch(
    manifest: Manifest,
    store: ResultStore,
    settings: Settings,
    options: BatchOptions,
) -> BatchPlan:
    """Key every row, write the lines of rows that cannot run, and list the rows to run.

    A row whose key already has a final line is skipped; a row with the same key as an earlier
    row of this manifest is a duplicate and is not run twice.
    """
    done = {k for k, line in latest_by_key(store.lines()).items() if line.get("final")}
    keys: dict[int, str] = {}
    tasks: list[RowTask] = []
    duplicates: list[dict[str, int]] = []
    first_row: dict[str, int] = {}
    skipped = 0
    # 1. Rows the manifest gets wrong: final, keyed by what they say (a fixed row is a new key).
    for error in manifest.errors:
        key = "row-error:" + _raw_key(error.row, error.reason, error.raw)
        keys[error.row] = key
        if key not in done:
            store.append(
                error_line(key, error.row, error.line, error.reason, error.raw, final=True)
            )
    # 2. Rows to run, keyed by their inputs' content and the settings.
    hash_cache: dict[tuple[str, int, int], str] = {}
    for row in manifest.rows:
        try:
            key = row_key(row, settings, options, hash_cache=hash_cache)
        except KlingPrepError as exc:
            # A missing input: not final, so the row runs once the file is there.
            key = "missing:" + _raw_key(row.as_dict())
            keys[row.row] = key
            store.append(error_line(key, row.row, row.line, str(exc), row.as_dict(), final=False))
            continue
        if key in first_row:
            duplicates.append({"row": row.row, "same_as": first_row[key]})
            continue
        first_row[key] = row.row
        keys[row.row] = key
        if key in done:
            skipped += 1
            continue
        tasks.append(RowTask(key, row))
    return BatchPlan(manifest, tasks, keys, skipped, duplicates)


def _executor_runner(
    executor: Executor, workers: int, address: str | None
) -> Callable[[Iterator[RowTask], WorkerConfig, Callable[[RowTask, RowOutcome], None]], None]:
    if executor == "local":
        from kling_prep.batch.pool import run_local

        return lambda tasks, config, sink: run_local(
            tasks, config, workers=workers, on_outcome=sink
        )
    if executor == "ray":
        from kling_prep.batch.ray_tasks import run_ray

        return lambda tasks, config, sink: run_ray(
            tasks, config, on_outcome=sink, address=address, max_in_flight=workers or None
        )
    raise ConfigError(f"executor {executor!r} is unknown; known: {', '.join(EXECUTORS)}")


def write_summary(
    store: ResultStore,
    plan: BatchPlan,
    *,
    settings: Settings,
    options: BatchOptions,
    run: RunStats,
) -> tuple[dict[str, Any], Path, Path]:
    """Write summary.json and summary.html from the results of this manifest's rows."""
    latest = latest_by_key(store.lines())
    wanted = set(plan.keys.values())
    lines = [line for key, line in latest.items() if key in wanted]
    summary = build_summary(
        lines,
        rows=plan.manifest.row_count,
        duplicates=plan.duplicates,
        manifest=str(plan.manifest.path),
        out_dir=store.out_dir,
        credits_per_job=settings.profile.credits_per_job,
        budget_credits=options.budget_credits if options.submit else None,
        run=run,
    )
    json_path = store.out_dir / SUMMARY_JSON
    html_path = store.out_dir / SUMMARY_HTML
    write_atomically((json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode(), json_path)
    write_atomically(render_summary_html(summary, lines, store.out_dir).encode(), html_path)
    return summary, json_path, html_path


def run_batch(
    manifest_path: Path,
    out_dir: Path,
    *,
    settings: Settings | None = None,
    options: BatchOptions | None = None,
    executor: Executor = "local",
    workers: int | None = None,
    address: str | None = None,
    on_progress: ProgressSink | None = None,
) -> BatchResult:
    """Run a manifest: every row checked (and prepared, submitted) once, resumable.

    Args:
        manifest_path: a CSV or JSONL manifest (see `read_manifest`).
        out_dir: results.jsonl, summary.json, summary.html, sheets/, prepared/ (locked while
            the batch runs).
        settings: profile, thresholds, API base URL and key (defaults when None).
        options: prepare, submit, budget, journal (check only when None).
        executor: "local" (processes on this machine) or "ray".
        workers: local processes (default: the CPU count); with Ray, the most tasks in flight
            (default: 2 per cluster CPU).
        address: the Ray cluster's address (None: a Ray started on this machine).
        on_progress: called once the rows to run are known, then after each row finishes.

    Returns:
        The BatchResult; on Ctrl-C the rows in flight are finished and written and the summary
        is written before KeyboardInterrupt propagates.

    Raises:
        InputError: the manifest cannot be read.
        KlingPrepError: another batch holds `out_dir`; submitting without a journal.
        ConfigError: an unknown executor, or Ray is not installed.
        KeyboardInterrupt: see Returns.
    """
    settings = settings or Settings()
    options = _checked(options or BatchOptions())
    manifest = read_manifest(manifest_path)
    workers = _default_workers(executor, workers)
    runner = _executor_runner(executor, workers, address)
    with ResultStore(out_dir) as store:
        if store.torn_bytes:
            log.warning("%s: cut a torn last line (%d bytes)", store.results_path, store.torn_bytes)
        config = _worker_config(store, settings, options)
        plan = plan_batch(manifest, store, settings, options)
        writer = _RowWriter(store, len(plan.tasks), on_progress)
        try:
            if plan.tasks:
                runner(iter(plan.tasks), config, writer)
        finally:
            # Also after Ctrl-C or an error: the summary shows what is done so far.
            run = writer.run_stats(executor, workers, rows_skipped=plan.skipped)
            summary, json_path, html_path = write_summary(
                store, plan, settings=settings, options=options, run=run
            )
    return BatchResult(
        out_dir, store.results_path, json_path, html_path, summary,
        rows_run=writer.finished, rows_skipped=plan.skipped,
    )  # fmt: skip


def _checked(options: BatchOptions) -> BatchOptions:
    if options.submit and options.journal_path is None:
        raise KlingPrepError("submitting needs a journal (BatchOptions.journal_path)")
    return options


def _default_workers(executor: Executor, workers: int | None) -> int:
    """Local: one process per CPU; Ray: 0, the executor's own default (2 per cluster CPU)."""
    if workers is None:
        return (os.cpu_count() or 1) if executor == "local" else 0
    return workers


def _worker_config(store: ResultStore, settings: Settings, options: BatchOptions) -> WorkerConfig:
    """What every worker gets: the budget counts from this out-dir's first run."""
    return WorkerConfig(
        settings=settings,
        options=options,
        prepared_dir=(store.out_dir / PREPARED_DIR).resolve(),
        budget_since=datetime.fromisoformat(store.state()["started_at"]),
    )


class _RowWriter:
    """Writes each row's line (and the pictures of a blocked row) as it ends, then reports
    progress; counts the rows this run finished and times the run."""

    def __init__(self, store: ResultStore, total: int, on_progress: ProgressSink | None) -> None:
        self.store = store
        self.total = total
        self.on_progress = on_progress
        self.finished = 0
        self.started = time.perf_counter()
        if on_progress is not None:
            on_progress(0, total, None)

    def __call__(self, task: RowTask, outcome: RowOutcome) -> None:
        line = outcome.line
        for name, jpeg in outcome.pictures.items():
            path = self.store.save_sheet(task.key, name, jpeg)
            line["pictures"][name] = str(path.relative_to(self.store.out_dir))
        self.store.append(line)
        self.finished += 1
        if self.on_progress is not None:
            self.on_progress(self.finished, self.total, line)

    def run_stats(self, executor: Executor, workers: int, *, rows_skipped: int) -> RunStats:
        """This run's figures so far (also after Ctrl-C or an error)."""
        return RunStats(
            executor=executor,
            workers=workers,
            rows_run=self.finished,
            rows_skipped=rows_skipped,
            wall_s=time.perf_counter() - self.started,
        )
