"""Client faults (issue 15, item 3): `kling-prep submit --wait` (and `wait --resume`) run in this
process against a sandbox started here with one injected fault each, on loopback.

For every fault the test counts what the sandbox received and created, and asserts: never two
jobs for one submission, the job id in the journal whenever the client could have read it, a
clear journal state whose sentence a user understands, the exit code and the message, and no
traceback. The check runs first on the bundled good pair, as a user's `submit` does.

The fast subset runs in `make test`; the cases marked `reliability` run in `make reliability`.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.cli import main
from kling_prep.client import JobJournal, SubmissionRecord, SubmissionState
from kling_prep.sandbox.server import SandboxServer
from tests.client_fixtures import StaticFileServer

PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"
# Seconds: a request's timeout, the poll interval and the wait's deadline of the CLI under test.
TIMEOUT_S = 1.5
DEADLINE_S = 3.0
CONFIG = f"[api]\ntimeout_s = {TIMEOUT_S}\npoll_interval_s = 0.1\nwait_deadline_s = {DEADLINE_S}\n"


@dataclass
class Outcome:
    """What one CLI run left: its exit code and output, the sandbox's counts, the journal."""

    code: int
    output: str
    sandbox: SandboxServer
    records: list[SubmissionRecord]

    @property
    def record(self) -> SubmissionRecord:
        (record,) = self.records
        return record


