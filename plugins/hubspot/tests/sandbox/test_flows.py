"""The workflows API: schema checks, tiers, Operations Hub and revisions."""

from __future__ import annotations

import copy

import pytest

FLOWS = ("/automation/v4/flows", "/automation/2026-09-beta/flows")


EVENT_BASED = {
    "type": "EVENT_BASED",
    "shouldReEnroll": True,
    "eventFilterBranches": [
        {"eventTypeId": "4-655002", "filterBranchType": "UNIFIED_EVENTS"}
    ],
    "listMembershipFilterBranches": [],
}  # fmt: skip


@pytest.mark.parametrize("prefix", FLOWS, ids=("v4", "2026-09-beta"))
def test_create_read_update_delete_amake_flow(make_flow, portal, prefix):
    created = portal.post(prefix, json=make_flow())

    flow = created.json()
    assert created.status_code == 201
    assert flow["id"].isdigit()
    assert flow["revisionId"] == "1"
    assert (
        portal.get(f"{prefix}/{flow['id']}").json()["name"]
        == "ClearCare Contact Workflow"
    )
    assert [f["id"] for f in portal.get(prefix).json()["results"]] == [flow["id"]]

    enabled = portal.put(f"{prefix}/{flow['id']}", json={**flow, "isEnabled": True})
    assert enabled.status_code == 200
    assert enabled.json()["revisionId"] == "2"
    assert enabled.json()["isEnabled"] is True

    stale = portal.put(f"{prefix}/{flow['id']}", json={**flow, "isEnabled": False})
    assert stale.status_code == 409
    missing = {k: v for k, v in flow.items() if k != "revisionId"}
    assert portal.put(f"{prefix}/{flow['id']}", json=missing).status_code == 400

    read = portal.post(
        f"{prefix}/batch/read",
        json={"inputs": [{"flowId": flow["id"], "type": "FLOW_ID"}]},
    )
    assert read.json()["results"][0]["id"] == flow["id"]

    assert portal.delete(f"{prefix}/{flow['id']}").status_code == 204
    assert portal.get(f"{prefix}/{flow['id']}").status_code == 404


@pytest.mark.parametrize("tier", ("free", "starter"))
def test_the_workflows_api_needs_a_professional_tier(make_flow, sandbox, tier):
    portal = sandbox.portal(tier, operations_hub=True)

    response = portal.post(FLOWS[0], json=make_flow())

    assert response.status_code == 403
    assert tier in response.json()["message"]
    assert portal.get(FLOWS[0]).status_code == 403


def test_the_workflows_api_needs_the_automation_scope(sandbox):
    scopes = ["crm.objects.contacts.read"]
    portal = sandbox.portal("enterprise", operations_hub=True, scopes=scopes)

    response = portal.get(FLOWS[0])

    assert response.status_code == 403
    assert response.json()["category"] == "MISSING_SCOPES"


def test_a_webhook_action_needs_operations_hub(make_flow, sandbox):
    portal = sandbox.portal("professional")

    refused = portal.post(FLOWS[0], json=make_flow())
    plain = portal.post(
        FLOWS[0],
        json=make_flow(actions=[{"type": "DELAY", "actionId": "1", "delta": 60}]),
    )

    assert refused.status_code == 403
    assert "Operations Hub" in refused.json()["message"]
    assert plain.status_code == 201


@pytest.mark.parametrize(
    "missing",
    ("flowType", "name", "isEnabled", "actions", "enrollmentCriteria", "blockedDates",
     "timeWindows", "customProperties", "dataSources", "suppressionListIds",
     "canEnrollFromSalesforce"),
)  # fmt: skip
def test_a_flow_missing_a_required_field_is_refused(make_flow, portal, missing):
    body = make_flow()
    del body[missing]

    response = portal.post(FLOWS[0], json=body)

    assert response.status_code == 400
    assert missing in response.json()["message"]


@pytest.mark.parametrize(
    "missing",
    ("listFilterBranch", "reEnrollmentTriggersFilterBranches", "shouldReEnroll",
     "unEnrollObjectsNotMeetingCriteria"),
)  # fmt: skip
def test_list_based_criteria_need_their_fields(make_flow, portal, missing):
    body = make_flow()
    del body["enrollmentCriteria"][missing]

    response = portal.post(FLOWS[0], json=body)

    assert response.status_code == 400
    assert missing in response.json()["message"]


@pytest.mark.parametrize(
    "missing", ("eventFilterBranches", "listMembershipFilterBranches", "shouldReEnroll")
)
def test_event_based_criteria_need_their_fields(make_flow, portal, missing):
    criteria = copy.deepcopy(EVENT_BASED)
    del criteria[missing]

    response = portal.post(FLOWS[0], json=make_flow(enrollmentCriteria=criteria))

    assert response.status_code == 400
    assert missing in response.json()["message"]


def test_event_based_criteria_are_accepted_whole(make_flow, portal):
    response = portal.post(FLOWS[0], json=make_flow(enrollmentCriteria=EVENT_BASED))

    assert response.status_code == 201


def test_a_deal_flow_is_a_platform_flow_on_deals(make_flow, portal):
    deal_flow = make_flow(
        type="PLATFORM_FLOW", objectTypeId="0-3", name="Deal Workflow"
    )
    del deal_flow["suppressionListIds"]
    del deal_flow["canEnrollFromSalesforce"]

    assert portal.post(FLOWS[0], json=deal_flow).status_code == 201
    wrong = portal.post(FLOWS[0], json=make_flow(objectTypeId="0-3"))
    assert wrong.status_code == 400


@pytest.mark.parametrize(
    ("action", "words"),
    (
        ({"webhookUrl": "http://example.com/hook"}, "https"),
        ({"method": "DELETE"}, "method"),
        ({"authSettings": {"type": "SIGNATURE"}}, "appId"),
        (
            {"queryParams": [{"name": "x", "value": {"type": "MAGIC"}}]},
            "OBJECT_PROPERTY",
        ),
    ),
    ids=("http", "method", "no app id", "query param"),
)
def test_bad_webhook_actions_are_refused(make_flow, portal, action, words):
    body = make_flow()
    body["actions"][0].update(action)

    response = portal.post(FLOWS[0], json=body)

    assert response.status_code == 400
    assert words in response.json()["message"]


def test_start_action_must_name_an_action(make_flow, portal):
    response = portal.post(FLOWS[0], json=make_flow(startActionId="9"))

    assert response.status_code == 400


def test_an_event_branch_needs_an_event_type(portal, make_flow):
    criteria = {**EVENT_BASED, "eventFilterBranches": [{"filterBranchType": "X"}]}

    response = portal.post(FLOWS[0], json=make_flow(enrollmentCriteria=criteria))

    assert response.status_code == 400
    assert "eventTypeId" in response.json()["message"]
