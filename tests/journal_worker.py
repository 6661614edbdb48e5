"""One client process of the journal's state-machine test (tests/client/test_properties_journal.py).

`run_submission` runs in a process of its own (started by a forkserver that has imported this
module, so a start costs milliseconds): it submits through the real `SubmissionRunner` and
journal, to a fake API that appends each POST it receives to a log file, as a server would
before creating the job. The process can be made to die by SIGKILL at a chosen point (no
`except`, no `finally` runs, as under `kill -9`), or to pause between recording its intent and
sending its POST until the test lets it go on or kills it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Literal

import httpx

from kling_prep.client import (
    JobJournal,
    KlingClient,
    RetryPolicy,
    SubmissionRunner,
    SubmissionState,
    SubmitRequest,
)
from kling_prep.errors import KlingPrepError

API_KEY = "sk-test-0123456789abcdef"
CREDITS = 40

# Where the process dies: before its POST leaves; after the server logged it (the job exists,
# the answer is never read); just after the client read the 202 and called the runner's
# `on_accepted`, before it returns to the runner ("reading_answer": the client's log line
# "submitted job ..." is that moment); after the runner returned. None: it ends.
KillPoint = Literal["before_post", "after_post", "reading_answer", "after_answer"] | None
# What the API answers: 202 (job created, charged), 422 (refused, nothing charged), 500 or no
# answer at all (the job may exist).
Answer = Literal["accepted", "refused", "server_error", "no_answer"]


def job_id_for(submission_id: str) -> str:
    """The job id the fake API gives a submission's POST."""
    return f"job-{submission_id}"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _DieOnAccepted(logging.Handler):
    """Kills the process when the client logs an accepted job: after `on_accepted`, before
    `submit` returns to the runner."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("submitted job"):
            _die()


def _own_intent(journal: JobJournal) -> str:
    """This process's submission: the `intent` row it owns (the runner just wrote it)."""
    rows = [
        r for r in journal.records(states=(SubmissionState.INTENT,)) if r.owner_pid == os.getpid()
    ]
    if len(rows) != 1:
        raise AssertionError(f"process {os.getpid()} owns {len(rows)} intent rows")
    return rows[0].submission_id


def _api(
    journal: JobJournal,
    post_log: Path,
    inputs_hash: str,
    again: bool,
    kill_at: KillPoint,
    answer: Answer,
    pause: bool,
    conn: Connection,
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            raise AssertionError(f"the submitting process sent {request.method} {request.url}")
        submission_id = _own_intent(journal)
        conn.send(("intent", submission_id))
        if pause:
            conn.send(("paused", submission_id))
            conn.recv()  # the test answers "go", or kills this process instead
        if kill_at == "before_post":
            _die()
        entry = {"submission_id": submission_id, "inputs_hash": inputs_hash, "again": again}
        with post_log.open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        if kill_at == "after_post":
            _die()
        match answer:
            case "accepted":
                body = {"jobId": job_id_for(submission_id), "status": "pending"}
                return httpx.Response(202, json={**body, "creditsCharged": CREDITS})
            case "refused":
                return httpx.Response(422, json={"message": "image_url is not a readable image"})
            case "server_error":
                return httpx.Response(500, json={"message": "internal error"})
            case "no_answer":
                raise httpx.ReadTimeout("no answer", request=request)

    return httpx.MockTransport(handle)


def run_submission(
    journal_path: str,
    post_log: str,
    inputs_hash: str,
    again: bool,
    kill_at: KillPoint,
    answer: Answer,
    pause: bool,
    conn: Connection,
) -> None:
    """Submit once through the journal; report ("done", outcome) on `conn` unless killed
    before the runner returned."""
    journal = JobJournal(Path(journal_path))
    if kill_at == "reading_answer":
        api_log = logging.getLogger("kling_prep.client.api")
        api_log.setLevel(logging.INFO)
        api_log.addHandler(_DieOnAccepted())
    transport = _api(journal, Path(post_log), inputs_hash, again, kill_at, answer, pause, conn)
    request = SubmitRequest(
        f"https://media.test/{inputs_hash}.jpg", f"https://media.test/{inputs_hash}.mp4", "dance"
    )
    with KlingClient(
        API_KEY,
        base_url="https://api.test",
        transport=transport,
        retry=RetryPolicy(max_attempts=1),
    ) as client:
        runner = SubmissionRunner(client, journal, credits_per_job=CREDITS)
        try:
            record = runner.submit_request(request, inputs_hash=inputs_hash, again=again)
            outcome = (record.state.value, record.submission_id)
        except KlingPrepError as exc:
            outcome = (type(exc).__name__, str(exc))
    conn.send(("done", outcome))  # the test's bookkeeping, not part of the client's work
    if kill_at == "after_answer":
        _die()
