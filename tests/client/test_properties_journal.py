"""The journal as a state machine (hypothesis RuleBasedStateMachine): random interleavings of
client processes that submit, die by SIGKILL at chosen points or pause between intent and POST
(and are then let go on or killed), and of what a user does after a crash: reconcile,
`wait --resume`, submitting the same inputs again (a retry, with or without --again).

Each client is a real process (tests/journal_worker.py, forked from a forkserver) writing the real
journal file through the real `SubmissionRunner`; its POSTs go to a fake API that logs each one
before answering. After every step:

- no submission id was ever POSTed twice, and every POST belongs to a row of the journal;
- inputs already in the journal (any state but `rejected`) were POSTed again only with --again,
  and inputs not in it were never refused;
- each row's state is one its history allows: a job the API created and whose 202 was read has
  its job id saved (even when the process died right after reading it); a 202 never read, a 500
  or no answer is `intent` (owner alive, or dead and not yet reconciled) or `unknown`, never
  `rejected`; `rejected` only after a 422; a row past `intent` was POSTed exactly when its
  process reached the POST;
- after a reconcile or a resume, no `intent` row is left whose process is dead, and a live
  paused owner keeps its `intent`; resume sends no POST;
- the credits the journal counts spent or possibly spent are 40 a row for every row not
  rejected; the file passes SQLite's integrity check, and a new JobJournal on it (a new
  process) reads the same records.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from journal_worker import API_KEY, CREDITS, Answer, KillPoint, job_id_for, run_submission
from property_profiles import examples

from kling_prep.client import (
    JobJournal,
    KlingClient,
    PollPolicy,
    RetryPolicy,
    SubmissionRunner,
    SubmissionState,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="the owners are judged through Linux /proc"
)

INPUTS = ("inputs-a", "inputs-b", "inputs-c")
MAX_PAUSED = 2
WAIT_S = 30.0  # for one client process; each takes milliseconds
# Memory-backed where there is one: SQLite's fsyncs cost nothing there, and what is tested is
# what processes see of the file, not what survives a power cut.
_FAST_DIR = "/dev/shm" if Path("/dev/shm").is_dir() else None


@dataclass
class Client:
    """One client process and what the test asked of it."""

    process: BaseProcess
    conn: Connection
    inputs_hash: str
    again: bool
    kill_at: KillPoint
    answer: Answer
    submission_id: str | None = None
    outcome: tuple[str, str] | None = None
    is_killed: bool = False  # killed by the test while paused

    @property
    def answer_read(self) -> bool:
        """Whether the process lived to read the API's answer."""
        return not self.is_killed and self.kill_at not in ("before_post", "after_post")


_CONTEXT: ForkServerContext | None = None


def _context() -> ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        # The server imports the client and httpx once; each client process is then a fork of
        # that single-threaded server. (Python 3.11's forkserver does not take the tests'
        # sys.path, so journal_worker itself is imported by each child: it is small.)
        _CONTEXT.set_forkserver_preload(["httpx", "kling_prep.client"])
    return _CONTEXT


def _receive(client: Client) -> tuple[str, Any]:
    """The client's next message; ("exited", exit code) when it ended without one."""
    while not client.conn.poll(0.05):
        if not client.process.is_alive():
            if client.conn.poll(0):  # sent just before it ended
                break
            client.process.join(WAIT_S)
            return ("exited", client.process.exitcode)
    try:
        kind, value = client.conn.recv()
    except EOFError:
        client.process.join(WAIT_S)
        return ("exited", client.process.exitcode)
    return kind, value


