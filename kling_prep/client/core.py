"""The client's decisions without I/O: what to send, when to retry, when to stop polling.

Each operation (submit, get, wait) is a *plan*: a generator that yields effects (`Send` a request,
`Sleep` a while) and is handed back the answer to each `Send`, or has the transport's error
thrown into it where it yielded. The plan decides; the clients in `api.py` only do the I/O
(`KlingClient` with httpx.Client and time.sleep, `AsyncKlingClient` with httpx.AsyncClient and
asyncio.sleep), so the never-re-POST rule, the retries and the poll deadline are written once.

In the manner of h11: no sockets and no clock of its own here (the clock and the random source are
injected), so a plan can be stepped by hand in a test with `httpx.Response` objects and errors.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
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
from kling_prep.client.policy import PollPolicy, RetryPolicy
from kling_prep.errors import (
    ApiError,
    ApiTimeoutError,
    ApiUnreachableError,
    JobFailedError,
    KlingPrepError,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    UnknownOutcomeError,
    WaitDeadlineError,
    plain_reason,
)
from kling_prep.limits import ApiProfile, get_profile, require_submittable

# The client's one log name, whichever module writes the line: users (and the journal's tests)
# listen to "kling_prep.client.api".
logger = logging.getLogger("kling_prep.client.api")

T = TypeVar("T")

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


@dataclass(frozen=True)
class Send:
    """Send one request to the API (with the key) and hand the answer back to the plan."""

    method: str
    url: str
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait this long before the plan goes on."""

    seconds: float


Effect = Send | Sleep
# What a plan is handed back: the answer to a `Send`, None after a `Sleep`. A transport error
# (httpx.HTTPError) is thrown into the plan instead.
Reply = httpx.Response | None
Plan = Generator[Effect, Reply, T]


class PlanRun(Generic[T]):
    """Steps a plan for a driver: `next_effect()` until None, then `result`."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self._reply: Reply = None
        self._error: httpx.HTTPError | None = None
        self._result: tuple[T] | None = None

    def next_effect(self) -> Effect | None:
        """The plan's next effect, or None once it has returned (it raises what the plan raises)."""
        reply, error = self._reply, self._error
        self._reply, self._error = None, None
        try:
            return self._plan.throw(error) if error is not None else self._plan.send(reply)
        except StopIteration as stop:
            self._result = (stop.value,)
            return None

    def answer(self, response: httpx.Response) -> None:
        """The answer to the last `Send`."""
        self._reply = response

    def fail(self, error: httpx.HTTPError) -> None:
        """The transport error of the last `Send`; thrown into the plan at the next step."""
        self._error = error

    @property
    def result(self) -> T:
        """What the plan returned.

        Raises:
            RuntimeError: the plan has not returned yet.
        """
        if self._result is None:
            raise RuntimeError("the plan has not finished")
        return self._result[0]


def _request(send: Send) -> Generator[Effect, Reply, httpx.Response]:
    response = yield send
    if response is None:
        raise RuntimeError(f"the driver answered {send.method} {send.url} with nothing")
    return response


def _sleep(seconds: float) -> Generator[Effect, Reply, None]:
    yield Sleep(seconds)


def _retry_after(exc: ApiError) -> float | None:
    return exc.retry_after_s if isinstance(exc, RateLimitedError) else None


def _check_terminal(status: JobStatus) -> JobStatus:
    if status.status == "failed":
        raise JobFailedError(f"job {status.job_id} failed: {status.error or 'no reason given'}")
    return status


def log_exchange(method: str, url: str, status_code: int, started: float) -> None:
    """The debug line of one request (`started` from time.perf_counter)."""
    if logger.isEnabledFor(logging.DEBUG):  # not even the URL parsed while a 202 waits
        logger.debug(
            "%s %s -> %s in %.3f s",
            method,
            httpx.URL(url).path,
            status_code,
            time.perf_counter() - started,
        )


