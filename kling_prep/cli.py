"""The command line: the only module that prints. Exit codes: 0 ready, 1 warnings only, 2
blocked by a finding, 3 usage or environment error."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from kling_prep.errors import KlingPrepError
from kling_prep.sandbox.__main__ import command as sandbox_command
from kling_prep.version import __version__

if TYPE_CHECKING:  # our own types, imported when a command runs (start-up stays light)
    from contextlib import AbstractContextManager

    from rich.console import RenderableType
    from rich.progress import Progress

    from kling_prep.batch import BatchResult, Executor
    from kling_prep.client import (
        JobJournal,
        KlingClient,
        PollPolicy,
        PresignedS3Uploader,
        SubmissionRunner,
    )
    from kling_prep.client.contract import JobStatus
    from kling_prep.client.journal import SubmissionRecord
    from kling_prep.limits import Orientation
    from kling_prep.preflight import CheckResult
    from kling_prep.settings import Settings

EXIT_USAGE = 3

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
ProgressSink = Callable[[str, float], None]


_state = {"verbose": 0}


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hide what MediaPipe's C++ threads write straight to file descriptor 2 (TensorFlow Lite
    and absl start-up notices that cannot be turned off) while Python's own stderr, progress
    bars and errors included, keeps the terminal. Shown again with -vv."""
    if _state["verbose"] >= 2:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    original = sys.stderr
    sys.stderr = io.TextIOWrapper(
        os.fdopen(os.dup(saved), "wb", buffering=0), write_through=True, encoding="utf-8"
    )
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        sys.stderr.close()
        sys.stderr = original


def _settings(config: Path | None, profile: str | None = None, **overrides: Any) -> Settings:
    """The command's settings: the file, the environment, then the command line's options
    (`Settings.with_overrides`), applied here once per command."""
    from kling_prep.settings import load_settings

    return load_settings(config, profile_name=profile).with_overrides(**overrides)


_PROFILE_HELP = (
    "Whose documented input limits to check against: the same Kling model is sold by several "
    "APIs (see `kling-prep profiles`). Default: KLING_PREP_PROFILE, then `profile =` in "
    "kling-prep.toml, then vydra."
)


def _profile_option(func: _F) -> _F:
    """--profile NAME, the same on every command that checks."""
    from kling_prep.limits import PROFILES

    return click.option(
        "--profile", "profile", type=click.Choice(list(PROFILES)), default=None,
        help=_PROFILE_HELP,
    )(func)  # fmt: skip


def _allow_no_face_option(func: _F) -> _F:
    """--allow-no-face, the same on every command that checks: given, True; left out, None
    (the settings' `allow_no_face` stands)."""
    return click.option(
        "--allow-no-face", is_flag=True, callback=lambda _ctx, _param, given: given or None,
        help="Warn instead of block when no face is seen.",
    )(func)  # fmt: skip


# -- Options declared once: name, type and default here; the help where commands differ -------

_CONFIG_HELP = "A kling-prep.toml to use."
_CONFIG_HELP_LONG = (
    "A kling-prep.toml to use (thresholds, limits, profile, [api]); default: ./kling-prep.toml "
    "if present."
)
_JOURNAL_HELP = "The SQLite submission journal (default ~/.kling-prep/journal.sqlite)."


def _stacked(*options: Callable[[Any], Any]) -> Callable[[_F], _F]:
    """Several options as one decorator, listed in --help in the order given."""

    def decorate(func: _F) -> _F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _pair_options(
    image_help: str, video_help: str, *, required: bool = False
) -> Callable[[_F], _F]:
    """--image and --video (a path or an http(s) URL each)."""
    return _stacked(
        click.option("--image", required=required, metavar="PATH_OR_URL", help=image_help),
        click.option("--video", required=required, metavar="PATH_OR_URL", help=video_help),
    )


def _orientation_option(help: str) -> Callable[[_F], _F]:
    """--orientation video|image, the character_orientation to send (default: none given)."""
    return click.option(
        "--orientation", type=click.Choice(["video", "image"]), default=None, help=help
    )


def _prompt_option(help: str, *, required: bool = False) -> Callable[[_F], _F]:
    return click.option("--prompt", required=required, default=None, help=help)


def _no_sound_option(help: str = "You will send keep_original_sound=false.") -> Callable[[_F], _F]:
    return click.option("--no-sound", is_flag=True, help=help)


