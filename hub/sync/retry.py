"""When to try a failed event again, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.errors import Deferred, NeedsAttention, RateLimited, RemoteError

#: Seconds to wait before each retry: 30 s, 2 min, 10 min, 1 h, 6 h, then daily
#: until about three days have passed.
DEFAULT_SCHEDULE = (30, 120, 600, 3600, 21600, 86400, 86400, 86400)


@dataclass(frozen=True)
class Decision:
    """What to do with an event after a failure."""

    #: ``retry``, ``defer`` (wait out a rate limit without using an attempt) or
    #: ``give_up``.
    action: str
    at: datetime | None
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """A schedule of waits with jitter, bounded by a number of tries.

    :param schedule: the seconds to wait before the first, second, … retry; an event
        is tried ``len(schedule) + 1`` times in all.
    :param jitter: the share by which each wait may randomly grow or shrink, so events
        that failed together do not all come back together.
    :param max_deferrals: how often an event may wait out a rate limit before each
        further one uses an attempt.
    """

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    max_deferrals: int = 50
    #: Seconds to wait out a rate limit when the remote did not say how long.
    rate_limit_wait: float = 10.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @property
    def max_tries(self) -> int:
        """Return how many times an event is tried before it needs attention."""
        return len(self.schedule) + 1

    def wait(self, attempts: int) -> float:
        """Return the seconds to wait after the given number of failed tries."""
        if not self.schedule:
            return 0.0
        base = self.schedule[min(attempts, len(self.schedule)) - 1]
        spread = base * self.jitter

        return max(0.0, base + self.rng.uniform(-spread, spread))

    def decide(
        self, error: Exception, attempts: int, deferrals: int, now: datetime
    ) -> Decision:
        """Return whether and when to try again after ``error``.

        :param attempts: the tries made so far, this one included.
        :param deferrals: the rate-limit waits so far.
        """
        reason = describe(error)
        if isinstance(error, NeedsAttention):
            return Decision("give_up", None, reason)
        if isinstance(error, RemoteError) and not error.retryable:
            return Decision("give_up", None, reason)

        retry_after = getattr(error, "retry_after", None) or 0.0
        waiting = isinstance(error, RateLimited | Deferred)
        if waiting and deferrals < self.max_deferrals:
            wait = retry_after or self.rate_limit_wait
            wait += self.rng.uniform(0, wait * self.jitter)
            return Decision("defer", now + timedelta(seconds=wait), reason)

        if attempts >= self.max_tries:
            return Decision(
                "give_up", None, f"Gave up after {attempts} tries. {reason}"
            )
        wait = max(self.wait(attempts), retry_after)

        return Decision("retry", now + timedelta(seconds=wait), reason)


def describe(error: Exception) -> str:
    """Return a sentence for people about an error, without a traceback."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if not isinstance(error, NeedsAttention | RemoteError | Deferred) and not hasattr(
        error, "message"
    ):
        return f"Unexpected {type(error).__name__}: {message}"

    return message


def from_config(config) -> RetryPolicy:
    """Return the retry policy an app's ``HUB_RETRY_*`` settings describe."""
    schedule = config.get("HUB_RETRY_SCHEDULE") or DEFAULT_SCHEDULE
    if isinstance(schedule, str):
        schedule = tuple(float(part) for part in schedule.split(",") if part.strip())

    return RetryPolicy(
        schedule=tuple(float(s) for s in schedule),
        jitter=float(config.get("HUB_RETRY_JITTER", 0.2)),
        max_deferrals=int(config.get("HUB_RETRY_MAX_DEFERRALS", 50)),
        rate_limit_wait=float(config.get("HUB_RETRY_RATE_LIMIT_WAIT", 10.0)),
    )
