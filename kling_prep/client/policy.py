"""How often and how long the client asks again: GET retries with backoff, and job polling.

Pure arithmetic with an injected random source, so the delays are testable without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a GET (and of a POST that provably was not processed) after a transient error.

    Attributes:
        max_attempts: total tries, the first included.
        backoff_s: the wait before the second try; doubled for each further one.
        max_backoff_s: the longest wait between tries.
        jitter_ratio: each wait is scaled by a random factor in [1 - ratio, 1 + ratio].
        max_retry_after_s: a `Retry-After` longer than this is not waited for; the error is raised.
    """

    max_attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    jitter_ratio: float = 0.2
    max_retry_after_s: float = 120.0

    def delay_s(
        self, attempt: int, rng: random.Random, retry_after_s: float | None = None
    ) -> float:
        """The wait before try number `attempt + 1` (attempt counts from 1).

        A server's `Retry-After` is a floor: the client never asks sooner than told.
        """
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        delay = jitter(base, self.jitter_ratio, rng)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay


@dataclass(frozen=True)
class PollPolicy:
    """How `wait` polls a job.

    Attributes:
        interval_s: the mean time between polls (the API's jobs take 2-5 minutes).
        jitter_ratio: each interval is scaled by a random factor in [1 - ratio, 1 + ratio], so
            many waiting clients do not poll in step.
        deadline_s: give up (WaitDeadlineError) after this long; None waits for ever.
        max_consecutive_errors: transient errors (5xx, 429, timeouts) tolerated in a row before
            the last one is raised.
    """

    interval_s: float = 10.0
    jitter_ratio: float = 0.2
    deadline_s: float | None = 15 * 60.0
    max_consecutive_errors: int = 10

    def delay_s(self, rng: random.Random, retry_after_s: float | None = None) -> float:
        """The wait before the next poll; a server's `Retry-After` is a floor."""
        delay = jitter(self.interval_s, self.jitter_ratio, rng)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay


def jitter(value_s: float, ratio: float, rng: random.Random) -> float:
    """`value_s` scaled by a random factor in [1 - ratio, 1 + ratio] (never negative)."""
    if ratio <= 0:
        return value_s
    return max(0.0, value_s * rng.uniform(1.0 - ratio, 1.0 + ratio))
