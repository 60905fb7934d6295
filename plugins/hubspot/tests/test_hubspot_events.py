"""Parsing HubSpot's webhook bodies into changes, without calling HubSpot."""

from __future__ import annotations

import json

import pytest

from carehub_hubspot.events import parse
from hub.canonical import ChangeKind, Inbound, RecordRef
from hub.errors import MalformedEvent, VerificationFailed


def inbound(body, purpose="contact.created", query=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Inbound(
        method="POST",
        url="https://hub.example.org/hooks/hubspot/tok",
        headers={"Content-Type": "application/json"},
        body=raw,
        query=query or {},
        purpose=purpose,
    )


LEGACY_CONTACT = {
    "vid": 51,
    "canonical-vid": 51,
    "portal-id": 40000001,
    "is-contact": True,
    "properties": {
        "firstname": {"value": "Ann", "versions": [{"value": "Ann"}]},
        "lastmodifieddate": {"value": "1800000000123", "versions": []},
    },
}


def test_a_legacy_contact_profile_is_a_created_contact():
    [change] = parse(inbound(LEGACY_CONTACT), portal_id="40000001")

    assert change.kind == ChangeKind.CREATED
    assert change.ref == RecordRef("contact", "51")
    assert change.dedup_key == "hubspot:contact.created:51"
    assert change.prospect is None


def test_a_changed_contact_is_keyed_by_its_modification():
    [change] = parse(inbound(LEGACY_CONTACT, "contact.changed"))

    assert change.kind == ChangeKind.UPDATED
    assert change.dedup_key == "hubspot:contact.changed:51:1800000000123"


def test_a_contact_carrying_a_prospect_id_names_the_clearcare_patient():
    body = {
        **LEGACY_CONTACT,
        "properties": {"clearcare_prospect_id": {"value": "p-12", "versions": []}},
    }

    [change] = parse(inbound(body, "contact.changed"))

    assert change.other_ids == {"patient": "p-12"}
    assert parse(inbound(LEGACY_CONTACT))[0].other_ids == {}


def test_a_merged_contact_uses_its_canonical_id():
    body = {**LEGACY_CONTACT, "vid": 50, "canonical-vid": 51}

    [change] = parse(inbound(body))

    assert change.ref.id == "51"


def test_a_deal_body_is_a_status_change():
    body = {
        "objectId": 7,
        "properties": {"dealstage": "123", "hs_lastmodifieddate": "2026-12-03T10:00Z"},
    }

    [change] = parse(inbound(body, "deal.stage_changed"))

    assert change.kind == ChangeKind.STATUS_CHANGED
    assert change.ref == RecordRef("deal", "7")
    assert change.dedup_key == "hubspot:deal.stage_changed:7:123:2026-12-03T10:00Z"


def test_the_object_id_may_come_in_the_query_string():
    [change] = parse(inbound({"anything": 1}, "deal.stage_changed", {"objectId": "9"}))

    assert change.ref == RecordRef("deal", "9")
    assert change.dedup_key is None


def test_an_app_webhook_array_is_sorted_creations_first():
    events = [
        {
            "eventId": 2,
            "subscriptionId": 5,
            "portalId": 1,
            "occurredAt": 100,
            "subscriptionType": "contact.propertyChange",
            "objectId": 51,
        },
        {
            "eventId": 1,
            "subscriptionId": 4,
            "portalId": 1,
            "occurredAt": 100,
            "subscriptionType": "contact.creation",
            "objectId": 51,
        },
        {
            "eventId": 3,
            "subscriptionId": 6,
            "portalId": 1,
            "occurredAt": 90,
            "subscriptionType": "deal.propertyChange",
            "propertyName": "dealstage",
            "objectId": 7,
        },
    ]

    changes = parse(inbound(events), portal_id=1)

    assert [(c.kind, c.ref.id) for c in changes] == [
        (ChangeKind.STATUS_CHANGED, "7"),
        (ChangeKind.CREATED, "51"),
        (ChangeKind.UPDATED, "51"),
    ]
    assert len({c.dedup_key for c in changes}) == 3


@pytest.mark.parametrize(
    "body",
    (b"not json", b"[1, 2]", b'"text"', b'{"vid": "abc"}', b'{"name": "Ann"}'),
    ids=("not-json", "array-of-numbers", "string", "bad-id", "no-id"),
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(MalformedEvent):
        parse(inbound(body))


def test_an_unknown_purpose_is_refused():
    with pytest.raises(MalformedEvent, match="purpose"):
        parse(inbound(LEGACY_CONTACT, "ticket.created"))


def test_a_body_from_another_portal_is_refused():
    with pytest.raises(VerificationFailed, match="portal"):
        parse(inbound(LEGACY_CONTACT), portal_id="999")
