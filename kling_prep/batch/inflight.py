"""The bounded in-flight loop both executors share: keep at most `limit` items running, pass
each one on as it ends, start the next.

The executor supplies the verbs (a process pool's futures, Ray's object refs); this loop only
decides when to start, when to wait and what happens on Ctrl-C:

- items are read from the iterable one at a time, only when a slot is free, so memory stays
  flat for any manifest size;
- at most `limit` items are started and not yet finished, at any moment;
- each item is finished (`finish`) exactly once, in this thread, in the order `wait_any`
  reports them done (completion order);
- on KeyboardInterrupt nothing new starts: every item still queued is offered to `cancel`;
  those not cancelled are finished in the order they were started, then the interrupt is
  raised again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)


def _never_cancel(handle: object) -> bool:
    return False


def run_in_flight(
    items: Iterable[T],
    *,
    limit: int,
    start: Callable[[T], H],
    wait_any: Callable[[list[H]], Iterable[H]],
    finish: Callable[[H, T], None],
    cancel: Callable[[H], bool] = _never_cancel,
) -> None:
    """Run every item with at most `limit` in flight, finishing each as it ends.

    Args:
        items: read lazily, one item per free slot.
        limit: the most items started and not yet finished, at least 1.
        start: starts one item and returns its handle (a future, an object ref).
        wait_any: blocks until at least one of the handles is done; returns the done ones.
        finish: collects one done item's result and passes it on (called in this thread).
        cancel: on Ctrl-C, tries to cancel a handle not yet running; True if it will not run.

    Raises:
        ValueError: `limit` under 1 (nothing would run, and the batch would look done).
        KeyboardInterrupt: after the items in flight that could not be cancelled are finished.
    """
    if limit < 1:
        raise ValueError(f"at most {limit} in flight: nothing would run (the least is 1)")
    pending = iter(items)
    in_flight: dict[H, T] = {}
    try:
        while True:
            _fill(pending, in_flight, limit, start)
            if not in_flight:
                return
            for handle in wait_any(list(in_flight)):
                finish(handle, in_flight.pop(handle))
    except KeyboardInterrupt:
        _drain(in_flight, finish, cancel)
        raise


def _fill(pending: Iterator[T], in_flight: dict[H, T], limit: int, start: Callable[[T], H]) -> None:
    """Start items until `limit` are in flight or none is left (an item is read only for a
    free slot)."""
    if len(in_flight) >= limit:
        return
    for item in pending:
        in_flight[start(item)] = item
        if len(in_flight) >= limit:
            return


def _drain(
    in_flight: dict[H, T], finish: Callable[[H, T], None], cancel: Callable[[H], bool]
) -> None:
    """After Ctrl-C: cancel what has not started, finish the rest in the order started."""
    cancelled = {handle for handle in list(in_flight) if cancel(handle)}
    for handle in list(in_flight):
        item = in_flight.pop(handle)
        if handle not in cancelled:
            finish(handle, item)
