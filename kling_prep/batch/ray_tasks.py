"""The Ray executor: the check and prepare as Ray tasks on a cluster (or on this machine); the
submissions in the driver. Ray is imported here only; install it with
`pip install 'kling-prep[ray]'`.

Each task runs `check_row` with a configuration that has no journal, no API key and no budget,
and returns the row's outcome: its line, the pictures of a blocked row, the prepared files as
bytes (so that nothing written on a worker node has to be read there by the driver) and, for a
row to submit, its `SubmitOrder`. The driver writes the prepared files under its own
`--out-dir`, then makes each POST through `submit_row` with the one journal and the one budget
of this batch, one row at a time, before it writes the row's line. So no SQLite file is shared
between machines and no two processes ever count the budget.

Ray schedules; this module only keeps a bounded number of tasks in flight and passes results
on as they end. Tasks are never retried by Ray (`max_retries=0`): a row whose worker died is
recorded as an error and retried by the next run, where the journal refuses a second POST.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from kling_prep.batch.inflight import run_in_flight
from kling_prep.batch.pool import OutcomeSink, crashed_outcome
from kling_prep.batch.row import (
    RowContext,
    RowOutcome,
    RowTask,
    WorkerConfig,
    check_row,
    result_line,
    submit_row,
    warm_up,
    worker_context,
)
from kling_prep.errors import ConfigError, KlingPrepError
from kling_prep.media.outputs import write_atomically

# Tasks in flight per CPU the cluster offers: enough to keep every worker busy.
IN_FLIGHT_PER_CPU = 2
# The prepared files a task sends back to the driver (report.json with them).
_PREPARED_PATHS = ("image_path", "video_path", "report_path")


def task_config(config: WorkerConfig) -> WorkerConfig:
    """The configuration Ray tasks get: what the check and prepare need, and nothing to submit
    with (no journal, no API key, no budget, no upload bucket). A task that tried to submit
    would fail on the missing key; the driver submits."""
    options = replace(
        config.options, journal_path=None, budget_credits=None, s3_bucket=None, s3_endpoint=None
    )
    return replace(config, settings=replace(config.settings, api_key=None), options=options)


def _ray_row(config: WorkerConfig, task: RowTask) -> RowOutcome:
    import ray

    warm_up()
    outcome = check_row(task, worker_context(config))
    if outcome.line.get("worker") is not None:
        outcome.line["worker"]["ray_node"] = ray.get_runtime_context().get_node_id()
    prepared = outcome.line.get("prepare") or {}
    for name in _PREPARED_PATHS:
        if prepared.get(name):
            outcome.files[prepared[name]] = Path(prepared[name]).read_bytes()
    return outcome


def land_files(outcome: RowOutcome, prepared_dir: Path) -> None:
    """Write the prepared files a task sent back at their paths under this machine's
    `--out-dir` (where a task on this machine already wrote them, they are left as they are).

    Raises:
        KlingPrepError: a path outside `prepared_dir` (nothing is written for that row).
    """
    root = prepared_dir.resolve()
    for name in outcome.files:
        if not Path(name).resolve().is_relative_to(root):
            raise KlingPrepError(f"{name}: a Ray task sent back a file outside {root}")
    for name, data in outcome.files.items():
        path = Path(name)
        with contextlib.suppress(OSError):
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(data, path)
    outcome.files = {}


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold Ctrl-C back until the block ends (a POST and the line after it are never cut), then
    raise it. Only the main thread receives signals; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'kling-prep[ray]' (or pip install ray)"
        ) from exc
    return ray


def _driver_sink(config: WorkerConfig, on_outcome: OutcomeSink) -> tuple[OutcomeSink, RowContext]:
    """The driver's end of each row: its prepared files written here, its submission made
    here with the batch's journal and budget, then its line passed on."""
    context = RowContext(config)

    def finish(task: RowTask, outcome: RowOutcome) -> None:
        try:
            land_files(outcome, config.prepared_dir)
        except (OSError, KlingPrepError) as exc:
            # Not submitted, not final: the next run prepares the row again.
            message = f"the prepared files could not be written under {config.prepared_dir}: {exc}"
            error = {"type": type(exc).__name__, "message": message}
            outcome = RowOutcome(result_line(task, final=False, status="error", error=error))
        if outcome.to_submit is None:
            on_outcome(task, outcome)
            return
        with _ctrl_c_after():
            on_outcome(task, submit_row(outcome, context))

    return finish, context


def _init_ray(ray: Any, address: str | None) -> bool:
    """Connect to Ray; returns whether this call started it (and so must shut it down)."""
    owns_ray = not ray.is_initialized()
    if owns_ray and address is None:
        # A Ray of our own on this machine: quiet, no dashboard.
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    elif owns_ray:
        # A cluster's own settings stand (a ray:// client forwards init options to the head).
        ray.init(address=address)
    return owns_ray


def _run_tasks(
    ray: Any, tasks: Iterable[RowTask], config: WorkerConfig, limit: int, finish: OutcomeSink
) -> None:
    """Keep `limit` Ray tasks in flight (`run_in_flight`) and pass each row to `finish` here
    as its task ends; a task whose worker died is an error row, retried next run."""
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_row)
    config_ref = ray.put(task_config(config))

    def wait_any(refs: list[Any]) -> list[Any]:
        done, _ = ray.wait(refs, num_returns=1)
        return list(done)

    def collect(ref: Any, task: RowTask) -> None:
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayError as exc:
            outcome = crashed_outcome(task, exc)
        finish(task, outcome)

    # On Ctrl-C nothing new starts; the tasks submitted finish, are submitted and written.
    run_in_flight(
        tasks,
        limit=limit,
        start=lambda task: remote.remote(config_ref, task),
        wait_any=wait_any,
        finish=collect,
    )


def run_ray(
    tasks: Iterable[RowTask],
    config: WorkerConfig,
    *,
    on_outcome: OutcomeSink,
    address: str | None = None,
    max_in_flight: int | None = None,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Check (and prepare) every task as a Ray task (1 CPU each); submit the rows that pass
    here, in the driver; call `on_outcome` here as each row ends.

    Args:
        address: the cluster (`ray://head:10001`, `auto`, `HOST:PORT`); None starts Ray on
            this machine. When Ray is already initialised in this process, it is used as it is.
        max_in_flight: the most tasks submitted at once (default: 2 per CPU of the cluster).
        on_started: called with the cluster's CPU count once connected.

    Raises:
        ConfigError: Ray is not installed.
        KeyboardInterrupt: after the tasks in flight have finished and been passed on.
    """
    ray = _import_ray()
    owns_ray = _init_ray(ray, address)
    finish, driver = _driver_sink(config, on_outcome)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if on_started is not None:
            on_started(cpus)
        limit = max_in_flight or max(1, cpus) * IN_FLIGHT_PER_CPU
        _run_tasks(ray, tasks, config, limit, finish)
    finally:
        driver.close()
        if owns_ray:
            ray.shutdown()
