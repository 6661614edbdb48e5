"""Downloading an input given as a URL: http(s) only, public addresses only (urlsafety.py),
redirects re-checked hop by hop, with size and time limits enforced while the bytes stream."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from kling_prep.errors import FetchError, InputError, plain_reason
from kling_prep.media.urlsafety import (
    AddressPolicy,
    IPAddress,
    Resolver,
    checked_address,
    system_resolver,
)

if TYPE_CHECKING:
    import httpx

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

    host = urlparse(url).hostname or urlparse(url).netloc
    if isinstance(exc, httpx.ConnectError):
        return f"{url}: no connection to {host} ({plain_reason(exc).lower()})"
    if isinstance(exc, httpx.TimeoutException):
        return f"{url}: {host} did not answer in time"
    return f"{url}: the download failed ({plain_reason(exc)})"


# Redirects followed, each re-checked: a CDN or a presigned link takes one or two; more is a
# loop or a walk through hosts.
MAX_REDIRECTS = 5
# The longest wait for one network step (connect, a read); the whole download is bounded by
# its own deadline as well.
_STEP_TIMEOUT_S = 30.0
# The last path segment kept as the file name: letters, digits, dot, dash, underscore only,
# no leading dot, and short enough for any filesystem.
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME_CHARS = 100


def _file_name(path: str) -> str:
    """A harmless local name for a URL's path ("..", "/", control characters and 4 KB names
    all become something that stays inside the download folder)."""
    name = _UNSAFE_NAME_CHARS.sub("_", path.rsplit("/", 1)[-1]).lstrip(".")
    if len(name) > _MAX_NAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        keep = f".{suffix[:10]}" if dot and stem else ""
        name = name[: _MAX_NAME_CHARS - len(keep)] + keep
    return name or "download"


@dataclass(frozen=True)
class _Hop:
    """One request of a download: the URL as given, and the checked address it goes to."""

    url: httpx.URL
    address: IPAddress

    def request_url(self) -> httpx.URL:
        # The connection goes to the checked address itself: no second lookup that a DNS
        # answer could change in between (rebinding).
        return self.url.copy_with(host=str(self.address), username=None, password=None)

    def headers(self) -> dict[str, str]:
        host = self.url.raw_host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        if self.url.port is not None:
            host = f"{host}:{self.url.port}"
        # Identity only: a compressed body is counted and limited as it arrives on the wire,
        # never inflated a hundredfold in memory first.
        return {"Host": host, "Accept-Encoding": "identity"}

    def extensions(self) -> dict[str, str]:
        host = self.url.raw_host.decode("ascii")
        is_literal = host == str(self.address)
        # TLS checks the certificate against the name in the URL, not the address.
        return {} if is_literal or self.url.scheme != "https" else {"sni_hostname": host}


def _hop(
    url: httpx.URL, given: str, policy: AddressPolicy, resolver: Resolver, timeout_s: float
) -> _Hop:
    """`url` once it may be fetched: http(s), no credentials, an allowed address.

    Raises:
        FetchError: naming `given` (the URL the user gave) and, for a redirect, the hop.
    """
    where = given if str(url) == given else f"{given} (redirected to {url})"
    if url.scheme not in ("http", "https"):
        raise FetchError(f"{where}: only http and https URLs are fetched")
    if url.userinfo:
        # The password is not repeated in the message either.
        hidden = url.copy_with(username="...", password=None)
        shown = str(hidden) if str(url) == given else f"{given} (redirected to {hidden})"
        raise FetchError(
            f"{shown}: a URL with a user name or password is refused (it would be written into "
            "reports and logs, and user@host hides the real host)"
        )
    if not url.raw_host:
        raise FetchError(f"{where}: the URL names no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        address = checked_address(url.raw_host.decode("ascii"), port, policy, resolver, timeout_s)
    except FetchError as exc:
        raise FetchError(f"{where}: {exc}") from exc
    return _Hop(url, address)


class _Watchdog:
    """Cuts the connection when the download's deadline passes, even inside a read that the
    server keeps alive with a byte now and then (a read timeout alone restarts each byte)."""

    def __init__(self, response: httpx.Response, remaining_s: float) -> None:
        self.fired = False
        stream = response.extensions.get("network_stream")
        self._socket = stream.get_extra_info("socket") if stream is not None else None
        self._timer = threading.Timer(max(remaining_s, 0.0), self._cut)
        self._timer.daemon = True
        if self._socket is not None:
            self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


@dataclass(frozen=True)
class _Download:
    """The parts of one `fetch_url` call every hop uses: the URL as given, its limits and
    checks, and the folder the file appears in."""

    url: str
    folder: Path
    max_bytes: int
    timeout_s: float
    deadline: float  # on time.monotonic()'s clock
    policy: AddressPolicy
    resolver: Resolver


def fetch_url(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    timeout_s: float = 60.0,
    policy: AddressPolicy | None = None,
    resolver: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> Path:
    """Stream `url` into `dest_dir`, refusing more than `max_bytes` or `timeout_s` in all.

    Every hop (the URL, then each redirect) is checked before a connection is made: http(s),
    no credentials, and every address its host stands for allowed by `policy` (public only by
    default); the connection then goes to that checked address. The file appears, in a folder
    of its own under `dest_dir`, only when complete.

    Args:
        policy: the addresses allowed (default: public addresses only).
        resolver: host, port -> addresses (default: the system's getaddrinfo); tests give a fake.
        transport: the httpx transport (default: a direct connection, no proxy from the
            environment); tests give one that refuses anything but loopback.
        max_redirects: redirects followed before giving up.

    Raises:
        FetchError: not http(s), credentials, a refused address, an HTTP error, too many
            redirects, too large, too slow or a network failure.
    """
    import httpx

    policy = policy or AddressPolicy()
    resolver = resolver or system_resolver
    deadline = time.monotonic() + timeout_s
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url}: not a valid URL ({exc})") from exc
    folder = Path(tempfile.mkdtemp(dir=dest_dir, prefix="fetch-"))
    job = _Download(url, folder, max_bytes, timeout_s, deadline, policy, resolver)
    try:
        with httpx.Client(transport=transport, trust_env=False, follow_redirects=False) as http:
            received, final = _follow_hops(http, job, current, max_redirects)
        os.replace(folder / _PART_NAME, final)
    except httpx.HTTPError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise FetchError(_fetch_failure(url, exc)) from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("fetched %s (%d bytes)", url, received)
    return final


def _follow_hops(
    http: httpx.Client, job: _Download, current: httpx.URL, max_redirects: int
) -> tuple[int, Path]:
    """Request `current`, then each redirect, every hop checked first; the final response's
    body saved to `job.folder/.part`. Returns the bytes saved and the file's final name.

    Raises:
        FetchError: a refused hop, an invalid redirect, too many, too large or too slow.
    """
    import httpx

    for _ in range(max_redirects + 1):
        hop, request = _hop_request(http, job, current)
        response = http.send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                try:
                    current = hop.url.join(response.headers["location"])
                except httpx.InvalidURL as exc:
                    raise FetchError(f"{job.url}: a redirect to an invalid URL") from exc
                continue
            received = _save(
                response, job.url, job.folder, hop, job.max_bytes, job.deadline, job.timeout_s
            )
            return received, job.folder / _file_name(hop.url.path)
        finally:
            response.close()
    raise FetchError(f"{job.url}: more than {max_redirects} redirects")


def _hop_request(
    http: httpx.Client, job: _Download, current: httpx.URL
) -> tuple[_Hop, httpx.Request]:
    """`current` checked (see `_hop`) and its GET, bounded by the time left.

    Raises:
        FetchError: a refused hop, or no time left.
    """
    remaining_s = job.deadline - time.monotonic()
    hop = _hop(current, job.url, job.policy, job.resolver, remaining_s)
    remaining_s = job.deadline - time.monotonic()
    if remaining_s <= 0:
        raise FetchError(f"{job.url}: not downloaded within {job.timeout_s:.0f} s")
    step_s = min(_STEP_TIMEOUT_S, remaining_s)
    request = http.build_request(
        "GET", hop.request_url(), headers=hop.headers(),
        extensions=hop.extensions(), timeout=step_s,
    )  # fmt: skip
    return hop, request


_PART_NAME = ".part"


def _save(
    response: httpx.Response,
    url: str,
    folder: Path,
    hop: _Hop,
    max_bytes: int,
    deadline: float,
    timeout_s: float,
) -> int:
    """Write a final (not redirect) response's body to `folder/.part`; the bytes written.

    Raises:
        FetchError: not 200, a compressed body, too large or too slow.
    """
    import httpx

    if response.status_code != 200:
        raise FetchError(f"{url}: HTTP {response.status_code}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError(f"{url}: a {encoding}-compressed body, when none was asked for")
    try:
        declared = int(response.headers.get("content-length") or 0)
    except ValueError:
        declared = 0  # a bad header: the bytes themselves are counted
    if declared > max_bytes:
        raise FetchError(f"{url}: {declared} bytes announced, the limit is {max_bytes}")
    received = 0
    watchdog = _Watchdog(response, deadline - time.monotonic())
    try:
        with (folder / _PART_NAME).open("wb") as handle:
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > max_bytes:
                    raise FetchError(f"{url}: more than {max_bytes} bytes, the limit")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: not downloaded within {timeout_s:.0f} s")
                handle.write(chunk)
        # A body read to its end by the server's close is only complete if the watchdog did
        # not cause that close.
        if watchdog.fired:
            raise FetchError(f"{url}: not downloaded within {timeout_s:.0f} s")
    except httpx.HTTPError as exc:
        if watchdog.fired or time.monotonic() > deadline:
            raise FetchError(f"{url}: not downloaded within {timeout_s:.0f} s") from exc
        raise
    finally:
        watchdog.cancel()
    return received


def localise_input(
    value: str | Path,
    workdir: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    role: str | None = None,
    policy: AddressPolicy | None = None,
) -> Path:
    """A local path for an input given as a path or an http(s) URL (downloaded into `workdir`).

    Args:
        role: what the input is ("image", "video"), named in every message.
        policy: the addresses a URL may reach (default: public addresses only).

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
        path = fetch_url(text, workdir, max_bytes=max_bytes, timeout_s=timeout_s, policy=policy)
        if path.stat().st_size == 0:
            raise FetchError(f"{_named(text, role)}: the download is empty (0 bytes)")
        return path
    return local_file(Path(text), role=role)
