"""Writing the hub's changes into HubSpot: contact fields, the link id, the deal.

Deals are written by upsert on ``carehub_link_id``, a unique deal property holding
the hub's id for the person, so a retried create cannot make a second deal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from carehub_hubspot import paths, status
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import Conflict, ObjectNotFound, body_of
from carehub_hubspot.records import (
    LINK_ID,
    PROSPECT_ID,
    contact_properties,
    read_contact,
    read_deal,
)
from hub.canonical import Applied, Change, ChangeKind, Prospect, ProspectStatus
from hub.errors import NeedsAttention, ValidationFailed

log = logging.getLogger(__name__)

#: HubSpot's association type id of a deal to a contact.
DEAL_TO_CONTACT = 3


def apply_change(client: HubSpotClient, agency, connection, change: Change) -> Applied:
    """Write one change into HubSpot; return the ids touched and what was written.

    :raises hub.errors.NeedsAttention: when HubSpot refuses the data, such as a
        property the portal requires that the prospect lacks.
    """
    with refusals_need_attention(agency):
        return _apply(client, agency, connection, change)


@contextmanager
def refusals_need_attention(agency) -> Iterator[None]:
    """Turn HubSpot's refusals of the data into ``NeedsAttention`` with a reason."""
    try:
        yield
    except ValidationFailed as exc:
        raise NeedsAttention(_attention_reason(agency, exc)) from exc
    except Conflict as exc:
        said = str(body_of(exc).get("message") or exc.message).rstrip(".")
        raise NeedsAttention(
            f"HubSpot refused a duplicate for agency {agency.slug!r}: {said}. The "
            "person seems to be in HubSpot twice; merge the two contacts in HubSpot, "
            "then replay the event."
        ) from exc


def _apply(client: HubSpotClient, agency, connection, change: Change) -> Applied:
    ids = dict(change.remote_ids)
    if change.ref is not None:
        ids.setdefault(change.ref.kind, change.ref.id)
    prospect = change.prospect or Prospect()
    fingerprint = prospect.fingerprint() if change.prospect else None
    wrote = False

    if change.kind == ChangeKind.DEACTIVATED:
        return Applied(remote_ids=ids, fingerprint=fingerprint, wrote=False)

    if change.kind == ChangeKind.CREATED and "contact" not in ids:
        ids["contact"] = _upsert_contact(client, change, prospect)
        wrote = True
    elif change.kind in (ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.LINKED):
        wanted = wanted_contact_properties(change, prospect)
        wrote |= _update_contact(client, _need(ids, "contact", agency), wanted)

    if change.kind in (ChangeKind.CREATED, ChangeKind.LINKED):
        ids["deal"] = _upsert_deal(client, connection, change, prospect, ids)
        wrote = True
    elif change.kind == ChangeKind.STATUS_CHANGED:
        if "deal" in ids:
            wrote |= _move_deal(client, connection, ids["deal"], prospect.status)
        else:
            ids["deal"] = _upsert_deal(client, connection, change, prospect, ids)
            wrote = True

    return Applied(remote_ids=ids, fingerprint=fingerprint, wrote=wrote)


def wanted_contact_properties(change: Change, prospect: Prospect) -> dict[str, str]:
    """Return the contact properties a change sets: the prospect's known fields and
    the ClearCare Prospect Id of the care record it is linked to."""
    wanted = contact_properties(prospect)
    patient = change.other_ids.get("patient")
    if patient:
        wanted[PROSPECT_ID] = str(patient)

    return wanted


def _need(ids: dict[str, str], kind: str, agency) -> str:
    if kind not in ids:
        raise NeedsAttention(
            f"The hub knows no HubSpot {kind} for this person of agency "
            f"{agency.slug!r}; link the person again from the dashboard."
        )
    return ids[kind]


