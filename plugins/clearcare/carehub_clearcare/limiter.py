"""The client-side rate limit: about 10 requests a second for each agency.

ClearCare asks for at most 100 requests a second and enforces nothing, so the hub
stays well below it. The client only knows the small :class:`Limiter` interface.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class Limiter(Protocol):
    """Waits until one more request for a key fits in its limit."""

    def acquire(self, key: str) -> None:
        """Return when a request for ``key`` may go."""


class WindowLimiter:
    """A moving-window limit per key, kept in this process's memory.

    :param per_second: requests allowed in any one-second window.
    :param sleep: the function that waits, replaceable in tests.
    """

    def __init__(
        self, per_second: int = 10, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.item = RateLimitItemPerSecond(per_second)
        self.strategy = MovingWindowRateLimiter(MemoryStorage())
        self.sleep = sleep

    def acquire(self, key: str) -> None:
        """Wait until a request for ``key`` fits in the window, then count it."""
        while not self.strategy.hit(self.item, "clearcare", key):
            stats = self.strategy.get_window_stats(self.item, "clearcare", key)
            self.sleep(min(1.0, max(0.01, stats.reset_time - time.time())))


class Unlimited:
    """A limiter that never waits, for callers that limit elsewhere."""

    def acquire(self, key: str) -> None:
        """Return at once."""


_shared: dict[int, WindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(per_second: int = 10) -> WindowLimiter:
    """Return the limiter every ClearCare client in this process shares."""
    with _shared_lock:
        if per_second not in _shared:
            _shared[per_second] = WindowLimiter(per_second)
        return _shared[per_second]
