"""The whole hostile-media suite (tests/hostile_media.py): every case run through the real CLI
in a process of its own, with its wall time, its peak RSS (from wait4), its exit code, and what
the user read. A case holds when the command ends with exit 0-3 within the deadline, names the
file, shows no traceback and no errno number, opens no file the input points at (inotify on
them), dials none of the loopback ports it names (each listens, counts and never answers), and
leaves nothing in the TMPDIR it was given.

Run: `PYTHONPATH=. .venv/bin/python benchmarks/bench_hostile.py [--deadline-s 120] [--only WORD]
[--command check|prepare] [--json out/hostile.json]`
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GLOG_minloglevel", "2")

from hostile_media import CASES, HostileCase, HostileInput, OpenWatch  # noqa: E402


@dataclass
class CaseOutcome:
    name: str
    option: str
    exit_code: int | None  # None: killed at the deadline
    seconds: float
    peak_rss_mb: float
    has_traceback: bool
    names_the_file: bool
    opened_outside: list[str]
    connections: int  # attempts to reach the loopback ports the input names
    left_behind: list[str]  # temporary files the run did not remove
    message: str  # the first line the user read on stderr
    holds: bool


def _run(case: HostileCase, item: HostileInput, command: str, deadline_s: float) -> CaseOutcome:
    args = [sys.executable, "-m", "kling_prep", command, item.option, item.argument]
    if command == "check":
        args.append("--json")
    else:
        args += ["--out-dir", str(Path(tempfile.mkdtemp(prefix="kp-hostile-out-")))]
    # A temporary folder of its own, to see what the run leaves behind.
    tmp_dir = Path(tempfile.mkdtemp(prefix="kp-hostile-tmp-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GLOG_minloglevel": "2", "TMPDIR": str(tmp_dir)}
    watch = OpenWatch(item.guards) if item.guards else None
    start = time.monotonic()
    proc = subprocess.Popen(
        args, cwd=item.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(deadline_s, kill)
    timer.start()
    out_chunks: dict[str, bytes] = {}

    def drain(name: str, stream: object) -> None:
        out_chunks[name] = stream.read()  # type: ignore[attr-defined]

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    timer.cancel()
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    opened = watch.opened() if watch else []
    connections = sum(listener.connections() for listener in item.listeners)
    for listener in item.listeners:
        listener.close()
    left_behind = sorted(p.name for p in tmp_dir.iterdir())
    shutil.rmtree(tmp_dir, ignore_errors=True)
    if watch:
        watch.close()
    err = out_chunks.get("err", b"").decode(errors="replace")
    out = out_chunks.get("out", b"").decode(errors="replace")
    code = None if killed.is_set() else proc.returncode
    # `prepare` names its outputs after the input's stem (me.heic -> me.jpg).
    name = Path(item.argument).stem
    has_traceback = "Traceback" in err or "Traceback" in out or "Errno" in err
    names_the_file = name in err or name in out
    first = next((line for line in err.splitlines() if line.startswith("kling-prep:")), "")
    if not first:
        first = next((line for line in err.splitlines() if line.strip()), "")
    holds = (
        code is not None
        and 0 <= code <= 3
        and not has_traceback
        and names_the_file
        and not opened
        and connections == 0
        and not left_behind
    )
    return CaseOutcome(
        case.name, case.option, code, round(seconds, 2), round(usage.ru_maxrss / 1024, 1),
        has_traceback, names_the_file, opened, connections, left_behind, first[:300], holds,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline-s", type=float, default=120.0)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--command", choices=["check", "prepare"], default="check")
    parser.add_argument("--json", type=Path, default=None, help="write every outcome here")
    opts = parser.parse_args()
    outcomes: list[CaseOutcome] = []
    skipped: list[str] = []
    for case in CASES:
        if opts.only and opts.only.lower() not in case.name.lower():
            continue
        with tempfile.TemporaryDirectory(prefix="kp-hostile-") as tmp:
            try:
                item = case.make(Path(tmp))
            except BaseException as exc:  # pytest.skip() raises outside pytest too
                if type(exc).__name__ == "Skipped":
                    skipped.append(f"{case.name}: {exc}")
                    continue
                raise
            outcome = _run(case, item, opts.command, opts.deadline_s)
        outcomes.append(outcome)
        mark = "ok  " if outcome.holds else "FAIL"
        print(
            f"{mark} {outcome.seconds:6.2f} s {outcome.peak_rss_mb:7.1f} MB  exit "
            f"{outcome.exit_code}  {case.name}: {outcome.message}",
            flush=True,
        )
    held = sum(o.holds for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds)
    largest = max(outcomes, key=lambda o: o.peak_rss_mb)
    print(f"\n{opts.command}: {held}/{len(outcomes)} cases held; skipped {len(skipped)}")
    for line in skipped:
        print(f"  skipped {line}")
    print(f"slowest: {slowest.name} {slowest.seconds} s; peak RSS: {largest.name} "
          f"{largest.peak_rss_mb} MB")  # fmt: skip
    if opts.json is not None:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    sys.exit(0 if held == len(outcomes) else 1)


if __name__ == "__main__":
    main()
