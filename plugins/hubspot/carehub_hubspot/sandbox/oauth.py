"""OAuth access tokens: they expire, and HubSpot tells what one is."""

from __future__ import annotations

import json
import logging
import re
import secrets

import sqlalchemy as sa
from flask import Blueprint, jsonify

from carehub_hubspot.sandbox import accounts, state, store
from carehub_hubspot.sandbox.errors import ApiError

LIFETIME_SECONDS = 1800
TOKEN_KINDS = ("private_app", "oauth")


class HideTokenInPath(logging.Filter):
    """Masks the token that the token-info path carries, in access log lines."""

    pattern = re.compile(r"(/oauth/v1/access-tokens/)[^\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                self.pattern.sub(r"\1…", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self.pattern.sub(r"\1…", record.msg)
        return True


def register(bp: Blueprint) -> None:
    """Add the token-info endpoint, which needs no Authorization header, and keep
    its tokens out of the access logs."""
    bp.add_url_rule("/oauth/v1/access-tokens/<token>", view_func=token_info)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideTokenInPath) for f in logger.filters):
            logger.addFilter(HideTokenInPath())


def issue(conn: sa.Connection, portal_id: int, now: float) -> tuple[str, float]:
    """Make an OAuth access token for a portal; return it and when it expires."""
    token = "C" + secrets.token_urlsafe(60)
    expires_at = now + LIFETIME_SECONDS
    store.set_value(
        conn, f"oauth:{token}", json.dumps({"portal_id": portal_id, "at": expires_at})
    )

    return token, expires_at


def expires_at(conn: sa.Connection, token: str) -> float | None:
    """Return when an OAuth token expires, or None for another kind of token."""
    raw = store.get_value(conn, f"oauth:{token}")
    return json.loads(raw)["at"] if raw else None


def expired(seconds_ago: float) -> ApiError:
    """Return HubSpot's 401 for an expired OAuth token."""
    return ApiError(
        401,
        f"The OAuth token used to make this call expired {int(seconds_ago)} "
        "second(s) ago.",
        category="EXPIRED_AUTHENTICATION",
    )


def token_info(token: str):
    """Answer what an OAuth access token is: its portal, scopes and lifetime."""
    with state.tx() as conn:
        now = store.now(conn)
        until = expires_at(conn, token)
        portal = accounts.by_token(conn, token) if until else None
    if portal is None:
        raise ApiError(404, "This token is not an OAuth access token HubSpot knows.")
    if until <= now:
        raise expired(now - until)

    return jsonify(
        {
            "token": token,
            "user": "admin@example.com",
            "hub_domain": f"portal-{portal['id']}.example.com",
            "scopes": portal["scopes"],
            "hub_id": portal["id"],
            "app_id": 1,
            "expires_in": int(until - now),
            "user_id": 1,
            "token_type": "access",
        }
    )
