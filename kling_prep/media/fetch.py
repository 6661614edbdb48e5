"""Downloading an input given as a URL: http(s) only, with size and time limits."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from kling_prep.errors import FetchError, InputError, plain_reason

log = logging.getLogger(__name__)

# "scheme://": a URL of any scheme; `Path` would fold its "//" into one and call it a file.
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_url(value: str) -> bool:
    return urlparse(value).scheme.lower() in ("http", "https")


def _named(value: str | Path, role: str | None) -> str:
    return f"{value} (the {role})" if role else str(value)


def local_file(path: Path, *, role: str | None = None) -> Path:
    """`path`, once it is known to name a non-empty regular file.

    Args:
        role: what the input is ("image", "video"), named in the message.

    Raises:
        InputError: nothing there, a directory, not a regular file, or an empty file.
    """
    name = _named(path, role)
    if path.is_dir():
        raise InputError(f"{name}: a directory, not a file; give the file itself")
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a regular file (a device, a pipe or a socket)")
    try:
        size_bytes = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({plain_reason(exc)})") from exc
    if size_bytes == 0:
        raise InputError(f"{name}: the file is empty (0 bytes)")
    return path


def _fetch_failure(url: str, exc: Exception) -> str:
    """What went wrong with a download, in words (no errno numbers, no exception names)."""
    import httpx

    host = urlparse(url).netloc
    if isinstance(exc, httpx.ConnectError):
        return f"{url}: no connection to {host} ({plain_reason(exc).lower()})"
    if isinstance(exc, httpx.TimeoutException):
        return f"{url}: {host} did not answer in time"
    return f"{url}: the download failed ({plain_reason(exc)})"


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
        raise FetchError(_fetch_failure(url, exc)) from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    log.info("fetched %s (%d bytes)", url, received)
    return final


def localise_input(
    value: str | Path,
    workdir: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    role: str | None = None,
) -> Path:
    """A local path for an input given as a path or an http(s) URL (downloaded into `workdir`).

    Args:
        role: what the input is ("image", "video"), named in every message.

    Raises:
        InputError: a path that names no file, a directory, or an empty file.
        FetchError: a URL of another scheme than http(s), or one that could not be downloaded
            within the limits, or whose download is empty.
    """
    text = str(value)
    scheme = _URL_SCHEME.match(text)
    if scheme is not None and not is_url(text):
        raise FetchError(
            f"{_named(text, role)}: only http(s) URLs are fetched, not {scheme.group(1)}:// "
            "(or give a local path)"
        )
    if is_url(text):
        path = fetch_url(text, workdir, max_bytes=max_bytes, timeout_s=timeout_s)
        if path.stat().st_size == 0:
            raise FetchError(f"{_named(text, role)}: the download is empty (0 bytes)")
        return path
    return local_file(Path(text), role=role)
