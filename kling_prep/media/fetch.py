"""Downloading an input given as a URL: http(s) only, with size and time limits."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from kling_prep.errors import FetchError, InputError

log = logging.getLogger(__name__)


def is_url(value: str) -> bool:
    return urlparse(value).scheme.lower() in ("http", "https")


def fetch_url(url: str, dest_dir: Path, *, max_bytes: int, timeout_s: float = 60.0) -> Path:
    """Stream `url` into `dest_dir`, refusing more than `max_bytes` or `timeout_s` in all.

    The file appears under its final name only when complete.

    Raises:
        FetchError: not http(s), an HTTP error, too large, too slow or a network failure.
    """
    import httpx

    parsed = urlparse(url)
    if parsed.scheme.lower() not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs are fetched")
    name = Path(parsed.path).name or "download"
    final = dest_dir / name
    deadline = time.monotonic() + timeout_s
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".fetch-", suffix=".part")
    received = 0
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            httpx.stream(
                "GET", url, timeout=min(30.0, timeout_s), follow_redirects=True
            ) as response,
        ):
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise FetchError(f"{url}: {declared} bytes announced, the limit is {max_bytes}")
            for chunk in response.iter_bytes(1 << 16):
                received += len(chunk)
                if received > max_bytes:
                    raise FetchError(f"{url}: more than {max_bytes} bytes, the limit")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: not downloaded within {timeout_s:.0f} s")
                handle.write(chunk)
        os.replace(tmp_name, final)
    except httpx.HTTPError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise FetchError(f"{url}: {exc}") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    log.info("fetched %s (%d bytes)", url, received)
    return final


def localise_input(value: str | Path, workdir: Path, *, max_bytes: int, timeout_s: float) -> Path:
    """A local path for an input given as a path or an http(s) URL (downloaded into `workdir`).

    Raises:
        InputError: a path that names no file.
        FetchError: a URL that could not be downloaded within the limits.
    """
    text = str(value)
    if is_url(text):
        return fetch_url(text, workdir, max_bytes=max_bytes, timeout_s=timeout_s)
    path = Path(text)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path
