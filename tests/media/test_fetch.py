"""Inputs given as URLs: downloaded within size and time limits, http(s) only."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from client_fixtures import StaticFileServer

from kling_prep.cli import main
from kling_prep.errors import FetchError
from kling_prep.media.fetch import fetch_url
from kling_prep.media.urlsafety import AddressPolicy, parse_networks

LOOPBACK_TRUSTED = AddressPolicy(parse_networks(["127.0.0.0/8"], source="test"))


def test_a_url_input_is_checked_like_a_local_file(samples):
    with StaticFileServer(samples) as files:
        result = CliRunner().invoke(
            main, ["check", "--image", files.url("character.jpg"), "--json"]
        )
    assert result.exit_code in (0, 1), result.output
    assert '"people_count": 1' in result.output
    assert files.url("character.jpg") in result.output


def test_a_download_over_the_limit_is_refused_and_leaves_nothing(samples, tmp_path: Path):
    with StaticFileServer(samples) as files, pytest.raises(FetchError, match="limit"):
        fetch_url(files.url("reference.mp4"), tmp_path, max_bytes=1000, policy=LOOPBACK_TRUSTED)
    assert list(tmp_path.iterdir()) == []


def test_only_http_and_https_are_fetched(tmp_path: Path):
    with pytest.raises(FetchError, match="only http"):
        fetch_url("file:///etc/passwd", tmp_path, max_bytes=10_000)


def test_a_missing_url_is_an_environment_error_naming_it(samples):
    with StaticFileServer(samples) as files:
        url = files.url("nothing-here.jpg")
        result = CliRunner().invoke(main, ["check", "--image", url])
    assert result.exit_code == 3
    assert "404" in result.output
    assert "nothing-here.jpg" in result.output
