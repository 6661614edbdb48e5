"""The work on one manifest row, the same functions for every executor: check, then (optionally)
prepare (`check_row`), then (optionally) submit through the journal and budget (`submit_row`).

A local worker process runs both (`process_row`). On Ray, a task runs `check_row` only and the
driver, which alone holds the journal, the budget and the API key, runs `submit_row` on what the
task returns. Either way the result is a `RowOutcome`: the JSON line to append and the pictures
of a blocked row, as bytes so that a worker on another machine needs no shared disk for them.
Every problem becomes part of the outcome; only the process dying loses a row, and a re-run
redoes it (the journal refuses a second POST).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kling_prep.batch.manifest import ManifestRow
from kling_prep.errors import (
    BudgetExceededError,
    ConcurrencyLimitError,
    DuplicateSubmissionError,
    KlingPrepError,
    RequestRejectedError,
    UnknownOutcomeError,
    plain_reason,
)
from kling_prep.identity import identity
from kling_prep.limits import PROFILES
from kling_prep.media.fetch import local_file
from kling_prep.settings import Settings

if TYPE_CHECKING:
    from kling_prep.client import JobJournal, KlingClient, SubmissionRecord, SubmissionRunner
    from kling_prep.preflight import CheckResult
    from kling_prep.preparation import PrepareResult
    from kling_prep.vision.kit import VisionKit

log = logging.getLogger(__name__)

KEY_VERSION = 1
# Verdicts after which nothing is submitted and the credits count as saved.
BLOCKED_VERDICTS = ("blocked", "refused")


@dataclass(frozen=True)
class BatchOptions:
    """What the batch does to each row beyond the check.

    Args:
        prepare: trim and normalize with `kling_prep.prepare` (rows whose blocking findings are
            all fixable by prepare are prepared too).
        submit: submit the rows that pass through `SubmissionRunner`.
        strict: submit only rows without warnings.
        allow_no_face: the batch's --allow-no-face (None: the settings' value). WorkerConfig
            applies it to the settings every row is checked with (`Settings.with_overrides`);
            it stays here because each row's key holds it beside the settings' own value.
        budget_credits: the most credits this batch may spend (or possibly spend).
        journal_path: the submission journal: opened by each local worker process; on Ray by
            the driver alone.
        s3_bucket, s3_endpoint: where local files are uploaded for the API (URLs pass through).
        pictures: render the image overlay and contact sheet of blocked rows.
    """

    prepare: bool = False
    submit: bool = False
    strict: bool = False
    allow_no_face: bool | None = None
    budget_credits: int | None = None
    journal_path: Path | None = None
    s3_bucket: str | None = None
    s3_endpoint: str | None = None
    pictures: bool = True


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs besides the row: sent once per worker (or per Ray task)."""

    settings: Settings
    options: BatchOptions
    prepared_dir: Path
    budget_since: datetime | None = None

    def __post_init__(self) -> None:
        # The one place the batch's --allow-no-face meets the settings: every row receives
        # finished settings (applying it twice changes nothing).
        finished = self.settings.with_overrides(allow_no_face=self.options.allow_no_face)
        object.__setattr__(self, "settings", finished)

    @property
    def fingerprint(self) -> str:
        """Identifies the configuration, so that a worker process reuses its context only for
        the same one (in memory only). Every field of the settings counts, not only those that
        change a row's result: the context fetches inputs with the settings' allow list and
        timeouts and encodes with its ffmpeg, so two batches that differ there (one worker
        process, or one Ray cluster, serving both) must not share a context."""
        return identity([
            asdict(self.settings), self.options, self.prepared_dir, self.budget_since,
        ])  # fmt: skip


@dataclass(frozen=True)
class RowTask:
    """One row to run, with its result key."""

    key: str
    row: ManifestRow


@dataclass(frozen=True)
class SubmitOrder:
    """What a checked row asks to submit: the files (prepared ones with --prepare) or URLs, and
    the API's fields. Small and plain, so that a Ray task can hand it to the driver."""

    image: str
    video: str
    prompt: str
    orientation: Literal["video", "image"]
    keep_sound: bool


