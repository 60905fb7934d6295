"""The properties API: properties and groups, and the checks HubSpot makes."""

from __future__ import annotations

import pytest

PROPERTIES = ("/crm/v3/properties/contacts", "/crm/properties/2026-09/contacts")


def _property(**overrides):
    body = {
        "name": "clearcare_location",
        "label": "ClearCare location",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "contactinformation",
        "options": [
            {"label": "North", "value": "north", "hidden": False},
            {"label": "South", "value": "south", "hidden": False, "displayOrder": 1},
        ],
    }
    body.update(overrides)
    return body


def test_a_new_portal_has_the_standard_groups_and_properties(portal):
    contact_groups = portal.get(f"{PROPERTIES[0]}/groups").json()["results"]
    deal_props = portal.get("/crm/v3/properties/deals").json()["results"]
    contact_props = portal.get(PROPERTIES[0]).json()["results"]

    assert "contactinformation" in [g["name"] for g in contact_groups]
    assert {"firstname", "lastname", "email", "phone", "mobilephone", "address",
            "city", "state", "zip", "hs_object_id", "lastmodifieddate"} <= {
        p["name"] for p in contact_props
    }  # fmt: skip
    deal_names = {p["name"]: p for p in deal_props}
    assert {"dealname", "pipeline", "dealstage", "hs_lastmodifieddate"} <= set(
        deal_names
    )
    assert deal_names["dealstage"]["groupName"] == "dealinformation"
    assert "closedwon" in [o["value"] for o in deal_names["dealstage"]["options"]]


@pytest.mark.parametrize("prefix", PROPERTIES, ids=("v3", "2026-09"))
def test_create_read_update_archive_a_property(portal, prefix):
    created = portal.post(prefix, json=_property())

    assert created.status_code == 201
    assert [o["value"] for o in created.json()["options"]] == ["north", "south"]
    assert created.json()["hasUniqueValue"] is False

    updated = portal.patch(
        f"{prefix}/clearcare_location",
        json={"options": [{"label": "East", "value": "east", "hidden": False}]},
    )
    assert updated.json()["options"][0]["value"] == "east"
    assert (
        portal.get(f"{prefix}/clearcare_location").json()["label"]
        == "ClearCare location"
    )

    assert portal.delete(f"{prefix}/clearcare_location").status_code == 204
    assert portal.get(f"{prefix}/clearcare_location").status_code == 404


def test_an_existing_name_answers_409(portal):
    portal.post(PROPERTIES[0], json=_property())

    again = portal.post(PROPERTIES[0], json=_property())
    standard = portal.post(
        PROPERTIES[0], json=_property(name="email", type="string", fieldType="text")
    )

    assert again.status_code == 409
    assert standard.status_code == 409


@pytest.mark.parametrize(
    ("overrides", "words"),
    (
        ({"type": "string", "fieldType": "select"}, "fieldType"),
        ({"type": "number", "fieldType": "text"}, "fieldType"),
        ({"type": "bool", "fieldType": "radio"}, "fieldType"),
        ({"type": "datetime", "fieldType": "text"}, "fieldType"),
        ({"options": []}, "options"),
        ({"options": [{"label": "A", "value": "a"}]}, "hidden"),
        ({"groupName": "nowhere"}, "nowhere"),
        ({"label": ""}, "label"),
        ({"name": "Bad Name"}, "name"),
        ({"hasUniqueValue": True}, "unique"),
    ),
    ids=(
        "string-select", "number-text", "bool-radio", "datetime-text", "no options",
        "option without hidden", "unknown group", "no label", "bad name",
        "unique enumeration",
    ),
)  # fmt: skip
def test_invalid_properties_are_refused(portal, overrides, words):
    response = portal.post(PROPERTIES[0], json=_property(**overrides))

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert words in response.json()["message"]


