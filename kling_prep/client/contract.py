"""The hosted API's documented contract as data: request and answer types, parsing, error mapping.

No I/O here: the sync and async clients share these functions, and the sandbox's tests use them
to check that what it sends is what the client expects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from kling_prep.errors import (
    ApiError,
    AuthenticationError,
    InsufficientCreditsError,
    JobNotFoundError,
    MalformedResponseError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)
from kling_prep.limits import Orientation

JobState = Literal["pending", "processing", "completed", "failed"]
TERMINAL_STATES: frozenset[str] = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class SubmitRequest:
    """The body of `POST /api/v1/models/kling`, field for field."""

    image_url: str
    video_url: str
    prompt: str
    character_orientation: Orientation = "video"
    keep_original_sound: bool = True

    def to_json(self) -> dict[str, Any]:
        """The JSON body, with the API's field names."""
        return {
            "image_url": self.image_url,
            "video_url": self.video_url,
            "prompt": self.prompt,
            "character_orientation": self.character_orientation,
            "keep_original_sound": self.keep_original_sound,
        }


@dataclass(frozen=True)
class SubmitResult:
    """The `202 Accepted` answer to a submission: the job exists and credits were charged."""

    job_id: str
    status: str
    message: str | None = None
    credits_charged: int | None = None
    external_job_id: str | None = None
    input: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutput:
    """A completed job's output: the video's URL and its duration."""

    video_url: str
    duration_s: float | None = None


@dataclass(frozen=True)
class JobStatus:
    """The answer to `GET /api/v1/jobs/{jobId}`."""

    job_id: str
    status: str
    output: JobOutput | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended (completed or failed)."""
        return self.status in TERMINAL_STATES


def _parse_time(value: Any, field_name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(f"{field_name} is {value!r}, not an ISO 8601 string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedResponseError(f"{field_name} is {value!r}, not an ISO 8601 time") from exc


def decode_json_object(content: bytes, what: str) -> dict[str, Any]:
    """The JSON object in an answer's body.

    Args:
        content: the raw body.
        what: names the answer in the error (e.g. "the submission's answer").

    Raises:
        MalformedResponseError: the body is not a JSON object.
    """
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponseError(f"{what} is not JSON: {content[:80]!r}") from exc
    if not isinstance(data, dict):
        raise MalformedResponseError(f"{what} is not a JSON object: {content[:80]!r}")
    return data


def parse_submit_result(data: Mapping[str, Any]) -> SubmitResult:
    """Read a submission's answer leniently: only `jobId` is indispensable.

    A 202 without a usable `jobId` means a job may exist that we cannot name, so the caller turns
    this error into an unknown outcome rather than a plain failure.

    Raises:
        MalformedResponseError: `jobId` is missing or not a non-empty string.
    """
    job_id = data.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedResponseError(f"the submission's answer has no jobId: {dict(data)!r:.200}")
    credits = data.get("creditsCharged")
    external = data.get("externalJobId")
    message = data.get("message")
    raw_input = data.get("input")
    return SubmitResult(
        job_id=job_id,
        status=str(data.get("status") or "pending"),
        message=message if isinstance(message, str) else None,
        credits_charged=credits
        if isinstance(credits, int) and not isinstance(credits, bool)
        else None,
        external_job_id=external if isinstance(external, str) else None,
        input=dict(raw_input) if isinstance(raw_input, dict) else {},
    )


# A jobId written as the API writes it, found in a 2xx body too broken to parse (cut short, or
# JSON with an error around it): the id of a charged job is worth keeping.
_JOB_ID_IN_BODY = re.compile(rb'"jobId"\s*:\s*"([A-Za-z0-9][A-Za-z0-9._:-]{0,127})"')


def salvage_job_id(content: bytes) -> str | None:
    """The one `"jobId": "..."` in an unparsable answer's body, or None if not exactly one."""
    found = {match.decode("ascii") for match in _JOB_ID_IN_BODY.findall(content)}
    return found.pop() if len(found) == 1 else None


def parse_job_status(data: Mapping[str, Any]) -> JobStatus:
    """Read a job's answer.

    Raises:
        MalformedResponseError: `id` or `status` is missing, or a completed job has no
            `output.videoUrl`.
    """
    job_id = data.get("id")
    status = data.get("status")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedResponseError(f"the job's answer has no id: {dict(data)!r:.200}")
    if not isinstance(status, str) or not status:
        raise MalformedResponseError(f"the job's answer has no status: {dict(data)!r:.200}")
    output: JobOutput | None = None
    raw_output = data.get("output")
    if isinstance(raw_output, dict) and raw_output.get("videoUrl") is not None:
        video_url = raw_output["videoUrl"]
        duration = raw_output.get("durationSeconds")
        if not isinstance(video_url, str) or not video_url.startswith(("http://", "https://")):
            raise MalformedResponseError(f"output.videoUrl is {video_url!r}, not an http(s) URL")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float)
        ):
            raise MalformedResponseError(f"output.durationSeconds is {duration!r}, not a number")
        output = JobOutput(video_url=video_url, duration_s=float(duration) if duration else None)
    if status == "completed" and output is None:
        raise MalformedResponseError(f"job {job_id} is completed but has no output.videoUrl")
    return JobStatus(
        job_id=job_id,
        status=status,
        output=output,
        created_at=_parse_time(data.get("createdAt"), "createdAt"),
        completed_at=_parse_time(data.get("completedAt"), "completedAt"),
        error=_error_text(data),
    )


def _error_text(data: Mapping[str, Any]) -> str | None:
    """The human message in an error body; the API documents none, so several shapes are read."""
    for key in ("message", "error", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            nested = value.get("message")
            if isinstance(nested, str) and nested:
                return nested
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date).

    Returns:
        The delay in seconds (never negative), or None if the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    reference = now or datetime.now(when.tzinfo)
    return max(0.0, (when - reference).total_seconds())


def error_for_status(
    status_code: int, content: bytes, headers: Mapping[str, str], *, what: str
) -> ApiError:
    """The typed error for a non-2xx answer.

    Args:
        status_code: the HTTP status.
        content: the body, whose message (if any) is kept.
        headers: the answer's headers (for `Retry-After`).
        what: names the request in the message, e.g. "GET job 123".

    Returns:
        The exception to raise (not raised here, so callers can add context).
    """
    try:
        body = json.loads(content) if content else {}
    except (ValueError, UnicodeDecodeError):
        body = {}
    api_message = _error_text(body) if isinstance(body, dict) else None
    suffix = f": {api_message}" if api_message else ""
    text = f"{what} answered {status_code}{suffix}"
    if status_code in (400, 422):
        return RequestRejectedError(text, status_code=status_code)
    if status_code in (401, 403):
        return AuthenticationError(text, status_code=status_code)
    if status_code == 402:
        return InsufficientCreditsError(text, status_code=status_code)
    if status_code == 404:
        return JobNotFoundError(text, status_code=status_code)
    if status_code == 429:
        retry_after_s = parse_retry_after(headers.get("retry-after"))
        return RateLimitedError(text, retry_after_s=retry_after_s)
    if status_code >= 500:
        return ServerError(text, status_code=status_code)
    if 400 <= status_code < 500:
        return RequestRejectedError(text, status_code=status_code)
    return MalformedResponseError(f"{what} answered an unexpected {status_code}{suffix}")
