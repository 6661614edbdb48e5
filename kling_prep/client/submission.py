"""A submission from start to end, crash-safe: admission checks, upload, journal intent, POST,
journal update; then wait, download, and resume after a restart.

The CLI's `submit`, `status` and `wait` are a few calls here. The pre-flight check is not run
from this package: the CLI runs it first.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kling_prep.client.api import TRANSIENT_ERRORS, KlingClient, ProgressCallback
from kling_prep.client.contract import JobStatus, SubmitRequest, SubmitResult
from kling_prep.client.journal import (
    CreditBudget,
    JobJournal,
    SubmissionRecord,
    SubmissionState,
)
from kling_prep.client.policy import PollPolicy
from kling_prep.client.uploads import Uploader, file_sha256, is_url, resolve_input_url
from kling_prep.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConfigError,
    FetchError,
    InsufficientCreditsError,
    JobFailedError,
    JobNotFoundError,
    KlingPrepError,
    RateLimitedError,
    RequestRejectedError,
    WaitDeadlineError,
)
from kling_prep.identity import identity
from kling_prep.limits import Orientation

logger = logging.getLogger(__name__)

# Errors after which the API provably did not create the job: nothing was charged.
_DEFINITE_REFUSALS = (
    RequestRejectedError,
    AuthenticationError,
    InsufficientCreditsError,
    RateLimitedError,
    ApiUnreachableError,
    ConfigError,
    JobNotFoundError,
)


def hash_inputs(
    image: str | Path,
    video: str | Path,
    prompt: str,
    *,
    character_orientation: Orientation = "video",
    keep_original_sound: bool = True,
) -> str:
    """The identity of a submission: the prepared files' content (or the URLs) and parameters.

    Two submissions with the same hash would make the same video and pay twice for it. Hashed by
    `kling_prep.identity`; journals hold these hashes, so their bytes never change.

    Raises:
        InputError: a local file cannot be read.
    """
    parts = {
        "image": str(image) if is_url(image) else "sha256:" + file_sha256(Path(image)),
        "video": str(video) if is_url(video) else "sha256:" + file_sha256(Path(video)),
        "prompt": prompt,
        "character_orientation": character_orientation,
        "keep_original_sound": keep_original_sound,
    }
    return identity(parts)


@dataclass(frozen=True)
class ResumeResult:
    """What `resume_pending` did: jobs followed to their end, outputs saved, outcomes still
    unknown, errors."""

    finished: list[SubmissionRecord] = field(default_factory=list)
    unknown: list[SubmissionRecord] = field(default_factory=list)
    errors: list[tuple[SubmissionRecord, KlingPrepError]] = field(default_factory=list)
    downloaded: list[SubmissionRecord] = field(default_factory=list)


class SubmissionRunner:
    """Submits through the journal, so that no submission is ever paid for twice by accident.

    Args:
        client: the API client.
        journal: the submission journal.
        budget: the credit budget enforced before any POST (None: no budget).
        max_concurrent_jobs: the most jobs in flight at once (None: no limit).
        uploader: where local files go to get URLs (None: only URLs are accepted).
        credits_per_job: the price used for the budget (default: the client's profile).
    """

    def __init__(
        self,
        client: KlingClient,
        journal: JobJournal,
        *,
        budget: CreditBudget | None = None,
        max_concurrent_jobs: int | None = None,
        uploader: Uploader | None = None,
        credits_per_job: int | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.budget = budget
        self.max_concurrent_jobs = max_concurrent_jobs
        self.uploader = uploader
        price = credits_per_job or client.profile.credits_per_job
        if price is None:  # a [limits] table may describe an API without a documented price
            raise ConfigError(
                f"profile {client.profile.name!r} documents no price per job: set "
                "credits_per_job under [limits] in kling-prep.toml"
            )
        self.credits_per_job: int = price

    def submit(
        self,
        image: str | Path,
        video: str | Path,
        prompt: str,
        *,
        character_orientation: Orientation = "video",
        keep_original_sound: bool = True,
        again: bool = False,
    ) -> SubmissionRecord:
        """Submit one job: local files are uploaded, URLs passed through.

        Args:
            image, video: a local path (uploaded) or an http(s) URL (sent as is).
            prompt, character_orientation, keep_original_sound: as the API's fields.
            again: submit even if these prepared inputs were submitted before.

        Returns:
            The journal record, in state `submitted`, with the job id.

        Raises:
            DuplicateSubmissionError, BudgetExceededError, ConcurrencyLimitError: refused
                before any upload or request.
            ConfigError, InputError, UploadError: an input could not be turned into a URL.
            RequestRejectedError, AuthenticationError, InsufficientCreditsError,
                RateLimitedError, ApiUnreachableError: refused by the API (recorded as rejected).
            UnknownOutcomeError: sent, outcome unknown (recorded as unknown, never re-sent).
        """
        # 1. Identity and admission, before a slow upload.
        inputs_hash = hash_inputs(
            image,
            video,
            prompt,
            character_orientation=character_orientation,
            keep_original_sound=keep_original_sound,
        )
        self.journal.check_admission(
            inputs_hash,
            self.credits_per_job,
            again=again,
            budget=self.budget,
            max_concurrent_jobs=self.max_concurrent_jobs,
        )
        # 2. URLs for the API.
        request = SubmitRequest(
            image_url=resolve_input_url(image, self.uploader),
            video_url=resolve_input_url(video, self.uploader),
            prompt=prompt,
            character_orientation=character_orientation,
            keep_original_sound=keep_original_sound,
        )
        return self.submit_request(
            request,
            inputs_hash=inputs_hash,
            image_source=str(image),
            video_source=str(video),
            again=again,
        )

    def submit_request(
        self,
        request: SubmitRequest,
        *,
        inputs_hash: str,
        image_source: str | None = None,
        video_source: str | None = None,
        again: bool = False,
    ) -> SubmissionRecord:
        """Journal the intent, POST once, journal the answer (for inputs already as URLs).

        Returns and Raises: as `submit`.
        """
        # 1. Intent, with the admission checks in the same transaction.
        record = self.journal.record_intent(
            request,
            inputs_hash=inputs_hash,
            intended_credits=self.credits_per_job,
            image_source=image_source,
            video_source=video_source,
            again=again,
            budget=self.budget,
            max_concurrent_jobs=self.max_concurrent_jobs,
        )
        # 2. The POST, its answer saved the moment it is read.
        result, saved = self._post(record.submission_id, request)
        if saved:
            return self.journal.get(record.submission_id)
        # 3. The answer, again if the first write failed.
        return self._record_answer(record.submission_id, result)

    def _post(self, submission_id: str, request: SubmitRequest) -> tuple[SubmitResult, bool]:
        """POST once; returns the answer and whether the journal saved it already.

        Anything but a definite answer is an unknown outcome. The job id is saved the moment
        the answer is read, through a connection opened beforehand, and with the garbage
        collector held off so that no collection pause falls between the two.
        """
        saved = False
        with self.journal.answer_saver(submission_id) as save_answer:

            def on_accepted(result: SubmitResult) -> None:
                nonlocal saved
                saved = save_answer(result)

            collecting = gc.isenabled()
            gc.disable()
            try:
                result = self.client.submit(request, on_accepted=on_accepted)
            except _DEFINITE_REFUSALS as exc:
                self.journal.mark_rejected(submission_id, str(exc))
                raise
            except BaseException as exc:
                self.journal.mark_unknown(submission_id, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                if collecting:
                    gc.enable()
        return result, saved

    def _record_answer(self, submission_id: str, result: SubmitResult) -> SubmissionRecord:
        """Record the API's answer; if this fails the job exists: name it so it is not lost."""
        try:
            return self.journal.mark_submitted(submission_id, result)
        except Exception as exc:
            logger.error(
                "job %s was created but could not be recorded in %s",
                result.job_id,
                self.journal.path,
            )
            raise KlingPrepError(
                f"job {result.job_id} was created and charged, but the journal could not record "
                f"it ({exc}); follow it with `kling-prep wait {result.job_id}`"
            ) from exc

    def wait(
        self,
        ref: str,
        *,
        policy: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> SubmissionRecord:
        """Follow a submitted job to its end, recording each new status in the journal.

        Args:
            ref: a submission id or a job id known to the journal.
            policy: polling interval, jitter and deadline.
            on_progress: called with each status read.

        Returns:
            The record, `completed`, with the output URL.

        Raises:
            KlingPrepError: the journal has no job for `ref`, or its outcome is unknown.
            JobFailedError: the job failed (recorded as failed).
            WaitDeadlineError and the errors of `KlingClient.wait`.
        """
        record = self.journal.get(ref)
        if record.job_id is None:
            raise KlingPrepError(
                f"submission {record.submission_id} has no job id: {record.explanation}"
            )
        submission_id = record.submission_id
        last_status: list[str | None] = [record.job_status]

        def progress(status: JobStatus) -> None:
            if status.status != last_status[0]:
                self.journal.update_status(submission_id, status)
                last_status[0] = status.status
            if on_progress is not None:
                on_progress(status)

        try:
            final = self.client.wait(record.job_id, policy=policy, on_progress=progress)
        except JobFailedError:
            return_record = self.journal.get(submission_id)
            logger.info("job %s failed: %s", record.job_id, return_record.error)
            raise
        except WaitDeadlineError:
            raise  # its message already says the job goes on and how to follow it
        except TRANSIENT_ERRORS as exc:
            # The job was not harmed, only the polling: say where it stands and how to go on.
            exc.args = (
                f"{exc}; job {record.job_id} goes on and stays recorded as submitted: "
                "`kling-prep wait --resume` follows it later",
            )
            raise
        return self.journal.update_status(submission_id, final)

    def resume_pending(
        self,
        *,
        policy: PollPolicy | None = None,
        on_progress: Callable[[SubmissionRecord, JobStatus], None] | None = None,
    ) -> ResumeResult:
        """After a restart: surface unknown outcomes, follow every submitted job to its end, and
        save the outputs asked for (`-o`) that are not saved yet.

        Nothing is ever re-sent: a submission whose process died before the API's answer was
        recorded becomes `unknown`.

        Returns:
            The jobs followed (completed or failed), the outputs saved, the unknown outcomes,
            the errors met.
        """
        self.journal.reconcile()
        result = ResumeResult(unknown=self.journal.records(states=(SubmissionState.UNKNOWN,)))
        for record in self.journal.pending():
            callback = _bind_record(on_progress, record)
            try:
                finished = self.wait(record.submission_id, policy=policy, on_progress=callback)
                result.finished.append(finished)
            except JobFailedError:
                result.finished.append(self.journal.get(record.submission_id))
            except KlingPrepError as exc:
                result.errors.append((self.journal.get(record.submission_id), exc))
        for record in self.journal.awaiting_download():
            if record.output_wanted is None:  # never: awaits_download says it is set
                continue
            try:
                result.downloaded.append(
                    self.download(record.submission_id, Path(record.output_wanted))
                )
            except KlingPrepError as exc:
                result.errors.append((self.journal.get(record.submission_id), exc))
        return result

    def want_output(self, ref: str, dest_path: Path) -> SubmissionRecord:
        """Record that the output is to be saved to `dest_path` (made absolute): if the download
        fails or the process dies first, `resume_pending` saves it."""
        record = self.journal.get(ref)
        return self.journal.want_output(record.submission_id, dest_path.absolute())

    def download(self, ref: str, dest_path: Path) -> SubmissionRecord:
        """Save a completed job's output video to `dest_path` and record where.

        The path is recorded first as wanted, so a failed download is done again by
        `resume_pending`; the file appears only complete and verified.

        Raises:
            KlingPrepError: the job is not completed.
            FetchError, OutputNotPlayableError, OutputWriteError: see `KlingClient.download`,
                with what to do next.
        """
        record = self.want_output(ref, dest_path)
        if record.state is not SubmissionState.COMPLETED or record.output_url is None:
            raise KlingPrepError(
                f"submission {record.submission_id} has no output yet: {record.explanation}"
            )
        dest_path = Path(record.output_wanted or dest_path)
        try:
            self.client.download(record.output_url, dest_path)
        except FetchError as exc:
            exc.args = (
                f"{exc}; job {record.job_id} is completed and its video was not saved: "
                f"`kling-prep wait --resume` will download it again to {dest_path}",
            )
            raise
        return self.journal.record_download(record.submission_id, dest_path)


def _bind_record(
    hook: Callable[[SubmissionRecord, JobStatus], None] | None, record: SubmissionRecord
) -> ProgressCallback | None:
    if hook is None:
        return None
    return lambda status: hook(record, status)
