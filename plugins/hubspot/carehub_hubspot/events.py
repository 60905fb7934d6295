"""Inbound HubSpot webhooks, parsed into the hub's changes without calling HubSpot.

Three shapes arrive: the legacy contact profile a contact workflow sends (``vid``,
``portal-id``, ``properties.<name>.value``), the record a deal workflow sends, and the
event arrays of app webhook subscriptions. The body is not trusted beyond the object
id: the worker reads the record back through the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carehub_hubspot.records import PROSPECT_ID
from hub.canonical import Change, ChangeKind, Inbound, RecordRef
from hub.errors import MalformedEvent, VerificationFailed

#: What each webhook purpose means: the change kind and the object kind it names.
PURPOSES = {
    "contact.created": (ChangeKind.CREATED, "contact"),
    "contact.changed": (ChangeKind.UPDATED, "contact"),
    "deal.stage_changed": (ChangeKind.STATUS_CHANGED, "deal"),
}

#: App webhook subscription types and what they mean.
SUBSCRIPTIONS = {
    "contact.creation": (ChangeKind.CREATED, "contact"),
    "contact.propertychange": (ChangeKind.UPDATED, "contact"),
    "contact.deletion": (ChangeKind.DEACTIVATED, "contact"),
    "deal.creation": (ChangeKind.CREATED, "deal"),
    "deal.propertychange": (ChangeKind.UPDATED, "deal"),
    "deal.deletion": (ChangeKind.DEACTIVATED, "deal"),
}

#: Where a body or query may carry the object id, in the order they are trusted.
ID_FIELDS = ("canonical-vid", "vid", "objectId", "hs_object_id", "id")


def parse(inbound: Inbound, portal_id: str | int | None = None) -> list[Change]:
    """Return the changes one webhook announces.

    :param portal_id: the connection's portal; a body naming another one is refused.
    :raises hub.errors.MalformedEvent: when no object id can be found.
    :raises hub.errors.VerificationFailed: when the body names another portal.
    """
    body = inbound.json()
    if isinstance(body, list):
        return _subscription_events(body, portal_id)
    if not isinstance(body, dict):
        raise MalformedEvent("The body must be a JSON object or an array of events.")

    _check_portal(body.get("portal-id") or body.get("portalId"), portal_id)
    try:
        kind, object_kind = PURPOSES[inbound.purpose]
    except KeyError:
        raise MalformedEvent(
            f"This address takes no HubSpot webhooks of purpose {inbound.purpose!r}."
        ) from None
    object_id = _object_id(body, inbound.query)
    properties = _flat_properties(body.get("properties"))

    change = Change(
        kind=kind,
        ref=RecordRef(object_kind, object_id),
        purpose=inbound.purpose,
        dedup_key=_dedup_key(inbound.purpose, object_id, properties),
        other_ids=other_ids(properties) if object_kind == "contact" else {},
        data={"portal_id": str(portal_id) if portal_id else None},
    )

    return [change]


def other_ids(properties: Mapping[str, Any]) -> dict[str, str]:
    """Return the ClearCare record a contact names by its ClearCare Prospect Id."""
    prospect_id = str(properties.get(PROSPECT_ID) or "").strip()
    return {"patient": prospect_id} if prospect_id else {}


def _object_id(body: Mapping[str, Any], query: Mapping[str, str]) -> str:
    properties = _flat_properties(body.get("properties"))
    for source in (body, properties, query):
        for name in ID_FIELDS:
            value = source.get(name)
            if value is None or value == "":
                continue
            text = str(value).strip()
            if text.isdigit():
                return text
            raise MalformedEvent(f"The object id {name}={text!r} is not a number.")
    raise MalformedEvent(
        "The webhook names no HubSpot object: send the object id as vid, objectId "
        "or hs_object_id in the body, or as ?objectId= in the URL."
    )


def _flat_properties(properties: Any) -> dict[str, Any]:
    """Return ``{name: value}`` from either the legacy or the current shape."""
    if not isinstance(properties, dict):
        return {}
    flat = {}
    for name, value in properties.items():
        flat[name] = value.get("value") if isinstance(value, dict) else value
    return flat


def _dedup_key(
    purpose: str, object_id: str, properties: Mapping[str, Any]
) -> str | None:
    if purpose == "contact.created":
        return f"hubspot:contact.created:{object_id}"
    if purpose == "contact.changed":
        modified = properties.get("lastmodifieddate")
        return f"hubspot:contact.changed:{object_id}:{modified}" if modified else None
    modified = properties.get("hs_lastmodifieddate")
    if modified:
        stage = properties.get("dealstage") or ""
        return f"hubspot:{purpose}:{object_id}:{stage}:{modified}"
    return None


def _check_portal(sent: Any, expected: str | int | None) -> None:
    if sent is None or expected is None:
        return
    if str(sent) != str(expected):
        raise VerificationFailed(
            f"The webhook comes from HubSpot portal {sent}, but this address belongs "
            f"to portal {expected}."
        )


def _subscription_events(
    events: list[Any], portal_id: str | int | None
) -> list[Change]:
    """Return the changes of an app webhook array, oldest first, creations first."""
    changes = []
    ordered = sorted(
        (e for e in events if isinstance(e, dict)),
        key=lambda e: (e.get("occurredAt") or 0, "creation" not in _type_of(e)),
    )
    if len(ordered) != len(events):
        raise MalformedEvent("Every item of a HubSpot event array must be an object.")

    for event in ordered:
        _check_portal(event.get("portalId"), portal_id)
        meaning = SUBSCRIPTIONS.get(_type_of(event))
        if meaning is None:
            continue
        kind, object_kind = meaning
        if object_kind == "deal" and event.get("propertyName") == "dealstage":
            kind = ChangeKind.STATUS_CHANGED
        object_id = str(event.get("objectId") or "")
        if not object_id.isdigit():
            raise MalformedEvent("A HubSpot event has no numeric objectId.")
        changes.append(
            Change(
                kind=kind,
                ref=RecordRef(object_kind, object_id),
                dedup_key=(
                    f"hubspot:event:{event.get('subscriptionId')}:{event.get('eventId')}"
                    f":{object_id}:{event.get('occurredAt')}"
                ),
                data={"portal_id": str(event.get("portalId") or portal_id or "")},
            )
        )

    return changes


def _type_of(event: Mapping[str, Any]) -> str:
    return str(event.get("subscriptionType") or event.get("eventType") or "").lower()
