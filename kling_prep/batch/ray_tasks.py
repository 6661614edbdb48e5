"""The Ray executor: the same `run_task` as the local one, as Ray tasks on a cluster (or on this
machine). Ray is imported here only; install it with `pip install 'kling-prep[ray]'`.

Ray schedules; this module only keeps a bounded number of tasks in flight and passes results
on as they end. Tasks are never retried by Ray (`max_retries=0`): a row whose worker died is
recorded as an error and retried by the next run, where the journal refuses a second POST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kling_prep.batch.pool import OutcomeSink, crashed_outcome
from kling_prep.batch.row import RowOutcome, RowTask, WorkerConfig, run_task, warm_up
from kling_prep.errors import ConfigError

# Tasks in flight per CPU the cluster offers: enough to keep every worker busy.
IN_FLIGHT_PER_CPU = 2


def _ray_row(config: WorkerConfig, task: RowTask) -> RowOutcome:
    warm_up()
    return run_task(config, task)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'kling-prep[ray]' (or pip install ray)"
        ) from exc
    return ray


def run_ray(
    tasks: Iterable[RowTask],
    config: WorkerConfig,
    *,
    on_outcome: OutcomeSink,
    address: str | None = None,
    max_in_flight: int | None = None,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Run every task as a Ray task (1 CPU each); call `on_outcome` here as each ends.

    Args:
        address: the cluster (`ray://head:10001`, `auto`); None starts Ray on this machine.
            When Ray is already initialised in this process, it is used as it is.
        max_in_flight: the most tasks submitted at once (default: 2 per CPU of the cluster).
        on_started: called with the cluster's CPU count once connected.

    Raises:
        ConfigError: Ray is not installed.
        KeyboardInterrupt: after the tasks in flight have finished and been passed on.
    """
    ray = _import_ray()
    owns_ray = not ray.is_initialized()
    if owns_ray and address is None:
        # A Ray of our own on this machine: quiet, no dashboard.
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    elif owns_ray:
        # A cluster's own settings stand (a ray:// client forwards init options to the head).
        ray.init(address=address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if on_started is not None:
            on_started(cpus)
        limit = max_in_flight or max(1, cpus) * IN_FLIGHT_PER_CPU
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_row)
        config_ref = ray.put(config)
        pending: Iterator[RowTask] = iter(tasks)
        in_flight: dict[Any, RowTask] = {}

        def collect(refs: list[Any]) -> None:
            for ref in refs:
                task = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    outcome = crashed_outcome(task, exc)
                on_outcome(task, outcome)

        try:
            while True:
                while len(in_flight) < limit:
                    task = next(pending, None)
                    if task is None:
                        break
                    in_flight[remote.remote(config_ref, task)] = task
                if not in_flight:
                    break
                done, _ = ray.wait(list(in_flight), num_returns=1)
                collect(done)
        except KeyboardInterrupt:
            # Nothing new starts; the tasks submitted finish and are written.
            collect(list(in_flight))
            raise
    finally:
        if owns_ray:
            ray.shutdown()
