"""The bounded in-flight driver both batch executors use (`batch/inflight.py`): never more than
`limit` items in flight, every item finished exactly once in completion order, items read only
for a free slot, and on Ctrl-C the queued ones cancelled and the running ones finished."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import pytest

from kling_prep.batch.inflight import run_in_flight


class FakeExecutor:
    """Handles are item numbers; `wait_any` reports done the item the schedule picks."""

    def __init__(self, pick: str = "oldest") -> None:
        self.pick = pick
        self.running: list[int] = []
        self.started: list[int] = []
        self.finished: list[int] = []
        self.reported: list[int] = []
        self.most_in_flight = 0

    def start(self, item: int) -> int:
        self.running.append(item)
        self.started.append(item)
        self.most_in_flight = max(self.most_in_flight, len(self.running))
        return item

    def wait_any(self, handles: list[int]) -> list[int]:
        assert sorted(handles) == sorted(self.running)
        done = handles[0] if self.pick == "oldest" else handles[-1]
        self.reported.append(done)
        return [done]

    def finish(self, handle: int, item: int) -> None:
        assert handle == item
        self.running.remove(item)
        self.finished.append(item)


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
@pytest.mark.parametrize("pick", ["oldest", "newest"])
def test_never_more_than_limit_and_every_item_once_in_completion_order(limit, pick):
    fake = FakeExecutor(pick)
    read_while_full: list[int] = []

    def items() -> Iterator[int]:
        for n in range(20):
            if len(fake.running) >= limit:
                read_while_full.append(n)  # an item read with no free slot
            yield n

    run_in_flight(
        items(), limit=limit, start=fake.start, wait_any=fake.wait_any, finish=fake.finish
    )
    assert fake.most_in_flight == min(limit, 20)
    assert sorted(fake.finished) == list(range(20))  # every item, once
    assert fake.finished == fake.reported  # in the order they were reported done
    assert read_while_full == []
    assert fake.running == []


def test_an_empty_input_starts_and_waits_for_nothing():
    fake = FakeExecutor()
    run_in_flight([], limit=3, start=fake.start, wait_any=fake.wait_any, finish=fake.finish)
    assert (fake.started, fake.reported) == ([], [])


def test_ctrl_c_cancels_the_queued_finishes_the_running_in_start_order_then_raises():
    fake = FakeExecutor("newest")
    cancelled: list[int] = []

    def finish(handle: int, item: int) -> None:
        fake.finish(handle, item)
        if item == 4:
            raise KeyboardInterrupt

    def cancel(handle: int) -> bool:
        if handle % 2:  # odd items had not started running: they can be cancelled
            cancelled.append(handle)
            return True
        return False

    with pytest.raises(KeyboardInterrupt):
        run_in_flight(
            range(100),
            limit=4,
            start=fake.start,
            wait_any=fake.wait_any,
            finish=finish,
            cancel=cancel,
        )
    # 0-3 started; 3 ended and 4 took its slot; 4 ended and its finish raised (Ctrl-C). Then
    # nothing starts: 1 is cancelled, 0 and 2 are waited for.
    in_flight_at_interrupt = [n for n in fake.started if n not in fake.finished]
    assert fake.started == [0, 1, 2, 3, 4]
    assert fake.finished[:2] == [3, 4]
    assert cancelled == [1]
    assert fake.finished[2:] == [0, 2]  # the rest, not cancelled, in the order started
    assert in_flight_at_interrupt == [1]


def test_with_real_threads_the_bound_holds_and_every_result_arrives():
    limit, lock = 3, threading.Lock()
    running = most = 0

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002 * (n % 4))
        with lock:
            running -= 1
        return n * n

    results: list[int] = []

    def first_completed(futures: list[Future[int]]) -> set[Future[int]]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return done

    with ThreadPoolExecutor(max_workers=8) as pool:
        run_in_flight(
            range(40),
            limit=limit,
            start=lambda n: pool.submit(work, n),
            wait_any=first_completed,
            finish=lambda future, n: results.append(future.result() - n * n + n),
        )
    assert sorted(results) == list(range(40))
    assert 1 <= most <= limit


@pytest.mark.parametrize("limit", [0, -2])
def test_a_limit_under_one_is_refused_not_a_batch_that_silently_runs_nothing(limit):
    with pytest.raises(ValueError, match="nothing would run"):
        run_in_flight(
            [1, 2], limit=limit, start=lambda item: item, wait_any=list, finish=lambda h, i: None
        )
