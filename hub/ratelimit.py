"""Client-side rate limits: each key kept to a share of its budget per moving window.

A connector's client asks :meth:`WindowLimiter.acquire` before every call and sleeps
for the seconds it answers. The windows live in a ``limits`` storage with moving-window
support: this process's memory by default, or a storage named by a URI (such as
``redis://127.0.0.1:6379/1``) that every process using it shares.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from limits.errors import ConfigurationError as StorageUnusable
from limits.storage import MovingWindowSupport, Storage, storage_from_string

from hub.errors import ConfigurationError

#: The setting naming a ``limits`` storage URI that every process shares.
STORAGE_SETTING = "HUB_RATE_LIMIT_STORAGE"
#: The shortest wait :meth:`WindowLimiter.acquire` answers when a window is full.
SHORTEST_WAIT = 0.01


class RateLimiter(Protocol):
    """What a connector's client needs of a limiter."""

    def acquire(self, key: str) -> float:
        """Take one call from the key's budget; return 0, or seconds to wait first."""

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Record the limit the remote announced for the key."""

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds, after the remote said so."""


@dataclass(frozen=True)
class Budget:
    """How many calls a key may make in any window of ``interval`` seconds."""

    limit: int
    interval: float


class WindowLimiter:
    """Keeps each key to ``share`` of its budget of calls per moving window.

    Every key starts with ``limit`` calls per ``interval`` seconds, until
    :meth:`observe` records the figure the remote announced for it.

    :param namespace: prefixes the keys in the storage, so limiters sharing one
        storage keep their windows apart; usually the connector's name.
    :param share: the part of each budget the hub allows itself, above 0 and at most 1.
    :param storage: a ``limits`` storage with moving-window support; by default a
        :class:`ClockedMemoryStorage` of this limiter's own, on ``clock``.
    :param clock: returns the time in seconds; a storage given must keep the same time.
    """

    def __init__(
        self,
        namespace: str,
        *,
        limit: int,
        interval: float = 1.0,
        share: float = 1.0,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(
                f"A rate limit share must be above 0 and at most 1, not {share}."
            )
        if interval <= 0:
            raise ValueError(
                f"A rate limit interval must be above 0 seconds, not {interval}."
            )
        storage = storage if storage is not None else ClockedMemoryStorage(clock)
        if not isinstance(storage, MovingWindowSupport):
            raise TypeError(
                f"{type(storage).__name__} keeps no moving windows; use a memory:// "
                "or redis:// storage of limits."
            )

        self.namespace = namespace
        self.default = Budget(limit, interval)
        self.share = share
        self.storage = storage
        self.clock = clock
        self._budgets: dict[str, Budget] = {}
        self._paused_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def budget(self, key: str) -> int:
        """Return how many calls the key may make per window: its share, at least 1."""
        with self._lock:
            known = self._budgets.get(key, self.default)

        return max(1, math.floor(known.limit * self.share))

    def interval(self, key: str) -> float:
        """Return the key's window in seconds."""
        with self._lock:
            return self._budgets.get(key, self.default).interval

    def acquire(self, key: str) -> float:
        """Take one call from the key's budget; return 0, or seconds to wait first."""
        now = self.clock()
        with self._lock:
            paused = self._paused_until.get(key, 0.0)
        if paused > now:
            return paused - now

        # Storages count windows in whole seconds, so a window is rounded up.
        limit = self.budget(key)
        expiry = math.ceil(self.interval(key))
        window = f"{self.namespace}/{key}"
        if self.storage.acquire_entry(window, limit, expiry):
            return 0.0
        oldest, _ = self.storage.get_moving_window(window, limit, expiry)

        return min(max(oldest + expiry - now, SHORTEST_WAIT), expiry)

    def observe(self, key: str, limit: int, interval: float) -> None:
        """Record the limit the remote announced for the key; others are ignored."""
        if limit > 0 and interval > 0:
            with self._lock:
                self._budgets[key] = Budget(limit, interval)

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call of the key for some seconds, after the remote said so."""
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


MOVING_WINDOWS_ONLY = "ClockedMemoryStorage keeps moving windows only, not counters."


class ClockedMemoryStorage(Storage, MovingWindowSupport):
    """Moving windows kept in this process's memory, on an injectable clock.

    ``limits``' own memory storage reads the wall clock, which a test cannot move;
    this one reads ``clock``. It keeps moving windows only, not counters.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._calls: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return RuntimeError

    def _window(self, key: str, expiry: float) -> list[float]:
        """Return the times of the key's calls made less than ``expiry`` seconds ago."""
        start = self.clock() - expiry
        calls = [at for at in self._calls.pop(key, ()) if at > start]
        if calls:
            self._calls[key] = calls

        return calls

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Record ``amount`` calls when the window has room for them; say whether."""
        with self._lock:
            calls = self._window(key, expiry)
            if len(calls) + amount > limit:
                return False
            self._calls[key] = calls + [self.clock()] * amount

        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """Return when the window's oldest call was made, and how many it holds."""
        with self._lock:
            calls = self._window(key, expiry)
            if not calls:
                return self.clock(), 0

            return calls[0], len(calls)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError(MOVING_WINDOWS_ONLY)

    def get(self, key: str) -> int:
        raise NotImplementedError(MOVING_WINDOWS_ONLY)

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError(MOVING_WINDOWS_ONLY)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._calls)
            self._calls.clear()

        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._calls.pop(key, None)


def window_storage(uri: str) -> Storage:
    """Return the ``limits`` storage a URI such as ``redis://127.0.0.1:6379/1`` names.

    :raises hub.errors.ConfigurationError: when the URI names no storage that keeps
        moving windows, or one whose client library is not installed.
    """
    scheme = urlsplit(uri).scheme or "without a scheme"
    try:
        storage = storage_from_string(uri)
    except StorageUnusable:
        problem = "limits does not know or cannot load (is its client installed?)"
    else:
        if isinstance(storage, MovingWindowSupport):
            return storage
        problem = "keeps no moving windows"

    # The URI is left out of the message: it may hold the storage's password.
    raise ConfigurationError(
        f"{STORAGE_SETTING} names a storage ({scheme}) that {problem}. Set it to a "
        "redis:// URI, or leave it empty to count in each process."
    )


_shared: dict[tuple[str, int, float, float, str | None], WindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    namespace: str,
    *,
    limit: int,
    interval: float = 1.0,
    share: float = 1.0,
    storage_uri: str | None = None,
) -> WindowLimiter:
    """Return this process's one limiter for these figures and storage.

    Without ``storage_uri`` the windows are kept in this process's memory; with it,
    every process using that storage shares them. Budgets learnt through
    :meth:`WindowLimiter.observe` and pauses are kept per process in either case.
    """
    settings = (namespace, limit, interval, share, storage_uri or None)
    with _shared_lock:
        found = _shared.get(settings)
        if found is None:
            storage = window_storage(storage_uri) if storage_uri else None
            found = WindowLimiter(
                namespace,
                limit=limit,
                interval=interval,
                share=share,
                storage=storage,
            )
            _shared[settings] = found

    return found
