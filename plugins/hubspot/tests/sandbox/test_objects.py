"""The objects API: contacts and deals, one at a time, in lists and in batches."""

from __future__ import annotations

import pytest

CONTACTS = ("/crm/v3/objects/contacts", "/crm/objects/2026-09/contacts")


def _contact(portal, prefix=CONTACTS[0], **properties):
    response = portal.post(prefix, json={"properties": properties})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("prefix", CONTACTS, ids=("v3", "2026-09"))
def test_create_read_update_archive_a_contact(portal, prefix):
    created = _contact(portal, prefix, email="ann@example.com", firstname="Ann")

    assert created["id"].isdigit()
    assert created["properties"]["hs_object_id"] == created["id"]
    assert created["archived"] is False

    read = portal.get(
        f"{prefix}/{created['id']}", params={"properties": "firstname,zip"}
    )
    assert read.status_code == 200
    assert read.json()["properties"]["firstname"] == "Ann"
    assert read.json()["properties"]["zip"] is None
    assert "lastmodifieddate" in read.json()["properties"]

    updated = portal.patch(
        f"{prefix}/{created['id']}", json={"properties": {"zip": 2134, "lastname": "B"}}
    )
    assert updated.status_code == 200
    assert updated.json()["properties"]["zip"] == "2134"

    assert portal.delete(f"{prefix}/{created['id']}").status_code == 204
    gone = portal.get(f"{prefix}/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["category"] == "OBJECT_NOT_FOUND"
    archived = portal.get(f"{prefix}/{created['id']}", params={"archived": "true"})
    assert archived.json()["archived"] is True


def test_a_read_without_properties_answers_the_defaults(portal):
    created = _contact(portal, email="d@example.com", phone="555")

    shown = portal.get(f"{CONTACTS[0]}/{created['id']}").json()["properties"]

    assert set(shown) == {
        "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
        "lastname",
    }  # fmt: skip


def test_a_contact_can_be_read_by_email(portal):
    created = _contact(portal, email="Eve@Example.com")

    found = portal.get(f"{CONTACTS[0]}/eve@example.com", params={"idProperty": "email"})

    assert found.json()["id"] == created["id"]


def test_unknown_and_read_only_properties_are_refused(portal):
    response = portal.post(
        CONTACTS[0], json={"properties": {"shoe_size": "9", "hs_object_id": "1"}}
    )

    body = response.json()
    assert response.status_code == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid")
    assert [e["code"] for e in body["errors"]] == [
        "PROPERTY_DOESNT_EXIST",
        "READ_ONLY_VALUE",
    ]


def test_values_are_checked_by_type(portal):
    bad_number = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "D", "amount": "lots"}},
    )
    bad_option = portal.post(
        CONTACTS[0], json={"properties": {"lifecyclestage": "royalty"}}
    )

    assert bad_number.status_code == 400
    assert "INVALID_LONG" in bad_number.json()["message"]
    assert bad_option.status_code == 400
    assert "INVALID_OPTION" in bad_option.json()["message"]


def test_an_email_already_held_answers_409(portal):
    first = _contact(portal, email="dup@example.com")

    again = portal.post(CONTACTS[0], json={"properties": {"email": "DUP@example.com"}})

    assert again.status_code == 409
    assert again.json()["category"] == "CONFLICT"
    assert first["id"] in again.json()["message"]


def test_a_deal_lands_in_the_default_pipeline_and_checks_its_stage(portal):
    deal = portal.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}})
    wrong = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "E", "dealstage": "nowhere"}},
    )

    assert deal.json()["properties"]["pipeline"] == "default"
    assert deal.json()["properties"]["dealstage"] == "appointmentscheduled"
    assert wrong.status_code == 400
    assert "dealstage" in wrong.json()["message"]


