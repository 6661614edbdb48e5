"""Never paying twice on a cluster: `kling-prep batch --executor ray --submit --budget N` on a
two-node Ray cluster started on this machine, its driver killed with kill -9 mid-run, then run
again; counts from the sandbox what was POSTed and charged.

    .venv/bin/python benchmarks/bench_ray_cluster.py [--trials 3] [--rows 8] [--budget 200]

Each trial is one batch (a manifest of --rows good rows with prompts of their own, an output
folder, a journal, a budget smaller than the rows would cost) run --kills times with the driver
killed (by turns: while a POST is in flight, a few ms after the sandbox answered a POST, at a
random moment), then once to its end and once more, which must send nothing. Checked per trial:
no prompt charged twice, the sandbox's charge never above the budget, every job the sandbox
created known to the journal, every journal row written by one of the drivers (by pid, never
by a Ray worker), the journal's spent plus possibly spent equal to the budget (the rows are
more than it pays for: once the kills are over, the budget is used, never passed), and the
rows checked on both nodes.

The cluster: `ray start --head` and a second `ray start --address`, 1 CPU each, on 127.0.0.1
with a temp folder and an authentication token of their own, both ended by this script (their process groups, never
`ray stop`, which would also end other Ray instances on the machine). Ray 2.60 replaces
127.0.0.1 by the machine's outward address when a node joins or a driver connects, and its
servers then listen on every interface; so the nodes are started through a launcher that keeps
the address given (every Ray server then listens on 127.0.0.1 only) and the driver runs with
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which makes Ray keep 127.0.0.1 for a driver. Only
loopback is used. Prints the figures; docs/RELIABILITY.md section 7 records them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_crash import AnswerClock, _rig

from kling_prep.batch import read_results
from kling_prep.batch.results import latest_by_key
from kling_prep.client import JobJournal
from kling_prep.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CREDITS_PER_JOB = 40
# `ray start` keeping the address it is given (see the module's docstring).
RAY_LAUNCHER = (
    "import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
)
KILL_MODES = ("during a POST", "just after a 202", "at a random moment")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _end_group(pgid: int, grace_s: float = 10.0) -> None:
    """SIGTERM to a process group this script started, then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# The cluster's token (Ray's token authentication): only this script and its drivers hold it.
CLUSTER_TOKEN = secrets.token_hex(32)


def node_env(root: Path) -> dict[str, str]:
    """The nodes' environment: this checkout first on the path, no usage reports, the cluster's
    own token (an in-process `ray.init` before, as in the test suite, leaves RAY_AUTH_MODE=token
    in the environment; a cluster without a token would then refuse to start)."""
    return dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=CLUSTER_TOKEN,
        GLOG_minloglevel="2",
        HOME=str(root),
    )


def driver_env(root: Path) -> dict[str, str]:
    """The driver's (`kling-prep batch`): the nodes' plus a test key, loopback media allowed and
    Ray keeping 127.0.0.1 (a node must not have it: `ray start` refuses to join a cluster)."""
    return dict(
        node_env(root),
        VYDRA_API_KEY="sk-bench-ray-cluster",
        KLING_PREP_FETCH_ALLOW="127.0.0.1/32",
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
    )


