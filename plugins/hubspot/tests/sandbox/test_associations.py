"""The associations API: batch create, read and archive between contacts and deals."""

from __future__ import annotations

import pytest

FAMILIES = ("/crm/v4/associations", "/crm/associations/2026-09")


def _make(portal, object_type, properties):
    response = portal.post(
        f"/crm/v3/objects/{object_type}", json={"properties": properties}
    )
    return response.json()["id"]


@pytest.mark.parametrize("prefix", FAMILIES, ids=("v4", "2026-09"))
def test_create_read_and_archive_associations(portal, prefix):
    contact = _make(portal, "contacts", {"firstname": "Ann"})
    deal = _make(portal, "deals", {"dealname": "Care for Ann"})
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}

    created = portal.post(
        f"{prefix}/contacts/deals/batch/create",
        json={
            "inputs": [{"from": {"id": contact}, "to": {"id": deal}, "types": [spec]}]
        },
    )
    read = portal.post(
        f"{prefix}/deals/contacts/batch/read", json={"inputs": [{"id": deal}]}
    )

    assert created.status_code == 201
    assert created.json()["results"][0]["toObjectId"] == int(deal)
    assert read.status_code == 200
    assert read.json()["results"][0]["to"][0]["toObjectId"] == int(contact)
    assert read.json()["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 3

    archived = portal.post(
        f"{prefix}/contacts/deals/batch/archive",
        json={"inputs": [{"from": {"id": contact}, "to": [{"id": deal}]}]},
    )
    again = portal.post(
        f"{prefix}/deals/contacts/batch/read", json={"inputs": [{"id": deal}]}
    )

    assert archived.status_code == 204
    assert again.status_code == 207
    assert again.json()["results"] == []


def test_a_wrong_type_or_missing_record_is_reported_per_input(portal):
    contact = _make(portal, "contacts", {"firstname": "Bo"})
    deal = _make(portal, "deals", {"dealname": "D"})
    wrong = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
    right = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}

    response = portal.post(
        f"{FAMILIES[0]}/contacts/deals/batch/create",
        json={
            "inputs": [
                {"from": {"id": contact}, "to": {"id": deal}, "types": [wrong]},
                {"from": {"id": contact}, "to": {"id": "987654"}, "types": [right]},
                {"from": {"id": contact}, "to": {"id": deal}, "types": [right]},
            ]
        },
    )

    assert response.status_code == 207
    assert len(response.json()["results"]) == 1
    assert [e["category"] for e in response.json()["errors"]] == [
        "VALIDATION_ERROR",
        "OBJECT_NOT_FOUND",
    ]


def test_archived_records_drop_out_of_associations(portal):
    contact = _make(portal, "contacts", {"firstname": "Cy"})
    deal = portal.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "D"},
            "associations": [
                {
                    "to": {"id": contact},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 3,
                        }
                    ],
                }
            ],
        },
    ).json()["id"]
    portal.delete(f"/crm/v3/objects/contacts/{contact}")

    read = portal.get(
        f"/crm/v3/objects/deals/{deal}", params={"associations": "contacts"}
    )

    assert "associations" not in read.json()


def test_the_v3_shape_creates_reads_and_archives(portal):
    contact = _make(portal, "contacts", {"firstname": "Vee"})
    deal = _make(portal, "deals", {"dealname": "Three"})
    pair = {"from": {"id": contact}, "to": {"id": deal}, "type": "contact_to_deal"}

    created = portal.post(
        "/crm/v3/associations/contacts/deals/batch/create", json={"inputs": [pair]}
    )
    read = portal.post(
        "/crm/v3/associations/deals/contacts/batch/read",
        json={"inputs": [{"id": deal}]},
    )
    wrong = portal.post(
        "/crm/v3/associations/contacts/deals/batch/create",
        json={"inputs": [{**pair, "type": "deal_to_contact"}]},
    )
    archived = portal.post(
        "/crm/v3/associations/contacts/deals/batch/archive", json={"inputs": [pair]}
    )

    assert created.status_code == 201
    assert read.json()["results"][0]["to"] == [
        {"id": contact, "type": "deal_to_contact"}
    ]
    assert wrong.status_code == 400
    assert archived.status_code == 204
    assert not _targets(portal, deal)


def _targets(portal, deal):
    read = portal.get(
        f"/crm/v3/objects/deals/{deal}", params={"associations": "contacts"}
    )
    return read.json().get("associations")