@pytest.fixture(scope="module")
def files(samples: Path) -> Iterator[StaticFileServer]:
    with StaticFileServer(samples) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VYDRA_API_KEY", "test-key")
    monkeypatch.setenv("KLING_PREP_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kling-prep.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def submit_args(files: StaticFileServer, base_url: str, *extra: str) -> list[str]:
    return [
        "submit", "--image", files.url("character.jpg"), "--video", files.url("reference.mp4"),
        "--prompt", PROMPT, "--base-url", base_url, "--wait", *extra,
    ]  # fmt: skip


@pytest.fixture
def run_fault(home: Path, files: StaticFileServer) -> Iterator[object]:
    """`run_fault(spec, *extra)`: `submit --wait` against a new sandbox with that fault."""
    sandboxes: list[SandboxServer] = []

    def run(spec: str | None, *extra: str) -> Outcome:
        sandbox = SandboxServer(delay_s=0.3).start()
        sandboxes.append(sandbox)
        sandbox.set_faults(spec)
        code, output = cli(*submit_args(files, sandbox.url, *extra))
        return Outcome(code, output, sandbox, journal_records(home))

    yield run
    for sandbox in sandboxes:
        sandbox.stop()


def journal_records(home: Path) -> list[SubmissionRecord]:
    return JobJournal(home / "journal.sqlite").records()


def assert_invariants(outcome: Outcome) -> None:
    """What must hold whatever the fault: one job at most, its id kept when it could be read,
    a settled state with a sentence for the user, no traceback."""
    sandbox = outcome.sandbox
    assert sandbox.stats.jobs_created <= 1, "two jobs for one submission"
    assert len(outcome.records) == 1
    record = outcome.record
    assert record.state is not SubmissionState.INTENT, "left in intent by a living process"
    if record.job_id is not None:
        assert record.job_id in sandbox._jobs
    if sandbox.stats.jobs_created == 0:
        assert record.state in (SubmissionState.REJECTED, SubmissionState.UNKNOWN)
    assert "Traceback" not in outcome.output
    assert "Errno" not in outcome.output
    assert record.explanation


def assert_unknown(outcome: Outcome, *, charged: bool, cause: str) -> None:
    """Sent, no readable answer: `unknown`, exit 3, never re-sent, the user told to check."""
    assert outcome.code == 3, outcome.output
    assert outcome.sandbox.stats.posts == 1
    assert outcome.sandbox.stats.jobs_created == int(charged)
    record = outcome.record
    assert record.state is SubmissionState.UNKNOWN
    assert record.job_id is None
    assert "charged" in outcome.output
    assert cause in outcome.output
    assert "never re-sent" in record.explanation
    assert "--again" in record.explanation


# -- the POST ------------------------------------------------------------------------------


@pytest.mark.reliability
def test_timeout_before_the_job_is_accepted_is_unknown_and_not_resent(run_fault):
    # The sandbox holds the POST longer than the client waits, then finds the client gone.
    outcome = run_fault(f"latency@post:s={TIMEOUT_S + 1.5}")
    assert_invariants(outcome)
    deadline = time.monotonic() + 10
    while outcome.sandbox.stats.posts_abandoned == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome.sandbox.stats.posts_abandoned == 1
    assert_unknown(outcome, charged=False, cause="ReadTimeout")


def test_timeout_after_the_job_is_accepted_is_unknown_and_not_resent(run_fault):
    outcome = run_fault("hang@post:s=10")
    assert_invariants(outcome)
    assert_unknown(outcome, charged=True, cause="ReadTimeout")
    assert outcome.sandbox.stats.credits_charged == 40


@pytest.mark.reliability
def test_a_connection_dropped_after_the_charge_is_unknown(run_fault):
    outcome = run_fault("drop@post")
    assert_invariants(outcome)
    assert_unknown(outcome, charged=True, cause="no answer came back")


@pytest.mark.reliability
def test_a_5xx_on_the_post_is_unknown_and_not_resent(run_fault):
    outcome = run_fault("error@post:status=503")
    assert_invariants(outcome)
    assert_unknown(outcome, charged=False, cause="answered 503")


@pytest.mark.reliability
def test_no_server_is_a_refusal_with_nothing_sent(home, files):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, output = cli(*submit_args(files, url))
    (record,) = journal_records(home)
    assert code == 3
    assert "no connection" in output
    assert record.state is SubmissionState.REJECTED
    assert "nothing charged" in record.explanation
    assert "Traceback" not in output


@pytest.mark.reliability
def test_a_429_burst_on_the_post_is_waited_out_and_charged_once(run_fault):
    outcome = run_fault("ratelimit@post:retry_after=0.2,times=3")
    assert_invariants(outcome)
    assert outcome.code == 0, outcome.output
    assert outcome.sandbox.stats.posts == 4  # three 429s, then the accepted one
    assert outcome.sandbox.stats.jobs_created == 1
    assert outcome.record.state is SubmissionState.COMPLETED
    assert outcome.record.job_id is not None


@pytest.mark.reliability
def test_a_429_burst_longer_than_the_retries_is_a_refusal(run_fault, home, files):
    outcome = run_fault("ratelimit@post:retry_after=0.1")
    assert_invariants(outcome)
    assert outcome.code == 3
    assert outcome.sandbox.stats.jobs_created == 0
    assert outcome.record.state is SubmissionState.REJECTED
    assert "Too many requests" in outcome.output
    assert "nothing charged" in outcome.record.explanation
    # Refused, not charged: the same inputs may go again without --again once the burst ends.
    outcome.sandbox.set_faults(None)
    code, output = cli(*submit_args(files, outcome.sandbox.url))
    assert code == 0, output
    assert outcome.sandbox.stats.jobs_created == 1


@pytest.mark.parametrize("form", ["cut", pytest.param("html", marks=pytest.mark.reliability)])
def test_a_malformed_202_keeps_the_job_id_when_it_can_be_read(run_fault, form):
    outcome = run_fault(f"malformed@post:form={form}")
    assert_invariants(outcome)
    assert outcome.sandbox.stats.posts == 1
    assert outcome.sandbox.stats.jobs_created == 1
    if form == "cut":
        # The id is in the first half of the JSON: kept, and the job followed to its end.
        (job_id,) = outcome.sandbox._jobs
        assert outcome.code == 0, outcome.output
        assert outcome.record.job_id == job_id
        assert outcome.record.state is SubmissionState.COMPLETED
        # The charge was in the half that never came: said so, not printed as "None".
        assert "credits not stated in the answer" in outcome.output
        assert "None credits" not in outcome.output
    else:
        assert_unknown(outcome, charged=True, cause="without a readable jobId")


# -- the wait ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("error@get:status=502,times=3", marks=pytest.mark.reliability),
        pytest.param("ratelimit@get:retry_after=0.2,times=4", marks=pytest.mark.reliability),
        "malformed@get:form=html,times=2",
        pytest.param("cut@get:times=2", marks=pytest.mark.reliability),
    ],
)
def test_transient_faults_while_polling_are_ridden_over(run_fault, spec):
    outcome = run_fault(spec)
    assert_invariants(outcome)
    assert outcome.code == 0, outcome.output
    assert outcome.sandbox.stats.posts == 1
    assert outcome.record.state is SubmissionState.COMPLETED
    assert outcome.record.output_url


@pytest.mark.reliability
def test_a_poll_that_keeps_failing_leaves_the_job_to_resume(run_fault, home):
    outcome = run_fault("error@get:status=500")
    assert_invariants(outcome)
    assert outcome.code == 3
    record = outcome.record
    assert record.state is SubmissionState.SUBMITTED
    assert record.job_id is not None
    assert "wait --resume" in outcome.output
    outcome.sandbox.set_faults(None)
    code, output = cli("wait", "--resume", "--base-url", outcome.sandbox.url)
    assert code == 0, output
    assert journal_records(home)[0].state is SubmissionState.COMPLETED
    assert outcome.sandbox.stats.posts == 1


