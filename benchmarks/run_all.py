"""Every benchmark in order: make the media (when absent), then speed, then accuracy.

Run: `.venv/bin/python benchmarks/run_all.py [MEDIA_DIR] [--rounds 5]` (or `make bench`);
the media go to /tmp/kp-bench by default. Each step's markdown goes to stdout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MEDIA = Path("/tmp/kp-bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=DEFAULT_MEDIA)
    parser.add_argument("--rounds", type=int, default=5, help="speed rounds after the warm-up")
    parser.add_argument("--remake", action="store_true", help="regenerate the media")
    args = parser.parse_args(argv)
    media = str(args.media.resolve())
    steps: list[list[str]] = []
    if args.remake or not (args.media / "labels.json").is_file():
        steps.append([str(HERE / "make_bench_media.py"), media])
    steps.append([str(HERE / "bench_speed.py"), media, "--rounds", str(args.rounds)])
    steps.append([str(HERE / "bench_accuracy.py"), media])
    for step in steps:
        started = time.perf_counter()
        print(f"\n<!-- {Path(step[0]).name}: running -->", flush=True)
        code = subprocess.run([sys.executable, *step]).returncode
        print(f"\n<!-- {Path(step[0]).name}: {time.perf_counter() - started:.0f} s -->", flush=True)
        if code != 0:
            print(f"{Path(step[0]).name} failed with exit code {code}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
