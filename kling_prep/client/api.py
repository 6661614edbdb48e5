"""The httpx clients (sync and async) for the hosted API: submit, get, wait, download.

A POST is sent at most once unless the API provably did not process it (no connection, or a 429);
any other doubt becomes `UnknownOutcomeError`, because credits are charged at submission and the
API documents no idempotency key. GETs are retried with backoff and honour `Retry-After`.

Those decisions are made once, without I/O, in `kling_prep.client.core`; the two clients here
only carry out its plans with their own I/O (see docs/CLIENT.md).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self, TypeVar

import httpx

from kling_prep.client.contract import JobStatus, SubmitRequest, SubmitResult
from kling_prep.client.core import (
    TRANSIENT_ERRORS,
    AcceptedCallback,
    ClientCore,
    Plan,
    PlanRun,
    ProgressCallback,
    Send,
    Sleep,
    log_exchange,
)
from kling_prep.client.download import DEFAULT_MAX_OUTPUT_BYTES, part_path, verify_playable_mp4
from kling_prep.client.policy import PollPolicy, RetryPolicy
from kling_prep.errors import FetchError, OutputWriteError, plain_reason
from kling_prep.limits import DEFAULT_BASE_URL, ApiProfile

__all__ = [
    "DEFAULT_BASE_URL",
    "TRANSIENT_ERRORS",
    "USER_AGENT",
    "AcceptedCallback",
    "AsyncKlingClient",
    "KlingClient",
    "ProgressCallback",
    "open_output",
]

USER_AGENT = "kling-prep/0.1"

T = TypeVar("T")


def open_output(path: Path) -> BinaryIO:
    """Open a download's `.part` file for writing (a seam where tests fill the disk)."""
    return path.open("wb")


_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}


def _timeout(timeout_s: float, connect_timeout_s: float) -> httpx.Timeout:
    return httpx.Timeout(timeout_s, connect=connect_timeout_s)


class _Received:
    """A download's progress, to say how far it got when it fails."""

    def __init__(self) -> None:
        self.size_bytes = 0
        self.announced_bytes: int | None = None

    def start(self, response: httpx.Response) -> None:
        """Read the answer's head.

        Raises:
            FetchError: the answer is not a success.
        """
        if not response.is_success:
            raise FetchError(f"the download of the output answered {response.status_code}")
        length = response.headers.get("Content-Length", "")
        self.announced_bytes = int(length) if length.isdigit() else None

    def add(self, chunk: bytes, max_bytes: int) -> None:
        """Count a chunk.

        Raises:
            FetchError: past `max_bytes`.
        """
        self.size_bytes += len(chunk)
        if self.size_bytes > max_bytes:
            raise FetchError(f"the output exceeds {max_bytes} bytes")

    def failure(self, exc: httpx.HTTPError) -> FetchError:
        """The error for a transfer that broke, with the bytes received."""
        if self.announced_bytes is not None and self.size_bytes < self.announced_bytes:
            return FetchError(
                f"the download of the output was cut short: {self.size_bytes} of "
                f"{self.announced_bytes} bytes received ({type(exc).__name__})"
            )
        return FetchError(f"the download of the output failed: {plain_reason(exc)}")


def _write_failure(dest_path: Path, exc: OSError) -> OutputWriteError:
    return OutputWriteError(
        f"{dest_path}: the output video could not be written ({plain_reason(exc)}); "
        "no partial file was left"
    )


@contextmanager
def _landing(dest_path: Path, received: _Received) -> Iterator[Path]:
    """The `.part` path a download writes; renamed to `dest_path` if the block ends cleanly.

    Whatever fails, the `.part` file is removed and nothing appears at `dest_path`.

    Raises:
        FetchError: the transfer failed (with the bytes received).
        OutputWriteError: the file could not be written.
    """
    tmp_path = part_path(dest_path)
    try:
        yield tmp_path
        tmp_path.replace(dest_path)
    except httpx.HTTPError as exc:
        raise received.failure(exc) from exc
    except OSError as exc:
        raise _write_failure(dest_path, exc) from exc
    finally:
        tmp_path.unlink(missing_ok=True)