@contextlib.contextmanager
def two_nodes(root: Path, env: dict[str, str]) -> Iterator[str]:
    """A head and a second node, 1 CPU each, on 127.0.0.1; yields the GCS address. Both are
    ended on the way out, whatever happened."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=100000000",
              "--disable-usage-stats"]  # fmt: skip
    head = [sys.executable, "-c", RAY_LAUNCHER, "start", "--head", f"--port={port}",
            f"--temp-dir={root / 'ray'}", "--include-dashboard=false", *common]  # fmt: skip
    other = [sys.executable, "-c", RAY_LAUNCHER, "start", f"--address={address}", *common]
    groups: list[int] = []
    try:
        for name, command in (("head", head), ("second node", other)):
            log = root / f"ray-start-{name.replace(' ', '-')}.log"
            with log.open("w") as out:
                # A session of its own: the node's daemons stay in its process group.
                process = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
                groups.append(process.pid)
                if process.wait(120) != 0:
                    raise RuntimeError(f"ray start ({name}) failed: {log.read_text()[-2000:]}")
        yield address
    finally:
        for pgid in reversed(groups):
            _end_group(pgid)


@dataclass
class Trial:
    """One batch: its manifest, folder, journal and what the runs did."""

    index: int
    manifest: Path
    out_dir: Path
    journal: Path
    prompts: list[str]
    kills: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    posts_by_last_run: int = 0
    driver_pids: set[int] = field(default_factory=set)


def _journal_states(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
        try:
            return [state for (state,) in conn.execute("SELECT state FROM submissions")]
        except sqlite3.OperationalError:  # being created this moment
            return []


def batch_command(trial: Trial, address: str, sandbox: SandboxServer, budget: int) -> list[str]:
    return [
        sys.executable, "-m", "kling_prep", "batch", str(trial.manifest),
        "--out-dir", str(trial.out_dir), "--executor", "ray", "--address", address,
        "--submit", "--budget", str(budget), "--base-url", sandbox.url,
        "--journal", str(trial.journal),
    ]  # fmt: skip


def kill_run(
    command: list[str], env: dict[str, str], mode: str, trial: Trial, sandbox: SandboxServer,
    clock: AnswerClock, rng: random.Random, max_s: float,
) -> str:  # fmt: skip
    """Start the driver and kill -9 it (its process group) as `mode` says; what happened."""
    if mode == "during a POST":
        sandbox.set_faults("latency@post:s=3,times=1")  # the next POST waits 3 s in the sandbox
    clock.sent.clear()
    posts_before = sandbox.stats.posts
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    trial.driver_pids.add(process.pid)
    deadline = time.monotonic() + 120
    what = mode
    try:
        if mode == "during a POST":
            while "intent" not in _journal_states(trial.journal) and process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0.2, 1.0))  # the POST is waiting in the sandbox
        elif mode == "just after a 202":
            if clock.sent.wait(120):
                time.sleep(max(0.0, clock.sent_at + rng.uniform(0, 0.02) - time.monotonic()))
        else:
            process.wait(rng.uniform(1.0, max_s))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            what += " (had ended)"
        process.wait()
        sandbox.set_faults(None)
    return f"{what}: {sandbox.stats.posts - posts_before} POSTs"


def judge(trial: Trial, jobs: dict[str, str], budget: int) -> tuple[dict[str, object], bool]:
    """One trial's figures, from the sandbox's jobs (job id -> prompt), the journal and the
    output folder, and whether they hold: nothing charged twice, the budget never passed."""
    created = Counter(p for p in jobs.values() if p in trial.prompts)
    records = JobJournal(trial.journal).records()
    journaled = Counter(r.prompt for r in records)
    lines = read_results(trial.out_dir / "results.jsonl")
    latest = latest_by_key(lines)
    statuses = Counter((line["submission"] or {}).get("status") for line in latest.values())
    nodes = {line["worker"].get("ray_node") for line in lines if line.get("worker")}
    credits = json.loads((trial.out_dir / "summary.json").read_text())["credits"]
    charged = CREDITS_PER_JOB * sum(created.values())
    row: dict[str, object] = {
        "trial": trial.index,
        "kills": trial.kills,
        "exits": trial.exits,
        "jobs created": sum(created.values()),
        "charged": charged,
        "budget": budget,
        "charged twice": sum(c > 1 for c in created.values()),
        "jobs the journal lacks": sum(1 for p in created if p not in journaled),
        "journal rows written by a driver": sum(r.owner_pid in trial.driver_pids for r in records),
        "journal": dict(Counter(r.state.value for r in records)),
        "spent + possibly spent": credits["spent"] + credits["possibly_spent"],
        "row statuses": dict(statuses),
        "nodes that checked rows": len(nodes),
        "POSTs by the last run": trial.posts_by_last_run,
    }
    ok = (
        row["charged twice"] == 0
        and charged <= budget
        and row["jobs the journal lacks"] == 0
        and row["journal rows written by a driver"] == len(records)
        and all(c == 1 for c in journaled.values())
        and row["spent + possibly spent"] == budget
        and trial.posts_by_last_run == 0
        and row["nodes that checked rows"] == 2
    )
    return row, ok


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clock = AnswerClock()
    started_s = time.monotonic()
    trials: list[Trial] = []
    with _rig(args.media, delay_s=args.delay) as (root, files, sandbox):
        env = driver_env(root)
        with two_nodes(root, node_env(root)) as address:
            print(f"cluster: two nodes of 1 CPU at {address}", flush=True)
            kill_index = 0
            for index in range(args.trials):
                folder = root / f"trial{index}"
                folder.mkdir()
                prompts = [f"trial {index} row {row}" for row in range(args.rows)]
                lines = ["image,video,prompt"]
                lines += [f"{files.url(args.image)},{files.url(args.video)},{p}" for p in prompts]
                manifest = folder / "manifest.csv"
                manifest.write_text("\n".join(lines) + "\n")
                trial = Trial(index, manifest, folder / "out", folder / "journal.sqlite", prompts)
                trials.append(trial)
                command = batch_command(trial, address, sandbox, args.budget)
                for _ in range(args.kills):
                    mode = KILL_MODES[kill_index % len(KILL_MODES)]
                    kill_index += 1
                    kill = kill_run(command, env, mode, trial, sandbox, clock, rng, args.max_s)
                    trial.kills.append(kill)
                for last in (False, True):  # to its end, then once more: nothing left to send
                    posts_before = sandbox.stats.posts
                    driver = subprocess.Popen(
                        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    trial.driver_pids.add(driver.pid)
                    trial.exits.append(driver.wait())
                    if last:
                        trial.posts_by_last_run = sandbox.stats.posts - posts_before
                print(f"trial {index}: kills {trial.kills}, then exits {trial.exits}", flush=True)
        sandbox.wait_rendered(60)
        jobs = {job_id: job.fields.prompt for job_id, job in sandbox._jobs.items()}
        posts = sandbox.stats.posts
        charged = sandbox.stats.credits_charged
        judged = [judge(trial, jobs, args.budget) for trial in trials]
    report = [row for row, _ in judged]
    consistent = all(ok for _, ok in judged)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores; {args.trials} trials of "
        f"{args.rows} rows, budget {args.budget} ({args.budget // CREDITS_PER_JOB} jobs), "
        f"{args.kills} kill -9 of the driver each (seed {args.seed}); "
        f"{time.monotonic() - started_s:.0f} s in all"
    )
    for row in report:
        print(json.dumps(row))
    kills = sum(len(t.kills) for t in trials)
    print(
        f"in all: {kills} kills, {posts} POSTs, {len(jobs)} jobs created, {charged} credits "
        f"charged, budget {args.budget} per trial ({args.budget * args.trials} in all)"
    )
    print("consistent:", consistent)
    return 0 if consistent else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--budget", type=int, default=200, help="credits per trial (40 a job)")
    parser.add_argument("--kills", type=int, default=2, help="driver kills per trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.5, help="sandbox seconds per job")
    parser.add_argument("--max-s", type=float, default=8.0, help="latest random kill, s")
    parser.add_argument("--media", type=Path, default=SAMPLES)
    parser.add_argument("--image", default="character.jpg", help="a file of --media")
    parser.add_argument("--video", default="reference.mp4", help="a file of --media")
    args = parser.parse_args()
    if args.budget >= CREDITS_PER_JOB * args.rows:
        parser.error("--budget must be below what the rows cost (40 each), so that it binds")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
