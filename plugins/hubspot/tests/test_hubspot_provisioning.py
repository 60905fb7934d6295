"""Provisioning a sandbox portal: the guide's pipeline, properties and workflows."""

from __future__ import annotations

import re

import requests

from carehub_hubspot import paths
from carehub_hubspot.workflow_specs import (
    CONTACT_WORKFLOW,
    DEAL_WORKFLOW,
    FIELD_SYNC_WORKFLOW,
)
from hub.canonical import ProspectStatus
from hub.extensions import db
from hub.models import Agency, Location

ALL_SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "automation",
]


def pipeline_of(world, portal):
    pipeline_id = world.state(portal)["pipeline_id"]
    return world.api(
        portal,
        "GET",
        paths.path("pipeline", object_type="deals", pipeline_id=pipeline_id),
    )


def flow_of(world, portal, purpose):
    flow_id = world.state(portal)["workflow_ids"][purpose]
    return world.api(portal, "GET", paths.path("flow", flow_id=flow_id))


def contact_property(world, portal, name):
    return world.api(
        portal, "GET", paths.path("property", object_type="contacts", name=name)
    )


def test_a_fresh_portal_gets_the_guides_pipeline_properties_and_workflows(world):
    portal = world.new_portal(locations=(("loc-1", "Downtown"), ("loc-2", "Harbor")))

    reports = world.provision(portal)

    assert reports.final() == {
        "pipeline": "done",
        "properties": "done",
        "contact_workflows": "done",
        "deal_workflow": "done",
    }
    pipeline = pipeline_of(world, portal)
    assert pipeline["label"] == "ClearCare_Sales_Pipeline"
    stages = sorted(pipeline["stages"], key=lambda s: s["displayOrder"])
    assert [s["label"] for s in stages] == [s.label for s in ProspectStatus]
    probabilities = [float(s["metadata"]["probability"]) for s in stages]
    assert probabilities[-2:] == [1.0, 0.0]
    assert probabilities[:10] == sorted(probabilities[:10])
    assert probabilities[0] > 0.0 and probabilities[9] < 1.0
    state = world.state(portal)
    assert state["stage_ids"]["CLOSED_WON"] == stages[10]["id"]

    prospect_id = contact_property(world, portal, "clearcare_prospect_id")
    assert prospect_id["label"] == "ClearCare Prospect Id"
    assert (prospect_id["type"], prospect_id["hasUniqueValue"]) == ("string", True)
    assert prospect_id["groupName"] == "clearcare"
    location = contact_property(world, portal, "clearcare_location")
    assert (location["type"], location["fieldType"]) == ("enumeration", "select")
    assert [(o["value"], o["label"]) for o in location["options"]] == [
        ("loc-1", "Downtown"),
        ("loc-2", "Harbor"),
    ]
    link = world.api(
        portal,
        "GET",
        paths.path("property", object_type="deals", name="carehub_link_id"),
    )
    assert link["hasUniqueValue"] is True

    flows = {
        purpose: flow_of(world, portal, purpose)
        for purpose in ("contact.created", "contact.changed", "deal.stage_changed")
    }
    assert [f["name"] for f in flows.values()] == [
        CONTACT_WORKFLOW,
        FIELD_SYNC_WORKFLOW,
        DEAL_WORKFLOW,
    ]
    for purpose, flow in flows.items():
        assert flow["isEnabled"] is True
        [action] = flow["actions"]
        assert action["webhookUrl"] == world.webhook_url(portal, purpose)
    assert flows["contact.created"]["enrollmentCriteria"]["shouldReEnroll"] is False
    assert flows["contact.changed"]["enrollmentCriteria"]["shouldReEnroll"] is True
    deal_filter = flows["deal.stage_changed"]["enrollmentCriteria"]["listFilterBranch"]
    values = deal_filter["filterBranches"][0]["filters"][0]["operation"]["values"]
    assert sorted(values) == sorted(s["id"] for s in stages if s["label"] != "New Lead")
    listed = world.api(portal, "GET", paths.path("flows"))["results"]
    assert len(listed) == 3


