"""Batch throughput: rows per minute with 1 and 2 local workers and on Ray on this machine, the
per-row cost split into decode, analysis and encode, and what N machines would do.

    .venv/bin/python benchmarks/bench_batch.py [--rows 16] [--prepare-rows 4] [--skip-ray]

The manifest cycles through the bundled samples (good pair, two people, dark, cut), each row
with its own prompt so that every row is distinct work. Prints markdown; docs/BENCHMARKS.md
records the figures with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kling_prep.batch import BatchOptions, read_results, run_batch
from kling_prep.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PROMPT = "An astronaut sways gently in a plain studio, soft even lighting, slow smooth movement"
PAIRS = [
    ("character.jpg", "reference.mp4"),
    ("bad/two-people.jpg", "reference.mp4"),
    ("bad/dark.jpg", "reference.mp4"),
    ("character.jpg", "bad/cut.mp4"),
]


def _manifest(path: Path, rows: int, pairs: list[tuple[str, str]], tag: str) -> Path:
    lines = [
        {
            "image": str(SAMPLES / pairs[i % len(pairs)][0]),
            "video": str(SAMPLES / pairs[i % len(pairs)][1]),
            "prompt": f"{PROMPT}, {tag} {i}",
        }
        for i in range(rows)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _run(
    label: str, manifest: Path, out: Path, *, executor: str, workers: int, options: BatchOptions
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    run_batch(
        manifest, out, settings=Settings(), options=options,
        executor=executor, workers=workers,  # type: ignore[arg-type]
    )  # fmt: skip
    wall_s = time.perf_counter() - started
    lines = [line for line in read_results(out / "results.jsonl") if line["status"] == "done"]
    if not lines:
        raise SystemExit(f"{label}: no row finished")
    finished = sorted(line["finished_at"] for line in lines)
    t = [line["timings_s"] for line in lines]
    # Steady state: rows after the first one each worker finished (start-up and first-row
    # model initialisation excluded), over the time between the first and last such rows.
    from datetime import datetime

    stamps = [datetime.fromisoformat(f).timestamp() for f in finished]
    workers = workers or os.cpu_count() or 1  # Ray: one task per CPU
    steady = (
        (len(stamps) - workers) / (stamps[-1] - stamps[workers - 1]) * 60
        if len(stamps) > workers
        else None
    )
    summary = json.loads((out / "summary.json").read_text())
    return {
        "label": label,
        "rows": len(lines),
        "wall_s": wall_s,
        "rows_per_min": len(lines) / wall_s * 60,
        "steady_rows_per_min": steady,
        "mean_row_s": statistics.fmean(x["total_s"] for x in t),
        "median_row_s": statistics.median(x["total_s"] for x in t),
        "cpu_per_row_s": statistics.fmean(x.get("cpu_s", 0.0) for x in t),
        "cost": summary["cost_per_row_s"],
        "load_before": load,
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16, help="rows per throughput run")
    parser.add_argument("--prepare-rows", type=int, default=4, help="rows of the --prepare run")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kp-bench-batch-") as tmp:
        root = Path(tmp)
        check_only = BatchOptions()
        # 1. Check only, 1 and 2 local workers (fresh output folders: nothing skipped).
        for workers in (1, 2):
            manifest = _manifest(root / f"m-local-{workers}.jsonl", args.rows, PAIRS, f"l{workers}")
            results.append(_run(f"local, {workers} worker{'s' if workers > 1 else ''}", manifest,
                                root / f"out-local-{workers}", executor="local", workers=workers,
                                options=check_only))  # fmt: skip
        # 2. Ray on this machine (its start-up timed apart).
        ray_start_s = None
        if not args.skip_ray:
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            ray_start_s = time.perf_counter() - started
            try:
                manifest = _manifest(root / "m-ray.jsonl", args.rows, PAIRS, "ray")
                results.append(_run(f"Ray local, {os.cpu_count()} CPUs", manifest,
                                    root / "out-ray", executor="ray", workers=0,
                                    options=check_only))  # fmt: skip
            finally:
                ray.shutdown()
        # 3. --prepare, to time the encode: the 35 s clip is trimmed to 30 s and re-encoded.
        manifest = _manifest(
            root / "m-prepare.jsonl", args.prepare_rows,
            [("character.jpg", "bad/too-long.mp4"), ("character.jpg", "reference.mp4")], "p",
        )  # fmt: skip
        results.append(_run("local, 1 worker, --prepare", manifest, root / "out-prepare",
                            executor="local", workers=1, options=BatchOptions(prepare=True)))  # fmt: skip

    cpus = os.cpu_count() or 1
    print(f"\n### Batch throughput ({platform.node()}: {cpus} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()})\n")  # fmt: skip
    print(
        f"`{' '.join(['.venv/bin/python', 'benchmarks/bench_batch.py', *sys.argv[1:]])}`; "
        f"{args.rows} rows per run (good, two people, dark, cut, cycling).\n"
    )
    print(
        "| run | rows | wall s | rows/min (wall) | rows/min (steady) | row s (mean) | CPU s/row | load before |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['label']} | {r['rows']} | {r['wall_s']:.1f} | {r['rows_per_min']:.1f} | "
              f"{_fmt(r['steady_rows_per_min'], 1)} | {r['mean_row_s']:.2f} | {r['cpu_per_row_s']:.2f} | "
              f"{r['load_before']:.1f} |")  # fmt: skip
    if ray_start_s is not None:
        print(
            f"\nRay start-up on this machine (not in the Ray row's wall time): {ray_start_s:.1f} s."
        )
    print(
        "\nPer-row cost by stage (mean seconds, measured in the worker from the check's and "
        "prepare's progress):\n"
    )
    print("| run | decode | analysis | encode | io | total |")
    print("|---|---|---|---|---|---|")
    for r in results:
        c = r["cost"]
        print(f"| {r['label']} | {_fmt(c['decode_s'])} | {_fmt(c['analysis_s'])} | "
              f"{_fmt(c['encode_s'])} | {_fmt(c['io_s'], 3)} | {_fmt(c['total_s'])} |")  # fmt: skip
    one, two = results[0], results[1]
    r1 = one["steady_rows_per_min"] or one["rows_per_min"]
    r2 = two["steady_rows_per_min"] or two["rows_per_min"]
    per_row = one["mean_row_s"]
    print(
        f"\nScaling on this machine: 2 workers give {r2 / r1:.2f}x the rows/min of 1 "
        f"(ideal 2x). One row keeps {one['cpu_per_row_s'] / per_row:.2f} cores busy on "
        f"average with one worker (CPU s / wall s): MediaPipe's graphs run their own threads."
    )
    per_machine = r2
    print(
        "\nEstimate for N machines like this one (2 cores, 2 workers each), from the measured "
        f"steady rate of {per_machine:.1f} rows/min per machine:\n"
    )
    for n in (1, 10, 50):
        rate = n * per_machine
        print(
            f"- N = {n}: {n} x {per_machine:.1f} = {rate:.0f} rows/min; 10,000 rows in "
            f"10000 / {rate:.0f} = {10000 / rate:.0f} min"
        )
    print(
        f"\nPer core: 60 s / {per_row:.2f} s per row x {one['cpu_per_row_s'] / per_row:.2f} "
        f"cores per row -> {60 / one['cpu_per_row_s']:.1f} rows/min per core of CPU time."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
