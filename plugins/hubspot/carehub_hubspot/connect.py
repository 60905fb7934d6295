"""Checking a HubSpot token: which portal it opens, and whether the hub can keep it."""

from __future__ import annotations

import logging
import re

from carehub_hubspot import paths
from carehub_hubspot.client import HubSpotClient
from hub.canonical import Connected
from hub.errors import AuthenticationFailed, PermissionDenied, RemoteError

#: Prefix of HubSpot's private-app tokens, which do not expire.
PRIVATE_APP_PREFIX = "pat-"


class _HideTokenInPath(logging.Filter):
    """Masks the token HubSpot's token-info path carries, in urllib3's debug lines."""

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


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _HideTokenInPath) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_HideTokenInPath())


def connect(client: HubSpotClient, connection, token: str) -> Connected:
    """Return the portal the token opens, recording its id and time zone.

    :raises hub.errors.AuthenticationFailed: a refused or short-lived token.
    :raises hub.errors.PermissionDenied: a token without the scopes the hub needs.
    :raises hub.errors.RemoteUnavailable: HubSpot cannot be reached.
    """
    try:
        details = client.get(
            paths.path("account_details"), what="checking the HubSpot access token"
        )
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(
            "HubSpot refused the access token (401): it is mistyped, rotated or "
            "deactivated. Copy a current Service Key or private-app token from "
            "HubSpot (Settings › Integrations) and paste it in the HubSpot settings. "
            f"HubSpot said: {exc.message}",
            remote_status=401,
        ) from exc
    except PermissionDenied as exc:
        raise PermissionDenied(
            "HubSpot accepted the token but refused to show the portal's details "
            "(403). Give the token the scopes the hub needs: crm.objects.contacts, "
            "crm.objects.deals, crm.schemas.contacts and crm.schemas.deals (read and "
            f"write) and automation. HubSpot said: {exc.message}",
            remote_status=403,
        ) from exc

    if not token.startswith(PRIVATE_APP_PREFIX) and _is_oauth_token(client, token):
        raise AuthenticationFailed(
            "This is an OAuth access token, which HubSpot expires within minutes, so "
            "the sync would stop soon after connecting. Until the hub can be "
            "installed as an OAuth app, paste a Service Key or a private-app token "
            "instead."
        )

    portal_id = str(details.get("portalId"))
    time_zone = details.get("timeZone") or "UTC"
    connection.update_state(
        portal_id=portal_id,
        time_zone=time_zone,
        ui_domain=details.get("uiDomain") or "app.hubspot.com",
    )

    return Connected(
        account=f"HubSpot portal {portal_id} ({time_zone})",
        facts={"portal_id": portal_id, "time_zone": time_zone},
    )


def _is_oauth_token(client: HubSpotClient, token: str) -> bool:
    """Return whether HubSpot knows the token as an OAuth access token."""
    try:
        answer = client.get(
            paths.path("oauth_token", token=token), what="checking the token's kind"
        )
    except RemoteError:
        return False
    return isinstance(answer, dict) and "expires_in" in answer
