"""The submission journal: one SQLite file recording every submission before its POST.

Each submission moves `intent` -> `submitted` -> `completed` | `failed`, or `intent` ->
`rejected` (the API refused it; nothing charged) | `unknown` (sent, outcome unknown: maybe
charged, never re-sent). A crash leaves an `intent` row whose process is gone; `reconcile()`
turns it into `unknown`. The owner is named by its pid, its start time and the boot id, because a
pid alone outlives its process: a killed process not yet reaped (a zombie) still answers
`kill(pid, 0)`, and after a reboot an unrelated process may hold the same pid. The API key is
never written here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from kling_prep.client.contract import JobStatus, SubmitRequest, SubmitResult
from kling_prep.errors import (
    BudgetExceededError,
    ConcurrencyLimitError,
    DuplicateSubmissionError,
    KlingPrepError,
)

SCHEMA_VERSION = 3

# Where Linux publishes processes; absent elsewhere (macOS), where only the pid is checked.
_PROC_ROOT = Path("/proc")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    image_source TEXT NOT NULL,
    video_source TEXT NOT NULL,
    image_url TEXT NOT NULL,
    video_url TEXT NOT NULL,
    prompt TEXT NOT NULL,
    character_orientation TEXT NOT NULL,
    keep_original_sound INTEGER NOT NULL,
    intended_credits INTEGER NOT NULL,
    owner_pid INTEGER NOT NULL,
    owner_host TEXT NOT NULL,
    owner_start_ticks INTEGER,
    owner_boot_id TEXT,
    job_id TEXT UNIQUE,
    external_job_id TEXT,
    credits_charged INTEGER,
    job_status TEXT,
    output_url TEXT,
    output_duration_s REAL,
    output_path TEXT,
    error TEXT,
    output_wanted TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_hash ON submissions (inputs_hash);
CREATE INDEX IF NOT EXISTS submissions_by_state ON submissions (state);
"""

# Columns added after version 1, for journals created before them (NULL: owner named by pid only;
# no output asked for).
_ADDED_COLUMNS = {"owner_start_ticks": "INTEGER", "owner_boot_id": "TEXT", "output_wanted": "TEXT"}


class SubmissionState(StrEnum):
    """Where a submission stands in the journal."""

    INTENT = "intent"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


# States whose credits are (or may be) spent.
_CHARGED_STATES = (
    SubmissionState.INTENT,
    SubmissionState.SUBMITTED,
    SubmissionState.COMPLETED,
    SubmissionState.FAILED,
    SubmissionState.UNKNOWN,
)
# States that hold a concurrency slot: a job that may be running.
_IN_FLIGHT_STATES = (SubmissionState.INTENT, SubmissionState.SUBMITTED)


@dataclass(frozen=True)
class SubmissionRecord:
    """One row of the journal."""

    submission_id: str
    created_at: datetime
    updated_at: datetime
    state: SubmissionState
    inputs_hash: str
    image_source: str
    video_source: str
    image_url: str
    video_url: str
    prompt: str
    character_orientation: str
    keep_original_sound: bool
    intended_credits: int
    owner_pid: int
    owner_host: str
    job_id: str | None
    external_job_id: str | None
    credits_charged: int | None
    job_status: str | None
    output_url: str | None
    output_duration_s: float | None
    output_path: str | None
    error: str | None
    # Where the user asked the output to be saved (`-o`), until it is: `wait --resume` saves it.
    output_wanted: str | None = None

    @property
    def awaits_download(self) -> bool:
        """Completed, an output asked for, and not saved yet."""
        return (
            self.state is SubmissionState.COMPLETED
            and self.output_wanted is not None
            and self.output_path is None
        )

    @property
    def explanation(self) -> str:
        """One sentence for `kling-prep status`: what happened and what to do."""
        job = f"job {self.job_id}" if self.job_id else "no job id"
        match self.state:
            case SubmissionState.INTENT:
                return (
                    f"being sent by process {self.owner_pid} on {self.owner_host}; if that "
                    "process is gone, the outcome is unknown"
                )
            case SubmissionState.SUBMITTED:
                status = self.job_status or "pending"
                return f"{job} is {status}; `kling-prep wait --resume` follows it"
            case SubmissionState.COMPLETED:
                where = f", saved to {self.output_path}" if self.output_path else ""
                if self.awaits_download:
                    where = (
                        f"; not saved to {self.output_wanted} yet: `kling-prep wait --resume` "
                        "downloads it"
                    )
                return f"{job} completed: {self.output_url}{where}"
            case SubmissionState.FAILED:
                return f"{job} failed: {self.error or 'no reason given'}"
            case SubmissionState.REJECTED:
                return f"refused by the API, nothing charged: {self.error}"
            case SubmissionState.UNKNOWN:
                return (
                    "sent, but the outcome is unknown: the job may exist and be charged "
                    f"({self.intended_credits} credits). It is never re-sent automatically; check "
                    "the account, then use --again to submit these inputs anew"
                    + (f". Cause: {self.error}" if self.error else "")
                )
        raise KlingPrepError(f"unknown state {self.state}")  # pragma: no cover