def test_a_job_that_never_finishes_stops_at_the_deadline_and_stays_submitted(run_fault):
    started = time.monotonic()
    outcome = run_fault("stuck")
    assert_invariants(outcome)
    assert outcome.code == 3
    assert time.monotonic() - started < DEADLINE_S + 30
    record = outcome.record
    assert record.state is SubmissionState.SUBMITTED
    assert record.job_status == "processing"
    assert f"did not finish within {DEADLINE_S:g} s" in outcome.output
    assert f"kling-prep wait {record.job_id}" in outcome.output
    assert "wait --resume" in record.explanation


# -- the download --------------------------------------------------------------------------


def assert_nothing_half_written(folder: Path) -> None:
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("result"))
    assert leftovers == [], leftovers


def assert_downloaded_by_resume(home: Path, sandbox: SandboxServer) -> None:
    """`wait --resume` later: the completed job's video is fetched again, not the job."""
    code, output = cli("wait", "--resume", "--base-url", sandbox.url)
    assert code == 0, output
    record = journal_records(home)[0]
    assert record.output_path == str(home / "result.mp4")
    assert (home / "result.mp4").stat().st_size > 1000
    assert sandbox.stats.posts == 1
    assert sandbox.stats.jobs_created == 1


@pytest.mark.parametrize(
    "spec", ["cut@file:share=0.5", pytest.param("malformed@file", marks=pytest.mark.reliability)]
)
def test_a_download_cut_short_leaves_no_file_and_resume_downloads_again(run_fault, home, spec):
    outcome = run_fault(spec, "-o", str(home / "result.mp4"))
    assert_invariants(outcome)
    assert outcome.code == 3, outcome.output
    assert_nothing_half_written(home)
    record = outcome.record
    assert record.state is SubmissionState.COMPLETED
    assert record.output_path is None
    assert "download it again" in outcome.output
    assert "not saved" in record.explanation
    outcome.sandbox.set_faults(None)
    assert_downloaded_by_resume(home, outcome.sandbox)


def test_a_full_disk_while_writing_the_result_leaves_no_file_and_resume_writes_it(
    run_fault, home, monkeypatch
):
    from kling_prep.client import api

    real_open = api.open_output

    def full_disk_open(path: Path) -> object:
        handle = real_open(path)

        class Full:
            def __enter__(self) -> Full:
                handle.__enter__()
                return self

            def __exit__(self, *exc: object) -> None:
                handle.__exit__(*exc)

            def write(self, data: bytes) -> int:
                handle.write(data[: len(data) // 2])  # part of it lands, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")

        return Full()

    monkeypatch.setattr(api, "open_output", full_disk_open)
    outcome = run_fault(None, "-o", str(home / "result.mp4"))
    assert_invariants(outcome)
    assert outcome.code == 3, outcome.output
    assert "No space left on device" in outcome.output
    assert_nothing_half_written(home)
    assert outcome.record.state is SubmissionState.COMPLETED
    assert outcome.record.output_path is None
    monkeypatch.setattr(api, "open_output", real_open)  # space freed
    assert_downloaded_by_resume(home, outcome.sandbox)


@pytest.mark.parametrize(
    ("body", "job_id"),
    [
        (b'{"jobId": "5f0c-42", "status": "pen', "5f0c-42"),
        (b'oops {"jobId":"a1"} {"jobId": "a1"}', "a1"),
        (b'{"jobId": "a1"} {"jobId": "b2"}', None),  # two ids: neither is trusted
        (b'{"jobId": "", "status": "pending"}', None),
        (b"<html>502 Bad Gateway</html>", None),
        (b'{"jobId": "a b"}', None),
    ],
)
def test_a_job_id_is_read_from_a_broken_body_only_when_it_is_unambiguous(body, job_id):
    from kling_prep.client.contract import salvage_job_id

    assert salvage_job_id(body) == job_id


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs (root and a kernel that lets us mount), unmounted after the test."""
    import os
    import subprocess

    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root; the monkeypatched case covers the rest")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs could be mounted: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True, check=False)


@pytest.mark.reliability
def test_a_really_full_filesystem_leaves_no_file_and_resume_writes_it(
    run_fault, home, tiny_filesystem
):
    import subprocess

    dest = tiny_filesystem / "result.mp4"
    outcome = run_fault(None, "-o", str(dest))
    assert_invariants(outcome)
    assert outcome.code == 3, outcome.output
    assert "No space left on device" in outcome.output
    assert list(tiny_filesystem.iterdir()) == []
    assert outcome.record.state is SubmissionState.COMPLETED
    assert outcome.record.output_wanted == str(dest)
    # Space freed: the same filesystem grown, then `wait --resume`.
    grown = ["mount", "-o", "remount,size=64m", str(tiny_filesystem)]
    subprocess.run(grown, check=True, capture_output=True)
    code, output = cli("wait", "--resume", "--base-url", outcome.sandbox.url)
    assert code == 0, output
    assert dest.stat().st_size > 64 * 1024
    assert journal_records(home)[0].output_path == str(dest)
    assert outcome.sandbox.stats.jobs_created == 1