def _upsert_contact(client: HubSpotClient, change: Change, prospect: Prospect) -> str:
    """Create the contact of a prospect made on the other side; return its id."""
    properties = contact_properties(prospect)
    patient = change.other_ids.get("patient")
    if patient:
        properties[PROSPECT_ID] = str(patient)
        results = client.batch(
            paths.CONTACTS,
            "upsert",
            [{"idProperty": PROSPECT_ID, "id": str(patient), "properties": properties}],
            what=f"creating the contact of ClearCare prospect {patient}",
        )
        return str(results[0]["id"])

    created = client.create(
        paths.path("objects", object_type=paths.CONTACTS),
        {"properties": properties},
        what="creating a contact",
        find=lambda: _find_contact_by_email(client, prospect.email),
    )
    return str(created["id"])


def _find_contact_by_email(client: HubSpotClient, email: str | None) -> dict | None:
    if not email:
        return None
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
        ],
        "limit": 1,
    }
    results = client.search(paths.CONTACTS, body, what="looking for a lost contact")
    return (results.get("results") or [None])[0]


def _update_contact(
    client: HubSpotClient, contact_id: str, wanted: dict[str, str]
) -> bool:
    """Write the properties that differ; return whether anything was written."""
    if not wanted:
        return False
    current = read_contact(client, contact_id)
    if current is None:
        raise NeedsAttention(
            f"HubSpot contact {contact_id} is gone (deleted or merged); link the "
            "person again from the dashboard."
        )
    have = current.get("properties") or {}
    changed = {k: v for k, v in wanted.items() if (have.get(k) or "") != (v or "")}
    if not changed:
        return False

    path = paths.path("object", object_type=paths.CONTACTS, id=contact_id)
    client.request(
        "PATCH",
        path,
        json={"properties": changed},
        what=f"updating contact {contact_id}",
    )

    return True


def _stage_for(connection, wanted: ProspectStatus | None) -> str:
    stage_id = status.to_native(connection, wanted or ProspectStatus.NEW_LEAD)
    if not stage_id:
        raise NeedsAttention(
            "The HubSpot connection has no ClearCare_Sales_Pipeline yet; run "
            "provisioning from the setup page first."
        )
    return stage_id


def deal_properties(connection, change: Change, prospect: Prospect) -> dict[str, str]:
    """Return the properties of a person's deal: name, pipeline, stage and link id.

    :raises hub.errors.NeedsAttention: before the pipeline is provisioned.
    """
    if not change.link_key:
        raise ValueError("A deal is upserted by the change's link_key, which is empty.")
    stage_id = _stage_for(connection, prospect.status)
    name = prospect.full_name or f"Prospect {change.other_ids.get('patient', '')}"

    return {
        "dealname": name.strip(),
        "pipeline": str(connection.state["pipeline_id"]),
        "dealstage": stage_id,
        LINK_ID: change.link_key,
    }


def deal_upsert_input(link_key: str, properties: dict[str, str]) -> dict:
    """Return the batch upsert input that writes a deal by its link id."""
    return {"idProperty": LINK_ID, "id": link_key, "properties": properties}


def existing_deal_input(deal_id: str, properties: dict[str, str]) -> dict:
    """Return the batch update input that links a deal the person already has:
    its link id, pipeline and stage, keeping the name someone gave it."""
    kept = {name: value for name, value in properties.items() if name != "dealname"}
    return {"id": str(deal_id), "properties": kept}


def deal_association(deal_id: str, contact_id: str) -> dict:
    """Return the batch input that associates a deal with its contact."""
    return {
        "from": {"id": str(deal_id)},
        "to": {"id": str(contact_id)},
        "types": [
            {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": DEAL_TO_CONTACT,
            }
        ],
    }


def associate_deals(
    client: HubSpotClient, pairs: list[tuple[str, str]], *, what: str
) -> dict:
    """Associate each ``(deal id, contact id)`` pair; return HubSpot's answer.

    Associating a pair twice does no harm, so the call is safe to repeat.
    """
    path = paths.path(
        "associations_batch",
        from_type=paths.DEALS,
        to_type=paths.CONTACTS,
        action="create",
    )
    inputs = [deal_association(deal_id, contact_id) for deal_id, contact_id in pairs]

    return client.request("POST", path, json={"inputs": inputs}, what=what, safe=True)


