"""The client's decisions without any server or transport: each plan of `client/core.py` is
stepped by hand with `httpx.Response` objects and transport errors, and its effects are read."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TypeVar

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT

from kling_prep.client import (
    AsyncKlingClient,
    PollPolicy,
    RetryPolicy,
    SubmitRequest,
    SubmitResult,
)
from kling_prep.client.core import ClientCore, Effect, Plan, PlanRun, Send, Sleep
from kling_prep.errors import (
    ApiUnreachableError,
    JobNotFoundError,
    RateLimitedError,
    ServerError,
    UnknownOutcomeError,
    WaitDeadlineError,
)

JOB_ID = "job-1"
REQUEST = SubmitRequest(  # orientation "video", sound kept: the defaults
    image_url="https://example.com/person.png",
    video_url="https://example.com/moves.mp4",
    prompt=PROMPT,
)
Reply = httpx.Response | httpx.HTTPError
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def core(max_attempts: int = 3, clock: Clock | None = None) -> ClientCore:
    return ClientCore(
        API_KEY,
        "https://api.test",
        None,
        RetryPolicy(max_attempts=max_attempts, backoff_s=0.5, jitter_ratio=0.0),
        clock or Clock(),
        random.Random(7),
    )


def accepted() -> httpx.Response:
    return httpx.Response(202, json={"jobId": JOB_ID, "status": "pending", "creditsCharged": 40})


def job(status: str) -> httpx.Response:
    output = {"videoUrl": "https://cdn.example/out.mp4"} if status == "completed" else None
    return httpx.Response(200, json={"id": JOB_ID, "status": status, "output": output})


class Trace:
    """Steps a plan by hand, answering each `Send` with the next reply; `effects` in order.

    A `Sleep` advances the clock given. What the plan raises goes to the caller, with the
    effects seen so far kept in `effects`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.effects: list[Effect] = []
        self._clock = clock

    def run(self, plan: Plan[T], replies: list[Reply]) -> T:
        run = PlanRun(plan)
        while (effect := run.next_effect()) is not None:
            self.effects.append(effect)
            if isinstance(effect, Sleep):
                if self._clock is not None:
                    self._clock.now_s += effect.seconds
                continue
            reply = replies.pop(0)
            if isinstance(reply, httpx.HTTPError):
                run.fail(reply)
            else:
                run.answer(reply)
        return run.result

    @property
    def sends(self) -> list[Send]:
        return [e for e in self.effects if isinstance(e, Send)]

    @property
    def sleeps(self) -> list[float]:
        return [e.seconds for e in self.effects if isinstance(e, Sleep)]


@pytest.mark.parametrize(
    "doubt",
    [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.Response(502)],
    ids=["read-timeout", "dropped", "5xx"],
)
def test_a_post_in_doubt_is_sent_once_and_never_again(doubt: Reply) -> None:
    trace = Trace()
    with pytest.raises(UnknownOutcomeError):
        trace.run(core().submit_plan(REQUEST), [doubt, accepted()])
    assert trace.effects == [
        Send("POST", "https://api.test/api/v1/models/kling", REQUEST.to_json())
    ]


def test_a_post_that_found_no_connection_is_sent_again_after_a_backoff() -> None:
    trace = Trace()
    result = trace.run(core().submit_plan(REQUEST), [httpx.ConnectError("refused"), accepted()])
    assert [type(e) for e in trace.effects] == [Send, Sleep, Send]
    assert trace.sleeps == [0.5]
    assert result.job_id == JOB_ID


def test_a_post_without_connection_on_every_try_is_unreachable() -> None:
    trace = Trace()
    with pytest.raises(ApiUnreachableError):
        trace.run(core(max_attempts=3).submit_plan(REQUEST), [httpx.ConnectError("refused")] * 3)
    assert trace.sleeps == [0.5, 1.0]


