"""Every flow through the real connectors and their sandboxes, over HTTP.

The sandboxes run in a process of their own; their webhooks reach the hub served in
this process, whose embedded worker does the rest.
"""

from __future__ import annotations

import pytest
from sandbox_world import API, wait_for

from hub import ProspectStatus

pytestmark = pytest.mark.slow


def tag(resource: dict, code: str) -> str | None:
    for item in (resource.get("meta") or {}).get("tag") or []:
        if item.get("code") == code:
            return item.get("display")
    return None


def city(resource: dict) -> str | None:
    return ((resource.get("address") or [{}])[0]).get("city")


def person(world, tenant, **properties):
    """Create a contact as a HubSpot user would and wait for its prospect and deal;
    return (contact id, patient, deal)."""
    properties.setdefault("firstname", "Margaret")
    properties.setdefault("lastname", "Johnson")
    properties.setdefault("phone", "3035559876")
    contact = world.new_contact(tenant, **properties)
    wait_for(lambda: world.linked(tenant, "deal"))
    [patient] = world.patients(tenant)
    [deal] = world.deals(tenant)

    return contact, patient, deal


def test_contact_created_makes_prospect_id_and_deal(world):
    tenant = world.new_tenant(locations=("Main Office",))

    contact, patient, deal = person(world, tenant, email="m.johnson@example.com")

    assert patient["name"][0]["family"] == "Johnson"
    assert tag(patient, "status") == "1"
    assert str(tag(patient, "isClient")).lower() == "false"
    assert tag(patient, "locationId") == world.locations(tenant)["Main Office"]
    assert world.contact(tenant, contact)["clearcare_prospect_id"] == str(patient["id"])
    assert deal["properties"]["dealname"] == "Margaret Johnson"
    assert deal["properties"]["dealstage"] == world.stage(
        tenant, ProspectStatus.NEW_LEAD
    )
    full = world.deal(tenant, deal["id"])
    associated = full["associations"]["contacts"]["results"]
    assert [a["id"] for a in associated] == [contact]
    outcomes = [e.outcome for e in world.events(tenant)]
    assert outcomes.count("created") == 1
    assert set(outcomes) <= {"created", "echo", "unchanged"}


def test_contact_changed_updates_the_prospect(world):
    tenant = world.new_tenant()
    contact, patient, _ = person(world, tenant)

    world.hs(
        tenant,
        "PATCH",
        f"{API}/contacts/{contact}",
        json={"properties": {"city": "Denver"}},
    )

    wait_for(lambda: city(world.patient(tenant, patient["id"])) == "Denver")
    wait_for(lambda: world.settled(tenant))
    assert len(world.patients(tenant)) == 1


def test_incomplete_contact_waits_then_gets_its_prospect(world):
    tenant = world.new_tenant(locations=("North", "South"))

    contact = world.new_contact(tenant, firstname="Ann", phone="3035550000")
    wait_for(lambda: world.settled(tenant))
    [event] = world.events(tenant)
    assert event.status == "needs_attention"
    assert "last name and ClearCare location" in event.last_error
    assert world.patients(tenant) == []

    south = world.locations(tenant)["South"]
    world.hs(
        tenant,
        "PATCH",
        f"{API}/contacts/{contact}",
        json={"properties": {"lastname": "Lee", "clearcare_location": south}},
    )
    # The provisioned field sync workflow enrolls only contacts that have a
    # ClearCare Prospect Id, so the change is delivered as a workflow that enrolls
    # every contact (or the hub's reconciliation) would deliver it.
    body = {"vid": int(contact), "portal-id": int(tenant.portal_id)}
    assert world.post_webhook(tenant, "contact.changed", body) == {"stored": 1}

    wait_for(lambda: world.linked(tenant, "deal"))
    [patient] = world.patients(tenant)
    assert tag(patient, "locationId") == south
    assert world.events(tenant)[0].outcome == "superseded"


def test_deal_stage_changed_sets_the_prospect_status(world):
    tenant = world.new_tenant()
    _, patient, deal = person(world, tenant)

    stage = world.stage(tenant, ProspectStatus.CARE_STARTED)
    world.hs(
        tenant,
        "PATCH",
        f"{API}/deals/{deal['id']}",
        json={"properties": {"dealstage": stage}},
    )

    wait_for(lambda: tag(world.patient(tenant, patient["id"]), "status") == "80")
    written = world.patient(tenant, patient["id"])
    assert str(tag(written, "isClient")).lower() == "true"