def test_a_deal_is_created_already_associated_with_its_contact(portal):
    contact = _contact(portal, email="c@example.com")
    deal = portal.post(
        "/crm/objects/2026-09/deals",
        json={
            "properties": {"dealname": "Care", "dealstage": "qualifiedtobuy"},
            "associations": [
                {
                    "to": {"id": contact["id"]},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 3,
                        }
                    ],
                }
            ],
        },
    ).json()

    read = portal.get(
        f"/crm/v3/objects/deals/{deal['id']}", params={"associations": "contacts"}
    ).json()
    back = portal.get(
        f"{CONTACTS[0]}/{contact['id']}", params={"associations": "deals"}
    ).json()

    assert read["associations"]["contacts"]["results"] == [
        {"id": contact["id"], "type": "deal_to_contact"}
    ]
    assert back["associations"]["deals"]["results"][0]["id"] == deal["id"]


def test_an_association_to_a_missing_record_is_refused(portal):
    response = portal.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "X"},
            "associations": [
                {
                    "to": {"id": "999999"},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 3,
                        }
                    ],
                }
            ],
        },
    )

    assert response.status_code == 400


def test_lists_page_with_after(portal):
    ids = [_contact(portal, firstname=f"P{n}")["id"] for n in range(5)]

    seen, after = [], None
    while True:
        params = {"limit": 2, "properties": "firstname"}
        if after:
            params["after"] = after
        page = portal.get(CONTACTS[0], params=params).json()
        seen += [item["id"] for item in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break

    assert seen == ids


def test_lists_show_the_associations_asked_for(portal):
    one = _contact(portal, email="l1@example.com")
    two = _contact(portal, email="l2@example.com")
    deal = portal.post(
        "/crm/objects/2026-09/deals",
        json={
            "properties": {"dealname": "Care"},
            "associations": [
                {
                    "to": {"id": one["id"]},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 3,
                        }
                    ],
                }
            ],
        },
    ).json()

    page = portal.get(
        CONTACTS[1],
        params={"limit": 100, "properties": "email", "associations": "deals"},
    ).json()

    shown = {item["id"]: item for item in page["results"]}
    assert shown[one["id"]]["associations"] == {
        "deals": {"results": [{"id": deal["id"], "type": "contact_to_deal"}]}
    }
    assert "associations" not in shown[two["id"]]
    assert shown[two["id"]]["properties"]["email"] == "l2@example.com"
    assert "paging" not in page


def test_a_batch_read_of_deals_answers_207_naming_the_missing_ids(portal):
    deal = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "D", "dealstage": "qualifiedtobuy"}},
    ).json()
    portal.delete(f"/crm/v3/objects/deals/{deal['id']}")
    kept = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "K", "dealstage": "closedwon"}},
    ).json()

    read = portal.post(
        "/crm/objects/2026-09/deals/batch/read",
        json={
            "inputs": [{"id": kept["id"]}, {"id": deal["id"]}, {"id": "777777"}],
            "properties": ["dealstage", "pipeline"],
        },
    )

    assert read.status_code == 207
    body = read.json()
    assert body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == [deal["id"], "777777"]
    [found] = body["results"]
    assert found["id"] == kept["id"]
    assert found["properties"]["dealstage"] == "closedwon"
    assert found["properties"]["pipeline"] == "default"
    assert "dealname" not in found["properties"]


def test_batch_create_answers_201_or_207_naming_each_failed_input(portal):
    ok = portal.post(
        f"{CONTACTS[0]}/batch/create",
        json={"inputs": [{"properties": {"firstname": "A"}}, {"properties": {}}]},
    )
    mixed = portal.post(
        f"{CONTACTS[0]}/batch/create",
        json={
            "inputs": [
                {"properties": {"firstname": "B"}, "objectWriteTraceId": "t1"},
                {"properties": {"nope": "x"}, "objectWriteTraceId": "t2"},
            ]
        },
    )

    assert ok.status_code == 201
    assert len(ok.json()["results"]) == 2
    assert mixed.status_code == 207
    assert len(mixed.json()["results"]) == 1
    assert mixed.json()["errors"][0]["context"]["objectWriteTraceId"] == ["t2"]
    assert portal.post(f"{CONTACTS[0]}/search", json={}).json()["total"] == 3


