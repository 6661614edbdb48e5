"""`python -m kling_prep.sandbox`: run the sandbox on a local port until interrupted.

The one line it prints on stdout (`kling-prep sandbox listening on URL`) is what
`start_sandbox_process` waits for.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kling_prep.errors import ConfigError
from kling_prep.sandbox.faults import FaultPlan
from kling_prep.sandbox.server import (
    DEFAULT_CREDITS,
    DEFAULT_DELAY_S,
    SandboxServer,
    read_keys_file,
)

READY_PREFIX = "kling-prep sandbox listening on "


def build_parser() -> argparse.ArgumentParser:
    """The command line of the sandbox."""
    parser = argparse.ArgumentParser(
        prog="python -m kling_prep.sandbox",
        description="A local emulator of the Kling Motion Control API (see docs/SANDBOX.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    parser.add_argument(
        "--delay", type=float, default=DEFAULT_DELAY_S, help="seconds from submission to completed"
    )
    parser.add_argument(
        "--credits", type=int, default=DEFAULT_CREDITS, help="starting credits of each key"
    )
    parser.add_argument("--keys", type=Path, help="file of valid keys: `KEY [CREDITS]` per line")
    parser.add_argument("--faults", help="faults to inject, e.g. 'ratelimit@post:times=1'")
    parser.add_argument("--seed", type=int, default=0, help="seed of random faults (rate=)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox; returns the exit code (3 for a usage error, as the CLI)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        keys = read_keys_file(args.keys, args.credits) if args.keys else None
        server = SandboxServer(
            host=args.host,
            port=args.port,
            delay_s=args.delay,
            credits=args.credits,
            keys=keys,
            faults=FaultPlan.parse(args.faults, seed=args.seed),
        )
    except (ConfigError, OSError) as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 3
    print(READY_PREFIX + server.url, flush=True)  # noqa: T201  # the ready line, read by tests
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
