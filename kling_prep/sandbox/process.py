"""Running the sandbox in a child process (for tests that must kill or restart it, and for CI)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from kling_prep.errors import ToolError
from kling_prep.sandbox import DEFAULT_CREDITS, DEFAULT_DELAY_S
from kling_prep.sandbox.__main__ import READY_PREFIX


class SandboxProcess:
    """A sandbox in a child process: `python -m kling_prep.sandbox --port 0 ...`.

    Args:
        delay_s, credits, keys_path, faults, seed: as the command's options.
        startup_timeout_s: how long to wait for the ready line.

    Raises:
        ToolError: the process exited or was not ready in time.
    """

    def __init__(
        self,
        *,
        delay_s: float = DEFAULT_DELAY_S,
        credits: int = DEFAULT_CREDITS,
        keys_path: Path | None = None,
        faults: str | None = None,
        seed: int = 0,
        startup_timeout_s: float = 20.0,
    ) -> None:
        command = [sys.executable, "-m", "kling_prep.sandbox", "--port", "0"]
        command += ["--delay", str(delay_s), "--credits", str(credits), "--seed", str(seed)]
        if keys_path is not None:
            command += ["--keys", str(keys_path)]
        if faults:
            command += ["--faults", faults]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(
                self._process.stdout.readline() if self._process.stdout else ""
            ),
            daemon=True,
        )
        reader.start()
        reader.join(startup_timeout_s)
        if not line or not line[0].startswith(READY_PREFIX):
            self.stop()
            raise ToolError(f"the sandbox process did not start: {line[:1]!r}")
        self.url = line[0][len(READY_PREFIX) :].strip()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the child and wait for it (killed if it does not stop in time)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout_s)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
