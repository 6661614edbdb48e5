"""Crash safety: kill -9 of a submitting client at chosen or random moments, against the sandbox
on loopback, then count what the sandbox received and charged against what the journal holds.

    .venv/bin/python benchmarks/bench_crash.py window [--runs 40] [--max-ms 50] [--seed 0]
    .venv/bin/python benchmarks/bench_crash.py loop [--runs 100] [--seed 0]
    .venv/bin/python benchmarks/bench_crash.py batch [--runs 20] [--rows 2]

`window`: the client (tests/client_fixtures.py: submit through the journal, then wait) is killed
0 to --max-ms milliseconds after the sandbox has written its 202 to the socket; each run has a
journal of its own. Reports how many runs ended `unknown` (charged, id never saved) against
`submitted` (the id saved): the window between the answer and the saved id.

`loop`: `kling-prep submit --wait` and `kling-prep wait --resume` on one journal, each killed at
a random moment (or let finish); after every run, `wait --resume` recovers. Reports POSTs the
sandbox received, jobs it created and credits it charged against the journal's rows, and whether
every job ended in the journal as completed or was reported unknown.

`batch`: `kling-prep batch --submit` killed at a random moment, then the same batch again; then
two batches at once on one manifest and folder; then `wait --resume`. Same counts.

Only loopback addresses are used. Prints the figures; docs/RELIABILITY.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from client_fixtures import StaticFileServer, make_image, make_video

from kling_prep.client import JobJournal, SubmissionState
from kling_prep.sandbox import SandboxServer
from kling_prep.sandbox import server as sandbox_server

# ../shared/media beside the project, as the other benchmarks find ../shared/realset.
DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
FIXTURE_PROGRAM = Path(__file__).resolve().parents[1] / "tests" / "client_fixtures.py"


class AnswerClock:
    """Wraps the sandbox's JSON writer to note when a 202 has been written to the socket."""

    def __init__(self) -> None:
        self.sent = threading.Event()
        self.sent_at = 0.0
        original = sandbox_server._Handler._send_json

        def send_json(handler: Any, status: int, body: Any, headers: Any = None) -> None:
            original(handler, status, body, headers)
            if status == 202:
                handler.wfile.flush()
                self.sent_at = time.monotonic()
                self.sent.set()

        sandbox_server._Handler._send_json = send_json  # type: ignore[method-assign]


