"""Crash safety: kill -9 of a submitting client at chosen or random moments, against the sandbox
on loopback, then count what the sandbox received and charged against what the journal holds.

    .venv/bin/python benchmarks/bench_crash.py window [--runs 40] [--max-ms 50] [--seed 0]
    .venv/bin/python benchmarks/bench_crash.py loop [--runs 100] [--seed 0]

`window`: the client (tests/client_fixtures.py: submit through the journal, then wait) is killed
0 to --max-ms milliseconds after the sandbox has written its 202 to the socket; each run has a
journal of its own. Reports how many runs ended `unknown` (charged, id never saved) against
`submitted` (the id saved): the window between the answer and the saved id.

`loop`: `kling-prep submit --wait` and `kling-prep wait --resume` on one journal, each killed at
a random moment (or let finish); after every run, `wait --resume` recovers. Reports POSTs the
sandbox received, jobs it created and credits it charged against the journal's rows, and whether
every job ended in the journal as completed or was reported unknown.

Only loopback addresses are used. Prints the figures; docs/RELIABILITY.md records them.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from client_fixtures import StaticFileServer, make_image, make_video

from kling_prep.client import JobJournal
from kling_prep.sandbox import SandboxServer
from kling_prep.sandbox import server as sandbox_server

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
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_video(root / "ref.mp4")
        make_image(root / "char.jpg")
        media_root = args.media if args.cli else root
        with (
            StaticFileServer(media_root) as files,
            SandboxServer(delay_s=60.0, credits=10**6) as sandbox,
        ):
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    window = sub.add_parser("window", help="kill just after the 202: how often the id is lost")
    window.add_argument("--runs", type=int, default=40)
    window.add_argument("--max-ms", type=float, default=50.0)
    window.add_argument("--seed", type=int, default=0)
    for mode in (window,):
        mode.add_argument(
            "--cli", action="store_true", help="kill `kling-prep submit --wait`, not the fixture"
        )
        mode.add_argument("--media", type=Path, default=Path("/work/shared/media"))
        mode.add_argument("--image", default="robed-man.jpeg", help="a file of --media")
        mode.add_argument("--video", default="talk-gestures.mp4", help="a file of --media")
    args = parser.parse_args()
    if args.mode == "window":
        return run_window(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
