"""A missing prompt warns where nothing is sent (`check`, `prepare`) and blocks where a
submission is made (`submit`, `gate`, `batch --submit`), since the API refuses a job without
one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from kling_prep.batch.manifest import ManifestRow
from kling_prep.batch.row import BatchOptions, RowContext, RowTask, WorkerConfig, process_row
from kling_prep.checks.prompt import check_prompt
from kling_prep.cli import main
from kling_prep.limits import PROFILES
from kling_prep.settings import Settings


def _severity_of_missing(findings: list[dict[str, str]]) -> str | None:
    return next((f["severity"] for f in findings if f["code"] == "prompt.missing"), None)


def test_a_missing_prompt_warns_in_a_check_and_blocks_a_submission():
    profile = PROFILES["vydra"]
    for empty in (None, "", "   "):
        (checked,) = check_prompt(empty, profile, "A person dances")
        (submitted,) = check_prompt(empty, profile, "A person dances", is_submission=True)
        assert (checked.code, checked.severity) == ("prompt.missing", "warn")
        assert (submitted.code, submitted.severity) == ("prompt.missing", "block")
        assert "A person dances" in checked.message  # the suggestion, ready to paste


def test_the_first_check_a_user_runs_without_a_prompt_is_not_blocked(samples):
    args = ["--image", str(samples / "character.jpg"), "--video", str(samples / "reference.mp4")]
    checked = CliRunner().invoke(main, ["check", *args, "--json"], catch_exceptions=False)
    report = json.loads(checked.output)
    assert _severity_of_missing(report["findings"]) == "warn"
    assert checked.exit_code != 2, checked.output
    # The gate stands before a submission: there the same pair is blocked.
    gated = CliRunner().invoke(main, ["gate", *args], catch_exceptions=False)
    assert gated.exit_code == 2, gated.output
    assert "block: prompt.missing" in gated.output


def test_a_batch_that_submits_blocks_a_row_without_a_prompt(samples, tmp_path: Path):
    # The API is never reached: the row is blocked by the check, before any client is built.
    settings = Settings(api_key="unused", base_url="http://127.0.0.1:9")
    options = BatchOptions(submit=True, journal_path=tmp_path / "journal.sqlite")
    config = WorkerConfig(settings, options, tmp_path / "prepared", datetime.now(UTC))
    row = ManifestRow(1, 2, str(samples / "character.jpg"), str(samples / "reference.mp4"), "")
    context = RowContext(config)
    try:
        outcome = process_row(RowTask("k", row), context)
    finally:
        context.close()
    assert outcome.line["verdict"] == "blocked"
    assert _severity_of_missing(outcome.line["check"]["findings"]) == "block"
    assert outcome.line["submission"]["status"] == "not_submitted"