def _json_option(help: str) -> Callable[[_F], _F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def _config_option(help: str = _CONFIG_HELP) -> Callable[[_F], _F]:
    return click.option("--config", type=click.Path(path_type=Path, exists=True), help=help)


def _journal_option() -> Callable[[_F], _F]:
    return click.option(
        "--journal", "journal_path", type=click.Path(path_type=Path), help=_JOURNAL_HELP
    )


def _output_option(
    help: str = "Save the result video here.", *, required: bool = False
) -> Callable[[_F], _F]:
    return click.option(
        "-o", "--output", required=required, type=click.Path(path_type=Path), help=help
    )


def _manifest_option() -> Callable[[_F], _F]:
    return click.option("--manifest", type=click.Path(path_type=Path, exists=True), default=None)


def _s3_options() -> Callable[[_F], _F]:
    """Where local (and prepared) files are uploaded before a submission."""
    return _stacked(
        click.option(
            "--s3-bucket", default=None, help="Upload local files here (presigned GET URLs)."
        ),
        click.option("--s3-endpoint", default=None, help="An S3-compatible endpoint URL."),
    )


def _client_options(func: _F) -> _F:
    """The API's address and key, the journal and the settings file."""
    return _stacked(
        click.option("--base-url", default=None, help="API base URL (KLING_PREP_BASE_URL)."),
        click.option("--api-key", default=None, help="API key (better: VYDRA_API_KEY)."),
        _journal_option(),
        _config_option(_CONFIG_HELP_LONG),
    )(func)


def _refuse_unsubmittable(settings: Settings) -> None:
    """Exit 3 at once when the client cannot speak the chosen profile's API (the error goes
    to the one handler, `_Group.main`)."""
    from kling_prep.limits import require_submittable

    require_submittable(settings.profile)


def _fail(message: str) -> NoReturn:
    from kling_prep.errors import without_errno

    # The last guard: an errno number that a lower layer let through means nothing to a user.
    click.echo(f"kling-prep: {without_errno(message)}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Usage errors exit 3 (click's default is 2, which here means "blocked"), and so does
        # any KlingPrepError a command lets through: this is the one place that maps it.
        try:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except KlingPrepError as exc:
            _fail(str(exc))
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_USAGE)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="kling-prep")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Pre-flight toolkit for the Kling Motion Control API.

    Every job costs 40 credits at submission, whatever comes out. kling-prep checks the
    character image and the reference video locally first (people, face view, lighting, cuts,
    length, format), fixes what can be fixed, and submits through a client that never pays twice.

    Start with:  kling-prep check --image character.jpg --video dance.mp4
    """
    _state["verbose"] = verbose
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@_pair_options("The character image (JPEG/PNG).", "The reference video (MP4/MOV).")
@_orientation_option(
    "The character_orientation you will send (video: up to 30 s; image: up to 10 s). "
    "Left out: kling-prep suggests one."
)
@_prompt_option("The prompt you will send (checked and linted; left out, prompt.missing warns).")
@_no_sound_option()
@_allow_no_face_option
@_json_option("Print the JSON report (schema 2.x) only.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write an HTML report.")
@_config_option()
@_profile_option
def check(
    image: str | None,
    video: str | None,
    orientation: Orientation | None,
    prompt: str | None,
    no_sound: bool,
    allow_no_face: bool | None,
    as_json: bool,
    html_path: Path | None,
    config: Path | None,
    profile: str | None,
) -> None:
    """Check a character image and/or a reference video before spending credits.

    Prints every problem with its measured value and the rule, a 0-100 readiness score per
    input, the credits a submission costs and the suggested character_orientation.

    \b
    Exit codes: 0 ready, 1 warnings only, 2 blocked, 3 usage or environment error.
    Examples:
      kling-prep check --image me.jpg --video dance.mp4 --prompt "A person dancing..."
      kling-prep check --video https://example.com/clip.mp4 --json > report.json
    """
    if image is None and video is None:
        _fail("give --image, --video or both (see kling-prep check --help)")
    settings = _settings(config, profile, allow_no_face=allow_no_face)
    result = _run_check(
        image, video, orientation, prompt, not no_sound, settings,
        show_progress=not as_json and sys.stderr.isatty(),
    )  # fmt: skip
    from kling_prep.report.json_report import to_json

    if html_path is not None:
        from kling_prep.report.html import write_html

        try:
            write_html(result, html_path)
        except OSError as exc:
            _fail(f"could not write {html_path}: {exc.strerror or exc}")
    if as_json:
        click.echo(to_json(result))
    else:
        from rich.console import Console

        from kling_prep.report.terminal import render_check

        Console().print(render_check(result))
        if html_path is not None:
            click.echo(f"HTML report: {html_path}")
    sys.exit(result.exit_code)


def _run_check(
    image: str | None,
    video: str | None,
    orientation: Orientation | None,
    prompt: str | None,
    keep_sound: bool,
    settings: Settings,
    *,
    show_progress: bool,
    is_submission: bool = False,
) -> CheckResult:
    from kling_prep.preflight import CheckRequest
    from kling_prep.preflight import check as run_check

    request = CheckRequest(
        image, video, orientation=orientation, prompt=prompt, keep_sound=keep_sound,
        is_submission=is_submission,
    )  # fmt: skip
    with _quiet_native_stderr():
        return _with_progress(
            lambda on_progress: run_check(request, settings=settings, on_progress=on_progress),
            show_progress=show_progress,
        )  # fmt: skip


def _with_progress(
    work: Callable[[ProgressSink | None], _T],
    *,
    show_progress: bool,
    describe: Callable[[str], str | None] | None = None,
) -> _T:
    """Run `work(on_progress)` under one progress bar per stage (none when not shown)."""
    if not show_progress:
        return work(None)
    label_of = describe or {"decoding": "decoding the video"}.get
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, share: float) -> None:
            if stage not in tasks:
                label = label_of(stage) or f"analysing the {stage}"
                tasks[stage] = bar.add_task(label, total=1.0)
            bar.update(tasks[stage], completed=share)

        return work(on_progress)


def _echo_parts(parts: Sequence[RenderableType], *, err: bool = False) -> None:
    """Print a rendering of report/: each `str` as one plain line, the rest through rich."""
    from rich.console import Console

    for part in parts:
        if isinstance(part, str):
            click.echo(part, err=err)
        else:
            Console(stderr=err).print(part)


@main.command()
@_pair_options("The character image.", "The reference video.", required=True)
@_output_option(
    "The animated preview: NAME.webp (a .gif beside it where Pillow lacks animated WebP) "
    "or NAME.gif.",
    required=True,
)
@_config_option()
@_profile_option
def preview(image: str, video: str, output: Path, config: Path | None, profile: str | None) -> None:
    """See the video's motion on the character before paying: the video's skeleton, read at
    the samples the check reads, placed on the image by the two torsos (else heads), written
    as an animated WebP or GIF. Orange limbs leave the image's frame or are limbs the image
    does not show; the pair's framing findings are printed.

    \b
    Exit codes: 0 written, 3 usage or input error (or nothing to preview).
    Example:
      kling-prep preview --image me.jpg --video dance.mp4 -o preview.webp
    """
    if output.suffix.lower() not in (".webp", ".gif"):
        _fail(f"{output}: the preview is written as .webp or .gif")
    # A preview places any pose: a character without a face is shown, not refused.
    settings = _settings(config, profile, allow_no_face=True)
    result = _run_check(image, video, None, None, True, settings, show_progress=sys.stderr.isatty())
    from kling_prep.report.preview import render_preview, write_preview

    try:
        written = write_preview(result, output)
    except ValueError as exc:
        _fail(f"{Path(image).name} and {Path(video).name}: {exc}")
    except OSError as exc:
        _fail(f"could not write {output}: {exc.strerror or exc}")
    _echo_parts(render_preview(result, output, written))


@main.group()
def models() -> None:
    """Optional better models (models/manifest.json). The bundled MediaPipe models are the
    default; nothing downloads unless you ask here."""


@models.command("list")
@_manifest_option()
def models_list(manifest: Path | None) -> None:
    """List the optional models, their URL and whether their hash is pinned."""
    from kling_prep.modelstore import DEFAULT_MANIFEST, load_manifest

    for entry in load_manifest(manifest or DEFAULT_MANIFEST):
        pinned = entry.sha256 or "not pinned"
        click.echo(f"{entry.name}\n  {entry.purpose}\n  {entry.url}\n  sha256: {pinned}")


@models.command("download")
@click.argument("name")
@_manifest_option()
@click.option(
    "--dest", type=click.Path(path_type=Path), default=Path("models/downloads"), show_default=True
)
@click.option("--allow-unpinned", is_flag=True, help="Download an entry with no pinned sha256.")
def models_download(name: str, manifest: Path | None, dest: Path, allow_unpinned: bool) -> None:
    """Download model NAME into --dest and verify its sha256."""
    from kling_prep.modelstore import DEFAULT_MANIFEST, download_model, load_manifest

    entries = {e.name: e for e in load_manifest(manifest or DEFAULT_MANIFEST)}
    if name not in entries:
        _fail(f"no model named {name!r}; known: {', '.join(sorted(entries))}")
    path, digest = download_model(entries[name], dest, allow_unpinned=allow_unpinned)
    click.echo(f"{path}  sha256 {digest}")


# -- Submitting: the check first, then the journal-backed client ---------------------------


def _journal(settings: Settings) -> JobJournal:
    """The settings' journal (--journal, else KLING_PREP_JOURNAL, else the default), opened."""
    from kling_prep.client import JobJournal

    path = settings.journal_path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return JobJournal(path)


