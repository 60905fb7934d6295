"""Polling HubSpot for what changed: the backstop for webhooks that never came.

Search indexes lag behind writes by seconds, so every poll looks back an overlap
window before its cursor; the deduplication keys keep what it sees twice from being
processed twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from carehub_hubspot import paths
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.events import other_ids
from carehub_hubspot.records import CONTACT_READ
from hub.canonical import Change, ChangeBatch, ChangeKind, RecordRef

#: How far before the cursor each poll looks again, in milliseconds.
OVERLAP_MS = 2 * 60 * 1000


def to_millis(value) -> int | None:
    """Return a HubSpot date (epoch milliseconds or ISO 8601) as epoch milliseconds."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def fetch_changes(
    client: HubSpotClient, connection, cursor: str | None, now: float
) -> ChangeBatch:
    """Return the contacts and deals modified since the cursor, and the next cursor.

    :param now: the current time in seconds; a missing cursor starts from it.
    """
    backfill = _deal_backfill(client, connection)
    if not cursor:
        return ChangeBatch(changes=backfill, cursor=str(int(now * 1000)))
    since = int(cursor) - OVERLAP_MS
    newest = int(cursor)
    changes: list[Change] = list(backfill)

    contacts = client.search_all(
        paths.CONTACTS,
        [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}],
        [*CONTACT_READ, "createdate"],
        what="polling for changed contacts",
    )
    for contact in contacts:
        properties = contact.get("properties") or {}
        modified = to_millis(properties.get("lastmodifieddate")) or since
        created = to_millis(properties.get("createdate"))
        kind = (
            ChangeKind.CREATED if created and created >= since else ChangeKind.UPDATED
        )
        purpose = "contact.created" if kind == ChangeKind.CREATED else "contact.changed"
        change = _change(kind, "contact", contact["id"], modified, purpose)
        changes.append(replace(change, other_ids=other_ids(properties)))
        newest = max(newest, modified)

    pipeline_id = (connection.state or {}).get("pipeline_id")
    if pipeline_id:
        deals = client.search_all(
            paths.DEALS,
            [
                {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "GTE",
                    "value": str(since),
                },
                {"propertyName": "pipeline", "operator": "EQ", "value": pipeline_id},
            ],
            ["dealstage", "pipeline", "hs_lastmodifieddate"],
            what="polling for changed deals",
        )
        for deal in deals:
            change = _deal_change(deal, since)
            changes.append(change)
            newest = max(newest, int(change.data["modified"]))

    return ChangeBatch(changes=changes, cursor=str(newest))


def _deal_backfill(client: HubSpotClient, connection) -> list[Change]:
    """Return the deals already past New Lead once, after the deal workflow is made.

    Workflows made through the API enroll only deals that change after they are
    turned on, so the deals the guide's "enroll existing deals" would bring in are
    brought in here instead.
    """
    state = connection.state or {}
    new_lead = (state.get("stage_ids") or {}).get("NEW_LEAD")
    if not state.get("deal_backfill") or not state.get("pipeline_id") or not new_lead:
        return []

    deals = client.search_all(
        paths.DEALS,
        [
            {
                "propertyName": "pipeline",
                "operator": "EQ",
                "value": state["pipeline_id"],
            },
            {"propertyName": "dealstage", "operator": "NEQ", "value": new_lead},
        ],
        ["dealstage", "pipeline", "hs_lastmodifieddate"],
        what="bringing in the existing deals",
    )
    changes = [_deal_change(deal) for deal in deals]
    connection.update_state(deal_backfill=False)

    return changes


def _deal_change(deal: dict, since: int = 0) -> Change:
    properties = deal.get("properties") or {}
    modified = to_millis(properties.get("hs_lastmodifieddate")) or since
    return _change(
        ChangeKind.STATUS_CHANGED,
        "deal",
        deal["id"],
        modified,
        "deal.stage_changed",
        properties.get("dealstage"),
    )


def _change(
    kind: ChangeKind,
    object_kind: str,
    object_id: str,
    modified: int,
    purpose: str,
    stage: str | None = None,
) -> Change:
    suffix = f":{stage}" if stage else ""
    return Change(
        kind=kind,
        ref=RecordRef(object_kind, str(object_id)),
        purpose=purpose,
        dedup_key=f"hubspot:poll:{object_kind}:{object_id}:{modified}{suffix}",
        data={"source": "poll", "modified": modified},
    )
