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
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from kling_prep.batch.inflight import run_in_flight
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


class _Workers:
    """The process pool, replaced by a fresh one before the next row once a worker died."""

    def __init__(self, config: WorkerConfig, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.pool = _new_pool(config, workers)
        self.is_broken = False

    def start(self, task: RowTask) -> Future[RowOutcome]:
        if self.is_broken:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool, self.is_broken = _new_pool(self.config, self.workers), False
        return self.pool.submit(run_task, self.config, task)

    def outcome(self, future: Future[RowOutcome], task: RowTask) -> RowOutcome:
        """The row's outcome; a dead worker fails only this row (the next starts a new pool)."""
        try:
            return future.result()
        except BrokenProcessPool as exc:
            self.is_broken = True
            return crashed_outcome(task, exc)


def _first_completed(futures: list[Future[RowOutcome]]) -> set[Future[RowOutcome]]:
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    return done


def run_local(
    tasks: Iterable[RowTask], config: WorkerConfig, *, workers: int, on_outcome: OutcomeSink
) -> None:
    """Run every task in `workers` local processes; call `on_outcome` in this process as each
    row ends (in completion order). A worker that dies fails only the rows it held (recorded
    as errors, retried next run); a fresh pool takes the rest.

    A short queue is kept, not the whole manifest (`run_in_flight`): memory stays flat for any
    size. On Ctrl-C nothing new starts; the rows running finish and are passed on.

    Raises:
        KeyboardInterrupt: after the rows in flight have finished and been passed on (a second
            Ctrl-C stops waiting for them).
    """
    workers = max(1, workers)
    pool = _Workers(config, workers)

    def finish(future: Future[RowOutcome], task: RowTask) -> None:
        on_outcome(task, pool.outcome(future, task))

    try:
        run_in_flight(
            tasks,
            limit=workers * (1 + QUEUE_PER_WORKER),
            start=pool.start,
            wait_any=_first_completed,
            finish=finish,
            cancel=lambda future: future.cancel(),
        )
    except BaseException:
        # A second Ctrl-C, or an error in `on_outcome`: stop waiting. The workers ignore
        # SIGINT, so each ends its current row (its journal entry stays consistent).
        pool.pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.pool.shutdown(wait=True)