def _client(settings: Settings) -> KlingClient:
    from kling_prep.client import KlingClient

    key = settings.api_key
    if not key:
        _fail("no API key: set VYDRA_API_KEY or pass --api-key")
    return KlingClient(
        key,
        base_url=settings.base_url,
        profile=settings.profile,
        timeout_s=settings.request_timeout_s,
    )


def _poll_policy(settings: Settings) -> PollPolicy:
    """How `--wait` and `wait` poll: [api] poll_interval_s and wait_deadline_s."""
    from kling_prep.client import PollPolicy

    return PollPolicy(interval_s=settings.poll_interval_s, deadline_s=settings.wait_deadline_s)


def _echo_status(status: JobStatus) -> None:
    click.echo(f"  job {status.job_id}: {status.status}", err=True)


@main.command()
@_pair_options("The character image.", "The reference video.", required=True)
@_prompt_option("The prompt (at most 2500 characters).", required=True)
@_orientation_option("character_orientation; left out, the check's suggestion is used.")
@_no_sound_option("Send keep_original_sound=false.")
@click.option("--wait", "do_wait", is_flag=True, help="Poll until the job ends.")
@_output_option()
@click.option("--again", is_flag=True, help="Submit inputs that were already submitted.")
@click.option("--budget", type=int, default=None, help="Refuse to exceed N credits in all.")
@click.option("--max-jobs", type=int, default=None, help="At most N jobs in flight.")
@click.option("--strict", is_flag=True, help="Refuse on warnings too, not only on blocks.")
@_allow_no_face_option
@click.option(
    "--prepare", "do_prepare", is_flag=True,
    help="Trim and normalize first (as kling-prep prepare) and submit the prepared files.",
)  # fmt: skip
@click.option(
    "--prepared-dir", type=click.Path(path_type=Path), default=Path("prepared"),
    show_default=True, help="Where --prepare writes the files it submits.",
)  # fmt: skip
@_s3_options()
@_client_options
@_profile_option
def submit(
    image: str, video: str, prompt: str, orientation: Orientation | None, no_sound: bool,
    do_wait: bool, output: Path | None, again: bool, budget: int | None, max_jobs: int | None,
    strict: bool, allow_no_face: bool | None, do_prepare: bool, prepared_dir: Path,
    s3_bucket: str | None, s3_endpoint: str | None, base_url: str | None, api_key: str | None,
    journal_path: Path | None, config: Path | None, profile: str | None,
) -> None:  # fmt: skip
    """Check, then submit one job (40 credits), recorded in the journal before the POST.

    Nothing is sent when the check blocks (or warns, with --strict). Local paths are uploaded to
    --s3-bucket; URLs are passed through. A submission whose outcome is unknown is never re-sent.

    \b
    Exit codes: 0 submitted (and completed with --wait), 2 refused by the check, 3 error.
    """
    from kling_prep.client import CreditBudget, SubmissionRunner
    from kling_prep.report.terminal import render_check

    settings = _settings(
        config, profile, allow_no_face=allow_no_face, base_url=base_url, api_key=api_key,
        journal_path=journal_path,
    )  # fmt: skip
    # 1. What is known at once is refused at once, before seconds of checking.
    _refuse_before_checking(settings, prompt, image, video, do_prepare=do_prepare, s3=s3_bucket)
    # 2. The check (of the prepared files with --prepare), the same code path as `check`.
    if do_prepare:
        image, video, result = _run_prepare_for_submit(
            image, video, prepared_dir, orientation, prompt, not no_sound, settings
        )
    else:
        result = _run_check(
            image, video, orientation, prompt, not no_sound, settings,
            show_progress=sys.stderr.isatty(), is_submission=True,
        )  # fmt: skip
    _echo_parts([render_check(result)], err=True)
    if result.verdict == "blocked" or (strict and result.verdict == "warnings"):
        click.echo("not submitted: no credits spent", err=True)
        sys.exit(2)
    # 3. The journal-backed submission (local files, prepared ones included, uploaded).
    uploader = _uploader(s3_bucket, s3_endpoint, image, video)
    chosen = orientation or result.orientation.value
    with _client(settings) as client:
        runner = SubmissionRunner(
            client, _journal(settings),
            budget=CreditBudget(budget) if budget is not None else None,
            max_concurrent_jobs=max_jobs, uploader=uploader,
        )  # fmt: skip
        record = runner.submit(
            image, video, prompt, character_orientation=chosen,
            keep_original_sound=not no_sound, again=again,
        )  # fmt: skip
        click.echo(f"submitted: job {record.job_id} ({_charged(record)})")
        _follow(runner, record.submission_id, settings, output=output, wait=do_wait)


