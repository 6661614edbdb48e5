"""`kling-prep gate` and `kling-prep batch` as a pipeline and a user run them: one line and the
verdict as exit code; --prepare writes the prepared files of the rows that pass; Ctrl-C keeps
every finished row and a re-run completes the rest; a submission whose line was lost in a
crash is found in the journal, not sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.batch import read_results
from kling_prep.batch.manifest import ManifestRow
from kling_prep.batch.row import BatchOptions, RowContext, RowTask, WorkerConfig, process_row
from kling_prep.cli import main
from kling_prep.sandbox.server import SandboxServer
from kling_prep.settings import Settings
from tests.client_fixtures import API_KEY, StaticFileServer

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"

pytestmark = pytest.mark.slow


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_gate_prints_one_line_and_exits_with_the_verdict(samples):
    code, out = _invoke(
        "gate", "--image", str(samples / "bad" / "two-people.jpg"),
        "--video", str(samples / "reference.mp4"), "--prompt", PROMPT,
    )  # fmt: skip
    assert code == 2
    # The main astronaut's right arm is hidden behind the helmet in the image and swung by the
    # video's rocking: the pair's check warns that the model invents it.
    assert out.strip().splitlines() == [
        "blocked  block: image.multiple_people  warn: pair.framing_mismatch  orientation: video"
    ]
    code, out = _invoke("gate", "--image", str(samples / "character.jpg"), "--json")
    report = json.loads(out)  # one line of JSON, the check's schema
    assert len(out.strip().splitlines()) == 1
    assert report["exit_code"] == code
    code, out = _invoke("gate", "--image", str(samples / "absent.jpg"))
    assert code == 3


def test_batch_prepare_writes_the_files_of_rows_that_pass(samples, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image,video,prompt\n"
        f'{samples / "character.jpg"},{samples / "reference.mp4"},"{PROMPT}"\n'
        f'{samples / "bad" / "two-people.jpg"},{samples / "reference.mp4"},"{PROMPT}"\n',
        encoding="utf-8",
    )
    code, out = _invoke(
        "batch", str(manifest), "--out-dir", str(tmp_path / "out"), "--prepare", "--workers", "2"
    )
    assert code == 0, out
    assert "credits     0 spent, 0 possibly spent, 40 saved" in out
    rows = {line["row"]: line for line in read_results(tmp_path / "out" / "results.jsonl")}
    prepared = rows[1]["prepare"]
    assert rows[1]["verdict"] in ("ready", "fixed")
    assert Path(prepared["video_path"]).is_file()
    assert Path(prepared["image_path"]).is_file()
    assert rows[1]["timings_s"]["prepare_s"] > 0
    # A person too many is nothing prepare can fix: not prepared.
    assert rows[2]["prepare"] is None
    assert rows[2]["verdict"] == "blocked"


def test_ctrl_c_keeps_the_finished_rows_and_a_rerun_completes_the_rest(samples, tmp_path):
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"image": str(samples / "character.jpg"), "video": str(samples / "reference.mp4"),
         "prompt": f"{PROMPT}, take {i}"}
        for i in range(3)
    ]  # fmt: skip
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "kling_prep", "batch", str(manifest), "--out-dir", str(out),
               "--workers", "1"]  # fmt: skip
    env = {**os.environ, "GLOG_minloglevel": "2"}
    child = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 90
    while not read_results(out / "results.jsonl"):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGINT)  # as the terminal sends it: to the whole group
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    first = read_results(out / "results.jsonl")
    assert 1 <= len(first) <= 3
    assert all(line["status"] == "done" for line in first)
    assert json.loads((out / "summary.json").read_text())["rows"]["done"] == len(first)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    finals = Counter(line["key"] for line in read_results(out / "results.jsonl") if line["final"])
    assert len(finals) == 3
    assert set(finals.values()) == {1}


def test_a_submission_whose_line_was_lost_is_found_in_the_journal_not_resent(samples, tmp_path):
    with SandboxServer(delay_s=0.2) as sandbox, StaticFileServer(samples) as files:
        # The files are served on 127.0.0.1: trusted, as tests/conftest.py trusts it for the CLI.
        settings = Settings(api_key=API_KEY, base_url=sandbox.url, fetch_allow=("127.0.0.0/8",))
        options = BatchOptions(submit=True, journal_path=tmp_path / "journal.sqlite")
        batch_started = datetime.now(UTC)
        config = WorkerConfig(settings, options, tmp_path / "prepared", batch_started)
        row = ManifestRow(1, 2, files.url("character.jpg"), files.url("reference.mp4"), PROMPT)
        context = RowContext(config)
        try:
            first = process_row(RowTask("k", row), context)
            # The process died before writing `first`; the re-run does the row again.
            again = process_row(RowTask("k", row), context)
        finally:
            context.close()
        assert first.line["submission"]["status"] == "submitted"
        # Sent by this batch (after it started): reported as submitted, from the journal.
        assert again.line["submission"]["status"] == "submitted"
        assert again.line["submission"]["recovered"] is True
        assert again.line["submission"]["job_id"] == first.line["submission"]["job_id"]
        assert sandbox.stats.posts == sandbox.stats.jobs_created == 1