@dataclass
class RowOutcome:
    """What one row produced: its JSON line and the pictures of a blocked row (JPEG bytes).

    Between `check_row` and `submit_row`, `to_submit` holds the row's order (the line's
    `submission` is still empty); `files` holds the prepared files' bytes by path when they were
    written on another machine (Ray), for the driver to write at the same paths.
    """

    line: dict[str, Any]
    pictures: dict[str, bytes] = field(default_factory=dict)
    to_submit: SubmitOrder | None = None
    files: dict[str, bytes] = field(default_factory=dict)


def settings_identity(settings: Settings) -> dict[str, Any]:
    """The settings that change a row's result (never the API key)."""
    return {
        "profile": asdict(settings.profile),
        "thresholds": asdict(settings.thresholds),
        "allow_no_face": settings.allow_no_face,
    }


def row_settings(settings: Settings, row: ManifestRow) -> Settings:
    """The settings for one row: its `profile` column replaces the provider profile."""
    if row.profile is None or row.profile == settings.profile.name:
        return settings
    return replace(settings, profile=PROFILES[row.profile])


def _content_id(source: str, cache: dict[tuple[str, int, int], str]) -> str:
    from kling_prep.client.uploads import file_sha256, is_url

    if is_url(source):
        return source  # a URL is named by itself: fetching it only to hash it costs the fetch
    path = local_file(Path(source))
    try:
        stat = path.stat()
    except OSError as exc:
        raise KlingPrepError(f"{path}: cannot be read ({plain_reason(exc)})") from exc
    stamp = (str(path), stat.st_size, stat.st_mtime_ns)
    if stamp not in cache:
        cache[stamp] = "sha256:" + file_sha256(path)
    return cache[stamp]


def row_key(
    row: ManifestRow,
    settings: Settings,
    options: BatchOptions,
    *,
    hash_cache: dict[tuple[str, int, int], str] | None = None,
) -> str:
    """The identity of a row's result: the inputs' content (URLs as written), the row's
    parameters and every setting that changes the outcome, hashed by `kling_prep.identity`
    (results.jsonl holds these keys: their bytes never change).

    Args:
        hash_cache: file hashes by (path, size, mtime), shared across rows of one manifest.

    Raises:
        KlingPrepError: a local input does not exist or cannot be read.
    """
    cache = {} if hash_cache is None else hash_cache
    parts = {
        "version": KEY_VERSION,
        "image": _content_id(row.image, cache),
        "video": _content_id(row.video, cache),
        "prompt": row.prompt,
        "orientation": row.orientation,
        "keep_sound": row.keep_sound,
        "settings": settings_identity(row_settings(settings, row)),
        "allow_no_face": options.allow_no_face,
        "prepare": options.prepare,
        "submit": options.submit,
        "strict": options.strict,
        "base_url": settings.base_url if options.submit else None,
    }
    return identity(parts)


