"""Making the provisioned workflows exist as specified, through HubSpot's flows API.

A workflow is found by its stored id, else by its name; one that drifted from its
specification (another URL, other triggers, turned off) is put back with a PUT that
names its revision. New workflows are created turned off, then turned on.
"""

from __future__ import annotations

import logging
from typing import Any

from carehub_hubspot import paths
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import ObjectNotFound, body_of
from hub.errors import PermissionDenied, RemoteError

log = logging.getLogger(__name__)


class MissingScope(Exception):
    """The token lacks the ``automation`` scope: workflows must be made by hand."""


class NoWebhooks(Exception):
    """The portal's subscription cannot send webhooks from workflows.

    Its message is HubSpot's own.
    """


def classify(exc: RemoteError) -> Exception | None:
    """Return MissingScope or NoWebhooks for a refusal they explain, else None."""
    body = body_of(exc)
    text = f"{body.get('message', '')} {body.get('category', '')}".lower()
    if exc.remote_status == 403 and ("scope" in text or "missing_scopes" in text):
        return MissingScope(exc.message)
    if exc.remote_status in (400, 402, 403) and (
        "operations hub" in text
        or "data hub" in text
        or "webhook" in text
        or isinstance(exc, PermissionDenied)
    ):
        return NoWebhooks(str(body.get("message") or exc.message))
    return None


def ensure_flow(client: HubSpotClient, spec: dict, stored_id: str | None) -> tuple:
    """Make the workflow match ``spec``; return its id and what was done, in words.

    :raises MissingScope: without the ``automation`` scope.
    :raises NoWebhooks: when the portal cannot send webhooks from workflows.
    """
    try:
        return _ensure(client, spec, stored_id)
    except RemoteError as exc:
        reason = classify(exc)
        if reason is None:
            raise
        raise reason from exc


def _ensure(client: HubSpotClient, spec: dict, stored_id: str | None) -> tuple:
    current = _read(client, stored_id) if stored_id else None
    if current is None:
        current = _find_by_name(client, spec["name"])

    if current is None:
        created = client.create(
            paths.path("flows"),
            {**spec, "isEnabled": False},
            what=f'creating the workflow "{spec["name"]}"',
            find=lambda: _find_by_name(client, spec["name"]),
        )
        flow_id = str(created["id"])
        if not created.get("isEnabled"):
            _put(client, flow_id, spec, created)
        return flow_id, f'created "{spec["name"]}"'

    flow_id = str(current["id"])
    if not differs(current, spec):
        return flow_id, ""
    _put(client, flow_id, spec, current)

    return flow_id, f'repaired "{spec["name"]}"'


def _read(client: HubSpotClient, flow_id: str) -> dict | None:
    try:
        flow = client.get(
            paths.path("flow", flow_id=flow_id), what=f"reading workflow {flow_id}"
        )
    except ObjectNotFound:
        return None
    return flow if flow and not flow.get("archived") else None


def _find_by_name(client: HubSpotClient, name: str) -> dict | None:
    for summary in client.pages(paths.path("flows"), what="listing workflows"):
        if summary.get("name") == name and not summary.get("archived"):
            if "actions" in summary and "enrollmentCriteria" in summary:
                return summary
            return _read(client, str(summary["id"]))
    return None


def _put(client: HubSpotClient, flow_id: str, spec: dict, current: dict) -> None:
    body = {**spec, "revisionId": current.get("revisionId")}
    client.request(
        "PUT",
        paths.path("flow", flow_id=flow_id),
        json=body,
        what=f'updating the workflow "{spec["name"]}"',
    )


#: Keys of a workflow's body that carry no meaning of their own, which HubSpot may
#: leave out of what it answers.
COSMETIC = frozenset({"filterBranchOperator", "includeObjectsWithNoValueSet"})


def differs(actual: Any, wanted: Any) -> bool:
    """Return whether ``actual`` lacks anything ``wanted`` holds.

    Keys HubSpot adds (ids, dates, revisions) and cosmetic ones are ignored; the
    values of a filter are compared as a set, other lists item by item.
    """
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return True
        return any(
            differs(actual.get(key), value)
            for key, value in wanted.items()
            if key not in COSMETIC or key in actual
        )
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(actual) != len(wanted):
            return True
        if all(isinstance(w, str | int) for w in wanted):
            return sorted(map(str, actual)) != sorted(map(str, wanted))
        return any(differs(a, w) for a, w in zip(actual, wanted, strict=True))
    if isinstance(wanted, bool) or wanted is None:
        return actual != wanted and not (wanted is None and actual in ("", [], {}))
    return str(actual) != str(wanted)
