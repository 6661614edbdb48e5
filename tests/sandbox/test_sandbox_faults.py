"""The sandbox's fault kinds for the client-fault suite, seen on the wire (plain httpx, no
kling_prep client): malformed answers, answers cut mid-body, jobs that never finish, and a POST
whose client left during an injected latency."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT, StaticFileServer, served_pair

from kling_prep.errors import ConfigError
from kling_prep.sandbox import FaultPlan, SandboxServer

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticFileServer]:
    with served_pair(tmp_path_factory.mktemp("media")) as server:
        yield server


def _body(media: StaticFileServer) -> dict[str, object]:
    return {
        "image_url": media.url("char.jpg"),
        "video_url": media.url("ref.mp4"),
        "prompt": PROMPT,
        "character_orientation": "video",
        "keep_original_sound": True,
    }


def _post(sandbox: SandboxServer, media: StaticFileServer, **kwargs: object) -> httpx.Response:
    return httpx.post(
        sandbox.url + "/api/v1/models/kling", json=_body(media), headers=HEADERS, **kwargs
    )


@pytest.mark.parametrize("form", ["cut", "html", "shape"])
def test_malformed_post_answer_is_sent_after_the_charge(media: StaticFileServer, form: str) -> None:
    with SandboxServer(delay_s=0.2) as sandbox:
        sandbox.set_faults(f"malformed@post:form={form},times=1")
        response = _post(sandbox, media, timeout=30)
        assert response.status_code == 202
        with pytest.raises((ValueError, KeyError)):  # not JSON, or JSON without a jobId
            json.loads(response.content)["jobId"]
        assert sandbox.stats.jobs_created == 1
        assert sandbox.balance(API_KEY) == 960
        (job_id,) = sandbox._jobs
        # The cut form keeps the first half of the JSON, where the job id is written.
        assert (job_id in response.text) == (form == "cut")
        # The next POST is answered as usual.
        assert json.loads(_post(sandbox, media, timeout=30).content)["jobId"]


def test_malformed_get_answer_is_complete_as_http_but_not_the_json(
    media: StaticFileServer,
) -> None:
    with SandboxServer(delay_s=0.2) as sandbox:
        job_url = sandbox.url + "/api/v1/jobs/" + _post(sandbox, media, timeout=30).json()["jobId"]
        sandbox.set_faults("malformed@get:form=html,times=1")
        first = httpx.get(job_url, headers=HEADERS, timeout=10)
        second = httpx.get(job_url, headers=HEADERS, timeout=10)
    assert first.status_code == 200
    assert first.text.startswith("<html>")
    assert second.json()["status"] in ("pending", "processing", "completed")


def test_cut_download_announces_the_whole_file_and_sends_part(media: StaticFileServer) -> None:
    with SandboxServer(delay_s=0.2) as sandbox:
        job_id = json.loads(_post(sandbox, media, timeout=30).content)["jobId"]
        assert sandbox.wait_rendered(30)
        time.sleep(0.25)
        url = sandbox.url + f"/files/{job_id}/output.mp4"
        whole = httpx.get(url, timeout=10).content
        sandbox.set_faults("cut@file:share=0.3,times=1")
        received = bytearray()
        announced: list[int] = []

        def read_all() -> None:
            with httpx.stream("GET", url, timeout=10) as response:
                announced.append(int(response.headers["Content-Length"]))
                for chunk in response.iter_bytes():
                    received.extend(chunk)

        with pytest.raises(httpx.RemoteProtocolError):
            read_all()
        assert announced == [len(whole)]
        assert len(received) == int(len(whole) * 0.3)
        assert bytes(received) == whole[: len(received)]
        assert httpx.get(url, timeout=10).content == whole


def test_stuck_job_stays_processing_past_its_delay(media: StaticFileServer) -> None:
    with SandboxServer(delay_s=0.2) as sandbox:
        sandbox.set_faults("stuck:times=1")
        stuck = json.loads(_post(sandbox, media, timeout=30).content)["jobId"]
        normal = json.loads(_post(sandbox, media, timeout=30).content)["jobId"]
        assert sandbox.wait_rendered(30)
        time.sleep(0.5)
        for job_id, status in ((stuck, "processing"), (normal, "completed")):
            answer = httpx.get(sandbox.url + f"/api/v1/jobs/{job_id}", headers=HEADERS, timeout=10)
            assert answer.json()["status"] == status


def test_a_post_whose_client_left_during_the_latency_is_not_charged(
    media: StaticFileServer,
) -> None:
    with SandboxServer(delay_s=0.2) as sandbox:
        sandbox.set_faults("latency@post:s=1.0,times=1")
        with pytest.raises(httpx.ReadTimeout):
            _post(sandbox, media, timeout=0.3)
        deadline = time.monotonic() + 10
        while sandbox.stats.posts_abandoned == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox.stats.posts_abandoned == 1
        assert sandbox.stats.jobs_created == 0
        assert sandbox.balance(API_KEY) == 1000
        # A client that waits out the same latency gets its job.
        sandbox.set_faults("latency@post:s=0.3,times=1")
        assert _post(sandbox, media, timeout=30).status_code == 202
        assert sandbox.stats.jobs_created == 1


@pytest.mark.parametrize(
    "spec", ["malformed:form=xml", "cut:share=1.5", "cut:share=-0.1", "stuck:s=oops"]
)
def test_bad_values_of_the_new_kinds_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        FaultPlan.parse(spec)


def test_stuck_concerns_accepted_jobs_only() -> None:
    plan = FaultPlan.parse("stuck:times=1")
    assert plan.draw("get") == []
    assert plan.draw("post") == []
    assert [rule.kind for rule in plan.draw("job")] == ["stuck"]
    assert plan.draw("job") == []