class StageClock:
    """Times a check's stages from its progress calls: the image, the video's one decode pass
    (the "decoding" stage, which runs in a thread beside the image check and the analysis) and
    the video's analysis, whose `video_analysis_s` is the part that outlasts the decode; for
    prepare, also the video's encoding."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: dict[str, float] = {}

    def on_progress(self, stage: str, share: float) -> None:
        now = time.perf_counter()
        self.marks.setdefault(f"{stage}:first", now)
        self.marks[f"{stage}:last"] = now
        if stage == "image" and share <= 0.0:
            self.marks["image:start"] = now

    def check_split(self, end: float) -> dict[str, float]:
        """Seconds per stage of one check, measured from `start` to `end`."""
        m = self.marks
        out: dict[str, float] = {"check_s": end - self.start}
        image_start = m.get("image:start", self.start)
        out["fetch_s"] = image_start - self.start
        if "image:last" in m:
            out["image_s"] = m["image:last"] - image_start
        if "decoding:first" in m:
            decoded = m["decoding:last"]
            out["video_decode_s"] = decoded - m["decoding:first"]
            out["video_analysis_s"] = m.get("video:last", decoded) - decoded
        return {k: round(max(0.0, v), 4) for k, v in out.items()}

    def span(self, stage: str) -> float:
        """Seconds between the first and last progress call of `stage` (0 if never called)."""
        first, last = self.marks.get(f"{stage}:first"), self.marks.get(f"{stage}:last")
        return 0.0 if first is None or last is None else round(last - first, 4)


class RowContext:
    """What one worker process keeps between rows: the configuration, and the API client,
    journal and submission runner, built on the first row that submits."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self._client: KlingClient | None = None
        self._runner: SubmissionRunner | None = None
        self._kit: VisionKit | None = None

    @property
    def kit(self) -> VisionKit:
        """The MediaPipe models, built once per worker and reused by every row's check."""
        if self._kit is None:
            from kling_prep.vision.kit import VisionKit

            t = self.config.settings.thresholds
            self._kit = VisionKit(
                frontal_max_deg=t.frontal_max_yaw_deg,
                three_quarter_max_deg=t.three_quarter_max_yaw_deg,
                away_min_deg=t.face_away_min_yaw_deg,
                min_face_skin_share=t.face_min_skin_share,
            )
        return self._kit

    @property
    def runner(self) -> SubmissionRunner:
        if self._runner is None:
            from kling_prep.client import (
                CreditBudget,
                JobJournal,
                KlingClient,
                PresignedS3Uploader,
                SubmissionRunner,
            )

            settings, options = self.config.settings, self.config.options
            if not settings.api_key:
                raise KlingPrepError("no API key: set VYDRA_API_KEY or pass --api-key")
            if options.journal_path is None:
                raise KlingPrepError("submitting needs a journal path")
            self._client = KlingClient(
                settings.api_key, base_url=settings.base_url, profile=settings.profile
            )
            budget = None
            if options.budget_credits is not None:
                budget = CreditBudget(options.budget_credits, since=self.config.budget_since)
            uploader = None
            if options.s3_bucket:
                uploader = PresignedS3Uploader(options.s3_bucket, endpoint_url=options.s3_endpoint)
            self._runner = SubmissionRunner(
                self._client, JobJournal(options.journal_path), budget=budget, uploader=uploader
            )
        return self._runner

    @property
    def journal(self) -> JobJournal:
        return self.runner.journal

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._kit is not None:
            self._kit.close()
        self._client = self._runner = None
        self._kit = None


# One context per configuration in each worker process: a process pool's initializer or a Ray
# worker builds it once and every row that process runs reuses it (client, journal, imports).
_CONTEXTS: dict[str, RowContext] = {}


def worker_context(config: WorkerConfig) -> RowContext:
    """This process's context for `config`, built on first use."""
    fingerprint = config.fingerprint
    context = _CONTEXTS.get(fingerprint)
    if context is None:
        context = _CONTEXTS[fingerprint] = RowContext(config)
        atexit.register(context.close)
    return context


