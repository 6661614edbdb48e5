"""Load: N concurrent submissions through the client's batch path against the sandbox on loopback.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_load.py [--submissions 200] [--delay 1.0]
        [--poll 0.5] [--max-s 600] [--json out/load.json]

Each of N threads is one submitter, as a batch worker is: its own `KlingClient` and
`SubmissionRunner` on one shared journal (`SubmissionRunner.submit`, the call `batch --submit`
makes for a row), then `wait` on its job. All start together (a barrier). The sandbox runs in a
child process with the media it fetches (a small generated image and clip, served on loopback),
jobs that take --delay seconds plus their render.

Reported: submissions intended, POSTs the sandbox received, jobs it created, submissions charged
twice (two jobs for one prompt), submissions lost (a job created, or a submission intended, that
the journal has no row for), jobs unnamed (created, its submission in the journal as `unknown`
without the id: the client gave up waiting for the 202), the journal's final states, the latency of every poll (GET of a job, as
the client measured it: p50, p95, max), peak RSS of the client process and of the sandbox's, and
the wall time. Every loop is bounded: each wait by its deadline, the whole run by --max-s.
Only 127.0.0.1 is used. Exits 0 when no job was lost or duplicated and every submission
completed, else 1.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

API_KEY = "sk-bench-load"


@dataclass
class LoadReport:
    """The figures of one run."""

    submissions: int
    posts: int = 0
    jobs_created: int = 0
    duplicates: int = 0
    lost: int = 0
    unnamed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    polls: int = 0
    poll_p50_ms: float = 0.0
    poll_p95_ms: float = 0.0
    poll_max_ms: float = 0.0
    submit_p50_ms: float = 0.0
    submit_p95_ms: float = 0.0
    client_peak_rss_mb: float = 0.0
    sandbox_peak_rss_mb: float = 0.0
    wall_s: float = 0.0
    timed_out: int = 0

    @property
    def held(self) -> bool:
        """No job lost or charged twice, and every submission completed."""
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.unnamed == 0
            and self.jobs_created == self.submissions
            and self.states == {"completed": self.submissions}
        )


# -- the sandbox's process -----------------------------------------------------------------


def _serve(conn: Connection, delay_s: float) -> None:
    """The child: media and sandbox on loopback; answers "stop" with its counts and peak RSS."""
    from client_fixtures import StaticFileServer, make_image, make_video

    from kling_prep.sandbox import SandboxServer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # The smallest clip the documented limits accept: 3 s, sides of 340 px.
        make_video(root / "ref.mp4", duration_s=3.2, width=340, height=340)
        make_image(root / "char.jpg", width=400, height=600)
        credits = 10**9
        with (
            StaticFileServer(root) as files,
            SandboxServer(delay_s=delay_s, credits=credits) as sandbox,
        ):
            conn.send((sandbox.url, files.url("char.jpg"), files.url("ref.mp4")))
            conn.recv()  # "stop"
            sandbox.wait_rendered(60)
            with sandbox._lock:
                prompts = {job_id: job.fields.prompt for job_id, job in sandbox._jobs.items()}
            stats = asdict(sandbox.stats)
    conn.send((stats, prompts, _peak_rss_mb(resource.RUSAGE_SELF)))
    conn.close()


def _peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KB on Linux


# -- the client's side ---------------------------------------------------------------------


class _TimedTransport(httpx.HTTPTransport):
    """Times each GET of a job (a poll) and each POST, as the client sees them."""

    def __init__(self, polls_ms: list[float], posts_ms: list[float]) -> None:
        super().__init__()
        self._polls_ms = polls_ms
        self._posts_ms = posts_ms

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if request.method == "POST":
            self._posts_ms.append(elapsed_ms)
        elif request.url.path.startswith("/api/v1/jobs/"):
            self._polls_ms.append(elapsed_ms)
        return response


def _submitter(
    index: int,
    start: threading.Barrier,
    urls: tuple[str, str, str],
    journal_path: Path,
    timings: tuple[list[float], list[float]],
    poll_s: float,
    deadline_s: float,
    errors: Counter[str],
) -> None:
    """One batch worker's row: submit through the journal, then wait for the job's end."""
    from kling_prep.client import JobJournal, KlingClient, PollPolicy, SubmissionRunner
    from kling_prep.errors import KlingPrepError

    base_url, image_url, video_url = urls
    transport = _TimedTransport(*timings)
    with KlingClient(API_KEY, base_url=base_url, transport=transport) as client:
        runner = SubmissionRunner(client, JobJournal(journal_path))
        start.wait()
        try:
            record = runner.submit(image_url, video_url, f"load test, submission {index}")
            runner.wait(
                record.submission_id, policy=PollPolicy(interval_s=poll_s, deadline_s=deadline_s)
            )
        except KlingPrepError as exc:
            errors[type(exc).__name__] += 1


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def run_load(
    submissions: int, *, delay_s: float = 1.0, poll_s: float = 0.5, max_s: float = 600.0
) -> LoadReport:
    """Run `submissions` concurrent submit-and-wait threads against a sandbox child process."""
    from kling_prep.client import JobJournal

    report = LoadReport(submissions=submissions)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    sandbox = context.Process(target=_serve, args=(child, delay_s), daemon=True)
    sandbox.start()
    started = time.monotonic()
    try:
        if not parent.poll(120):
            raise RuntimeError("the sandbox process did not start within 120 s")
        urls = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            journal_path = Path(tmp) / "journal.sqlite"
            JobJournal(journal_path)  # created once, before the crowd
            polls_ms: list[float] = []
            posts_ms: list[float] = []
            errors: Counter[str] = Counter()
            barrier = threading.Barrier(submissions)
            deadline_s = max(1.0, max_s - 30.0)
            threads = [
                threading.Thread(
                    target=_submitter,
                    args=(
                        i,
                        barrier,
                        urls,
                        journal_path,
                        (polls_ms, posts_ms),
                        poll_s,
                        deadline_s,
                        errors,
                    ),
                    daemon=True,
                )
                for i in range(submissions)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, max_s - (time.monotonic() - started)))
            report.timed_out = sum(thread.is_alive() for thread in threads)
            report.wall_s = round(time.monotonic() - started, 1)
            records = JobJournal(journal_path).records()
        parent.send("stop")
        if not parent.poll(120):
            raise RuntimeError("the sandbox process did not report within 120 s")
        stats, prompts, sandbox_rss_mb = parent.recv()
    finally:
        sandbox.join(30)
        if sandbox.is_alive():
            sandbox.kill()
    _count(report, stats, prompts, records)
    report.errors = dict(errors)
    report.polls = len(polls_ms)
    report.poll_p50_ms = round(_percentile(polls_ms, 0.5), 1)
    report.poll_p95_ms = round(_percentile(polls_ms, 0.95), 1)
    report.poll_max_ms = round(max(polls_ms, default=0.0), 1)
    report.submit_p50_ms = round(_percentile(posts_ms, 0.5), 1)
    report.submit_p95_ms = round(_percentile(posts_ms, 0.95), 1)
    report.client_peak_rss_mb = round(_peak_rss_mb(resource.RUSAGE_SELF), 1)
    report.sandbox_peak_rss_mb = round(sandbox_rss_mb, 1)
    return report


def _count(
    report: LoadReport, stats: dict[str, int], prompts: dict[str, str], records: Any
) -> None:
    """Compare what the sandbox created with what the journal holds."""
    report.posts = stats["posts"]
    report.jobs_created = stats["jobs_created"]
    per_prompt = Counter(prompts.values())
    report.duplicates = sum(count - 1 for count in per_prompt.values() if count > 1)
    named = {record.job_id for record in records if record.job_id}
    journal_prompts = {record.prompt for record in records}
    unknown_prompts = {r.prompt for r in records if r.state.value == "unknown"}
    intended = {f"load test, submission {i}" for i in range(report.submissions)}
    unnamed = {job_id: prompt for job_id, prompt in prompts.items() if job_id not in named}
    report.unnamed = sum(prompt in unknown_prompts for prompt in unnamed.values())
    # Lost: a job whose submission the journal does not show unknown, or no row at all.
    report.lost = len(unnamed) - report.unnamed + len(intended - journal_prompts)
    report.states = dict(Counter(record.state.value for record in records))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0, help="The sandbox's job time (s).")
    parser.add_argument("--poll", type=float, default=0.5, help="The client's poll interval (s).")
    parser.add_argument("--max-s", type=float, default=600.0, help="The whole run's bound (s).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args(argv)
    report = run_load(args.submissions, delay_s=args.delay, poll_s=args.poll, max_s=args.max_s)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}; {args.submissions} concurrent submissions, sandbox delay "
        f"{args.delay:g} s, poll every {args.poll:g} s"
    )
    print(f"intended {report.submissions}, POSTs {report.posts}, jobs created "
          f"{report.jobs_created}, duplicates {report.duplicates}, lost {report.lost}, "
          f"unnamed (shown unknown) {report.unnamed}")  # fmt: skip
    print(f"journal states {report.states}; errors {report.errors or 'none'}; "
          f"threads still running at the bound {report.timed_out}")  # fmt: skip
    print(f"polls {report.polls}: p50 {report.poll_p50_ms} ms, p95 {report.poll_p95_ms} ms, "
          f"max {report.poll_max_ms} ms; POST p50 {report.submit_p50_ms} ms, "
          f"p95 {report.submit_p95_ms} ms")  # fmt: skip
    print(f"peak RSS: client {report.client_peak_rss_mb} MB, sandbox "
          f"{report.sandbox_peak_rss_mb} MB; wall {report.wall_s} s")  # fmt: skip
    print("held" if report.held else "NOT HELD")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
