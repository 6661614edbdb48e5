"""Client overhead per poll and requests per finished job, against the sandbox on loopback.

    .venv/bin/python benchmarks/bench_client.py [--jobs 5] [--polls 200]

Prints the figures; docs/BENCHMARKS.md records them with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from client_fixtures import API_KEY, PROMPT, StaticFileServer, make_image, make_video

from kling_prep.client import KlingClient, PollPolicy, SubmitRequest
from kling_prep.sandbox import SandboxServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=5, help="jobs to follow to their end")
    parser.add_argument("--polls", type=int, default=200, help="GETs timed for the overhead")
    parser.add_argument("--delay", type=float, default=2.0, help="sandbox seconds per job")
    parser.add_argument("--interval", type=float, default=0.5, help="poll interval, seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_video(root / "ref.mp4")
        make_image(root / "char.jpg")
        with (
            StaticFileServer(root) as files,
            SandboxServer(delay_s=args.delay, credits=10**6) as sandbox,
            KlingClient(API_KEY, base_url=sandbox.url) as client,
        ):
            request = SubmitRequest(files.url("char.jpg"), files.url("ref.mp4"), PROMPT)
            # 1. Overhead of one poll: a GET of a known job, client-side parse included.
            job_id = client.submit(request).job_id
            for _ in range(10):
                client.get(job_id)
            timings_s = []
            for _ in range(args.polls):
                started = time.perf_counter()
                client.get(job_id)
                timings_s.append(time.perf_counter() - started)
            # 2. Requests per finished job with the given interval and delay.
            counts = []
            for index in range(args.jobs):
                before = client.request_count
                job = client.submit(
                    SubmitRequest(request.image_url, request.video_url, f"{PROMPT} #{index}")
                )
                client.wait(job.job_id, policy=PollPolicy(interval_s=args.interval))
                counts.append(client.request_count - before)

    timings_ms = sorted(t * 1000 for t in timings_s)
    p95_ms = timings_ms[int(0.95 * len(timings_ms)) - 1]
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, python {platform.python_version()}")
    print(
        f"poll round trip over loopback ({args.polls} GETs): "
        f"median {statistics.median(timings_ms):.2f} ms, p95 {p95_ms:.2f} ms"
    )
    print(
        f"requests per finished job (delay {args.delay:g} s, interval {args.interval:g} s +-20 %): "
        f"mean {statistics.mean(counts):.1f} (POST + GETs), min {min(counts)}, max {max(counts)}; "
        f"ideal {1 + int(args.delay / args.interval) + 1}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
