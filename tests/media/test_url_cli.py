"""URL inputs on the command line: private addresses are refused by default in check, gate
and batch, in every spelling, before any request; a trusted network is the opt-out.

These tests aim at a server on 127.0.0.1 only: if the protection were broken, the request would
reach that server (and the test would count it), never another machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from url_fixtures import LoopbackServer, serve_bytes

from kling_prep.cli import main

PROMPT = "A person dances in a studio, full body in view, soft even lighting"

# Spellings of this machine's loopback address that a naive check lets through.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "017700000001",
    "127.1",
    "127.0.0.1.",
    "localhost",
    "localhost.",
    "LOCALHOST",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "u:secret@127.0.0.1",
]


@pytest.fixture
def image_server(samples: Path):
    with LoopbackServer(serve_bytes((samples / "character.jpg").read_bytes())) as server:
        yield server


@pytest.fixture
def default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy a user gets: the test suite's own trust of loopback removed."""
    monkeypatch.delenv("KLING_PREP_FETCH_ALLOW", raising=False)
    monkeypatch.delenv("KLING_PREP_CONFIG", raising=False)


@pytest.mark.usefixtures("default_policy")
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
@pytest.mark.parametrize("command", ["check", "gate"])
def test_a_loopback_url_is_refused_by_default_before_any_request(
    image_server: LoopbackServer, host: str, command: str, tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no kling-prep.toml of the developer's
    url = f"http://{host}:{image_server.port}/character.jpg"
    args = [command, "--image", url, "--prompt", PROMPT]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert image_server.paths == []
    assert "Traceback" not in result.output
    assert "only public addresses are fetched" in result.output or "user name" in result.output


@pytest.mark.usefixtures("default_policy")
def test_the_refusal_names_the_url_the_address_and_the_opt_out(
    image_server: LoopbackServer, tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    url = f"http://0x7f.1:{image_server.port}/character.jpg"
    result = CliRunner().invoke(main, ["check", "--image", url])
    assert result.exit_code == 3
    assert url in result.output
    assert "127.0.0.1 is a loopback address" in result.output
    assert "KLING_PREP_FETCH_ALLOW" in result.output


@pytest.mark.usefixtures("default_policy")
def test_a_trusted_network_lets_check_fetch_from_it(
    image_server: LoopbackServer, tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kling-prep.toml").write_text('fetch_allow = ["127.0.0.0/8"]\n')
    url = f"http://localhost:{image_server.port}/character.jpg"
    result = CliRunner().invoke(main, ["check", "--image", url, "--json"])
    assert result.exit_code in (0, 1), result.output
    assert image_server.paths == ["/character.jpg"]
    assert '"people_count": 1' in result.output


@pytest.mark.usefixtures("default_policy")
def test_a_batch_row_with_a_private_url_fails_alone_and_says_why(
    image_server: LoopbackServer, samples: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "rows.jsonl"
    rows = [
        {"image": f"http://2130706433:{image_server.port}/character.jpg",
         "video": str(samples / "reference.mp4"), "prompt": PROMPT},
        {"image": str(samples / "character.jpg"), "video": str(samples / "reference.mp4"),
         "prompt": PROMPT},
    ]  # fmt: skip
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["batch", str(manifest), "--out-dir", str(out), "--workers", "1"]
    )
    assert result.exit_code == 1, result.output
    assert image_server.paths == []
    assert "127.0.0.1 is a loopback address" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"]["done"] == 1
    assert summary["rows"]["failed"] == 1