def _refuse_before_checking(
    settings: Settings, prompt: str, image: str, video: str, *, do_prepare: bool, s3: str | None
) -> None:
    """Exit 3 on what makes a submission impossible, before seconds of checking: a profile the
    client cannot speak, no key, no prompt, or local files with nowhere to upload them."""
    from kling_prep.media.fetch import is_url

    _refuse_unsubmittable(settings)
    if not settings.api_key:
        _fail("no API key: set VYDRA_API_KEY or pass --api-key; nothing was checked or sent")
    if not prompt.strip():
        _fail("--prompt is empty: the API requires a prompt; nothing was checked or sent")
    local = [p for p in (image, video) if not is_url(p)]
    if do_prepare and not s3:
        _fail("--prepare submits the prepared files, which are local: give --s3-bucket to "
              "upload them; nothing was checked or sent")  # fmt: skip
    if local and not s3:
        _fail(f"{', '.join(local)}: local files need --s3-bucket to be uploaded (or give "
              "http(s) URLs); nothing was checked or sent")  # fmt: skip


def _uploader(
    s3_bucket: str | None, s3_endpoint: str | None, image: str, video: str
) -> PresignedS3Uploader | None:
    """The S3 uploader when a local file (a prepared one included) is to be sent."""
    from kling_prep.client import PresignedS3Uploader
    from kling_prep.media.fetch import is_url

    if s3_bucket and any(not is_url(p) for p in (image, video)):
        return PresignedS3Uploader(s3_bucket, endpoint_url=s3_endpoint)
    return None