def warm_up() -> None:
    """Import the heavy libraries once per worker, before its first row is timed."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import kling_prep.preflight
    import kling_prep.report.html
    import kling_prep.report.json_report  # noqa: F401


def run_task(config: WorkerConfig, task: RowTask) -> RowOutcome:
    """The entry point both executors call in their workers."""
    return process_row(task, worker_context(config))


def _error(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if not isinstance(exc, KlingPrepError):
        error["traceback"] = traceback.format_exception(exc)[-6:]
    return error


def result_line(task: RowTask, **values: Any) -> dict[str, Any]:
    return {
        "key": task.key,
        "row": task.row.row,
        "line": task.row.line,
        "final": True,
        "status": "done",
        "verdict": None,
        "inputs": task.row.as_dict(),
        "check": None,
        "prepare": None,
        "submission": None,
        "error": None,
        "pictures": {},
        "timings_s": {},
        "worker": {"host": socket.gethostname(), "pid": os.getpid()},
        "finished_at": datetime.now(UTC).isoformat(),
        **values,
    }


# Pictures are kept small: summary.html inlines them, one page for hundreds of blocked rows.
_PICTURE_MAX_WIDTH_PX = {"image": 480, "video": 960}


def _pictures(result: CheckResult) -> dict[str, bytes]:
    import cv2

    from kling_prep.report.html import contact_sheet, draw_image_overlay

    pictures: dict[str, bytes] = {}
    drawn = {
        "image": draw_image_overlay(result.image) if result.image else None,
        "video": contact_sheet(result.video, max_tiles=8) if result.video else None,
    }
    for name, bgr in drawn.items():
        if bgr is None:
            continue
        scale = _PICTURE_MAX_WIDTH_PX[name] / bgr.shape[1]
        if scale < 1:
            size = (_PICTURE_MAX_WIDTH_PX[name], max(1, round(bgr.shape[0] * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])
        if ok:
            pictures[name] = buf.tobytes()
    return pictures


def _should_prepare(result: CheckResult) -> bool:
    blocking = [f for f in result.findings if f.severity == "block"]
    return all(f.is_fixable for f in blocking)


def _record_json(record: SubmissionRecord, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "submission_id": record.submission_id,
        "state": str(record.state),
        "job_id": record.job_id,
        "job_status": record.job_status,
        "credits_charged": record.credits_charged,
        "intended_credits": record.intended_credits,
        "created_at": record.created_at.isoformat(),
        "inputs_hash": record.inputs_hash,
        "explanation": record.explanation,
        **extra,
    }


def _earlier_record(journal: JobJournal, inputs_hash: str) -> SubmissionRecord | None:
    matches = [
        r for r in journal.records() if r.inputs_hash == inputs_hash and str(r.state) != "rejected"
    ]
    return matches[-1] if matches else None


def _submit(
    context: RowContext,
    image: str,
    video: str,
    prompt: str,
    orientation: Literal["video", "image"],
    keep_sound: bool,
) -> tuple[dict[str, Any], bool]:
    """Submit once; returns the submission's JSON and whether the row is final."""
    from kling_prep.client import hash_inputs

    runner = context.runner
    base = {"orientation": orientation, "image": image, "video": video}
    try:
        record = runner.submit(
            image, video, prompt, character_orientation=orientation, keep_original_sound=keep_sound
        )
        return _record_json(record, "submitted", **base), True
    except DuplicateSubmissionError as exc:
        # Submitted before: by this batch before a crash (its line was lost), or earlier still.
        inputs_hash = hash_inputs(
            image, video, prompt, character_orientation=orientation, keep_original_sound=keep_sound
        )
        context.journal.reconcile()  # an `intent` left by a dead process becomes `unknown`
        earlier = _earlier_record(context.journal, inputs_hash)
        if earlier is None:
            return {"status": "error", "reason": str(exc), **base}, False
        since = context.config.budget_since
        is_ours = since is not None and earlier.created_at >= since
        if earlier.job_id is None:
            # Sent by a process that died (or is still sending): maybe charged, never re-sent.
            return _record_json(earlier, "unknown", recovered=is_ours, **base), True
        status = "submitted" if is_ours else "duplicate"
        return _record_json(earlier, status, recovered=is_ours, **base), True
    except (BudgetExceededError, ConcurrencyLimitError) as exc:
        # Nothing sent; a later run with more budget submits it.
        return {"status": "refused", "reason": str(exc), **base}, False
    except RequestRejectedError as exc:
        return {"status": "rejected", "reason": str(exc), **base}, True
    except UnknownOutcomeError as exc:
        return {"status": "unknown", "reason": str(exc), **base}, True
    except KlingPrepError as exc:
        # Unreachable, rate-limited, out of credits, upload failed: nothing charged; retried
        # on the next run.
        return {"status": "error", "reason": str(exc), "type": type(exc).__name__, **base}, False


def process_row(task: RowTask, context: RowContext) -> RowOutcome:
    """Check one row, then prepare and submit it as the options ask (`check_row`, then
    `submit_row`, in this process).

    Args:
        task: the row and its key.
        context: this worker's configuration and API objects.

    Returns:
        The row's outcome; a failure is recorded in it (`status: "error"`, `final: false`, so
        a re-run retries the row), never raised.
    """
    return submit_row(check_row(task, context), context)


