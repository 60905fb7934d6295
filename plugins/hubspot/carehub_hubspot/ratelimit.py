"""HubSpot's rate limits, and the limiters of :mod:`hub.ratelimit` that keep to them.

HubSpot limits each app to a number of calls per rolling 10 seconds per portal, which
its answers announce in ``X-HubSpot-RateLimit-*`` headers, and search to about 5 a
second, which they do not. The hub keeps to a share of both, so people and other
integrations using the same portal keep the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.ratelimit import WindowLimiter, shared_limiter

#: The share of the portal's limit the hub allows itself.
DEFAULT_SHARE = 0.75
#: HubSpot's burst limit before the portal's own figure is known.
DEFAULT_LIMIT = 100
DEFAULT_INTERVAL = 10.0
#: HubSpot's search limit, which answers carry no headers for.
SEARCH_LIMIT = 5
SEARCH_INTERVAL = 1.0


def portal_limiter(
    share: float = DEFAULT_SHARE,
    *,
    clock: Callable[[], float] = time.time,
    storage_uri: str | None = None,
) -> WindowLimiter:
    """Return a limiter of each portal's general budget; see :func:`limiter`."""
    return limiter(
        "hubspot", DEFAULT_LIMIT, DEFAULT_INTERVAL, share, clock, storage_uri
    )


def search_limiter(
    share: float = DEFAULT_SHARE,
    *,
    clock: Callable[[], float] = time.time,
    storage_uri: str | None = None,
) -> WindowLimiter:
    """Return a limiter of each portal's search budget; see :func:`limiter`."""
    return limiter(
        "hubspot-search", SEARCH_LIMIT, SEARCH_INTERVAL, share, clock, storage_uri
    )


def limiter(
    namespace: str,
    limit: int,
    interval: float,
    share: float,
    clock: Callable[[], float],
    storage_uri: str | None,
) -> WindowLimiter:
    """Return a limiter of its own on ``clock``; or, with ``storage_uri``, the
    process's one limiter on that storage and the wall clock, whose windows every
    process using the storage shares."""
    if storage_uri:
        return shared_limiter(
            namespace,
            limit=limit,
            interval=interval,
            share=share,
            storage_uri=storage_uri,
        )

    return WindowLimiter(
        namespace, limit=limit, interval=interval, share=share, clock=clock
    )