def test_a_care_status_moves_the_deal_once_and_its_echo_writes_nothing(world):
    tenant = world.new_tenant()
    _, patient, deal = person(world, tenant)
    scheduled = world.stage(tenant, ProspectStatus.ASSESSMENT_SCHEDULED)
    before = world.hubspot.counters(account=tenant.portal_id)["writes"]

    world.clearcare.verb(
        "prospect_status",
        {"patient_id": patient["id"], "status": "Assessment Scheduled"},
    )

    wait_for(
        lambda: world.deal(tenant, deal["id"])["properties"]["dealstage"] == scheduled
    )

    def echo_dropped():
        return [
            e.outcome
            for e in world.events(tenant)
            if e.purpose == "deal.stage_changed" and e.status == "dropped"
        ]

    assert wait_for(echo_dropped)[0] in ("echo", "unchanged")
    wait_for(lambda: world.settled(tenant))
    writes = world.hubspot.counters(account=tenant.portal_id)["writes"] - before
    assert writes == 1
    care_writes = world.clearcare.counters(account=tenant.clearcare["agency_id"])
    assert "PUT /v1/patients/<int:patient_id>/" not in care_writes["by_path"]


def test_care_fields_and_client_flag_reach_the_contact_and_deal(world):
    tenant = world.new_tenant()
    contact, patient, deal = person(world, tenant)
    resource = world.patient(tenant, patient["id"])
    resource["name"][0]["given"] = ["Maggie"]
    resource["telecom"] = [{"system": "phone", "value": "7195550101", "use": "home"}]
    for item in resource["meta"]["tag"]:
        if item["code"] == "isClient":
            item["display"] = "true"

    world.cc(tenant, "PUT", f"/v1/patients/{patient['id']}/", json=resource)

    care_started = world.stage(tenant, ProspectStatus.CARE_STARTED)
    wait_for(
        lambda: (
            world.deal(tenant, deal["id"])["properties"]["dealstage"] == care_started
        )
    )
    wait_for(lambda: world.contact(tenant, contact)["firstname"] == "Maggie")
    assert world.contact(tenant, contact)["phone"] == "7195550101"


def test_a_patient_not_linked_is_left_alone_by_default(world):
    tenant = world.new_tenant()

    world.cc(tenant, "POST", "/v1/patients/", json=new_patient(tenant, "Solo"))

    wait_for(lambda: world.settled(tenant))
    assert [e.outcome for e in world.events(tenant)] == ["not_linked"]
    assert world.deals(tenant) == []


def test_a_patient_not_linked_makes_contact_and_deal_when_asked(world):
    tenant = world.new_tenant(care_creates_sales=True)

    created = world.cc(
        tenant, "POST", "/v1/patients/", json=new_patient(tenant, "Ruiz")
    )

    wait_for(lambda: world.linked(tenant, "deal"))
    [deal] = world.deals(tenant)
    assert deal["properties"]["dealname"] == "Rosa Ruiz"
    [link] = world.links(tenant)
    contact = next(r.remote_id for r in link.refs if r.kind == "contact")
    assert world.contact(tenant, contact)["clearcare_prospect_id"] == str(created["id"])
    assert len(world.patients(tenant)) == 1


def test_a_deactivated_patient_marks_the_link_inactive(world):
    tenant = world.new_tenant()
    _, patient, deal = person(world, tenant)
    resource = world.patient(tenant, patient["id"])
    resource["active"] = False

    world.cc(tenant, "PUT", f"/v1/patients/{patient['id']}/", json=resource)

    wait_for(lambda: world.links(tenant)[0].active is False)
    assert world.deal(tenant, deal["id"])["properties"]["dealstage"] == world.stage(
        tenant, ProspectStatus.NEW_LEAD
    )


def new_patient(tenant, family: str) -> dict:
    return {
        "resourceType": "Patient",
        "active": True,
        "name": [{"use": "official", "family": family, "given": ["Rosa"]}],
        "telecom": [{"system": "phone", "value": "3035551234", "use": "mobile"}],
        "meta": {
            "tag": [
                {"code": "agencyId", "display": tenant.clearcare["agency_id"]},
                {"code": "status", "display": "1"},
                {"code": "isClient", "display": "false"},
            ]
        },
    }