def _prepare_row(
    task: RowTask,
    context: RowContext,
    settings: Settings,
    checked: CheckResult,
    clock: StageClock,
) -> PrepareResult:
    """Prepare the row into its own folder (a retried row replaces its earlier files), reusing
    the row's check."""
    from kling_prep.preparation import PrepareOptions, prepare

    row = task.row
    request = PrepareOptions(
        row.image, row.video, context.config.prepared_dir / task.key[:16],
        orientation=row.orientation, prompt=row.prompt, keep_sound=row.keep_sound, force=True,
    )  # fmt: skip
    return prepare(
        request, settings=settings, on_progress=clock.on_progress, input_check=checked,
        kit=context.kit,
    )  # fmt: skip


def _prepare_json(prepared: PrepareResult) -> dict[str, Any]:
    """The line's `prepare`: prepare's JSON, where its files are, and its check's findings."""
    from kling_prep.report.json_report import finding_json, prepare_dict

    return {
        **prepare_dict(prepared),
        "image_path": str(prepared.image_path) if prepared.image_path else None,
        "video_path": str(prepared.video_path) if prepared.video_path else None,
        "report_path": str(prepared.report_path) if prepared.report_path else None,
        "findings": [finding_json(f) for f in prepared.check.findings] if prepared.check else [],
    }


def _submit_order(
    options: BatchOptions,
    row: ManifestRow,
    verdict: str,
    files: tuple[str, str],
    orientation: Literal["video", "image"],
) -> tuple[dict[str, Any] | None, SubmitOrder | None]:
    """With --submit: the row's order, or why it is not submitted (the line's `submission`)."""
    if not options.submit:
        return None, None
    allowed = ("ready", "fixed") if options.strict else ("ready", "fixed", "warnings")
    if verdict not in allowed:
        return {"status": "not_submitted", "reason": f"verdict {verdict}"}, None
    if not row.prompt:
        return {"status": "not_submitted", "reason": "the row has no prompt"}, None
    return None, SubmitOrder(files[0], files[1], row.prompt, orientation, row.keep_sound)


def _blocked_pictures(
    options: BatchOptions, verdict: str, result: CheckResult, timings: dict[str, float]
) -> dict[str, bytes]:
    """The pictures a reviewer needs for a blocked row (none for the others), timed."""
    if not (options.pictures and verdict in BLOCKED_VERDICTS):
        return {}
    pictures_start = time.perf_counter()
    pictures = _pictures(result)
    timings["pictures_s"] = round(time.perf_counter() - pictures_start, 4)
    return pictures


def _after_prepare(
    prepared: PrepareResult,
    clock: StageClock,
    timings: dict[str, float],
    row: ManifestRow,
    files: tuple[str, str],
    orientation: Literal["video", "image"],
) -> tuple[tuple[str, str], Literal["video", "image"]]:
    """Time prepare; return what a prepared row submits: the prepared files (when both were
    written) and the orientation prepare's check found (unless the row names one)."""
    timings["prepare_s"] = round(time.perf_counter() - clock.start, 4)
    timings["encode_s"] = clock.span("encoding the video")
    if prepared.image_path is not None and prepared.video_path is not None:
        files = (str(prepared.image_path), str(prepared.video_path))
    if prepared.check is not None:
        orientation = row.orientation or prepared.check.orientation.value
    return files, orientation


def _failed_row(
    task: RowTask, exc: Exception, timings: dict[str, float], started: float
) -> RowOutcome:
    """The outcome of a row whose check or prepare failed: an error, retried next run."""
    row = task.row
    log.warning("row %d (%s, %s) failed: %s", row.row, row.image, row.video, exc)
    timings["total_s"] = round(time.perf_counter() - started, 4)
    return RowOutcome(
        result_line(task, final=False, status="error", error=_error(exc), timings_s=timings)
    )


