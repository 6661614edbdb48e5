"""Client for the hosted Kling Motion Control API: submit, poll, download, journal.

The CLI's commands are a few calls here: `SubmissionRunner.submit`, `.wait`, `.resume_pending`,
`.download`, and `JobJournal.records()` for `status`.
"""

from kling_prep.client.api import DEFAULT_BASE_URL, AsyncKlingClient, KlingClient
from kling_prep.client.contract import JobOutput, JobStatus, SubmitRequest, SubmitResult
from kling_prep.client.journal import CreditBudget, JobJournal, SubmissionRecord, SubmissionState
from kling_prep.client.policy import PollPolicy, RetryPolicy
from kling_prep.client.submission import ResumeResult, SubmissionRunner, hash_inputs
from kling_prep.client.uploads import PresignedS3Uploader, Uploader, resolve_input_url

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncKlingClient",
    "CreditBudget",
    "JobJournal",
    "JobOutput",
    "JobStatus",
    "KlingClient",
    "PollPolicy",
    "PresignedS3Uploader",
    "ResumeResult",
    "RetryPolicy",
    "SubmissionRecord",
    "SubmissionRunner",
    "SubmissionState",
    "SubmitRequest",
    "SubmitResult",
    "Uploader",
    "hash_inputs",
    "resolve_input_url",
]
