"""The whole of docs/RELIABILITY.md section 7, in small: a two-node Ray cluster on loopback,
`batch --executor ray --submit --budget` with its driver killed with kill -9 three times (during
a POST, just after a 202, at a random moment), then run to its end and once more. The script
checks from the sandbox that nothing was charged twice and the budget was never passed, and
ends the cluster. Minutes long: `pytest -m reliability` or `make reliability`, not `make test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_killed_driver_on_a_two_node_cluster_never_pays_twice_nor_past_the_budget():
    pytest.importorskip("ray")
    command = [
        sys.executable, str(ROOT / "benchmarks" / "bench_ray_cluster.py"),
        "--trials", "1", "--rows", "4", "--budget", "120", "--kills", "3",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "consistent: True" in done.stdout
    assert '"charged twice": 0' in done.stdout
    assert '"nodes that checked rows": 2' in done.stdout