@contextlib.contextmanager
def _rig(
    media: Path | None, *, delay_s: float
) -> Iterator[tuple[Path, StaticFileServer, SandboxServer]]:
    """A run's own folder, media served from loopback (a small image and clip made in that folder
    when `media` is None) and a sandbox with credits to spare."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if media is None:
            make_video(root / "ref.mp4")
            make_image(root / "char.jpg")
        with (
            StaticFileServer(media or root) as files,
            SandboxServer(delay_s=delay_s, credits=10**6) as sandbox,
        ):
            yield root, files, sandbox


def cli_env(home: Path) -> dict[str, str]:
    """The CLI's environment: a test key, loopback media allowed, a HOME of the run's own."""
    return dict(
        os.environ,
        VYDRA_API_KEY="sk-bench-crash",
        KLING_PREP_FETCH_ALLOW="127.0.0.1/32",
        HOME=str(home),
    )


def cli_submit(
    base_url: str, journal: Path, files: StaticFileServer, prompt: str, args: argparse.Namespace
) -> list[str]:
    """`kling-prep submit --wait` of the --image and --video files served on loopback."""
    return [
        str(Path(sys.executable).with_name("kling-prep")), "submit", "--wait",
        "--image", files.url(args.image), "--video", files.url(args.video), "--prompt", prompt,
        "--base-url", base_url, "--journal", str(journal),
    ]  # fmt: skip


def run_window(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clock = AnswerClock()
    outcomes: Counter[str] = Counter()
    by_delay: dict[str, Counter[str]] = {}
    late_ms: list[float] = []
    with _rig(args.media if args.cli else None, delay_s=60.0) as (root, files, sandbox):
        for index in range(args.runs):
            journal_path = root / f"journal-{index}.sqlite"
            delay_s = rng.uniform(0.0, args.max_ms / 1000)
            clock.sent.clear()
            if args.cli:
                command = cli_submit(sandbox.url, journal_path, files, f"run {index}", args)
            else:
                command = [sys.executable, str(FIXTURE_PROGRAM), sandbox.url,
                           str(journal_path), files.url("char.jpg"), files.url("ref.mp4"),
                           "--wait"]  # fmt: skip
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(root)
            )
            if not clock.sent.wait(30):
                outcomes["no answer"] += 1
                process.kill()
                process.wait()
                continue
            time.sleep(max(0.0, clock.sent_at + delay_s - time.monotonic()))
            killed_at = time.monotonic()
            process.send_signal(signal.SIGKILL)
            process.wait()
            late_ms.append((killed_at - clock.sent_at - delay_s) * 1000)
            journal = JobJournal(journal_path)
            journal.reconcile()
            (record,) = journal.records()
            outcome = record.state.value
            outcomes[outcome] += 1
            width_ms = args.max_ms / 5
            low_ms = int(delay_s * 1000 / width_ms) * width_ms
            bucket = f"{low_ms:4.1f}-{low_ms + width_ms:4.1f} ms"
            by_delay.setdefault(bucket, Counter())[outcome] += 1
        posts, jobs = sandbox.stats.posts, sandbox.stats.jobs_created
    who = "kling-prep submit --wait" if args.cli else "the fixture client"
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores; {who}; runs {args.runs}, "
        f"kill 0-{args.max_ms:g} ms after the 202 was written (seed {args.seed})"
    )
    print(f"sandbox: {posts} POSTs, {jobs} jobs created")
    print("outcomes:", dict(outcomes))
    for bucket in sorted(by_delay):
        print(f"  kill {bucket} after the 202: {dict(by_delay[bucket])}")
    late_ms.sort()
    print(
        f"kill later than aimed: median {late_ms[len(late_ms) // 2]:.1f} ms, max {late_ms[-1]:.1f} ms"
    )
    return 0


def cli_resume(base_url: str, journal: Path) -> list[str]:
    """`kling-prep wait --resume` on the journal."""
    return [
        str(Path(sys.executable).with_name("kling-prep")), "wait", "--resume",
        "--base-url", base_url, "--journal", str(journal),
    ]  # fmt: skip


def run_loop(args: argparse.Namespace) -> int:
    """kill -9 of `submit --wait` and `wait --resume` at random moments, one journal."""
    rng = random.Random(args.seed)
    clock = AnswerClock()
    kinds: Counter[str] = Counter()
    started_s = time.monotonic()
    with _rig(args.media, delay_s=args.delay) as (root, files, sandbox):
        journal_path = root / "journal.sqlite"
        env = cli_env(root)
        for index in range(args.runs):
            draw = rng.random()
            clock.sent.clear()
            if draw < 0.2:  # the recovery itself, killed while it polls
                kind, command = "wait --resume", cli_resume(sandbox.url, journal_path)
                aim_s = rng.uniform(0.0, 1.0)
            else:
                kind = "submit --wait"
                command = cli_submit(sandbox.url, journal_path, files, f"run {index}", args)
                aim_s = rng.uniform(0.0, args.max_s)
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
            if kind == "submit --wait" and draw >= 0.6:
                # Aimed at the POST: 0-20 ms after the sandbox wrote its 202.
                kind += ", just after the 202"
                if clock.sent.wait(30):
                    time.sleep(max(0.0, clock.sent_at + rng.uniform(0, 0.02) - time.monotonic()))
            else:
                kind += ", at a random moment"
                try:
                    process.wait(aim_s)
                    kind += " (had ended)"
                except subprocess.TimeoutExpired:
                    pass
            process.send_signal(signal.SIGKILL)
            process.wait()
            kinds[kind] += 1
        posts = sandbox.stats.posts
        # What the sandbox created, by prompt (each submission has a prompt of its own).
        created = Counter(job.fields.prompt for job in sandbox._jobs.values())
        charged = sandbox.stats.credits_charged
        sandbox.wait_rendered(60)
        before = Counter(r.state.value for r in JobJournal(journal_path).records())
        resumed = subprocess.run(
            cli_resume(sandbox.url, journal_path), env=env, capture_output=True, text=True
        )
        records = JobJournal(journal_path).records()
        after = Counter(r.state.value for r in records)
        by_prompt = Counter(r.prompt for r in records)
        ids = {r.job_id for r in records if r.job_id}
        job_ids = set(sandbox._jobs)
        unknown_prompts = {r.prompt for r in records if r.state is SubmissionState.UNKNOWN}
        lost = [p for p in created if p not in by_prompt]
        unnamed = {
            job_id: job.fields.prompt for job_id, job in sandbox._jobs.items() if job_id not in ids
        }
        unnamed_not_unknown = [p for p in unnamed.values() if p not in unknown_prompts]
        unknown_not_charged = [p for p in unknown_prompts if p not in created]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores; {args.runs} runs on one "
        f"journal (seed {args.seed}, sandbox delay {args.delay:g} s), "
        f"{time.monotonic() - started_s:.0f} s in all"
    )
    for kind, count in sorted(kinds.items()):
        print(f"  {count:3d} x kill -9 of {kind}")
    print(f"sandbox: {posts} POSTs, {len(job_ids)} jobs created, {charged} credits charged")
    print(
        f"submissions charged twice (two jobs for one prompt): {sum(c > 1 for c in created.values())}"
    )
    print(f"jobs the journal does not know at all: {len(lost)}")
    print(
        f"jobs without their id in the journal: {len(unnamed)} (all reported unknown: "
        f"{not unnamed_not_unknown})"
    )
    print(
        f"unknown rows whose POST never created a job (killed before it): {len(unknown_not_charged)}"
    )
    print(f"journal before the recovery: {dict(before)}")
    print(f"`wait --resume` exit {resumed.returncode}; journal after: {dict(after)}")
    consistent = (
        not lost
        and not unnamed_not_unknown
        and all(c == 1 for c in created.values())
        and after.get("intent", 0) == 0
        and after.get("submitted", 0) == 0
        and charged == 40 * len(job_ids)
    )
    print("consistent:", consistent)
    return 0 if consistent else 1


def cli_batch(base_url: str, journal: Path, manifest: Path, out_dir: Path) -> list[str]:
    """`kling-prep batch MANIFEST --submit` with one worker."""
    return [
        str(Path(sys.executable).with_name("kling-prep")), "batch", str(manifest),
        "--out-dir", str(out_dir), "--submit", "--workers", "1",
        "--base-url", base_url, "--journal", str(journal),
    ]  # fmt: skip


def run_batch(args: argparse.Namespace) -> int:
    """kill -9 of `batch --submit` at a random moment, then the same batch again, N times; then
    two batch processes on one manifest and folder at once; then `wait --resume`."""
    rng = random.Random(args.seed)
    started_s = time.monotonic()
    rerun_exits: Counter[int] = Counter()
    with _rig(args.media, delay_s=args.delay) as (root, files, sandbox):
        journal_path = root / "journal.sqlite"
        env = cli_env(root)
        prompts: list[str] = []

        def manifest(name: str) -> Path:
            path = root / f"{name}.csv"
            lines = ["image,video,prompt"]
            for row in range(args.rows):
                prompt = f"{name} row {row}"
                prompts.append(prompt)
                lines.append(f"{files.url(args.image)},{files.url(args.video)},{prompt}")
            path.write_text("\n".join(lines) + "\n")
            return path

        for index in range(args.runs):
            command = cli_batch(
                sandbox.url, journal_path, manifest(f"batch{index}"), root / f"out{index}"
            )
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
            try:
                process.wait(rng.uniform(0.0, args.max_s))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            again = subprocess.run(command, capture_output=True, text=True, env=env)
            rerun_exits[again.returncode] += 1
        # Two processes on one manifest and output folder at once.
        command = cli_batch(sandbox.url, journal_path, manifest("twin"), root / "twin")
        twins = [
            subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
            )
            for _ in range(2)
        ]
        twin_exits, twin_says = [], []
        for twin in twins:
            _, stderr = twin.communicate()  # read to the end: a full pipe would block it
            twin_exits.append(twin.returncode)
            twin_says += [line for line in stderr.splitlines() if "kling-prep" in line]
        created = Counter(job.fields.prompt for job in sandbox._jobs.values())
        posts, charged = sandbox.stats.posts, sandbox.stats.credits_charged
        sandbox.wait_rendered(60)
        resumed = subprocess.run(
            cli_resume(sandbox.url, journal_path), env=env, capture_output=True, text=True
        )
        records = JobJournal(journal_path).records()
        after = Counter(r.state.value for r in records)
        ids = {r.job_id for r in records if r.job_id}
        unknown = {r.prompt for r in records if r.state is SubmissionState.UNKNOWN}
        journaled = {r.prompt for r in records}
        unnamed = [job.fields.prompt for job_id, job in sandbox._jobs.items() if job_id not in ids]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores; {args.runs} batches of "
        f"{args.rows} rows killed at 0-{args.max_s:g} s and run again, then two at once on one "
        f"manifest (seed {args.seed}); {time.monotonic() - started_s:.0f} s in all"
    )
    print(f"re-run exits: {dict(rerun_exits)}; the two at once: {twin_exits} {twin_says}")
    print(f"sandbox: {posts} POSTs, {len(created)} prompts charged, {charged} credits")
    print(f"rows: {len(prompts)}; with a journal row: {len(journaled & set(prompts))}")
    print(f"submissions charged twice: {sum(c > 1 for c in created.values())}")
    print(
        f"jobs without their id in the journal: {len(unnamed)} (all unknown: "
        f"{all(p in unknown for p in unnamed)})"
    )
    print(f"`wait --resume` exit {resumed.returncode}; journal after: {dict(after)}")
    consistent = (
        all(c == 1 for c in created.values())
        and all(p in unknown for p in unnamed)
        and set(prompts) <= journaled
        and after.get("intent", 0) == 0
        and after.get("submitted", 0) == 0
        and charged == 40 * sum(created.values())
    )
    print("consistent:", consistent)
    return 0 if consistent else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    window = sub.add_parser("window", help="kill just after the 202: how often the id is lost")
    window.add_argument("--runs", type=int, default=40)
    window.add_argument("--max-ms", type=float, default=50.0)
    window.add_argument("--seed", type=int, default=0)
    loop = sub.add_parser("loop", help="kill -9 at random moments on one journal, then recover")
    loop.add_argument("--runs", type=int, default=100)
    loop.add_argument("--seed", type=int, default=0)
    loop.add_argument("--delay", type=float, default=0.5, help="sandbox seconds per job")
    loop.add_argument(
        "--max-s", type=float, default=6.5, help="latest random kill, s (the check takes ~4 s)"
    )
    loop.set_defaults(cli=True)
    batch = sub.add_parser("batch", help="kill -9 of batch --submit, then the same batch again")
    batch.add_argument("--runs", type=int, default=10)
    batch.add_argument("--rows", type=int, default=2)
    batch.add_argument("--seed", type=int, default=0)
    batch.add_argument("--delay", type=float, default=0.5, help="sandbox seconds per job")
    batch.add_argument("--max-s", type=float, default=12.0, help="latest random kill, s")
    batch.set_defaults(cli=True)
    for mode in (window, loop, batch):
        mode.add_argument(
            "--cli", action="store_true", help="kill `kling-prep submit --wait`, not the fixture"
        )
        mode.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
        mode.add_argument("--image", default="robed-man.jpeg", help="a file of --media")
        mode.add_argument("--video", default="talk-gestures.mp4", help="a file of --media")
    args = parser.parse_args()
    if args.mode == "window":
        return run_window(args)
    if args.mode == "loop":
        return run_loop(args)
    if args.mode == "batch":
        return run_batch(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
