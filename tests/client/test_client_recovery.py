"""Crash safety with real processes: a client killed between the POST and the journal update,
and a client killed while waiting, against the sandbox on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from client_fixtures import API_KEY, PROMPT, StaticFileServer, served_pair

from kling_prep.client import JobJournal, KlingClient, PollPolicy, SubmissionRunner, SubmissionState
from kling_prep.client.download import verify_playable_mp4
from kling_prep.errors import DuplicateSubmissionError
from kling_prep.sandbox import SandboxServer

FIXTURE_PROGRAM = Path(__file__).resolve().parents[1] / "client_fixtures.py"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticFileServer]:
    with served_pair(tmp_path_factory.mktemp("media")) as server:
        yield server


def start_client(
    sandbox: SandboxServer, journal: Path, media: StaticFileServer, *extra: str
) -> subprocess.Popen[str]:
    command = [sys.executable, str(FIXTURE_PROGRAM), sandbox.url, str(journal)]
    command += [media.url("char.jpg"), media.url("ref.mp4"), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        time.sleep(0.02)


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    process.stderr.close()


def test_crash_between_post_and_journal_update_is_unknown_and_never_resent(
    tmp_path: Path, media: StaticFileServer
) -> None:
    journal_path = tmp_path / "journal.sqlite"
    # The sandbox accepts and charges the job, then holds its answer: the client is killed then.
    with SandboxServer(delay_s=0.2, faults=None) as sandbox:
        sandbox.set_faults("hang@post:s=30")
        process = start_client(sandbox, journal_path, media)
        wait_until(lambda: sandbox.job_count() == 1)
        kill(process)
        assert sandbox.balance(API_KEY) == 960

        # A new process (the user running `kling-prep status` / `wait --resume`).
        sandbox.set_faults(None)
        journal = JobJournal(journal_path)
        (left_behind,) = journal.records()
        assert left_behind.state is SubmissionState.INTENT
        assert left_behind.job_id is None
        with KlingClient(API_KEY, base_url=sandbox.url) as client:
            runner = SubmissionRunner(client, journal)
            result = runner.resume_pending(policy=PollPolicy(interval_s=0.05))
            (record,) = result.unknown
            assert record.state is SubmissionState.UNKNOWN
            assert f"process {process.pid} ended" in (record.error or "")
            assert result.finished == []
            with pytest.raises(DuplicateSubmissionError, match="outcome is unknown"):
                runner.submit(media.url("char.jpg"), media.url("ref.mp4"), PROMPT)
        assert sandbox.stats.posts == 1
        assert sandbox.job_count() == 1


def test_resume_completes_pending_jobs_after_a_restart(
    tmp_path: Path, media: StaticFileServer
) -> None:
    journal_path = tmp_path / "journal.sqlite"
    with SandboxServer(delay_s=1.0) as sandbox:
        process = start_client(sandbox, journal_path, media, "--wait")
        assert process.stdout is not None
        assert process.stdout.readline().startswith("submitted ")
        journal = JobJournal(journal_path)
        kill(process)
        (before,) = journal.records()
        assert before.state is SubmissionState.SUBMITTED

        with KlingClient(API_KEY, base_url=sandbox.url) as client:
            runner = SubmissionRunner(client, journal)
            result = runner.resume_pending(policy=PollPolicy(interval_s=0.05))
            (after,) = result.finished
            assert after.state is SubmissionState.COMPLETED
            assert after.output_url is not None
            saved = runner.download(after.submission_id, tmp_path / "out.mp4")
        verify_playable_mp4(tmp_path / "out.mp4")
        assert saved.output_path == str(tmp_path / "out.mp4")
        assert sandbox.stats.posts == 1
