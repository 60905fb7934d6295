"""Per-portal rate limiting: the connector's share of each HubSpot portal's budget.

HubSpot limits each app to a number of calls per rolling 10 seconds per portal (and
search to about 5 a second). The hub keeps to a share of that figure, so people and
other integrations using the same portal keep the rest. Windows are kept in a storage
of the ``limits`` library through its moving-window interface, so a Redis storage
(``limits.storage.RedisStorage``) shares the budget between processes unchanged.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from limits.storage import MovingWindowSupport, Storage

#: The share of the portal's limit the hub allows itself.
DEFAULT_SHARE = 0.75
#: HubSpot's burst limit before the portal's own figure is known.
DEFAULT_LIMIT = 100
DEFAULT_INTERVAL = 10.0
#: HubSpot's search limit, which answers carry no headers for.
SEARCH_LIMIT = 5
SEARCH_INTERVAL = 1.0


class RateLimiter(Protocol):
    """What the client needs of a limiter; a Redis-backed one can stand in."""

    def acquire(self, key: str) -> float:
        """Take one call from the key's budget; return 0, or seconds to wait first."""

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Record the limit the remote announced for the key."""

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds, after the remote said so."""


@dataclass
class Budget:
    limit: int
    interval: float


class WindowLimiter:
    """A moving-window limiter keeping to ``share`` of each key's announced limit.

    :param storage: a ``limits`` storage with moving-window support.
    :param clock: returns the current time in seconds; the storage must use it too.
    """

    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        *,
        limit: int = DEFAULT_LIMIT,
        interval: float = DEFAULT_INTERVAL,
        share: float = DEFAULT_SHARE,
        namespace: str = "hubspot",
    ) -> None:
        if not isinstance(storage, MovingWindowSupport):
            raise TypeError(f"{type(storage).__name__} has no moving-window support.")
        self.storage = storage
        self.clock = clock
        self.share = share
        self.namespace = namespace
        self.default = Budget(limit, interval)
        self._budgets: dict[str, Budget] = {}
        self._paused_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def budget(self, key: str) -> int:
        """Return how many calls the key may make per window."""
        known = self._budgets.get(key, self.default)
        return max(1, math.floor(known.limit * self.share))

    def interval(self, key: str) -> float:
        """Return the key's window in seconds."""
        return self._budgets.get(key, self.default).interval

    def acquire(self, key: str) -> float:
        """Take one call from the key's budget; return 0, or seconds to wait first."""
        now = self.clock()
        with self._lock:
            paused = self._paused_until.get(key, 0.0)
        if paused > now:
            return paused - now

        limit = self.budget(key)
        expiry = math.ceil(self.interval(key))
        window_key = f"{self.namespace}/{key}"
        if self.storage.acquire_entry(window_key, limit, expiry):
            return 0.0
        oldest, _ = self.storage.get_moving_window(window_key, limit, expiry)

        return max(oldest + expiry - now, 0.01)

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Record the limit the remote announced for the key."""
        if limit > 0 and interval > 0:
            self._budgets[key] = Budget(limit, interval)

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds, after the remote said so."""
        with self._lock:
            until = self.clock() + seconds
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)


class ClockedMemoryStorage(Storage, MovingWindowSupport):
    """An in-process moving-window storage whose clock can be injected for tests."""

    STORAGE_SCHEME = ["carehub-memory"]

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._events: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return RuntimeError

    def _live(self, key: str, expiry: float) -> list[float]:
        cutoff = self.clock() - expiry
        events = [t for t in self._events.get(key, []) if t > cutoff]
        self._events[key] = events
        return events

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Record ``amount`` calls when the window has room; return whether it had."""
        with self._lock:
            events = self._live(key, expiry)
            if len(events) + amount > limit:
                return False
            events.extend([self.clock()] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """Return the oldest call still in the window and how many calls it holds."""
        with self._lock:
            events = self._live(key, expiry)
            if not events:
                return self.clock(), 0
            return events[0], len(events)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._lock:
            events = self._live(key, expiry)
            events.extend([self.clock()] * amount)
            return len(events)

    def get(self, key: str) -> int:
        with self._lock:
            return len(self._events.get(key, []))

    def get_expiry(self, key: str) -> float:
        with self._lock:
            events = self._events.get(key)
            return events[-1] if events else self.clock()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._events)
            self._events.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


def portal_limiter(clock: Callable[[], float], share: float) -> WindowLimiter:
    """Return the limiter for a portal's general budget, kept in this process."""
    return WindowLimiter(ClockedMemoryStorage(clock), clock, share=share)


def search_limiter(clock: Callable[[], float], share: float) -> WindowLimiter:
    """Return the limiter for a portal's search budget, kept in this process."""
    return WindowLimiter(
        ClockedMemoryStorage(clock),
        clock,
        limit=SEARCH_LIMIT,
        interval=SEARCH_INTERVAL,
        share=share,
        namespace="hubspot-search",
    )
