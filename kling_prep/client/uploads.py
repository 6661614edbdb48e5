"""Turning inputs into the URLs the API needs: URLs the user gives pass through, local files are
uploaded to S3-compatible storage and named by a presigned GET URL.

boto3 is imported inside `PresignedS3Uploader.upload`, so the client starts without it.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from kling_prep.errors import ConfigError, InputError, UploadError

logger = logging.getLogger(__name__)

# SigV4 presigned URLs live at most 7 days.
MAX_PRESIGN_EXPIRY_S = 7 * 24 * 3600


class Uploader(Protocol):
    """Puts a local file where the API can fetch it."""

    def upload(self, path: Path) -> str:
        """Upload `path` and return an http(s) URL the API can GET.

        Raises:
            UploadError: the upload failed.
        """
        ...


def is_url(source: str | Path) -> bool:
    """Whether `source` is an http(s) URL (anything else is taken for a path)."""
    return isinstance(source, str) and urlsplit(source).scheme in ("http", "https")


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's content.

    Raises:
        InputError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    return digest.hexdigest()


def resolve_input_url(source: str | Path, uploader: Uploader | None) -> str:
    """The URL to send for one input: a given URL as is, a local file uploaded.

    Raises:
        ConfigError: `source` is a local file and no uploader is configured.
        InputError: the file does not exist.
        UploadError: the upload failed.
    """
    if is_url(source):
        return str(source)
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such file (and not an http(s) URL)")
    if uploader is None:
        raise ConfigError(
            f"{path} is a local file, but the API needs URLs: give an http(s) URL or configure "
            "S3-compatible storage for uploads"
        )
    return uploader.upload(path)


class PresignedS3Uploader:
    """Uploads to an S3-compatible bucket and returns presigned GET URLs.

    Objects are keyed by content hash, so uploading the same prepared file twice stores it once.

    Args:
        bucket: the bucket's name (it must exist).
        prefix: prepended to every object key.
        endpoint_url: the storage's endpoint (MinIO, R2, a local test server); None for AWS.
        region_name: the region, if the storage needs one.
        expires_s: how long the URLs stay valid: long enough for a queued job (default 24 h).
        client_options: extra keyword arguments for `boto3.client("s3", ...)` (credentials,
            botocore config). Without credentials here, boto3's own chain is used.

    Raises:
        ConfigError: `expires_s` is not in (0, 7 days].
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "kling-prep/",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        expires_s: int = 24 * 3600,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not 0 < expires_s <= MAX_PRESIGN_EXPIRY_S:
            raise ConfigError(
                f"presigned URL expiry is {expires_s} s; it must be in 1..{MAX_PRESIGN_EXPIRY_S}"
            )
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        self.expires_s = expires_s
        self._client_options = dict(client_options or {})
        self._client: Any = None

    def __repr__(self) -> str:
        # client_options may hold credentials: never shown.
        return f"PresignedS3Uploader(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError as exc:
                raise ConfigError("uploads need boto3: pip install 'kling-prep[s3]'") from exc
            from botocore.config import Config

            options = dict(self._client_options)
            # SigV4 everywhere: some set-ups default to SigV2 URLs, which newer storage refuses.
            options.setdefault("config", Config(signature_version="s3v4"))
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region_name, **options
            )
        return self._client

    def object_key(self, path: Path) -> str:
        """The object key for a file: the prefix, its content hash, its name."""
        return f"{self.prefix}{file_sha256(path)[:16]}/{path.name}"

    def upload(self, path: Path) -> str:
        """Upload `path` and return a presigned GET URL valid for `expires_s`.

        Raises:
            ConfigError: boto3 is not installed.
            InputError: the file cannot be read.
            UploadError: the storage refused or could not be reached.
        """
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = self._s3()
        key = self.object_key(path)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
            url = s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.expires_s,
            )
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise UploadError(
                f"{path} could not be uploaded to bucket {self.bucket}: {exc}"
            ) from exc
        logger.info("uploaded %s to s3://%s/%s", path.name, self.bucket, key)
        return str(url)
