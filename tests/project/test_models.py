"""`kling-prep models`: a verified download from a local server, refused on a wrong hash."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_prep.cli import main
from kling_prep.modelstore import DEFAULT_MANIFEST, load_manifest

PAYLOAD = b"not really a model, but bytes with a known hash" * 100


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/model.task"
    httpd.shutdown()
    httpd.server_close()


def _manifest(tmp_path: Path, url: str, sha256: str | None) -> Path:
    path = tmp_path / "manifest.json"
    entry = {"name": "m", "file": "m.task", "url": url, "sha256": sha256, "purpose": "test"}
    path.write_text(json.dumps({"models": [entry]}))
    return path


def test_the_bundled_manifest_is_valid():
    assert {e.name for e in load_manifest(DEFAULT_MANIFEST)} >= {"pose_landmarker_heavy"}


def test_a_pinned_model_downloads_and_verifies(tmp_path, server):
    manifest = _manifest(tmp_path, server, hashlib.sha256(PAYLOAD).hexdigest())
    out = CliRunner().invoke(main, ["models", "download", "m", "--manifest", str(manifest),
                                    "--dest", str(tmp_path / "dl")])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (tmp_path / "dl" / "m.task").read_bytes() == PAYLOAD


def test_a_wrong_hash_leaves_nothing_behind(tmp_path, server):
    manifest = _manifest(tmp_path, server, "0" * 64)
    out = CliRunner().invoke(main, ["models", "download", "m", "--manifest", str(manifest),
                                    "--dest", str(tmp_path / "dl")])  # fmt: skip
    assert out.exit_code == 3
    assert "does not match" in out.output
    assert list((tmp_path / "dl").iterdir()) == []


def test_an_unpinned_model_needs_consent(tmp_path, server):
    manifest = _manifest(tmp_path, server, None)
    args = ["models", "download", "m", "--manifest", str(manifest), "--dest", str(tmp_path / "dl")]
    assert CliRunner().invoke(main, args).exit_code == 3
    out = CliRunner().invoke(main, [*args, "--allow-unpinned"])
    assert out.exit_code == 0
    assert hashlib.sha256(PAYLOAD).hexdigest() in out.output
