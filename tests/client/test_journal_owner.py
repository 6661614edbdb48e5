"""The journal names the owner of an `intent` by pid, start time and boot id: a zombie, a reused
pid and a process of an earlier boot are not the owner, so their intent becomes `unknown`
instead of holding a concurrency slot for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_fixtures import PROMPT

from kling_prep.client import JobJournal, SubmissionState, SubmitRequest
from kling_prep.client import journal as journal_module
from kling_prep.client.journal import ProcessIdentity, current_process_identity, is_owner_alive
from kling_prep.errors import ConcurrencyLimitError

IMAGE_URL = "https://example.com/character.jpg"
VIDEO_URL = "https://example.com/dance-reference.mp4"

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs Linux /proc to read start times"
)

# A child that writes an `intent` in the journal, says so, then waits to be killed.
_OWNER_PROGRAM = """
import sys, time
from pathlib import Path
from kling_prep.client import JobJournal, SubmitRequest
journal = JobJournal(Path(sys.argv[1]))
journal.record_intent(
    SubmitRequest(sys.argv[2], sys.argv[3], "owner"), inputs_hash="owner", intended_credits=40
)
print("recorded", flush=True)
time.sleep(600)
"""


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A live child process that owns one `intent` row of tmp_path/journal.sqlite."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _OWNER_PROGRAM,
            str(tmp_path / "journal.sqlite"),
            IMAGE_URL,
            VIDEO_URL,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "recorded"
    yield process
    process.kill()
    process.wait(10)
    process.stdout.close()


def _state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_live_owner_keeps_its_intent(tmp_path: Path, owner: subprocess.Popen[str]) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    assert journal.reconcile() == []
    (record,) = journal.records()
    assert record.state is SubmissionState.INTENT
    assert record.owner_pid == owner.pid


@needs_proc
def test_an_owner_killed_but_not_reaped_is_dead(
    tmp_path: Path, owner: subprocess.Popen[str]
) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    os.kill(owner.pid, signal.SIGKILL)  # not waited for: the child stays a zombie
    deadline = time.monotonic() + 10
    while _state_of(owner.pid) != "Z":
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.01)
    os.kill(owner.pid, 0)  # the pid still answers: the old test of liveness is fooled
    (changed,) = journal.reconcile()
    assert changed.state is SubmissionState.UNKNOWN
    assert f"process {owner.pid} ended" in (changed.error or "")
    assert _state_of(owner.pid) == "Z"  # still not reaped when it was judged


@needs_proc
def test_a_reused_pid_is_not_the_owner(tmp_path: Path, owner: subprocess.Popen[str]) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    # The pid is alive, but the process holding it started at another time than the owner.
    with journal._connect() as conn:
        conn.execute("UPDATE submissions SET owner_start_ticks = owner_start_ticks - 1")
    (changed,) = journal.reconcile()
    assert changed.state is SubmissionState.UNKNOWN


@needs_proc
def test_this_very_process_holding_an_old_owners_pid_is_not_the_owner(tmp_path: Path) -> None:
    # After a reboot the classic crash: the new process gets the dead owner's pid.
    journal = JobJournal(tmp_path / "journal.sqlite")
    journal.record_intent(
        SubmitRequest(IMAGE_URL, VIDEO_URL, PROMPT), inputs_hash="h", intended_credits=40
    )
    with journal._connect() as conn:
        conn.execute("UPDATE submissions SET owner_boot_id = 'an-earlier-boot'")
    (changed,) = journal.reconcile()
    assert changed.state is SubmissionState.UNKNOWN


@needs_proc
def test_a_dead_owner_frees_its_concurrency_slot(
    tmp_path: Path, owner: subprocess.Popen[str]
) -> None:
    journal = JobJournal(tmp_path / "journal.sqlite")
    request = SubmitRequest(IMAGE_URL, VIDEO_URL, PROMPT)
    with pytest.raises(ConcurrencyLimitError):
        journal.record_intent(
            request, inputs_hash="second", intended_credits=40, max_concurrent_jobs=1
        )
    os.kill(owner.pid, signal.SIGKILL)  # a zombie from here on
    while _state_of(owner.pid) != "Z":
        time.sleep(0.01)
    # What `submit` asks before its upload, then what it writes before its POST.
    journal.check_admission("second", 40, max_concurrent_jobs=1)
    record = journal.record_intent(
        request, inputs_hash="second", intended_credits=40, max_concurrent_jobs=1
    )
    assert record.state is SubmissionState.INTENT
    states = sorted(r.state.value for r in journal.records())
    assert states == ["intent", "unknown"]


def test_without_proc_the_pid_alone_decides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(journal_module, "_PROC_ROOT", tmp_path / "no-proc")
    me = current_process_identity()
    assert me == ProcessIdentity(os.getpid(), None, None)
    assert is_owner_alive(me)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not is_owner_alive(ProcessIdentity(int(gone.stdout), None, None))


def test_a_journal_of_the_first_schema_gains_the_owner_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            journal_module._SCHEMA.replace("owner_start_ticks INTEGER,", "").replace(
                "owner_boot_id TEXT,", ""
            )
        )
    journal = JobJournal(path)
    record = journal.record_intent(
        SubmitRequest(IMAGE_URL, VIDEO_URL, PROMPT), inputs_hash="h", intended_credits=40
    )
    assert record.state is SubmissionState.INTENT
    assert journal.reconcile() == []
