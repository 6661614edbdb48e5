"""The batch's output folder: results appended one JSON line per row (write, flush, fsync), the
pictures of blocked rows, the run's state, and a lock so that two batches never share a folder.

A crash can only tear the last line; it is cut off when the file is opened again, so a resumed
batch appends after the last complete line.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kling_prep.errors import KlingPrepError
from kling_prep.media.outputs import write_atomically

RESULTS_NAME = "results.jsonl"
STATE_NAME = "batch.json"
LOCK_NAME = ".batch.lock"
SHEETS_DIR = "sheets"


def read_results(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a results file, oldest first (a torn or unreadable line is skipped).

    Returns:
        The decoded lines; [] when the file does not exist.
    """
    if not path.is_file():
        return []
    lines: list[dict[str, Any]] = []
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # torn by a crash: the row was not done
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("key"), str):
                lines.append(value)
    return lines


def latest_by_key(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last line written for each key (a retried row's later line wins)."""
    return {line["key"]: line for line in lines}


def _cut_torn_tail(path: Path) -> int:
    """Truncate the file after its last newline; returns the bytes cut."""
    if not path.is_file():
        return 0
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        pos = size
        while pos > 0:
            step = min(65536, pos)
            handle.seek(pos - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                end = pos - step + newline + 1
                break
            pos -= step
        else:
            end = 0
        if end < size:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
        return size - end


class ResultStore:
    """The output folder of one batch, held under an exclusive lock while open.

    Args:
        out_dir: the folder (created if absent).

    Raises (on open):
        KlingPrepError: another batch holds the folder.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.results_path = out_dir / RESULTS_NAME
        self.state_path = out_dir / STATE_NAME
        self.sheets_dir = out_dir / SHEETS_DIR
        self._lock: TextIO | None = None
        self._results: TextIO | None = None
        self.torn_bytes = 0

    def open(self) -> ResultStore:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.out_dir / LOCK_NAME).open("w", encoding="utf-8")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise KlingPrepError(
                f"{self.out_dir}: another batch is writing to this folder; wait for it to end, "
                "or give another --out-dir"
            ) from exc
        self._lock = lock
        self.torn_bytes = _cut_torn_tail(self.results_path)
        self._results = self.results_path.open("a", encoding="utf-8")
        return self

    def close(self) -> None:
        if self._results is not None:
            self._results.close()
            self._results = None
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ResultStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self) -> list[dict[str, Any]]:
        """Every complete line written so far, this run's included."""
        return read_results(self.results_path)

    def append(self, line: dict[str, Any]) -> None:
        """Append one result as one line, durable before this returns."""
        if self._results is None:
            raise KlingPrepError(f"{self.results_path} is not open")
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        self._results.write(text + "\n")
        self._results.flush()
        os.fsync(self._results.fileno())

    def save_sheet(self, key: str, name: str, jpeg: bytes) -> Path:
        """Store one picture of a row (`name`: image or video) and return its path."""
        path = self.sheets_dir / f"{key[:16]}-{name}.jpg"
        write_atomically(jpeg, path)
        return path

    def state(self) -> dict[str, Any]:
        """The run's state (when the batch first started), created on first use.

        Raises:
            KlingPrepError: the state file exists but is not what this module wrote.
        """
        if self.state_path.is_file():
            try:
                value = json.loads(self.state_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise KlingPrepError(f"{self.state_path}: unreadable ({exc})") from exc
            if not isinstance(value, dict) or not isinstance(value.get("started_at"), str):
                raise KlingPrepError(f"{self.state_path}: has no started_at")
            return value
        value = {"started_at": datetime.now(UTC).isoformat()}
        write_atomically((json.dumps(value, indent=2) + "\n").encode(), self.state_path)
        return value
