"""HubSpot contacts and deals read back as the hub's prospects."""

from __future__ import annotations

from typing import Any

from carehub_hubspot import paths, status
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import ObjectNotFound
from hub.canonical import Prospect, ProspectStatus, RecordRef

#: The contact property that holds each prospect field.
CONTACT_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "street": "address",
    "city": "city",
    "state": "state",
    "postal_code": "zip",
    "location": "clearcare_location",
}
#: HubSpot's labels of the synced contact properties, for the manual steps.
PROPERTY_LABELS = {
    "firstname": "First name",
    "lastname": "Last name",
    "email": "Email",
    "phone": "Phone number",
    "mobilephone": "Mobile phone number",
    "address": "Street address",
    "city": "City",
    "state": "State/Region",
    "zip": "Postal code",
    "clearcare_location": "ClearCare location",
}
PROSPECT_ID = "clearcare_prospect_id"
LINK_ID = "carehub_link_id"
DEAL_PROPERTIES = ("dealname", "pipeline", "dealstage", LINK_ID, "hs_lastmodifieddate")
CONTACT_READ = (*CONTACT_PROPERTIES.values(), PROSPECT_ID, "lastmodifieddate")

#: The object type and the properties each record kind is read with.
READERS = {
    "contact": (paths.CONTACTS, CONTACT_READ),
    "deal": (paths.DEALS, DEAL_PROPERTIES),
}


def prospect_from_contact(properties: dict[str, Any]) -> Prospect:
    """Return the prospect a contact's properties describe."""
    values = {
        field: _value(properties.get(name))
        for field, name in CONTACT_PROPERTIES.items()
    }
    return Prospect(**values)


def contact_properties(prospect: Prospect) -> dict[str, str]:
    """Return the contact properties a prospect's known fields set."""
    return {
        name: value
        for field, name in CONTACT_PROPERTIES.items()
        if (value := getattr(prospect, field)) is not None
    }


def _value(raw: Any) -> str | None:
    if raw is None:
        return None
    return str(raw)


def read_contact(client: HubSpotClient, contact_id: str) -> dict | None:
    """Return a contact with the properties the hub syncs, or None when it is gone."""
    path = paths.path("object", object_type=paths.CONTACTS, id=contact_id)
    try:
        contact = client.get(
            path,
            what=f"reading contact {contact_id}",
            properties=",".join(CONTACT_READ),
        )
    except ObjectNotFound:
        return None

    return None if contact.get("archived") else contact


def read_deal(client: HubSpotClient, deal_id: str) -> dict | None:
    """Return a deal with its stage and link id, or None when it is gone."""
    path = paths.path("object", object_type=paths.DEALS, id=deal_id)
    try:
        deal = client.get(
            path,
            what=f"reading deal {deal_id}",
            properties=",".join(DEAL_PROPERTIES),
            associations="contacts",
        )
    except ObjectNotFound:
        return None

    return None if deal.get("archived") else deal


def deal_status(connection, deal: dict) -> ProspectStatus | None:
    """Return the status of a deal in the provisioned pipeline, else None."""
    properties = deal.get("properties") or {}
    pipeline_id = (connection.state or {}).get("pipeline_id")
    if pipeline_id and properties.get("pipeline") not in (None, str(pipeline_id)):
        return None
    return status.from_native(connection, properties.get("dealstage"))


def fetch_record(client: HubSpotClient, connection, ref: RecordRef) -> Prospect | None:
    """Return a contact or deal as a prospect, or None when it is gone."""
    if ref.kind == "contact":
        contact = read_contact(client, ref.id)
        if contact is None:
            return None
        return _prospect_of(connection, "contact", contact)

    if ref.kind == "deal":
        deal = read_deal(client, ref.id)
        if deal is None:
            return None
        return _prospect_of(connection, "deal", deal)

    raise ValueError(f"HubSpot records are contacts or deals, not {ref.kind!r}.")


def fetch_records(
    client: HubSpotClient, connection, refs: list[RecordRef]
) -> dict[RecordRef, Prospect | None]:
    """Return each contact or deal as ``fetch_record`` reads it, None when gone.

    Contacts and deals are read in batches of 100, one call per batch; an id the
    batch answer leaves out (HubSpot's 207 names it) is gone.
    """
    refs = list(refs)
    for ref in refs:
        if ref.kind not in READERS:
            raise ValueError(
                f"HubSpot records are contacts or deals, not {ref.kind!r}."
            )

    found: dict[RecordRef, Prospect] = {}
    for kind, (object_type, properties) in READERS.items():
        ids = list(dict.fromkeys(r.id for r in refs if r.kind == kind and _is_id(r.id)))
        if not ids:
            continue
        rows = client.batch(
            object_type,
            "read",
            [{"id": object_id} for object_id in ids],
            what=f"reading {len(ids)} {object_type}",
            properties=list(properties),
        )
        for row in rows:
            if row.get("archived"):
                continue
            ref = RecordRef(kind, str(row["id"]))
            found[ref] = _prospect_of(connection, kind, row)

    return {ref: found.get(ref) for ref in refs}


def _prospect_of(connection, kind: str, row: dict) -> Prospect:
    if kind == "contact":
        return prospect_from_contact(row.get("properties") or {})
    return Prospect(status=deal_status(connection, row))


def _is_id(value: str) -> bool:
    return str(value).isdigit()
