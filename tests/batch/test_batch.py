"""The batch's manifest, result keys and results file, without running any check: a bad row is
a row error with its number, a key follows the inputs' content, a torn last line is cut."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.batch.manifest import read_manifest
from kling_prep.batch.results import ResultStore, latest_by_key, read_results
from kling_prep.batch.row import BatchOptions, row_key
from kling_prep.cli import main
from kling_prep.errors import InputError, KlingPrepError
from kling_prep.settings import Settings


def _files(root: Path) -> None:
    (root / "media").mkdir()
    (root / "media" / "me.jpg").write_bytes(b"image one")
    (root / "media" / "dance.mp4").write_bytes(b"video one")


def test_csv_rows_resolve_paths_against_the_manifest_and_keep_urls(tmp_path):
    _files(tmp_path)
    (tmp_path / "m.csv").write_text(
        "Image, Video ,prompt,orientation,keep_sound,profile\n"
        "media/me.jpg,media/dance.mp4,A person dances,Image,false,kling\n"
        "https://cdn.example/me.jpg,media/dance.mp4,,,,\n",
        encoding="utf-8",
    )
    manifest = read_manifest(tmp_path / "m.csv")
    assert manifest.errors == []
    first, second = manifest.rows
    assert first.image == str(tmp_path / "media" / "me.jpg")
    assert (first.orientation, first.keep_sound, first.profile) == ("image", False, "kling")
    assert (first.row, first.line) == (1, 2)
    assert second.image == "https://cdn.example/me.jpg"
    assert second.prompt is None
    assert second.keep_sound is True


def test_a_bad_row_is_a_row_error_with_its_number_and_reason_never_a_crash(tmp_path):
    (tmp_path / "m.csv").write_text(
        "image,video,prompt,orientation,keep_sound,profile,colour\n"
        "a.jpg,a.mp4,p,sideways,,,red\n"
        "a.jpg,,p,,,,\n"
        "a.jpg,a.mp4,p,,maybe,,\n"
        "a.jpg,a.mp4,p,,,nowhere,\n"
        ",,,,,,\n"
        "a.jpg,a.mp4,p,video,true,vydra,red,extra\n"
        "a.jpg,a.mp4,p,video,true,vydra,\n",
        encoding="utf-8",
    )
    manifest = read_manifest(tmp_path / "m.csv")
    reasons = {e.row: e.reason for e in manifest.errors}
    assert "orientation is 'sideways'" in reasons[1]
    assert "video missing" in reasons[2]
    assert "keep_sound is 'maybe'" in reasons[3]
    assert "profile 'nowhere' is unknown" in reasons[4]
    assert reasons[5] == "the row is empty"
    assert "8 cells for 7 columns" in reasons[6]
    assert [r.row for r in manifest.rows] == [7]
    assert manifest.errors[0].line == 2
    assert any("colour" in w for w in manifest.warnings)


def test_jsonl_rows_and_their_errors(tmp_path):
    lines = [
        json.dumps({"image": "a.jpg", "video": "a.mp4", "prompt": "p", "keep_sound": False}),
        "",
        "{not json",
        json.dumps(["a.jpg", "a.mp4"]),
        json.dumps({"image": "a.jpg", "video": "a.mp4", "prompt": 42}),
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = read_manifest(tmp_path / "m.jsonl")
    assert [(r.row, r.line, r.keep_sound) for r in manifest.rows] == [(1, 1, False)]
    reasons = {e.row: (e.line, e.reason) for e in manifest.errors}
    assert reasons[2][0] == 3
    assert "not valid JSON" in reasons[2][1]
    assert "JSON object is expected" in reasons[3][1]
    assert "prompt is 42" in reasons[4][1]


def test_a_csv_without_a_header_naming_image_and_video_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text("a.jpg,a.mp4,p\n", encoding="utf-8")
    with pytest.raises(InputError, match="must name the columns"):
        read_manifest(tmp_path / "m.csv")


def test_the_key_follows_content_and_settings_not_file_names(tmp_path):
    _files(tmp_path)
    (tmp_path / "m.csv").write_text(
        "image,video,prompt\nmedia/me.jpg,media/dance.mp4,p\n", encoding="utf-8"
    )
    row = read_manifest(tmp_path / "m.csv").rows[0]
    settings, options = Settings(), BatchOptions()
    key = row_key(row, settings, options)
    # The same content under another name is the same work.
    (tmp_path / "media" / "me.jpg").rename(tmp_path / "media" / "renamed.jpg")
    (tmp_path / "m.csv").write_text(
        "image,video,prompt\nmedia/renamed.jpg,media/dance.mp4,p\n", encoding="utf-8"
    )
    renamed = read_manifest(tmp_path / "m.csv").rows[0]
    assert row_key(renamed, settings, options) == key
    # New content, a threshold, or prepare change the key.
    assert row_key(replace(renamed, prompt="q"), settings, options) != key
    stricter = Settings(thresholds=settings.thresholds.with_overrides({"frontal_max_yaw_deg": 10}))
    assert row_key(renamed, stricter, options) != key
    assert row_key(renamed, settings, BatchOptions(prepare=True)) != key
    (tmp_path / "media" / "renamed.jpg").write_bytes(b"image two")
    assert row_key(renamed, settings, options) != key
    with pytest.raises(KlingPrepError, match="no such file"):
        row_key(row, settings, options)


def test_a_torn_last_line_is_cut_and_appending_goes_on_after_it(tmp_path):
    with ResultStore(tmp_path) as store:
        store.append({"key": "a", "final": True})
        store.append({"key": "b", "final": False})
    with (tmp_path / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"key": "c", "fin')  # the process died in the middle of this write
    assert [line["key"] for line in read_results(tmp_path / "results.jsonl")] == ["a", "b"]
    with ResultStore(tmp_path) as store:
        assert store.torn_bytes == len('{"key": "c", "fin')
        store.append({"key": "b", "final": True})
        latest = latest_by_key(store.lines())
    assert [line["key"] for line in read_results(tmp_path / "results.jsonl")] == ["a", "b", "b"]
    assert latest["b"]["final"] is True


def test_two_batches_never_share_an_output_folder(tmp_path):
    with (
        ResultStore(tmp_path),
        pytest.raises(KlingPrepError, match="another batch is writing"),
        ResultStore(tmp_path),
    ):
        pass  # pragma: no cover


def test_a_batch_with_a_bad_row_names_it_and_exits_non_zero(tmp_path):
    # Neither row can run, so no check (no model) is needed to see how they are reported.
    (tmp_path / "m.csv").write_text(
        "image,video,prompt,orientation\n"
        "me.jpg,dance.mp4,A person dances,sideways\n"
        "absent.jpg,absent.mp4,A person dances,video\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["batch", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    sideways = next(line for line in lines if line.startswith("failed      row 1 "))
    assert "(line 2): orientation is 'sideways'" in sideways
    assert "fix it, then run again" in sideways
    absent = next(line for line in lines if line.startswith("failed      row 2 "))
    assert "absent.jpg: no such file" in absent
    assert "retried on the next run" in absent
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows"]["failed"] == 2
    assert [f["row"] for f in summary["failures"]] == [1, 2]
    # The manifest error alone (its line is final) still fails the run.
    (tmp_path / "m.csv").write_text(
        "image,video,prompt,orientation\nme.jpg,dance.mp4,A person dances,sideways\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["batch", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "out2")]
    )
    assert result.exit_code == 1, result.output
    assert "0 to retry" in result.output
