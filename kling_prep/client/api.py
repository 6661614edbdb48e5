"""The httpx clients (sync and async) for the hosted API: submit, get, wait, download.

A POST is sent at most once unless the API provably did not process it (no connection, or a 429);
any other doubt becomes `UnknownOutcomeError`, because credits are charged at submission and the
API documents no idempotency key. GETs are retried with backoff and honour `Retry-After`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self
from urllib.parse import quote

import httpx

from kling_prep.client.contract import (
    JobStatus,
    SubmitRequest,
    SubmitResult,
    decode_json_object,
    error_for_status,
    parse_job_status,
    parse_submit_result,
    salvage_job_id,
)
from kling_prep.client.download import DEFAULT_MAX_OUTPUT_BYTES, part_path, verify_playable_mp4
from kling_prep.client.policy import PollPolicy, RetryPolicy
from kling_prep.errors import (
    ApiError,
    ApiTimeoutError,
    ApiUnreachableError,
    FetchError,
    JobFailedError,
    KlingPrepError,
    MalformedResponseError,
    OutputWriteError,
    RateLimitedError,
    ServerError,
    UnknownOutcomeError,
    WaitDeadlineError,
    plain_reason,
)
from kling_prep.limits import ApiProfile, get_profile, require_submittable

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://vydra.ai"
USER_AGENT = "kling-prep/0.1"

ProgressCallback = Callable[[JobStatus], None]
# Called with the accepted job as soon as the 202 is read, before anything else is done with it.
AcceptedCallback = Callable[[SubmitResult], None]

# Errors after which asking again is safe and may succeed. A GET's garbled answer (a proxy's
# error page, a body cut short) is one: the GET changes nothing, and a lasting one still ends a
# wait after the policy's errors in a row.
TRANSIENT_ERRORS: tuple[type[ApiError], ...] = (
    ServerError,
    RateLimitedError,
    ApiUnreachableError,
    ApiTimeoutError,
    MalformedResponseError,
)


def open_output(path: Path) -> BinaryIO:
    """Open a download's `.part` file for writing (a seam where tests fill the disk)."""
    return path.open("wb")


def _timeout(timeout_s: float, connect_timeout_s: float) -> httpx.Timeout:
    return httpx.Timeout(timeout_s, connect=connect_timeout_s)


class _ClientCore:
    """What the sync and async clients share: building requests and reading answers."""

    def __init__(self, api_key: str, base_url: str, profile: ApiProfile | None) -> None:
        if not api_key or not api_key.strip():
            raise KlingPrepError("the API key is empty")
        self._api_key = api_key.strip()
        self.base_url = base_url.rstrip("/")
        self.profile = profile or get_profile()
        require_submittable(self.profile)  # the wire contract below is vydra's alone

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @property
    def _auth_headers(self) -> dict[str, str]:
        # Per request, not on the httpx client: the output download goes to another host (a CDN)
        # and must never carry the key.
        return {"Authorization": f"Bearer {self._api_key}"}

    def _submit_url(self) -> str:
        return self.base_url + self.profile.submit_path

    def _job_url(self, job_id: str) -> str:
        return self.base_url + self.profile.job_path.format(job_id=quote(job_id, safe=""))

    def _redact(self, error: KlingPrepError) -> KlingPrepError:
        """The error with the key removed from its message, in case an answer echoed it."""
        text = str(error)
        if self._api_key in text:
            error.args = (text.replace(self._api_key, "***"),)
        return error

    def _read_submit(
        self, response: httpx.Response, on_accepted: AcceptedCallback | None = None
    ) -> SubmitResult:
        what = "POST " + self.profile.submit_path
        if response.is_success:
            try:
                result = parse_submit_result(decode_json_object(response.content, what))
            except MalformedResponseError as exc:
                # A 2xx means a job may exist and be charged: keep its id if the body names it.
                job_id = salvage_job_id(response.content)
                if job_id is not None:
                    result = SubmitResult(job_id=job_id, status="pending")
                    if on_accepted is not None:
                        on_accepted(result)
                    logger.warning(
                        "%s answered %s with a broken body (%s); job %s read from it",
                        what,
                        response.status_code,
                        exc,
                        job_id,
                    )
                    return result
                raise self._redact(
                    UnknownOutcomeError(
                        f"{what} answered {response.status_code} without a readable jobId; "
                        "the job may exist and be charged: check the account before sending "
                        f"again ({exc})",
                        status_code=response.status_code,
                    )
                ) from exc
            if on_accepted is not None:
                # First thing done with a readable answer: the job is charged, and a crash from
                # here on must not lose its id (the journal saves it in this call).
                on_accepted(result)
            logger.info("submitted job %s (%s credits)", result.job_id, result.credits_charged)
            return result
        if response.status_code >= 500:
            raise self._redact(
                UnknownOutcomeError(
                    f"{what} answered {response.status_code}; the server may have created and "
                    "charged the job before failing, so it is not re-sent",
                    status_code=response.status_code,
                )
            )
        raise self._redact(
            error_for_status(response.status_code, response.content, response.headers, what=what)
        )

    def _read_job(self, response: httpx.Response, job_id: str) -> JobStatus:
        what = f"GET job {job_id}"
        if not response.is_success:
            raise self._redact(
                error_for_status(
                    response.status_code, response.content, response.headers, what=what
                )
            )
        try:
            return parse_job_status(decode_json_object(response.content, what))
        except MalformedResponseError as exc:
            self._redact(exc)
            raise

    def _post_transport_error(self, exc: httpx.HTTPError) -> ApiError:
        what = "POST " + self.profile.submit_path
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return ApiUnreachableError(
                f"{what}: no connection to {self.base_url} ({plain_reason(exc)})"
            )
        return UnknownOutcomeError(
            f"{what}: the request was sent but no answer came back ({type(exc).__name__}); the "
            "job may exist and be charged, so it is not re-sent"
        )

    def _get_transport_error(self, exc: httpx.HTTPError, what: str) -> ApiError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return ApiUnreachableError(
                f"{what}: no connection to {self.base_url} ({plain_reason(exc)})"
            )
        if isinstance(exc, httpx.TimeoutException):
            return ApiTimeoutError(f"{what}: no answer in time ({type(exc).__name__})")
        return ServerError(f"{what}: the connection failed ({type(exc).__name__})")


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


