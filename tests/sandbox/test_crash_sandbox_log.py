"""`kling-prep sandbox --verbose` logs every request to stderr, under the CLI group whose own
logging set-up (WARNING) runs first; without --verbose the requests are not logged."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from kling_prep.sandbox.__main__ import READY_PREFIX

_CLI = "import sys; from kling_prep.cli import main; sys.argv[0] = 'kling-prep'; main()"


def _stderr_after_one_request(*options: str) -> str:
    process = subprocess.Popen(
        [sys.executable, "-c", _CLI, "sandbox", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        url = line.removeprefix(READY_PREFIX).strip()
        assert httpx.get(url + "/api/v1/jobs/no-such-job", timeout=10).status_code in (401, 404)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    return stderr


@pytest.mark.parametrize(("options", "logged"), [(("--verbose",), True), ((), False)])
def test_verbose_logs_each_request(options: tuple[str, ...], logged: bool) -> None:
    stderr = _stderr_after_one_request(*options)
    assert ('"GET /api/v1/jobs/no-such-job HTTP/1.1"' in stderr) is logged, stderr
