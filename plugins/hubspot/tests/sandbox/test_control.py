"""The control API every sandbox shares, plus HubSpot's own verbs."""

from __future__ import annotations

import time

import pytest
import requests

from hub.testing.control import ControlError


def test_accounts_answer_credentials_for_each_tier(sandbox):
    for tier in ("free", "starter", "professional", "enterprise"):
        account = sandbox.control.create_account(f"Agency {tier}", tier)

        assert account["token"].startswith("pat-na1-")
        assert account["account"] == str(account["portal_id"])
        assert account["tier"] == tier
        assert account["operations_hub"] is False


def test_an_account_without_a_tier_is_free_and_has_every_scope(sandbox):
    account = sandbox.control.create_account("Plain")

    assert account["tier"] == "free"
    assert "automation" in account["scopes"]
    assert account["rate_limit_per_10s"] == 100


@pytest.mark.parametrize(
    ("body", "problem"),
    (({"name": ""}, "name"), ({"name": "x", "tier": "gold"}, "tier")),
    ids=("no name", "unknown tier"),
)
def test_a_bad_account_request_is_refused(sandbox, body, problem):
    response = requests.post(f"{sandbox.url}/_control/accounts", json=body, timeout=10)

    assert response.status_code == 400
    assert problem in response.json()["message"]


def test_reset_empties_the_sandbox(sandbox):
    portal = sandbox.portal()
    sandbox.control.reset()

    assert portal.get("/account-info/v3/details").status_code == 401
    assert sandbox.control.counters() == {"reads": 0, "writes": 0, "by_path": {}}


def test_counters_count_reads_writes_and_paths(sandbox):
    portal = sandbox.portal()
    other = sandbox.portal()
    portal.get("/crm/v3/objects/contacts")
    portal.post("/crm/v3/objects/contacts", json={"properties": {"firstname": "A"}})
    portal.post("/crm/v3/objects/contacts/search", json={})
    other.get("/account-info/v3/details")

    mine = sandbox.control.counters(portal.account["account"])
    everyone = sandbox.control.counters()

    assert mine["reads"] == 2
    assert mine["writes"] == 1
    assert mine["by_path"]["/crm/v3/objects/contacts"] == 2
    assert mine["by_path"]["/crm/v3/objects/contacts/search"] == 1
    assert everyone["reads"] == 3


def test_faults_fail_the_next_matching_requests_only(sandbox):
    portal = sandbox.portal()
    sandbox.control.fault(2, status=503, path_prefix="/crm/v3/objects/contacts")

    assert portal.get("/account-info/v3/details").status_code == 200
    first = portal.get("/crm/v3/objects/contacts")
    second = portal.get("/crm/v3/objects/contacts")
    third = portal.get("/crm/v3/objects/contacts")

    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["status"] == "error"
    assert first.json()["correlationId"]


def test_a_fault_prefix_may_include_the_mount_point(sandbox):
    portal = sandbox.portal()
    sandbox.control.fault(1, status=429, path_prefix="/_sandbox/hubspot/crm")

    response = portal.get("/crm/v3/objects/deals")

    assert response.status_code == 429
    assert response.json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_a_latency_fault_slows_the_request_down(sandbox):
    portal = sandbox.portal()
    sandbox.control.fault(1, latency_ms=300)

    started = time.monotonic()
    response = portal.get("/crm/v3/objects/contacts")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_fault_needs_a_status_or_a_latency(sandbox):
    with pytest.raises(ControlError, match="status"):
        sandbox.control.fault(1)


def test_the_clock_moves_forward_only(sandbox):
    before = sandbox.control.verb("clock", {"advance_seconds": 0})["now_ms"]
    sandbox.control.advance_clock(3600)
    after = requests.get(f"{sandbox.url}/_control/clock", timeout=10).json()["now_ms"]

    assert after - before >= 3600 * 1000
    with pytest.raises(ControlError):
        sandbox.control.advance_clock(-5)


def test_delete_object_removes_a_provisioned_property_as_an_admin_would(
    portal, sandbox
):
    portal.post(
        "/crm/v3/properties/contacts",
        json={
            "name": "clearcare_id",
            "label": "ClearCare Id",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    sandbox.control.verb(
        "delete_object",
        {
            "account": portal.account["account"],
            "kind": "property",
            "object_type": "contacts",
            "id": "clearcare_id",
        },
    )

    assert portal.get("/crm/v3/properties/contacts/clearcare_id").status_code == 404


def test_delete_object_removes_a_stage_even_with_deals_in_it(portal, sandbox):
    portal.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}})
    sandbox.control.verb(
        "delete_object",
        {
            "account": portal.account["account"],
            "kind": "stage",
            "pipeline_id": "default",
            "id": "appointmentscheduled",
        },
    )

    stages = portal.get("/crm/v3/pipelines/deals/default").json()["stages"]

    assert "appointmentscheduled" not in [stage["id"] for stage in stages]
    assert len(stages) == 6


def test_delete_object_answers_404_for_an_unknown_object(portal, sandbox):
    with pytest.raises(ControlError, match="404"):
        sandbox.control.verb(
            "delete_object",
            {"account": portal.account["account"], "kind": "workflow", "id": "1"},
        )


def test_rotating_a_token_stops_the_old_one_at_once(portal, sandbox):
    rotated = sandbox.control.verb(
        "rotate_token", {"account": portal.account["account"]}
    )

    assert portal.get("/account-info/v3/details").status_code == 401
    fresh = requests.get(
        f"{sandbox.url}/account-info/v3/details",
        headers={"Authorization": f"Bearer {rotated['token']}"},
        timeout=10,
    )
    assert fresh.status_code == 200


def test_app_secret_needs_both_fields(sandbox):
    with pytest.raises(ControlError, match="400"):
        sandbox.control.verb("app_secret", {"app_id": "123"})
    assert sandbox.control.verb(
        "app_secret", {"app_id": 123, "client_secret": "s"}
    ) == {"app_id": "123"}
