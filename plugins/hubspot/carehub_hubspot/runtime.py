"""What the connector keeps per app: its clock, its rate limiters, its HTTP session.

Tests put a :class:`Runtime` with their own clock into the app's extensions, so rate
windows and retry waits pass without sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from flask import Flask, current_app

from carehub_hubspot.ratelimit import DEFAULT_SHARE, portal_limiter, search_limiter
from hub.errors import ConfigurationError
from hub.ratelimit import STORAGE_SETTING, WindowLimiter

EXTENSION = "hubspot.runtime"


@dataclass
class Runtime:
    """The clock, limits and retry policy every HubSpot client of an app shares."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    #: The share of each portal's rate limit the hub allows itself.
    share: float = DEFAULT_SHARE
    #: Seconds to connect and to wait for an answer.
    timeout: tuple[float, float] = (5.0, 30.0)
    #: How many times one call is tried before its error is raised.
    max_attempts: int = 6
    #: How many 429 answers one call waits out before its error is raised.
    max_rate_limit_waits: int = 30
    #: The longest wait between two tries, in seconds.
    max_backoff: float = 30.0
    jitter: Callable[[], float] = random.random
    limiter: WindowLimiter | None = None
    search_limiter: WindowLimiter | None = None
    _session: requests.Session | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = portal_limiter(self.share, clock=self.clock)
        if self.search_limiter is None:
            self.search_limiter = search_limiter(self.share, clock=self.clock)

    @property
    def session(self) -> requests.Session:
        """Return the HTTP session the clients share, making it once."""
        with self._lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session

    def close(self) -> None:
        """Close the shared HTTP session."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def runtime(app: Flask | None = None) -> Runtime:
    """Return the app's runtime, making it from the app's settings the first time."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, from_config(app.config))

    return found


def from_config(config) -> Runtime:
    """Return a runtime for an app's settings.

    ``HUB_HUBSPOT_RATE_SHARE`` sets the share of each portal's limit (0.75), and
    ``HUB_RATE_LIMIT_STORAGE`` a ``limits`` storage URI (such as
    ``redis://127.0.0.1:6379``) that shares the windows between processes.
    """
    try:
        share = float(config.get("HUB_HUBSPOT_RATE_SHARE") or DEFAULT_SHARE)
    except ValueError:
        raise ConfigurationError(
            "HUB_HUBSPOT_RATE_SHARE must be a number between 0 and 1, such as 0.75."
        ) from None
    if not 0 < share <= 1:
        raise ConfigurationError(
            f"HUB_HUBSPOT_RATE_SHARE must be above 0 and at most 1, not {share}."
        )

    uri = config.get(STORAGE_SETTING)
    if not uri:
        return Runtime(share=share)

    return Runtime(
        share=share,
        limiter=portal_limiter(share, storage_uri=uri),
        search_limiter=search_limiter(share, storage_uri=uri),
    )


def install(app: Flask, rt: Runtime) -> Runtime:
    """Make ``rt`` the app's runtime, closing the one it replaces."""
    old = app.extensions.get(EXTENSION)
    if old is not None and old is not rt:
        old.close()
    app.extensions[EXTENSION] = rt

    return rt