def _follow(client: Client, *, until: str) -> None:
    """Read the client's messages until `until` ("paused" or "done") or its end."""
    while True:
        kind, value = _receive(client)
        if kind == "intent":
            client.submission_id = value
        elif kind == "done":
            client.outcome = tuple(value)
        if kind in (until, "done", "exited"):
            break
    if kind != "paused":
        client.process.join(WAIT_S)
        assert not client.process.is_alive(), "a client process did not end"
        client.conn.close()


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="journal-machine-", dir=_FAST_DIR))
        self.journal_path = self.folder / "journal.sqlite"
        self.post_log = self.folder / "posts.jsonl"
        self.post_log.touch()
        self.journal = JobJournal(self.journal_path)
        self.clients: list[Client] = []
        self.paused: list[Client] = []

    def teardown(self) -> None:
        for client in self.paused:
            client.process.kill()
            client.process.join(WAIT_S)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- what happened -----------------------------------------------------------------------

    def posts(self) -> list[dict[str, Any]]:
        lines = self.post_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def by_submission(self) -> dict[str, Client]:
        return {c.submission_id: c for c in self.clients if c.submission_id is not None}

    def _start(
        self, inputs_hash: str, again: bool, kill_at: KillPoint, answer: Answer, pause: bool
    ) -> Client:
        ours, theirs = _context().Pipe()
        process = _context().Process(
            target=run_submission,
            args=(
                str(self.journal_path), str(self.post_log), inputs_hash, again, kill_at, answer,
                pause, theirs,
            ),
        )  # fmt: skip
        process.start()
        theirs.close()
        client = Client(process, ours, inputs_hash, again, kill_at, answer)
        self.clients.append(client)
        return client

    def _expect_admission(self, client: Client, earlier: list[str], posts_before: int) -> None:
        """Inputs in the journal (`earlier`: their rows' states, `rejected` left out) are sent
        again only with --again, and nothing else stops a submission here."""
        if earlier and not client.again:
            assert client.submission_id is None, (
                f"{client.inputs_hash} was in the journal ({earlier}) and was sent again "
                "without --again"
            )
            assert client.outcome is not None
            assert client.outcome[0] == "DuplicateSubmissionError", client.outcome
            assert len(self.posts()) == posts_before
        else:
            assert client.submission_id is not None, f"refused: {client.outcome}"

    def _earlier(self, inputs_hash: str) -> list[str]:
        return [
            r.state.value
            for r in self.journal.records()
            if r.inputs_hash == inputs_hash and r.state is not SubmissionState.REJECTED
        ]

    # -- rules -------------------------------------------------------------------------------

    @rule(
        inputs_hash=st.sampled_from(INPUTS),
        again=st.booleans(),
        kill_at=st.sampled_from(
            [None, None, "before_post", "after_post", "reading_answer", "after_answer"]
        ),
        answer=st.sampled_from(["accepted", "accepted", "refused", "server_error", "no_answer"]),
    )
    def submit(self, inputs_hash: str, again: bool, kill_at: KillPoint, answer: Answer) -> None:
        """A `submit` (a retry when the inputs were submitted before) run to its end or death."""
        posts_before, earlier = len(self.posts()), self._earlier(inputs_hash)
        client = self._start(inputs_hash, again, kill_at, answer, pause=False)
        _follow(client, until="done")
        self._expect_admission(client, earlier, posts_before)

    @precondition(lambda self: len(self.paused) < MAX_PAUSED)
    @rule(
        inputs_hash=st.sampled_from(INPUTS),
        again=st.booleans(),
        answer=st.sampled_from(["accepted", "refused", "server_error", "no_answer"]),
    )
    def start_paused(self, inputs_hash: str, again: bool, answer: Answer) -> None:
        """A `submit` that stops between its intent and its POST (its process alive)."""
        posts_before, earlier = len(self.posts()), self._earlier(inputs_hash)
        client = self._start(inputs_hash, again, None, answer, pause=True)
        _follow(client, until="paused")
        self._expect_admission(client, earlier, posts_before)
        if client.submission_id is not None:
            self.paused.append(client)

    @precondition(lambda self: bool(self.paused))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        client = self.paused.pop(data.draw(st.integers(0, len(self.paused) - 1)))
        client.conn.send("go")
        _follow(client, until="done")

    @precondition(lambda self: bool(self.paused))
    @rule(data=st.data())
    def kill_paused(self, data: st.DataObject) -> None:
        """kill -9 of a process between its intent and its POST."""
        client = self.paused.pop(data.draw(st.integers(0, len(self.paused) - 1)))
        client.process.kill()
        client.process.join(WAIT_S)
        client.is_killed = True
        client.conn.close()

    @rule()
    def reconcile(self) -> None:
        self.journal.reconcile()
        alive = {c.submission_id for c in self.paused}
        for record in self.journal.records(states=(SubmissionState.INTENT,)):
            assert record.submission_id in alive, (
                f"{record.submission_id} is still `intent` after reconcile, its process dead"
            )

    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        """`wait --resume`: follows submitted jobs; must never POST."""
        endings = {
            r.job_id: data.draw(st.sampled_from(["completed", "failed"]), label=r.job_id)
            for r in self.journal.pending()
        }
        sent: list[httpx.Request] = []

        def api(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            if request.method != "GET":
                return httpx.Response(500)
            job_id = request.url.path.rsplit("/", 1)[1]
            status = endings.get(job_id, "completed")
            body: dict[str, Any] = {"id": job_id, "status": status}
            if status == "completed":
                body["output"] = {"videoUrl": f"https://media.test/{job_id}.mp4"}
            else:
                body["error"] = "the model failed"
            return httpx.Response(200, json=body)

        with KlingClient(
            API_KEY,
            base_url="https://api.test",
            transport=httpx.MockTransport(api),
            retry=RetryPolicy(max_attempts=1),
            sleep=lambda _s: None,
        ) as client:
            runner = SubmissionRunner(client, self.journal, credits_per_job=CREDITS)
            result = runner.resume_pending(policy=PollPolicy(interval_s=0.0, jitter_ratio=0.0))
        assert [r.method for r in sent if r.method != "GET"] == [], "resume sent a POST"
        assert result.errors == []
        alive = {c.submission_id for c in self.paused}
        still = {r.submission_id for r in self.journal.records(states=(SubmissionState.INTENT,))}
        assert still <= alive, "resume left `intent` rows whose process is dead"

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def each_submission_is_posted_at_most_once(self) -> None:
        ids = [p["submission_id"] for p in self.posts()]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        assert not twice, f"submissions POSTed twice: {twice}"

    @invariant()
    def every_post_has_a_row(self) -> None:
        rows = {r.submission_id for r in self.journal.records()}
        missing = [p["submission_id"] for p in self.posts() if p["submission_id"] not in rows]
        assert not missing, f"POSTs of submissions the journal does not know: {missing}"

    @invariant()
    def each_row_is_in_a_state_its_history_allows(self) -> None:
        clients = self.by_submission()
        posted = {p["submission_id"] for p in self.posts()}
        alive = {c.submission_id for c in self.paused}
        for record in self.journal.records():
            sid = record.submission_id
            client = clients.get(sid)
            assert client is not None, f"a row no client made: {sid}"
            state = record.state
            if sid in alive:
                allowed = {SubmissionState.INTENT}
            elif not client.answer_read:
                allowed = {SubmissionState.INTENT, SubmissionState.UNKNOWN}
            elif client.answer == "accepted":
                allowed = {
                    SubmissionState.SUBMITTED,
                    SubmissionState.COMPLETED,
                    SubmissionState.FAILED,
                }
                assert record.job_id == job_id_for(sid), f"{sid}: job id {record.job_id}"
                assert record.credits_charged == CREDITS
            elif client.answer == "refused":
                allowed = {SubmissionState.REJECTED}
                assert record.credits_charged == 0
            else:
                allowed = {SubmissionState.UNKNOWN}
            assert state in allowed, (
                f"{sid} ({client.inputs_hash}, kill {client.kill_at}, killed while paused "
                f"{client.is_killed}, answer {client.answer}) is {state.value}; allowed: "
                f"{sorted(s.value for s in allowed)}"
            )
            if state is not SubmissionState.INTENT and sid not in alive:
                # A row past intent whose process reached the POST was POSTed exactly then.
                reached_post = client.kill_at != "before_post" and not client.is_killed
                assert (sid in posted) == reached_post, f"{sid}: POSTed {sid in posted}"

    @invariant()
    def credits_count_every_row_not_rejected(self) -> None:
        records = self.journal.records()
        charged = CREDITS * sum(r.state is not SubmissionState.REJECTED for r in records)
        assert self.journal.committed_credits() == charged

    @invariant()
    def a_new_process_reads_the_same_journal(self) -> None:
        """What `status` or a restart sees: the file opened anew."""
        before = self.journal.records()
        self.journal = JobJournal(self.journal_path)
        assert self.journal.records() == before

    @invariant()
    def the_file_is_sound(self) -> None:
        conn = sqlite3.connect(self.journal_path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


JournalMachine.TestCase.settings = settings(
    max_examples=examples(30, 300), stateful_step_count=examples(15, 30)
)
test_the_journal_never_posts_twice = JournalMachine.TestCase