def _charged(record: SubmissionRecord) -> str:
    if record.credits_charged is not None:
        return f"{record.credits_charged} credits"
    return "credits not stated in the answer"


def _follow(
    runner: SubmissionRunner, submission_id: str, settings: Settings, *, output: Path | None,
    wait: bool,
) -> None:  # fmt: skip
    """After the POST: with -o, record where the video goes, wait for the job and save it;
    with --wait alone, wait and print the result's URL."""
    if output is not None:  # recorded now: `wait --resume` saves it if this run cannot
        runner.want_output(submission_id, output)
    if wait or output is not None:
        record = runner.wait(submission_id, policy=_poll_policy(settings), on_progress=_echo_status)
        click.echo(f"{record.job_status}: {record.output_url}")
    if output is not None:
        runner.download(submission_id, output)
        click.echo(f"saved {output}")


def _run_prepare_for_submit(
    image: str, video: str, out_dir: Path, orientation: Orientation | None, prompt: str,
    keep_sound: bool, settings: Settings,
) -> tuple[str, str, CheckResult]:  # fmt: skip
    """`prepare` before a submission; a refusal exits 2 with nothing sent. The prepared folder
    is the submissions' own: an earlier submission's prepared files there are replaced (`force`
    removes only what kling-prep wrote). Returns the prepared image, video and their check."""
    from kling_prep.preparation import PrepareOptions
    from kling_prep.preparation import prepare as run_prepare

    request = PrepareOptions(
        image, video, out_dir, orientation=orientation, prompt=prompt, keep_sound=keep_sound,
        force=True,
    )  # fmt: skip
    with _quiet_native_stderr():
        result = _with_progress(
            lambda on_progress: run_prepare(request, settings=settings, on_progress=on_progress),
            show_progress=sys.stderr.isatty(), describe=str,
        )  # fmt: skip
    if result.refusal is not None or result.check is None:
        reason = result.refusal.message if result.refusal else "nothing was prepared"
        click.echo(f"not submitted: {reason}; no credits spent", err=True)
        sys.exit(2)
    click.echo(f"prepared {result.image_path} and {result.video_path}", err=True)
    return str(result.image_path), str(result.video_path), result.check


@main.command()
@click.argument("job", required=False)
@_journal_option()
def status(job: str | None, journal_path: Path | None) -> None:
    """Show what the journal knows: one job (id or submission id), or every submission.

    A submission interrupted between the POST and its answer is shown as 'unknown': check the
    account before submitting again with --again.
    """
    journal = _journal(_settings(None, journal_path=journal_path))
    journal.reconcile()
    records = [journal.get(job)] if job else journal.records()
    if not records:
        click.echo("no submissions in the journal")
    for record in records:
        click.echo(f"{record.submission_id}  {record.state}  {record.explanation}")


@main.command()
@click.argument("job", required=False)
@click.option("--resume", is_flag=True, help="Follow every pending job after a restart.")
@_output_option()
@_client_options
def wait(
    job: str | None, resume: bool, output: Path | None, base_url: str | None,
    api_key: str | None, journal_path: Path | None, config: Path | None,
) -> None:  # fmt: skip
    """Poll JOB (or, with --resume, every pending job) until it ends. Never re-submits."""
    from kling_prep.client import SubmissionRunner

    if not job and not resume:
        _fail("give a JOB or --resume")
    settings = _settings(config, base_url=base_url, api_key=api_key, journal_path=journal_path)
    _refuse_unsubmittable(settings)
    with _client(settings) as client:
        runner = SubmissionRunner(client, _journal(settings))
        if resume:
            done = runner.resume_pending(
                policy=_poll_policy(settings), on_progress=lambda _r, s: _echo_status(s)
            )
            for record in done.finished:
                click.echo(f"{record.job_id}: {record.job_status} {record.output_url or ''}")
            for record in done.downloaded:
                click.echo(f"{record.job_id}: saved {record.output_path}")
            for record in done.unknown:
                click.echo(f"{record.submission_id}: unknown outcome: {record.explanation}")
            for record, error in done.errors:
                click.echo(f"error: job {record.job_id}: {error}", err=True)
            if done.errors:
                sys.exit(EXIT_USAGE)
            return
        if output is not None:  # recorded now: `wait --resume` saves it if this run cannot
            runner.want_output(job or "", output)
        record = runner.wait(job or "", policy=_poll_policy(settings), on_progress=_echo_status)
        click.echo(f"{record.job_id}: {record.job_status} {record.output_url or ''}")
        if output is not None:
            runner.download(record.submission_id, output)
            click.echo(f"saved {output}")


