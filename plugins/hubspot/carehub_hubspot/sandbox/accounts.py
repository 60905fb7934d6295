"""HubSpot portals: tiers, their limits, tokens and scopes."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import seed, store
from carehub_hubspot.sandbox.errors import ApiError

#: Burst limit per 10 seconds and daily limit, by tier.
LIMITS = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 625_000),
    "enterprise": (190, 1_000_000),
}

#: How many deal pipelines each tier allows.
PIPELINE_LIMITS = {"free": 1, "starter": 2, "professional": 15, "enterprise": 100}

ALL_SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "automation",
]

FIRST_PORTAL_ID = 40_000_000


def create(conn: sa.Connection, body: dict[str, Any]) -> dict[str, Any]:
    """Create a seeded portal from a control request; return its credentials."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "An account needs a 'name'; send one in the body.")
    tier = body.get("tier") or "free"
    if tier not in LIMITS:
        raise ApiError(400, f"Unknown tier {tier!r}; use one of {', '.join(LIMITS)}.")
    scopes = body.get("scopes")
    if scopes is None:
        scopes = list(ALL_SCOPES)
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError(400, "'scopes' must be a list of scope names.")

    now = store.now(conn)
    portal_id = store.next_id(conn, "portal", FIRST_PORTAL_ID)
    row = {
        "id": portal_id,
        "name": name,
        "tier": tier,
        "operations_hub": bool(body.get("operations_hub", False)),
        "scopes": scopes,
        "token": new_token(),
        "time_zone": body.get("time_zone") or "US/Eastern",
        "created_at": now,
    }
    conn.execute(store.portals.insert().values(**row))
    seed.seed_portal(conn, portal_id, store.iso(now))

    return describe(row)


def describe(row: Any) -> dict[str, Any]:
    """Return what the control API tells about a portal, credentials included."""
    row = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    burst, day = LIMITS[row["tier"]]

    return {
        "token": row["token"],
        "access_token": row["token"],
        "portal_id": row["id"],
        "account": str(row["id"]),
        "name": row["name"],
        "tier": row["tier"],
        "operations_hub": row["operations_hub"],
        "scopes": row["scopes"],
        "time_zone": row["time_zone"],
        "ui_domain": "app.hubspot.com",
        "rate_limit_per_10s": burst,
        "daily_limit": day,
    }


def new_token() -> str:
    """Return a fresh private-app style token."""
    return (
        f"pat-na1-{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(12)}"
    )


def set_token(conn: sa.Connection, portal_id: int, token: str) -> None:
    """Give a portal a new token; the old one stops working at once."""
    p = store.portals
    conn.execute(p.update().where(p.c.id == portal_id).values(token=token))


def by_token(conn: sa.Connection, token: str) -> dict[str, Any] | None:
    """Return the portal a token belongs to, or None."""
    row = conn.execute(
        sa.select(store.portals).where(store.portals.c.token == token)
    ).first()

    return None if row is None else dict(row._mapping)


def find(conn: sa.Connection, body: dict[str, Any]) -> dict[str, Any]:
    """Return the portal a control request names by ``account`` or ``token``."""
    p = store.portals
    if body.get("token"):
        row = conn.execute(sa.select(p).where(p.c.token == body["token"])).first()
    else:
        account = str(body.get("account") or body.get("portal_id") or "")
        if not account.isdigit():
            raise ApiError(400, "Name the account by 'account' (its portal id).")
        row = conn.execute(sa.select(p).where(p.c.id == int(account))).first()
    if row is None:
        raise ApiError(404, "No such account in the sandbox; create it first.")

    return dict(row._mapping)
