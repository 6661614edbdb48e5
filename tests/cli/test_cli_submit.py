"""`kling-prep submit/status/wait` against the real sandbox on loopback: the check runs first,
a blocked pair spends nothing, a good one is submitted once and followed to its video."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.cli import main
from kling_prep.sandbox.server import SandboxServer
from tests.client_fixtures import StaticFileServer

PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VYDRA_API_KEY", "test-key")
    monkeypatch.setenv("KLING_PREP_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_a_blocked_pair_is_never_posted(env, samples):
    with SandboxServer(delay_s=0.2) as sandbox, StaticFileServer(samples) as files:
        code, out = _invoke(
            "submit", "--image", files.url("bad/two-people.jpg"), "--video",
            files.url("reference.mp4"), "--prompt", PROMPT, "--base-url", sandbox.url,
        )  # fmt: skip
        assert code == 2, out
        assert "no credits spent" in out
        assert sandbox.stats.jobs_created == 0
        assert sandbox.balance("test-key") == 1000


def test_a_good_pair_is_submitted_once_waited_for_and_saved(env, samples):
    with SandboxServer(delay_s=0.3) as sandbox, StaticFileServer(samples) as files:
        args = ("submit", "--image", files.url("character.jpg"), "--video",
                files.url("reference.mp4"), "--prompt", PROMPT, "--base-url", sandbox.url)  # fmt: skip
        code, out = _invoke(*args, "-o", str(env / "result.mp4"))
        assert code == 0, out
        assert "completed" in out
        assert (env / "result.mp4").stat().st_size > 1000
        assert sandbox.stats.jobs_created == 1
        # The same inputs again are refused without --again: never paid twice by accident.
        code, out = _invoke(*args)
        assert code == 3, out
        assert sandbox.stats.jobs_created == 1
        code, out = _invoke("status")
        assert code == 0
        assert "completed" in out


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_submit_prepare_trims_a_long_clip_uploads_it_and_submits_once(
    env, samples, s3_endpoint, monkeypatch
):
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="inputs")
    with SandboxServer(delay_s=0.2) as sandbox:
        code, out = _invoke(
            "submit", "--prepare", "--prepared-dir", str(env / "ready"), "--image",
            str(samples / "character.jpg"), "--video", str(samples / "bad" / "too-long.mp4"),
            "--prompt", PROMPT, "--base-url", sandbox.url, "--s3-bucket", "inputs",
            "--s3-endpoint", s3_endpoint, "--wait",
        )  # fmt: skip
        assert code == 0, out
        assert "completed" in out
        assert sandbox.stats.jobs_created == 1
        prepared = sorted(p.name for p in (env / "ready").iterdir())
        assert "report.json" in prepared
        assert any(name.endswith(".mp4") for name in prepared)
        # A second submission prepares into the same folder: the first one's files are
        # kling-prep's own and are replaced, not a reason to refuse.
        code, out = _invoke(
            "submit", "--prepare", "--prepared-dir", str(env / "ready"), "--image",
            str(samples / "character.jpg"), "--video", str(samples / "bad" / "too-long.mp4"),
            "--prompt", PROMPT + " again", "--base-url", sandbox.url, "--s3-bucket", "inputs",
            "--s3-endpoint", s3_endpoint,
        )  # fmt: skip
        assert code == 0, out
        assert sandbox.stats.jobs_created == 2


def _check_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the check ran before a refusal known at once")

    monkeypatch.setattr("kling_prep.preflight.check", refuse)


def test_what_is_known_at_once_is_refused_before_the_check(env, samples, monkeypatch):
    _check_must_not_run(monkeypatch)
    urls = ("--image", "https://cdn.example/me.jpg", "--video", "https://cdn.example/d.mp4")
    monkeypatch.delenv("VYDRA_API_KEY")
    code, out = _invoke("submit", *urls, "--prompt", PROMPT)
    assert code == 3
    assert "no API key" in out
    monkeypatch.setenv("VYDRA_API_KEY", "test-key")
    local = str(samples / "character.jpg")
    code, out = _invoke("submit", "--image", local, *urls[2:], "--prompt", PROMPT)
    assert code == 3
    assert f"{local}: local files need --s3-bucket" in out
    code, out = _invoke("submit", *urls, "--prompt", PROMPT, "--prepare")
    assert code == 3
    assert "--prepare submits the prepared files" in out
    code, out = _invoke("submit", *urls, "--prompt", "  ")
    assert code == 3
    assert "--prompt is empty" in out


def test_the_table_shows_the_url_given_not_a_temporary_download(env, samples):
    with SandboxServer(delay_s=0.2) as sandbox, StaticFileServer(samples) as files:
        image_url = files.url("bad/two-people.jpg")
        code, out = _invoke(
            "submit", "--image", image_url, "--video", files.url("reference.mp4"),
            "--prompt", PROMPT, "--base-url", sandbox.url,
        )  # fmt: skip
    assert code == 2, out
    assert image_url in out
    assert "kling-prep-" not in out  # the temporary folder the URL was downloaded into
