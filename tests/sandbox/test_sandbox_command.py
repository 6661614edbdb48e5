"""`kling-prep sandbox` and `python -m kling_prep.sandbox`: one click command with help texts and
defaults, usage errors exit 3, and the server itself loads only when the command runs."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
from click.testing import CliRunner

from kling_prep.cli import main


def test_sandbox_help_is_the_kling_prep_command_with_its_defaults():
    result = CliRunner().invoke(main, ["sandbox", "--help"], prog_name="kling-prep")
    assert result.exit_code == 0
    assert "Usage: kling-prep sandbox [OPTIONS]" in result.output
    assert "python -m" not in result.output
    for default in ("default: 127.0.0.1", "default: 8765", "default: 3.0", "default: 1000"):
        assert default in result.output


def test_python_m_sandbox_still_runs_the_same_command():
    out = subprocess.run(
        [sys.executable, "-m", "kling_prep.sandbox", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "Usage: python -m kling_prep.sandbox [OPTIONS]" in out.stdout
    assert "default: 8765" in out.stdout
    assert "--faults" in out.stdout


def test_a_usage_error_exits_3_from_both_entry_points():
    result = CliRunner().invoke(main, ["sandbox", "--port", "eighty"])
    assert result.exit_code == 3
    assert "'eighty' is not a valid integer" in result.output
    out = subprocess.run(
        [sys.executable, "-m", "kling_prep.sandbox", "--port", "eighty"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 3
    assert "'eighty' is not a valid integer" in out.stderr


def test_a_port_in_use_is_named_without_errno_or_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "kling_prep", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Errno" not in out.stderr
    assert "Traceback" not in out.stderr


def test_kling_prep_sandbox_serves_the_api_until_stopped():
    process = subprocess.Popen(
        [sys.executable, "-m", "kling_prep", "sandbox", "--port", "0", "--delay", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("kling-prep sandbox listening on http://127.0.0.1:")
        answer = httpx.get(
            line.split()[-1] + "/api/v1/jobs/nope", headers={"Authorization": "Bearer k"}
        )
        assert answer.status_code == 404
        assert answer.json()["error"] == "Not Found"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode in (0, -15)


def test_the_cli_loads_the_sandbox_server_only_when_the_command_runs():
    # `kling-prep check` must start fast: the server pulls httpx and the media probe.
    code = (
        "import sys; from kling_prep.cli import main\n"
        "print(','.join(m for m in ('kling_prep.sandbox.server', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
