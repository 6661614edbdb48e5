"""The local executor: worker processes on this machine (`concurrent.futures`), each running
`run_task` for one row at a time.

Workers start through `forkserver` (MediaPipe's graphs run threads, which a plain fork would
copy half-alive), ignore Ctrl-C (the parent decides: the rows in flight finish and are written,
the rest wait for the next run), and import the heavy libraries once in their initializer.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from kling_prep.batch.row import (
    RowOutcome,
    RowTask,
    WorkerConfig,
    result_line,
    run_task,
    warm_up,
    worker_context,
)

OutcomeSink = Callable[[RowTask, RowOutcome], None]
# Rows queued per worker beyond the one it runs: enough to keep it busy, few enough that
# Ctrl-C has little to wait for.
QUEUE_PER_WORKER = 1


def crashed_outcome(task: RowTask, exc: BaseException) -> RowOutcome:
    """The outcome of a row whose worker died or whose task could not run: retried next run."""
    error = {"type": type(exc).__name__, "message": f"the worker running this row failed: {exc}"}
    return RowOutcome(result_line(task, final=False, status="error", error=error, worker=None))


def _init_worker(config: WorkerConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()
    worker_context(config)


def _context() -> multiprocessing.context.BaseContext:
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def _new_pool(config: WorkerConfig, workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_init_worker, initargs=(config,)
    )


def run_local(
    tasks: Iterable[RowTask], config: WorkerConfig, *, workers: int, on_outcome: OutcomeSink
) -> None:
    """Run every task in `workers` local processes; call `on_outcome` in this process as each
    row ends (in completion order). A worker that dies fails only the rows it held (recorded
    as errors, retried next run); a fresh pool takes the rest.

    Raises:
        KeyboardInterrupt: after the rows in flight have finished and been passed on (a second
            Ctrl-C stops waiting for them).
    """
    workers = max(1, workers)
    pending: Iterator[RowTask] = iter(tasks)
    limit = workers * (1 + QUEUE_PER_WORKER)
    pool = _new_pool(config, workers)
    is_broken = False
    in_flight: dict[Future[RowOutcome], RowTask] = {}
    try:
        try:
            while True:
                # 1. Keep a short queue, not the whole manifest: memory stays flat for any size.
                while len(in_flight) < limit:
                    task = next(pending, None)
                    if task is None:
                        break
                    if is_broken:
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool, is_broken = _new_pool(config, workers), False
                    in_flight[pool.submit(run_task, config, task)] = task
                if not in_flight:
                    break
                # 2. Pass each finished row on as it ends.
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool as exc:
                        is_broken = True
                        outcome = crashed_outcome(task, exc)
                    on_outcome(task, outcome)
        except KeyboardInterrupt:
            # 3. Ctrl-C: nothing new starts; the rows running finish and are written.
            for future in in_flight:
                future.cancel()
            for future, task in in_flight.items():
                if future.cancelled():
                    continue
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    outcome = crashed_outcome(task, exc)
                on_outcome(task, outcome)
            raise
    except BaseException:
        # A second Ctrl-C, or an error in `on_outcome`: stop waiting. The workers ignore
        # SIGINT, so each ends its current row (its journal entry stays consistent).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
