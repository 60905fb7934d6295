"""What every API request passes first: token, counters, faults, rate limits, scopes."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import g, request

from carehub_hubspot.sandbox import accounts, oauth, state, store
from carehub_hubspot.sandbox.errors import ApiError, rate_limited

WINDOW_SECONDS = 10
SEARCH_PER_SECOND = 5

_OBJECT_PATH = re.compile(
    r"^/crm/(?:v3/|v4/)?(objects|properties|pipelines|associations)/(?:2026-09/)?"
    r"([^/]+)"
)
_TYPES = {"contacts": "contacts", "0-1": "contacts", "deals": "deals", "0-3": "deals"}


def api_path() -> str:
    """Return the request's path below the sandbox's mount point."""
    return request.path[len(state.current().prefix) :] or "/"


def is_search(path: str) -> bool:
    """Return whether a path is a CRM search, which has its own limit."""
    return request.method == "POST" and path.endswith("/search")


def is_read(path: str) -> bool:
    """Return whether a request counts as a read."""
    return request.method in ("GET", "HEAD") or (
        request.method == "POST" and path.endswith(("/search", "/batch/read"))
    )


def required_scope(path: str) -> str | None:
    """Return the scope a request needs, or None when any token will do."""
    if path.startswith("/automation/"):
        return "automation"
    match = _OBJECT_PATH.match(path)
    if match is None:
        return None
    family, raw_type = match.groups()
    object_type = _TYPES.get(raw_type.lower())
    if object_type is None:
        return None
    access = "read" if is_read(path) else "write"
    kind = "schemas" if family in ("properties", "pipelines") else "objects"

    return f"crm.{kind}.{object_type}.{access}"


def check_request() -> None:
    """Authenticate, count, and limit one API request, or raise HubSpot's error."""
    path = api_path()
    token = _bearer_token()
    search = is_search(path)

    with state.tx() as conn:
        now = store.now(conn)
        portal = accounts.by_token(conn, token) if token else None
        until = oauth.expires_at(conn, token) if portal is not None else None
        if until is not None and until <= now:
            portal, expired = None, oauth.expired(now - until)
        else:
            expired = None
        if portal is not None:
            _count(conn, portal["id"], path)
        fault = _take_fault(conn, path)
        verdict = None
        if portal is not None and (fault is None or not fault["status"]):
            verdict = _limit(conn, portal, now, search)

    if fault is not None:
        if fault["latency_ms"]:
            time.sleep(fault["latency_ms"] / 1000)
        if fault["status"]:
            if fault["status"] == 429:
                raise rate_limited("TEN_SECONDLY_ROLLING")
            raise ApiError(
                fault["status"], "The sandbox was told to fail this request."
            )
    if expired is not None:
        raise expired
    if portal is None:
        raise ApiError(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            category="INVALID_AUTHENTICATION",
        )

    g.hubspot_portal = portal
    if verdict is not None:
        raise verdict
    scope = required_scope(path)
    if scope is not None and scope not in portal["scopes"]:
        raise ApiError(
            403,
            "This app hasn't been granted all required scopes to make this call. "
            "Read more about required scopes here: https://developers.hubspot.com/scopes.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [scope]},
                }
            ],
        )


def add_headers(response):
    """Add the rate-limit headers HubSpot sends on every non-search answer."""
    headers = g.get("hubspot_rate_headers")
    if headers:
        response.headers.update(headers)

    return response


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None

    return token.strip()


def _count(conn: sa.Connection, portal_id: int, path: str) -> None:
    u = store.usage
    read = is_read(path)
    column = u.c.reads if read else u.c.writes
    updated = conn.execute(
        u.update()
        .where(u.c.portal_id == portal_id, u.c.path == path)
        .values({column: column + 1})
    )
    if not updated.rowcount:
        conn.execute(
            u.insert().values(
                portal_id=portal_id, path=path, reads=int(read), writes=int(not read)
            )
        )


def _take_fault(conn: sa.Connection, path: str) -> dict | None:
    f = store.faults
    for row in conn.execute(sa.select(f).where(f.c.remaining > 0).order_by(f.c.id)):
        if path.startswith(row.path_prefix or "/"):
            conn.execute(
                f.update().where(f.c.id == row.id).values(remaining=row.remaining - 1)
            )
            return dict(row._mapping)

    return None


def _limit(
    conn: sa.Connection, portal: dict, now: float, search: bool
) -> ApiError | None:
    burst, day_limit = accounts.LIMITS[portal["tier"]]
    day = datetime.fromtimestamp(now, ZoneInfo(portal["time_zone"])).date().isoformat()
    d = store.daily
    used_today = conn.execute(
        sa.select(d.c.count).where(d.c.portal_id == portal["id"], d.c.day == day)
    ).scalar()
    used_today = used_today or 0

    if search:
        policy, limit, window = "SECONDLY", SEARCH_PER_SECOND, 1
    else:
        policy, limit, window = "TEN_SECONDLY_ROLLING", burst, WINDOW_SECONDS
    h = store.hits
    mine = (h.c.portal_id == portal["id"]) & (h.c.policy == policy)
    conn.execute(h.delete().where(mine & (h.c.at <= now - window)))
    in_window = conn.execute(
        sa.select(sa.func.count()).select_from(h).where(mine)
    ).scalar()

    limited = None
    if used_today >= day_limit:
        limited = "DAILY"
    elif in_window >= limit:
        limited = policy
    else:
        conn.execute(h.insert().values(portal_id=portal["id"], policy=policy, at=now))
        in_window += 1
        if used_today:
            conn.execute(
                d.update()
                .where(d.c.portal_id == portal["id"], d.c.day == day)
                .values(count=used_today + 1)
            )
        else:
            conn.execute(d.insert().values(portal_id=portal["id"], day=day, count=1))
        used_today += 1

    headers = {}
    if not search:
        headers = {
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(limit - in_window, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(window * 1000),
            "X-HubSpot-RateLimit-Daily": str(day_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(day_limit - used_today, 0)),
        }
    g.hubspot_rate_headers = headers

    return None if limited is None else rate_limited(limited)
