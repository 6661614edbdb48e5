"""Load (issue 15, item 6), its fast subset: 20 concurrent submissions through the client's batch
path against the sandbox in a child process on loopback; `make reliability` runs the 200 of
benchmarks/bench_load.py."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_twenty_concurrent_submissions_lose_and_duplicate_nothing(monkeypatch: pytest.MonkeyPatch):
    # On sys.path by name: the sandbox's child process (spawned) imports the module again.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench_load = importlib.import_module("bench_load")
    report = bench_load.run_load(20, delay_s=0.5, poll_s=0.2, max_s=150.0)
    assert report.timed_out == 0
    assert report.posts == 20, report
    assert report.jobs_created == 20, report
    assert report.duplicates == 0
    assert report.lost == 0
    assert report.unnamed == 0
    assert report.states == {"completed": 20}, report
    assert report.errors == {}
    assert report.polls >= 20
    assert 0 < report.poll_p50_ms <= report.poll_p95_ms <= report.poll_max_ms
    assert report.held