class KlingClient(ClientCore):
    """The synchronous client (the CLI's).

    Args:
        api_key: the bearer key; kept out of reprs, logs and error messages.
        base_url: the API's root, e.g. `https://vydra.ai` or a sandbox's URL.
        profile: the provider's paths and prices (default: the documented API).
        timeout_s: read/write timeout of one request.
        connect_timeout_s: connection timeout of one request.
        retry: GET retries (POSTs are retried only when provably not processed).
        transport: an httpx transport (a MockTransport in tests).
        sleep, clock, rng: injected for deterministic tests.

    Raises:
        KlingPrepError: the API key is empty.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        profile: ApiProfile | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(api_key, base_url, profile, retry, clock, rng)
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=_timeout(timeout_s, connect_timeout_s), transport=transport, headers=_HEADERS
        )
        self.request_count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, send: Send) -> httpx.Response:
        self.request_count += 1
        started = time.perf_counter()
        response = self._http.request(
            send.method, send.url, headers=self._auth_headers, json=send.json
        )
        log_exchange(send.method, send.url, response.status_code, started)
        return response

    def _drive(self, plan: Plan[T]) -> T:
        """Carry out a plan of `kling_prep.client.core` with blocking I/O."""
        run = PlanRun(plan)
        while (effect := run.next_effect()) is not None:
            if isinstance(effect, Sleep):
                self._sleep(effect.seconds)
                continue
            try:
                run.answer(self._send(effect))
            except httpx.HTTPError as exc:
                run.fail(exc)
        return run.result

    def submit(
        self, request: SubmitRequest, *, on_accepted: AcceptedCallback | None = None
    ) -> SubmitResult:
        """Send one submission (`POST /api/v1/models/kling`); never re-sent when in doubt.

        Retried (with backoff, honouring `Retry-After`) only after a failed connection or a 429,
        where the API provably did not create the job.

        Args:
            request: the body.
            on_accepted: called with the accepted job as soon as its answer is read, before
                any logging: where the job id is saved (it must not raise).

        Returns:
            The accepted job: its id, status and the credits charged.

        Raises:
            RequestRejectedError: 400/422, with the API's message (nothing charged).
            AuthenticationError: 401/403.
            InsufficientCreditsError: 402.
            RateLimitedError: 429 on every try.
            ApiUnreachableError: no connection on every try (nothing sent).
            UnknownOutcomeError: sent, but no readable answer (timeout, dropped connection, 5xx,
                a 2xx without jobId): the job may exist and be charged.
        """
        return self._drive(self.submit_plan(request, on_accepted))

    def get(self, job_id: str) -> JobStatus:
        """The job's current status (`GET /api/v1/jobs/{jobId}`), retried on transient errors.

        Raises:
            JobNotFoundError: 404.
            AuthenticationError: 401/403.
            ServerError, RateLimitedError, ApiTimeoutError, ApiUnreachableError,
                MalformedResponseError (the answer does not follow the documented JSON): still
                failing after the retry policy's last try.
        """
        return self._drive(self.get_plan(job_id))

    def wait(
        self,
        job_id: str,
        *,
        policy: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobStatus:
        """Poll the job until it ends.

        Args:
            job_id: the job to follow.
            policy: interval, jitter, deadline and error tolerance (default: every 10 s).
            on_progress: called with every status read (also the last one).

        Returns:
            The completed job's status, with its output.

        Raises:
            JobFailedError: the job ended as failed.
            WaitDeadlineError: the deadline passed first (the job goes on).
            JobNotFoundError, AuthenticationError: not worth retrying.
            ServerError, RateLimitedError, ApiTimeoutError, ApiUnreachableError,
                MalformedResponseError: more transient errors in a row than the policy tolerates.
        """
        return self._drive(self.wait_plan(job_id, policy, on_progress))

    def download(
        self,
        url: str,
        dest_path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> Path:
        """Stream the output video to `dest_path` and check it is a playable MP4.

        The key is not sent (the URL is usually a CDN's). The file appears at `dest_path` only
        once it is complete and verified.

        Returns:
            `dest_path`.

        Raises:
            FetchError: the download failed (cut short: with the bytes received) or exceeded
                `max_bytes`.
            OutputNotPlayableError: the file is not a playable MP4.
            OutputWriteError: the file could not be written (a full disk); nothing is left.
        """
        received = _Received()
        with _landing(dest_path, received) as tmp_path:
            with self._http.stream("GET", url, follow_redirects=True) as response:
                self.request_count += 1
                received.start(response)
                with open_output(tmp_path) as out:
                    for chunk in response.iter_bytes(1 << 16):
                        received.add(chunk, max_bytes)
                        out.write(chunk)
            verify_playable_mp4(tmp_path)
        return dest_path


class AsyncKlingClient(ClientCore):
    """The asyncio client: the same plans as `KlingClient`, carried out with awaitable I/O.

    Args: as `KlingClient`, with `transport` an async one and `sleep` an awaitable.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        profile: ApiProfile | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(api_key, base_url, profile, retry, clock, rng)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            timeout=_timeout(timeout_s, connect_timeout_s), transport=transport, headers=_HEADERS
        )
        self.request_count = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, send: Send) -> httpx.Response:
        self.request_count += 1
        started = time.perf_counter()
        response = await self._http.request(
            send.method, send.url, headers=self._auth_headers, json=send.json
        )
        log_exchange(send.method, send.url, response.status_code, started)
        return response

    async def _drive(self, plan: Plan[T]) -> T:
        """Carry out a plan of `kling_prep.client.core` with awaitable I/O."""
        run = PlanRun(plan)
        while (effect := run.next_effect()) is not None:
            if isinstance(effect, Sleep):
                await self._sleep(effect.seconds)
                continue
            try:
                run.answer(await self._send(effect))
            except httpx.HTTPError as exc:
                run.fail(exc)
        return run.result

    async def submit(
        self, request: SubmitRequest, *, on_accepted: AcceptedCallback | None = None
    ) -> SubmitResult:
        """See `KlingClient.submit`."""
        return await self._drive(self.submit_plan(request, on_accepted))

    async def get(self, job_id: str) -> JobStatus:
        """See `KlingClient.get`."""
        return await self._drive(self.get_plan(job_id))

    async def wait(
        self,
        job_id: str,
        *,
        policy: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobStatus:
        """See `KlingClient.wait`."""
        return await self._drive(self.wait_plan(job_id, policy, on_progress))

    async def download(
        self,
        url: str,
        dest_path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> Path:
        """See `KlingClient.download` (the check of the file runs in a worker thread)."""
        received = _Received()
        with _landing(dest_path, received) as tmp_path:
            async with self._http.stream("GET", url, follow_redirects=True) as response:
                self.request_count += 1
                received.start(response)
                with open_output(tmp_path) as out:
                    async for chunk in response.aiter_bytes(1 << 16):
                        received.add(chunk, max_bytes)
                        out.write(chunk)
            await asyncio.to_thread(verify_playable_mp4, tmp_path)
        return dest_path
