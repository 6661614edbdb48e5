"""On Ray the driver owns the submissions: the tasks check (and prepare) without the journal, the
API key or the budget, and the driver makes every POST through the one journal and budget of the
batch. Ray on this machine (`ray.init`, loopback); the two-node cluster with kill -9 is
benchmarks/bench_ray_cluster.py (`make reliability`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kling_prep.batch import BatchOptions, read_results, run_batch
from kling_prep.batch.ray_tasks import land_files, task_config
from kling_prep.batch.row import RowContext, RowOutcome, WorkerConfig
from kling_prep.client import JobJournal
from kling_prep.errors import KlingPrepError
from kling_prep.sandbox.server import SandboxServer
from kling_prep.settings import Settings
from tests.client_fixtures import API_KEY, StaticFileServer

PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"


def _submitting_config(tmp_path: Path) -> WorkerConfig:
    settings = Settings(
        api_key=API_KEY, base_url="http://127.0.0.1:9", fetch_allow=("127.0.0.0/8",)
    )
    options = BatchOptions(
        submit=True, budget_credits=80, journal_path=tmp_path / "journal.sqlite", s3_bucket="b"
    )
    return WorkerConfig(settings, options, tmp_path / "prepared", datetime.now(UTC))


def test_ray_tasks_get_no_journal_no_key_no_budget_and_cannot_submit(tmp_path):
    config = task_config(_submitting_config(tmp_path))
    assert config.options.journal_path is None
    assert config.settings.api_key is None
    assert (config.options.budget_credits, config.options.s3_bucket) == (None, None)
    # What the check needs stays: it must still judge the rows as submissions.
    assert config.options.submit is True
    assert config.settings.fetch_allow == ("127.0.0.0/8",)
    context = RowContext(config)
    with pytest.raises(KlingPrepError, match="no API key"):
        context.runner  # noqa: B018 (the property opens the journal)
    assert not (tmp_path / "journal.sqlite").exists()


def test_prepared_files_sent_back_are_written_at_their_paths_and_only_there(tmp_path):
    prepared = tmp_path / "prepared"
    there = prepared / "k" / "video.mp4"
    same = prepared / "k" / "report.json"
    same.parent.mkdir(parents=True)
    same.write_bytes(b"{}")
    outcome = RowOutcome({}, files={str(there): b"video bytes", str(same): b"{}"})
    land_files(outcome, prepared)
    assert there.read_bytes() == b"video bytes"
    assert same.read_bytes() == b"{}"
    assert outcome.files == {}
    stray = RowOutcome({}, files={str(prepared / ".." / "elsewhere.mp4"): b"x"})
    with pytest.raises(KlingPrepError, match="outside"):
        land_files(stray, prepared)
    assert not (tmp_path / "elsewhere.mp4").exists()


@pytest.fixture(scope="module")
def ray_here() -> Iterator[None]:
    """Ray on this machine, 2 CPUs, loopback, no dashboard."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
        _node_ip_address="127.0.0.1",
    )  # fmt: skip
    yield
    ray.shutdown()


@pytest.mark.slow
def test_on_ray_the_driver_makes_every_post_and_the_budget_holds(samples, tmp_path, ray_here):
    journal = tmp_path / "journal.sqlite"
    out = tmp_path / "out"
    with SandboxServer(delay_s=0.2) as sandbox, StaticFileServer(samples) as files:
        good = {"image": files.url("character.jpg"), "video": files.url("reference.mp4")}
        rows = [{**good, "prompt": f"{PROMPT}, take {i}"} for i in range(3)]
        rows.append({**good, "image": files.url("bad/two-people.jpg"), "prompt": PROMPT})
        manifest = tmp_path / "manifest.jsonl"
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        settings = Settings(api_key=API_KEY, base_url=sandbox.url, fetch_allow=("127.0.0.0/8",))
        options = BatchOptions(submit=True, budget_credits=80, journal_path=journal)
        result = run_batch(manifest, out, settings=settings, options=options, executor="ray")
        posts, charged = sandbox.stats.posts, sandbox.stats.credits_charged
    lines = read_results(out / "results.jsonl")
    statuses = sorted(line["submission"]["status"] for line in lines)
    # Three rows pass, the budget pays for two: the third is refused before any POST.
    assert statuses == ["not_submitted", "refused", "submitted", "submitted"]
    assert (posts, charged) == (2, 80)
    assert result.summary["credits"]["spent"] == 80
    # Every row was checked in a Ray worker; every submission was made by this process.
    assert all(line["worker"]["pid"] != os.getpid() for line in lines)
    records = JobJournal(journal).records()
    assert len(records) == 2
    assert {record.owner_pid for record in records} == {os.getpid()}
    submitted = [line for line in lines if line["submission"]["status"] == "submitted"]
    assert all(line["final"] and line["timings_s"]["submit_s"] > 0 for line in submitted)
