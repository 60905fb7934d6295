"""The client-side rate limit: about 10 requests a second for each agency.

ClearCare asks for at most 100 requests a second and enforces nothing, so the hub
stays well below it. The client knows only the :class:`RateLimiter` interface, the
same one the HubSpot connector's client uses, so a limiter shared between processes
(a ``limits`` Redis storage) can stand in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

DEFAULT_RATE = 10


class RateLimiter(Protocol):
    """What the client needs of a limiter."""

    def acquire(self, key: str) -> float:
        """Take one call from the key's budget; return 0, or seconds to wait first."""

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Record the limit the remote announced for the key."""

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds, after the remote said so."""


class WindowLimiter:
    """A one-second moving window per key, kept in a ``limits`` storage.

    :param per_second: calls allowed in any one-second window.
    :param storage: where the windows live; this process's memory by default.
    :param clock: returns the time in seconds, for pauses.
    """

    def __init__(
        self,
        per_second: int = DEFAULT_RATE,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.item = RateLimitItemPerSecond(max(1, per_second))
        self.strategy = MovingWindowRateLimiter(storage or MemoryStorage())
        self.clock = clock
        self._paused_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one call from the key's window; return 0, or seconds to wait first."""
        with self._lock:
            paused = self._paused_until.get(key, 0.0) - self.clock()
        if paused > 0:
            return paused
        if self.strategy.hit(self.item, "clearcare", key):
            return 0.0
        stats = self.strategy.get_window_stats(self.item, "clearcare", key)

        return min(1.0, max(0.01, stats.reset_time - time.time()))

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Do nothing: ClearCare announces no limit."""

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds."""
        with self._lock:
            until = self.clock() + seconds
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)


class Unlimited:
    """A limiter that never holds a call back, for callers that limit elsewhere."""

    def acquire(self, key: str) -> float:
        """Return 0: the call may go."""
        return 0.0

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Do nothing."""

    def pause(self, key: str, seconds: float) -> None:
        """Do nothing."""


_shared: dict[tuple[int, str | None], WindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    per_second: int = DEFAULT_RATE, storage_uri: str | None = None
) -> WindowLimiter:
    """Return the limiter every ClearCare client in this process shares.

    With ``storage_uri`` (a ``limits`` storage such as ``redis://127.0.0.1:6379``)
    the windows are shared by every process using that storage.
    """
    with _shared_lock:
        if (per_second, storage_uri) not in _shared:
            storage = storage_from_string(storage_uri) if storage_uri else None
            _shared[per_second, storage_uri] = WindowLimiter(per_second, storage)
        return _shared[per_second, storage_uri]
