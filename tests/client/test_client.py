"""The client against an httpx MockTransport: the documented JSON, each error class, retries,
polling, and the rule that a POST in doubt is never sent twice."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT

from kling_prep.client import (
    AsyncKlingClient,
    KlingClient,
    PollPolicy,
    RetryPolicy,
    SubmitRequest,
)
from kling_prep.errors import (
    ApiTimeoutError,
    ApiUnreachableError,
    AuthenticationError,
    InsufficientCreditsError,
    JobFailedError,
    JobNotFoundError,
    MalformedResponseError,
    OutputNotPlayableError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    UnknownOutcomeError,
    WaitDeadlineError,
)

JOB_ID = "550e8400-e29b-41d4-a716-446655440000"
# The examples, verbatim.
SEED_SUBMIT_ANSWER = {
    "jobId": JOB_ID,
    "status": "pending",
    "message": "Motion control job created. Poll /api/v1/jobs/{jobId} for status.",
    "creditsCharged": 40,
    "externalJobId": "fal-xyz789",
    "input": {"image_url": "...", "video_url": "...", "character_orientation": "video"},
}
SEED_JOB_ANSWER = {
    "id": JOB_ID,
    "status": "completed",
    "output": {"videoUrl": "https://cdn.example/output.mp4", "durationSeconds": 15},
    "createdAt": "2024-01-26T12:00:00.000Z",
    "completedAt": "2024-01-26T12:04:00.000Z",
}
REQUEST = SubmitRequest(
    image_url="https://example.com/character.jpg",
    video_url="https://example.com/dance-reference.mp4",
    prompt=PROMPT,
    character_orientation="video",
    keep_original_sound=True,
)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A clock that advances only when the client sleeps."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps_s: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps_s.append(seconds)
        self.now_s += seconds

    def __call__(self) -> float:
        return self.now_s


def make_client(handler: Handler, clock: FakeClock | None = None) -> KlingClient:
    clock = clock or FakeClock()
    return KlingClient(
        API_KEY,
        base_url="https://api.test",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(7),
        retry=RetryPolicy(max_attempts=3, backoff_s=0.5),
    )


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> Handler:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json=body, headers=headers)

    handler.calls = calls  # type: ignore[attr-defined]
    return handler


def test_seed_submission_round_trips_field_for_field() -> None:
    handler = answer(202, SEED_SUBMIT_ANSWER)
    with make_client(handler) as client:
        result = client.submit(REQUEST)
    sent = handler.calls[0]  # type: ignore[attr-defined]
    assert sent.method == "POST"
    assert sent.url == "https://api.test/api/v1/models/kling"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert json.loads(sent.content) == {
        "image_url": "https://example.com/character.jpg",
        "video_url": "https://example.com/dance-reference.mp4",
        "prompt": "A person dancing energetically in a studio",
        "character_orientation": "video",
        "keep_original_sound": True,
    }
    assert result.job_id == JOB_ID
    assert result.status == "pending"
    assert result.credits_charged == 40
    assert result.external_job_id == "fal-xyz789"
    assert result.input["character_orientation"] == "video"


def test_seed_job_answer_round_trips() -> None:
    with make_client(answer(200, SEED_JOB_ANSWER)) as client:
        status = client.get(JOB_ID)
    assert status.job_id == JOB_ID
    assert status.is_terminal
    assert status.output is not None
    assert status.output.video_url == "https://cdn.example/output.mp4"
    assert status.output.duration_s == 15.0
    assert status.created_at is not None
    assert status.completed_at is not None
    assert (status.completed_at - status.created_at).total_seconds() == 240


@pytest.mark.parametrize(
    ("status_code", "error_class"),
    [
        (400, RequestRejectedError),
        (422, RequestRejectedError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
    ],
)
def test_definite_refusals_of_a_submission_raise_their_class_with_the_api_message(
    status_code: int, error_class: type[Exception]
) -> None:
    handler = answer(status_code, {"error": "x", "message": "video_url lasts 42 s"})
    with make_client(handler) as client, pytest.raises(error_class, match="video_url lasts 42 s"):
        client.submit(REQUEST)
    assert len(handler.calls) == 1  # type: ignore[attr-defined]


def test_unknown_job_raises_job_not_found() -> None:
    handler = answer(404, {"message": "Job nope not found"})
    with make_client(handler) as client, pytest.raises(JobNotFoundError, match="not found"):
        client.get("nope")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(500, json={"message": "boom"}),
        httpx.Response(503, text="<html>gateway</html>"),
        httpx.Response(202, json={"status": "pending"}),
        httpx.Response(202, text="not json"),
    ],
    ids=["read-timeout", "dropped", "500", "503-html", "202-without-jobId", "202-not-json"],
)
def test_unknown_outcome_is_not_resubmitted(failure: Exception | httpx.Response) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if isinstance(failure, Exception):
            raise failure
        return failure

    with (
        make_client(handler) as client,
        pytest.raises(UnknownOutcomeError, match=r"not re-sent|may exist"),
    ):
        client.submit(REQUEST)
    assert len(calls) == 1


def test_submission_refused_with_429_is_sent_again_after_retry_after() -> None:
    answers = [
        httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "3"}),
        httpx.Response(202, json=SEED_SUBMIT_ANSWER),
    ]
    clock = FakeClock()
    with make_client(lambda request: answers.pop(0), clock) as client:
        result = client.submit(REQUEST)
    assert result.job_id == JOB_ID
    assert len(clock.sleeps_s) == 1
    assert clock.sleeps_s[0] >= 3.0


def test_submission_without_connection_is_retried_then_unreachable() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused")

    with make_client(handler) as client, pytest.raises(ApiUnreachableError):
        client.submit(REQUEST)
    assert len(calls) == 3


def test_get_retries_server_errors_with_growing_backoff() -> None:
    answers = [
        httpx.Response(502, text="bad gateway"),
        httpx.Response(500, json={}),
        httpx.Response(200, json=SEED_JOB_ANSWER),
    ]
    clock = FakeClock()
    with make_client(lambda request: answers.pop(0), clock) as client:
        assert client.get(JOB_ID).status == "completed"
    assert len(clock.sleeps_s) == 2
    assert 0.4 <= clock.sleeps_s[0] <= 0.6  # 0.5 s +- 20 %
    assert 0.8 <= clock.sleeps_s[1] <= 1.2  # doubled


def test_get_honours_retry_after_then_raises_rate_limited() -> None:
    clock = FakeClock()
    handler = answer(429, {"message": "slow down"}, {"Retry-After": "7"})
    with make_client(handler, clock) as client, pytest.raises(RateLimitedError) as caught:
        client.get(JOB_ID)
    assert caught.value.retry_after_s == 7.0
    assert clock.sleeps_s == [pytest.approx(7.0), pytest.approx(7.0)]


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.ReadTimeout("slow"), ApiTimeoutError),
        (httpx.ConnectError("refused"), ApiUnreachableError),
        (httpx.Response(500, json={}), ServerError),
        (httpx.Response(200, text="{not json"), MalformedResponseError),
        (httpx.Response(200, json={"id": JOB_ID}), MalformedResponseError),
        (httpx.Response(200, json={"id": JOB_ID, "status": "completed"}), MalformedResponseError),
    ],
    ids=["timeout", "unreachable", "5xx", "not-json", "no-status", "completed-without-output"],
)
def test_get_failures_raise_their_class(
    failure: Exception | httpx.Response, error_class: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    with make_client(handler) as client, pytest.raises(error_class):
        client.get(JOB_ID)


def job(status: str) -> httpx.Response:
    body = dict(SEED_JOB_ANSWER, status=status)
    if status != "completed":
        body["output"] = None
    if status == "failed":
        body["error"] = "no person found in the reference video"
    return httpx.Response(200, json=body)


def test_wait_polls_with_jitter_and_reports_progress_until_completed() -> None:
    answers = [job("pending"), job("processing"), job("processing"), job("completed")]
    clock = FakeClock()
    seen: list[str] = []
    with make_client(lambda request: answers.pop(0), clock) as client:
        final = client.wait(
            JOB_ID, policy=PollPolicy(interval_s=10.0), on_progress=lambda s: seen.append(s.status)
        )
    assert final.status == "completed"
    assert seen == ["pending", "processing", "processing", "completed"]
    assert len(clock.sleeps_s) == 3
    assert all(8.0 <= s <= 12.0 for s in clock.sleeps_s)
    assert len(set(clock.sleeps_s)) == 3  # jittered, not in step


def test_wait_rides_over_transient_errors_and_honours_retry_after() -> None:
    answers = [
        job("processing"),
        httpx.Response(429, headers={"Retry-After": "30"}),
        httpx.Response(503),
        job("completed"),
    ]
    clock = FakeClock()
    with make_client(lambda request: answers.pop(0), clock) as client:
        assert client.wait(JOB_ID, policy=PollPolicy(interval_s=10.0)).status == "completed"
    assert clock.sleeps_s[1] >= 30.0


def test_wait_raises_job_failed_with_the_reason() -> None:
    client = make_client(lambda request: job("failed"))
    with client, pytest.raises(JobFailedError, match="no person found"):
        client.wait(JOB_ID)


def test_wait_stops_at_the_deadline() -> None:
    clock = FakeClock()
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return job("processing")

    with (
        make_client(handler, clock) as client,
        pytest.raises(WaitDeadlineError, match="kling-prep wait"),
    ):
        client.wait(JOB_ID, policy=PollPolicy(interval_s=10.0, deadline_s=35.0))
    assert clock.now_s == pytest.approx(35.0)
    assert 4 <= len(calls) <= 6


def test_wait_gives_up_on_a_missing_job_at_once() -> None:
    handler = answer(404, {"message": "gone"})
    with make_client(handler) as client, pytest.raises(JobNotFoundError):
        client.wait(JOB_ID)
    assert len(handler.calls) == 1  # type: ignore[attr-defined]


def test_api_key_never_appears_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    echo = {"message": f"key Bearer {API_KEY} is revoked"}
    caplog.set_level(logging.DEBUG)
    with make_client(answer(401, echo)) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.submit(REQUEST)
        assert API_KEY not in repr(client)
    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value)
    assert API_KEY not in caplog.text


def test_download_does_not_send_the_key_to_the_output_host(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"<html>not a video</html>")

    dest = tmp_path / "out.mp4"
    with make_client(handler) as client, pytest.raises(OutputNotPlayableError):
        client.download("https://cdn.example/output.mp4", dest)
    assert "authorization" not in seen[0].headers
    assert not dest.exists()
    assert not list(tmp_path.iterdir())  # no partial file left


def test_async_client_submits_waits_and_maps_errors() -> None:
    answers = [httpx.Response(202, json=SEED_SUBMIT_ANSWER), job("processing"), job("completed")]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> tuple[str, str]:
        async with AsyncKlingClient(
            API_KEY,
            base_url="https://api.test",
            transport=httpx.MockTransport(lambda request: answers.pop(0)),
            sleep=fake_sleep,
        ) as client:
            result = await client.submit(REQUEST)
            final = await client.wait(result.job_id, policy=PollPolicy(interval_s=1.0))
            return result.job_id, final.status

    assert asyncio.run(scenario()) == (JOB_ID, "completed")
    assert len(sleeps) == 1


def test_async_unknown_outcome_is_not_resubmitted() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow")

    async def scenario() -> None:
        async with AsyncKlingClient(
            API_KEY, base_url="https://api.test", transport=httpx.MockTransport(handler)
        ) as client:
            await client.submit(REQUEST)

    with pytest.raises(UnknownOutcomeError):
        asyncio.run(scenario())
    assert len(calls) == 1
