"""The settings file: what it may hold, and what a misspelling gets."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep import preflight, preparation
from kling_prep.batch.manifest import ManifestRow
from kling_prep.batch.row import BatchOptions, WorkerConfig, row_key
from kling_prep.cli import main
from kling_prep.client import api as client_api
from kling_prep.errors import ConfigError, FFmpegNotFoundError, KlingPrepError
from kling_prep.limits import DEFAULT_BASE_URL, PROFILES
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.preparation import PrepareOptions, prepare
from kling_prep.settings import DEFAULT_JOURNAL_PATH, Settings, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kling-prep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_sets_what_it_says(tmp_path):
    path = _write(
        tmp_path,
        'profile = "vydra"\nallow_no_face = true\n[thresholds]\nunderexposed_warn_stops = -1.0\n'
        '[api]\nbase_url = "http://127.0.0.1:8765"\n',
    )
    settings = load_settings(path, env={})
    assert settings.allow_no_face is True
    assert settings.thresholds.underexposed_warn_stops == -1.0
    assert settings.base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("text", "named", "hint"),
    [
        ("alow_no_face = true\n", "alow_no_face", "allow_no_face"),
        ('[api]\nbase_ur = "http://x"\n', "base_ur", "base_url"),
        (
            "[thresholds]\nunderexposed_warn_stop = -1\n",
            "underexposed_warn_stop",
            "underexposed_warn_stops",
        ),
        ("[limits]\nimage_min_side = 300\n", "image_min_side", "image_min_side_px"),
    ],
)
def test_a_misspelled_key_is_an_error_with_the_nearest_name(tmp_path, text, named, hint):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert str(path) in message
    assert repr(named) in message
    assert f"did you mean {hint!r}" in message


def test_a_table_given_as_a_value_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"\[api\] must be a table"):
        load_settings(_write(tmp_path, 'api = "http://x"\n'), env={})


def test_the_client_times_come_from_the_api_table(tmp_path):
    default = load_settings(_write(tmp_path, ""), env={})
    assert (default.request_timeout_s, default.poll_interval_s, default.wait_deadline_s) == (
        30.0,
        10.0,
        900.0,
    )
    path = _write(tmp_path, "[api]\ntimeout_s = 2\npoll_interval_s = 0.1\nwait_deadline_s = 5\n")
    settings = load_settings(path, env={})
    assert (settings.request_timeout_s, settings.poll_interval_s, settings.wait_deadline_s) == (
        2.0,
        0.1,
        5.0,
    )


@pytest.mark.parametrize("value", ["0", "-1", '"soon"', "true"])
def test_a_client_time_must_be_a_positive_number(tmp_path, value):
    with pytest.raises(ConfigError, match=r"\[api\] poll_interval_s = .* positive number"):
        load_settings(_write(tmp_path, f"[api]\npoll_interval_s = {value}\n"), env={})


# -- Every environment variable read in one place; the command line applied once ----------

PACKAGE = Path(__file__).resolve().parents[2] / "kling_prep"


def test_the_journal_and_ffmpeg_variables_are_read_by_load_settings(tmp_path):
    default = load_settings(_write(tmp_path, ""), env={})
    assert default.journal_path == DEFAULT_JOURNAL_PATH
    assert default.ffmpeg is None
    env = {"KLING_PREP_JOURNAL": str(tmp_path / "j.sqlite"), "KLING_PREP_FFMPEG": "/opt/ff"}
    settings = load_settings(_write(tmp_path, ""), env=env)
    assert settings.journal_path == tmp_path / "j.sqlite"
    assert settings.ffmpeg == "/opt/ff"
    # An empty KLING_PREP_FFMPEG was always as good as unset.
    assert load_settings(_write(tmp_path, ""), env={"KLING_PREP_FFMPEG": ""}).ffmpeg is None


def test_no_module_but_settings_reads_the_environment():
    reads = re.compile(r"os\.environ\.get|os\.getenv|os\.environ\[|environ\.get\(")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert found == [], "read outside kling_prep/settings.py:\n" + "\n".join(found)


def test_find_ffmpeg_takes_the_settings_value_not_the_environment(tmp_path, monkeypatch):
    missing = str(tmp_path / "no-ffmpeg")
    monkeypatch.setenv("KLING_PREP_FFMPEG", missing)
    find_ffmpeg.cache_clear()
    try:
        assert find_ffmpeg() != missing  # PATH or the wheel's: the variable is the settings'
        with pytest.raises(FFmpegNotFoundError, match=f"KLING_PREP_FFMPEG={missing} is not"):
            find_ffmpeg(missing)
    finally:
        find_ffmpeg.cache_clear()


def test_prepare_encodes_with_the_settings_ffmpeg(samples, tmp_path):
    request = PrepareOptions(video=samples / "reference.mp4", out_dir=tmp_path / "out", end_s=3.0)
    with pytest.raises(FFmpegNotFoundError, match="no-ffmpeg is not an executable"):
        prepare(request, settings=Settings(ffmpeg=str(tmp_path / "no-ffmpeg")))


def test_with_overrides_replaces_what_the_command_line_gives_and_keeps_the_rest(tmp_path):
    base = Settings(api_key="file-key", base_url="http://file", allow_no_face=True)
    assert base.with_overrides() is base
    assert base.with_overrides(base_url="", api_key=None, journal_path=None) is base
    given = base.with_overrides(
        allow_no_face=False, base_url="http://cli", api_key="cli-key", journal_path=tmp_path
    )
    assert (given.allow_no_face, given.base_url, given.api_key, given.journal_path) == (
        False,
        "http://cli",
        "cli-key",
        tmp_path,
    )
    assert given.profile is base.profile
    assert given.thresholds is base.thresholds


def test_the_default_base_url_is_written_once():
    assert client_api.DEFAULT_BASE_URL == DEFAULT_BASE_URL
    assert Settings().base_url == PROFILES["vydra"].base_url == DEFAULT_BASE_URL
    literal = f'"{DEFAULT_BASE_URL}"'
    written = [
        path.relative_to(PACKAGE)
        for path in PACKAGE.rglob("*.py")
        if literal in path.read_text(encoding="utf-8")
    ]
    assert written == [Path("limits.py")]


def _captured_settings(monkeypatch) -> list[Settings]:
    seen: list[Settings] = []

    def fake_check(*args, settings=None, **kwargs):
        seen.append(settings)
        raise KlingPrepError("stopped after the settings were seen")

    def fake_prepare(request, *, settings=None, **kwargs):
        seen.append(settings)
        raise KlingPrepError("stopped after the settings were seen")

    monkeypatch.setattr(preflight, "check", fake_check)
    monkeypatch.setattr(preparation, "prepare", fake_prepare)
    return seen


@pytest.mark.parametrize(
    "command",
    [
        ["check", "--image", "x.jpg"],
        ["gate", "--image", "x.jpg"],
        ["prepare", "--image", "x.jpg", "--out-dir", "out"],
    ],
)
@pytest.mark.parametrize(
    ("file_says", "flag", "expected"),
    [(False, False, False), (False, True, True), (True, False, True), (True, True, True)],
)
def test_allow_no_face_reaches_the_check_in_the_settings(
    tmp_path, monkeypatch, command, file_says, flag, expected
):
    config = _write(tmp_path, f"allow_no_face = {str(file_says).lower()}\n")
    seen = _captured_settings(monkeypatch)
    args = [*command, "--config", str(config), *(["--allow-no-face"] if flag else [])]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 3, run.output
    assert [s.allow_no_face for s in seen] == [expected]


def test_the_batch_rows_get_finished_settings_and_the_row_key_is_unchanged(tmp_path):
    options = BatchOptions(allow_no_face=True)
    config = WorkerConfig(settings=Settings(), options=options, prepared_dir=tmp_path)
    assert config.settings.allow_no_face is True
    assert replace(config, prepared_dir=tmp_path / "p").settings.allow_no_face is True
    assert WorkerConfig(Settings(), BatchOptions(), tmp_path).settings.allow_no_face is False
    # BatchOptions(allow_no_face=False) overrode a file's true before, and still does.
    off = WorkerConfig(Settings(allow_no_face=True), BatchOptions(allow_no_face=False), tmp_path)
    assert off.settings.allow_no_face is False
    # The keys results.jsonl files already hold (written by the code before this change).
    row = ManifestRow(
        1, 2, "https://example.com/me.jpg", "https://example.com/dance.mp4", "a person dancing"
    )
    assert row_key(row, Settings(), options) == (
        "87275ab7fc4f624f2a52ca1b561f65f8b9ffa73caee5102f90aa466672121b6d"
    )
    assert row_key(row, Settings(), BatchOptions()) == (
        "28b0ca60418e43b5b9fa8d1c8cc4696ad5de67aea58845f2026b15bbfd8c6fc0"
    )
    assert row_key(row, Settings(allow_no_face=True), BatchOptions()) == (
        "55d3c4ab7d58f2607867121e58e8c44c948196e4fd9f2e5db0c5915a1b142c65"
    )