def test_batches_take_at_most_100_inputs(portal):
    inputs = [{"properties": {"firstname": str(n)}} for n in range(101)]

    response = portal.post(f"{CONTACTS[0]}/batch/create", json={"inputs": inputs})

    assert response.status_code == 400
    assert "100" in response.json()["message"]


def test_batch_read_and_update_report_missing_ids(portal):
    one = _contact(portal, firstname="One")

    read = portal.post(
        f"{CONTACTS[0]}/batch/read",
        json={
            "inputs": [{"id": one["id"]}, {"id": "424242"}],
            "properties": ["firstname"],
        },
    )
    update = portal.post(
        f"{CONTACTS[0]}/batch/update",
        json={
            "inputs": [
                {"id": one["id"], "properties": {"firstname": "Uno"}},
                {"id": "424242", "properties": {"firstname": "X"}},
            ]
        },
    )

    assert read.status_code == 207
    assert read.json()["errors"][0]["context"]["ids"] == ["424242"]
    assert read.json()["results"][0]["properties"]["firstname"] == "One"
    assert update.status_code == 207
    assert update.json()["results"][0]["properties"]["firstname"] == "Uno"


def test_upsert_creates_then_updates_by_a_unique_property(portal):
    portal.post(
        "/crm/v3/properties/contacts",
        json={
            "name": "clearcare_prospect_id",
            "label": "ClearCare Prospect Id",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "hasUniqueValue": True,
        },
    )
    body = {
        "inputs": [
            {
                "id": "P-7",
                "idProperty": "clearcare_prospect_id",
                "properties": {"firstname": "Rae"},
            }
        ]
    }

    first = portal.post(f"{CONTACTS[0]}/batch/upsert", json=body)
    second = portal.post(f"{CONTACTS[0]}/batch/upsert", json=body)

    assert first.status_code == 200
    assert first.json()["results"][0]["new"] is True
    assert second.json()["results"][0]["new"] is False
    assert second.json()["results"][0]["id"] == first.json()["results"][0]["id"]
    assert portal.post(f"{CONTACTS[0]}/search", json={}).json()["total"] == 1
    duplicate = portal.post(
        CONTACTS[0], json={"properties": {"clearcare_prospect_id": "P-7"}}
    )
    assert duplicate.status_code == 409


def test_upsert_refuses_a_property_that_is_not_unique(portal):
    response = portal.post(
        f"{CONTACTS[0]}/batch/upsert",
        json={"inputs": [{"id": "x", "idProperty": "firstname", "properties": {}}]},
    )

    assert response.status_code == 207
    assert "unique" in response.json()["errors"][0]["message"]


def test_batch_archive_answers_204(portal):
    one = _contact(portal, firstname="Gone")

    response = portal.post(
        f"{CONTACTS[0]}/batch/archive", json={"inputs": [{"id": one["id"]}]}
    )

    assert response.status_code == 204
    assert portal.get(f"{CONTACTS[0]}/{one['id']}").status_code == 404


def test_an_unknown_object_type_is_refused(portal):
    response = portal.get("/crm/v3/objects/spaceships")

    assert response.status_code == 400
    assert "spaceships" in response.json()["message"]


def test_required_on_create_is_enforced_from_2026_09_only(portal, sandbox):
    sandbox.control.verb(
        "required_properties",
        {
            "account": portal.account["account"],
            "object_type": "contacts",
            "properties": ["lastname"],
        },
    )

    dated = portal.post(CONTACTS[1], json={"properties": {"firstname": "A"}})
    older = portal.post(CONTACTS[0], json={"properties": {"firstname": "A"}})
    complete = portal.post(
        CONTACTS[1], json={"properties": {"firstname": "A", "lastname": "B"}}
    )

    assert dated.status_code == 400
    assert "REQUIRED_PROPERTY" in dated.json()["message"]
    assert older.status_code == 201
    assert complete.status_code == 201