def test_a_429_is_waited_out_but_not_past_max_retry_after() -> None:
    trace = Trace()
    refused = httpx.Response(429, headers={"Retry-After": "9"})
    trace.run(core().submit_plan(REQUEST), [refused, accepted()])
    assert trace.sleeps == [9.0]  # Retry-After is a floor over the 0.5 s backoff
    trace = Trace()
    refused = httpx.Response(429, headers={"Retry-After": "999"})
    with pytest.raises(RateLimitedError):
        trace.run(core().submit_plan(REQUEST), [refused])
    assert len(trace.effects) == 1


def test_on_accepted_sees_the_job_before_the_plan_returns() -> None:
    seen: list[SubmitResult] = []
    Trace().run(core().submit_plan(REQUEST, seen.append), [accepted()])
    assert [r.job_id for r in seen] == [JOB_ID]


def test_a_get_retries_transient_errors_with_doubling_backoff_then_raises() -> None:
    trace = Trace()
    replies: list[Reply] = [httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(500)]
    with pytest.raises(ServerError):
        trace.run(core(max_attempts=3).get_plan(JOB_ID), replies)
    assert trace.sleeps == [0.5, 1.0]
    assert [s.url for s in trace.sends] == ["https://api.test/api/v1/jobs/job-1"] * 3


def test_a_get_of_a_missing_job_is_not_retried() -> None:
    trace = Trace()
    with pytest.raises(JobNotFoundError):
        trace.run(core().get_plan(JOB_ID), [httpx.Response(404, json={"message": "gone"})])
    assert len(trace.effects) == 1


def test_wait_cuts_its_last_pause_to_the_deadline_then_says_how_to_go_on() -> None:
    clock = Clock()
    trace = Trace(clock)
    policy = PollPolicy(interval_s=10.0, jitter_ratio=0.0, deadline_s=25.0)
    with pytest.raises(WaitDeadlineError, match=f"follow it with `kling-prep wait {JOB_ID}`"):
        trace.run(core(clock=clock).wait_plan(JOB_ID, policy), [job("processing")] * 4)
    assert trace.sleeps == [10.0, 10.0, 5.0]
    assert clock.now_s == 25.0


def test_wait_rides_over_errors_up_to_the_policy_then_raises_the_last() -> None:
    policy = PollPolicy(interval_s=1.0, jitter_ratio=0.0, deadline_s=None, max_consecutive_errors=2)
    trace = Trace()
    replies: list[Reply] = [httpx.Response(503), httpx.Response(503)]
    replies += [job("processing"), job("completed")]
    assert trace.run(core().wait_plan(JOB_ID, policy), replies).status == "completed"
    assert len(trace.sends) == 4  # two errors in a row are tolerated, and the count resets
    with pytest.raises(ServerError):
        Trace().run(core().wait_plan(JOB_ID, policy), [httpx.Response(503)] * 3)


def test_a_plan_run_has_no_result_before_the_plan_returns() -> None:
    run = PlanRun(core().get_plan(JOB_ID))
    assert isinstance(run.next_effect(), Send)
    with pytest.raises(RuntimeError, match="not finished"):
        _ = run.result


def test_the_async_client_logs_and_words_its_deadline_as_the_sync_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The drift the two copies had: the async client retried silently and its deadline message
    did not say how to follow the job."""
    answers: list[Reply] = [httpx.ConnectError("refused"), accepted()]
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now_s += seconds

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0) if answers else job("processing")
        if isinstance(answer, httpx.HTTPError):
            raise answer
        return answer

    async def scenario() -> None:
        async with AsyncKlingClient(
            API_KEY,
            base_url="https://api.test",
            transport=httpx.MockTransport(handler),
            sleep=sleep,
            clock=clock,
        ) as client:
            result = await client.submit(REQUEST)
            await client.wait(result.job_id, policy=PollPolicy(interval_s=10.0, deadline_s=15.0))

    caplog.set_level(logging.INFO, logger="kling_prep.client.api")
    with pytest.raises(WaitDeadlineError, match="follow it with `kling-prep wait job-1`"):
        asyncio.run(scenario())
    assert "submission not accepted" in caplog.text
