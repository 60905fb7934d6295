"""Making an agency's ClearCare ready: reading its locations and registering the
hub's webhook subscriptions, idempotently."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from flask import current_app

from carehub_clearcare.api import ConnectAPI
from hub import AgencyFacts, LocationInfo, StepStatus
from hub.errors import HubError

log = logging.getLogger(__name__)

#: The one webhook purpose: every subscription calls the same endpoint.
PURPOSE = "clearcare.event"
#: The events the hub subscribes to.
CRITERIA = (
    "prospect.status.changed",
    "patient.created",
    "patient.name.changed",
    "patient.address.changed",
    "patient.telecom.changed",
    "patient.deactivated.changed",
)
SECRET = "webhook_secret"
STEPS = ("locations", "subscriptions")


def webhook_secret(connection) -> str:
    """Return the secret the hub puts in its subscriptions' header, making it once."""
    secret = connection.credentials.get(SECRET)
    if not secret:
        secret = secrets.token_urlsafe(32)
        connection.set_secret(SECRET, secret)
    return secret


def endpoint_for(base: str, criteria: str) -> str:
    """Return the URL one criteria's webhook calls; the query names the criteria."""
    return f"{base}?{urlencode({'criteria': criteria})}"


def read_locations(api: ConnectAPI) -> list[LocationInfo]:
    """Return the agency's locations as the hub stores them."""
    return [
        LocationInfo(id=str(item["id"]), name=str(item.get("name") or item["id"]))
        for item in api.locations()
        if item.get("id") is not None
    ]


def sync_subscriptions(connection, api: ConnectAPI) -> tuple[int, int]:
    """Make the hub's subscriptions exactly one per criteria; return how many were
    created and how many stale ones were removed.

    A subscription is the hub's when it calls this hub's ``/hooks/clearcare/`` or
    carries its header; others (another system's) are left alone.
    """
    header = f"Authorization: Bearer {webhook_secret(connection)}"
    base = connection.webhook_url(PURPOSE)
    wanted = {criteria: endpoint_for(base, criteria) for criteria in CRITERIA}
    ours = current_app.config["HUB_PUBLIC_URL"].rstrip("/") + "/hooks/clearcare/"
    agency_id = str(connection.setting("agency_id")).strip()

    kept: set[str] = set()
    removed = 0
    for subscription in api.subscriptions():
        channel = subscription.get("channel") or {}
        endpoint = str(channel.get("endpoint") or "")
        headers = [str(h) for h in channel.get("header") or []]
        if not endpoint.startswith(ours) and header not in headers:
            continue
        criteria = subscription.get("criteria")
        current = (
            criteria in wanted
            and criteria not in kept
            and endpoint == wanted[criteria]
            and header in headers
            and subscription.get("status") == "active"
        )
        if current:
            kept.add(criteria)
        else:
            api.delete_subscription(str(subscription["id"]))
            removed += 1

    created = 0
    for criteria, endpoint in wanted.items():
        if criteria in kept:
            continue
        api.create_subscription(
            {
                "resourceType": "Subscription",
                "status": "active",
                "criteria": criteria,
                "channel": {
                    "type": "rest-hook",
                    "endpoint": endpoint,
                    "payload": "application/fhir+json",
                    "header": [header],
                },
                "meta": {"tag": [{"code": "agencyId", "display": agency_id}]},
            }
        )
        created += 1
    return created, removed


def provision(agency, connection, report, api: ConnectAPI) -> AgencyFacts:
    """Read the locations and register the subscriptions, reporting each step."""
    step = STEPS[0]
    try:
        report(step, StepStatus.RUNNING.value, "Reading the agency's locations.")
        locations = read_locations(api)
        names = ", ".join(location.name for location in locations) or "none"
        report(step, StepStatus.DONE.value, f"{len(locations)} location(s): {names}.")

        step = STEPS[1]
        report(step, StepStatus.RUNNING.value, "Registering the webhook subscriptions.")
        created, removed = sync_subscriptions(connection, api)
        report(
            step,
            StepStatus.DONE.value,
            f"{len(CRITERIA)} subscriptions in place ({created} new, {removed} stale "
            "removed).",
        )
    except HubError as exc:
        report(step, StepStatus.FAILED.value, exc.message)
        raise
    log.info(
        "Provisioned ClearCare for agency %s: %d location(s), %d new subscription(s).",
        agency.slug,
        len(locations),
        created,
    )

    return AgencyFacts(locations=locations)
