"""A manifest of cases with known answers through local worker processes and through Ray on this
machine (identical results), then a batch killed in the middle of a POST and run again against
the sandbox: every row done exactly once, nothing submitted twice."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_prep.batch import read_results, run_batch
from kling_prep.batch.results import latest_by_key
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.sandbox.server import SandboxServer
from kling_prep.settings import Settings
from tests.client_fixtures import API_KEY, StaticFileServer

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"

# Ray 2.60 starts and stops here without a warning, so no filter is needed on top of the
# suite's filterwarnings=error (checked by running this module without any).
pytestmark = pytest.mark.slow

# The known answer of each row: (verdict or status, the blocking codes).
EXPECTED = {
    1: ("ready", set()),
    2: ("blocked", {"image.multiple_people"}),
    3: ("blocked", {"image.underexposed"}),
    4: ("blocked", {"video.scene_cut"}),
    5: ("blocked", {"video.too_short", "video.no_person"}),
    6: ("warnings", set()),
    7: ("error", set()),  # a missing file: retried on the next run
    8: ("error", set()),  # orientation "sideways": a row error
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    """A folder with the samples, two generated clips and a manifest with relative paths."""
    from kling_prep.media.synthetic import studio, write_mp4

    root = tmp_path_factory.mktemp("batch-cases")
    shutil.copytree(samples, root / "samples", ignore=shutil.ignore_patterns("*.py"))
    gen = root / "generated"
    # An empty studio for 2 s: too short, and nobody in it.
    write_mp4(gen / "empty-2s.mp4", [studio(360, 640, (200, 196, 188))] * 48)
    # The reference without its audio track: keep_sound asks for sound that is not there.
    subprocess.run(
        [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y", "-i",
         str(samples / "reference.mp4"), "-an", "-c", "copy", str(gen / "no-audio.mp4")],
        check=True,
    )  # fmt: skip
    rows = [
        ("samples/character.jpg", "samples/reference.mp4", PROMPT, ""),
        ("samples/bad/two-people.jpg", "samples/reference.mp4", PROMPT, "video"),
        ("samples/bad/dark.jpg", "samples/reference.mp4", PROMPT, ""),
        ("samples/character.jpg", "samples/bad/cut.mp4", PROMPT, ""),
        ("samples/character.jpg", "generated/empty-2s.mp4", PROMPT, ""),
        ("samples/character.jpg", "generated/no-audio.mp4", PROMPT, ""),
        ("samples/character.jpg", "generated/absent.mp4", PROMPT, ""),
        ("samples/character.jpg", "samples/reference.mp4", PROMPT, "sideways"),
        ("samples/character.jpg", "samples/reference.mp4", PROMPT, ""),  # the same as row 1
    ]
    lines = ["image,video,prompt,orientation"]
    lines += [",".join(f'"{cell}"' for cell in row) for row in rows]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """Ray on this machine, 2 CPUs, no dashboard: started once for the module."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
        _node_ip_address="127.0.0.1",  # loopback only: this test needs no network
    )  # fmt: skip
    yield
    ray.shutdown()


def _by_row(out_dir: Path) -> dict[int, dict[str, object]]:
    latest = latest_by_key(read_results(out_dir / "results.jsonl"))
    return {int(line["row"]): line for line in latest.values()}


def _answer(line: dict[str, object]) -> tuple[str, set[str]]:
    if line["status"] == "error":
        return "error", set()
    check = line["check"]
    assert isinstance(check, dict)
    return str(line["verdict"]), {f["code"] for f in check["findings"] if f["severity"] == "block"}


