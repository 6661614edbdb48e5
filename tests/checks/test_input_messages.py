"""What a user reads when an input cannot be used: the file named, what is wrong with it in
words (a directory, an empty file, a URL scheme that is not fetched), exit 3, and never a raw
errno number."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.batch.manifest import ManifestRow
from kling_prep.batch.row import BatchOptions, row_key
from kling_prep.cli import main
from kling_prep.errors import KlingPrepError, plain_reason
from kling_prep.settings import Settings


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_directory_is_called_a_directory_not_a_missing_file(tmp_path: Path):
    folder = tmp_path / "clips"
    folder.mkdir()
    code, out = _check("--video", str(folder))
    assert code == 3
    assert "clips (the video): a directory, not a file" in out
    assert "no such file" not in out


@pytest.mark.parametrize(("option", "name"), [("--image", "me.jpg"), ("--video", "dance.mp4")])
def test_an_empty_file_is_called_empty(tmp_path: Path, option: str, name: str):
    (tmp_path / name).write_bytes(b"")
    code, out = _check(option, str(tmp_path / name))
    assert code == 3
    assert f"{name} (the {option[2:]}): the file is empty (0 bytes)" in out


def test_a_file_ffmpeg_cannot_read_is_named_without_an_errno(tmp_path: Path):
    (tmp_path / "notes.mp4").write_text("not a video")
    code, out = _check("--video", str(tmp_path / "notes.mp4"))
    assert code == 3
    assert "notes.mp4: not a video kling_prep can read" in out
    assert "Errno" not in out


def test_a_url_of_another_scheme_is_refused_as_only_http(tmp_path: Path):
    code, out = _check("--image", "ftp://example.com/a.jpg")
    assert code == 3
    assert "ftp://example.com/a.jpg (the image): only http(s) URLs are fetched" in out
    assert "no such file" not in out


def test_an_unreachable_url_says_so_without_an_errno():
    url = f"http://127.0.0.1:{_closed_port()}/clip.mp4"
    code, out = _check("--video", url)
    assert code == 3
    assert f"{url}: no connection to 127.0.0.1" in out
    assert "Errno" not in out


def test_plain_reason_drops_the_errno_number():
    assert plain_reason(ConnectionRefusedError(111, "Connection refused")) == "Connection refused"
    assert plain_reason(OSError("[Errno 1094995529] Invalid data found")) == "Invalid data found"


def test_a_batch_row_naming_a_directory_says_so(tmp_path: Path):
    (tmp_path / "images").mkdir()
    row = ManifestRow(1, 2, str(tmp_path / "images"), str(tmp_path / "v.mp4"), "A prompt")
    with pytest.raises(KlingPrepError, match="a directory, not a file"):
        row_key(row, Settings(), BatchOptions())
