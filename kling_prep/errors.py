"""The one exception tree of kling_prep.

A problem with the user's media is a Finding, not an exception; an exception means the tool
could not do its work. The CLI maps the tree to exit code 3 (usage or environment error).

    KlingPrepError
    ├── InputError                 an input cannot be read at all
    │   ├── UnsupportedMediaError  not an image or a video we can decode
    │   ├── MediaDecodeError       the container or stream is broken
    │   └── MediaTooLargeError     it declares more pixels than kling_prep will decode
    ├── FetchError                 a URL could not be downloaded within the limits
    │   ├── OutputNotPlayableError a job's output is not a playable MP4
    │   └── OutputWriteError       a job's output could not be written where asked
    ├── ToolError                  an external tool is missing or failed
    │   ├── FFmpegNotFoundError
    │   └── FFmpegFailedError
    ├── ConfigError                kling-prep.toml or an environment variable is wrong
    ├── UploadError                a prepared file could not be uploaded to storage
    ├── SubmissionRefusedError     kling_prep refused to send a submission (nothing was sent)
    │   ├── DuplicateSubmissionError   the same prepared inputs were submitted before
    │   ├── BudgetExceededError        the credit budget would be exceeded
    │   └── ConcurrencyLimitError      too many jobs are already running
    ├── ApiError                   the hosted API answered with an error
    │   ├── RequestRejectedError   400/422, with the API's message
    │   ├── AuthenticationError    401
    │   ├── JobNotFoundError       404
    │   ├── InsufficientCreditsError  402
    │   ├── RateLimitedError       429
    │   ├── ServerError            5xx
    │   ├── MalformedResponseError  an answer that does not follow the documented JSON
    │   ├── ApiTimeoutError        no answer in time (for a GET; a POST becomes UnknownOutcome)
    │   │   └── WaitDeadlineError  the job did not finish before the wait's deadline
    │   ├── ApiUnreachableError    no connection could be made: nothing was sent
    │   └── UnknownOutcomeError    a POST whose result is unknown: never re-sent
    └── JobFailedError             the job ended as failed
"""

from __future__ import annotations

import re

# "[Errno 111] ", "[Errno 1094995529] ": the number means nothing to a person; the text after
# it says what happened.
_ERRNO_PREFIX = re.compile(r"\[Errno -?\d+\]\s*")


def without_errno(text: str) -> str:
    """`text` without the `[Errno N]` prefixes that OSError, PyAV and httpx put before a reason."""
    return _ERRNO_PREFIX.sub("", text)


def plain_reason(exc: BaseException) -> str:
    """An exception's reason for a person: its `strerror` where it has one (PyAV's and
    OSError's, without the file name repeated), else its text; never an errno number."""
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc)
    return without_errno(text).strip() or type(exc).__name__


class KlingPrepError(Exception):
    """kling_prep could not do its work."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__class__.__doc__ or "").strip())


class InputError(KlingPrepError):
    """An input could not be read."""


class UnsupportedMediaError(InputError):
    """The file is not an image or a video that kling_prep can decode."""


class MediaDecodeError(InputError):
    """The media file is damaged or truncated and could not be decoded."""


class MediaTooLargeError(InputError):
    """The media file declares more pixels than kling_prep will decode (a decompression bomb)."""


class FetchError(KlingPrepError):
    """A URL could not be downloaded within the size and time limits."""


class OutputNotPlayableError(FetchError):
    """The job's output video is not a playable MP4."""


class OutputWriteError(FetchError):
    """The job's output video could not be written where asked (a full disk, no such folder)."""


class ToolError(KlingPrepError):
    """An external tool is missing or failed."""


class FFmpegNotFoundError(ToolError):
    """No ffmpeg binary was found: install imageio-ffmpeg or put ffmpeg on PATH."""


class FFmpegFailedError(ToolError):
    """ffmpeg exited with an error."""


class ConfigError(KlingPrepError):
    """The configuration (kling-prep.toml or KLING_PREP_* variables) is invalid."""


class UploadError(KlingPrepError):
    """A prepared file could not be uploaded to the storage that gives the API its URLs."""


class SubmissionRefusedError(KlingPrepError):
    """kling_prep refused to send the submission; nothing was sent and nothing was charged."""


class DuplicateSubmissionError(SubmissionRefusedError):
    """These prepared inputs were submitted before; pass again=True (--again) to pay again."""


class BudgetExceededError(SubmissionRefusedError):
    """The submission would exceed the credit budget."""


class ConcurrencyLimitError(SubmissionRefusedError):
    """Too many jobs are already in flight; wait for one to finish."""


class ApiError(KlingPrepError):
    """The API answered with an error."""

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RequestRejectedError(ApiError):
    """The API rejected the request as invalid (400/422)."""


class JobNotFoundError(ApiError):
    """The API knows no job with that id (404)."""


class MalformedResponseError(ApiError):
    """The API's answer does not follow its documented JSON."""


class ApiTimeoutError(ApiError):
    """The API did not answer in time."""


class WaitDeadlineError(ApiTimeoutError):
    """The job did not finish before the wait's deadline; it was not cancelled and may finish."""


class ApiUnreachableError(ApiError):
    """No connection to the API could be made; nothing was sent."""


class AuthenticationError(ApiError):
    """The API key was refused (401)."""


class InsufficientCreditsError(ApiError):
    """The account does not have enough credits (402)."""


class RateLimitedError(ApiError):
    """The API asked us to slow down (429)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = 429,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after_s = retry_after_s


class ServerError(ApiError):
    """The API failed on its side (5xx)."""


class UnknownOutcomeError(ApiError):
    """A submission was sent but its outcome is unknown; it is never re-sent automatically."""


class JobFailedError(KlingPrepError):
    """The job ended as failed."""
