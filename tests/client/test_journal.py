"""The journal and the submission runner: intent before the POST, duplicates, budget, concurrency,
unknown outcomes, and the key kept out of the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT

from kling_prep.client import (
    CreditBudget,
    JobJournal,
    KlingClient,
    RetryPolicy,
    SubmissionRunner,
    SubmissionState,
    SubmitRequest,
    hash_inputs,
)
from kling_prep.errors import (
    AuthenticationError,
    BudgetExceededError,
    ConcurrencyLimitError,
    DuplicateSubmissionError,
    RequestRejectedError,
    UnknownOutcomeError,
)

IMAGE_URL = "https://example.com/character.jpg"
VIDEO_URL = "https://example.com/dance-reference.mp4"


class FakeApi:
    """A MockTransport handler that accepts every submission, or fails as told."""

    def __init__(self, journal: JobJournal | None = None) -> None:
        self.posts: list[httpx.Request] = []
        self.journal = journal
        self.states_during_post: list[SubmissionState] = []
        self.failure: Exception | httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        if self.journal is not None:
            self.states_during_post += [r.state for r in self.journal.records()]
        if isinstance(self.failure, Exception):
            raise self.failure
        if self.failure is not None:
            return self.failure
        job_id = f"job-{len(self.posts)}"
        return httpx.Response(
            202, json={"jobId": job_id, "status": "pending", "creditsCharged": 40}
        )


def make_runner(
    tmp_path: Path, *, budget: CreditBudget | None = None, max_concurrent_jobs: int | None = None
) -> tuple[SubmissionRunner, FakeApi]:
    journal = JobJournal(tmp_path / "journal.sqlite")
    api = FakeApi(journal)
    client = KlingClient(
        API_KEY,
        base_url="https://api.test",
        transport=httpx.MockTransport(api),
        retry=RetryPolicy(max_attempts=1),
    )
    runner = SubmissionRunner(
        client, journal, budget=budget, max_concurrent_jobs=max_concurrent_jobs
    )
    return runner, api


def test_intent_is_recorded_before_the_post(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path)
    record = runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    assert api.states_during_post == [SubmissionState.INTENT]
    assert record.state is SubmissionState.SUBMITTED
    assert record.job_id == "job-1"
    assert record.credits_charged == 40


def test_same_prepared_inputs_twice_need_again(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path)
    runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    with pytest.raises(DuplicateSubmissionError, match="--again"):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    assert len(api.posts) == 1
    runner.submit(IMAGE_URL, VIDEO_URL, PROMPT, again=True)
    assert len(api.posts) == 2


def test_duplicate_detection_hashes_file_content_not_names(tmp_path: Path) -> None:
    first = tmp_path / "a.mp4"
    second = tmp_path / "b.mp4"
    first.write_bytes(b"same bytes")
    second.write_bytes(b"same bytes")
    image = tmp_path / "c.jpg"
    image.write_bytes(b"image")
    assert hash_inputs(image, first, PROMPT) == hash_inputs(image, second, PROMPT)
    second.write_bytes(b"other bytes")
    assert hash_inputs(image, first, PROMPT) != hash_inputs(image, second, PROMPT)
    assert hash_inputs(image, first, PROMPT) != hash_inputs(
        image, first, PROMPT, character_orientation="image"
    )


def test_budget_stops_a_submission_before_any_request(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path, budget=CreditBudget(limit_credits=70))
    runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    with pytest.raises(BudgetExceededError, match="budget is 70"):
        runner.submit(IMAGE_URL, VIDEO_URL, "another prompt")
    assert len(api.posts) == 1
    assert len(runner.journal.records()) == 1


def test_budget_below_one_job_sends_nothing(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path, budget=CreditBudget(limit_credits=30))
    with pytest.raises(BudgetExceededError):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    assert api.posts == []
    assert runner.journal.records() == []


def test_unknown_outcomes_count_against_the_budget(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path, budget=CreditBudget(limit_credits=80))
    api.failure = httpx.ReadTimeout("slow")
    with pytest.raises(UnknownOutcomeError):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    api.failure = None
    runner.submit(IMAGE_URL, VIDEO_URL, "second")
    with pytest.raises(BudgetExceededError):
        runner.submit(IMAGE_URL, VIDEO_URL, "third")
    assert runner.journal.committed_credits() == 80


def test_rejected_submission_costs_nothing_and_may_be_sent_again(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path, budget=CreditBudget(limit_credits=40))
    api.failure = httpx.Response(422, json={"message": "video_url lasts 2.0 s"})
    with pytest.raises(RequestRejectedError):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    (record,) = runner.journal.records()
    assert record.state is SubmissionState.REJECTED
    assert "2.0 s" in (record.error or "")
    api.failure = None
    assert runner.submit(IMAGE_URL, VIDEO_URL, PROMPT).state is SubmissionState.SUBMITTED


def test_concurrency_limit_is_enforced_before_the_post(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path, max_concurrent_jobs=2)
    runner.submit(IMAGE_URL, VIDEO_URL, "one")
    runner.submit(IMAGE_URL, VIDEO_URL, "two")
    with pytest.raises(ConcurrencyLimitError, match="limit is 2"):
        runner.submit(IMAGE_URL, VIDEO_URL, "three")
    assert len(api.posts) == 2


def test_unknown_outcome_is_journaled_and_blocks_a_resubmission(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path)
    api.failure = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    with pytest.raises(UnknownOutcomeError):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    (record,) = runner.journal.records()
    assert record.state is SubmissionState.UNKNOWN
    assert "never re-sent" in record.explanation
    with pytest.raises(DuplicateSubmissionError, match="outcome is unknown"):
        runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    assert runner.resume_pending().unknown == [record]
    assert len(api.posts) == 1


def test_intent_of_a_dead_process_becomes_unknown(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    record = journal.record_intent(
        SubmitRequest(IMAGE_URL, VIDEO_URL, PROMPT), inputs_hash="h", intended_credits=40
    )
    with journal._connect() as conn:  # stand in for a process that died after its intent
        conn.execute("UPDATE submissions SET owner_pid = ?", (int(dead.stdout),))
    (changed,) = journal.reconcile()
    assert changed.submission_id == record.submission_id
    assert changed.state is SubmissionState.UNKNOWN
    assert journal.reconcile() == []


def test_api_key_is_never_written_to_the_journal(tmp_path: Path) -> None:
    runner, api = make_runner(tmp_path)
    runner.submit(IMAGE_URL, VIDEO_URL, PROMPT)
    api.failure = httpx.Response(401, json={"message": f"bad key {API_KEY}"})
    with pytest.raises(AuthenticationError, match="401"):
        runner.submit(IMAGE_URL, VIDEO_URL, "other")
    for path in tmp_path.iterdir():
        assert API_KEY.encode() not in path.read_bytes(), path.name