def _retry_after(exc: ApiError) -> float | None:
    return exc.retry_after_s if isinstance(exc, RateLimitedError) else None


def _check_terminal(status: JobStatus) -> JobStatus:
    if status.status == "failed":
        raise JobFailedError(f"job {status.job_id} failed: {status.error or 'no reason given'}")
    return status


class KlingClient(_ClientCore):
    """The synchronous client.

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
        super().__init__(api_key, base_url, profile)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            timeout=_timeout(timeout_s, connect_timeout_s),
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
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

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.request_count += 1
        started = time.perf_counter()
        response = self._http.request(method, url, headers=self._auth_headers, **kwargs)
        if logger.isEnabledFor(logging.DEBUG):  # not even the URL parsed while a 202 waits
            logger.debug(
                "%s %s -> %s in %.3f s",
                method,
                httpx.URL(url).path,
                response.status_code,
                time.perf_counter() - started,
            )
        return response

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
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = self._send("POST", self._submit_url(), json=request.to_json())
                return self._read_submit(response, on_accepted)
            except httpx.HTTPError as exc:
                error = self._post_transport_error(exc)
                if not isinstance(error, ApiUnreachableError):
                    raise self._redact(error) from exc
                if attempt == self.retry.max_attempts:
                    raise self._redact(error) from exc
            except RateLimitedError as exc:
                error = exc
                if attempt == self.retry.max_attempts or (
                    (exc.retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
            delay_s = self.retry.delay_s(attempt, self._rng, _retry_after(error))
            logger.warning("submission not accepted (%s); trying again in %.1f s", error, delay_s)
            self._sleep(delay_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, job_id: str) -> JobStatus:
        what = f"GET job {job_id}"
        try:
            response = self._send("GET", self._job_url(job_id))
        except httpx.HTTPError as exc:
            raise self._redact(self._get_transport_error(exc, what)) from exc
        return self._read_job(response, job_id)

    def get(self, job_id: str) -> JobStatus:
        """The job's current status (`GET /api/v1/jobs/{jobId}`), retried on transient errors.

        Raises:
            JobNotFoundError: 404.
            AuthenticationError: 401/403.
            ServerError, RateLimitedError, ApiTimeoutError, ApiUnreachableError,
                MalformedResponseError (the answer does not follow the documented JSON): still
                failing after the retry policy's last try.
        """
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self._get_once(job_id)
            except TRANSIENT_ERRORS as exc:
                retry_after_s = _retry_after(exc)
                if attempt == self.retry.max_attempts or (
                    (retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
                delay_s = self.retry.delay_s(attempt, self._rng, retry_after_s)
                logger.info("GET job %s: %s; trying again in %.1f s", job_id, exc, delay_s)
                self._sleep(delay_s)
        raise AssertionError("unreachable")  # pragma: no cover

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
        policy = policy or PollPolicy()
        started = self._clock()
        errors_in_row = 0
        while True:
            retry_after_s: float | None = None
            try:
                status = self._get_once(job_id)
            except TRANSIENT_ERRORS as exc:
                errors_in_row += 1
                if errors_in_row > policy.max_consecutive_errors:
                    raise
                retry_after_s = _retry_after(exc)
                logger.info("polling job %s: %s", job_id, exc)
            else:
                errors_in_row = 0
                if on_progress is not None:
                    on_progress(status)
                if status.is_terminal:
                    return _check_terminal(status)
            delay_s = policy.delay_s(self._rng, retry_after_s)
            if policy.deadline_s is not None:
                remaining_s = policy.deadline_s - (self._clock() - started)
                if remaining_s <= 0:
                    raise WaitDeadlineError(
                        f"job {job_id} did not finish within {policy.deadline_s:g} s; it goes on, "
                        f"follow it with `kling-prep wait {job_id}`"
                    )
                delay_s = min(delay_s, remaining_s)
            self._sleep(delay_s)

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
        tmp_path = part_path(dest_path)
        received = _Received()
        try:
            with self._http.stream("GET", url, follow_redirects=True) as response:
                self.request_count += 1
                received.start(response)
                with open_output(tmp_path) as out:
                    for chunk in response.iter_bytes(1 << 16):
                        received.add(chunk, max_bytes)
                        out.write(chunk)
            verify_playable_mp4(tmp_path)
            tmp_path.replace(dest_path)
        except httpx.HTTPError as exc:
            raise received.failure(exc) from exc
        except OSError as exc:
            raise _write_failure(dest_path, exc) from exc
        finally:
            tmp_path.unlink(missing_ok=True)
        return dest_path


class AsyncKlingClient(_ClientCore):
    """The asyncio client: the same contract as `KlingClient`, awaitable.

    Args: as `KlingClient`, with `sleep` an awaitable.
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
        super().__init__(api_key, base_url, profile)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            timeout=_timeout(timeout_s, connect_timeout_s),
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
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

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.request_count += 1
        response = await self._http.request(method, url, headers=self._auth_headers, **kwargs)
        logger.debug("%s %s -> %s", method, httpx.URL(url).path, response.status_code)
        return response

    async def submit(
        self, request: SubmitRequest, *, on_accepted: AcceptedCallback | None = None
    ) -> SubmitResult:
        """See `KlingClient.submit`."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = await self._send("POST", self._submit_url(), json=request.to_json())
                return self._read_submit(response, on_accepted)
            except httpx.HTTPError as exc:
                error = self._post_transport_error(exc)
                if not isinstance(error, ApiUnreachableError):
                    raise self._redact(error) from exc
                if attempt == self.retry.max_attempts:
                    raise self._redact(error) from exc
            except RateLimitedError as exc:
                error = exc
                if attempt == self.retry.max_attempts or (
                    (exc.retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
            await self._sleep(self.retry.delay_s(attempt, self._rng, _retry_after(error)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(self, job_id: str) -> JobStatus:
        what = f"GET job {job_id}"
        try:
            response = await self._send("GET", self._job_url(job_id))
        except httpx.HTTPError as exc:
            raise self._redact(self._get_transport_error(exc, what)) from exc
        return self._read_job(response, job_id)

    async def get(self, job_id: str) -> JobStatus:
        """See `KlingClient.get`."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self._get_once(job_id)
            except TRANSIENT_ERRORS as exc:
                retry_after_s = _retry_after(exc)
                if attempt == self.retry.max_attempts or (
                    (retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
                await self._sleep(self.retry.delay_s(attempt, self._rng, retry_after_s))
        raise AssertionError("unreachable")  # pragma: no cover

    async def wait(
        self,
        job_id: str,
        *,
        policy: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobStatus:
        """See `KlingClient.wait`."""
        policy = policy or PollPolicy()
        started = self._clock()
        errors_in_row = 0
        while True:
            retry_after_s: float | None = None
            try:
                status = await self._get_once(job_id)
            except TRANSIENT_ERRORS as exc:
                errors_in_row += 1
                if errors_in_row > policy.max_consecutive_errors:
                    raise
                retry_after_s = _retry_after(exc)
            else:
                errors_in_row = 0
                if on_progress is not None:
                    on_progress(status)
                if status.is_terminal:
                    return _check_terminal(status)
            delay_s = policy.delay_s(self._rng, retry_after_s)
            if policy.deadline_s is not None:
                remaining_s = policy.deadline_s - (self._clock() - started)
                if remaining_s <= 0:
                    raise WaitDeadlineError(
                        f"job {job_id} did not finish within {policy.deadline_s:g} s; it goes on"
                    )
                delay_s = min(delay_s, remaining_s)
            await self._sleep(delay_s)

    async def download(
        self,
        url: str,
        dest_path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> Path:
        """See `KlingClient.download` (the check of the file runs in a worker thread)."""
        tmp_path = part_path(dest_path)
        received = _Received()
        try:
            async with self._http.stream("GET", url, follow_redirects=True) as response:
                self.request_count += 1
                received.start(response)
                with open_output(tmp_path) as out:
                    async for chunk in response.aiter_bytes(1 << 16):
                        received.add(chunk, max_bytes)
                        out.write(chunk)
            await asyncio.to_thread(verify_playable_mp4, tmp_path)
            tmp_path.replace(dest_path)
        except httpx.HTTPError as exc:
            raise received.failure(exc) from exc
        except OSError as exc:
            raise _write_failure(dest_path, exc) from exc
        finally:
            tmp_path.unlink(missing_ok=True)
        return dest_path
