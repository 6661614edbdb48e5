"""The job id of an accepted submission is in the journal before anything else is done with the
answer: a crash right after the 202 must not leave a charged job without its id."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT

from kling_prep.client import JobJournal, KlingClient, RetryPolicy, SubmissionRunner
from kling_prep.client.journal import SubmissionState

IMAGE_URL = "https://example.com/character.jpg"
VIDEO_URL = "https://example.com/dance-reference.mp4"


def _accepting(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"jobId": "job-1", "status": "pending", "creditsCharged": 40})


class _JournalAtLog(logging.Handler):
    """Reads the journal when the client logs 'submitted job': its first act after the answer."""

    def __init__(self, journal: JobJournal) -> None:
        super().__init__()
        self.journal = journal
        self.seen: list[tuple[SubmissionState, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("submitted job"):
            self.seen += [(r.state, r.job_id) for r in self.journal.records()]


def test_the_job_id_is_saved_before_the_client_does_anything_else(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    client = KlingClient(
        API_KEY,
        base_url="https://api.test",
        transport=httpx.MockTransport(_accepting),
        retry=RetryPolicy(max_attempts=1),
    )
    watcher = _JournalAtLog(journal)
    logger = logging.getLogger("kling_prep.client.api")
    logger.addHandler(watcher)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        record = SubmissionRunner(client, journal).submit(IMAGE_URL, VIDEO_URL, PROMPT)
    finally:
        logger.removeHandler(watcher)
        logger.setLevel(level)
    assert watcher.seen == [(SubmissionState.SUBMITTED, "job-1")]
    assert record.state is SubmissionState.SUBMITTED
    assert record.credits_charged == 40


def test_a_failed_first_save_still_records_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    client = KlingClient(
        API_KEY, base_url="https://api.test", transport=httpx.MockTransport(_accepting)
    )
    original = journal.answer_saver

    def failing_saver(submission_id: str):  # type: ignore[no-untyped-def]
        import contextlib

        @contextlib.contextmanager
        def saver():  # type: ignore[no-untyped-def]
            with original(submission_id):
                yield lambda _result: False

        return saver()

    monkeypatch.setattr(journal, "answer_saver", failing_saver)
    record = SubmissionRunner(client, journal).submit(IMAGE_URL, VIDEO_URL, PROMPT)
    assert record.state is SubmissionState.SUBMITTED
    assert record.job_id == "job-1"
