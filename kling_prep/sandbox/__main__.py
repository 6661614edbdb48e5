"""`kling-prep sandbox` and `python -m kling_prep.sandbox`: run the sandbox on a local port until
interrupted. One click command for both, with the CLI's exit codes (3 for a usage error).

Only click loads with this module: `kling-prep` imports it at start-up, so the server (httpx, the
media probe) is imported when the command runs. The one line the command prints on stdout
(`kling-prep sandbox listening on URL`) is what `SandboxProcess` waits for.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from kling_prep.errors import ConfigError
from kling_prep.limits import DEFAULT_PROFILE, PROFILES
from kling_prep.sandbox import DEFAULT_CREDITS, DEFAULT_DELAY_S

READY_PREFIX = "kling-prep sandbox listening on "
EXIT_USAGE = 3


@click.command(name="sandbox", context_settings={"show_default": True})
@click.option("--host", default="127.0.0.1", help="The interface to listen on (loopback: this machine only).")  # fmt: skip
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    help="The port; 0 picks a free one, printed on the ready line.",
)
@click.option(
    "--delay",
    "delay_s",
    type=click.FloatRange(min=0),
    default=DEFAULT_DELAY_S,
    help="Seconds from a submission to its completed job.",
)
@click.option(
    "--credits",
    type=click.IntRange(min=0),
    default=DEFAULT_CREDITS,
    help="Starting credits of each key (a job costs 40).",
)
@click.option(
    "--keys",
    "keys_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of the valid keys, `KEY [CREDITS]` per line.  [default: any key is valid]",
)
@click.option(
    "--faults",
    default=None,
    help="Faults to inject, e.g. 'ratelimit@post:times=1' (see docs/SANDBOX.md).  [default: none]",
)
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(list(PROFILES)),
    default=DEFAULT_PROFILE,
    help="Whose documented input limits the intake enforces (see `kling-prep profiles`); the "
    "wire contract stays vydra's, and a provider without a documented price costs vydra's.",
)
@click.option("--seed", type=int, default=0, help="The seed of random faults (`rate=`).")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def command(
    host: str,
    port: int,
    delay_s: float,
    credits: int,
    keys_path: Path | None,
    faults: str | None,
    profile_name: str,
    seed: int,
    verbose: bool,
) -> None:
    """Run a local emulator of the Kling Motion Control API until interrupted (Ctrl-C).

    The same endpoints and JSON as the hosted API, a credit balance per key, jobs that finish
    after --delay with a real MP4, and faults on demand (docs/SANDBOX.md). The first line on
    stdout is `kling-prep sandbox listening on URL`.
    """
    from kling_prep.limits import get_profile
    from kling_prep.sandbox.faults import FaultPlan
    from kling_prep.sandbox.server import SandboxServer, read_keys_file

    # force: under `kling-prep` the group has configured logging already, at warning level.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if not verbose:  # the sandbox's own fetches of the inputs are requests too
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        keys = read_keys_file(keys_path, credits) if keys_path is not None else None
        plan = FaultPlan.parse(faults, seed=seed)
    except ConfigError as exc:
        _fail(str(exc))
    try:
        server = SandboxServer(
            host=host, port=port, delay_s=delay_s, credits=credits, keys=keys, faults=plan,
            profile=get_profile(profile_name),
        )  # fmt: skip
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    click.echo(READY_PREFIX + server.url)  # click.echo flushes: the ready line, read by tests
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _fail(message: str) -> NoReturn:
    click.echo(f"kling-prep sandbox: {message}", err=True)
    sys.exit(EXIT_USAGE)


def main(argv: list[str] | None = None) -> None:
    """`python -m kling_prep.sandbox`: the command, with usage errors exiting 3 as in the CLI
    (click's own code, 2, means "blocked" there)."""
    try:
        command.main(argv, prog_name="python -m kling_prep.sandbox", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