# Defined in kling_prep/sandbox/__main__.py so that `python -m kling_prep.sandbox` is the same
# command; that module imports only click, and the server loads when the command runs.
main.add_command(sandbox_command, "sandbox")


# -- Preparing: trim and normalize the video, fix the image, check the result -----------------


@main.command()
@_pair_options(
    "The character image (any format Pillow or pillow-heif reads).",
    "The reference video (any format ffmpeg reads).",
)
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Where the prepared .mp4, image and report.json go.",
)
@_orientation_option(
    "The character_orientation you will send: the window is at most 30 s for video, 10 s for image."
)
@click.option(
    "--max-seconds", type=float, default=None, help="A shorter longest window (at least 3)."
)
@click.option(
    "--start",
    "start_s",
    type=float,
    default=None,
    help="Pin the window's start (s) instead of choosing it.",
)
@click.option("--end", "end_s", type=float, default=None, help="Pin the window's end (s).")
@click.option(
    "--max-height",
    type=int,
    default=1080,
    show_default=True,
    help="Downscale so the shorter side is at most this many pixels.",
)
@_prompt_option("The prompt you will send (checked with the result).")
@_no_sound_option("You will send keep_original_sound=false: the audio is left out.")
@click.option(
    "--crop-to-person",
    is_flag=True,
    help="Crop the image around the person instead of padding its aspect ratio.",
)
@click.option(
    "--auto-exposure",
    is_flag=True,
    help="Correct the image's exposure (off by default; said when done).",
)
@click.option("--no-stream-copy", is_flag=True, help="Re-encode even a video that could be copied.")
@_allow_no_face_option
@_json_option("Print report.json only (silent otherwise).")
@_config_option()
@click.option(
    "--force",
    is_flag=True,
    help="Write into a non-empty --out-dir: remove what an earlier prepare wrote there (its "
    "report.json and the files it lists); other files are left alone.",
)
@_profile_option
def prepare(
    image: str | None, video: str | None, out_dir: Path, orientation: Orientation | None,
    max_seconds: float | None, start_s: float | None, end_s: float | None, max_height: int,
    prompt: str | None, no_sound: bool, crop_to_person: bool, auto_exposure: bool,
    no_stream_copy: bool, allow_no_face: bool | None, as_json: bool, config: Path | None,
    force: bool,
    profile: str | None,
) -> None:  # fmt: skip
    """Turn your files into files the API accepts, then check them.

    The video: the best window (one person, no cut, body in frame, most motion; at most 30 s,
    10 s with --orientation image), cut frame-accurately and made H.264/AAC MP4 at a constant
    frame rate, upright, SDR, within the size limits; copied without re-encoding when it
    already complies. The image: upright, JPEG or PNG, within the sides, bytes and aspect
    ratio (padded, not cropped). --out-dir then holds the video, the image and report.json
    (the check of the prepared files, with what was done to each); it must be empty, or
    given with --force.

    \b
    Exit codes: 0 ready as given, 1 fixed or warnings, 2 blocked or refused (nothing
    written), 3 usage or environment error.
    Examples:
      kling-prep prepare --image me.heic --video dance.mov --out-dir ready/ --prompt "..."
      kling-prep prepare --video long.mp4 --out-dir ready/ --start 12 --end 30 --json
    """
    if image is None and video is None:
        _fail("give --image, --video or both (see kling-prep prepare --help)")
    from kling_prep.preparation import PrepareOptions
    from kling_prep.preparation import prepare as run_prepare

    show_progress = not as_json and sys.stderr.isatty()
    request = PrepareOptions(
        image, video, out_dir, orientation=orientation,
        max_seconds=max_seconds, start_s=start_s, end_s=end_s, max_height=max_height,
        prompt=prompt, keep_sound=not no_sound, crop_to_person=crop_to_person,
        auto_exposure=auto_exposure, allow_stream_copy=not no_stream_copy, force=force,
    )  # fmt: skip
    settings = _settings(config, profile, allow_no_face=allow_no_face)
    with _quiet_native_stderr():
        result = _with_progress(
            lambda on_progress: run_prepare(request, settings=settings, on_progress=on_progress),
            show_progress=show_progress,
            describe=str,
        )
    from kling_prep.report.json_report import prepare_json
    from kling_prep.report.terminal import render_prepare

    if as_json:
        click.echo(prepare_json(result))
    else:
        _echo_parts(render_prepare(result), err=True)
    sys.exit(result.exit_code)


