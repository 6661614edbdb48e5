"""cli.py as a thin shell: one KlingPrepError handler (exit 3, the message on stderr), shared
option declarations that say the same everywhere, and every rendering of check, prepare and
batch done by kling_prep/report/, not by the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from kling_prep.cli import main
from kling_prep.errors import ConfigError, JobNotFoundError
from kling_prep.media.transcode import Step
from kling_prep.plan.window import Window
from kling_prep.preparation import PrepareResult, Refusal
from kling_prep.report.json_report import batch_summary_json, prepare_dict, prepare_json
from kling_prep.report.terminal import MAX_FAILURES_SHOWN, render_batch_summary, render_prepare


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("patched", "args"),
    [
        ("kling_prep.modelstore.load_manifest", ["models", "list"]),
        ("kling_prep.settings.load_settings", ["check", "--image", "me.jpg"]),
        ("kling_prep.settings.load_settings", ["status"]),
    ],
)
def test_a_kling_prep_error_from_any_command_exits_3_with_its_message(
    monkeypatch: pytest.MonkeyPatch, patched: str, args: list[str]
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ConfigError("kling-prep.toml: [Errno 2] something is wrong here")

    monkeypatch.setattr(patched, broken)
    code, out, err = _invoke(*args)
    assert code == 3
    assert out == ""
    # One line, prefixed, and without the errno number a lower layer let through.
    assert err == "kling-prep: kling-prep.toml: something is wrong here\n"


def test_an_api_error_while_waiting_exits_3_through_the_same_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    def unknown(*_args: object, **_kwargs: object) -> None:
        raise JobNotFoundError("job abc: not found (404)")

    monkeypatch.setenv("VYDRA_API_KEY", "test-key")
    monkeypatch.setenv("KLING_PREP_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.setattr("kling_prep.client.SubmissionRunner.wait", unknown)
    code, out, err = _invoke("wait", "abc", "--base-url", "http://127.0.0.1:9")
    assert (code, out, err) == (3, "", "kling-prep: job abc: not found (404)\n")


# -- The renderings live in report/; the commands print what they return ----------------------


def _summary(failures: int, *, rows_per_min: float | None) -> dict[str, Any]:
    """summary.json data shaped as batch/summary.py writes it."""
    return {
        "rows": {"total": failures + 1, "done": 1, "failed": failures, "to_retry": 0,
                 "not_run": 0, "duplicates": 0},
        "failures": [{"row": i + 1, "line": i + 2, "reason": f"absent{i}.jpg: no such file",
                      "retried": i == 0} for i in range(failures)],
        "verdicts": {"ready": 1, "error": failures},
        "findings": {"image.multiple_people": {"block": 0, "warn": 1},
                     "video.scene_cut": {"block": 2}},
        "submissions": {},
        "credits": {"spent": 0, "possibly_spent": 0, "saved": 80, "per_job": 40},
        "throughput": {"rows_per_min": rows_per_min, "rows_run": 3, "wall_s": 9.5,
                       "workers": None},
    }  # fmt: skip


def test_the_batch_table_names_twenty_failed_rows_then_points_to_the_page() -> None:
    lines = render_batch_summary(
        _summary(23, rows_per_min=None), rows_skipped=2, executor="local",
        results_path=Path("out/results.jsonl"), summary_path=Path("out/summary.json"),
        html_path=Path("out/summary.html"),
    )  # fmt: skip
    assert lines[0] == (
        "rows        24: 1 done, 23 failed, 0 to retry, 0 not run, 0 duplicates "
        "(2 already done before this run)"
    )
    failed = [line for line in lines if line.startswith("failed")]
    assert len(failed) == MAX_FAILURES_SHOWN + 1
    assert (
        failed[0]
        == "failed      row 1 (line 2): absent0.jpg: no such file [retried on the next run]"
    )
    assert (
        failed[1]
        == "failed      row 2 (line 3): absent1.jpg: no such file [fix it, then run again]"
    )
    assert failed[-1] == "failed      ... and 3 more: out/summary.html"
    assert lines[len(failed) + 1 :] == [
        "verdicts    ready 1, error 23",
        "blocks      video.scene_cut 2",  # only the codes that blocked a row
        "credits     0 spent, 0 possibly spent, 80 saved (40 per blocked row)",
        "results     out/results.jsonl",
        "summary     out/summary.json  out/summary.html",
    ]  # no "submitted" line without submissions, no throughput without a measured one
    lines = render_batch_summary(
        _summary(0, rows_per_min=19.0), rows_skipped=0, executor="ray",
        results_path=Path("r"), summary_path=Path("s"), html_path=Path("h"),
    )  # fmt: skip
    assert "throughput  19.0 rows/min (3 rows in 9.5 s, ray, auto workers)" in lines


def test_batch_prints_the_reports_table_or_its_json_and_exits_with_the_result(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kling_prep.batch import BatchResult

    manifest = tmp_path / "m.csv"
    manifest.write_text("image,video,prompt\n")
    result = BatchResult(
        tmp_path, tmp_path / "results.jsonl", tmp_path / "summary.json", tmp_path / "s.html",
        _summary(2, rows_per_min=3.0), rows_run=3, rows_skipped=0,
    )  # fmt: skip
    monkeypatch.setattr("kling_prep.batch.run_batch", lambda *_a, **_k: result)
    code, out, err = _invoke("batch", str(manifest), "--out-dir", str(tmp_path), "--workers", "1")
    expected = render_batch_summary(
        result.summary, rows_skipped=0, executor="local", results_path=result.results_path,
        summary_path=result.summary_path, html_path=result.html_path,
    )  # fmt: skip
    assert (code, out, err) == (1, "\n".join(expected) + "\n", "")
    code, out, _ = _invoke("batch", str(manifest), "--out-dir", str(tmp_path), "--json")
    assert (code, out) == (1, batch_summary_json(result.summary) + "\n")
    assert json.loads(out) == result.summary


def _prepared(**fields: Any) -> PrepareResult:
    return PrepareResult(Path("ready"), input_check=None, check=None, **fields)


def test_prepare_lines_say_what_was_removed_kept_trimmed_and_done_to_each_file() -> None:
    result = _prepared(
        video_path=Path("ready/dance.mp4"), image_path=Path("ready/me.jpg"),
        report_path=Path("ready/report.json"), path_taken="re_encode",
        window=Window(2.0, 8.5, 0.3, "the most motion"), window_source="chosen",
        video_steps=[Step("trim", "kept 2.00-8.50 s"), Step("re_encode", "to H.264")],
        image_steps=[Step("copy", "already complies")],
        removed_paths=[Path("ready/old.mp4"), Path("ready/report.json")],
        kept_paths=[Path("ready/notes.txt")],
    )  # fmt: skip
    assert render_prepare(result) == [
        "removed old.mp4, report.json (written by an earlier prepare)",
        "kept    notes.txt (not written by kling-prep: not in report.json)",
        "window  2.00-8.50 s (6.5 s, chosen): the most motion",
        "video   ready/dance.mp4 [re_encode]",
        "  - trim: kept 2.00-8.50 s",
        "  - re_encode: to H.264",
        "image   ready/me.jpg",
        "  - copy: already complies",
        "report  ready/report.json  (verdict: refused)",  # no check of the files: refused
    ]


def test_prepare_prints_a_refusal_on_stderr_and_its_json_on_stdout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    refused = _prepared(refusal=Refusal("dance.mp4", "dance.mp4: 2.1 s long", 2.1, "3-30 s"))
    monkeypatch.setattr("kling_prep.preparation.prepare", lambda *_a, **_k: refused)
    args = ("prepare", "--video", "dance.mp4", "--out-dir", str(tmp_path))
    code, out, err = _invoke(*args)
    assert (code, out) == (2, "")
    assert err == "refused: dance.mp4: 2.1 s long\n  rule: 3-30 s; nothing was written\n"
    code, out, err = _invoke(*args, "--json")
    assert (code, out, err) == (2, prepare_json(refused) + "\n", "")
    assert json.loads(out) == {"prepare": prepare_dict(refused)}
    assert json.loads(out)["prepare"]["refusal"]["rule"] == "3-30 s"


# -- Options declared once say the same on every command -----------------------------------


def _commands() -> dict[str, click.Command]:
    commands = dict(main.commands)
    models = commands.pop("models")
    assert isinstance(models, click.Group)
    commands.update({f"models {n}": c for n, c in models.commands.items()})
    return commands


def test_a_shared_option_has_one_type_and_default_on_every_command() -> None:
    seen: dict[str, set[str]] = {}
    for name, command in _commands().items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.name is None:
                continue
            info = param.to_info_dict()
            # A command words the help its own way and requires what it cannot run without.
            info.pop("help")
            info.pop("required")
            shape = json.dumps(info, sort_keys=True, default=str)
            seen.setdefault(param.name, set()).add(shape)
            if param.name in ("image", "video") and name != "sandbox":
                assert param.metavar == "PATH_OR_URL", name
    shared = ["image", "video", "orientation", "no_sound", "as_json", "config", "journal_path",
              "output", "manifest", "s3_bucket", "s3_endpoint", "allow_no_face", "profile"]  # fmt: skip
    for name in shared:
        assert len(seen[name]) == 1, f"--{name} differs between commands: {seen[name]}"