@dataclass(frozen=True)
class CreditBudget:
    """At most `limit_credits` may be spent (or possibly spent) since `since` (None: ever)."""

    limit_credits: int
    since: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProcessIdentity:
    """What names a process beyond its pid: its start time and the boot it started in.

    `start_ticks` is field 22 of /proc/<pid>/stat (clock ticks since boot), `boot_id` is
    /proc/sys/kernel/random/boot_id; both None where /proc is absent.
    """

    pid: int
    start_ticks: int | None
    boot_id: str | None


def _read_proc_stat(pid: int) -> tuple[str, int] | None:
    """The state letter and start time (ticks since boot) of a process, None if it is gone.

    Raises:
        OSError: /proc cannot be read for another reason (the caller falls back to the pid).
    """
    try:
        text = (_PROC_ROOT / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 2 is the command name in parentheses and may itself hold spaces and ')': the fields
    # after the last ')' are 3 (state) onwards, so field 22 (starttime) is the 20th of them.
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])


def _boot_id() -> str | None:
    try:
        return (_PROC_ROOT / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def current_process_identity() -> ProcessIdentity:
    """This process's identity, as recorded with each `intent`."""
    pid = os.getpid()
    try:
        stat = _read_proc_stat(pid)
    except (OSError, ValueError, IndexError):
        stat = None
    return ProcessIdentity(pid, stat[1] if stat else None, _boot_id() if stat else None)


def _pid_answers(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_owner_alive(owner: ProcessIdentity) -> bool:
    """Whether the process that wrote an `intent` row on this host is still running.

    Dead: no such pid, a zombie (killed, not yet reaped by its parent: it will never answer), a
    different boot, or a process with that pid that started at another time (the pid was reused).
    Without /proc, or for a row written without a start time, only the pid is checked.
    """
    if owner.start_ticks is not None and owner.boot_id is not None:
        boot_id = _boot_id()
        if boot_id is not None and boot_id != owner.boot_id:
            return False  # every process of an earlier boot is gone, whatever its pid
    if not (_PROC_ROOT / "self" / "stat").exists():
        return _pid_answers(owner.pid)  # no /proc (not Linux): the pid is all there is
    try:
        stat = _read_proc_stat(owner.pid)
    except (OSError, ValueError, IndexError):
        return _pid_answers(owner.pid)  # /proc unreadable or unexpected: fall back to the pid
    if stat is None:
        return False
    state, start_ticks = stat
    if state in ("Z", "X"):  # zombie or dead: ended, only its exit status is left to collect
        return False
    return owner.start_ticks is None or start_ticks == owner.start_ticks


_INSERT_INTENT = """INSERT INTO submissions (submission_id, created_at, updated_at, state,
    inputs_hash, image_source, video_source, image_url, video_url, prompt,
    character_orientation, keep_original_sound, intended_credits, owner_pid,
    owner_host, owner_start_ticks, owner_boot_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _intent_values(
    request: SubmitRequest,
    inputs_hash: str,
    intended_credits: int,
    image_source: str | None,
    video_source: str | None,
) -> tuple[str | int | None, ...]:
    """A new `intent` record's columns, in `_INSERT_INTENT`'s order: a new submission id, now,
    the request, and this process as its owner (so a dead owner's intent is found later)."""
    now = _now().isoformat()
    owner = current_process_identity()
    return (
        str(uuid.uuid4()),
        now,
        now,
        SubmissionState.INTENT.value,
        inputs_hash,
        image_source or request.image_url,
        video_source or request.video_url,
        request.image_url,
        request.video_url,
        request.prompt,
        request.character_orientation,
        int(request.keep_original_sound),
        intended_credits,
        owner.pid,
        socket.gethostname(),
        owner.start_ticks,
        owner.boot_id,
    )


class JobJournal:
    """The SQLite journal of submissions; safe to share between threads and processes.

    Each operation opens its own connection; the checks before a submission (duplicate, budget,
    concurrency) and its `intent` row are written in one `BEGIN IMMEDIATE` transaction, so two
    processes cannot both pass the budget with the last credits.

    Args:
        path: the SQLite file (created with its folder if absent).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            present = {row["name"] for row in conn.execute("PRAGMA table_info(submissions)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE submissions ADD COLUMN {name} {kind}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"JobJournal({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- before the POST -------------------------------------------------------------------

    def check_admission(
        self,
        inputs_hash: str,
        intended_credits: int,
        *,
        again: bool = False,
        budget: CreditBudget | None = None,
        max_concurrent_jobs: int | None = None,
    ) -> None:
        """Raise if a submission of these inputs would be refused now.

        Useful before a slow upload; `record_intent` checks again atomically. Writes only what
        `reconcile()` writes: an `intent` whose owner is gone must not hold a concurrency slot.

        Raises:
            DuplicateSubmissionError, BudgetExceededError, ConcurrencyLimitError.
        """
        self.reconcile()
        with self._connect() as conn:
            self._check(conn, inputs_hash, intended_credits, again, budget, max_concurrent_jobs)

    def record_intent(
        self,
        request: SubmitRequest,
        *,
        inputs_hash: str,
        intended_credits: int,
        image_source: str | None = None,
        video_source: str | None = None,
        again: bool = False,
        budget: CreditBudget | None = None,
        max_concurrent_jobs: int | None = None,
    ) -> SubmissionRecord:
        """Check the submission may go, and record it as `intent`, before any request is sent.

        Args:
            request: the body to be sent.
            inputs_hash: `hash_inputs(...)` of the prepared files and parameters.
            intended_credits: what the job will cost.
            image_source, video_source: what the user named (path or URL), for `status`.
            again: accept inputs that were submitted before (the user asked, `--again`).
            budget: the credit budget to respect, if any.
            max_concurrent_jobs: the most jobs in flight at once, if limited.

        Returns:
            The new record.

        Raises:
            DuplicateSubmissionError: the inputs were submitted before and `again` is False.
            BudgetExceededError: spent + possibly spent + this job > the budget.
            ConcurrencyLimitError: `max_concurrent_jobs` jobs are already in flight.
        """
        self.reconcile()
        values = _intent_values(request, inputs_hash, intended_credits, image_source, video_source)
        with self._transaction() as conn:
            self._check(conn, inputs_hash, intended_credits, again, budget, max_concurrent_jobs)
            conn.execute(_INSERT_INTENT, values)
        return self.get(str(values[0]))

    def _check(
        self,
        conn: sqlite3.Connection,
        inputs_hash: str,
        intended_credits: int,
        again: bool,
        budget: CreditBudget | None,
        max_concurrent_jobs: int | None,
    ) -> None:
        # 1. The same prepared inputs, unless the user asked to pay again.
        if not again:
            row = conn.execute(
                "SELECT * FROM submissions WHERE inputs_hash = ? AND state != ? "
                "ORDER BY created_at DESC LIMIT 1",
                (inputs_hash, SubmissionState.REJECTED.value),
            ).fetchone()
            if row is not None:
                previous = _record(row)
                raise DuplicateSubmissionError(
                    f"these inputs were submitted on {previous.created_at:%Y-%m-%d %H:%M} UTC "
                    f"(submission {previous.submission_id}, {previous.explanation}); pass "
                    "--again to submit and pay again"
                )
        # 2. The budget, counting what may have been charged (unknown outcomes included).
        if budget is not None:
            spent = self._committed_credits(conn, budget.since)
            if spent + intended_credits > budget.limit_credits:
                raise BudgetExceededError(
                    f"the budget is {budget.limit_credits} credits; {spent} are spent or "
                    f"possibly spent, and this job costs {intended_credits}"
                )
        # 3. Concurrency.
        if max_concurrent_jobs is not None:
            in_flight = self._count_in_flight(conn)
            if in_flight >= max_concurrent_jobs:
                raise ConcurrencyLimitError(
                    f"{in_flight} jobs are in flight and the limit is {max_concurrent_jobs}"
                )

    # -- after the POST --------------------------------------------------------------------

    def _update(self, submission_id: str, **values: object) -> SubmissionRecord:
        values["updated_at"] = _now().isoformat()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._transaction() as conn:
            cursor = conn.execute(
                f"UPDATE submissions SET {columns} WHERE submission_id = ?",
                (*values.values(), submission_id),
            )
            if cursor.rowcount != 1:
                raise KlingPrepError(f"the journal has no submission {submission_id}")
        return self.get(submission_id)

    def mark_submitted(self, submission_id: str, result: SubmitResult) -> SubmissionRecord:
        """Record the API's `202`: the job id and the credits charged."""
        return self._update(
            submission_id,
            state=SubmissionState.SUBMITTED.value,
            job_id=result.job_id,
            external_job_id=result.external_job_id,
            credits_charged=result.credits_charged,
            job_status=result.status,
        )

    @contextlib.contextmanager
    def answer_saver(self, submission_id: str) -> Iterator[Callable[[SubmitResult], bool]]:
        """A connection opened before the POST, and the one statement that saves its answer.

        The 202 is charged: from the moment it is read until the job id is in the file, a crash
        leaves the submission `unknown`. Opening the connection and reading the schema
        beforehand leaves only one UPDATE (its own transaction) in that window; once SQLite has
        written it, a killed process does not lose it (the fsync matters only for power loss).

        Yields:
            `save(result)`: True once the answer is recorded, False if the write failed (the
            caller then names the job rather than losing it). It never raises.
        """
        with self._connect() as conn:
            # Without the fsync of each commit (WAL mode: written to the file, synced at the next
            # checkpoint or the next FULL commit, e.g. the first status update): a killed process
            # cannot lose the write, and a power cut that did would leave the row `intent`, which
            # becomes `unknown`, never re-sent. The fsync took 2-15 ms here, most of the window.
            conn.execute("PRAGMA synchronous=NORMAL")
            # A real write now (an unchanged value writes nothing), to the row itself: it reads
            # the schema and starts the WAL file with its synced header (SQLite deletes the file
            # when the last connection closes), which took another 0.5-5 ms after the answer.
            conn.execute(
                "UPDATE submissions SET updated_at = ? WHERE submission_id = ?",
                (_now().isoformat(), submission_id),
            )

            def save(result: SubmitResult) -> bool:
                try:
                    cursor = conn.execute(
                        "UPDATE submissions SET state = ?, job_id = ?, external_job_id = ?, "
                        "credits_charged = ?, job_status = ?, updated_at = ? "
                        "WHERE submission_id = ?",
                        (
                            SubmissionState.SUBMITTED.value,
                            result.job_id,
                            result.external_job_id,
                            result.credits_charged,
                            result.status,
                            _now().isoformat(),
                            submission_id,
                        ),
                    )
                except sqlite3.Error:
                    return False
                return cursor.rowcount == 1

            yield save

    def mark_rejected(self, submission_id: str, reason: str) -> SubmissionRecord:
        """Record that the API refused the submission (nothing charged)."""
        return self._update(
            submission_id, state=SubmissionState.REJECTED.value, error=reason, credits_charged=0
        )

    def mark_unknown(self, submission_id: str, reason: str) -> SubmissionRecord:
        """Record that the submission was sent and its outcome is unknown."""
        return self._update(submission_id, state=SubmissionState.UNKNOWN.value, error=reason)

    def update_status(self, submission_id: str, status: JobStatus) -> SubmissionRecord:
        """Record a job status read from the API (and the output, once completed)."""
        state = SubmissionState.SUBMITTED
        if status.status == "completed":
            state = SubmissionState.COMPLETED
        elif status.status == "failed":
            state = SubmissionState.FAILED
        return self._update(
            submission_id,
            state=state.value,
            job_status=status.status,
            output_url=status.output.video_url if status.output else None,
            output_duration_s=status.output.duration_s if status.output else None,
            error=status.error,
        )

    def want_output(self, submission_id: str, output_path: Path) -> SubmissionRecord:
        """Record where the output video is to be saved once the job completes, so that a
        download that fails (or a process that dies first) is done again by `wait --resume`."""
        return self._update(submission_id, output_wanted=str(output_path), output_path=None)

    def record_download(self, submission_id: str, output_path: Path) -> SubmissionRecord:
        """Record where the output video was saved."""
        return self._update(submission_id, output_path=str(output_path))

    def awaiting_download(self) -> list[SubmissionRecord]:
        """Completed jobs whose asked-for output is not saved yet: what `wait --resume` saves."""
        return [r for r in self.records(states=(SubmissionState.COMPLETED,)) if r.awaits_download]

    # -- reading ---------------------------------------------------------------------------

    def reconcile(self) -> list[SubmissionRecord]:
        """Turn `intent` rows whose process on this host is gone into `unknown`.

        The owner is judged by pid, start time and boot id (see `is_owner_alive`): a zombie or
        a reused pid (this very process's included) is not the owner.

        Returns:
            The records that changed.
        """
        host = socket.gethostname()
        changed: list[SubmissionRecord] = []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT submission_id, owner_pid, owner_start_ticks, owner_boot_id "
                "FROM submissions WHERE state = ? AND owner_host = ?",
                (SubmissionState.INTENT.value, host),
            ).fetchall()
        for row in rows:
            owner = ProcessIdentity(
                row["owner_pid"], row["owner_start_ticks"], row["owner_boot_id"]
            )
            if not is_owner_alive(owner):
                changed.append(
                    self.mark_unknown(
                        row["submission_id"],
                        f"process {row['owner_pid']} ended between recording the intent and "
                        "recording the API's answer",
                    )
                )
        return changed

    def get(self, ref: str) -> SubmissionRecord:
        """The record with this submission id or job id.

        Raises:
            KlingPrepError: no record matches.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM submissions WHERE submission_id = ? OR job_id = ?", (ref, ref)
            ).fetchone()
        if row is None:
            raise KlingPrepError(f"the journal {self.path} has no submission or job {ref!r}")
        return _record(row)

    def records(
        self, *, states: tuple[SubmissionState, ...] | None = None
    ) -> list[SubmissionRecord]:
        """All records, oldest first, optionally only those in `states`."""
        query = "SELECT * FROM submissions"
        params: tuple[str, ...] = ()
        if states:
            query += f" WHERE state IN ({', '.join('?' for _ in states)})"
            params = tuple(s.value for s in states)
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY created_at, rowid", params).fetchall()
        return [_record(row) for row in rows]

    def pending(self) -> list[SubmissionRecord]:
        """Submitted jobs that have not ended: what `wait --resume` follows."""
        return self.records(states=(SubmissionState.SUBMITTED,))

    def committed_credits(self, since: datetime | None = None) -> int:
        """Credits spent or possibly spent (unknown outcomes count) since `since`."""
        with self._connect() as conn:
            return self._committed_credits(conn, since)

    def _committed_credits(self, conn: sqlite3.Connection, since: datetime | None) -> int:
        query = (
            "SELECT COALESCE(SUM(COALESCE(credits_charged, intended_credits)), 0) FROM submissions "
            f"WHERE state IN ({', '.join('?' for _ in _CHARGED_STATES)})"
        )
        params: list[str] = [s.value for s in _CHARGED_STATES]
        if since is not None:
            query += " AND created_at >= ?"
            params.append(since.astimezone(UTC).isoformat())
        return int(conn.execute(query, params).fetchone()[0])

    def _count_in_flight(self, conn: sqlite3.Connection) -> int:
        query = (
            "SELECT COUNT(*) FROM submissions "
            f"WHERE state IN ({', '.join('?' for _ in _IN_FLIGHT_STATES)})"
        )
        return int(conn.execute(query, [s.value for s in _IN_FLIGHT_STATES]).fetchone()[0])


def _record(row: sqlite3.Row) -> SubmissionRecord:
    return SubmissionRecord(
        submission_id=row["submission_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        state=SubmissionState(row["state"]),
        inputs_hash=row["inputs_hash"],
        image_source=row["image_source"],
        video_source=row["video_source"],
        image_url=row["image_url"],
        video_url=row["video_url"],
        prompt=row["prompt"],
        character_orientation=row["character_orientation"],
        keep_original_sound=bool(row["keep_original_sound"]),
        intended_credits=row["intended_credits"],
        owner_pid=row["owner_pid"],
        owner_host=row["owner_host"],
        job_id=row["job_id"],
        external_job_id=row["external_job_id"],
        credits_charged=row["credits_charged"],
        job_status=row["job_status"],
        output_url=row["output_url"],
        output_duration_s=row["output_duration_s"],
        output_path=row["output_path"],
        error=row["error"],
        output_wanted=row["output_wanted"],
    )
