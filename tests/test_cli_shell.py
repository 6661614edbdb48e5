"""cli.py as a thin shell: one KlingPrepError handler (exit 3, the message on stderr), shared
option declarations that say the same everywhere, and every rendering of check, prepare and
batch done by kling_prep/report/, not by the command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kling_prep.cli import main
from kling_prep.errors import ConfigError, JobNotFoundError


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
