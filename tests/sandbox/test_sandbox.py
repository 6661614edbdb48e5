"""The sandbox on a loopback port, through the real client: the documented JSON, its limits,
credits, a real watermarked MP4, and each injected fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from client_fixtures import (
    API_KEY,
    PROMPT,
    StaticFileServer,
    make_image,
    make_video,
    served_pair,
)

from kling_prep.client import KlingClient, PollPolicy, RetryPolicy, SubmitRequest
from kling_prep.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientCreditsError,
    JobFailedError,
    JobNotFoundError,
    RequestRejectedError,
    UnknownOutcomeError,
)
from kling_prep.sandbox import FaultPlan, SandboxProcess, SandboxServer

FAST_POLL = PollPolicy(interval_s=0.05, jitter_ratio=0.2, deadline_s=30.0)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticFileServer]:
    root = tmp_path_factory.mktemp("media")
    make_video(root / "short.mp4", duration_s=2.0, has_audio=False)
    make_image(root / "tiny.jpg", width=200, height=200)
    with served_pair(root) as server:
        yield server


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(delay_s=0.2) as server:
        yield server


def client_for(sandbox: SandboxServer, key: str = API_KEY) -> KlingClient:
    return KlingClient(key, base_url=sandbox.url, retry=RetryPolicy(max_attempts=3, backoff_s=0.05))


def request(
    media: StaticFileServer, video: str = "ref.mp4", image: str = "char.jpg", **extra: object
) -> SubmitRequest:
    return SubmitRequest(media.url(image), media.url(video), PROMPT, **extra)  # type: ignore[arg-type]


def test_submission_answers_the_documented_json_and_completes_with_a_playable_mp4(
    media: StaticFileServer, tmp_path: Path
) -> None:
    # 2 s: the job stays pending for half a second, room for the first poll on a busy machine.
    with SandboxServer(delay_s=2.0) as sandbox:
        check_documented_round_trip(sandbox, media, tmp_path)


def check_documented_round_trip(
    sandbox: SandboxServer, media: StaticFileServer, tmp_path: Path
) -> None:
    body = request(media).to_json()
    # The client is built before the POST, so the first poll follows its answer at once.
    client = client_for(sandbox)
    answer = httpx.post(
        sandbox.url + "/api/v1/models/kling",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    assert answer.status_code == 202
    data = answer.json()
    assert set(data) == {"jobId", "status", "message", "creditsCharged", "externalJobId", "input"}
    assert data["status"] == "pending"
    assert data["creditsCharged"] == 40
    assert data["message"] == "Motion control job created. Poll /api/v1/jobs/{jobId} for status."
    assert data["input"] == {
        "image_url": body["image_url"],
        "video_url": body["video_url"],
        "character_orientation": "video",
    }
    assert sandbox.balance(API_KEY) == 960

    seen: list[str] = []
    with client:
        final = client.wait(
            data["jobId"], policy=FAST_POLL, on_progress=lambda s: seen.append(s.status)
        )
        assert final.output is not None
        assert final.output.duration_s == pytest.approx(3.5, abs=0.1)
        out = client.download(final.output.video_url, tmp_path / "out.mp4")
    phases = ["pending", "processing", "completed"]
    assert seen[0] == "pending"
    assert "processing" in seen
    assert seen[-1] == "completed"
    assert seen == sorted(seen, key=phases.index)
    assert final.completed_at is not None
    assert final.created_at is not None
    assert final.completed_at > final.created_at
    assert out.stat().st_size > 10_000
    assert sandbox.stats.file_gets_with_auth == 0


def test_output_carries_a_visible_watermark(
    sandbox: SandboxServer, media: StaticFileServer, tmp_path: Path
) -> None:
    import av
    import numpy as np

    with client_for(sandbox) as client:
        job = client.submit(request(media))
        final = client.wait(job.job_id, policy=FAST_POLL)
        assert final.output is not None
        out = client.download(final.output.video_url, tmp_path / "out.mp4")

    def band_luma(path: Path) -> float:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="gray")
        height = frame.shape[0]
        return float(np.mean(frame[int(height * 0.83) : int(height * 0.93), :]))

    # testsrc2's lower band is bright colour bars; the sandbox darkens it and writes text on it.
    reference = tmp_path / "ref.mp4"
    reference.write_bytes(httpx.get(media.url("ref.mp4")).content)
    assert band_luma(out) < 0.7 * band_luma(reference)


def test_unknown_job_answers_404_as_json(sandbox: SandboxServer) -> None:
    answer = httpx.get(
        sandbox.url + "/api/v1/jobs/does-not-exist", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert "does-not-exist" in answer.json()["message"]
    with client_for(sandbox) as client, pytest.raises(JobNotFoundError):
        client.get("does-not-exist")


def test_missing_key_is_refused(sandbox: SandboxServer, media: StaticFileServer) -> None:
    answer = httpx.post(sandbox.url + "/api/v1/models/kling", json=request(media).to_json())
    assert answer.status_code == 401
    assert sandbox.job_count() == 0


def test_keys_file_limits_the_valid_keys(tmp_path: Path, media: StaticFileServer) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nsk-alpha 80\nsk-beta\n")
    from kling_prep.sandbox import read_keys_file

    with SandboxServer(delay_s=0.2, keys=read_keys_file(keys, 1000)) as server:
        assert server.balance("sk-alpha") == 80
        assert server.balance("sk-beta") == 1000
        with client_for(server, "sk-gamma") as client, pytest.raises(AuthenticationError):
            client.submit(request(media))


def test_credits_run_out_with_402_and_nothing_is_charged(media: StaticFileServer) -> None:
    with SandboxServer(delay_s=0.2, credits=40) as server, client_for(server) as client:
        client.submit(request(media))
        with pytest.raises(InsufficientCreditsError, match="balance is 0"):
            client.submit(request(media))
        assert server.balance(API_KEY) == 0
        assert server.job_count() == 1


@pytest.mark.parametrize(
    ("overrides", "status_code", "message"),
    [
        ({"video": "short.mp4"}, 422, "lasts 2.00 s"),
        ({"image": "tiny.jpg"}, 422, "at least 340 px"),
        ({"video": "missing.mp4"}, 422, "could not be fetched: it answered 404"),
        ({"prompt": "x" * 2501}, 400, "2501 characters"),
        ({"prompt": ""}, 400, "prompt is required"),
        ({"character_orientation": "sideways"}, 400, "character_orientation"),
    ],
)
def test_documented_limits_are_applied_and_cost_nothing(
    sandbox: SandboxServer,
    media: StaticFileServer,
    overrides: dict[str, str],
    status_code: int,
    message: str,
) -> None:
    body = request(media, overrides.pop("video", "ref.mp4"), overrides.pop("image", "char.jpg"))
    payload = {**body.to_json(), **overrides}
    with (
        client_for(sandbox) as client,
        pytest.raises(RequestRejectedError, match=message) as caught,
    ):
        client._read_submit(
            httpx.post(
                sandbox.url + "/api/v1/models/kling",
                json=payload,
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            )
        )
    assert caught.value.status_code == status_code
    assert sandbox.balance(API_KEY) == 1000


def test_image_orientation_allows_at_most_ten_seconds(
    sandbox: SandboxServer, media: StaticFileServer, tmp_path: Path
) -> None:
    long_video = make_video(
        tmp_path / "long.mp4", duration_s=10.5, width=340, height=340, has_audio=False
    )
    with StaticFileServer(tmp_path) as files, client_for(sandbox) as client:
        body = SubmitRequest(media.url("char.jpg"), files.url(long_video.name), PROMPT, "image")
        with pytest.raises(RequestRejectedError, match="3-10 s"):
            client.submit(body)
        assert client.submit(SubmitRequest(body.image_url, body.video_url, PROMPT, "video")).job_id


def test_drop_after_accept_charges_and_leaves_the_outcome_unknown(
    sandbox: SandboxServer, media: StaticFileServer
) -> None:
    sandbox.set_faults("drop@post:times=1")
    with client_for(sandbox) as client, pytest.raises(UnknownOutcomeError):
        client.submit(request(media))
    assert sandbox.stats.posts == 1
    assert sandbox.job_count() == 1
    assert sandbox.balance(API_KEY) == 960


def test_rate_limit_on_post_is_retried_after_retry_after(
    sandbox: SandboxServer, media: StaticFileServer
) -> None:
    sandbox.set_faults("ratelimit@post:retry_after=0.1,times=1")
    with client_for(sandbox) as client:
        assert client.submit(request(media)).job_id
    assert sandbox.stats.posts == 2
    assert sandbox.job_count() == 1


def test_server_errors_on_get_are_ridden_over(
    sandbox: SandboxServer, media: StaticFileServer
) -> None:
    sandbox.set_faults("error@get:status=503,times=2;latency@get:s=0.01")
    with client_for(sandbox) as client:
        job = client.submit(request(media))
        assert client.wait(job.job_id, policy=FAST_POLL).status == "completed"


def test_failed_job_raises_job_failed(sandbox: SandboxServer, media: StaticFileServer) -> None:
    sandbox.set_faults("fail:times=1,message=GPU out of memory, try later")
    with client_for(sandbox) as client:
        job = client.submit(request(media))
        with pytest.raises(JobFailedError, match="GPU out of memory, try later"):
            client.wait(job.job_id, policy=FAST_POLL)
        second = client.submit(request(media, keep_original_sound=False))
        assert client.wait(second.job_id, policy=FAST_POLL).status == "completed"


@pytest.mark.parametrize(
    "spec", ["explode", "error@nowhere", "error:status=404", "latency:s=-1", "drop:color=red"]
)
def test_bad_fault_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        FaultPlan.parse(spec)


def test_fault_rules_count_times_and_after() -> None:
    plan = FaultPlan.parse("error@get:after=1,times=2")
    fired = [bool(plan.draw("get")) for _ in range(5)]
    assert fired == [False, True, True, False, False]
    assert plan.draw("post") == []


def test_sandbox_runs_as_a_process(media: StaticFileServer) -> None:
    with (
        SandboxProcess(delay_s=0.2, credits=100) as process,
        client_for_url(process.url) as client,
    ):
        job = client.submit(request(media))
        assert client.wait(job.job_id, policy=FAST_POLL).status == "completed"
        with pytest.raises(JobNotFoundError):
            client.get("nope")


def client_for_url(url: str) -> KlingClient:
    return KlingClient(API_KEY, base_url=url)