def check_row(task: RowTask, context: RowContext) -> RowOutcome:
    """Check one row and prepare it as the options ask, without submitting: a row to submit
    comes back with its `SubmitOrder` (and its line's `submission` still empty) for
    `submit_row`, here or in the process that holds the journal. Never touches the journal or
    the API key.

    Returns:
        The row's outcome; a failure is recorded in it, never raised (see `process_row`).
    """
    config, row, options = context.config, task.row, context.config.options
    settings = row_settings(config.settings, row)
    started = time.perf_counter()
    cpu_started = time.process_time()  # every thread of this process: MediaPipe runs several
    timings: dict[str, float] = {}
    try:
        from kling_prep.preflight import CheckRequest, check
        from kling_prep.report.json_report import to_json_dict

        # 1. The check: the one code path `kling-prep check` uses.
        clock = StageClock()
        request = CheckRequest(
            row.image, row.video, orientation=row.orientation, prompt=row.prompt,
            keep_sound=row.keep_sound, is_submission=options.submit,
        )  # fmt: skip
        result = check(request, settings=settings, on_progress=clock.on_progress, kit=context.kit)
        timings.update(clock.check_split(time.perf_counter()))
        verdict, check_json = result.verdict, to_json_dict(result)
        # 2. Prepare: rows that pass, or whose blocking findings prepare can fix.
        prepare_json: dict[str, Any] | None = None
        to_submit, orientation = (row.image, row.video), row.orientation or result.orientation.value
        if options.prepare and _should_prepare(result):
            prep_clock = StageClock()
            prepared = _prepare_row(task, context, settings, result, prep_clock)
            verdict, prepare_json = prepared.verdict, _prepare_json(prepared)
            to_submit, orientation = _after_prepare(
                prepared, prep_clock, timings, row, to_submit, orientation
            )
        # 3. What to submit, if anything: `submit_row` sends it through the journal and budget.
        submission, order = _submit_order(options, row, verdict, to_submit, orientation)
        # 4. The pictures a reviewer needs for a blocked row.
        pictures = _blocked_pictures(options, verdict, result, timings)
        timings["total_s"] = round(time.perf_counter() - started, 4)
        timings["cpu_s"] = round(time.process_time() - cpu_started, 4)
        line = result_line(
            task, verdict=verdict, check=check_json, prepare=prepare_json, submission=submission,
            timings_s=timings,
        )  # fmt: skip
        return RowOutcome(line, pictures, to_submit=order)
    except Exception as exc:
        # The row failed; the batch goes on and a re-run retries it.
        return _failed_row(task, exc, timings, started)


def submit_row(outcome: RowOutcome, context: RowContext) -> RowOutcome:
    """Submit a checked row's `SubmitOrder` once, through `context`'s journal and budget, and
    complete its line (`submission`, `final`, the submission's time). An outcome without an
    order is returned as it is.

    Returns:
        The outcome, its order consumed; a failure is recorded in it, never raised.
    """
    order = outcome.to_submit
    if order is None:
        return outcome
    line = outcome.line
    timings = line["timings_s"]
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        submission, is_final = _submit(
            context, order.image, order.video, order.prompt, order.orientation, order.keep_sound
        )
    except Exception as exc:
        log.warning("row %d: the submission failed: %s", line["row"], exc)
        submission, is_final = None, False
        line.update(status="error", error=_error(exc), check=None, prepare=None, verdict=None)
    spent = time.perf_counter() - started
    timings["submit_s"] = round(spent, 4)
    timings["total_s"] = round(timings.get("total_s", 0.0) + spent, 4)
    timings["cpu_s"] = round(timings.get("cpu_s", 0.0) + time.process_time() - cpu_started, 4)
    line.update(submission=submission, final=is_final)
    outcome.to_submit = None
    return outcome


def error_line(
    key: str, row: int, line: int, reason: str, raw: dict[str, Any], *, final: bool
) -> dict[str, Any]:
    """The JSON line of a row that could not be run (a manifest error or a missing input)."""
    return {
        "key": key,
        "row": row,
        "line": line,
        "final": final,
        "status": "error",
        "verdict": None,
        "inputs": {
            k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in raw.items()
        },
        "check": None,
        "prepare": None,
        "submission": None,
        "error": {"type": "RowError", "message": reason},
        "pictures": {},
        "timings_s": {},
        "worker": None,
        "finished_at": datetime.now(UTC).isoformat(),
    }
