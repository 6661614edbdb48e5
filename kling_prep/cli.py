"""The command line: the only module that prints. Exit codes: 0 ready, 1 warnings only, 2
blocked by a finding, 3 usage or environment error."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from kling_prep import __version__
from kling_prep.errors import KlingPrepError

EXIT_USAGE = 3


def _settings(config: Path | None) -> Any:
    from kling_prep.settings import load_settings

    return load_settings(config)


def _fail(message: str) -> None:
    click.echo(f"kling-prep: {message}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Usage errors exit 3 (click's default is 2, which here means "blocked").
        try:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
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
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--image", "image", metavar="PATH_OR_URL", help="The character image (JPEG/PNG).")
@click.option("--video", "video", metavar="PATH_OR_URL", help="The reference video (MP4/MOV).")
@click.option(
    "--orientation",
    type=click.Choice(["video", "image"]),
    default=None,
    help="The character_orientation you will send (video: up to 30 s; image: up to 10 s). "
    "Left out: kling-prep suggests one.",
)
@click.option("--prompt", default=None, help="The prompt you will send (checked and linted).")
@click.option("--no-sound", is_flag=True, help="You will send keep_original_sound=false.")
@click.option("--allow-no-face", is_flag=True, help="Warn instead of block when no face is seen.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report (schema 1.x) only.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write an HTML report.")
@click.option(
    "--config", type=click.Path(path_type=Path, exists=True), help="A kling-prep.toml to use."
)
def check(
    image: str | None,
    video: str | None,
    orientation: str | None,
    prompt: str | None,
    no_sound: bool,
    allow_no_face: bool,
    as_json: bool,
    html_path: Path | None,
    config: Path | None,
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
    try:
        settings = _settings(config)
        result = _run_check(
            image, video, orientation, prompt, not no_sound, allow_no_face or None, settings,
            show_progress=not as_json and sys.stderr.isatty(),
        )  # fmt: skip
    except KlingPrepError as exc:
        _fail(str(exc))
        return
    from kling_prep.report.json_report import to_json

    if html_path is not None:
        from kling_prep.report.html import write_html

        write_html(result, html_path)
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
    orientation: Any,
    prompt: str | None,
    keep_sound: bool,
    allow_no_face: bool | None,
    settings: Any,
    *,
    show_progress: bool,
) -> Any:
    from kling_prep.preflight import check as run_check

    if not show_progress:
        return run_check(
            image, video, orientation=orientation, prompt=prompt, keep_sound=keep_sound,
            settings=settings, allow_no_face=allow_no_face,
        )  # fmt: skip
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, share: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"analysing the {stage}", total=1.0)
            bar.update(tasks[stage], completed=share)

        return run_check(
            image, video, orientation=orientation, prompt=prompt, keep_sound=keep_sound,
            settings=settings, allow_no_face=allow_no_face, on_progress=on_progress,
        )  # fmt: skip