def test_the_properties_step_names_what_the_admin_sets_by_hand(world):
    portal = world.new_portal(locations=(("loc-1", "Downtown"), ("loc-2", "Harbor")))

    reports = world.provision(portal)

    detail = reports.detail("properties")
    assert "add ClearCare location and ClearCare Prospect Id" in detail
    assert "Required for First name, Last name, ClearCare location" in detail


def test_a_second_run_makes_zero_writes(world):
    portal = world.new_portal()
    world.provision(portal)
    writes = world.writes(portal)

    reports = world.provision(portal)

    assert world.writes(portal) == writes
    assert set(reports.final().values()) == {"done"}
    assert "as they should be" in reports.detail("pipeline")


def test_a_stage_and_a_workflow_deleted_by_hand_are_repaired(world):
    portal = world.new_portal()
    world.provision(portal)
    state = world.state(portal)
    old_stage = state["stage_ids"]["NEEDS_CONTRACT"]
    world.control.verb(
        "delete_object",
        {
            "account": portal.portal_id,
            "kind": "stage",
            "id": old_stage,
            "pipeline_id": state["pipeline_id"],
        },
    )
    world.control.verb(
        "delete_object",
        {
            "account": portal.portal_id,
            "kind": "workflow",
            "id": state["workflow_ids"]["contact.created"],
        },
    )

    reports = world.provision(portal)

    assert set(reports.final().values()) == {"done"}
    assert "Needs Contract" in reports.detail("pipeline")
    stages = sorted(
        pipeline_of(world, portal)["stages"], key=lambda s: s["displayOrder"]
    )
    assert [s["label"] for s in stages] == [s.label for s in ProspectStatus]
    new_stage = world.state(portal)["stage_ids"]["NEEDS_CONTRACT"]
    assert new_stage != old_stage
    assert flow_of(world, portal, "contact.created")["name"] == CONTACT_WORKFLOW
    deal_flow = flow_of(world, portal, "deal.stage_changed")
    branch = deal_flow["enrollmentCriteria"]["listFilterBranch"]
    assert new_stage in branch["filterBranches"][0]["filters"][0]["operation"]["values"]

    writes = world.writes(portal)
    world.provision(portal)
    assert world.writes(portal) == writes


def test_a_workflow_turned_off_or_pointed_elsewhere_is_put_back(world):
    portal = world.new_portal()
    world.provision(portal)
    flow = flow_of(world, portal, "deal.stage_changed")
    flow["isEnabled"] = False
    flow["actions"][0]["webhookUrl"] = "https://elsewhere.example.org/hook"
    world.api(portal, "PUT", paths.path("flow", flow_id=flow["id"]), json=flow)

    reports = world.provision(portal)

    assert "Repaired" in reports.detail("deal_workflow")
    repaired = flow_of(world, portal, "deal.stage_changed")
    assert repaired["isEnabled"] is True
    assert repaired["actions"][0]["webhookUrl"] == world.webhook_url(
        portal, "deal.stage_changed"
    )


def test_drift_is_repaired_but_an_admins_probabilities_are_kept(world):
    portal = world.new_portal()
    world.provision(portal)
    state = world.state(portal)
    stage_path = lambda status: paths.path(  # noqa: E731
        "stage",
        object_type="deals",
        pipeline_id=state["pipeline_id"],
        stage_id=state["stage_ids"][status],
    )
    world.api(
        portal,
        "PATCH",
        stage_path("INITIAL_PHONE_CALL"),
        json={"label": "First call", "metadata": {"probability": "0.33"}},
    )
    world.api(
        portal,
        "PATCH",
        stage_path("CLOSED_WON"),
        json={"metadata": {"probability": "0.5"}},
    )
    world.api(portal, "PATCH", stage_path("CARE_STARTED"), json={"displayOrder": 0})

    world.provision(portal)

    stages = {s["id"]: s for s in pipeline_of(world, portal)["stages"]}
    call = stages[state["stage_ids"]["INITIAL_PHONE_CALL"]]
    assert call["label"] == "Initial Phone Call"
    assert call["metadata"]["probability"] == "0.33"
    assert (
        float(stages[state["stage_ids"]["CLOSED_WON"]]["metadata"]["probability"])
        == 1.0
    )
    assert stages[state["stage_ids"]["CARE_STARTED"]]["displayOrder"] == 9