@pytest.fixture(scope="module")
def local_run(cases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local-out")
    run_batch(cases / "manifest.csv", out, settings=Settings(), executor="local", workers=2)
    return out


def test_local_workers_give_the_known_answers(local_run):
    rows = _by_row(local_run)
    assert {row: _answer(line) for row, line in rows.items()} == EXPECTED
    assert "orientation is 'sideways'" in rows[8]["error"]["message"]  # type: ignore[index]
    assert rows[7]["final"] is False
    summary = json.loads((local_run / "summary.json").read_text())
    assert summary["rows"] == {
        "total": 9, "done": 6, "failed": 2, "to_retry": 1, "not_run": 0, "duplicates": 1,
    }  # fmt: skip
    assert summary["duplicates"] == [{"row": 9, "same_as": 1}]
    assert summary["credits"]["saved"] == 4 * 40
    assert summary["findings"]["video.scene_cut"] == {"block": 1}
    assert summary["cost_per_row_s"]["decode_s"] > 0
    # Each blocked row has its pictures, inlined in the one-file HTML summary.
    html = (local_run / "summary.html").read_text()
    assert html.count('class="row"') == 4
    assert html.count("data:image/jpeg;base64,") == 8
    assert 'src="sheets/' not in html


def test_a_second_run_skips_every_row_already_done(cases, local_run):
    before = len(read_results(local_run / "results.jsonl"))
    result = run_batch(cases / "manifest.csv", local_run, executor="local", workers=2)
    after = read_results(local_run / "results.jsonl")
    # Only the row whose input is missing is tried again (and written again).
    assert len(after) == before + 1
    assert after[-1]["row"] == 7
    assert result.rows_run == 0
    assert result.rows_skipped == 6


def test_ray_gives_the_same_results_as_local_workers(cases, local_run, ray_local, tmp_path):
    run_batch(cases / "manifest.csv", tmp_path, executor="ray")
    local, ray_rows = _by_row(local_run), _by_row(tmp_path)
    assert set(local) == set(ray_rows)
    for row, line in local.items():
        other = ray_rows[row]
        assert other["key"] == line["key"]
        assert (other["status"], other["verdict"], other["final"]) == (
            line["status"], line["verdict"], line["final"],
        )  # fmt: skip
        assert other["check"] == line["check"], f"row {row}"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["throughput"]["executor"] == "ray"
    assert summary["verdicts"] == json.loads((local_run / "summary.json").read_text())["verdicts"]


def _journal_rows(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
        try:
            return conn.execute("SELECT inputs_hash, state FROM submissions").fetchall()
        except sqlite3.OperationalError:  # the batch is creating the journal this moment
            return []


def _batch_command(manifest: Path, out: Path, sandbox_url: str, journal: Path) -> list[str]:
    return [
        sys.executable, "-m", "kling_prep", "batch", str(manifest), "--out-dir", str(out),
        "--submit", "--budget", "4000", "--workers", "1", "--base-url", sandbox_url,
        "--journal", str(journal),
    ]  # fmt: skip


def test_a_batch_killed_during_a_post_never_submits_twice(samples, tmp_path):
    journal = tmp_path / "journal.sqlite"
    out = tmp_path / "out"
    env = {**os.environ, "VYDRA_API_KEY": API_KEY, "GLOG_minloglevel": "2"}
    with (
        SandboxServer(delay_s=0.2) as sandbox,
        StaticFileServer(samples) as files,
    ):
        # The first POST waits 3 s before the sandbox takes it: time to kill the batch mid-POST.
        sandbox.set_faults("latency@post:s=3,times=1")
        good = [files.url("character.jpg"), files.url("reference.mp4")]
        prompts = [f"{PROMPT}, take {i}" for i in range(3)]
        manifest = tmp_path / "manifest.jsonl"
        rows = [{"image": good[0], "video": good[1], "prompt": p} for p in prompts]
        rows.insert(
            1, {"image": files.url("bad/two-people.jpg"), "video": good[1], "prompt": PROMPT}
        )
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        command = _batch_command(manifest, out, sandbox.url, journal)
        # 1. Kill the whole batch (parent and worker) while its first POST is in flight.
        child = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 90
        while not any(state == "intent" for _, state in _journal_rows(journal)):
            assert child.poll() is None, "the batch ended before it was killed"
            assert time.monotonic() < deadline, "no POST started"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        written = read_results(out / "results.jsonl")
        assert not [x for x in written if (x["submission"] or {}).get("status") == "submitted"]
        # 2. Run it again to the end, then once more.
        for _ in range(2):
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
        lines = read_results(out / "results.jsonl")
        # Every row has exactly one final line; the third run did nothing.
        finals = Counter(line["key"] for line in lines if line["final"])
        assert len(finals) == 4
        assert set(finals.values()) == {1}
        statuses = sorted(line["submission"]["status"] for line in lines)
        # The POST cut by the kill is "unknown" (maybe charged, never re-sent); the others went.
        assert statuses == ["not_submitted", "submitted", "submitted", "unknown"]
        # At most one POST per journal entry, one entry per distinct job: nothing sent twice.
        # (The killed POST may or may not have reached the sandbox before the kill.)
        journal_rows = _journal_rows(journal)
        assert len(journal_rows) == 3
        assert len({inputs_hash for inputs_hash, _ in journal_rows}) == 3
        assert 2 <= sandbox.stats.posts <= 3
        assert sandbox.stats.jobs_created <= sandbox.stats.posts
        summary = json.loads((out / "summary.json").read_text())
        assert summary["credits"]["spent"] == 80
        assert summary["credits"]["possibly_spent"] == 40
        assert summary["credits"]["saved"] == 40