def _upsert_deal(
    client: HubSpotClient, connection, change: Change, prospect: Prospect, ids
) -> str:
    """Write the person's deal: the deal the person has already, given its link id
    and stage (its name kept), or else the deal upserted by its link id; return the
    deal id."""
    properties = deal_properties(connection, change, prospect)
    deal_id = ids.get("deal")
    if deal_id:
        try:
            client.batch(
                paths.DEALS,
                "update",
                [existing_deal_input(deal_id, properties)],
                what=f"linking deal {deal_id} to link {change.link_key}",
            )
        except ObjectNotFound:
            deal_id = None
    if not deal_id:
        results = client.batch(
            paths.DEALS,
            "upsert",
            [deal_upsert_input(change.link_key, properties)],
            what=f"creating the deal of link {change.link_key}",
        )
        deal_id = str(results[0]["id"])

    contact_id = ids.get("contact")
    if contact_id:
        associate_deals(
            client,
            [(deal_id, contact_id)],
            what=f"associating deal {deal_id} with contact {contact_id}",
        )

    return deal_id


def _move_deal(
    client: HubSpotClient, connection, deal_id: str, wanted: ProspectStatus | None
) -> bool:
    """Move a deal to a status's stage; return whether it had to move."""
    stage_id = _stage_for(connection, wanted)
    deal = read_deal(client, deal_id)
    if deal is None:
        raise NeedsAttention(
            f"HubSpot deal {deal_id} is gone; link the person again from the dashboard."
        )
    if (deal.get("properties") or {}).get("dealstage") == stage_id:
        return False

    path = paths.path("object", object_type=paths.DEALS, id=deal_id)
    client.request(
        "PATCH",
        path,
        json={"properties": {"dealstage": stage_id}},
        what=f"moving deal {deal_id}",
    )

    return True


def _attention_reason(agency, exc: ValidationFailed) -> str:
    """Return a reason that names the properties HubSpot refused and what to do."""
    body = body_of(exc)
    found = problems(body)
    required = [name for name, code, _ in found if "REQUIRED" in code]
    if required:
        listed = ", ".join(dict.fromkeys(required))
        return (
            f"HubSpot requires {listed} for agency {agency.slug!r}, and the prospect "
            "has no value for it. Fill it in ClearCare, or stop requiring it in "
            "HubSpot (Settings › Objects › Contacts), then replay the event."
        )
    if found:
        listed = "; ".join(f"{name}: {message}" for name, _, message in found)
        return (
            f"HubSpot refused values for agency {agency.slug!r} ({listed}). Fix "
            "them in ClearCare, or the property's options in HubSpot, then replay "
            "the event."
        )

    message = str(body.get("message") or exc.message).rstrip(".")
    return (
        f"HubSpot refused the data for agency {agency.slug!r}: {message}. Fix the "
        "record or HubSpot's required properties, then replay the event."
    )


def problems(body: dict) -> list[tuple[str, str, str]]:
    """Return ``(property, error code, message)`` for each value HubSpot refused.

    HubSpot lists them as JSON at the end of its message, and sometimes again in
    ``errors[].context.propertyName``.
    """
    found = []
    message = str(body.get("message") or "")
    start = message.find("[")
    if start >= 0:
        try:
            listed = json.loads(message[start:])
        except ValueError:
            listed = []
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("name"):
                code = str(item.get("error") or "")
                said = str(item.get("message") or "")
                found.append((str(item["name"]), code, said))
    if found:
        return found

    for error in body.get("errors") or []:
        context = (error or {}).get("context") or {}
        names = context.get("propertyName") or []
        for name in names if isinstance(names, list) else [names]:
            found.append(
                (str(name), str(error.get("code") or ""), str(error.get("message")))
            )
    return found