# -- Batches and the pipeline gate: the same check, for many rows or one -------------------


def _batch_progress(enabled: bool) -> AbstractContextManager[Progress | None]:
    """A rich progress bar on stderr (a no-op context in pipes) and its per-row callback."""
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
    )  # fmt: skip


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="results.jsonl, summary.json, summary.html, sheets/, prepared/.")  # fmt: skip
@click.option("--prepare", "do_prepare", is_flag=True,
              help="Trim and normalize each row that passes (or that prepare can fix).")  # fmt: skip
@click.option("--submit", "do_submit", is_flag=True,
              help="Submit the rows that pass, once each, through the journal.")  # fmt: skip
@click.option("--budget", type=int, default=None,
              help="With --submit: spend at most N credits over this batch's runs.")  # fmt: skip
@click.option("--strict", is_flag=True, help="With --submit: skip rows with warnings too.")
@_allow_no_face_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: the CPU count); with Ray, the most tasks "
              "in flight (default: 2 per cluster CPU).")  # fmt: skip
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Processes on this machine, or Ray tasks.")  # fmt: skip
@click.option("--address", default=None,
              help="With --executor ray: the cluster (ray://head:10001); default a local Ray.")  # fmt: skip
@_s3_options()
@_json_option("Print summary.json instead of the table.")
@_client_options
@_profile_option
def batch(
    manifest: Path, out_dir: Path, do_prepare: bool, do_submit: bool, budget: int | None,
    strict: bool, allow_no_face: bool | None, workers: int | None, executor: Executor,
    address: str | None,
    s3_bucket: str | None, s3_endpoint: str | None, as_json: bool, base_url: str | None,
    api_key: str | None, journal_path: Path | None, config: Path | None, profile: str | None,
) -> None:  # fmt: skip
    """Check (and prepare, submit) every row of a CSV or JSONL manifest, resumably.

    Columns: image, video, prompt, and optionally orientation, keep_sound, profile; paths are
    relative to the manifest, or http(s) URLs. Re-running the same command skips the rows
    already done: a crash or Ctrl-C loses nothing, and no row is ever submitted twice.

    \b
    Exit codes: 0 every row done, 1 some rows failed (each is named with the reason) or were
    not run, 3 usage or environment error, 130 interrupted (re-run to resume).
    Examples:
      kling-prep batch uploads.csv --out-dir out/ --workers 2
      kling-prep batch uploads.jsonl --out-dir out/ --prepare --submit --budget 4000 --s3-bucket b
      kling-prep batch uploads.csv --out-dir out/ --executor ray --address ray://head:10001
    """
    from kling_prep.batch import BatchOptions, run_batch

    _refuse_batch_usage(budget, address, executor, do_prepare, do_submit, s3_bucket)
    try:
        # --allow-no-face goes to the rows through BatchOptions (part of each row's key), and
        # WorkerConfig applies it to their settings with the same `with_overrides`.
        settings = _settings(
            config, profile, base_url=base_url, api_key=api_key, journal_path=journal_path
        )
        if do_submit:
            _refuse_batch_submission(settings, manifest)
        options = BatchOptions(
            prepare=do_prepare, submit=do_submit, strict=strict,
            allow_no_face=allow_no_face, budget_credits=budget,
            journal_path=_journal(settings).path if do_submit else None,
            s3_bucket=s3_bucket, s3_endpoint=s3_endpoint,
        )  # fmt: skip
        show = not as_json and sys.stderr.isatty()
        with _quiet_native_stderr(), _batch_progress(show) as bar:
            result = run_batch(
                manifest, out_dir, settings=settings, options=options, executor=executor,
                workers=workers, address=address, on_progress=_row_counter(bar),
            )  # fmt: skip
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: the rows finished are in {out_dir / 'results.jsonl'}; run the same "
            "command again to resume",
            err=True,
        )
        sys.exit(130)
    _echo_batch(result, executor, as_json=as_json)
    sys.exit(result.exit_code)


def _refuse_batch_usage(
    budget: int | None, address: str | None, executor: str, do_prepare: bool, do_submit: bool,
    s3_bucket: str | None,
) -> None:  # fmt: skip
    """Exit 3 on options that do not go together, before anything is read."""
    if budget is not None and not do_submit:
        _fail("--budget applies to --submit")
    if address is not None and executor != "ray":
        _fail("--address applies to --executor ray")
    if do_submit and do_prepare and not s3_bucket:
        _fail("--prepare --submit sends the prepared files: give --s3-bucket to upload them")


def _refuse_batch_submission(settings: Settings, manifest: Path) -> None:
    """Exit 3 before any row runs when --submit cannot submit: the profile, a row's profile,
    or no key."""
    _refuse_unsubmittable(settings)
    _refuse_unsubmittable_rows(manifest)
    if not settings.api_key:
        _fail("no API key: set VYDRA_API_KEY or pass --api-key")