class ClientCore:
    """What the sync and async clients share: building requests, reading answers, the plans.

    Raises:
        KlingPrepError: the API key is empty.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        profile: ApiProfile | None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise KlingPrepError("the API key is empty")
        self._api_key = api_key.strip()
        self.base_url = base_url.rstrip("/")
        self.profile = profile or get_profile()
        require_submittable(self.profile)  # the wire contract below is vydra's alone
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()

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

    # -- reading answers ---------------------------------------------------------------------

    def _read_submit(
        self, response: httpx.Response, on_accepted: AcceptedCallback | None = None
    ) -> SubmitResult:
        what = "POST " + self.profile.submit_path
        if response.is_success:
            try:
                result = parse_submit_result(decode_json_object(response.content, what))
            except MalformedResponseError as exc:
                return self._salvage_submit(response, exc, on_accepted)
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

    def _salvage_submit(
        self,
        response: httpx.Response,
        exc: MalformedResponseError,
        on_accepted: AcceptedCallback | None,
    ) -> SubmitResult:
        """A 2xx with a broken body: a job may exist and be charged, so keep its id if named."""
        what = "POST " + self.profile.submit_path
        job_id = salvage_job_id(response.content)
        if job_id is None:
            raise self._redact(
                UnknownOutcomeError(
                    f"{what} answered {response.status_code} without a readable jobId; "
                    "the job may exist and be charged: check the account before sending "
                    f"again ({exc})",
                    status_code=response.status_code,
                )
            ) from exc
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

    # -- the plans ---------------------------------------------------------------------------

    def _post_once(
        self, request: SubmitRequest, on_accepted: AcceptedCallback | None
    ) -> Plan[SubmitResult]:
        """One POST: its result, or the error (ApiUnreachableError: provably nothing sent)."""
        try:
            response = yield from _request(Send("POST", self._submit_url(), request.to_json()))
        except httpx.HTTPError as exc:
            raise self._redact(self._post_transport_error(exc)) from exc
        return self._read_submit(response, on_accepted)

    def submit_plan(
        self, request: SubmitRequest, on_accepted: AcceptedCallback | None = None
    ) -> Plan[SubmitResult]:
        """Send one submission; again only after no connection or a 429 (see `KlingClient`)."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return (yield from self._post_once(request, on_accepted))
            except (ApiUnreachableError, RateLimitedError) as exc:
                retry_after_s = _retry_after(exc)
                if attempt == self.retry.max_attempts or (
                    (retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
                delay_s = self.retry.delay_s(attempt, self._rng, retry_after_s)
                logger.warning("submission not accepted (%s); trying again in %.1f s", exc, delay_s)
            yield from _sleep(delay_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, job_id: str) -> Plan[JobStatus]:
        what = f"GET job {job_id}"
        try:
            response = yield from _request(Send("GET", self._job_url(job_id)))
        except httpx.HTTPError as exc:
            raise self._redact(self._get_transport_error(exc, what)) from exc
        return self._read_job(response, job_id)

    def get_plan(self, job_id: str) -> Plan[JobStatus]:
        """The job's current status, retried on transient errors (see `KlingClient.get`)."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return (yield from self._get_once(job_id))
            except TRANSIENT_ERRORS as exc:
                retry_after_s = _retry_after(exc)
                if attempt == self.retry.max_attempts or (
                    (retry_after_s or 0) > self.retry.max_retry_after_s
                ):
                    raise
                delay_s = self.retry.delay_s(attempt, self._rng, retry_after_s)
                logger.info("GET job %s: %s; trying again in %.1f s", job_id, exc, delay_s)
            yield from _sleep(delay_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def wait_plan(
        self,
        job_id: str,
        policy: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Plan[JobStatus]:
        """Poll the job until it ends (see `KlingClient.wait`)."""
        policy = policy or PollPolicy()
        deadline = _Deadline(job_id, policy.deadline_s, self._clock)
        errors_in_row = 0
        while True:
            retry_after_s: float | None = None
            try:
                status = yield from self._get_once(job_id)
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
            yield from _sleep(deadline.cap(policy.delay_s(self._rng, retry_after_s)))


class _Deadline:
    """A wait's deadline: caps each pause, and raises once it has passed."""

    def __init__(self, job_id: str, deadline_s: float | None, clock: Callable[[], float]) -> None:
        self._job_id = job_id
        self._deadline_s = deadline_s
        self._clock = clock
        self._started = clock()

    def cap(self, delay_s: float) -> float:
        """`delay_s`, cut to the time left.

        Raises:
            WaitDeadlineError: no time is left (the job goes on).
        """
        if self._deadline_s is None:
            return delay_s
        remaining_s = self._deadline_s - (self._clock() - self._started)
        if remaining_s <= 0:
            raise WaitDeadlineError(
                f"job {self._job_id} did not finish within {self._deadline_s:g} s; it goes on, "
                f"follow it with `kling-prep wait {self._job_id}`"
            )
        return min(delay_s, remaining_s)
