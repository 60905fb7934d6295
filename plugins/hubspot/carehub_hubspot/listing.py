"""Every contact of a portal, a page at a time, with its deal: what the backfill reads.

A page is one call to the contacts list (in id order, with each contact's deal ids)
and, when some of its contacts have deals, one batch read of those deals. The list
is not a search, so it is not cut off at the 10,000 results a search can page
through.
"""

from __future__ import annotations

from carehub_hubspot import paths
from carehub_hubspot.client import BATCH_SIZE, HubSpotClient
from carehub_hubspot.events import other_ids
from carehub_hubspot.records import (
    CONTACT_READ,
    LINK_ID,
    deal_status,
    prospect_from_contact,
)
from hub.canonical import Change, ChangeKind, RecordPage, RecordRef

#: The most contacts HubSpot's list answers in one page.
PAGE_LIMIT = BATCH_SIZE
#: What the backfill reads of each deal.
DEAL_READ = ("dealstage", "pipeline", LINK_ID)


def list_records(
    client: HubSpotClient, connection, after: str | None, limit: int
) -> RecordPage:
    """Return one page of the portal's contacts from ``after``, each as a created
    change holding the whole person and the status of their deal."""
    limit = max(1, min(int(limit), PAGE_LIMIT))
    params = {
        "limit": limit,
        "properties": ",".join(CONTACT_READ),
        "associations": paths.DEALS,
    }
    if after:
        params["after"] = after
    answer = (
        client.get(
            paths.path("objects", object_type=paths.CONTACTS),
            what=f"listing contacts after {after or 'the first'}",
            **params,
        )
        or {}
    )
    contacts = answer.get("results") or []

    deals = pipeline_deals(client, connection, contacts)
    records = [_record(connection, contact, deals) for contact in contacts]

    following = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return RecordPage(records=records, after=str(following) if following else None)


def deal_ids(contact: dict) -> list[str]:
    """Return the ids of the deals a listed contact is associated with, in order."""
    found = ((contact.get("associations") or {}).get(paths.DEALS) or {}).get("results")
    ids = [str(item["id"]) for item in found or [] if item.get("id") is not None]

    return list(dict.fromkeys(ids))


def pipeline_deals(client: HubSpotClient, connection, contacts: list[dict]) -> dict:
    """Return the deals of the provisioned pipeline among the contacts' deals, by id.

    Nothing is read before the pipeline is provisioned, since no deal can be in it.
    """
    pipeline_id = (connection.state or {}).get("pipeline_id")
    ids = list(dict.fromkeys(i for contact in contacts for i in deal_ids(contact)))
    if not pipeline_id or not ids:
        return {}

    rows = client.batch(
        paths.DEALS,
        "read",
        [{"id": deal_id} for deal_id in ids],
        what=f"reading the deals of {len(contacts)} contacts",
        properties=list(DEAL_READ),
    )

    return {
        str(row["id"]): row
        for row in rows
        if not row.get("archived")
        and (row.get("properties") or {}).get("pipeline") == str(pipeline_id)
    }


def _record(connection, contact: dict, deals: dict) -> Change:
    contact_id = str(contact["id"])
    properties = contact.get("properties") or {}
    prospect = prospect_from_contact(properties)
    remote_ids = {"contact": contact_id}

    deal = _chosen_deal([deals[i] for i in deal_ids(contact) if i in deals])
    if deal is not None:
        remote_ids["deal"] = str(deal["id"])
        prospect = prospect.replace(status=deal_status(connection, deal))

    return Change(
        kind=ChangeKind.CREATED,
        ref=RecordRef("contact", contact_id),
        prospect=prospect,
        purpose="contact.created",
        dedup_key=f"hubspot:backfill:contact:{contact_id}",
        remote_ids=remote_ids,
        other_ids=other_ids(properties),
    )


def _chosen_deal(candidates: list[dict]) -> dict | None:
    """Return the deal that stands for the person: one the hub made (it carries a
    link id) before one made by hand, then the oldest."""
    if not candidates:
        return None

    def rank(deal: dict) -> tuple[bool, int]:
        linked = bool((deal.get("properties") or {}).get(LINK_ID))
        return (not linked, int(deal["id"]) if str(deal["id"]).isdigit() else 0)

    return min(candidates, key=rank)
