"""Which HubSpot a connection's client calls, with which token and rate budget."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.runtime import runtime
from hub.errors import AuthenticationFailed
from hub.sandbox import base_url

REAL_BASE_URL = "https://api.hubapi.com"
BASE_URL_SETTING = "HUB_HUBSPOT_BASE_URL"


def limiter_key(connection, token: str) -> str:
    """Return the key of a connection's rate budget: its portal, or its token's hash."""
    portal = (connection.state or {}).get("portal_id")
    if portal:
        return f"portal:{portal}"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def client_for(connection) -> HubSpotClient:
    """Return a client for a connection's portal, with the app's shared limits.

    :raises hub.errors.AuthenticationFailed: when no access token is set.
    """
    token = (connection.credentials or {}).get("access_token")
    if not token:
        raise AuthenticationFailed(
            "No HubSpot access token is set for this connection. Paste one (a "
            "Service Key or a private-app token) in the HubSpot settings."
        )

    return HubSpotClient(
        token,
        base_url=base_url("hubspot", BASE_URL_SETTING, REAL_BASE_URL),
        limiter_key=limiter_key(connection, token),
        rt=runtime(),
    )


def is_real_hubspot(client: HubSpotClient) -> bool:
    """Return whether a client talks to HubSpot itself rather than a sandbox."""
    host = urlsplit(client.base_url).hostname or ""
    return host == "hubapi.com" or host.endswith(".hubapi.com")
