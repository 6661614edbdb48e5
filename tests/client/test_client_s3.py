"""Uploads to a local S3-compatible server (moto in server mode): the presigned URLs it gives are
fetched by the sandbox, and the job completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from client_fixtures import API_KEY, PROMPT, make_image, make_video

from kling_prep.client import (
    JobJournal,
    KlingClient,
    PollPolicy,
    PresignedS3Uploader,
    SubmissionRunner,
    SubmissionState,
)
from kling_prep.errors import ConfigError, DuplicateSubmissionError, UploadError
from kling_prep.sandbox import SandboxServer

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def make_uploader(endpoint: str, bucket: str) -> PresignedS3Uploader:
    uploader = PresignedS3Uploader(
        bucket,
        endpoint_url=endpoint,
        region_name="us-east-1",
        expires_s=3600,
        client_options=CREDENTIALS,
    )
    return uploader


def test_uploaded_files_get_presigned_urls_the_sandbox_can_fetch(
    s3_endpoint: str, tmp_path: Path
) -> None:
    uploader = make_uploader(s3_endpoint, "kling-inputs")
    uploader._s3().create_bucket(Bucket="kling-inputs")
    video = make_video(tmp_path / "ref.mp4")
    image = make_image(tmp_path / "char.jpg")

    with (
        SandboxServer(delay_s=0.2) as sandbox,
        KlingClient(API_KEY, base_url=sandbox.url) as client,
    ):
        runner = SubmissionRunner(
            client, JobJournal(tmp_path / "journal.sqlite"), uploader=uploader
        )
        record = runner.submit(image, video, PROMPT)
        assert record.state is SubmissionState.SUBMITTED
        assert record.video_url.startswith(s3_endpoint + "/kling-inputs/kling-prep/")
        assert "X-Amz-Signature=" in record.video_url
        assert record.video_source == str(video)
        finished = runner.wait(record.submission_id, policy=PollPolicy(interval_s=0.05))
        assert finished.state is SubmissionState.COMPLETED
        # The same prepared files again are a duplicate, though their URLs would be new.
        with pytest.raises(DuplicateSubmissionError):
            runner.submit(image, video, PROMPT)
        assert sandbox.stats.posts == 1

    # The URL works without credentials, and the object is keyed by content.
    assert httpx.get(record.video_url).content == video.read_bytes()
    assert uploader.object_key(video) == uploader.object_key(video)


def test_upload_to_a_missing_bucket_is_an_upload_error(s3_endpoint: str, tmp_path: Path) -> None:
    uploader = make_uploader(s3_endpoint, "no-such-bucket")
    with pytest.raises(UploadError, match="no-such-bucket"):
        uploader.upload(make_image(tmp_path / "char.jpg"))


def test_local_file_without_storage_is_a_config_error_before_any_request(tmp_path: Path) -> None:
    image = make_image(tmp_path / "char.jpg")
    with (
        SandboxServer(delay_s=0.2) as sandbox,
        KlingClient(API_KEY, base_url=sandbox.url) as client,
    ):
        runner = SubmissionRunner(client, JobJournal(tmp_path / "journal.sqlite"))
        with pytest.raises(ConfigError, match="needs URLs"):
            runner.submit(image, "https://example.com/v.mp4", PROMPT)
        assert sandbox.stats.posts == 0
        assert runner.journal.records() == []


def test_presigned_expiry_beyond_seven_days_is_refused() -> None:
    with pytest.raises(ConfigError, match="expiry"):
        PresignedS3Uploader("b", expires_s=8 * 24 * 3600)
    assert "secret" not in repr(PresignedS3Uploader("b", client_options=CREDENTIALS))