def test_an_agency_without_locations_is_told_to_provision_clearcare_first(world):
    portal = world.new_portal(locations=())

    reports = world.provision(portal)

    assert reports.status("properties") == "failed"
    assert "no locations yet" in reports.detail("properties")
    assert 'Created the property "ClearCare Prospect Id"' in reports.detail(
        "properties"
    )
    assert reports.status("contact_workflows") == "done"
    sync = flow_of(world, portal, "contact.changed")["enrollmentCriteria"]
    triggers = sync["reEnrollmentTriggersFilterBranches"]
    assert "clearcare_location" not in str(triggers)

    with world.app.app_context():
        agency = db.session.get(Agency, portal.agency_id)
        agency.locations.append(Location(remote_id="loc-1", name="Downtown"))
        db.session.commit()
    again = world.provision(portal)

    assert set(again.final().values()) == {"done"}
    assert "clearcare_location" in str(
        flow_of(world, portal, "contact.changed")["enrollmentCriteria"]
    )


def test_changed_locations_refresh_the_options(world):
    portal = world.new_portal()
    world.provision(portal)
    with world.app.app_context():
        agency = db.session.get(Agency, portal.agency_id)
        agency.locations.append(Location(remote_id="loc-9", name="Airport"))
        db.session.commit()

    world.provision(portal)

    options = contact_property(world, portal, "clearcare_location")["options"]
    assert ("loc-9", "Airport") in [(o["value"], o["label"]) for o in options]


def test_without_the_automation_scope_the_workflows_are_manual_with_working_urls(world):
    portal = world.new_portal(scopes=[s for s in ALL_SCOPES if s != "automation"])

    reports = world.provision(portal)

    assert reports.status("pipeline") == "done"
    assert reports.status("contact_workflows") == "manual"
    assert reports.status("deal_workflow") == "manual"
    contact_detail = reports.detail("contact_workflows")
    assert CONTACT_WORKFLOW in contact_detail and FIELD_SYNC_WORKFLOW in contact_detail
    assert "automation scope" in contact_detail
    assert "enroll existing deals" in reports.detail("deal_workflow")

    urls = re.findall(r"https?://\S+/hooks/hubspot/[\w-]+", contact_detail)
    urls += re.findall(
        r"https?://\S+/hooks/hubspot/[\w-]+", reports.detail("deal_workflow")
    )
    assert len(urls) == 3
    bodies = [
        {"vid": 501, "portal-id": int(portal.portal_id), "properties": {}},
        {"vid": 501, "portal-id": int(portal.portal_id), "properties": {}},
        {"objectId": 77, "properties": {"dealstage": {"value": "1"}}},
    ]
    for url, body in zip(urls, bodies, strict=True):
        answer = requests.post(url, json=body, timeout=10)
        assert answer.status_code == 200, answer.text
    assert len(world.events(portal)) == 3


def test_without_operations_hub_the_sync_falls_back_to_polling(world):
    portal = world.new_portal(operations_hub=False)

    reports = world.provision(portal)

    assert reports.status("contact_workflows") == "unavailable"
    assert reports.status("deal_workflow") == "unavailable"
    assert "polling" in reports.detail("contact_workflows")
    assert "Operations Hub" in reports.detail("deal_workflow")
    assert world.state(portal)["sync_by_polling"] is True


def test_a_free_portal_ends_with_a_clear_pipeline_message(world):
    portal = world.new_portal(tier="free", operations_hub=False)

    reports = world.provision(portal)

    assert reports.status("pipeline") == "failed"
    assert "allows no more deal pipelines" in reports.detail("pipeline")
    assert "HubSpot Free allows one" in reports.detail("pipeline")
    assert "Upgrade" in reports.detail("pipeline")
    assert reports.status("properties") == "done"
    assert reports.status("deal_workflow") == "skipped"


def test_a_real_portal_refuses_an_http_public_url(world, monkeypatch):
    from carehub_hubspot import provisioning

    portal = world.new_portal()
    monkeypatch.setattr(provisioning, "is_real_hubspot", lambda client: True)

    reports = world.provision(portal)

    assert reports.status("contact_workflows") == "failed"
    assert "Set HUB_PUBLIC_URL to the https://" in reports.detail("contact_workflows")