def _row_counter(bar: Progress | None) -> Callable[[int, int, dict[str, Any] | None], None]:
    """run_batch's per-row callback: the bar's count and its verdicts so far (a no-op without
    a bar)."""
    task = bar.add_task("rows", total=None) if bar is not None else None
    counts: dict[str, int] = {}

    def on_progress(done: int, total: int, line: dict[str, Any] | None) -> None:
        if bar is None or task is None:
            return
        if line is not None:
            verdict = line["verdict"] or line["status"]
            counts[verdict] = counts.get(verdict, 0) + 1
        text = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "rows"
        bar.update(task, completed=done, total=total, description=text)

    return on_progress


def _echo_batch(result: BatchResult, executor: str, *, as_json: bool) -> None:
    """summary.json (--json) or the summary table, as report/ renders them."""
    from kling_prep.report.json_report import batch_summary_json
    from kling_prep.report.terminal import render_batch_summary

    if as_json:
        click.echo(batch_summary_json(result.summary))
        return
    lines = render_batch_summary(
        result.summary, rows_skipped=result.rows_skipped, executor=executor,
        results_path=result.results_path, summary_path=result.summary_path,
        html_path=result.html_path,
    )  # fmt: skip
    click.echo("\n".join(lines))


def _refuse_unsubmittable_rows(manifest: Path) -> None:
    """Exit 3 before any row runs when a row's `profile` column names one the client cannot
    submit to (a bad manifest file is left for the batch to report)."""
    from kling_prep.batch.manifest import read_manifest
    from kling_prep.limits import PROFILES

    try:
        rows = read_manifest(manifest).rows
    except KlingPrepError:
        return
    for row in rows:
        if row.profile is not None and not PROFILES[row.profile].can_submit:
            _fail(f"{manifest}: row {row.row} (line {row.line}) has profile {row.profile!r}, "
                  "which is for checking and preparing only: --submit speaks vydra's API "
                  "alone; nothing was checked or sent")  # fmt: skip


@main.command()
@_pair_options("The character image.", "The reference video.")
@_orientation_option("The character_orientation you will send.")
@_prompt_option("The prompt you will send.")
@_no_sound_option()
@_allow_no_face_option
@_json_option("Print the JSON report on one line.")
@_config_option(_CONFIG_HELP_LONG)
@_profile_option
def gate(
    image: str | None, video: str | None, orientation: Orientation | None, prompt: str | None,
    no_sound: bool, allow_no_face: bool | None, as_json: bool, config: Path | None,
    profile: str | None,
) -> None:  # fmt: skip
    """The check for pipelines: one line of output, the verdict as the exit code.

    The gate stands before a submission: a pair without --prompt is blocked (prompt.missing),
    as the API refuses a job without one.

    \b
    Exit codes: 0 pass, 1 warnings, 2 blocked, 3 error (the reason on stderr).
    Example:
      kling-prep gate --image in/me.jpg --video in/dance.mp4 --prompt "..." && upload ...
    """
    if image is None and video is None:
        _fail("give --image, --video or both")
    result = _run_check(
        image, video, orientation, prompt, not no_sound,
        _settings(config, profile, allow_no_face=allow_no_face), show_progress=False,
        is_submission=True,
    )  # fmt: skip
    from kling_prep.report.json_report import to_json_line
    from kling_prep.report.terminal import render_gate

    click.echo(to_json_line(result) if as_json else render_gate(result))
    sys.exit(result.exit_code)


@main.command()
@click.option("--diff", "only_diff", is_flag=True, help="Show only the limits that differ.")
@_json_option("Print every profile as JSON.")
def profiles(only_diff: bool, as_json: bool) -> None:
    """List the providers' limits profiles and every limit side by side.

    The same Kling Motion Control model is sold through several APIs whose documented input
    rules differ slightly; choose one with --profile NAME (or `profile =` in kling-prep.toml).
    The values were read from each provider's public documentation (source and date shown);
    none was measured against a live service. Only vydra's API can be submitted to.

    \b
    Example:
      kling-prep profiles --diff
    """
    from dataclasses import asdict

    from kling_prep.limits import PROFILES, limit_rows, table_legend

    if as_json:
        import json

        click.echo(json.dumps({n: asdict(p) for n, p in PROFILES.items()}, indent=2))
        return
    for p in PROFILES.values():
        submit = "check, prepare, submit" if p.can_submit else "check and prepare only"
        click.echo(f"{p.name} ({submit})\n  {p.description}\n  source: {p.source}; "
                   f"read: {p.read_on}\n")  # fmt: skip
    rows = [r for r in limit_rows() if r.differs or not only_diff]
    header = ("limit", *PROFILES)
    table = [header] + [(("! " if r.differs else "  ") + r.label, *r.values) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    click.echo(f"\n! the providers differ. {table_legend().replace('`', '')}")


if __name__ == "__main__":  # `python -m kling_prep.cli` as well as `python -m kling_prep`
    main()
