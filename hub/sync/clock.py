"""Clocks the sync engine reads time from, so tests can move time instead of waiting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SystemClock:
    """The real time, in UTC without a time zone, as the database keeps it."""

    def now(self) -> datetime:
        """Return the current time."""
        return datetime.now(UTC).replace(tzinfo=None)


class ManualClock:
    """A clock that stands still until a test moves it.

    Moving it wakes whoever asked to be told (the dispatcher), so a worker waiting
    for a retry that is now due runs at once.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or SystemClock().now()
        self._lock = threading.Lock()
        self._listeners: list = []

    def now(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            now = self._now
        for listener in list(self._listeners):
            listener()

        return now

    def on_advance(self, listener) -> None:
        """Call ``listener()`` each time the clock moves."""
        self._listeners.append(listener)