@pytest.mark.parametrize(
    ("type_", "field_type"),
    (
        ("string", "text"), ("string", "textarea"), ("number", "number"),
        ("bool", "booleancheckbox"), ("date", "date"), ("datetime", "date"),
        ("enumeration", "radio"), ("enumeration", "checkbox"),
        ("enumeration", "booleancheckbox"),
    ),
)  # fmt: skip
def test_every_valid_pair_is_accepted(portal, type_, field_type):
    response = portal.post(
        PROPERTIES[0],
        json=_property(
            name=f"p_{type_}_{field_type}", type=type_, fieldType=field_type
        ),
    )

    assert response.status_code == 201, response.text


def test_hubspot_defined_properties_cannot_be_archived_or_redefined(portal):
    assert portal.delete(f"{PROPERTIES[0]}/email").status_code == 400
    assert (
        portal.patch(f"{PROPERTIES[0]}/email", json={"label": "E"}).status_code == 400
    )


def test_a_unique_property_refuses_a_second_record_with_its_value(portal):
    portal.post(
        PROPERTIES[0],
        json=_property(name="ext_id", type="string", fieldType="text", options=None,
                       hasUniqueValue=True),
    )  # fmt: skip
    first = portal.post(
        "/crm/v3/objects/contacts", json={"properties": {"ext_id": "1"}}
    )
    second = portal.post(
        "/crm/v3/objects/contacts", json={"properties": {"ext_id": "1"}}
    )
    third = portal.post(
        "/crm/v3/objects/contacts", json={"properties": {"ext_id": "2"}}
    )

    assert first.status_code == 201
    assert second.status_code == 409
    assert third.status_code == 201
    clash = portal.patch(
        f"/crm/v3/objects/contacts/{third.json()['id']}",
        json={"properties": {"ext_id": "1"}},
    )
    assert clash.status_code == 409


def test_batch_create_and_read_properties(portal):
    created = portal.post(
        f"{PROPERTIES[0]}/batch/create",
        json={"inputs": [_property(name="a_one"), _property(name="a_one")]},
    )
    read = portal.post(
        f"{PROPERTIES[0]}/batch/read",
        json={"inputs": [{"name": "a_one"}, {"name": "x"}]},
    )

    assert created.status_code == 207
    assert created.json()["errors"][0]["category"] == "OBJECT_ALREADY_EXISTS"
    assert [p["name"] for p in read.json()["results"]] == ["a_one"]


def test_groups_are_created_updated_and_archived(portal):
    created = portal.post(
        f"{PROPERTIES[0]}/groups", json={"name": "clearcare", "label": "ClearCare"}
    )
    duplicate = portal.post(
        f"{PROPERTIES[0]}/groups", json={"name": "clearcare", "label": "ClearCare"}
    )
    updated = portal.patch(f"{PROPERTIES[0]}/groups/clearcare", json={"label": "CC"})

    assert created.status_code == 201
    assert created.json()["archived"] is False
    assert duplicate.status_code == 409
    assert updated.json()["label"] == "CC"
    assert (
        portal.post(PROPERTIES[0], json=_property(groupName="clearcare")).status_code
        == 201
    )
    assert portal.delete(f"{PROPERTIES[0]}/groups/clearcare").status_code == 204
    assert portal.get(f"{PROPERTIES[0]}/groups/clearcare").status_code == 404
    assert (
        portal.delete(f"{PROPERTIES[0]}/groups/contactinformation").status_code == 400
    )


def test_a_group_needs_a_name_and_label(portal):
    response = portal.post(f"{PROPERTIES[0]}/groups", json={"name": "x"})

    assert response.status_code == 400


def test_an_object_type_has_at_most_ten_unique_properties(portal):
    answers = [
        portal.post(
            PROPERTIES[0],
            json=_property(name=f"key_{n}", type="string", fieldType="text",
                           options=None, hasUniqueValue=True),
        ).status_code
        for n in range(11)
    ]  # fmt: skip

    assert answers == [201] * 10 + [400]
