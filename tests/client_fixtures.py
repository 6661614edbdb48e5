"""Helpers for the client, journal and sandbox tests: tiny media, a static file server, and a tiny
client program that tests run (and kill) as a child process.

    python tests/client_fixtures.py BASE_URL JOURNAL IMAGE_URL VIDEO_URL [--wait]
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kling_prep.media.ffmpeg import find_ffmpeg

API_KEY = "sk-test-0123456789abcdef"
PROMPT = "A person dancing energetically in a studio"


def make_video(
    path: Path,
    *,
    duration_s: float = 3.5,
    width: int = 360,
    height: int = 640,
    has_audio: bool = True,
) -> Path:
    """Write a small H.264 MP4 test pattern (with a sine tone if `has_audio`)."""
    command = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y"]
    command += [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate=15:duration={duration_s}",
    ]
    if has_audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={duration_s}"]
        command += ["-c:a", "aac", "-shortest"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    command += ["-movflags", "+faststart", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path


def make_image(path: Path, *, width: int = 400, height: int = 600) -> Path:
    """Write a JPEG of the given size (a light figure on a dark ground)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (30, 30, 40))
    ImageDraw.Draw(image).ellipse(
        (width // 3, height // 6, 2 * width // 3, height // 2), fill=(220, 190, 170)
    )
    image.save(path, "JPEG", quality=90)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServerThread:
    """An HTTP server on a loopback port, served from a daemon thread while in a `with`."""

    def __init__(self, httpd: http.server.ThreadingHTTPServer) -> None:
        self._httpd = httpd
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _BackloggedHTTPServer(http.server.ThreadingHTTPServer):
    # As the sandbox's: a burst of fetches (the load test's) is queued, not dropped.
    request_queue_size = 1024


class StaticFileServer(ServerThread):
    """Serves a folder on a loopback port, as the user's own hosting would."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        super().__init__(_BackloggedHTTPServer(("127.0.0.1", 0), handler))

    def url(self, name: str) -> str:
        """The URL of a file in the folder."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{name}"


@contextlib.contextmanager
def served_pair(root: Path) -> Iterator[StaticFileServer]:
    """A reference video (`ref.mp4`) and a character image (`char.jpg`) made in `root`, and the
    folder served on loopback (with whatever else the caller put there first)."""
    make_video(root / "ref.mp4")
    make_image(root / "char.jpg")
    with StaticFileServer(root) as server:
        yield server


def _client_program(argv: list[str]) -> int:
    """Submit once through the journal, then optionally wait: the process tests kill."""
    from kling_prep.client import JobJournal, KlingClient, PollPolicy, SubmissionRunner

    base_url, journal_path, image_url, video_url = argv[:4]
    with KlingClient(API_KEY, base_url=base_url, timeout_s=60.0) as client:
        runner = SubmissionRunner(client, JobJournal(Path(journal_path)))
        record = runner.submit(image_url, video_url, PROMPT)
        print("submitted", record.job_id, flush=True)  # noqa: T201  # read by the test
        if "--wait" in argv:
            runner.wait(record.submission_id, policy=PollPolicy(interval_s=0.05))
    return 0


if __name__ == "__main__":
    sys.exit(_client_program(sys.argv[1:]))
